/* nebula_uuid.c — the NebulaBlock twin (uuid ids): the same envelope. */
#include "app.h"
#include "nebula.h"
#include "nebula_uuid_api.h"

#include <stdlib.h>
#include <string.h>

static int nebula_uuid_create(rt_ctx *ctx, const nebula_uuid_create_api_key_params *p, const json_t *body, void *appv)
{
	keysvc_key k;
	char token[TOKEN_MAX];
	json_t *data;
	int rc;

	(void)p;
	rc = nebula_create_key(ctx, appv, KEYSVC_NEBULA_UUID, body, &k, token, sizeof token);
	if (rc != KEYSVC_OK)
		return rt_respond_error(ctx, 500, "StoreError", keysvc_strerror(rc));
	data = json_pack("{s:s,s:s,s:s,s:o}", "id", k.uuid, "key", token, "name", k.name, "description",
	                 nebula_description(&k));
	memset(token, 0, sizeof token);
	app_no_store(ctx);
	return nebula_uuid_create_api_key_respond_201(ctx, nebula_envelope(data, "API key successfully created", 1));
}

static int nebula_uuid_list(rt_ctx *ctx, const nebula_uuid_list_api_keys_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_key *v = NULL;
	size_t n = 0;
	int64_t total = 0;
	json_t *data;

	(void)p;
	(void)body;
	if (keysvc_list(a->ks, app_user(ctx), KEYSVC_NEBULA_UUID, NULL, 0, 0, -1, &v, &n, &total) != KEYSVC_OK)
		return rt_respond_error(ctx, 500, "StoreError", "the key store failed");
	data = json_array();
	for (size_t i = n; i-- > 0;)
		json_array_append_new(data, json_pack("{s:s,s:s,s:o,s:o}", "id", v[i].uuid, "name", v[i].name,
		                                      "description", nebula_description(&v[i]), "partial_key_data",
		                                      nebula_partial(&v[i])));
	free(v);
	return nebula_uuid_list_api_keys_respond_200(ctx, nebula_envelope(data, "API keys successfully retrieved", 1));
}

static int nebula_uuid_delete(rt_ctx *ctx, const nebula_uuid_delete_api_key_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_key k;

	(void)body;
	if (keysvc_get_uuid(a->ks, app_user(ctx), KEYSVC_NEBULA_UUID, p->id, &k) != KEYSVC_OK ||
	    keysvc_delete(a->ks, app_user(ctx), k.id, rt_ctx_client_addr(ctx)) != KEYSVC_OK)
		return nebula_uuid_delete_api_key_respond_404(ctx, nebula_envelope(NULL, "API key not found", 0));
	return nebula_uuid_delete_api_key_respond_200(ctx, nebula_envelope(json_object(), "API key successfully deleted", 1));
}

static const nebula_uuid_handlers nebula_uuid_table = {
	.create_api_key = nebula_uuid_create,
	.list_api_keys = nebula_uuid_list,
	.delete_api_key = nebula_uuid_delete,
};

const nebula_uuid_handlers *nebula_uuid_handlers_get(void)
{
	return &nebula_uuid_table;
}

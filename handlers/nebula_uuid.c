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
	if (rc == KEYSVC_FORBIDDEN)
		return nebula_uuid_create_api_key_respond_403(ctx, nebula_forbidden());
	if (rc == KEYSVC_QUOTA)   /* 403 too, told apart by its message */
		return nebula_uuid_create_api_key_respond_403(ctx, nebula_envelope(NULL, NEBULA_QUOTA_MESSAGE, 0));
	if (rc == KEYSVC_INVALID)
		return nebula_uuid_create_api_key_respond_400(ctx, nebula_bad_name());
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
	data = nebula_created(&k, token);
	memset(token, 0, sizeof token);
	app_no_store(ctx);
	return nebula_uuid_create_api_key_respond_201(ctx, nebula_envelope(data, "API key successfully created", 1));
}

static int nebula_uuid_list(rt_ctx *ctx, const nebula_uuid_list_api_keys_params *p, const json_t *body, void *appv)
{
	int rc;
	json_t *data = nebula_list_data(ctx, appv, KEYSVC_NEBULA_UUID, &rc);

	(void)p;
	(void)body;
	if (!data)
		return app_failed(ctx, rc);
	return nebula_uuid_list_api_keys_respond_200(ctx, nebula_envelope(data, "API keys successfully retrieved", 1));
}

/* GET /api_keys: the spelling of the vendor's newer List API Keys page */
static int nebula_uuid_list_underscore(rt_ctx *ctx, const nebula_uuid_list_api_keys_underscore_params *p,
                                       const json_t *body, void *appv)
{
	int rc;
	json_t *data = nebula_list_data(ctx, appv, KEYSVC_NEBULA_UUID, &rc);

	(void)p;
	(void)body;
	if (!data)
		return app_failed(ctx, rc);
	return nebula_uuid_list_api_keys_underscore_respond_200(ctx,
	                                                        nebula_envelope(data, "API keys successfully retrieved", 1));
}

static int nebula_uuid_delete(rt_ctx *ctx, const nebula_uuid_delete_api_key_params *p, const json_t *body, void *appv)
{
	char id[37];
	int rc;

	(void)body;
	app_uuid_lower(p->id, id);
	rc = nebula_delete_key(ctx, appv, KEYSVC_NEBULA_UUID, 0, id);
	if (rc == KEYSVC_FORBIDDEN)
		return nebula_uuid_delete_api_key_respond_403(ctx, nebula_forbidden());
	if (rc == KEYSVC_NOT_FOUND)
		return nebula_uuid_delete_api_key_respond_404(ctx, nebula_envelope(NULL, "API key not found", 0));
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
	return nebula_uuid_delete_api_key_respond_200(ctx, nebula_envelope(json_object(), "API key successfully deleted", 1));
}

static const nebula_uuid_handlers nebula_uuid_table = {
	.create_api_key = nebula_uuid_create,
	.list_api_keys = nebula_uuid_list,
	.list_api_keys_underscore = nebula_uuid_list_underscore,
	.delete_api_key = nebula_uuid_delete,
};

const nebula_uuid_handlers *nebula_uuid_handlers_get(void)
{
	return &nebula_uuid_table;
}

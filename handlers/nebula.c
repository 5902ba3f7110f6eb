/* nebula.c — NebulaBlock's API-key family (integer ids): every response,
 * errors included, is the envelope {data, message, status}. */
#include "app.h"
#include "nebula.h"
#include "nebula_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *nebula_envelope(json_t *data /* stolen */, const char *message, int ok)
{
	return json_pack("{s:o,s:s,s:s}", "data", data ? data : json_null(), "message", message, "status",
	                 ok ? "success" : "failed");
}

json_t *nebula_error_shape(int status, const char *code, const char *message, const rt_errors *errors,
                           const char **content_type)
{
	(void)status;
	(void)code;
	*content_type = "application/json";
	return nebula_envelope(errors && errors->n ? json_pack("{s:o}", "errors", rt_errors_to_json(errors)) : NULL,
	                       message ? message : "Request failed", 0);
}

json_t *nebula_description(const keysvc_key *k)
{
	return k->has_description ? json_string(k->description) : json_null();
}

/* As the vendor documents it: the prefix all keys share ("ak_..."), none of the key itself. */
json_t *nebula_partial(const keysvc_key *k)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%.3s...", k->prefix);
	return json_string(buf);
}

int nebula_create_key(rt_ctx *ctx, app *a, int family, const json_t *body, keysvc_key *k, char *token,
                      size_t toklen)
{
	keysvc_principal me;

	app_caller(ctx, &me);
	return keysvc_create(a->ks, &me, family, json_string_value(json_object_get(body, "name")),
	                     json_string_value(json_object_get(body, "description")), NULL, rt_ctx_client_addr(ctx), k,
	                     token, toklen);
}

/* NebulaBlock ids are integers, its twin's uuids */
static json_t *nebula_id(const keysvc_key *k)
{
	return k->family == KEYSVC_NEBULA ? json_integer(k->id) : json_string(k->uuid);
}

json_t *nebula_forbidden(void)
{
	return nebula_envelope(NULL, "Insufficient permissions: this API key is read-only", 0);
}

json_t *nebula_bad_name(void)
{
	return nebula_envelope(NULL, "The name must not contain control or bidirectional formatting characters", 0);
}

int nebula_delete_key(rt_ctx *ctx, app *a, int family, int64_t id, const char *uuid)
{
	keysvc_principal me;
	keysvc_key k;
	int rc;

	app_caller(ctx, &me);
	rc = keysvc_authorize(a->ks, &me, KEYSVC_RIGHTS_WRITE);   /* before the lookup: 403 whatever the id */
	if (rc == KEYSVC_OK)
		rc = uuid ? keysvc_get_uuid(a->ks, me.user_id, family, uuid, &k) : keysvc_get_id(a->ks, me.user_id, family, id, &k);
	if (rc == KEYSVC_OK)
		rc = keysvc_delete(a->ks, &me, k.id, rt_ctx_client_addr(ctx));
	return rc;
}

json_t *nebula_created(const keysvc_key *k, const char *token)
{
	return json_pack("{s:o,s:s,s:s,s:o}", "id", nebula_id(k), "key", token, "name", k->name, "description",
	                 nebula_description(k));
}

/* The list's items, read page by page newest first (never more than one
   page of the store's 5 KiB rows), and given out oldest first. */
typedef struct nebula_items {
	json_t **v;
	size_t n, cap;
} nebula_items;

static int nebula_item(void *ctx, const keysvc_key *k)
{
	nebula_items *it = ctx;

	if (it->n == it->cap) {
		size_t cap = it->cap ? it->cap * 2 : 64;
		json_t **nv = realloc(it->v, cap * sizeof *nv);
		if (!nv)
			return -1;
		it->v = nv;
		it->cap = cap;
	}
	it->v[it->n] = json_pack("{s:o,s:s,s:o,s:o}", "id", nebula_id(k), "name", k->name, "description",
	                         nebula_description(k), "partial_key_data", nebula_partial(k));
	return it->v[it->n++] ? 0 : -1;
}

/* Only the family's own keys: the docs give partial_key_data as the prefix
   every key shares ("ak_..."), which another family's key would break. */
json_t *nebula_list_data(rt_ctx *ctx, app *a, int family, int *rc)
{
	nebula_items it = { 0 };
	json_t *data = json_array();

	*rc = keysvc_list_each(a->ks, app_user(ctx), family, 0, keysvc_list_max(a->ks), nebula_item, &it);
	for (size_t i = it.n; i-- > 0;) /* oldest first */
		json_array_append_new(data, it.v[i]);
	free(it.v);
	if (*rc != KEYSVC_OK) {
		json_decref(data);
		return NULL;
	}
	return data;
}

static int nebula_create(rt_ctx *ctx, const nebula_create_api_key_params *p, const json_t *body, void *appv)
{
	keysvc_key k;
	char token[TOKEN_MAX];
	json_t *data;
	int rc;

	(void)p;
	rc = nebula_create_key(ctx, appv, KEYSVC_NEBULA, body, &k, token, sizeof token);
	if (rc == KEYSVC_FORBIDDEN)
		return nebula_create_api_key_respond_403(ctx, nebula_forbidden());
	if (rc == KEYSVC_QUOTA)   /* 403 too, told apart by its message */
		return nebula_create_api_key_respond_403(ctx, nebula_envelope(NULL, NEBULA_QUOTA_MESSAGE, 0));
	if (rc == KEYSVC_INVALID)
		return nebula_create_api_key_respond_400(ctx, nebula_bad_name());
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
	data = nebula_created(&k, token);
	memset(token, 0, sizeof token);
	app_no_store(ctx);
	return nebula_create_api_key_respond_201(ctx, nebula_envelope(data, "API key successfully created", 1));
}

static int nebula_list(rt_ctx *ctx, const nebula_list_api_keys_params *p, const json_t *body, void *appv)
{
	int rc;
	json_t *data = nebula_list_data(ctx, appv, KEYSVC_NEBULA, &rc);

	(void)p;
	(void)body;
	if (!data)
		return app_failed(ctx, rc);
	return nebula_list_api_keys_respond_200(ctx, nebula_envelope(data, "API keys successfully retrieved", 1));
}

/* GET /api_keys: the spelling of the vendor's newer List API Keys page */
static int nebula_list_underscore(rt_ctx *ctx, const nebula_list_api_keys_underscore_params *p, const json_t *body,
                                  void *appv)
{
	int rc;
	json_t *data = nebula_list_data(ctx, appv, KEYSVC_NEBULA, &rc);

	(void)p;
	(void)body;
	if (!data)
		return app_failed(ctx, rc);
	return nebula_list_api_keys_underscore_respond_200(ctx, nebula_envelope(data, "API keys successfully retrieved", 1));
}

static int nebula_delete(rt_ctx *ctx, const nebula_delete_api_key_params *p, const json_t *body, void *appv)
{
	int rc;

	(void)body;
	rc = nebula_delete_key(ctx, appv, KEYSVC_NEBULA, p->id, NULL);
	if (rc == KEYSVC_FORBIDDEN)
		return nebula_delete_api_key_respond_403(ctx, nebula_forbidden());
	if (rc == KEYSVC_NOT_FOUND)
		return nebula_delete_api_key_respond_404(ctx, nebula_envelope(NULL, "API key not found", 0));
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
	return nebula_delete_api_key_respond_200(ctx, nebula_envelope(json_object(), "API key successfully deleted", 1));
}

static const nebula_handlers nebula_table = {
	.create_api_key = nebula_create,
	.list_api_keys = nebula_list,
	.list_api_keys_underscore = nebula_list_underscore,
	.delete_api_key = nebula_delete,
};

const nebula_handlers *nebula_handlers_get(void)
{
	return &nebula_table;
}

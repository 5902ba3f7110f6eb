/* heron.c — Heron Data's API-key family: bare-status errors, x-api-key. */
#include "app.h"
#include "heron_api.h"

#include <string.h>

json_t *heron_error_shape(int status, const char *code, const char *message, const rt_errors *errors,
                          const char **content_type)
{
	(void)status;
	(void)code;
	(void)message;
	(void)errors;
	*content_type = NULL;
	return NULL; /* Heron documents its errors as bare status codes */
}

static json_t *heron_key_json(const keysvc_key *k, int with_last_used)
{
	json_t *o = json_pack("{s:o,s:s,s:b,s:s,s:s}", "created", app_time(k->created), "heron_id", k->uuid,
	                      "is_active", k->active, "name", k->name, "token_prefix", k->prefix);
	if (o && with_last_used)
		json_object_set_new(o, "last_used", app_time(k->last_used));
	return o;
}

static int heron_create(rt_ctx *ctx, const heron_create_key_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key k;
	char token[TOKEN_MAX];
	json_t *out;
	int rc;

	(void)p;
	app_caller(ctx, &me);
	rc = keysvc_create(a->ks, &me, KEYSVC_HERON, json_string_value(json_object_get(body, "name")), NULL,
	                   NULL, rt_ctx_client_addr(ctx), &k, token, sizeof token);
	/* a read key and a full quota: both 403, bare as every Heron error */
	if (rc == KEYSVC_FORBIDDEN || rc == KEYSVC_QUOTA)
		return heron_create_key_respond_403(ctx);
	if (rc != KEYSVC_OK)
		return rc == KEYSVC_INVALID ? heron_create_key_respond_400(ctx) : app_failed(ctx, rc);
	out = heron_key_json(&k, 0);
	json_object_set_new(out, "token", json_string(token));
	memset(token, 0, sizeof token);
	app_no_store(ctx);
	return heron_create_key_respond_201(ctx, out);
}

static int heron_list_one(void *keys, const keysvc_key *k)
{
	return json_array_append_new(keys, heron_key_json(k, 1));
}

/* Every key the caller owns, whatever family made it: Heron's shape carries
   any key (uuid ids, is_active, and token_prefix tells the families apart),
   so a key minted through another family is seen here and can be
   deactivated or deleted here. */
static int heron_list(rt_ctx *ctx, const heron_list_keys_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	json_t *keys = json_array();
	int rc;

	(void)p;
	(void)body;
	rc = keysvc_list_each(a->ks, app_user(ctx), KEYSVC_ALL, 0, keysvc_list_max(a->ks), heron_list_one, keys);
	if (rc != KEYSVC_OK) {
		json_decref(keys);
		return app_failed(ctx, rc);
	}
	return heron_list_keys_respond_200(ctx, json_pack("{s:o}", "keys", keys));
}

/* The caller's key with this id (any family), for a state change: KEYSVC_FORBIDDEN
   first for a read key, whatever the id (the key service refuses it again). */
static int heron_find(rt_ctx *ctx, app *a, const char *id, keysvc_principal *me, keysvc_key *k)
{
	char lower[37];
	int rc;

	app_caller(ctx, me);
	rc = keysvc_authorize(a->ks, me, KEYSVC_RIGHTS_WRITE);
	if (rc != KEYSVC_OK)
		return rc;
	app_uuid_lower(id, lower);   /* uuids compare case-insensitively */
	return keysvc_get_uuid(a->ks, me->user_id, KEYSVC_ALL, lower, k);   /* any of the caller's keys, as listed */
}

static int heron_delete(rt_ctx *ctx, const heron_delete_key_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key k;
	int rc;

	(void)body;
	rc = heron_find(ctx, a, p->heron_id, &me, &k);
	if (rc == KEYSVC_OK)
		rc = keysvc_delete(a->ks, &me, k.id, rt_ctx_client_addr(ctx));
	if (rc == KEYSVC_FORBIDDEN)
		return heron_delete_key_respond_403(ctx);
	if (rc == KEYSVC_NOT_FOUND)
		return heron_delete_key_respond_404(ctx);
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
	return heron_delete_key_respond_204(ctx);
}

/* KEYSVC_OK with *out, KEYSVC_NOT_FOUND, KEYSVC_FORBIDDEN, or the store's failure */
static int heron_set_active(rt_ctx *ctx, app *a, const char *id, int active, json_t **out)
{
	keysvc_principal me;
	keysvc_key k;
	int rc;

	rc = heron_find(ctx, a, id, &me, &k);
	if (rc == KEYSVC_OK)
		rc = keysvc_set_active(a->ks, &me, k.id, active, rt_ctx_client_addr(ctx));
	if (rc == KEYSVC_OK)
		*out = json_pack("{s:s,s:b}", "heron_id", k.uuid, "is_active", active);
	return rc;
}

static int heron_activate(rt_ctx *ctx, const heron_activate_key_params *p, const json_t *body, void *appv)
{
	json_t *out = NULL;
	int rc;

	(void)body;
	rc = heron_set_active(ctx, appv, p->heron_id, 1, &out);
	if (rc == KEYSVC_FORBIDDEN)
		return heron_activate_key_respond_403(ctx);
	if (rc == KEYSVC_NOT_FOUND)
		return heron_activate_key_respond_404(ctx);
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
	return heron_activate_key_respond_200(ctx, out);
}

static int heron_deactivate(rt_ctx *ctx, const heron_deactivate_key_params *p, const json_t *body, void *appv)
{
	json_t *out = NULL;
	int rc;

	(void)body;
	rc = heron_set_active(ctx, appv, p->heron_id, 0, &out);
	if (rc == KEYSVC_FORBIDDEN)
		return heron_deactivate_key_respond_403(ctx);
	if (rc == KEYSVC_NOT_FOUND)
		return heron_deactivate_key_respond_404(ctx);
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
	return heron_deactivate_key_respond_200(ctx, out);
}

static const heron_handlers heron_table = {
	.create_key = heron_create,
	.list_keys = heron_list,
	.delete_key = heron_delete,
	.activate_key = heron_activate,
	.deactivate_key = heron_deactivate,
};

const heron_handlers *heron_handlers_get(void)
{
	return &heron_table;
}

/* heron.c — Heron Data's API-key family: bare-status errors, x-api-key. */
#include "app.h"
#include "heron_api.h"

#include <stdlib.h>
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

/* A key-service failure through the operation's typed builders: Heron's
 * errors are bare statuses, the 503 with Retry-After. */
static int heron_store_failed(rt_ctx *ctx, int rc, int (*r500)(rt_ctx *ctx),
                              int (*r503)(rt_ctx *ctx, const heron_StoreUnavailable_headers *headers))
{
	static const heron_StoreUnavailable_headers retry = { .retry_after = APP_RETRY_AFTER, .has_retry_after = 1 };

	return app_unavailable(rc) ? r503(ctx, &retry) : r500(ctx);
}
#define HERON_STORE_FAILED(ctx, rc, op) heron_store_failed(ctx, rc, heron_##op##_respond_500, heron_##op##_respond_503)

/* k's summary, its strings copied to the request's arena (k lasts one callback) */
static void heron_key_model(rt_ctx *ctx, const keysvc_key *k, heron_ApiKeySchema *out)
{
	*out = (heron_ApiKeySchema){ .is_active = k->active };
	out->heron_id = app_arena_str(ctx, k->uuid, &out->heron_id_len);
	out->name = app_arena_str(ctx, k->name, &out->name_len);
	out->token_prefix = app_arena_str(ctx, k->prefix, &out->token_prefix_len);
	out->created = app_time_text(ctx, k->created, &out->created_len);
	out->last_used = app_time_text(ctx, k->last_used, &out->last_used_len);
	out->last_used_null = out->last_used == NULL;
}

static int heron_create(rt_ctx *ctx, const heron_create_key_params *p, const heron_CreateKeySchema *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key k;
	char token[TOKEN_MAX];
	heron_ApiKeyCreatedSchema out;
	int rc;

	(void)p;
	app_caller(ctx, &me);
	rc = keysvc_create(a->ks, &me, KEYSVC_HERON, body ? body->name : NULL, NULL, NULL, rt_ctx_client_addr(ctx), &k,
	                   token, sizeof token);
	/* a read key and a full quota: both 403, bare as every Heron error */
	if (rc == KEYSVC_FORBIDDEN || rc == KEYSVC_QUOTA)
		return heron_create_key_respond_403(ctx);
	if (rc != KEYSVC_OK)
		return rc == KEYSVC_INVALID ? heron_create_key_respond_400(ctx) : HERON_STORE_FAILED(ctx, rc, create_key);
	out = (heron_ApiKeyCreatedSchema){
		.heron_id = k.uuid, .heron_id_len = strlen(k.uuid),
		.is_active = k.active,
		.name = k.name, .name_len = strlen(k.name),
		.token = token, .token_len = strlen(token),
		.token_prefix = k.prefix, .token_prefix_len = strlen(k.prefix),
	};
	out.created = app_time_text(ctx, k.created, &out.created_len);
	app_no_store(ctx);
	rc = heron_create_key_respond_201(ctx, &out);
	memset(token, 0, sizeof token);
	return rc;
}

typedef struct heron_items {
	rt_ctx *ctx;
	heron_ApiKeySchema *v;
	size_t n, cap;
} heron_items;

static int heron_list_one(void *itv, const keysvc_key *k)
{
	heron_items *it = itv;
	heron_ApiKeySchema *nv = app_grow(it->v, &it->cap, it->n, sizeof *nv);

	if (!nv)
		return -1;
	it->v = nv;
	heron_key_model(it->ctx, k, &it->v[it->n]);
	return it->v[it->n++].heron_id ? 0 : -1;
}

/* Every key the caller owns, whatever family made it: Heron's shape carries
   any key (uuid ids, is_active, and token_prefix tells the families apart),
   so a key minted through another family is seen here and can be
   deactivated or deleted here. */
static int heron_list(rt_ctx *ctx, const heron_list_keys_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	heron_items it = { .ctx = ctx };
	int rc;

	(void)p;
	(void)body;
	rc = keysvc_list_each(a->ks, app_user(ctx), KEYSVC_ALL, 0, keysvc_list_max(a->ks), heron_list_one, &it);
	if (rc == KEYSVC_OK)
		rc = heron_list_keys_respond_200(ctx, &(heron_ApiKeyListSchema){ .keys = it.v, .n_keys = it.n });
	else
		rc = HERON_STORE_FAILED(ctx, rc, list_keys);
	free(it.v);
	return rc;
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
		return HERON_STORE_FAILED(ctx, rc, delete_key);
	return heron_delete_key_respond_204(ctx);
}

/* KEYSVC_OK with *k, KEYSVC_NOT_FOUND, KEYSVC_FORBIDDEN, or the store's failure */
static int heron_set_active(rt_ctx *ctx, app *a, const char *id, int active, keysvc_key *k)
{
	keysvc_principal me;
	int rc;

	rc = heron_find(ctx, a, id, &me, k);
	if (rc == KEYSVC_OK)
		rc = keysvc_set_active(a->ks, &me, k->id, active, rt_ctx_client_addr(ctx));
	return rc;
}

static int heron_activate(rt_ctx *ctx, const heron_activate_key_params *p, const json_t *body, void *appv)
{
	keysvc_key k;
	int rc;

	(void)body;
	rc = heron_set_active(ctx, appv, p->heron_id, 1, &k);
	if (rc == KEYSVC_FORBIDDEN)
		return heron_activate_key_respond_403(ctx);
	if (rc == KEYSVC_NOT_FOUND)
		return heron_activate_key_respond_404(ctx);
	if (rc != KEYSVC_OK)
		return HERON_STORE_FAILED(ctx, rc, activate_key);
	return heron_activate_key_respond_200(ctx, &(heron_ApiKeyStateSchema){
		.heron_id = k.uuid, .heron_id_len = strlen(k.uuid), .is_active = 1 });
}

static int heron_deactivate(rt_ctx *ctx, const heron_deactivate_key_params *p, const json_t *body, void *appv)
{
	keysvc_key k;
	int rc;

	(void)body;
	rc = heron_set_active(ctx, appv, p->heron_id, 0, &k);
	if (rc == KEYSVC_FORBIDDEN)
		return heron_deactivate_key_respond_403(ctx);
	if (rc == KEYSVC_NOT_FOUND)
		return heron_deactivate_key_respond_404(ctx);
	if (rc != KEYSVC_OK)
		return HERON_STORE_FAILED(ctx, rc, deactivate_key);
	return heron_deactivate_key_respond_200(ctx, &(heron_ApiKeyStateSchema){
		.heron_id = k.uuid, .heron_id_len = strlen(k.uuid), .is_active = 0 });
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

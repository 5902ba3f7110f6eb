/* nebula_uuid.c — the NebulaBlock twin (uuid ids): the same envelope. */
#include "app.h"
#include "nebula.h"
#include "nebula_uuid_api.h"

#include <stdlib.h>
#include <string.h>

static int nebula_uuid_failed(rt_ctx *ctx, const char *message,
                              int (*respond)(rt_ctx *ctx, const nebula_uuid_FailedEnvelope *body))
{
	nebula_uuid_FailedEnvelope e = { .message = message, .message_len = strlen(message),
	                                 .status = NEBULA_UUID_FAILEDENVELOPE_STATUS_FAILED };

	return respond(ctx, &e);
}

/* A key-service failure through the operation's typed builders: the
 * failed envelope with the failure's text, a 503 with Retry-After or a 500. */
static int nebula_uuid_store_failed(rt_ctx *ctx, int rc, int (*r500)(rt_ctx *ctx, const nebula_uuid_FailedEnvelope *body),
                                    int (*r503)(rt_ctx *ctx, const nebula_uuid_FailedEnvelope *body,
                                                const nebula_uuid_StoreUnavailable_headers *headers))
{
	static const nebula_uuid_StoreUnavailable_headers retry = { .retry_after = APP_RETRY_AFTER, .has_retry_after = 1 };
	const char *message = app_failure_message(rc);
	nebula_uuid_FailedEnvelope e = { .message = message, .message_len = strlen(message),
	                                 .status = NEBULA_UUID_FAILEDENVELOPE_STATUS_FAILED };

	return app_unavailable(rc) ? r503(ctx, &e, &retry) : r500(ctx, &e);
}
#define NEBULA_UUID_STORE_FAILED(ctx, rc, op) \
	nebula_uuid_store_failed(ctx, rc, nebula_uuid_##op##_respond_500, nebula_uuid_##op##_respond_503)

static int nebula_uuid_create(rt_ctx *ctx, const nebula_uuid_create_api_key_params *p,
                              const nebula_uuid_ApiKeyCreateRequest *body, void *appv)
{
	keysvc_key k;
	char token[TOKEN_MAX];
	nebula_uuid_ApiKeyCreatedEnvelope out;
	const char *d;
	int rc;

	(void)p;
	rc = nebula_create_key(ctx, appv, KEYSVC_NEBULA_UUID, body ? body->name : NULL,
	                       body && body->has_description ? body->description : NULL, &k, token, sizeof token);
	if (rc == KEYSVC_FORBIDDEN)
		return nebula_uuid_failed(ctx, NEBULA_MSG_FORBIDDEN, nebula_uuid_create_api_key_respond_403);
	if (rc == KEYSVC_QUOTA)   /* 403 too, told apart by its message */
		return nebula_uuid_failed(ctx, NEBULA_QUOTA_MESSAGE, nebula_uuid_create_api_key_respond_403);
	if (rc == KEYSVC_INVALID)
		return nebula_uuid_failed(ctx, NEBULA_MSG_BAD_NAME, nebula_uuid_create_api_key_respond_400);
	if (rc != KEYSVC_OK)
		return NEBULA_UUID_STORE_FAILED(ctx, rc, create_api_key);
	d = nebula_description(&k);
	out = (nebula_uuid_ApiKeyCreatedEnvelope){
		.data = { .id = k.uuid, .id_len = strlen(k.uuid), .key = token, .key_len = strlen(token), .name = k.name,
		          .name_len = strlen(k.name), .description = d, .description_len = d ? strlen(d) : 0,
		          .description_null = !d },
		.message = "API key successfully created", .message_len = strlen("API key successfully created"),
		.status = NEBULA_UUID_APIKEYCREATEDENVELOPE_STATUS_SUCCESS,
	};
	app_no_store(ctx);
	rc = nebula_uuid_create_api_key_respond_201(ctx, &out);
	memset(token, 0, sizeof token);
	return rc;
}

/* The summaries, their strings in the request's arena (never the store's
   5 KiB rows), read page by page newest first. */
typedef struct nebula_uuid_items {
	rt_ctx *ctx;
	nebula_uuid_ApiKeySummary *v;
	size_t n, cap;
} nebula_uuid_items;

static int nebula_uuid_item(void *itv, const keysvc_key *k)
{
	nebula_uuid_items *it = itv;
	nebula_uuid_ApiKeySummary *nv = app_grow(it->v, &it->cap, it->n, sizeof *nv), *s;

	if (!nv)
		return -1;
	it->v = nv;
	s = &it->v[it->n++];
	*s = (nebula_uuid_ApiKeySummary){ .partial_key_data = NEBULA_UUID_APIKEYSUMMARY_PARTIAL_KEY_DATA_AK____ };
	s->id = app_arena_str(it->ctx, k->uuid, &s->id_len);
	s->name = app_arena_str(it->ctx, k->name, &s->name_len);
	s->description = app_arena_str(it->ctx, nebula_description(k), &s->description_len);
	s->description_null = !s->description;
	return s->id && s->name && (s->description || !nebula_description(k)) ? 0 : -1;
}

/* The list envelope of the caller's keys, oldest first (in the arena):
   KEYSVC_OK, the store's failure, or -1 out of memory. Only the family's own
   keys: the docs give partial_key_data as the prefix every key shares
   ("ak_..."), which another family's key would break. */
static int nebula_uuid_list_model(rt_ctx *ctx, app *a, nebula_uuid_ApiKeyListEnvelope *out)
{
	nebula_uuid_items it = { .ctx = ctx };
	int rc = nebula_list_keys(ctx, a, KEYSVC_NEBULA_UUID, nebula_uuid_item, &it);

	*out = (nebula_uuid_ApiKeyListEnvelope){ .message = "API keys successfully retrieved",
	                                    .message_len = strlen("API keys successfully retrieved"),
	                                    .status = NEBULA_UUID_APIKEYLISTENVELOPE_STATUS_SUCCESS };
	if (rc == KEYSVC_OK && it.n) {
		out->data = rt_arena_alloc(rt_ctx_arena(ctx), it.n * sizeof *out->data);
		for (size_t i = 0; out->data && i < it.n; i++) /* oldest first */
			out->data[i] = it.v[it.n - 1 - i];
		out->n_data = out->data ? it.n : 0;
		if (!out->data)
			rc = -1;
	}
	free(it.v);
	return rc;
}

static int nebula_uuid_list(rt_ctx *ctx, const nebula_uuid_list_api_keys_params *p, const json_t *body, void *appv)
{
	nebula_uuid_ApiKeyListEnvelope out;
	int rc;

	(void)p;
	(void)body;
	rc = nebula_uuid_list_model(ctx, appv, &out);
	if (rc != KEYSVC_OK)
		return NEBULA_UUID_STORE_FAILED(ctx, rc < 0 ? APP_NOMEM : rc, list_api_keys);
	return nebula_uuid_list_api_keys_respond_200(ctx, &out);
}

/* GET /api_keys: the spelling of the vendor's newer List API Keys page */
static int nebula_uuid_list_underscore(rt_ctx *ctx, const nebula_uuid_list_api_keys_underscore_params *p,
                                       const json_t *body, void *appv)
{
	nebula_uuid_ApiKeyListEnvelope out;
	int rc;

	(void)p;
	(void)body;
	rc = nebula_uuid_list_model(ctx, appv, &out);
	if (rc != KEYSVC_OK)
		return NEBULA_UUID_STORE_FAILED(ctx, rc < 0 ? APP_NOMEM : rc, list_api_keys_underscore);
	return nebula_uuid_list_api_keys_underscore_respond_200(ctx, &out);
}

static int nebula_uuid_delete(rt_ctx *ctx, const nebula_uuid_delete_api_key_params *p, const json_t *body, void *appv)
{
	char id[37];
	json_t *empty;
	int rc;

	(void)body;
	app_uuid_lower(p->id, id);
	rc = nebula_delete_key(ctx, appv, KEYSVC_NEBULA_UUID, 0, id);
	if (rc == KEYSVC_FORBIDDEN)
		return nebula_uuid_failed(ctx, NEBULA_MSG_FORBIDDEN, nebula_uuid_delete_api_key_respond_403);
	if (rc == KEYSVC_NOT_FOUND)
		return nebula_uuid_failed(ctx, "API key not found", nebula_uuid_delete_api_key_respond_404);
	if (rc != KEYSVC_OK)
		return NEBULA_UUID_STORE_FAILED(ctx, rc, delete_api_key);
	empty = json_object(); /* data: {} (free-form in the spec) */
	rc = nebula_uuid_delete_api_key_respond_200(ctx, &(nebula_uuid_ApiKeyDeletedEnvelope){
		.data = empty, .message = "API key successfully deleted", .message_len = strlen("API key successfully deleted"),
		.status = NEBULA_UUID_APIKEYDELETEDENVELOPE_STATUS_SUCCESS });
	json_decref(empty);
	return rc;
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

/* nebula.c — NebulaBlock's API-key family (integer ids): every response,
 * errors included, is the envelope {data, message, status}. */
#include "app.h"
#include "nebula.h"
#include "nebula_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The pipeline's own errors (the runtime's hook wants a json_t): the
 * FailedEnvelope model, written and read back. */
json_t *nebula_error_shape(int status, const char *code, const char *message, const rt_errors *errors,
                           const char **content_type)
{
	json_t *errs = errors && errors->n ? rt_errors_to_json(errors) : NULL;
	json_t *data = errs ? json_pack("{s:o}", "errors", errs) : NULL; /* data is free-form in the spec */
	nebula_FailedEnvelope e = { .data = data, .status = NEBULA_FAILEDENVELOPE_STATUS_FAILED };
	rt_json_writer w;
	json_t *out;

	(void)status;
	(void)code;
	e.message = message ? message : "Request failed";
	e.message_len = strlen(e.message);
	*content_type = "application/json";
	rt_json_writer_init(&w);
	nebula_FailedEnvelope_write(&w, &e);
	out = app_json_of(&w);
	json_decref(data);
	return out;
}

const char *nebula_description(const keysvc_key *k)
{
	return k->has_description ? k->description : NULL;
}

int nebula_create_key(rt_ctx *ctx, app *a, int family, const char *name, const char *description, keysvc_key *k,
                      char *token, size_t toklen)
{
	keysvc_principal me;

	app_caller(ctx, &me);
	return keysvc_create(a->ks, &me, family, name, description, NULL, rt_ctx_client_addr(ctx), k, token, toklen);
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

int nebula_list_keys(rt_ctx *ctx, app *a, int family, keysvc_each_fn fn, void *it)
{
	return keysvc_list_each(a->ks, app_user(ctx), family, 0, keysvc_list_max(a->ks), fn, it);
}

static int nebula_failed(rt_ctx *ctx, const char *message,
                         int (*respond)(rt_ctx *ctx, const nebula_FailedEnvelope *body))
{
	nebula_FailedEnvelope e = { .message = message, .message_len = strlen(message),
	                            .status = NEBULA_FAILEDENVELOPE_STATUS_FAILED };

	return respond(ctx, &e);
}

/* A key-service failure through the operation's typed builders: the
 * failed envelope with the failure's text, a 503 with Retry-After or a 500. */
static int nebula_store_failed(rt_ctx *ctx, int rc, int (*r500)(rt_ctx *ctx, const nebula_FailedEnvelope *body),
                               int (*r503)(rt_ctx *ctx, const nebula_FailedEnvelope *body,
                                           const nebula_StoreUnavailable_headers *headers))
{
	static const nebula_StoreUnavailable_headers retry = { .retry_after = APP_RETRY_AFTER, .has_retry_after = 1 };
	const char *message = app_failure_message(rc);
	nebula_FailedEnvelope e = { .message = message, .message_len = strlen(message),
	                            .status = NEBULA_FAILEDENVELOPE_STATUS_FAILED };

	return app_unavailable(rc) ? r503(ctx, &e, &retry) : r500(ctx, &e);
}
#define NEBULA_STORE_FAILED(ctx, rc, op) \
	nebula_store_failed(ctx, rc, nebula_##op##_respond_500, nebula_##op##_respond_503)

static int nebula_create(rt_ctx *ctx, const nebula_create_api_key_params *p, const nebula_ApiKeyCreateRequest *body,
                         void *appv)
{
	keysvc_key k;
	char token[TOKEN_MAX];
	nebula_ApiKeyCreatedEnvelope out;
	const char *d;
	int rc;

	(void)p;
	rc = nebula_create_key(ctx, appv, KEYSVC_NEBULA, body ? body->name : NULL,
	                       body && body->has_description ? body->description : NULL, &k, token, sizeof token);
	if (rc == KEYSVC_FORBIDDEN)
		return nebula_failed(ctx, NEBULA_MSG_FORBIDDEN, nebula_create_api_key_respond_403);
	if (rc == KEYSVC_QUOTA)   /* 403 too, told apart by its message */
		return nebula_failed(ctx, NEBULA_QUOTA_MESSAGE, nebula_create_api_key_respond_403);
	if (rc == KEYSVC_INVALID)
		return nebula_failed(ctx, NEBULA_MSG_BAD_NAME, nebula_create_api_key_respond_400);
	if (rc != KEYSVC_OK)
		return NEBULA_STORE_FAILED(ctx, rc, create_api_key);
	d = nebula_description(&k);
	out = (nebula_ApiKeyCreatedEnvelope){
		.data = { .id = k.id, .key = token, .key_len = strlen(token), .name = k.name, .name_len = strlen(k.name),
		          .description = d, .description_len = d ? strlen(d) : 0, .description_null = !d },
		.message = "API key successfully created", .message_len = strlen("API key successfully created"),
		.status = NEBULA_APIKEYCREATEDENVELOPE_STATUS_SUCCESS,
	};
	app_no_store(ctx);
	rc = nebula_create_api_key_respond_201(ctx, &out);
	memset(token, 0, sizeof token);
	return rc;
}

/* The summaries, their strings in the request's arena (never the store's
   5 KiB rows), read page by page newest first. */
typedef struct nebula_items {
	rt_ctx *ctx;
	nebula_ApiKeySummary *v;
	size_t n, cap;
} nebula_items;

static int nebula_item(void *itv, const keysvc_key *k)
{
	nebula_items *it = itv;
	nebula_ApiKeySummary *nv = app_grow(it->v, &it->cap, it->n, sizeof *nv), *s;

	if (!nv)
		return -1;
	it->v = nv;
	s = &it->v[it->n++];
	*s = (nebula_ApiKeySummary){ .id = k->id, .partial_key_data = NEBULA_APIKEYSUMMARY_PARTIAL_KEY_DATA_AK____ };
	s->name = app_arena_str(it->ctx, k->name, &s->name_len);
	s->description = app_arena_str(it->ctx, nebula_description(k), &s->description_len);
	s->description_null = !s->description;
	return s->name && (s->description || !nebula_description(k)) ? 0 : -1;
}

/* The list envelope of the caller's keys, oldest first (in the arena):
   KEYSVC_OK, the store's failure, or -1 out of memory. Only the family's own
   keys: the docs give partial_key_data as the prefix every key shares
   ("ak_..."), which another family's key would break. */
static int nebula_list_model(rt_ctx *ctx, app *a, nebula_ApiKeyListEnvelope *out)
{
	nebula_items it = { .ctx = ctx };
	int rc = nebula_list_keys(ctx, a, KEYSVC_NEBULA, nebula_item, &it);

	*out = (nebula_ApiKeyListEnvelope){ .message = "API keys successfully retrieved",
	                                    .message_len = strlen("API keys successfully retrieved"),
	                                    .status = NEBULA_APIKEYLISTENVELOPE_STATUS_SUCCESS };
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

static int nebula_list(rt_ctx *ctx, const nebula_list_api_keys_params *p, const json_t *body, void *appv)
{
	nebula_ApiKeyListEnvelope out;
	int rc;

	(void)p;
	(void)body;
	rc = nebula_list_model(ctx, appv, &out);
	if (rc != KEYSVC_OK)
		return NEBULA_STORE_FAILED(ctx, rc < 0 ? APP_NOMEM : rc, list_api_keys);
	return nebula_list_api_keys_respond_200(ctx, &out);
}

/* GET /api_keys: the spelling of the vendor's newer List API Keys page */
static int nebula_list_underscore(rt_ctx *ctx, const nebula_list_api_keys_underscore_params *p, const json_t *body,
                                  void *appv)
{
	nebula_ApiKeyListEnvelope out;
	int rc;

	(void)p;
	(void)body;
	rc = nebula_list_model(ctx, appv, &out);
	if (rc != KEYSVC_OK)
		return NEBULA_STORE_FAILED(ctx, rc < 0 ? APP_NOMEM : rc, list_api_keys_underscore);
	return nebula_list_api_keys_underscore_respond_200(ctx, &out);
}

static int nebula_delete(rt_ctx *ctx, const nebula_delete_api_key_params *p, const json_t *body, void *appv)
{
	json_t *empty;
	int rc;

	(void)body;
	rc = nebula_delete_key(ctx, appv, KEYSVC_NEBULA, p->id, NULL);
	if (rc == KEYSVC_FORBIDDEN)
		return nebula_failed(ctx, NEBULA_MSG_FORBIDDEN, nebula_delete_api_key_respond_403);
	if (rc == KEYSVC_NOT_FOUND)
		return nebula_failed(ctx, "API key not found", nebula_delete_api_key_respond_404);
	if (rc != KEYSVC_OK)
		return NEBULA_STORE_FAILED(ctx, rc, delete_api_key);
	empty = json_object(); /* data: {} (free-form in the spec) */
	rc = nebula_delete_api_key_respond_200(ctx, &(nebula_ApiKeyDeletedEnvelope){
		.data = empty, .message = "API key successfully deleted", .message_len = strlen("API key successfully deleted"),
		.status = NEBULA_APIKEYDELETEDENVELOPE_STATUS_SUCCESS });
	json_decref(empty);
	return rc;
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

/* fastapi.c — the FastAPI-style family: soft revoke, paging with total,
 * RFC 9457 problem details (the runtime's default error shape). */
#include "app.h"
#include "fastapi_api.h"

#include <stdlib.h>
#include <string.h>

static const char fastapi_read_only[] = "This API key is read-only; the operation needs write rights";

static fastapi_ProblemDetail fastapi_problem(int status, const char *title, const char *detail)
{
	return (fastapi_ProblemDetail){ .type = "about:blank", .type_len = strlen("about:blank"), .has_type = 1,
	                                .title = title, .title_len = strlen(title), .status = status,
	                                .detail = detail, .detail_len = strlen(detail) };
}

/* A key-service failure through the operation's typed builders: problem
 * details, a 503 with Retry-After or a 500. */
static int fastapi_store_failed(rt_ctx *ctx, int rc, int (*r500)(rt_ctx *ctx, const fastapi_ProblemDetail *body),
                                int (*r503)(rt_ctx *ctx, const fastapi_ProblemDetail *body,
                                            const fastapi_StoreUnavailable_headers *headers))
{
	static const fastapi_StoreUnavailable_headers retry = { .retry_after = APP_RETRY_AFTER, .has_retry_after = 1 };
	fastapi_ProblemDetail e;

	if (app_unavailable(rc)) {
		e = fastapi_problem(503, "Service Unavailable", app_failure_message(rc));
		return r503(ctx, &e, &retry);
	}
	e = fastapi_problem(500, "Internal Server Error", app_failure_message(rc));
	return r500(ctx, &e);
}
#define FASTAPI_STORE_FAILED(ctx, rc, op) \
	fastapi_store_failed(ctx, rc, fastapi_##op##_respond_500, fastapi_##op##_respond_503)

static int fastapi_create(rt_ctx *ctx, const fastapi_create_my_api_key_params *p, const fastapi_ApiKeyCreateRequest *body,
                          void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key k;
	char token[TOKEN_MAX];
	fastapi_ApiKeyCreateResponse out;
	int rc;

	(void)p;
	app_caller(ctx, &me);
	rc = keysvc_create(a->ks, &me, KEYSVC_FASTAPI, body ? body->name : NULL, NULL, NULL, rt_ctx_client_addr(ctx), &k,
	                   token, sizeof token);
	if (rc == KEYSVC_FORBIDDEN) {
		fastapi_ProblemDetail e = fastapi_problem(403, "Forbidden", fastapi_read_only);
		return fastapi_create_my_api_key_respond_403(ctx, &e);
	}
	if (rc == KEYSVC_QUOTA) {
		fastapi_ProblemDetail e = fastapi_problem(403, "Forbidden",
		                                          "The user holds as many API keys as the server allows; revoke one first");
		return fastapi_create_my_api_key_respond_403(ctx, &e);
	}
	if (rc == KEYSVC_INVALID) {
		fastapi_ProblemDetail e = fastapi_problem(400, "Bad Request",
		                                          "The name must not contain control or bidirectional formatting characters");
		return fastapi_create_my_api_key_respond_400(ctx, &e);
	}
	if (rc != KEYSVC_OK)
		return FASTAPI_STORE_FAILED(ctx, rc, create_my_api_key);
	out = (fastapi_ApiKeyCreateResponse){ .id = k.uuid, .id_len = strlen(k.uuid), .key = token,
	                                      .key_len = strlen(token), .name = k.name, .name_len = strlen(k.name) };
	out.created_at = app_time_text(ctx, k.created, &out.created_at_len);
	/* Cache-Control: no-store is the builder's (the spec's one value) */
	rc = fastapi_create_my_api_key_respond_201(ctx, &out);
	memset(token, 0, sizeof token);
	return rc;
}

static int fastapi_list(rt_ctx *ctx, const fastapi_list_my_api_keys_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_key *v = NULL;
	size_t n = 0;
	int64_t total = 0;
	fastapi_ApiKeyList out = { 0 };
	int rc;

	(void)body;
	/* every key the caller owns, whatever family made it (uuid ids and
	   is_active carry any key); a page of at most 200 */
	rc = keysvc_list(a->ks, app_user(ctx), KEYSVC_ALL, NULL, 1, p->skip, p->limit, &v, &n, &total);
	if (rc != KEYSVC_OK)
		return FASTAPI_STORE_FAILED(ctx, rc, list_my_api_keys);
	out.items = n ? rt_arena_alloc(rt_ctx_arena(ctx), n * sizeof *out.items) : NULL;
	if (n && !out.items) {
		free(v);
		return FASTAPI_STORE_FAILED(ctx, APP_NOMEM, list_my_api_keys);
	}
	out.n_items = n;
	out.total = total;
	for (size_t i = 0; i < n; i++) {
		fastapi_ApiKeyItem *it = &out.items[i];
		*it = (fastapi_ApiKeyItem){ .id = v[i].uuid, .id_len = strlen(v[i].uuid), .name = v[i].name,
		                            .name_len = strlen(v[i].name), .is_active = v[i].active && !v[i].revoked };
		it->created_at = app_time_text(ctx, v[i].created, &it->created_at_len);
		it->last_used_at = app_time_text(ctx, v[i].last_used, &it->last_used_at_len);
		it->last_used_at_null = it->last_used_at == NULL;
	}
	rc = fastapi_list_my_api_keys_respond_200(ctx, &out);
	free(v);
	return rc;
}

static int fastapi_revoke(rt_ctx *ctx, const fastapi_revoke_my_api_key_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key k;
	char id[37];
	int rc;

	(void)body;
	app_uuid_lower(p->key_id, id);
	app_caller(ctx, &me);
	rc = keysvc_authorize(a->ks, &me, KEYSVC_RIGHTS_WRITE);   /* before the lookup: 403 whatever the id */
	if (rc == KEYSVC_OK)
		rc = keysvc_get_uuid(a->ks, me.user_id, KEYSVC_ALL, id, &k);   /* any of the caller's keys, as listed */
	if (rc == KEYSVC_OK && k.revoked)
		rc = KEYSVC_NOT_FOUND;
	if (rc == KEYSVC_OK)
		rc = keysvc_revoke(a->ks, &me, k.id, rt_ctx_client_addr(ctx));
	if (rc == KEYSVC_FORBIDDEN) {
		fastapi_ProblemDetail e = fastapi_problem(403, "Forbidden", fastapi_read_only);
		return fastapi_revoke_my_api_key_respond_403(ctx, &e);
	}
	if (rc == KEYSVC_NOT_FOUND) {
		fastapi_ProblemDetail e = fastapi_problem(404, "Not Found", "No active API key with this id belongs to the caller");
		return fastapi_revoke_my_api_key_respond_404(ctx, &e);
	}
	if (rc != KEYSVC_OK)
		return FASTAPI_STORE_FAILED(ctx, rc, revoke_my_api_key);
	return fastapi_revoke_my_api_key_respond_204(ctx);
}

static const fastapi_handlers fastapi_table = {
	.create_my_api_key = fastapi_create,
	.list_my_api_keys = fastapi_list,
	.revoke_my_api_key = fastapi_revoke,
};

const fastapi_handlers *fastapi_handlers_get(void)
{
	return &fastapi_table;
}

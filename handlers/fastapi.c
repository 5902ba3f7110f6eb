/* fastapi.c — the FastAPI-style family: soft revoke, paging with total,
 * RFC 9457 problem details (the runtime's default error shape). */
#include "app.h"
#include "fastapi_api.h"

#include <stdlib.h>
#include <string.h>

static const char fastapi_read_only[] = "This API key is read-only; the operation needs write rights";

static json_t *fastapi_problem(int status, const char *title, const char *detail)
{
	return json_pack("{s:s,s:s,s:i,s:s}", "type", "about:blank", "title", title, "status", status, "detail", detail);
}

static int fastapi_create(rt_ctx *ctx, const fastapi_create_my_api_key_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key k;
	char token[TOKEN_MAX];
	json_t *out;
	int rc;

	(void)p;
	app_caller(ctx, &me);
	rc = keysvc_create(a->ks, &me, KEYSVC_FASTAPI, json_string_value(json_object_get(body, "name")), NULL,
	                   NULL, rt_ctx_client_addr(ctx), &k, token, sizeof token);
	if (rc == KEYSVC_FORBIDDEN)
		return fastapi_create_my_api_key_respond_403(ctx, fastapi_problem(403, "Forbidden", fastapi_read_only));
	if (rc == KEYSVC_QUOTA)
		return fastapi_create_my_api_key_respond_403(
			ctx, fastapi_problem(403, "Forbidden", "The user holds as many API keys as the server allows; revoke one first"));
	if (rc == KEYSVC_INVALID)
		return fastapi_create_my_api_key_respond_400(
			ctx, fastapi_problem(400, "Bad Request",
			                     "The name must not contain control or bidirectional formatting characters"));
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
	out = json_pack("{s:s,s:s,s:s,s:o}", "id", k.uuid, "key", token, "name", k.name, "created_at", app_time(k.created));
	memset(token, 0, sizeof token);
	app_no_store(ctx);
	return fastapi_create_my_api_key_respond_201(ctx, out);
}

static int fastapi_list(rt_ctx *ctx, const fastapi_list_my_api_keys_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_key *v = NULL;
	size_t n = 0;
	int64_t total = 0;
	json_t *items;
	int rc;

	(void)body;
	/* every key the caller owns, whatever family made it (uuid ids and
	   is_active carry any key); a page of at most 200 */
	rc = keysvc_list(a->ks, app_user(ctx), KEYSVC_ALL, NULL, 1, p->skip, p->limit, &v, &n, &total);
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
	items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, json_pack("{s:s,s:s,s:b,s:o,s:o}", "id", v[i].uuid, "name", v[i].name, "is_active",
		                                       v[i].active && !v[i].revoked, "created_at", app_time(v[i].created),
		                                       "last_used_at", app_time(v[i].last_used)));
	free(v);
	return fastapi_list_my_api_keys_respond_200(ctx, json_pack("{s:o,s:I}", "items", items, "total", (json_int_t)total));
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
	if (rc == KEYSVC_FORBIDDEN)
		return fastapi_revoke_my_api_key_respond_403(ctx, fastapi_problem(403, "Forbidden", fastapi_read_only));
	if (rc == KEYSVC_NOT_FOUND)
		return fastapi_revoke_my_api_key_respond_404(
			ctx, fastapi_problem(404, "Not Found", "No active API key with this id belongs to the caller"));
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
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

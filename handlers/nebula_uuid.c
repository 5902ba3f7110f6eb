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
	if (rc == KEYSVC_INVALID)
		return nebula_uuid_failed(ctx, NEBULA_MSG_BAD_NAME, nebula_uuid_create_api_key_respond_400);
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
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

/* The list envelope of the caller's keys (summaries in the arena): KEYSVC_OK,
   the store's failure, or -1 out of memory. */
static int nebula_uuid_list_model(rt_ctx *ctx, app *a, nebula_uuid_ApiKeyListEnvelope *out)
{
	rt_arena *ar = rt_ctx_arena(ctx);
	keysvc_key *v = NULL;
	size_t n = 0;

	int rc = nebula_list_keys(ctx, a, KEYSVC_NEBULA_UUID, &v, &n);

	if (rc != KEYSVC_OK)
		return rc;
	*out = (nebula_uuid_ApiKeyListEnvelope){ .message = "API keys successfully retrieved",
	                                         .message_len = strlen("API keys successfully retrieved"),
	                                         .status = NEBULA_UUID_APIKEYLISTENVELOPE_STATUS_SUCCESS, .n_data = n };
	out->data = n ? rt_arena_alloc(ar, n * sizeof *out->data) : NULL;
	for (size_t i = 0; out->data && i < n; i++) {
		const char *d = nebula_description(&v[i]);
		/* the strings point into v: copied to the arena, which outlives it */
		out->data[i] = (nebula_uuid_ApiKeySummary){
			.id = rt_arena_strndup(ar, v[i].uuid, strlen(v[i].uuid)), .id_len = strlen(v[i].uuid),
			.name = rt_arena_strndup(ar, v[i].name, strlen(v[i].name)), .name_len = strlen(v[i].name),
			.description = d ? rt_arena_strndup(ar, d, strlen(d)) : NULL, .description_len = d ? strlen(d) : 0,
			.description_null = !d, .partial_key_data = NEBULA_UUID_APIKEYSUMMARY_PARTIAL_KEY_DATA_AK____,
		};
	}
	free(v);
	return n && !out->data ? -1 : KEYSVC_OK;
}

static int nebula_uuid_list(rt_ctx *ctx, const nebula_uuid_list_api_keys_params *p, const json_t *body, void *appv)
{
	nebula_uuid_ApiKeyListEnvelope out;
	int rc;

	(void)p;
	(void)body;
	rc = nebula_uuid_list_model(ctx, appv, &out);
	if (rc != KEYSVC_OK)
		return rc < 0 ? rt_respond_error(ctx, 500, "OutOfMemory", "Out of memory") : app_failed(ctx, rc);
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
		return rc < 0 ? rt_respond_error(ctx, 500, "OutOfMemory", "Out of memory") : app_failed(ctx, rc);
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
		return app_failed(ctx, rc);
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

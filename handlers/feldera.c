/* feldera.c — Feldera's API-key family: keys addressed by name (unique per
 * owner), errors as {message, error_code, details}. */
#include "app.h"
#include "feldera_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* {message, error_code, details}: details borrowed, NULL -> null */
static feldera_ErrorResponse feldera_error(const char *message, const char *code, const json_t *details)
{
	return (feldera_ErrorResponse){ .message = message, .message_len = strlen(message), .error_code = code,
	                                .error_code_len = strlen(code), .details = details };
}
/* The pipeline's own errors keep the vendor's key order {message, error_code,
 * details} (tests/fidelity), which the spec's property order does not give. */
json_t *feldera_error_shape(int status, const char *code, const char *message, const rt_errors *errors,
                            const char **content_type)
{
	json_t *details = errors && errors->n ? json_pack("{s:o}", "errors", rt_errors_to_json(errors)) : json_null();

	(void)status;
	*content_type = "application/json";
	return json_pack("{s:s,s:s,s:o}", "message", message ? message : "error", "error_code",
	                 code ? code : "Error", "details", details);
}

static const feldera_ApiKeyDescr_scopes_items feldera_read[] = { FELDERA_APIKEYDESCR_SCOPES_ITEMS_READ };
static const feldera_ApiKeyDescr_scopes_items feldera_read_write[] = { FELDERA_APIKEYDESCR_SCOPES_ITEMS_READ,
                                                                        FELDERA_APIKEYDESCR_SCOPES_ITEMS_WRITE };

static feldera_ApiKeyDescr feldera_descr(const keysvc_key *k)
{
	int ro = strcmp(k->role, "read") == 0;

	return (feldera_ApiKeyDescr){ .id = k->uuid, .id_len = strlen(k->uuid), .name = k->name, .name_len = strlen(k->name),
	                              .scopes = (feldera_ApiKeyDescr_scopes_items *)(ro ? feldera_read : feldera_read_write),
	                              .n_scopes = ro ? 1 : 2 };
}

/* name as one URL path segment: every byte but RFC 3986's unreserved ones
 * percent-encoded, so a name with spaces, '/' or UTF-8 makes a valid Location. */
static void feldera_segment(const char *name, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)name; *p && o + 4 <= len; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
}

/* 404 for an unknown name: the whole name, in the message and in details */
static int feldera_unknown(rt_ctx *ctx, const char *name,
                           int (*respond)(rt_ctx *ctx, const feldera_ErrorResponse *body))
{
	char msg[sizeof "Unknown API key ''" + STORE_NAME_CHARS * 4];
	json_t *details = json_pack("{s:s}", "name", name); /* details is free-form in the spec */
	feldera_ErrorResponse e;
	int rc;

	/* the whole name: cutting it at a byte count could split a character */
	snprintf(msg, sizeof msg, "Unknown API key '%s'", name);
	e = feldera_error(msg, "UnknownApiKey", details);
	rc = respond(ctx, &e);
	json_decref(details);
	return rc;
}

static int feldera_create(rt_ctx *ctx, const feldera_create_api_key_params *p, const feldera_NewApiKeyRequest *body,
                          void *appv)
{
	app *a = appv;
	keysvc_key k;
	char token[TOKEN_MAX], location[1800], segment[3 * 128 * 4 + 1]; /* 128 characters, 4 UTF-8 bytes each */
	feldera_NewApiKeyResponse out;
	int rc;

	(void)p;
	rc = keysvc_create(a->ks, app_user(ctx), KEYSVC_FELDERA, body ? body->name : NULL, NULL,
	                   body && body->has_role ? feldera_NewApiKeyRequest_role_text(body->role) : NULL,
	                   rt_ctx_client_addr(ctx), &k, token, sizeof token);
	if (rc == KEYSVC_DUPLICATE) {
		feldera_ErrorResponse e = feldera_error("An entity with this name already exists", "DuplicateName", NULL);
		return feldera_create_api_key_respond_409(ctx, &e);
	}
	if (rc != KEYSVC_OK)
		return rt_respond_error(ctx, 500, "StoreError", keysvc_strerror(rc));
	feldera_segment(k.name, segment, sizeof segment);
	snprintf(location, sizeof location, "%.200s/v0/api_keys/%s", rt_ctx_base(ctx), segment);
	rt_ctx_set_header(ctx, "Location", location);
	app_no_store(ctx);
	out = (feldera_NewApiKeyResponse){ .api_key = token, .api_key_len = strlen(token), .id = k.uuid,
	                                   .id_len = strlen(k.uuid), .name = k.name, .name_len = strlen(k.name) };
	rc = feldera_create_api_key_respond_201(ctx, &out);
	memset(token, 0, sizeof token);
	return rc;
}

static int feldera_by_name(const void *a, const void *b)
{
	return strcmp(((const keysvc_key *)a)->name, ((const keysvc_key *)b)->name);
}

static int feldera_list(rt_ctx *ctx, const feldera_list_api_keys_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_key *v = NULL;
	size_t n = 0;
	int64_t total = 0;
	feldera_list_api_keys_200 out = { 0 };
	int rc;

	(void)body;
	if (keysvc_list(a->ks, app_user(ctx), KEYSVC_FELDERA, p->has_name ? p->name : NULL, 0, 0, -1, &v, &n, &total) !=
	    KEYSVC_OK)
		return rt_respond_error(ctx, 500, "StoreError", "the key store failed");
	if (p->has_name && n == 0) {
		free(v);
		return feldera_unknown(ctx, p->name, feldera_list_api_keys_respond_404);
	}
	if (n > 1) /* v is NULL for an empty list, and qsort wants a pointer */
		qsort(v, n, sizeof *v, feldera_by_name);
	out.items = n ? rt_arena_alloc(rt_ctx_arena(ctx), n * sizeof *out.items) : NULL;
	if (n && !out.items) {
		free(v);
		return rt_respond_error(ctx, 500, "OutOfMemory", "Out of memory");
	}
	out.n_items = n;
	for (size_t i = 0; i < n; i++)
		out.items[i] = feldera_descr(&v[i]);
	rc = feldera_list_api_keys_respond_200(ctx, &out);
	free(v);
	return rc;
}

static int feldera_get(rt_ctx *ctx, const feldera_get_api_key_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_key k;
	feldera_ApiKeyDescr d;

	(void)body;
	if (keysvc_get_name(a->ks, app_user(ctx), KEYSVC_FELDERA, p->api_key_name, &k) != KEYSVC_OK)
		return feldera_unknown(ctx, p->api_key_name, feldera_get_api_key_respond_404);
	d = feldera_descr(&k);
	return feldera_get_api_key_respond_200(ctx, &d);
}

static int feldera_delete(rt_ctx *ctx, const feldera_delete_api_key_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_key k;

	(void)body;
	if (keysvc_get_name(a->ks, app_user(ctx), KEYSVC_FELDERA, p->api_key_name, &k) != KEYSVC_OK ||
	    keysvc_delete(a->ks, app_user(ctx), k.id, rt_ctx_client_addr(ctx)) != KEYSVC_OK)
		return feldera_unknown(ctx, p->api_key_name, feldera_delete_api_key_respond_404);
	return feldera_delete_api_key_respond_200(ctx);
}

static const feldera_handlers feldera_table = {
	.create_api_key = feldera_create,
	.list_api_keys = feldera_list,
	.get_api_key = feldera_get,
	.delete_api_key = feldera_delete,
};

const feldera_handlers *feldera_handlers_get(void)
{
	return &feldera_table;
}

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
/* The pipeline's own errors (the runtime's hook wants a json_t): the
 * ErrorResponse model, written and read back; the spec lists its members in
 * the vendor's order {message, error_code, details} (tests/fidelity). */
json_t *feldera_error_shape(int status, const char *code, const char *message, const rt_errors *errors,
                            const char **content_type)
{
	/* details is free-form in the spec: the violations, as the pipeline names them */
	json_t *details = errors && errors->n ? json_pack("{s:o}", "errors", rt_errors_to_json(errors)) : NULL;
	feldera_ErrorResponse e = feldera_error(message ? message : "error", code ? code : "Error", details);
	rt_json_writer w;

	(void)status;
	*content_type = "application/json";
	rt_json_writer_init(&w);
	feldera_ErrorResponse_write(&w, &e);
	json_decref(details);
	return app_json_of(&w);
}

/* A key-service failure through the operation's typed builders:
 * {message, error_code: StoreUnavailable (503, Retry-After) or StoreError
 * (500) or OutOfMemory (500), details: null}. */
static int feldera_store_failed(rt_ctx *ctx, int rc, int (*r500)(rt_ctx *ctx, const feldera_ErrorResponse *body),
                                int (*r503)(rt_ctx *ctx, const feldera_ErrorResponse *body,
                                            const feldera_StoreUnavailable_headers *headers))
{
	static const feldera_StoreUnavailable_headers retry = { .retry_after = APP_RETRY_AFTER, .has_retry_after = 1 };
	feldera_ErrorResponse e = feldera_error(app_failure_message(rc), app_failure_code(rc), NULL);

	return app_unavailable(rc) ? r503(ctx, &e, &retry) : r500(ctx, &e);
}
#define FELDERA_STORE_FAILED(ctx, rc, op) \
	feldera_store_failed(ctx, rc, feldera_##op##_respond_500, feldera_##op##_respond_503)

static const feldera_ApiKeyDescr_scopes_items feldera_read[] = { FELDERA_APIKEYDESCR_SCOPES_ITEMS_READ };
static const feldera_ApiKeyDescr_scopes_items feldera_read_write[] = { FELDERA_APIKEYDESCR_SCOPES_ITEMS_READ,
                                                                        FELDERA_APIKEYDESCR_SCOPES_ITEMS_WRITE };

/* ApiKeyDescr: Feldera's role (a key stored before roles, with none, kept
   write), and the scopes older clients read, derived from it. */
static feldera_ApiKeyDescr feldera_descr(const keysvc_key *k)
{
	int ro = strcmp(k->role, "read") == 0;

	return (feldera_ApiKeyDescr){ .id = k->uuid, .id_len = strlen(k->uuid), .name = k->name, .name_len = strlen(k->name),
	                              .role = ro ? FELDERA_MINTABLEKEYROLE_READ : FELDERA_MINTABLEKEYROLE_WRITE,
	                              .scopes = (feldera_ApiKeyDescr_scopes_items *)(ro ? feldera_read : feldera_read_write),
	                              .n_scopes = ro ? 1 : 2, .has_scopes = 1 };
}

/* 403 as Feldera's RBAC middleware answers it: every api_keys route needs write. */
static int feldera_forbidden(rt_ctx *ctx, app *a, const keysvc_principal *me,
                             int (*respond)(rt_ctx *ctx, const feldera_ErrorResponse *body))
{
	char msg[128];
	int rights, rc;
	json_t *details;
	feldera_ErrorResponse e;

	if (keysvc_rights(a->ks, me, &rights) != KEYSVC_OK)
		rights = KEYSVC_RIGHTS_NONE;
	snprintf(msg, sizeof msg, "Insufficient permissions: this action requires the 'write' role, but the caller has '%s'",
	         keysvc_rights_name(rights));
	/* details is free-form in the spec */
	details = json_pack("{s:s,s:s}", "required", "write", "actual", keysvc_rights_name(rights));
	e = feldera_error(msg, "InsufficientPermissions", details);
	rc = respond(ctx, &e);
	json_decref(details);
	return rc;
}

/* Feldera's route table asks write of its reads too: KEYSVC_OK or the status. */
static int feldera_may(rt_ctx *ctx, app *a, keysvc_principal *me)
{
	app_caller(ctx, me);
	return keysvc_authorize(a->ks, me, KEYSVC_RIGHTS_WRITE);
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
	keysvc_principal me;
	keysvc_key k;
	char token[TOKEN_MAX], location[1800], segment[3 * 128 * 4 + 1]; /* 128 characters, 4 UTF-8 bytes each */
	feldera_NewApiKeyResponse out;
	int rc;

	(void)p;
	app_caller(ctx, &me);
	/* role: "read", "write", or null/absent (the key service makes it read) */
	rc = keysvc_create(a->ks, &me, KEYSVC_FELDERA, body ? body->name : NULL, NULL,
	                   body && body->has_role && !body->role_null ? feldera_NewApiKeyRequest_role_text(body->role)
	                                                              : NULL,
	                   rt_ctx_client_addr(ctx), &k, token, sizeof token);
	if (rc == KEYSVC_FORBIDDEN)
		return feldera_forbidden(ctx, a, &me, feldera_create_api_key_respond_403);
	if (rc == KEYSVC_QUOTA) { /* 403 too, told apart by its error_code */
		json_t *details = json_pack("{s:I}", "quota", (json_int_t)keysvc_list_max(a->ks)); /* free-form in the spec */
		feldera_ErrorResponse e = feldera_error("The user holds as many API keys as the server allows; delete one first",
		                                        "KeyQuotaExceeded", details);
		rc = feldera_create_api_key_respond_403(ctx, &e);
		json_decref(details);
		return rc;
	}
	if (rc == KEYSVC_INVALID) { /* the schema has checked the rest: the name's characters */
		json_t *details = json_pack("{s:s}", "pattern_description", /* details is free-form in the spec */
		                            "contain no control character (C0, DEL, C1) and no bidirectional control "
		                            "(U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C)");
		feldera_ErrorResponse e = feldera_error("Name should not contain control or bidirectional formatting characters",
		                                        "NameDoesNotMatchPattern", details);
		rc = feldera_create_api_key_respond_400(ctx, &e);
		json_decref(details);
		return rc;
	}
	if (rc == KEYSVC_DUPLICATE) {
		feldera_ErrorResponse e = feldera_error("An entity with this name already exists", "DuplicateName", NULL);
		return feldera_create_api_key_respond_409(ctx, &e);
	}
	if (rc != KEYSVC_OK)
		return FELDERA_STORE_FAILED(ctx, rc, create_api_key);
	feldera_segment(k.name, segment, sizeof segment);
	snprintf(location, sizeof location, "%.200s/v0/api_keys/%s", rt_ctx_base(ctx), segment);
	out = (feldera_NewApiKeyResponse){ .api_key = token, .api_key_len = strlen(token), .id = k.uuid,
	                                   .id_len = strlen(k.uuid), .name = k.name, .name_len = strlen(k.name) };
	/* Location typed; Cache-Control: no-store is the builder's (the spec's one value) */
	rc = feldera_create_api_key_respond_201(ctx, &out, &(feldera_create_api_key_respond_201_headers){
		.location = location });
	memset(token, 0, sizeof token);
	return rc;
}

/* A whole list: the descriptors, their strings in the request's arena (never
   the store's 5 KiB rows), read page by page and sorted by name at the end. */
typedef struct feldera_items {
	rt_ctx *ctx;
	feldera_ApiKeyDescr *v;
	size_t n, cap;
} feldera_items;

static int feldera_item(void *itv, const keysvc_key *k)
{
	feldera_items *it = itv;
	feldera_ApiKeyDescr *nv = app_grow(it->v, &it->cap, it->n, sizeof *nv), *d;

	if (!nv)
		return -1;
	it->v = nv;
	d = &it->v[it->n++];
	*d = feldera_descr(k);
	d->id = app_arena_str(it->ctx, k->uuid, &d->id_len);
	d->name = app_arena_str(it->ctx, k->name, &d->name_len);
	return d->id && d->name ? 0 : -1;
}

static int feldera_by_name(const void *a, const void *b)
{
	return strcmp(((const feldera_ApiKeyDescr *)a)->name, ((const feldera_ApiKeyDescr *)b)->name);
}

static int feldera_list(rt_ctx *ctx, const feldera_list_api_keys_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	feldera_items it = { .ctx = ctx };
	int rc;

	(void)body;
	rc = feldera_may(ctx, a, &me);
	if (rc == KEYSVC_FORBIDDEN)
		return feldera_forbidden(ctx, a, &me, feldera_list_api_keys_respond_403);
	if (rc != KEYSVC_OK)
		return FELDERA_STORE_FAILED(ctx, rc, list_api_keys);
	if (p->has_name) { /* names are unique per owner: at most one */
		keysvc_key *v = NULL;
		size_t n = 0;
		int64_t total = 0;
		feldera_list_api_keys_200 out = { 0 };
		rc = keysvc_list(a->ks, app_user(ctx), KEYSVC_FELDERA, p->name, 0, 0, -1, &v, &n, &total);
		if (rc != KEYSVC_OK)
			return FELDERA_STORE_FAILED(ctx, rc, list_api_keys);
		if (n == 0) {
			free(v);
			return feldera_unknown(ctx, p->name, feldera_list_api_keys_respond_404);
		}
		out.items = rt_arena_alloc(rt_ctx_arena(ctx), n * sizeof *out.items);
		if (!out.items) {
			free(v);
			return FELDERA_STORE_FAILED(ctx, APP_NOMEM, list_api_keys);
		}
		out.n_items = n;
		for (size_t i = 0; i < n; i++)
			out.items[i] = feldera_descr(&v[i]);
		rc = feldera_list_api_keys_respond_200(ctx, &out);
		free(v);
		return rc;
	}
	rc = keysvc_list_each(a->ks, app_user(ctx), KEYSVC_FELDERA, 0, keysvc_list_max(a->ks), feldera_item, &it);
	if (rc == KEYSVC_OK) {
		if (it.n > 1)
			qsort(it.v, it.n, sizeof *it.v, feldera_by_name);
		rc = feldera_list_api_keys_respond_200(ctx, &(feldera_list_api_keys_200){ .items = it.v, .n_items = it.n });
	} else {
		rc = FELDERA_STORE_FAILED(ctx, rc, list_api_keys);
	}
	free(it.v);
	return rc;
}

static int feldera_get(rt_ctx *ctx, const feldera_get_api_key_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key k;
	feldera_ApiKeyDescr d;
	int rc;

	(void)body;
	rc = feldera_may(ctx, a, &me);
	if (rc == KEYSVC_FORBIDDEN)
		return feldera_forbidden(ctx, a, &me, feldera_get_api_key_respond_403);
	if (rc == KEYSVC_OK)
		rc = keysvc_get_name(a->ks, app_user(ctx), KEYSVC_FELDERA, p->api_key_name, &k);
	if (rc == KEYSVC_OK && k.revoked)   /* revoked with its parent (--revoke-cascade): gone */
		rc = KEYSVC_NOT_FOUND;
	if (rc == KEYSVC_NOT_FOUND)
		return feldera_unknown(ctx, p->api_key_name, feldera_get_api_key_respond_404);
	if (rc != KEYSVC_OK)
		return FELDERA_STORE_FAILED(ctx, rc, get_api_key);
	d = feldera_descr(&k);
	/* Feldera answers a one-element array (.json(&[api_key])), not to be cached
	   (Cache-Control: no-cache, the builder's) */
	return feldera_get_api_key_respond_200(ctx, &(feldera_get_api_key_200){ .items = &d, .n_items = 1 });
}

static int feldera_delete(rt_ctx *ctx, const feldera_delete_api_key_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key k;
	int rc;

	(void)body;
	rc = feldera_may(ctx, a, &me);
	if (rc == KEYSVC_OK)
		rc = keysvc_get_name(a->ks, me.user_id, KEYSVC_FELDERA, p->api_key_name, &k);
	if (rc == KEYSVC_OK)
		rc = keysvc_delete(a->ks, &me, k.id, rt_ctx_client_addr(ctx));
	if (rc == KEYSVC_FORBIDDEN)
		return feldera_forbidden(ctx, a, &me, feldera_delete_api_key_respond_403);
	if (rc == KEYSVC_NOT_FOUND)
		return feldera_unknown(ctx, p->api_key_name, feldera_delete_api_key_respond_404);
	if (rc != KEYSVC_OK)
		return FELDERA_STORE_FAILED(ctx, rc, delete_api_key);
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

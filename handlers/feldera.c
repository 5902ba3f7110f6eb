/* feldera.c — Feldera's API-key family: keys addressed by name (unique per
 * owner), errors as {message, error_code, details}. */
#include "app.h"
#include "feldera_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *feldera_error_shape(int status, const char *code, const char *message, const rt_errors *errors,
                            const char **content_type)
{
	json_t *details = errors && errors->n ? json_pack("{s:o}", "errors", rt_errors_to_json(errors)) : json_null();

	(void)status;
	*content_type = "application/json";
	return json_pack("{s:s,s:s,s:o}", "message", message ? message : "error", "error_code",
	                 code ? code : "Error", "details", details);
}

static json_t *feldera_error(const char *message, const char *code, json_t *details /* stolen */)
{
	return json_pack("{s:s,s:s,s:o}", "message", message, "error_code", code, "details",
	                 details ? details : json_null());
}

/* ApiKeyDescr: Feldera's role (a key stored before roles, with none, kept
   write), and the scopes older clients read, derived from it. */
static json_t *feldera_descr(const keysvc_key *k)
{
	int read = strcmp(k->role, "read") == 0;
	json_t *scopes = read ? json_pack("[s]", "Read") : json_pack("[s,s]", "Read", "Write");

	return json_pack("{s:s,s:s,s:s,s:o}", "id", k->uuid, "name", k->name, "role", read ? "read" : "write",
	                 "scopes", scopes);
}

/* 403 as Feldera's RBAC middleware answers it: every api_keys route needs write. */
static json_t *feldera_forbidden(app *a, const keysvc_principal *me)
{
	char msg[128];
	int rights;

	if (keysvc_rights(a->ks, me, &rights) != KEYSVC_OK)
		rights = KEYSVC_RIGHTS_NONE;
	snprintf(msg, sizeof msg, "Insufficient permissions: this action requires the 'write' role, but the caller has '%s'",
	         keysvc_rights_name(rights));
	return feldera_error(msg, "InsufficientPermissions",
	                     json_pack("{s:s,s:s}", "required", "write", "actual", keysvc_rights_name(rights)));
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

static json_t *feldera_unknown(const char *name)
{
	char msg[sizeof "Unknown API key ''" + STORE_NAME_CHARS * 4];

	/* the whole name: cutting it at a byte count could split a character */
	snprintf(msg, sizeof msg, "Unknown API key '%s'", name);
	return feldera_error(msg, "UnknownApiKey", json_pack("{s:s}", "name", name));
}

static int feldera_create(rt_ctx *ctx, const feldera_create_api_key_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key k;
	char token[TOKEN_MAX], location[1800], segment[3 * 128 * 4 + 1]; /* 128 characters, 4 UTF-8 bytes each */
	const char *name = json_string_value(json_object_get(body, "name"));
	int rc;

	(void)p;
	app_caller(ctx, &me);
	/* role: "read", "write", or null/absent (the key service makes it read) */
	rc = keysvc_create(a->ks, &me, KEYSVC_FELDERA, name, NULL,
	                   json_string_value(json_object_get(body, "role")), rt_ctx_client_addr(ctx), &k, token, sizeof token);
	if (rc == KEYSVC_FORBIDDEN)
		return feldera_create_api_key_respond_403(ctx, feldera_forbidden(a, &me));
	if (rc == KEYSVC_QUOTA)   /* 403 too, told apart by its error_code */
		return feldera_create_api_key_respond_403(
			ctx, feldera_error("The user holds as many API keys as the server allows; delete one first",
			                   "KeyQuotaExceeded", json_pack("{s:I}", "quota", (json_int_t)keysvc_list_max(a->ks))));
	if (rc == KEYSVC_INVALID)   /* the schema has checked the rest: the name's characters */
		return feldera_create_api_key_respond_400(
			ctx, feldera_error("Name should not contain control or bidirectional formatting characters",
			                   "NameDoesNotMatchPattern",
			                   json_pack("{s:s}", "pattern_description",
			                             "contain no control character (C0, DEL, C1) and no bidirectional control "
			                             "(U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C)")));
	if (rc == KEYSVC_DUPLICATE)
		return feldera_create_api_key_respond_409(
			ctx, feldera_error("An entity with this name already exists", "DuplicateName", NULL));
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
	feldera_segment(k.name, segment, sizeof segment);
	snprintf(location, sizeof location, "%.200s/v0/api_keys/%s", rt_ctx_base(ctx), segment);
	rt_ctx_set_header(ctx, "Location", location);
	app_no_store(ctx);
	json_t *out = json_pack("{s:s,s:s,s:s}", "api_key", token, "id", k.uuid, "name", k.name);
	memset(token, 0, sizeof token);
	return feldera_create_api_key_respond_201(ctx, out);
}

/* A whole list: the descriptors (a few hundred bytes each, never the
   store's 5 KiB rows), read page by page and sorted by name at the end. */
typedef struct feldera_items {
	json_t **v;
	size_t n, cap;
} feldera_items;

static int feldera_item(void *ctx, const keysvc_key *k)
{
	feldera_items *it = ctx;

	if (it->n == it->cap) {
		size_t cap = it->cap ? it->cap * 2 : 64;
		json_t **nv = realloc(it->v, cap * sizeof *nv);
		if (!nv)
			return -1;
		it->v = nv;
		it->cap = cap;
	}
	it->v[it->n] = feldera_descr(k);
	return it->v[it->n++] ? 0 : -1;
}

static int feldera_by_name(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
	              json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

static int feldera_list(rt_ctx *ctx, const feldera_list_api_keys_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	feldera_items it = { 0 };
	keysvc_key *v = NULL;
	size_t n = 0;
	int64_t total = 0;
	json_t *out;
	int rc;

	(void)body;
	rc = feldera_may(ctx, a, &me);
	if (rc == KEYSVC_FORBIDDEN)
		return feldera_list_api_keys_respond_403(ctx, feldera_forbidden(a, &me));
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
	if (p->has_name) { /* names are unique per owner: at most one */
		rc = keysvc_list(a->ks, app_user(ctx), KEYSVC_FELDERA, p->name, 0, 0, -1, &v, &n, &total);
		if (rc != KEYSVC_OK)
			return app_failed(ctx, rc);
		if (n == 0)
			return feldera_list_api_keys_respond_404(ctx, feldera_unknown(p->name));
		out = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(out, feldera_descr(&v[i]));
		free(v);
		rt_ctx_set_header(ctx, "Cache-Control", "no-cache");   /* as Feldera sends it */
		return feldera_list_api_keys_respond_200(ctx, out);
	}
	rc = keysvc_list_each(a->ks, app_user(ctx), KEYSVC_FELDERA, 0, keysvc_list_max(a->ks), feldera_item, &it);
	if (rc == KEYSVC_OK && it.n > 1)
		qsort(it.v, it.n, sizeof *it.v, feldera_by_name);
	out = json_array();
	for (size_t i = 0; i < it.n; i++)
		json_array_append_new(out, it.v[i]);
	free(it.v);
	if (rc != KEYSVC_OK) {
		json_decref(out);
		return app_failed(ctx, rc);
	}
	rt_ctx_set_header(ctx, "Cache-Control", "no-cache");
	return feldera_list_api_keys_respond_200(ctx, out);
}

static int feldera_get(rt_ctx *ctx, const feldera_get_api_key_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key k;
	int rc;

	(void)body;
	rc = feldera_may(ctx, a, &me);
	if (rc == KEYSVC_FORBIDDEN)
		return feldera_get_api_key_respond_403(ctx, feldera_forbidden(a, &me));
	if (rc == KEYSVC_OK)
		rc = keysvc_get_name(a->ks, app_user(ctx), KEYSVC_FELDERA, p->api_key_name, &k);
	if (rc == KEYSVC_OK && k.revoked)   /* revoked with its parent (--revoke-cascade): gone */
		rc = KEYSVC_NOT_FOUND;
	if (rc == KEYSVC_NOT_FOUND)
		return feldera_get_api_key_respond_404(ctx, feldera_unknown(p->api_key_name));
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
	/* Feldera answers a one-element array (.json(&[api_key])), not to be cached */
	rt_ctx_set_header(ctx, "Cache-Control", "no-cache");
	return feldera_get_api_key_respond_200(ctx, json_pack("[o]", feldera_descr(&k)));
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
		return feldera_delete_api_key_respond_403(ctx, feldera_forbidden(a, &me));
	if (rc == KEYSVC_NOT_FOUND)
		return feldera_delete_api_key_respond_404(ctx, feldera_unknown(p->api_key_name));
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
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

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

static json_t *feldera_descr(const keysvc_key *k)
{
	json_t *scopes = strcmp(k->role, "read") == 0 ? json_pack("[s]", "Read") : json_pack("[s,s]", "Read", "Write");

	return json_pack("{s:s,s:s,s:o}", "id", k->uuid, "name", k->name, "scopes", scopes);
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
	keysvc_key k;
	char token[TOKEN_MAX], location[1800], segment[3 * 128 * 4 + 1]; /* 128 characters, 4 UTF-8 bytes each */
	const char *name = json_string_value(json_object_get(body, "name"));
	int rc;

	(void)p;
	rc = keysvc_create_by(a->ks, app_user(ctx), app_key(ctx), KEYSVC_FELDERA, name, NULL,
	                      json_string_value(json_object_get(body, "role")), rt_ctx_client_addr(ctx), &k, token,
	                      sizeof token);
	if (rc == KEYSVC_QUOTA)
		return feldera_create_api_key_respond_403(
			ctx, feldera_error("The user holds as many API keys as the server allows; delete one first",
			                   "KeyQuotaExceeded", NULL));
	if (rc == KEYSVC_DUPLICATE)
		return feldera_create_api_key_respond_409(
			ctx, feldera_error("An entity with this name already exists", "DuplicateName", NULL));
	if (rc != KEYSVC_OK)
		return rt_respond_error(ctx, 500, "StoreError", keysvc_strerror(rc));
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
	feldera_items it = { 0 };
	keysvc_key k;
	json_t *out;
	int rc;

	(void)body;
	if (p->has_name) { /* names are unique per owner: at most one */
		rc = keysvc_get_name(a->ks, app_user(ctx), KEYSVC_FELDERA, p->name, &k);
		if (rc == KEYSVC_NOT_FOUND || (rc == KEYSVC_OK && k.revoked))
			return feldera_list_api_keys_respond_404(ctx, feldera_unknown(p->name));
		if (rc != KEYSVC_OK)
			return rt_respond_error(ctx, 500, "StoreError", "the key store failed");
		return feldera_list_api_keys_respond_200(ctx, json_pack("[o]", feldera_descr(&k)));
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
		return rt_respond_error(ctx, 500, "StoreError", "the key store failed");
	}
	return feldera_list_api_keys_respond_200(ctx, out);
}

static int feldera_get(rt_ctx *ctx, const feldera_get_api_key_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_key k;

	(void)body;
	if (keysvc_get_name(a->ks, app_user(ctx), KEYSVC_FELDERA, p->api_key_name, &k) != KEYSVC_OK || k.revoked)
		return feldera_get_api_key_respond_404(ctx, feldera_unknown(p->api_key_name));
	return feldera_get_api_key_respond_200(ctx, feldera_descr(&k));
}

static int feldera_delete(rt_ctx *ctx, const feldera_delete_api_key_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_key k;

	(void)body;
	if (keysvc_get_name(a->ks, app_user(ctx), KEYSVC_FELDERA, p->api_key_name, &k) != KEYSVC_OK ||
	    keysvc_delete(a->ks, app_user(ctx), k.id, rt_ctx_client_addr(ctx)) != KEYSVC_OK)
		return feldera_delete_api_key_respond_404(ctx, feldera_unknown(p->api_key_name));
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

/* apikeyd.c — apikeyd's own API (openapi/apikeyd.yaml, mounted at /v1): keys
 * for the user's customers with their attributes, /verify for backend
 * services and /auth for gateways. The rules are the key service's
 * (keysvc_key_create, keysvc_verify, ...); here is only the HTTP shape.
 * Errors are problem details (the runtime's default shape) with a code.
 */
#include "app.h"
#include "apikeyd_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A problem body; title and detail are static or arena text. */
static apikeyd_ProblemDetail apikeyd_problem(int status, const char *title, const char *detail, const char *code)
{
	return (apikeyd_ProblemDetail){ .type = "about:blank", .type_len = 11, .has_type = 1, .title = title,
	                                .title_len = strlen(title), .status = status, .detail = detail,
	                                .detail_len = strlen(detail), .code = code, .code_len = code ? strlen(code) : 0,
	                                .has_code = code != NULL };
}

static const char apikeyd_no_scope[] = "The caller's key lacks the scope this operation needs";

/* ---- between the models and the key service ---- */

/* Space-separated scopes of a model's array (NUL-terminated in out); -1
   when they do not fit (the key service refuses what else is wrong). */
static int apikeyd_join_scopes(const rt_str *v, size_t n, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (o + v[i].len + 2 > len)
			return -1;
		if (i)
			out[o++] = ' ';
		memcpy(out + o, v[i].s, v[i].len);
		o += v[i].len;
		out[o] = '\0';
	}
	return 0;
}

/* The scopes of a key as a model's array, in the arena. */
static rt_str *apikeyd_split_scopes(rt_ctx *ctx, const char *scopes, size_t *n)
{
	size_t count = 0, i = 0;
	rt_str *v;

	*n = 0;
	for (const char *p = scopes; *p; p++)
		count += (p == scopes || p[-1] == ' ') && *p != ' ';
	if (count == 0)
		return NULL;
	v = rt_arena_alloc(rt_ctx_arena(ctx), count * sizeof *v);
	if (!v)
		return NULL;
	for (const char *p = scopes; *p && i < count;) {
		size_t len = strcspn(p, " ");
		if (len) {
			v[i].s = p;
			v[i++].len = len;
		}
		p += len;
		while (*p == ' ')
			p++;
	}
	*n = i;
	return v;
}

/* A key's meta as the JSON text it is stored as (compact, checked at
   create and update), {} for none: it goes out as it is (the model's
   meta_json), not parsed into a tree and written again. */
static const char *apikeyd_meta(const char *meta)
{
	return meta[0] ? meta : "{}";
}

/* The compact text of a request's meta into out; -1 when it is longer
   than the key service takes. */
static int apikeyd_meta_text(const json_t *meta, char *out, size_t len)
{
	size_t n = json_dumpb(meta, out, len - 1, JSON_COMPACT);

	if (n == 0 || n > KEYSVC_META_MAX || n >= len)
		return -1;
	out[n] = '\0';
	return 0;
}

/* RFC 3339 date-time to unix seconds (fractions dropped); -1 when it is none. */
static int apikeyd_time_of(const char *s, size_t len, int64_t *out)
{
	char buf[64];
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0;
	const char *p;
	time_t t;

	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (sscanf(buf, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n == 0)
		return -1;
	p = buf + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++) {}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2 && strlen(p) == 6) {
		if (*p == '-') {
			oh = -oh;
			om = -om;
		}
		p += 6;
	} else {
		return -1;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = (int64_t)t - (int64_t)oh * 3600 - (int64_t)om * 60;
	return *out > 0 ? 0 : -1;
}

/* Fills the Key model of k (texts borrowed from k, which must outlive the
   response, or from the arena). */
static void apikeyd_key_model(rt_ctx *ctx, const keysvc_key *k, apikeyd_Key *m)
{
	memset(m, 0, sizeof *m);
	m->id = k->uuid;
	m->id_len = strlen(k->uuid);
	m->name = k->name;
	m->name_len = strlen(k->name);
	m->start = k->prefix;
	m->start_len = strlen(k->prefix);
	m->owner = k->owner;
	m->owner_len = strlen(k->owner);
	m->owner_null = !k->owner[0];
	m->scopes = apikeyd_split_scopes(ctx, k->scopes, &m->n_scopes);
	m->meta_json = apikeyd_meta(k->meta);
	m->enabled = k->active && !k->revoked;
	m->expires_at = app_time_text(ctx, k->expires_at, &m->expires_at_len);
	m->expires_at_null = m->expires_at == NULL;
	m->remaining = k->remaining;
	m->remaining_null = !k->has_remaining;
	m->has_ratelimit = k->rl_limit > 0;
	m->ratelimit.limit = k->rl_limit;
	m->ratelimit.window = k->rl_window;
	m->created_at = app_time_text(ctx, k->created, &m->created_at_len);
	m->last_used_at = app_time_text(ctx, k->last_used, &m->last_used_at_len);
	m->last_used_at_null = m->last_used_at == NULL;
}

/* A new key's answer: the Key model and the token. */
static int apikeyd_respond_created(rt_ctx *ctx, const keysvc_key *k, const char *token,
                                   int (*respond)(rt_ctx *, const apikeyd_KeyCreated *))
{
	apikeyd_Key m;
	apikeyd_KeyCreated c;

	apikeyd_key_model(ctx, k, &m);
	c = (apikeyd_KeyCreated){ .key = token, .key_len = strlen(token), .id = m.id, .id_len = m.id_len,
	                          .name = m.name, .name_len = m.name_len, .start = m.start, .start_len = m.start_len,
	                          .owner = m.owner, .owner_len = m.owner_len, .owner_null = m.owner_null,
	                          .scopes = m.scopes, .n_scopes = m.n_scopes, .meta_json = m.meta_json, .enabled = m.enabled,
	                          .expires_at = m.expires_at, .expires_at_len = m.expires_at_len,
	                          .expires_at_null = m.expires_at_null, .remaining = m.remaining,
	                          .remaining_null = m.remaining_null, .ratelimit = m.ratelimit,
	                          .has_ratelimit = m.has_ratelimit, .created_at = m.created_at,
	                          .created_at_len = m.created_at_len, .last_used_at = m.last_used_at,
	                          .last_used_at_len = m.last_used_at_len, .last_used_at_null = m.last_used_at_null };
	app_no_store(ctx);
	return respond(ctx, &c);
}

/* The caller's key of this API by uuid (a revoked one is not found). */
static int apikeyd_find(keysvc *ks, int64_t user, const char *uuid, keysvc_key *k)
{
	char id[37];
	int rc;

	app_uuid_lower(uuid, id);
	rc = keysvc_get_uuid(ks, user, KEYSVC_APIKEYD, id, k);
	return rc == KEYSVC_OK && k->revoked ? KEYSVC_NOT_FOUND : rc;
}

/* ---- keys ---- */

static int apikeyd_create(rt_ctx *ctx, const apikeyd_create_key_params *p, const apikeyd_KeyCreateRequest *body,
                          void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key *in = NULL, *k = NULL;
	char token[TOKEN_MAX] = "";
	const char *why = NULL;
	int rc;

	(void)p;
	app_caller(ctx, &me);
	in = calloc(1, sizeof *in);
	k = calloc(1, sizeof *k);
	if (!in || !k) {
		rc = app_failed(ctx, KEYSVC_STORE);
		goto cleanup;
	}
	snprintf(in->name, sizeof in->name, "%.*s", (int)body->name_len, body->name);
	if (body->has_owner && body->owner_len >= sizeof in->owner)
		why = "owner: at most 64 characters";
	else if (body->has_owner)
		snprintf(in->owner, sizeof in->owner, "%.*s", (int)body->owner_len, body->owner);
	if (!why && body->has_scopes && apikeyd_join_scopes(body->scopes, body->n_scopes, in->scopes, sizeof in->scopes) != 0)
		why = "scopes: too long together";
	if (!why && body->has_meta && apikeyd_meta_text(body->meta, in->meta, sizeof in->meta) != 0)
		why = "meta: at most 1024 bytes of compact JSON";
	in->active = body->has_enabled ? body->enabled : 1;
	if (!why && body->has_expires_at && apikeyd_time_of(body->expires_at, body->expires_at_len, &in->expires_at) != 0)
		why = "expires_at: not an RFC 3339 date-time after 1970";
	if (body->has_ttl_seconds && (!in->expires_at || keysvc_now(a->ks) + body->ttl_seconds < in->expires_at))
		in->expires_at = keysvc_now(a->ks) + body->ttl_seconds;   /* given both, the sooner */
	in->has_remaining = body->has_remaining;
	in->remaining = body->remaining;
	if (body->has_ratelimit) {
		in->rl_limit = body->ratelimit.limit;
		in->rl_window = body->ratelimit.window;
	}
	if (why) {
		apikeyd_ProblemDetail e = apikeyd_problem(422, "Unprocessable Content", why, "INVALID");
		rc = apikeyd_create_key_respond_422(ctx, &e);
		goto cleanup;
	}
	rc = keysvc_key_create(a->ks, &me, in, rt_ctx_client_addr(ctx), k, token, sizeof token);
	if (rc == KEYSVC_FORBIDDEN) {
		apikeyd_ProblemDetail e = apikeyd_problem(403, "Forbidden", "The caller's key lacks keys:write, or a keys: scope it "
		                                          "would give: no key mints one with more rights than its own", "FORBIDDEN");
		rc = apikeyd_create_key_respond_403(ctx, &e);
	} else if (rc == KEYSVC_QUOTA) {
		apikeyd_ProblemDetail e = apikeyd_problem(403, "Forbidden", "The user holds as many keys as the key quota allows",
		                                          "QUOTA");
		rc = apikeyd_create_key_respond_403(ctx, &e);
	} else if (rc == KEYSVC_INVALID) {
		apikeyd_ProblemDetail e = apikeyd_problem(422, "Unprocessable Content",
		                                          "An attribute is out of bounds: a name or owner with control characters, "
		                                          "an unknown keys: scope, meta not an object", "INVALID");
		rc = apikeyd_create_key_respond_422(ctx, &e);
	} else if (rc != KEYSVC_OK) {
		rc = app_failed(ctx, rc);
	} else {
		rc = apikeyd_respond_created(ctx, k, token, apikeyd_create_key_respond_201);
	}
cleanup:
	memset(token, 0, sizeof token);
	free(in);
	free(k);
	return rc;
}

static int apikeyd_list(rt_ctx *ctx, const apikeyd_list_keys_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key *v = NULL;
	size_t n = 0;
	int64_t total = 0;
	apikeyd_KeyList out = { 0 };
	int rc;

	(void)body;
	app_caller(ctx, &me);
	rc = keysvc_scope_check(a->ks, &me, KEYSVC_SCOPE_READ);
	if (rc == KEYSVC_FORBIDDEN) {
		apikeyd_ProblemDetail e = apikeyd_problem(403, "Forbidden", apikeyd_no_scope, "FORBIDDEN");
		return apikeyd_list_keys_respond_403(ctx, &e);
	}
	if (rc == KEYSVC_OK)
		rc = keysvc_list(a->ks, me.user_id, KEYSVC_APIKEYD, NULL, 0, p->skip, p->limit, &v, &n, &total);
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
	out.items = n ? rt_arena_alloc(rt_ctx_arena(ctx), n * sizeof *out.items) : NULL;
	if (n && !out.items) {
		free(v);
		return app_failed(ctx, KEYSVC_STORE);
	}
	out.n_items = n;
	out.total = total;
	for (size_t i = 0; i < n; i++)
		apikeyd_key_model(ctx, &v[i], &out.items[i]);
	rc = apikeyd_list_keys_respond_200(ctx, &out);
	free(v);
	return rc;
}

static int apikeyd_get(rt_ctx *ctx, const apikeyd_get_key_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key *k = calloc(1, sizeof *k);
	apikeyd_Key m;
	int rc;

	(void)body;
	app_caller(ctx, &me);
	rc = k ? keysvc_scope_check(a->ks, &me, KEYSVC_SCOPE_READ) : KEYSVC_STORE;
	if (rc == KEYSVC_OK)
		rc = apikeyd_find(a->ks, me.user_id, p->key_id, k);
	if (rc == KEYSVC_FORBIDDEN) {
		apikeyd_ProblemDetail e = apikeyd_problem(403, "Forbidden", apikeyd_no_scope, "FORBIDDEN");
		rc = apikeyd_get_key_respond_403(ctx, &e);
	} else if (rc == KEYSVC_NOT_FOUND) {
		apikeyd_ProblemDetail e = apikeyd_problem(404, "Not Found", "No such key belongs to the caller", "NOT_FOUND");
		rc = apikeyd_get_key_respond_404(ctx, &e);
	} else if (rc != KEYSVC_OK) {
		rc = app_failed(ctx, rc);
	} else {
		apikeyd_key_model(ctx, k, &m);
		rc = apikeyd_get_key_respond_200(ctx, &m);
	}
	free(k);
	return rc;
}

/* The members of a PATCH body as the key service's attributes and fields;
   why says what is wrong (422). */
static unsigned apikeyd_update_fields(keysvc *ks, const apikeyd_KeyUpdateRequest *b, keysvc_key *in, const char **why)
{
	unsigned f = 0;

	*why = NULL;
	if (b->has_name) {
		f |= STORE_SET_NAME;
		snprintf(in->name, sizeof in->name, "%.*s", (int)b->name_len, b->name);
	}
	if (b->has_owner) {
		f |= STORE_SET_OWNER;
		if (!b->owner_null && b->owner_len >= sizeof in->owner)
			*why = "owner: at most 64 characters";
		else if (!b->owner_null)
			snprintf(in->owner, sizeof in->owner, "%.*s", (int)b->owner_len, b->owner);
	}
	if (b->has_scopes) {
		f |= STORE_SET_SCOPES;
		if (apikeyd_join_scopes(b->scopes, b->n_scopes, in->scopes, sizeof in->scopes) != 0)
			*why = "scopes: too long together";
	}
	if (b->has_meta) {
		f |= STORE_SET_META;
		if (apikeyd_meta_text(b->meta, in->meta, sizeof in->meta) != 0)
			*why = "meta: at most 1024 bytes of compact JSON";
	}
	if (b->has_enabled) {
		f |= STORE_SET_ACTIVE;
		in->active = b->enabled;
	}
	if (b->has_expires_at) {
		f |= STORE_SET_EXPIRES;
		if (!b->expires_at_null && apikeyd_time_of(b->expires_at, b->expires_at_len, &in->expires_at) != 0)
			*why = "expires_at: not an RFC 3339 date-time after 1970";
	}
	if (b->has_remaining) {
		f |= STORE_SET_REMAINING;
		in->has_remaining = !b->remaining_null;
		in->remaining = b->remaining_null ? 0 : b->remaining;
	}
	if (b->has_ratelimit) {
		f |= STORE_SET_RATELIMIT;
		in->rl_limit = b->ratelimit_null ? 0 : b->ratelimit.limit;
		in->rl_window = b->ratelimit_null ? 0 : b->ratelimit.window;
	}
	(void)ks;
	return f;
}

static int apikeyd_update(rt_ctx *ctx, const apikeyd_update_key_params *p, const apikeyd_KeyUpdateRequest *body,
                          void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key *k = calloc(1, sizeof *k), *in = calloc(1, sizeof *in);
	const char *why = NULL;
	unsigned fields = 0;
	apikeyd_Key m;
	int rc;

	app_caller(ctx, &me);
	rc = k && in ? keysvc_scope_check(a->ks, &me, KEYSVC_SCOPE_WRITE) : KEYSVC_STORE;   /* 403 whatever the id */
	if (rc == KEYSVC_OK)
		rc = apikeyd_find(a->ks, me.user_id, p->key_id, k);
	if (rc == KEYSVC_OK) {
		fields = apikeyd_update_fields(a->ks, body, in, &why);
		if (why) {
			apikeyd_ProblemDetail e = apikeyd_problem(422, "Unprocessable Content", why, "INVALID");
			rc = apikeyd_update_key_respond_422(ctx, &e);
			goto cleanup;
		}
		rc = keysvc_key_update(a->ks, &me, k->id, in, fields, rt_ctx_client_addr(ctx));
	}
	if (rc == KEYSVC_OK)
		rc = apikeyd_find(a->ks, me.user_id, p->key_id, k);
	if (rc == KEYSVC_FORBIDDEN) {
		apikeyd_ProblemDetail e = apikeyd_problem(403, "Forbidden", "The caller's key lacks keys:write, or a keys: scope "
		                                          "the key would get", "FORBIDDEN");
		rc = apikeyd_update_key_respond_403(ctx, &e);
	} else if (rc == KEYSVC_NOT_FOUND) {
		apikeyd_ProblemDetail e = apikeyd_problem(404, "Not Found", "No such key belongs to the caller", "NOT_FOUND");
		rc = apikeyd_update_key_respond_404(ctx, &e);
	} else if (rc == KEYSVC_INVALID) {
		apikeyd_ProblemDetail e = apikeyd_problem(422, "Unprocessable Content",
		                                          "An attribute is out of bounds: a name or owner with control characters, "
		                                          "an unknown keys: scope, meta not an object", "INVALID");
		rc = apikeyd_update_key_respond_422(ctx, &e);
	} else if (rc != KEYSVC_OK) {
		rc = app_failed(ctx, rc);
	} else {
		apikeyd_key_model(ctx, k, &m);
		rc = apikeyd_update_key_respond_200(ctx, &m);
	}
cleanup:
	free(k);
	free(in);
	return rc;
}

static int apikeyd_delete(rt_ctx *ctx, const apikeyd_delete_key_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key *k = calloc(1, sizeof *k);
	int rc;

	(void)body;
	app_caller(ctx, &me);
	rc = k ? keysvc_scope_check(a->ks, &me, KEYSVC_SCOPE_WRITE) : KEYSVC_STORE;
	if (rc == KEYSVC_OK)
		rc = apikeyd_find(a->ks, me.user_id, p->key_id, k);
	if (rc == KEYSVC_OK)
		rc = keysvc_delete(a->ks, &me, k->id, rt_ctx_client_addr(ctx));
	free(k);
	if (rc == KEYSVC_FORBIDDEN) {
		apikeyd_ProblemDetail e = apikeyd_problem(403, "Forbidden", apikeyd_no_scope, "FORBIDDEN");
		return apikeyd_delete_key_respond_403(ctx, &e);
	}
	if (rc == KEYSVC_NOT_FOUND) {
		apikeyd_ProblemDetail e = apikeyd_problem(404, "Not Found", "No such key belongs to the caller", "NOT_FOUND");
		return apikeyd_delete_key_respond_404(ctx, &e);
	}
	if (rc != KEYSVC_OK)
		return app_failed(ctx, rc);
	return apikeyd_delete_key_respond_204(ctx);
}

static int apikeyd_rotate(rt_ctx *ctx, const apikeyd_rotate_key_params *p, const apikeyd_RotateRequest *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_key *k = calloc(1, sizeof *k), *nk = calloc(1, sizeof *nk);
	char token[TOKEN_MAX] = "";
	int rc;

	app_caller(ctx, &me);
	rc = k && nk ? keysvc_scope_check(a->ks, &me, KEYSVC_SCOPE_WRITE) : KEYSVC_STORE;
	if (rc == KEYSVC_OK)
		rc = apikeyd_find(a->ks, me.user_id, p->key_id, k);
	if (rc == KEYSVC_OK)
		rc = keysvc_key_rotate(a->ks, &me, k->id, body->grace_seconds, rt_ctx_client_addr(ctx), nk, token, sizeof token);
	if (rc == KEYSVC_FORBIDDEN) {
		apikeyd_ProblemDetail e = apikeyd_problem(403, "Forbidden", apikeyd_no_scope, "FORBIDDEN");
		rc = apikeyd_rotate_key_respond_403(ctx, &e);
	} else if (rc == KEYSVC_QUOTA) {
		apikeyd_ProblemDetail e = apikeyd_problem(403, "Forbidden", "The user holds as many keys as the key quota allows",
		                                          "QUOTA");
		rc = apikeyd_rotate_key_respond_403(ctx, &e);
	} else if (rc == KEYSVC_NOT_FOUND) {
		apikeyd_ProblemDetail e = apikeyd_problem(404, "Not Found", "No such key belongs to the caller", "NOT_FOUND");
		rc = apikeyd_rotate_key_respond_404(ctx, &e);
	} else if (rc != KEYSVC_OK) {
		rc = app_failed(ctx, rc);
	} else {
		rc = apikeyd_respond_created(ctx, nk, token, apikeyd_rotate_key_respond_201);
	}
	memset(token, 0, sizeof token);
	free(k);
	free(nk);
	return rc;
}

/* ---- verification ---- */

static int apikeyd_verify(rt_ctx *ctx, const apikeyd_verify_key_params *p, const apikeyd_VerifyRequest *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_verdict verdict, *v = &verdict;   /* 3 KiB: the stack, not malloc, on every check */
	char need[STORE_SCOPES_LEN], *token = NULL;
	apikeyd_VerifyResult out;
	apikeyd_RateLimitState rl;
	int rc;

	(void)p;
	app_caller(ctx, &me);
	if (!(token = rt_arena_strndup(rt_ctx_arena(ctx), body->key, body->key_len))) {
		rc = app_failed(ctx, KEYSVC_STORE);
		goto cleanup;
	}
	if (body->has_scopes && apikeyd_join_scopes(body->scopes, body->n_scopes, need, sizeof need) != 0) {
		apikeyd_ProblemDetail e = apikeyd_problem(422, "Unprocessable Content", "scopes: too long together", "INVALID");
		rc = apikeyd_verify_key_respond_422(ctx, &e);
		goto cleanup;
	}
	rc = keysvc_verify(a->ks, &me, token, body->has_scopes ? need : NULL, v);
	if (rc == KEYSVC_FORBIDDEN) {
		apikeyd_ProblemDetail e = apikeyd_problem(403, "Forbidden", "The caller's key lacks keys:verify", "FORBIDDEN");
		rc = apikeyd_verify_key_respond_403(ctx, &e);
		goto cleanup;
	}
	if (rc != KEYSVC_OK) {
		rc = app_failed(ctx, rc);
		goto cleanup;
	}
	memset(&out, 0, sizeof out);
	out.valid = v->code == KEYSVC_CODE_VALID;
	out.code = apikeyd_VerifyResult_code_from_text(keysvc_code_name(v->code), strlen(keysvc_code_name(v->code)));
	out.key_id_null = out.owner_null = out.name_null = out.expires_at_null = out.remaining_null = 1;
	if (v->code != KEYSVC_CODE_NOT_FOUND) {
		out.key_id = v->key.uuid;
		out.key_id_len = strlen(v->key.uuid);
		out.key_id_null = 0;
		out.owner = v->key.owner;
		out.owner_len = strlen(v->key.owner);
		out.owner_null = !v->key.owner[0];
		out.name = v->key.name;
		out.name_len = strlen(v->key.name);
		out.name_null = 0;
		out.scopes = apikeyd_split_scopes(ctx, v->key.scopes, &out.n_scopes);
		out.expires_at = app_time_text(ctx, v->key.expires_at, &out.expires_at_len);
		out.expires_at_null = out.expires_at == NULL;
		out.remaining = v->key.remaining;
		out.remaining_null = !v->key.has_remaining;
	}
	out.meta_json = apikeyd_meta(v->code != KEYSVC_CODE_NOT_FOUND ? v->key.meta : "");
	if (v->has_ratelimit && v->rl_reset > 0) {
		rl = (apikeyd_RateLimitState){ .limit = v->rl_limit, .remaining = v->rl_remaining, .reset = v->rl_reset };
		out.ratelimit = rl;
		out.has_ratelimit = 1;
	}
	rc = apikeyd_verify_key_respond_200(ctx, &out);
cleanup:
	return rc;
}

/* The client's key as the gateway forwarded it: x-api-key, or the token of
   Authorization: Bearer (NULL: none). */
static const char *apikeyd_client_key(rt_ctx *ctx, const char *where)
{
	const struct _u_request *req = rt_ctx_request(ctx);
	const char *k = NULL, *auth;

	if (strcmp(where, "bearer") != 0)
		k = u_map_get_case(req->map_header, "x-api-key");
	if (!k && strcmp(where, "x-api-key") != 0 && (auth = u_map_get_case(req->map_header, "Authorization")) &&
	    strncasecmp(auth, "Bearer ", 7) == 0) {
		k = auth + 7;
		while (*k == ' ')
			k++;
	}
	return k && *k ? k : NULL;
}

/* The gateway's scopes (space- or comma-separated) as one space-separated list. */
static int apikeyd_need(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = in; *p; p++) {
		char c = *p == ',' || *p == '\t' ? ' ' : *p;
		if (c == ' ' && (o == 0 || out[o - 1] == ' '))
			continue;
		if (o + 1 >= len)
			return -1;
		out[o++] = c;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return 0;
}

static int apikeyd_auth(rt_ctx *ctx, const apikeyd_auth_check_params *p, const json_t *body, void *appv)
{
	app *a = appv;
	keysvc_principal me;
	keysvc_verdict verdict, *v = &verdict;   /* 3 KiB: the stack, not malloc, on every check */
	char need[STORE_SCOPES_LEN];
	const char *token;
	int rc;

	need[0] = '\0';
	(void)body;
	app_caller(ctx, &me);
	if (p->has_X_Apikeyd_Scopes && apikeyd_need(p->X_Apikeyd_Scopes, need, sizeof need) != 0) {
		apikeyd_ProblemDetail e = apikeyd_problem(422, "Unprocessable Content", "X-Apikeyd-Scopes: too long", "INVALID");
		rc = apikeyd_auth_check_respond_422(ctx, &e);
		goto cleanup;
	}
	token = apikeyd_client_key(ctx, p->credential ? p->credential : "any");
	rc = keysvc_verify(a->ks, &me, token, need[0] ? need : NULL, v);
	if (rc == KEYSVC_FORBIDDEN) {
		apikeyd_ProblemDetail e = apikeyd_problem(403, "Forbidden", "The gateway's key (X-Apikeyd-Verifier) lacks keys:verify",
		                                          "FORBIDDEN");
		rc = apikeyd_auth_check_respond_403(ctx, &e, NULL);
		goto cleanup;
	}
	if (rc != KEYSVC_OK) {
		rc = app_failed(ctx, rc);
		goto cleanup;
	}
	switch (v->code) {
	case KEYSVC_CODE_VALID: {
		/* an empty value is left out (ulfius sends no header after one);
		   the builder sends X-Apikeyd-Code: VALID */
		apikeyd_auth_check_respond_200_headers h = {
			.x_apikeyd_key_id = v->key.uuid,
			.x_apikeyd_owner = v->key.owner[0] ? v->key.owner : NULL,
			.x_apikeyd_scopes = v->key.scopes[0] ? v->key.scopes : NULL,
		};
		rc = apikeyd_auth_check_respond_200(ctx, &h);
		break;
	}
	case KEYSVC_CODE_INSUFFICIENT_SCOPES: {
		apikeyd_ProblemDetail e = apikeyd_problem(403, "Forbidden", "The key lacks a scope this request needs",
		                                          keysvc_code_name(v->code));
		apikeyd_auth_check_respond_403_headers h = { .x_apikeyd_code = keysvc_code_name(v->code) };
		rc = apikeyd_auth_check_respond_403(ctx, &e, &h);
		break;
	}
	case KEYSVC_CODE_RATE_LIMITED: {
		apikeyd_ProblemDetail e = apikeyd_problem(429, "Too Many Requests", "The key is over its rate limit",
		                                          keysvc_code_name(v->code));
		apikeyd_auth_check_respond_429_headers h = { .retry_after = v->retry_after, .has_retry_after = 1,
		                                             .x_apikeyd_code = keysvc_code_name(v->code) };
		rc = apikeyd_auth_check_respond_429(ctx, &e, &h);
		break;
	}
	default: {
		apikeyd_ProblemDetail e = apikeyd_problem(401, "Unauthorized", token ? "The key is not valid now" : "No key",
		                                          keysvc_code_name(v->code));
		apikeyd_auth_check_respond_401_headers h = { .x_apikeyd_code = keysvc_code_name(v->code) };
		rc = apikeyd_auth_check_respond_401(ctx, &e, &h);
		break;
	}
	}
cleanup:
	return rc;
}

static const apikeyd_handlers apikeyd_table = {
	.create_key = apikeyd_create,
	.list_keys = apikeyd_list,
	.get_key = apikeyd_get,
	.update_key = apikeyd_update,
	.delete_key = apikeyd_delete,
	.rotate_key = apikeyd_rotate,
	.verify_key = apikeyd_verify,
	.auth_check = apikeyd_auth,
};

const apikeyd_handlers *apikeyd_handlers_get(void)
{
	return &apikeyd_table;
}

/* app.c — the authentication hook and helpers shared by the families. */
#include "app.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* src into dst (room bytes), cut to fit: snprintf's "%s" without its cost
   on every request. */
static void app_copy(char *dst, size_t room, const char *src)
{
	size_t n = strnlen(src, room - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

enum rt_auth_result app_authenticate(void *appv, const rt_auth_request *req, rt_principal *out, unsigned *retry_after)
{
	app *a = appv;
	keysvc_principal p;
	int rc;
	const keysvc_family_desc *fam = keysvc_family_of_api(req->api);
	int jwt_ok = fam && fam->accepts_jwt;
	enum rt_cred_kind kind = req->kind;
	const char *credential = req->credential, *client_addr = req->client_addr;

	if (kind != RT_CRED_APIKEY_HEADER && kind != RT_CRED_HTTP_BEARER)
		return RT_AUTH_REJECTED;
	/* GET /v1/auth: the gateway's client's key is the subject of the
	   check (handlers/apikeyd.c), not a caller; the gateway's key
	   (VerifierKey) is the caller */
	if (req->api && strcmp(req->api, "apikeyd") == 0 && req->scheme &&
	    (strcmp(req->scheme, "ClientKey") == 0 || strcmp(req->scheme, "ClientBearer") == 0))
		return RT_AUTH_OK;
	if (kind == RT_CRED_HTTP_BEARER && jwt_ok && keysvc_is_jwt(credential))
		rc = keysvc_authenticate_jwt(a->ks, credential, client_addr, &p, retry_after);
	else
		rc = keysvc_authenticate(a->ks, credential, client_addr, &p, retry_after);
	/* a key of the apikeyd family without keys: scopes (a key issued to a
	   customer, role "none") is no credential for the five key-management
	   APIs: it would read its issuer's keys there */
	if (rc == KEYSVC_OK && p.key_id != 0 && p.role_rights == KEYSVC_RIGHTS_NONE && fam &&
	    fam != keysvc_family(KEYSVC_APIKEYD))
		rc = KEYSVC_REJECTED;
	switch (rc) {
	case KEYSVC_OK:
		out->id = p.user_id;
		out->credential_id = p.key_id;
		app_copy(out->ref, sizeof out->ref, p.key_uuid);
		return RT_AUTH_OK;
	case KEYSVC_RATE_LIMITED:
		return RT_AUTH_RATE_LIMITED;
	case KEYSVC_UNAVAILABLE:
		*retry_after = APP_RETRY_AFTER;
		return RT_AUTH_UNAVAILABLE;
	case KEYSVC_STORE:
		return RT_AUTH_UNAVAILABLE;   /* unverifiable, not invalid: 503, never 401 */
	default:
		return RT_AUTH_REJECTED;
	}
}

size_t app_time_format(int64_t when, char out[APP_TIME_LEN + 1])
{
	int64_t days, y;
	unsigned secs, doe, yoe, doy, mp, d, m;
	unsigned v[6];

	if (when < 0 || when > INT64_C(253402300799))   /* 9999-12-31T23:59:59Z */
		return 0;
	days = when / 86400 + 719468;   /* from 0000-03-01 */
	secs = (unsigned)(when % 86400);
	doe = (unsigned)(days % 146097);                            /* day of the 400-year era */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;   /* its year */
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              /* day of that March-based year */
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = days / 146097 * 400 + yoe + (m <= 2);
	v[0] = (unsigned)y, v[1] = m, v[2] = d, v[3] = secs / 3600, v[4] = secs / 60 % 60, v[5] = secs % 60;
	out[0] = (char)('0' + v[0] / 1000);
	out[1] = (char)('0' + v[0] / 100 % 10);
	out[2] = (char)('0' + v[0] / 10 % 10);
	out[3] = (char)('0' + v[0] % 10);
	for (int i = 1; i < 6; i++) {
		out[3 * i + 1] = "--T::"[i - 1];
		out[3 * i + 2] = (char)('0' + v[i] / 10);
		out[3 * i + 3] = (char)('0' + v[i] % 10);
	}
	out[19] = 'Z';
	out[20] = '\0';
	return APP_TIME_LEN;
}

/* when as app_time_format writes it, or through gmtime_r for a year it
   does not (strftime's %Y gives five digits past 9999); out has 32 bytes */
static size_t app_time_write(int64_t when, char *out)
{
	time_t t = (time_t)when;
	struct tm tm;
	size_t n = app_time_format(when, out);

	if (n == 0) {
		if (!gmtime_r(&t, &tm))
			return 0;
		n = strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	return n;
}

json_t *app_time(int64_t when)
{
	char buf[32];
	size_t n;

	if (!when)
		return json_null();
	n = app_time_write(when, buf);
	return n ? json_stringn(buf, n) : json_null();
}

int64_t app_user(const rt_ctx *ctx)
{
	return rt_ctx_principal(ctx)->id;
}

void app_no_store(rt_ctx *ctx)
{
	rt_ctx_set_header(ctx, "Cache-Control", "no-store");
}

void app_uuid_lower(const char *in, char out[37])
{
	size_t i;

	for (i = 0; i < 36 && in[i]; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

const char *app_time_text(rt_ctx *ctx, int64_t when, size_t *len)
{
	char *buf;

	*len = 0;
	if (!when)
		return NULL;
	buf = rt_arena_alloc(rt_ctx_arena(ctx), 32);
	if (!buf)
		return NULL;
	*len = app_time_write(when, buf);
	return *len ? buf : NULL;
}

json_t *app_json_of(rt_json_writer *w)
{
	json_t *v = w->failed ? NULL : json_loadb(w->buf, w->used, JSON_DECODE_ANY, NULL);

	rt_json_writer_free(w);
	return v;
}

void app_caller(const rt_ctx *ctx, keysvc_principal *out)
{
	const rt_principal *p = rt_ctx_principal(ctx);

	memset(out, 0, sizeof *out);
	out->user_id = p->id;
	out->key_id = p->credential_id;
	app_copy(out->key_uuid, sizeof out->key_uuid, p->ref);
}

int app_unavailable(int rc)
{
	return rc == KEYSVC_UNAVAILABLE;
}

const char *app_failure_code(int rc)
{
	return rc == KEYSVC_UNAVAILABLE ? "StoreUnavailable" : rc == APP_NOMEM ? "OutOfMemory" : "StoreError";
}

const char *app_failure_message(int rc)
{
	return rc == APP_NOMEM ? "Out of memory" : keysvc_strerror(rc == KEYSVC_OK ? KEYSVC_STORE : rc);
}

static int app_test_clock(const struct _u_request *req, struct _u_response *res, void *data)
{
	app *a = data;
	const char *at = u_map_get(req->map_url, "at");
	const char *s = at ? at : u_map_get(req->map_url, "offset");
	char *end = NULL;
	long long off = s ? strtoll(s, &end, 10) : 0;
	json_t *body;

	if (!s || !*s || *end || off < -(1LL << 40) || off > (1LL << 40) || (at && off <= 0)) {
		body = json_pack("{ss}", "error", "at=UNIX_SECONDS (> 0) or offset=SECONDS");   /* new */
		ulfius_set_json_body_response(res, 400, body);
	} else {
		keysvc_clock_set(a->ks, at ? 0 : (int64_t)off, at ? (int64_t)off : 0);
		body = json_pack("{sIsI}", "offset", (json_int_t)off, "now", (json_int_t)keysvc_now(a->ks));   /* new */
		ulfius_set_json_body_response(res, 200, body);
	}
	json_decref(body);
	return U_CALLBACK_COMPLETE;
}

int app_register_test_clock(struct _u_instance *u, const char *base, void *a)
{
	return ulfius_add_endpoint_by_val(u, "POST", base, "/clock", 1, app_test_clock, a) == U_OK ? 0 : -1;
}

int app_failed(rt_ctx *ctx, int rc)
{
	char ra[16];

	if (rc == KEYSVC_UNAVAILABLE) {
		snprintf(ra, sizeof ra, "%u", APP_RETRY_AFTER);
		rt_ctx_set_header(ctx, "Retry-After", ra);
		return rt_respond_error(ctx, 503, "StoreUnavailable", keysvc_strerror(rc));
	}
	return rt_respond_error(ctx, 500, "StoreError", keysvc_strerror(rc == KEYSVC_OK ? KEYSVC_STORE : rc));
}

const char *app_arena_str(rt_ctx *ctx, const char *s, size_t *len)
{
	size_t n = s ? strlen(s) : 0;
	const char *copy = s ? rt_arena_strndup(rt_ctx_arena(ctx), s, n) : NULL;

	*len = copy ? n : 0;
	return copy;
}

void *app_grow(void *v, size_t *cap, size_t n, size_t size)
{
	size_t c;
	void *nv;

	if (n < *cap)
		return v;
	/* first 4: a list of a few keys stays under 1 KiB, which glibc serves
	   from its per-thread cache; 1 KiB or more (64 to start with, before)
	   makes malloc merge every freed small block first (malloc_consolidate),
	   once per request */
	c = *cap ? *cap * 2 : 4;
	nv = realloc(v, c * size);
	if (nv)
		*cap = c;
	return nv;
}

/* rt_guard.c — the request guard and the not-found answer every generated
 * server installs around its routes (see rt_guard.h). */
#include "rt_guard.h"
#include "rt_utf8.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define RT_GUARD_DEFAULT_MAX_BODY (64 * 1024)
#define RT_GUARD_DEFAULT_MAX_URL (8 * 1024)
#define RT_GUARD_DEFAULT_MAX_HEADERS (32 * 1024)

/* One installation: its configuration and the instance it serves. */
typedef struct rt_guard {
	rt_guard_config cfg;
	const struct _u_instance *u;
	struct rt_guard *next;
} rt_guard;

static pthread_mutex_t rt_guard_lock = PTHREAD_MUTEX_INITIALIZER;
static rt_guard *rt_guard_list;

int rt_guard_problem(void *app, const struct _u_request *req, struct _u_response *res, int status, const char *title,
                     const char *code, const char *detail)
{
	json_t *body = json_pack("{sssissss}", "type", "about:blank", "status", status, "title", title, "detail",
	                         detail); /* new */
	const char *rid = u_map_get_case(req->map_header, "X-Request-Id");

	(void)app;
	(void)code;
	/* the request's id, as rt_http_error adds it to the pipeline's problem details */
	if (rid && body)
		json_object_set_new(body, "request_id", json_string(rid));
	ulfius_set_json_body_response(res, (unsigned)status, body); /* copies */
	json_decref(body);
	u_map_put(res->map_header, "Content-Type", "application/problem+json");
	return U_CALLBACK_COMPLETE;
}

static int rt_guard_error(const rt_guard *g, const struct _u_request *req, struct _u_response *res, int status,
                          const char *title, const char *code, const char *detail)
{
	rt_guard_error_fn fn = g->cfg.error ? g->cfg.error : rt_guard_problem;

	return fn(g->cfg.app, req, res, status, title, code, detail);
}

/* The first name or value of m that is not UTF-8, described in buf; NULL
 * when all are; *bytes grows by the size of every name and value. */
static const char *rt_guard_bad_utf8_in_map(const struct _u_map *m, const char *what, char *buf, size_t len,
                                            size_t *bytes)
{
	if (m == NULL)
		return NULL;
	for (int i = 0; i < m->nb_values; i++) {
		const char *k = m->keys[i], *v = m->values[i];
		size_t kl = strlen(k), vl = v ? strlen(v) : 0;
		*bytes += kl + vl;
		if (!rt_utf8_valid(k, kl)) {
			snprintf(buf, len, "invalid UTF-8 in a %s name", what);
			return buf;
		}
		if (v != NULL && !rt_utf8_valid(v, vl)) {
			snprintf(buf, len, "invalid UTF-8 in the value of %s %s", what, k);
			return buf;
		}
	}
	return NULL;
}

/* "*" at priority 0: runs before every route. */
static int rt_guard_check(const struct _u_request *req, struct _u_response *res, void *data)
{
	const rt_guard *g = data;
	const char *url = req->http_url ? req->http_url : "";
	const char *q = strchr(url, '?');
	size_t path_len = q ? (size_t)(q - url) : strlen(url), url_len = strlen(url), header_bytes = 0, ignored = 0;
	size_t max_body = g->cfg.max_body ? g->cfg.max_body : RT_GUARD_DEFAULT_MAX_BODY;
	size_t max_url = g->cfg.max_url ? g->cfg.max_url : RT_GUARD_DEFAULT_MAX_URL;
	size_t max_headers = g->cfg.max_headers ? g->cfg.max_headers : RT_GUARD_DEFAULT_MAX_HEADERS;
	const char *cl;
	char why[300];

	if (g->cfg.before)
		g->cfg.before(g->cfg.app, req, res);
	if (url_len > max_url) {
		snprintf(why, sizeof why, "request target longer than %zu bytes", max_url);
		return rt_guard_error(g, req, res, 414, "URI Too Long", "UriTooLong", why);
	}
	if (!rt_utf8_valid_percent_decoded(url, path_len))
		return rt_guard_error(g, req, res, 400, "Bad Request", "BadRequest", "invalid UTF-8 in the URL path");
	if (q && !rt_utf8_valid_percent_decoded(q + 1, strlen(q + 1)))
		return rt_guard_error(g, req, res, 400, "Bad Request", "BadRequest", "invalid UTF-8 in the query string");
	if (rt_guard_bad_utf8_in_map(req->map_url, "query parameter", why, sizeof why, &ignored) ||
	    rt_guard_bad_utf8_in_map(req->map_header, "header", why, sizeof why, &header_bytes) ||
	    rt_guard_bad_utf8_in_map(req->map_cookie, "cookie", why, sizeof why, &ignored))
		return rt_guard_error(g, req, res, 400, "Bad Request", "BadRequest", why);
	if (header_bytes > max_headers) {
		snprintf(why, sizeof why, "request headers larger than %zu bytes", max_headers);
		return rt_guard_error(g, req, res, 431, "Request Header Fields Too Large", "HeadersTooLarge", why);
	}
	cl = u_map_get_case(req->map_header, "Content-Length");
	if ((cl != NULL && strtoull(cl, NULL, 10) > max_body) || req->binary_body_length > max_body) {
		snprintf(why, sizeof why, "request body larger than %zu bytes", max_body);
		return rt_guard_error(g, req, res, 413, "Content Too Large", "PayloadTooLarge", why);
	}
	return U_CALLBACK_CONTINUE;
}

/* Next path segment of *p ("" at the end); segments are split on '/' and
 * empty ones skipped, as ulfius matches routes. */
static size_t rt_guard_segment(const char **p, const char **seg)
{
	size_t n;

	while (**p == '/')
		(*p)++;
	*seg = *p;
	n = strcspn(*p, "/");
	*p += n;
	return n;
}

/* 1 when route prefix + format (":name" a parameter, "*" the rest) matches
 * path; a part of the format that begins with '?' is left out, as ulfius
 * leaves it out. */
static int rt_guard_route_matches(const char *prefix, const char *format, const char *path)
{
	const char *parts[2] = { prefix ? prefix : "", format ? format : "" }, *seg, *pseg;
	size_t n, pn;

	for (int i = 0; i < 2; i++) {
		const char *r = parts[i];
		while ((n = rt_guard_segment(&r, &seg)) > 0) {
			if (i == 1 && *seg == '?')
				continue;
			if (n == 1 && *seg == '*')
				return 1;
			pn = rt_guard_segment(&path, &pseg);
			if (pn == 0)
				return 0;
			if ((*seg == ':' || *seg == '@') && n > 1)
				continue;
			if (pn != n || strncmp(seg, pseg, n) != 0)
				return 0;
		}
	}
	return rt_guard_segment(&path, &pseg) == 0;
}

void rt_guard_allowed(const struct _u_instance *u, const char *path, char *allow, size_t len)
{
	size_t o = 0;

	allow[0] = '\0';
	for (int i = 0; path && i < u->nb_endpoints && o < len; i++) {
		const struct _u_endpoint *e = &u->endpoint_list[i];
		if (e->http_method == NULL || strcmp(e->http_method, "*") == 0 || strstr(allow, e->http_method) != NULL ||
		    !rt_guard_route_matches(e->url_prefix, e->url_format, path))
			continue;
		o += (size_t)snprintf(allow + o, len - o, "%s%s", o ? ", " : "", e->http_method);
	}
}

/* Whether allow ("GET, POST") lists method. */
static int rt_guard_has_method(const char *allow, const char *method)
{
	size_t n = method ? strlen(method) : 0;

	for (const char *a = allow; n && *a; a += strcspn(a, ",") + (a[strcspn(a, ",")] == ',')) {
		while (*a == ' ')
			a++;
		if (strncmp(a, method, n) == 0 && (a[n] == ',' || a[n] == '\0'))
			return 1;
	}
	return 0;
}

/* No route answered: 405 with Allow when the path exists for other methods
 * (as every vendor's framework answers), else 404. */
static int rt_guard_not_found(const struct _u_request *req, struct _u_response *res, void *data)
{
	const rt_guard *g = data;
	const struct _u_instance *u = g->cfg.scope ? g->cfg.scope(g->cfg.app, g->u, req->url_path) : NULL;
	char allow[128], msg[256];

	rt_guard_allowed(u ? u : g->u, req->url_path, allow, sizeof allow);
	if (allow[0] == '\0')
		return rt_guard_error(g, req, res, 404, "Not Found", "NotFound", "no such resource");
	if (rt_guard_has_method(allow, req->http_verb)) /* routes apart by query strings, none matched */
		return rt_guard_error(g, req, res, 404, "Not Found", "NotFound",
		                      "no operation of this path matches the request's query string");
	snprintf(msg, sizeof msg, "method %.20s is not allowed here; allowed: %s", req->http_verb, allow);
	u_map_put(res->map_header, "Allow", allow);
	return rt_guard_error(g, req, res, 405, "Method Not Allowed", "MethodNotAllowed", msg);
}

int rt_guard_install(struct _u_instance *u, const rt_guard_config *cfg)
{
	rt_guard *g = calloc(1, sizeof *g);

	if (!g)
		return -1;
	g->cfg = *cfg;
	g->u = u;
	pthread_mutex_lock(&rt_guard_lock);
	g->next = rt_guard_list;
	rt_guard_list = g;
	pthread_mutex_unlock(&rt_guard_lock);
	/* ulfius would drop a header or parameter that is not UTF-8 without a
	 * word: the guard refuses the request instead */
	u->check_utf8 = 0;
	/* every route one step after the guard, whatever priority it asked for */
	for (int i = 0; i < u->nb_endpoints; i++) {
		struct _u_endpoint *e = &u->endpoint_list[i];
		if (e->priority < UINT_MAX - 1)
			e->priority++;
	}
	if (ulfius_add_endpoint_by_val(u, "*", NULL, "*", 0, rt_guard_check, g) != U_OK ||
	    ulfius_add_endpoint_by_val(u, "*", NULL, "*", UINT_MAX, rt_guard_not_found, g) != U_OK ||
	    ulfius_set_default_endpoint(u, rt_guard_not_found, g) != U_OK)
		return -1;
	return 0;
}

void rt_guard_release_all(void)
{
	pthread_mutex_lock(&rt_guard_lock);
	while (rt_guard_list) {
		rt_guard *n = rt_guard_list->next;
		free(rt_guard_list);
		rt_guard_list = n;
	}
	pthread_mutex_unlock(&rt_guard_lock);
}

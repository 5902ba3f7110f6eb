/* rt_http.c — registration, dispatch and responses of generated APIs. */
#include "rt_http.h"
#include "rt_parse.h"
#include "rt_json.h"
#include "rt_arena.h"
#include "rt_guard.h"
#include "rt_items.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <yder.h>

#define RT_DEFAULT_MAX_BODY (64 * 1024)

/* One mounted API: what every route of it shares. */
typedef struct rt_mount {
	const rt_api *api;
	const void *handlers;
	rt_api_config cfg;
	char *base;
} rt_mount;

typedef struct rt_route {
	const rt_mount *mount;
	const rt_operation *op;
} rt_route;

struct rt_ctx {
	const struct _u_request *req;
	struct _u_response *resp;
	const rt_mount *mount;
	const rt_operation *op;
	rt_principal principal;
	char client_addr[64];
	json_t *keep;          /* values the params struct points into */
	rt_arena arena;        /* the request's: typed bodies (models) live in it */
	void *body_model;      /* the body parsed by op->body_model_parse, in the arena */
	int responded;
	int status;
};

/* Everything registrations allocated, released by rt_api_release_all. */
static pthread_mutex_t rt_http_lock = PTHREAD_MUTEX_INITIALIZER;
static void **rt_http_allocs;
static size_t rt_http_nallocs, rt_http_capallocs;

static void *rt_http_track(void *p)
{
	if (!p)
		return NULL;
	pthread_mutex_lock(&rt_http_lock);
	if (rt_http_nallocs == rt_http_capallocs) {
		size_t cap = rt_http_capallocs ? rt_http_capallocs * 2 : 64;
		void **v = realloc(rt_http_allocs, cap * sizeof *v);
		if (!v) {
			pthread_mutex_unlock(&rt_http_lock);
			free(p);
			return NULL;
		}
		rt_http_allocs = v;
		rt_http_capallocs = cap;
	}
	rt_http_allocs[rt_http_nallocs++] = p;
	pthread_mutex_unlock(&rt_http_lock);
	return p;
}

/* The distinct APIs registered, for rt_api_registered (metrics label sets). */
#define RT_HTTP_MAX_APIS 64
static const rt_api *rt_http_apis[RT_HTTP_MAX_APIS];
static size_t rt_http_napis;

static void rt_http_note_api(const rt_api *api)
{
	size_t i = 0;

	pthread_mutex_lock(&rt_http_lock);
	while (i < rt_http_napis && rt_http_apis[i] != api)
		i++;
	if (i == rt_http_napis && i < RT_HTTP_MAX_APIS)
		rt_http_apis[rt_http_napis++] = api;
	pthread_mutex_unlock(&rt_http_lock);
}

size_t rt_api_registered(const rt_api **apis, size_t max)
{
	size_t n;
	pthread_mutex_lock(&rt_http_lock);
	n = rt_http_napis;
	for (size_t i = 0; i < n && i < max; i++)
		apis[i] = rt_http_apis[i];
	pthread_mutex_unlock(&rt_http_lock);
	return n;
}

void rt_api_release_all(void)
{
	pthread_mutex_lock(&rt_http_lock);
	for (size_t i = 0; i < rt_http_nallocs; i++)
		free(rt_http_allocs[i]);
	free(rt_http_allocs);
	rt_http_allocs = NULL;
	rt_http_nallocs = rt_http_capallocs = 0;
	pthread_mutex_unlock(&rt_http_lock);
	rt_guard_release_all();
}

/* ---- accessors ---- */

const rt_principal *rt_ctx_principal(const rt_ctx *c) { return &c->principal; }
const char *rt_ctx_client_addr(const rt_ctx *c) { return c->client_addr; }
const rt_operation *rt_ctx_operation(const rt_ctx *c) { return c->op; }
const char *rt_ctx_api(const rt_ctx *c) { return c->mount->api->name; }
const rt_api *rt_ctx_api_def(const rt_ctx *c) { return c->mount->api; }
const char *rt_ctx_base(const rt_ctx *c) { return c->mount->base; }
const struct _u_request *rt_ctx_request(const rt_ctx *c) { return c->req; }
const rt_api_config *rt_ctx_config(const rt_ctx *c) { return &c->mount->cfg; }

void rt_ctx_set_principal(rt_ctx *c, const rt_principal *p)
{
	c->principal = *p;
}

json_t *rt_ctx_keep(rt_ctx *c, json_t *value)
{
	if (!value)
		return NULL;
	if (!c->keep)
		c->keep = json_array();
	json_array_append_new(c->keep, value);
	return value;
}

int rt_ctx_set_header(rt_ctx *c, const char *name, const char *value)
{
	return u_map_put(c->resp->map_header, name, value) == U_OK ? 0 : -1;
}

/* ---- errors ---- */

static const char *rt_http_title(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	default: return status >= 500 ? "Server Error" : "Client Error";
	}
}

json_t *rt_error_shape_problem(int status, const char *code, const char *message,
                               const rt_errors *errors, const char **content_type)
{
	json_t *p = json_pack("{s:s,s:s,s:i,s:s}", "type", "about:blank", "title", rt_http_title(status),
	                      "status", status, "detail", message ? message : rt_http_title(status));

	(void)code;
	if (p && errors && errors->n)
		json_object_set_new(p, "errors", rt_errors_to_json(errors));
	*content_type = "application/problem+json";
	return p;
}

static void rt_http_send(rt_ctx *c, int status, json_t *body, const char *content_type)
{
	if (body) {
		/* rt_json_dumpb into the stack (or one exact allocation when the body
		   is larger); json_dumps when it refuses (deeper than it goes) */
		char stack[4096], *text = stack;
		size_t len = rt_json_dumpb(body, stack, sizeof stack);
		if (len > sizeof stack) {
			text = malloc(len);
			if (text && rt_json_dumpb(body, text, len) != len) {
				free(text);
				text = NULL;
			}
		} else if (len == 0) {
			text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
			len = text ? strlen(text) : 0;
		}
		if (text) {
			ulfius_set_binary_body_response(c->resp, (unsigned)status, text, len);
			if (text != stack)
				free(text);
		} else {
			ulfius_set_empty_body_response(c->resp, 500);
			status = 500;
		}
		u_map_put(c->resp->map_header, "Content-Type", content_type ? content_type : "application/json");
	} else {
		ulfius_set_empty_body_response(c->resp, (unsigned)status);
	}
	c->responded = 1;
	c->status = status;
}

/* An error produced by the pipeline itself, in the API's shape. */
static int rt_http_error(rt_ctx *c, int status, const char *code, const char *message, const rt_errors *errs)
{
	const char *ctype = "application/json";
	rt_error_shape_fn shape = c->mount->cfg.error_shape ? c->mount->cfg.error_shape : rt_error_shape_problem;
	json_t *body = shape(status, code, message, errs, &ctype);
	const char *rid = u_map_get_case(c->req->map_header, "X-Request-Id");

	/* problem details have room for extension members (RFC 9457 §3.2): the
	   request's id, as the server (or the client) set X-Request-Id */
	if (rid && json_is_object(body) && ctype && strcmp(ctype, "application/problem+json") == 0)
		json_object_set_new(body, "request_id", json_string(rid));
	rt_http_send(c, status, body, ctype);
	json_decref(body);
	return 0;
}

int rt_respond_error(rt_ctx *c, int status, const char *code, const char *message)
{
	return rt_http_error(c, status, code, message, NULL);
}

int rt_not_implemented(rt_ctx *c)
{
	return rt_http_error(c, 501, "NotImplemented", "This operation has no handler", NULL);
}

static int rt_http_media_matches(const char *want, const char *got, size_t gotlen);

static const rt_response *rt_http_find_response(const rt_operation *op, int status)
{
	const rt_response *range = NULL, *def = NULL;

	for (size_t i = 0; i < op->n_responses; i++) {
		const rt_response *r = &op->responses[i];
		if (r->status == status)
			return r;
		if (r->status >= 1 && r->status <= 5 && r->status == status / 100)
			range = r;
		if (r->status == 0)
			def = r;
	}
	return range ? range : def;
}

/* With validate_responses: every way the response (body: the value the
 * handler gave, or what its text reads as; has_body: whether one is sent)
 * breaks the spec, answered as a 500 naming the first; 0 when none. */
static int rt_http_check_response(rt_ctx *c, const rt_response *r, int status, const json_t *body, int has_body)
{
	rt_errors errs;
	char msg[512];

	if (!c->mount->cfg.validate_responses)
		return 0;
	rt_errors_init(&errs);
	if (r->schema && !has_body)
		rt_errors_add(&errs, "", "body", "response %d needs a body by the spec, and has none", status);
	else if (!r->content_type && has_body)
		rt_errors_add(&errs, "", "body", "response %d has no body in the spec, but one was sent", status);
	else if (r->schema && !body)
		rt_errors_add(&errs, "", "json", "the body the model was written to does not read back as JSON");
	else if (r->schema && rt_items_is_sequential(r->content_type))
		rt_items_validate(r->schema, body, RT_DIR_RESPONSE, &errs); /* body: the items read back */
	else if (r->schema)
		rt_schema_validate(r->schema, body, RT_DIR_RESPONSE, &errs);
	if (!errs.n) {
		rt_errors_free(&errs);
		return 0;
	}
	snprintf(msg, sizeof msg, "response %d of %s violates the spec: %s: %s", status, c->op->operation_id,
	         errs.v[0].pointer, errs.v[0].message);
	y_log_message(Y_LOG_LEVEL_ERROR, "%s", msg);
	rt_http_error(c, 500, "ResponseValidation", msg, &errs);
	rt_errors_free(&errs);
	return -1;
}

/* The documented response for status, or NULL once an error was answered. */
static const rt_response *rt_http_response_for(rt_ctx *c, int status)
{
	const rt_response *r = rt_http_find_response(c->op, status);

	if (c->responded) {
		y_log_message(Y_LOG_LEVEL_ERROR, "%s %s: the handler responded twice", c->op->method, c->op->path);
		return NULL;
	}
	if (!r) {
		y_log_message(Y_LOG_LEVEL_ERROR, "%s %s: status %d is not in the spec", c->op->method, c->op->path, status);
		rt_http_error(c, 500, "UndocumentedStatus", "The server tried to answer with an undocumented status", NULL);
	}
	return r;
}

int rt_respond(rt_ctx *c, int status, json_t *body)
{
	const rt_response *r = rt_http_response_for(c, status);
	int rc = -1;

	if (r && rt_http_check_response(c, r, status, body, body != NULL) == 0) {
		rt_http_send(c, status, body, r->content_type);
		rc = 0;
	}
	json_decref(body);
	return rc;
}

int rt_respond_writer(rt_ctx *c, int status, const rt_json_writer *w)
{
	const rt_response *r = rt_http_response_for(c, status);
	json_t *doc = NULL;
	int rc = -1;

	if (!r)
		return -1;
	if (w && w->failed) {
		y_log_message(Y_LOG_LEVEL_ERROR, "%s %s: the response body could not be written (invalid UTF-8, a NaN "
		              "or infinity, or out of memory)", c->op->method, c->op->path);
		rt_http_error(c, 500, "ResponseBody", "The response body could not be written", NULL);
		return -1;
	}
	/* validation reads the very bytes that are sent */
	if (w && c->mount->cfg.validate_responses)
		doc = json_loadb(w->buf, w->used, JSON_DECODE_ANY, NULL);
	if (rt_http_check_response(c, r, status, doc, w != NULL) == 0) {
		if (w) {
			ulfius_set_binary_body_response(c->resp, (unsigned)status, w->buf, w->used);
			u_map_put(c->resp->map_header, "Content-Type", r->content_type ? r->content_type : "application/json");
		} else {
			ulfius_set_empty_body_response(c->resp, (unsigned)status);
		}
		c->responded = 1;
		c->status = status;
		rc = 0;
	}
	json_decref(doc);
	return rc;
}

int rt_respond_items(rt_ctx *c, int status, json_t *items)
{
	const rt_response *r = rt_http_response_for(c, status);
	json_t *back = NULL;
	rt_json_writer w;
	rt_errors errs;
	char msg[400];
	int rc = -1;

	rt_json_writer_init(&w);
	rt_errors_init(&errs);
	if (!r)
		goto cleanup;
	if (!items) {
		rc = rt_respond(c, status, NULL);
		goto cleanup;
	}
	if (rt_items_write(r->content_type, items, &w, &errs) > 0 || w.failed) {
		snprintf(msg, sizeof msg, "The response items could not be written: %s%s%s", errs.n ? errs.v[0].pointer : "",
		         errs.n ? ": " : "", errs.n ? errs.v[0].message : "out of memory");
		y_log_message(Y_LOG_LEVEL_ERROR, "%s %s: %s", c->op->method, c->op->path, msg);
		rt_http_error(c, 500, "ResponseBody", msg, &errs);
		goto cleanup;
	}
	/* validation reads the very bytes that are sent, item by item */
	if (c->mount->cfg.validate_responses && rt_items_read(r->content_type, w.buf, w.used, &back, &errs) > 0) {
		json_decref(back);
		back = NULL;
	}
	if (rt_http_check_response(c, r, status, back, 1) == 0) {
		ulfius_set_binary_body_response(c->resp, (unsigned)status, w.buf, w.used);
		u_map_put(c->resp->map_header, "Content-Type", r->content_type);
		c->responded = 1;
		c->status = status;
		rc = 0;
	}
cleanup:
	rt_errors_free(&errs);
	rt_json_writer_free(&w);
	json_decref(back);
	json_decref(items);
	return rc;
}

/* ---- typed response headers ---- */

static int rt_http_header_error(rt_ctx *c, const char *name, const char *what)
{
	char msg[200];

	snprintf(msg, sizeof msg, "response header %s %s", name, what);
	y_log_message(Y_LOG_LEVEL_ERROR, "%s %s: %s", c->op->method, c->op->path, msg);
	if (!c->responded)
		rt_http_error(c, 500, "ResponseHeader", msg, NULL);
	return -1;
}

int rt_respond_header(rt_ctx *c, const char *name, const char *value)
{
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return rt_http_header_error(c, name, "has a control character in its value");
	if (c->responded)
		return rt_http_header_error(c, name, "set after the response");
	return rt_ctx_set_header(c, name, value) == 0 ? 0 : rt_http_header_error(c, name, "could not be set");
}

int rt_respond_header_int(rt_ctx *c, const char *name, int64_t value)
{
	char text[24];

	snprintf(text, sizeof text, "%" PRId64, value);
	return rt_respond_header(c, name, text);
}

int rt_respond_header_real(rt_ctx *c, const char *name, double value)
{
	char text[40];
	size_t n = rt_json_format_real(value, text, sizeof text - 1);

	if (n == 0)
		return rt_http_header_error(c, name, "is not a finite number");
	text[n] = '\0';
	return rt_respond_header(c, name, text);
}

int rt_respond_header_bool(rt_ctx *c, const char *name, int value)
{
	return rt_respond_header(c, name, value ? "true" : "false");
}

int rt_respond_missing_header(rt_ctx *c, const char *name)
{
	return rt_http_header_error(c, name, "is required by the spec, and the handler gave none");
}

rt_arena *rt_ctx_arena(rt_ctx *c)
{
	return &c->arena;
}

int rt_api_check_response(const rt_api *api, const char *operation_id, int status,
                          const char *content_type, const char *body, size_t body_len, rt_errors *errs)
{
	const rt_operation *op = NULL;
	const rt_response *r;
	json_t *doc = NULL;
	json_error_t jerr;
	char err[300];
	size_t mtlen;
	int before = (int)errs->n, seq;

	for (size_t i = 0; i < api->n_ops && !op; i++)
		if (api->ops[i].operation_id && strcmp(api->ops[i].operation_id, operation_id) == 0)
			op = &api->ops[i];
	if (!op) {
		rt_errors_add(errs, "", "operation", "%s has no operation \"%s\"", api->name, operation_id);
		return -1;
	}
	for (size_t i = 0; api->caches && api->caches[i]; i++) {
		if (rt_schema_prepare(api->caches[i], err, sizeof err) != 0) {
			rt_errors_add(errs, "", "schema", "%s", err);
			goto cleanup;
		}
	}
	r = rt_http_find_response(op, status);
	if (!r) {
		rt_errors_add(errs, "", "status", "status %d is not documented for %s", status, operation_id);
		goto cleanup;
	}
	if (!body)
		body_len = 0;
	seq = r->content_type && rt_items_is_sequential(r->content_type);
	if (r->content_type && body_len == 0 && !seq) { /* a stream of no items is empty */
		rt_errors_add(errs, "", "body", "response %d needs a body (%s) by the spec, and has none", status, r->content_type);
		goto cleanup;
	}
	if (!r->content_type) {
		if (body_len)
			rt_errors_add(errs, "", "body", "response %d has no body in the spec, but %zu bytes were sent", status, body_len);
		goto cleanup;
	}
	mtlen = content_type ? strcspn(content_type, ";") : 0;
	while (mtlen > 0 && (content_type[mtlen - 1] == ' ' || content_type[mtlen - 1] == '\t'))
		mtlen--;
	if (!content_type || !rt_http_media_matches(r->content_type, content_type, mtlen)) {
		rt_errors_add(errs, "", "content-type", "response %d has Content-Type %.*s, the spec gives %s", status,
		              content_type ? (int)(mtlen > 100 ? 100 : mtlen) : 6, content_type ? content_type : "(none)", r->content_type);
		goto cleanup;
	}
	if (!r->schema)
		goto cleanup;
	if (seq) {
		/* each item of the stream against the item schema (OpenAPI 3.2) */
		if (rt_items_read(r->content_type, body, body_len, &doc, errs) >= 0 && doc)
			rt_items_validate(r->schema, doc, RT_DIR_RESPONSE, errs);
		goto cleanup;
	}
	doc = json_loadb(body, body_len, JSON_DECODE_ANY, &jerr);
	if (!doc) {
		rt_errors_add(errs, "", "json", "response %d is not valid JSON: line %d, column %d: %s", status, jerr.line,
		              jerr.column, jerr.text);
		goto cleanup;
	}
	rt_schema_validate(r->schema, doc, RT_DIR_RESPONSE, errs);
cleanup:
	json_decref(doc);
	return (int)errs->n - before;
}

/* ---- body ---- */

static int rt_http_media_matches(const char *want, const char *got, size_t gotlen)
{
	size_t wl = strlen(want);

	if (strcmp(want, "*/*") == 0)
		return 1;
	if (wl >= 2 && strcmp(want + wl - 2, "/*") == 0)
		return gotlen >= wl - 1 && strncasecmp(want, got, wl - 1) == 0;
	return gotlen == wl && strncasecmp(want, got, wl) == 0;
}

static int rt_http_is_json(const char *mt, size_t len)
{
	return (len == 16 && strncasecmp(mt, "application/json", 16) == 0) ||
	       (len > 5 && strncasecmp(mt + len - 5, "+json", 5) == 0);
}

/* Returns 0 with *body set (new or NULL), or the status already answered. */
/* The request body through the operation's generated byte parser: the
 * same answers as json_loadb + rt_schema_validate below (syntax errors with
 * line and column, every violation), without walking the table. */
static int rt_http_body_parse(rt_ctx *c, size_t len, json_t **body)
{
	const rt_operation *op = c->op;
	rt_errors errs;
	char msg[600];
	json_t *doc = NULL;
	int rc;

	rt_errors_init(&errs);
	if (op->body_model_parse) {
		json_t *keep = NULL;
		void *m = rt_arena_alloc(&c->arena, op->body_model_size ? op->body_model_size : 1);
		rc = m ? op->body_model_parse(c->req->binary_body, len, &c->arena, RT_PARSE_DEFAULTS, m, &keep, &errs)
		       : RT_PARSE_NOMEM;
		if (rc == RT_PARSE_OK) {
			rt_errors_free(&errs);
			c->body_model = m;
			if (keep && c->keep)
				json_array_extend(c->keep, keep);
			else if (keep && !c->keep)
				c->keep = json_incref(keep);
			json_decref(keep);
			return 0;
		}
	} else {
		rc = op->body_parse(c->req->binary_body, len, &c->arena, RT_DIR_REQUEST, RT_PARSE_DEFAULTS, &doc, &errs);
	}
	if (rc == RT_PARSE_OK) {
		rt_errors_free(&errs);
		*body = doc;
		return 0;
	}
	if (rc == RT_PARSE_SYNTAX) {
		snprintf(msg, sizeof msg, "The request body is not valid JSON: %s", errs.n ? errs.v[0].message : "");
		rt_http_error(c, 400, "InvalidJson", msg, &errs);
		rc = 400;
	} else if (rc == RT_PARSE_INVALID && errs.n) {
		snprintf(msg, sizeof msg, "The request body does not match the schema: %s%s%s%s", errs.v[0].pointer,
		         errs.v[0].pointer[0] ? ": " : "", errs.v[0].message, errs.n > 1 ? " (and more, see errors)" : "");
		rt_http_error(c, op->validation_status, "ValidationError", msg, &errs);
		rc = op->validation_status;
	} else {
		rt_http_error(c, 500, "OutOfMemory", "Out of memory", NULL);
		rc = 500;
	}
	rt_errors_free(&errs);
	return rc;
}

const void *rt_ctx_body_model(const rt_ctx *c)
{
	return c->body_model;
}

/* A body of a sequential media type whose items op->item_schema describes
 * (OpenAPI 3.2; rt_items.h): every item read and validated; *body is their
 * array. Returns 0, or the status answered. */
static int rt_http_items(rt_ctx *c, json_t **body)
{
	const rt_operation *op = c->op;
	json_t *items = NULL;
	rt_errors errs;
	char msg[400];

	rt_errors_init(&errs);
	rt_items_read(op->item_type, c->req->binary_body, c->req->binary_body_length, &items, &errs);
	if (items)
		rt_items_validate(op->item_schema, items, RT_DIR_REQUEST, &errs);
	if (!items || errs.n) {
		snprintf(msg, sizeof msg, "The request body's items do not match the item schema: %s%s%s%s",
		         errs.n ? errs.v[0].pointer : "", errs.n ? ": " : "", errs.n ? errs.v[0].message : "out of memory",
		         errs.n > 1 ? " (and more, see errors)" : "");
		rt_http_error(c, op->validation_status, "ValidationError", msg, &errs);
		rt_errors_free(&errs);
		json_decref(items);
		return op->validation_status;
	}
	rt_errors_free(&errs);
	*body = items;
	return 0;
}

static int rt_http_body(rt_ctx *c, json_t **body)
{
	const rt_operation *op = c->op;
	const struct _u_request *req = c->req;
	size_t max = c->mount->cfg.max_body ? c->mount->cfg.max_body : RT_DEFAULT_MAX_BODY;
	const char *ct = u_map_get_case(req->map_header, "Content-Type");
	size_t len = req->binary_body_length;
	size_t mtlen;
	int matched = 0, is_json, is_form;
	const rt_schema *schema;
	json_error_t jerr;
	json_t *doc;
	rt_errors errs;
	char msg[400];

	*body = NULL;
	if (!op->body_types)
		return 0;
	if (len > max) {
		snprintf(msg, sizeof msg, "The request body has %zu bytes; at most %zu are accepted", len, max);
		rt_http_error(c, 413, "PayloadTooLarge", msg, NULL);
		return 413;
	}
	if (len == 0 && !ct) {
		if (!op->body_required)
			return 0;
		rt_http_error(c, op->validation_status, "MissingBody", "A request body is required", NULL);
		return op->validation_status;
	}
	if (!ct) {
		snprintf(msg, sizeof msg, "The request has a body but no Content-Type header; send Content-Type: %s",
		         op->body_types[0]);
		rt_http_error(c, 415, "UnsupportedMediaType", msg, NULL);
		return 415;
	}
	mtlen = strcspn(ct, ";");
	while (mtlen > 0 && (ct[mtlen - 1] == ' ' || ct[mtlen - 1] == '\t'))
		mtlen--;
	for (size_t i = 0; op->body_types[i]; i++)
		if (rt_http_media_matches(op->body_types[i], ct, mtlen))
			matched = 1;
	if (!matched) {
		snprintf(msg, sizeof msg, "Content-Type \"%.*s\" is not accepted; send %s", (int)(mtlen > 100 ? 100 : mtlen), ct,
		         op->body_types[0]);
		rt_http_error(c, 415, "UnsupportedMediaType", msg, NULL);
		return 415;
	}
	if (op->item_schema && rt_http_media_matches(op->item_type, ct, mtlen))
		return rt_http_items(c, body);
	is_json = rt_http_is_json(ct, mtlen);
	is_form = op->form_schema && mtlen == 33 && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
	if (!is_json && !is_form)
		return 0; /* accepted as raw bytes; the handler reads them */
	if (len == 0) {
		if (!op->body_required)
			return 0;
		rt_http_error(c, op->validation_status, "MissingBody", "A request body is required", NULL);
		return op->validation_status;
	}
	if (is_form) {
		/* the fields ulfius decoded, typed per the schema's properties */
		rt_errors_init(&errs);
		doc = rt_params_form_body(req->map_post_body, op->form_schema, &errs);
		if (!doc) {
			snprintf(msg, sizeof msg, "The form body does not match the schema: %s%s%s", errs.n ? errs.v[0].pointer : "",
			         errs.n && errs.v[0].pointer[0] ? ": " : "", errs.n ? errs.v[0].message : "out of memory");
			rt_http_error(c, op->validation_status, "ValidationError", msg, &errs);
			rt_errors_free(&errs);
			return op->validation_status;
		}
		rt_errors_free(&errs);
		schema = op->form_schema;
		goto validate;
	}
	schema = op->body_schema;
	if (op->body_parse)
		return rt_http_body_parse(c, len, body);
	doc = json_loadb(req->binary_body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!doc) {
		rt_errors_init(&errs);
		rt_errors_add(&errs, "", "json", "%s", jerr.text);
		snprintf(msg, sizeof msg, "The request body is not valid JSON: line %d, column %d: %s", jerr.line,
		         jerr.column, jerr.text);
		rt_http_error(c, 400, "InvalidJson", msg, &errs);
		rt_errors_free(&errs);
		return 400;
	}
validate:
	if (schema) {
		rt_schema_apply_defaults(schema, doc);
		rt_errors_init(&errs);
		if (rt_schema_validate(schema, doc, RT_DIR_REQUEST, &errs) > 0) {
			snprintf(msg, sizeof msg, "The request body does not match the schema: %s%s%s%s", errs.v[0].pointer,
			         errs.v[0].pointer[0] ? ": " : "", errs.v[0].message,
			         errs.n > 1 ? " (and more, see errors)" : "");
			rt_http_error(c, op->validation_status, "ValidationError", msg, &errs);
			rt_errors_free(&errs);
			json_decref(doc);
			return op->validation_status;
		}
		rt_errors_free(&errs);
	}
	*body = doc;
	return 0;
}

/* ---- dispatch ---- */

int rt_addr_text(const struct sockaddr *sa, char *out, size_t len)
{
	if (!sa || len == 0)
		return -1;
	if (sa->sa_family == AF_INET) {
		/* dotted quad by hand: inet_ntop goes through sprintf, a visible
		   share of a request formatted twice (here and the access log) */
		const unsigned char *b = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
		char t[16], *p = t;
		for (int i = 0; i < 4; i++) {
			unsigned v = b[i];
			if (v >= 100)
				*p++ = (char)('0' + v / 100);
			if (v >= 10)
				*p++ = (char)('0' + v / 10 % 10);
			*p++ = (char)('0' + v % 10);
			*p++ = i < 3 ? '.' : '\0';
		}
		if ((size_t)(p - t) > len)
			return -1;
		memcpy(out, t, (size_t)(p - t));
		return 0;
	}
	if (sa->sa_family == AF_INET6)
		return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)len) ? 0 : -1;
	return -1;
}

static void rt_http_client_addr(const struct _u_request *req, char *out, size_t len)
{
	if (rt_addr_text(req->client_address, out, len) != 0)
		snprintf(out, len, "unknown");
}

static int rt_http_dispatch(const struct _u_request *req, struct _u_response *resp, void *user_data)
{
	const rt_route *route = user_data;
	rt_ctx c = { .req = req, .resp = resp, .mount = route->mount, .op = route->op };
	_Alignas(max_align_t) char arena_first[2048];
	const rt_operation *op = route->op;
	void *params = NULL;
	json_t *body = NULL;
	rt_errors errs;
	const char *why = NULL;
	unsigned retry = 0;
	int st;

	/* path keys that share a route apart by their query strings
	 * (/rest?method=a, /rest?method=b): the next one's turn */
	if (op->shares_route && !rt_params_query_matches(op, req))
		return U_CALLBACK_IGNORE;
	rt_arena_init(&c.arena, arena_first, sizeof arena_first);
	rt_errors_init(&errs);
	rt_http_client_addr(req, c.client_addr, sizeof c.client_addr);

	st = rt_security_check(&c, op, &why, &retry);
	if (st) {
		if ((st == 429 || st == 503) && retry) {
			char ra[16];
			snprintf(ra, sizeof ra, "%u", retry);
			rt_ctx_set_header(&c, "Retry-After", ra);
		}
		if (st == 401)
			for (size_t i = 0; i < op->n_security; i++)
				for (size_t k = 0; k < op->security[i].n; k++)
					if (op->security[i].v[k].kind == RT_CRED_HTTP_BEARER)
						rt_ctx_set_header(&c, "WWW-Authenticate", "Bearer");
		rt_http_error(&c, st, st == 429 ? "TooManyRequests" : st == 401 ? "Unauthorized" : st == 403 ? "Forbidden"
		                  : st == 503 ? "ServiceUnavailable" : "AuthError", why, NULL);
		goto cleanup;
	}
	params = calloc(1, op->params_size ? op->params_size : 1);
	if (!params) {
		rt_http_error(&c, 500, "OutOfMemory", "Out of memory", NULL);
		goto cleanup;
	}
	if (rt_params_parse(&c, op, params, &errs) != 0) {
		char msg[400];
		snprintf(msg, sizeof msg, "Invalid parameter: %s", errs.n ? errs.v[0].message : "unknown error");
		rt_http_error(&c, op->validation_status, "InvalidParameter", msg, &errs);
		goto cleanup;
	}
	if (rt_http_body(&c, &body) != 0)
		goto cleanup;
	op->call(&c, params, body, route->mount->handlers, route->mount->cfg.app);
	if (!c.responded) {
		y_log_message(Y_LOG_LEVEL_ERROR, "%s %s: the handler did not respond", op->method, op->path);
		rt_http_error(&c, 500, "NoResponse", "The handler did not respond", NULL);
	}
cleanup:
	if (route->mount->cfg.on_request)
		route->mount->cfg.on_request(route->mount->cfg.app, &c, c.status);
	if (c.principal.data && route->mount->cfg.principal_free)
		route->mount->cfg.principal_free(route->mount->cfg.app, c.principal.data);
	rt_errors_free(&errs);
	json_decref(body);
	json_decref(c.keep);
	free(params);
	rt_arena_free(&c.arena);
	return U_CALLBACK_COMPLETE;
}

static int rt_http_spec(const struct _u_request *req, struct _u_response *resp, void *user_data)
{
	const char *const *doc = user_data;

	(void)req;
	ulfius_set_string_body_response(resp, 200, doc[0]);
	u_map_put(resp->map_header, "Content-Type", doc[1]);
	return U_CALLBACK_COMPLETE;
}

int rt_api_register(struct _u_instance *u, const char *base, const rt_api *api,
                    const void *handlers, const rt_api_config *cfg)
{
	rt_mount *m;
	char err[300];

	for (size_t i = 0; api->caches && api->caches[i]; i++) {
		if (rt_schema_prepare(api->caches[i], err, sizeof err) != 0) {
			y_log_message(Y_LOG_LEVEL_ERROR, "%s: %s", api->name, err);
			return -1;
		}
	}
	m = rt_http_track(calloc(1, sizeof *m));
	if (!m)
		return -1;
	m->api = api;
	m->handlers = handlers;
	rt_http_note_api(api);
	m->cfg = *cfg;
	m->base = rt_http_track(strdup(base ? base : ""));
	if (!m->base)
		return -1;
	for (size_t i = 0; i < api->n_ops; i++) {
		rt_route *r = rt_http_track(calloc(1, sizeof *r));
		if (!r)
			return -1;
		r->mount = m;
		r->op = &api->ops[i];
		if (ulfius_add_endpoint_by_val(u, r->op->method, m->base, r->op->route, r->op->priority,
		                               rt_http_dispatch, r) != U_OK)
			return -1;
	}
	const char **json_doc = rt_http_track(calloc(2, sizeof *json_doc));
	const char **yaml_doc = rt_http_track(calloc(2, sizeof *yaml_doc));
	if (!json_doc || !yaml_doc)
		return -1;
	json_doc[0] = api->spec_json;
	json_doc[1] = "application/json";
	yaml_doc[0] = api->spec_yaml;
	yaml_doc[1] = "application/yaml";
	if (ulfius_add_endpoint_by_val(u, "GET", m->base, "/openapi.json", 0, rt_http_spec, json_doc) != U_OK ||
	    ulfius_add_endpoint_by_val(u, "GET", m->base, "/openapi.yaml", 0, rt_http_spec, yaml_doc) != U_OK)
		return -1;
	return 0;
}

/* rt_params.c — path, query, header and cookie parameters: decoded per
 * OpenAPI style, coerced from strings to the schema's type, defaults
 * applied, validated, and stored in the operation's typed params struct. */
#include "rt_http.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const rt_params_where[] = { "path", "query", "header", "cookie" };

static json_t *rt_params_scalar(const char *raw, unsigned types, const char *what, rt_errors *errs)
{
	char *end;

	if ((types & RT_T_INTEGER) && !(types & RT_T_STRING)) {
		errno = 0;
		long long v = strtoll(raw, &end, 10);
		if (*raw && !*end && errno == 0 && raw[0] != ' ' && raw[0] != '+')
			return json_integer(v);
		if (!(types & RT_T_NUMBER & ~RT_T_INTEGER)) {
			rt_errors_add(errs, "", "type", "%s must be an integer, got \"%.60s\"", what, raw);
			return NULL;
		}
	}
	if ((types & RT_T_NUMBER) && !(types & RT_T_STRING)) {
		errno = 0;
		double d = strtod(raw, &end);
		if (*raw && !*end && errno == 0 && isfinite(d) && raw[0] != ' ')
			return json_real(d);
		rt_errors_add(errs, "", "type", "%s must be a number, got \"%.60s\"", what, raw);
		return NULL;
	}
	if ((types & RT_T_BOOLEAN) && !(types & RT_T_STRING)) {
		if (strcmp(raw, "true") == 0)
			return json_true();
		if (strcmp(raw, "false") == 0)
			return json_false();
		rt_errors_add(errs, "", "type", "%s must be true or false, got \"%.60s\"", what, raw);
		return NULL;
	}
	json_t *s = json_string(raw);
	if (!s)
		rt_errors_add(errs, "", "encoding", "%s is not valid UTF-8", what);
	return s;
}

json_t *rt_params_coerce(const char *raw, const rt_schema *schema, enum rt_style style, int explode,
                         const char *what, rt_errors *errs)
{
	unsigned types = rt_schema_types(schema);

	if (types & RT_T_ARRAY) {
		const rt_schema *is = rt_schema_items(schema);
		unsigned it = rt_schema_types(is);
		char sep = style == RT_STYLE_SPACE_DELIMITED ? ' ' : style == RT_STYLE_PIPE_DELIMITED ? '|' : ',';
		json_t *arr = json_array();
		const char *p = raw;
		(void)explode;
		if (!*raw)
			return arr;
		for (;;) {
			const char *e = strchr(p, sep);
			size_t n = e ? (size_t)(e - p) : strlen(p);
			char *item = strndup(p, n);
			json_t *v = item ? rt_params_scalar(item, it ? it : RT_T_STRING, what, errs) : NULL;
			free(item);
			if (!v) {
				json_decref(arr);
				return NULL;
			}
			json_array_append_new(arr, v);
			if (!e)
				break;
			p = e + 1;
		}
		return arr;
	}
	if (types & RT_T_OBJECT) {
		/* form/simple non-exploded object: k,v,k,v; or JSON text */
		json_t *obj = json_loads(raw, 0, NULL);
		if (json_is_object(obj))
			return obj;
		json_decref(obj);
		rt_errors_add(errs, "", "type", "%s must be an object", what);
		return NULL;
	}
	return rt_params_scalar(raw, types ? types : RT_T_STRING, what, errs);
}

static void rt_params_store(void *params, const rt_param *p, const json_t *v)
{
	char *base = params;

	switch (p->ctype) {
	case RT_C_STRING:
		*(const char **)(base + p->offset) = json_string_value(v);
		break;
	case RT_C_INT64:
		*(int64_t *)(base + p->offset) = json_is_integer(v) ? (int64_t)json_integer_value(v) : (int64_t)json_number_value(v);
		break;
	case RT_C_DOUBLE:
		*(double *)(base + p->offset) = json_number_value(v);
		break;
	case RT_C_BOOL:
		*(int *)(base + p->offset) = json_is_true(v);
		break;
	case RT_C_JSON:
		*(const json_t **)(base + p->offset) = v;
		break;
	}
	if (p->has_offset >= 0)
		*(int *)(base + p->has_offset) = 1;
}

/* A path template that shares its segment with other text ("{sid}.json",
 * "v{major}.{minor}"): the route matched the whole segment under the first
 * template's name (oapigen), and this cuts name's value out of it. Returns 0
 * when name's template fills its segment (read the route's value as is), 1
 * with *out the value (new, free()) or NULL when the segment lacks the
 * template's literal text, -1 out of memory. */
static int rt_params_path_piece(const rt_operation *op, const struct _u_request *req, const char *name, char **out)
{
	size_t nl = strlen(name);
	const char *seg = op->path, *end, *t, *v, *vend, *first;

	*out = NULL;
	for (t = strchr(op->path, '{'); t; t = strchr(t + 1, '{'))
		if (strncmp(t + 1, name, nl) == 0 && t[nl + 1] == '}')
			break;
	if (!t)
		return 0;
	for (const char *s = op->path; s < t; s++)
		if (*s == '/')
			seg = s + 1;
	end = seg + strcspn(seg, "/");
	if (seg == t && t + nl + 2 == end)
		return 0;
	first = strchr(seg, '{');
	{
		char fname[128];
		size_t fl = strcspn(first + 1, "}");
		if (fl >= sizeof fname)
			return 1;
		memcpy(fname, first + 1, fl);
		fname[fl] = '\0';
		v = u_map_get(req->map_url, fname);
	}
	if (!v)
		return 1;
	vend = v + strlen(v);
	/* literal text must match; a template's value runs up to the next
	 * literal text (the last one: up to the segment's literal suffix) */
	for (t = seg; t < end;) {
		if (*t != '{') {
			if (*v != *t)
				return 1;
			t++;
			v++;
			continue;
		}
		const char *close = strchr(t, '}'), *lit = close + 1;
		size_t ll = strcspn(lit, "{/");
		const char *vstop;
		if (lit + ll >= end) { /* the suffix */
			if ((size_t)(vend - v) < ll || memcmp(vend - ll, lit, ll) != 0)
				return 1;
			vstop = vend - ll;
		} else {
			char *lit0 = strndup(lit, ll);
			vstop = lit0 ? strstr(v, lit0) : NULL;
			free(lit0);
			if (!vstop)
				return 1;
		}
		if ((size_t)(close - t - 1) == nl && strncmp(t + 1, name, nl) == 0) {
			*out = strndup(v, (size_t)(vstop - v));
			return *out ? 1 : -1;
		}
		v = vstop;
		t = lit;
	}
	return 1;
}

int rt_params_parse(rt_ctx *c, const rt_operation *op, void *params, rt_errors *errs)
{
	const struct _u_request *req = rt_ctx_request(c);
	size_t before = errs->n;

	for (size_t i = 0; i < op->n_params; i++) {
		const rt_param *p = &op->params[i];
		const char *raw = NULL;
		char *piece = NULL;
		char what[160];
		json_t *v;

		snprintf(what, sizeof what, "%s parameter \"%s\"", rt_params_where[p->in], p->name);
		switch (p->in) {
		case RT_IN_PATH:
		case RT_IN_QUERY:
			raw = u_map_get(req->map_url, p->name);
			break;
		case RT_IN_HEADER:
			raw = u_map_get_case(req->map_header, p->name);
			break;
		case RT_IN_COOKIE:
			raw = u_map_get(req->map_cookie, p->name);
			break;
		}
		if (p->in == RT_IN_PATH) {
			int r = rt_params_path_piece(op, req, p->name, &piece);
			if (r < 0)
				return -1;
			if (r > 0 && !piece) {
				rt_errors_add(errs, "", "pattern", "%s: the path does not match %s", what, op->path);
				continue;
			}
			if (r > 0)
				raw = piece;
		}
		if (!raw) {
			const json_t *d = rt_schema_default(p->schema);
			if (d) {
				rt_params_store(params, p, rt_ctx_keep(c, json_deep_copy(d)));
				continue;
			}
			if (p->required)
				rt_errors_add(errs, "", "required", "%s is required", what);
			continue;
		}
		v = rt_params_coerce(raw, p->schema, p->style, p->explode, what, errs);
		free(piece);
		if (!v)
			continue;
		rt_ctx_keep(c, v);
		{
			rt_errors perr;
			rt_errors_init(&perr);
			if (rt_schema_validate(p->schema, v, RT_DIR_REQUEST, &perr) > 0) {
				for (size_t k = 0; k < perr.n; k++)
					rt_errors_add(errs, perr.v[k].pointer, perr.v[k].keyword, "%s %s", what, perr.v[k].message);
				rt_errors_free(&perr);
				continue;
			}
			rt_errors_free(&perr);
		}
		rt_params_store(params, p, v);
	}
	return errs->n > before ? -1 : 0;
}

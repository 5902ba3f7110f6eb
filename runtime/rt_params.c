/* rt_params.c — path, query, header and cookie parameters: decoded per
 * OpenAPI style (simple, form, label, matrix, spaceDelimited,
 * pipeDelimited, deepObject; explode true and false), coerced from strings
 * to the schema's types, defaults applied, validated, and stored in the
 * operation's typed params struct. */
#include "rt_http.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const rt_params_where[] = { "path", "query", "header", "cookie", "querystring" };
static const char *const rt_params_style_names[] = { "simple", "form", "label", "matrix", "spaceDelimited",
                                                     "pipeDelimited", "deepObject" };

/* One string to a JSON scalar of the first fitting type (new, or NULL with
 * an error at pointer). */
static json_t *rt_params_scalar(const char *raw, unsigned types, const char *what, const char *pointer,
                                rt_errors *errs)
{
	char *end;

	if ((types & RT_T_INTEGER) && !(types & RT_T_STRING)) {
		errno = 0;
		long long v = strtoll(raw, &end, 10);
		if (*raw && !*end && errno == 0 && raw[0] != ' ' && raw[0] != '+')
			return json_integer(v);
		if (!(types & RT_T_NUMBER & ~RT_T_INTEGER)) {
			rt_errors_add(errs, pointer, "type", "%s%s%s must be an integer, got \"%.60s\"", what,
			              *pointer ? " at " : "", pointer, raw);
			return NULL;
		}
	}
	if ((types & RT_T_NUMBER) && !(types & RT_T_STRING)) {
		errno = 0;
		double d = strtod(raw, &end);
		if (*raw && !*end && errno == 0 && isfinite(d) && raw[0] != ' ')
			return json_real(d);
		rt_errors_add(errs, pointer, "type", "%s%s%s must be a number, got \"%.60s\"", what,
		              *pointer ? " at " : "", pointer, raw);
		return NULL;
	}
	if ((types & RT_T_BOOLEAN) && !(types & RT_T_STRING)) {
		if (strcmp(raw, "true") == 0)
			return json_true();
		if (strcmp(raw, "false") == 0)
			return json_false();
		rt_errors_add(errs, pointer, "type", "%s%s%s must be true or false, got \"%.60s\"", what,
		              *pointer ? " at " : "", pointer, raw);
		return NULL;
	}
	json_t *s = json_string(raw);
	if (!s)
		rt_errors_add(errs, pointer, "encoding", "%s is not valid UTF-8", what);
	return s;
}

/* The schema of an object's property: properties, else additionalProperties. */
static const rt_schema *rt_params_prop_schema(const rt_schema *s, const char *name)
{
	const rt_schema *ps = rt_schema_property(s, name);

	for (int hops = 0; !ps && s && hops < 16; hops++, s = s->ref)
		if (s->additional)
			return s->additional;
	return ps;
}

static unsigned rt_params_leaf_types(const rt_schema *s, int depth);

/* The end of the JSON text of an object or array at s ('{' or '['):
 * the byte after its closing bracket (strings and their escapes skipped),
 * or NULL when it does not close. */
static const char *rt_params_json_end(const char *s)
{
	int depth = 0, str = 0;

	for (const char *c = s; *c; c++) {
		if (str) {
			if (*c == '\\' && c[1])
				c++;
			else if (*c == '"')
				str = 0;
		} else if (*c == '"') {
			str = 1;
		} else if (*c == '{' || *c == '[') {
			depth++;
		} else if ((*c == '}' || *c == ']') && --depth == 0) {
			return c + 1;
		}
	}
	return NULL;
}

static void rt_params_free_tokens(char **v, size_t n);

/* Splits s at sep into tokens (new strings, NULL-terminated, free with
 * rt_params_free_tokens); "" gives no tokens; NULL when out of memory.
 * objects: the items are JSON object texts (an array of objects), and an
 * item that opens with '{' (after prefix, when it starts with it) runs to
 * its closing '}', whatever sep it holds. */
static char **rt_params_split_items(const char *s, char sep, const char *prefix, int objects, size_t *n)
{
	size_t cap = 1, plen = prefix ? strlen(prefix) : 0;
	int unclosed = 0;
	char **v;

	*n = 0;
	for (const char *c = s; *c; c++)
		cap += *c == sep;
	v = calloc(cap + 1, sizeof *v);
	if (!v || !*s)
		return v;
	for (const char *p = s, *q, *close = NULL;;) {
		const char *e;
		if (objects) {
			q = p + (plen && strncmp(p, prefix, plen) == 0 ? plen : 0);
			/* once a text does not close, that item is refused anyway: the
			   rest is split plainly, so that "{,{,{..." costs one scan, not
			   one each */
			close = *q == '{' && !unclosed ? rt_params_json_end(q) : NULL;
			unclosed |= *q == '{' && !close;
		}
		e = strchr(close ? close : p, sep);
		if ((v[*n] = e ? strndup(p, (size_t)(e - p)) : strdup(p)) == NULL) {
			rt_params_free_tokens(v, *n);
			*n = 0;
			return NULL;
		}
		(*n)++;
		if (!e)
			break;
		p = e + 1;
	}
	return v;
}

static char **rt_params_split(const char *s, char sep, size_t *n)
{
	return rt_params_split_items(s, sep, NULL, 0, n);
}

static void rt_params_free_tokens(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* An array from tokens; prefix, when set, is what each token must start
 * with and loses (matrix explode: "name="). */
static json_t *rt_params_array(const rt_schema *schema, char **tok, size_t n, const char *prefix,
                               const char *what, rt_errors *errs)
{
	unsigned it = rt_schema_types(rt_schema_items(schema));
	json_t *arr = json_array();
	size_t plen = prefix ? strlen(prefix) : 0;

	for (size_t i = 0; arr && i < n; i++) {
		char ptr[32];
		const char *item = tok[i];
		json_t *v;
		snprintf(ptr, sizeof ptr, "/%zu", i);
		if (prefix) {
			if (strncmp(item, prefix, plen) != 0) {
				rt_errors_add(errs, ptr, "style", "%s: item %zu must be written \"%s<value>\" (%s style)", what, i,
				              prefix, "matrix");
				json_decref(arr);
				return NULL;
			}
			item += plen;
		}
		if ((it & RT_T_OBJECT) && (item[0] == '{' || !(it & ~(unsigned)(RT_T_OBJECT | RT_T_NULL)))) {
			/* an object item is its JSON text (no style writes objects in a list) */
			v = json_loads(item, JSON_REJECT_DUPLICATES, NULL);
			if (!json_is_object(v)) {
				json_decref(v);
				v = NULL;
				rt_errors_add(errs, ptr, "type", "%s at %s must be an object as JSON text ({\"name\":value,...}), "
				              "got \"%.60s\"", what, ptr, item);
			}
		} else {
			v = rt_params_scalar(item, it ? it : RT_T_STRING, what, ptr, errs);
		}
		if (!v) {
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, v);
	}
	return arr;
}

/* One property value of an object parameter, coerced to its schema. */
static int rt_params_put(json_t *obj, const rt_schema *schema, const char *key, const char *val, int arrays,
                         const char *what, rt_errors *errs)
{
	const rt_schema *ps = rt_params_prop_schema(schema, key);
	unsigned pt = rt_schema_types(ps);
	char *ptr = rt_pointer_join("", key);
	json_t *v = NULL;

	if (!ptr)
		return -1;
	if (arrays && (pt & RT_T_ARRAY)) {
		size_t n;
		char **tok = rt_params_split(val, ',', &n);
		v = tok ? rt_params_array(ps, tok, n, NULL, what, errs) : NULL;
		rt_params_free_tokens(tok, n);
	} else {
		v = rt_params_scalar(val, pt ? pt : RT_T_STRING, what, ptr, errs);
	}
	free(ptr);
	if (!v)
		return -1;
	json_object_set_new(obj, key, v);
	return 0;
}

/* An object from tokens: "k=v" each (kv) or k, v, k, v. */
static json_t *rt_params_object(const rt_param *p, char **tok, size_t n, int kv, const char *what, rt_errors *errs)
{
	const char *style = rt_params_style_names[p->style];
	json_t *obj = json_object();

	if (!kv && n % 2) {
		rt_errors_add(errs, "", "style", "%s must be name,value pairs (%s style, explode false), got %zu item%s",
		              what, style, n, n == 1 ? "" : "s");
		json_decref(obj);
		return NULL;
	}
	for (size_t i = 0; obj && i < n; i += kv ? 1 : 2) {
		char *key = kv ? tok[i] : strdup(tok[i]);
		char *val = kv ? strchr(tok[i], '=') : tok[i + 1];
		int rc;
		if (kv && !val) {
			rt_errors_add(errs, "", "style", "%s must be name=value pairs (%s style, explode true), got \"%.60s\"",
			              what, style, tok[i]);
			json_decref(obj);
			return NULL;
		}
		if (kv)
			*val++ = '\0';
		rc = rt_params_put(obj, p->schema, key, val, 0, what, errs);
		if (!kv)
			free(key);
		if (rc != 0) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

json_t *rt_params_coerce(const rt_param *p, const char *raw, const char *what, rt_errors *errs)
{
	unsigned types = rt_schema_types(p->schema);
	int is_array = (types & RT_T_ARRAY) != 0, is_object = !is_array && (types & RT_T_OBJECT);
	int spread = p->explode && (is_array || is_object);
	const char *body = raw;
	char *prefix = NULL;
	char sep = ',';
	json_t *out = NULL;

	if (p->content) {
		/* content-encoded: the media type's text (JSON); a bare word is
		 * taken as a scalar as before */
		out = json_loads(raw, JSON_DECODE_ANY, NULL);
		if (out)
			return out;
		return rt_params_scalar(raw, types && !is_array && !is_object ? types : RT_T_STRING, what, "", errs);
	}
	if (p->style == RT_STYLE_DEEP_OBJECT) {
		unsigned scalar = rt_params_leaf_types(p->schema, 0) & ~(unsigned)(RT_T_ARRAY | RT_T_OBJECT);
		return rt_params_scalar(raw, scalar ? scalar : RT_T_STRING, what, "", errs);
	}
	switch (p->style) {
	case RT_STYLE_LABEL:
		if (raw[0] != '.') {
			rt_errors_add(errs, "", "style", "%s must start with \".\" (label style), got \"%.60s\"", what, raw);
			return NULL;
		}
		body = raw + 1;
		if (spread)
			sep = '.';
		break;
	case RT_STYLE_MATRIX: {
		size_t nl = strlen(p->name);
		if (raw[0] != ';') {
			rt_errors_add(errs, "", "style", "%s must start with \";%s\" (matrix style), got \"%.60s\"", what,
			              is_object && spread ? "name=value" : p->name, raw);
			return NULL;
		}
		if (spread) {
			/* ;name=a;name=b  or  ;k=v;k2=v2 */
			body = raw + 1;
			sep = ';';
			if (is_array && strcmp(body, p->name) == 0)
				body = ""; /* the empty array */
			if (is_array && asprintf(&prefix, "%s=", p->name) < 0)
				return NULL;
		} else if (strncmp(raw + 1, p->name, nl) != 0 || (raw[1 + nl] != '=' && raw[1 + nl] != '\0')) {
			rt_errors_add(errs, "", "style", "%s must start with \";%s=\" (matrix style), got \"%.60s\"", what,
			              p->name, raw);
			return NULL;
		} else {
			body = raw + 1 + nl + (raw[1 + nl] == '=');
		}
		break;
	}
	/* explode true writes each item as name=value, as form does: ulfius
	   joins repeated query keys with commas */
	case RT_STYLE_SPACE_DELIMITED:
		sep = p->explode && p->in == RT_IN_QUERY ? ',' : ' ';
		break;
	case RT_STYLE_PIPE_DELIMITED:
		sep = p->explode && p->in == RT_IN_QUERY ? ',' : '|';
		break;
	default:
		break;
	}
	if (is_array || is_object) {
		size_t n = 0;
		char **tok;
		if (is_object && body[0] == '{' && (p->style == RT_STYLE_SIMPLE || p->style == RT_STYLE_FORM)) {
			/* JSON text, as content-encoded parameters send it */
			out = json_loads(body, 0, NULL);
			if (json_is_object(out))
				goto cleanup;
			json_decref(out);
			out = NULL;
		}
		tok = rt_params_split_items(body, sep, prefix,
		                            is_array && (rt_schema_types(rt_schema_items(p->schema)) & RT_T_OBJECT), &n);
		if (tok)
			out = is_array ? rt_params_array(p->schema, tok, n, prefix, what, errs)
			               : rt_params_object(p, tok, n, spread && p->style != RT_STYLE_FORM, what, errs);
		rt_params_free_tokens(tok, n);
		goto cleanup;
	}
	out = rt_params_scalar(body, types ? types : RT_T_STRING, what, "", errs);
cleanup:
	free(prefix);
	return out;
}

/* The branch of s (through $ref, allOf of one, anyOf and oneOf) whose
 * type includes want (RT_T_OBJECT or RT_T_ARRAY), s itself when it allows
 * any type, or NULL. */
static const rt_schema *rt_params_shape(const rt_schema *s, unsigned want, int depth)
{
	unsigned t;

	if (!s)
		return NULL;
	t = rt_schema_types(s);
	if (t & want)
		return s;
	if (depth < 8) {
		const rt_schema_list *lists[2] = { &s->any_of, &s->one_of };
		for (int l = 0; l < 2; l++)
			for (size_t i = 0; i < lists[l]->n; i++) {
				const rt_schema *b = rt_params_shape(lists[l]->v[i], want, depth + 1);
				if (b)
					return b;
			}
		if (s->ref)
			return rt_params_shape(s->ref, want, depth + 1);
	}
	return t == 0 && !s->any_of.n && !s->one_of.n ? s : NULL;
}

/* The scalar types s admits (through anyOf and oneOf branches), 0: any. */
static unsigned rt_params_leaf_types(const rt_schema *s, int depth)
{
	unsigned t = rt_schema_types(s), u = 0;

	if (t || !s || depth >= 8)
		return t;
	for (int l = 0; l < 2; l++) {
		const rt_schema_list *list = l ? &s->one_of : &s->any_of;
		for (size_t i = 0; i < list->n; i++) {
			unsigned b = rt_params_leaf_types(list->v[i], depth + 1);
			if (!b)
				return 0; /* a branch of any type */
			u |= b;
		}
	}
	if (!u && s->ref)
		return rt_params_leaf_types(s->ref, depth + 1);
	return u;
}

/* deepObject nesting a request may use (name[a][b]...: the Rails/Stripe
 * convention); deeper keys are refused naming this limit. */
#define RT_PARAMS_MAX_NEST 32

/* Puts value at the bracket path segs[0..n) under *slot (created on first
 * use; NULL = not yet) of schema s: "" appends (name[]=a&name[]=b, ulfius
 * joins repeated keys with commas), digits index an array (name[0]=v), any
 * other segment names an object's property; the leaf is coerced to s's
 * types, an array leaf split at commas. Indexes below max only (a larger
 * one leaves a gap). Errors name the key. */
static int rt_params_deep_put(json_t **slot, const rt_schema *s, char **segs, size_t n, const char *value,
                              size_t max, const char *ptr, const char *key, const char *what, rt_errors *errs)
{
	const rt_schema *as = rt_params_shape(s, RT_T_ARRAY, 0), *os = rt_params_shape(s, RT_T_OBJECT, 0);
	const char *seg;
	char *cptr = NULL;
	json_t *child = NULL, *cur = *slot;
	int is_index, rc = -1;

	if (n == 0) {
		unsigned lt = rt_params_leaf_types(s, 0), scalar = lt & ~(unsigned)(RT_T_ARRAY | RT_T_OBJECT);
		json_t *v;
		if (*slot) {
			rt_errors_add(errs, ptr, "style", "%s: \"%.80s\" sets a value given already (deepObject style)", what, key);
			return -1;
		}
		if (as && lt && !scalar) {
			size_t nt;
			char **tok = rt_params_split(value, ',', &nt);
			v = tok ? rt_params_array(as, tok, nt, NULL, what, errs) : NULL;
			rt_params_free_tokens(tok, nt);
		} else {
			v = rt_params_scalar(value, scalar ? scalar : RT_T_STRING, what, ptr, errs);
		}
		*slot = v;
		return v ? 0 : -1;
	}
	seg = segs[0];
	is_index = seg[0] == '\0' || strspn(seg, "0123456789") == strlen(seg);
	if (is_index && as && (seg[0] == '\0' || !os || json_is_array(cur))) {
		const rt_schema *is = rt_schema_items(as);
		size_t idx;
		if (cur && !json_is_array(cur)) {
			rt_errors_add(errs, ptr, "style", "%s: \"%.80s\" indexes what other keys made an object (deepObject style)",
			              what, key);
			return -1;
		}
		if (!cur)
			cur = *slot = json_array();
		if (!cur)
			return -1;
		if (seg[0] == '\0') {
			size_t nt;
			char **tok;
			if (n > 1) {
				rt_errors_add(errs, ptr, "style", "%s: \"%.80s\": [] must be the last bracket; index the items "
				              "(name[0][field]=v) (deepObject style)", what, key);
				return -1;
			}
			tok = rt_params_split(value, ',', &nt);
			for (size_t i = 0; tok && i < nt; i++) {
				json_t *item = NULL;
				char ip[32];
				snprintf(ip, sizeof ip, "%s/%zu", ptr, json_array_size(cur));
				if (rt_params_deep_put(&item, is, NULL, 0, tok[i], max, ip, key, what, errs) != 0) {
					rt_params_free_tokens(tok, nt);
					return -1;
				}
				json_array_append_new(cur, item);
			}
			rt_params_free_tokens(tok, nt);
			return tok ? 0 : -1;
		}
		if (strlen(seg) > 9 || (idx = strtoul(seg, NULL, 10)) >= max || (seg[0] == '0' && seg[1])) {
			rt_errors_add(errs, ptr, "style", "%s: \"%.80s\": index %.12s leaves a gap in the array (deepObject style)",
			              what, key, seg);
			return -1;
		}
		while (json_array_size(cur) <= idx)
			json_array_append_new(cur, json_null()); /* a gap until another key fills it */
		child = json_array_get(cur, idx);
		if (json_is_null(child))
			child = NULL;
		if (asprintf(&cptr, "%s/%zu", ptr, idx) < 0)
			return -1;
		json_incref(child);
		rc = rt_params_deep_put(&child, is, segs + 1, n - 1, value, max, cptr, key, what, errs);
		if (child)
			json_array_set_new(cur, idx, child);
		free(cptr);
		return rc;
	}
	if (!os) {
		rt_errors_add(errs, ptr, "style", "%s: \"%.80s\": %s%s is not an object (deepObject style)", what, key,
		              ptr[0] ? "" : "the value", ptr);
		return -1;
	}
	if (cur && !json_is_object(cur)) {
		rt_errors_add(errs, ptr, "style", "%s: \"%.80s\" names a property of what other keys made %s (deepObject style)",
		              what, key, json_is_array(cur) ? "an array" : "a value");
		return -1;
	}
	if (!cur)
		cur = *slot = json_object();
	cptr = rt_pointer_join(ptr, seg);
	if (!cur || !cptr) {
		free(cptr);
		return -1;
	}
	child = json_incref(json_object_get(cur, seg));
	rc = rt_params_deep_put(&child, rt_params_prop_schema(os, seg), segs + 1, n - 1, value, max, cptr, key, what, errs);
	if (child)
		json_object_set_new(cur, seg, child);
	free(cptr);
	return rc;
}

/* An array gap left by name[0] and name[2] without name[1]: 0 when none. */
static int rt_params_deep_gaps(const json_t *v, const char *what, rt_errors *errs)
{
	size_t i;
	const char *k;
	json_t *m;

	if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			if (json_is_null(m)) {
				rt_errors_add(errs, "", "style", "%s: item %zu is missing between others (deepObject style)", what, i);
				return -1;
			}
			if (rt_params_deep_gaps(m, what, errs) != 0)
				return -1;
		}
	}
	if (json_is_object(v))
		json_object_foreach((json_t *)v, k, m)
			if (rt_params_deep_gaps(m, what, errs) != 0)
				return -1;
	return 0;
}

/* Splits key "name[a][0][]" after prefix_len bytes into its bracket
 * segments (new strings, rt_params_free_tokens); NULL when the rest is not
 * brackets only, or nests deeper than RT_PARAMS_MAX_NEST (*deep set). */
static char **rt_params_brackets(const char *key, size_t prefix_len, size_t *n, int *deep)
{
	const char *s = key + prefix_len;
	char **v = NULL;

	*n = 0;
	*deep = 0;
	if (*s != '[')
		return NULL;
	while (*s == '[') {
		size_t l = strcspn(s + 1, "[]");
		char **nv;
		if (s[1 + l] != ']')
			break;
		if (*n == RT_PARAMS_MAX_NEST) {
			*deep = 1;
			break;
		}
		nv = realloc(v, (*n + 2) * sizeof *v);
		if (!nv)
			break;
		v = nv;
		v[(*n)++] = strndup(s + 1, l);
		v[*n] = NULL;
		s += l + 2;
	}
	if (*s) {
		rt_params_free_tokens(v, *n);
		*n = 0;
		return NULL;
	}
	return v;
}

/* deepObject: every query key name[...] (new value, NULL with errors, or
 * NULL without when absent): objects (name[prop]=v), nested ones
 * (name[a][b]=v), arrays (name[]=a&name[]=b, name[0]=a&name[1]=b) and
 * arrays of objects (name[0][prop]=v). */
static json_t *rt_params_deep(const struct _u_map *url, const rt_param *p, const char *what, rt_errors *errs)
{
	const char **keys = u_map_enum_keys(url);
	size_t nl = strlen(p->name), before = errs->n, nkeys = 0;
	json_t *out = NULL;

	while (keys && keys[nkeys])
		nkeys++;
	for (size_t i = 0; keys && keys[i]; i++) {
		const char *k = keys[i];
		size_t ns;
		int deep;
		char **segs;
		if (strncmp(k, p->name, nl) != 0 || k[nl] != '[')
			continue;
		segs = rt_params_brackets(k, nl, &ns, &deep);
		if (!segs) {
			if (deep)
				rt_errors_add(errs, "", "style", "%s: \"%.80s\" nests deeper than %d levels (deepObject style)", what,
				              k, RT_PARAMS_MAX_NEST);
			else
				rt_errors_add(errs, "", "style", "%s: \"%.80s\" is not name[...] (deepObject style)", what, k);
			continue;
		}
		rt_params_deep_put(&out, p->schema, segs, ns, u_map_get(url, k), nkeys, "", k, what, errs);
		rt_params_free_tokens(segs, ns);
	}
	if (errs->n == before && out)
		rt_params_deep_gaps(out, what, errs);
	if (errs->n > before) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* form, explode true, object: each declared property is a query key of its own. */
static json_t *rt_params_form_object(const struct _u_map *url, const rt_param *p, const char *what, rt_errors *errs)
{
	const char **keys = u_map_enum_keys(url);
	size_t before = errs->n;
	json_t *obj = NULL;

	for (size_t i = 0; keys && keys[i]; i++) {
		if (!rt_schema_property(p->schema, keys[i]))
			continue;
		if (!obj)
			obj = json_object();
		rt_params_put(obj, p->schema, keys[i], u_map_get(url, keys[i]), 1, what, errs);
	}
	if (errs->n > before) {
		json_decref(obj);
		return NULL;
	}
	return obj;
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
	if (p->has_flag)
		*(int *)(base + p->has_offset) = 1;
}

/* Whether raw (len bytes) is a valid value of op's path parameter name. */
static int rt_params_piece_ok(const rt_operation *op, const char *name, size_t nl, const char *raw, size_t len)
{
	for (size_t i = 0; i < op->n_params; i++) {
		const rt_param *p = &op->params[i];
		if (p->in == RT_IN_PATH && strlen(p->name) == nl && strncmp(p->name, name, nl) == 0) {
			char *v = strndup(raw, len);
			rt_errors scratch;
			json_t *j;
			int ok;
			rt_errors_init(&scratch);
			j = v ? rt_params_coerce(p, v, "", &scratch) : NULL;
			ok = j && rt_schema_check(p->schema, j, RT_DIR_REQUEST);
			json_decref(j);
			rt_errors_free(&scratch);
			free(v);
			return ok;
		}
	}
	return 1;
}

/* Work a segment match may do before it gives up (adjacent templates try
 * each split). */
#define RT_PARAMS_MATCH_BUDGET 20000

typedef struct rt_params_match {
	const rt_operation *op;
	const char *end, *vend;        /* of the segment's pattern and of its value */
	const char *name;              /* the template wanted */
	size_t nl;
	const char *got;               /* its value, once matched */
	size_t got_len;
	unsigned budget;
} rt_params_match;

/* Matches value v.. against pattern t.. (literal text and templates). A
 * template followed by literal text ends at the first place that text
 * follows where the rest matches; two adjacent templates ({id}{ext}) split
 * where both values are valid for their schemas, the first one longest. */
static int rt_params_seg_match(rt_params_match *m, const char *t, const char *v)
{
	const char *close, *lit, *tname;
	size_t tl;

	if (m->budget == 0)
		return 0;
	m->budget--;
	if (t == m->end)
		return v == m->vend;
	if (*t != '{') {
		size_t ll = strcspn(t, "{");
		if (t + ll > m->end)
			ll = (size_t)(m->end - t);
		if ((size_t)(m->vend - v) < ll || memcmp(v, t, ll) != 0)
			return 0;
		return rt_params_seg_match(m, t + ll, v + ll);
	}
	close = memchr(t, '}', (size_t)(m->end - t));
	if (!close)
		return 0;
	tname = t + 1;
	tl = (size_t)(close - t - 1);
	lit = close + 1;
	if (lit < m->end && *lit == '{') {
		for (const char *e = m->vend - 1; e > v; e--) {
			if (!rt_params_piece_ok(m->op, tname, tl, v, (size_t)(e - v)) || !rt_params_seg_match(m, lit, e))
				continue;
			if (tl == m->nl && strncmp(tname, m->name, tl) == 0) {
				m->got = v;
				m->got_len = (size_t)(e - v);
			}
			return 1;
		}
		return 0;
	}
	for (const char *e = lit == m->end ? m->vend : v; e <= m->vend; e++) {
		if (lit < m->end) {
			size_t ll = strcspn(lit, "{");
			if (lit + ll > m->end)
				ll = (size_t)(m->end - lit);
			if ((size_t)(m->vend - e) < ll || memcmp(e, lit, ll) != 0)
				continue;
		}
		/* the second of adjacent templates is checked like the first */
		if (t[-1] == '}' && !rt_params_piece_ok(m->op, tname, tl, v, (size_t)(e - v)))
			continue;
		if (!rt_params_seg_match(m, lit, e))
			continue;
		if (tl == m->nl && strncmp(tname, m->name, tl) == 0) {
			m->got = v;
			m->got_len = (size_t)(e - v);
		}
		return 1;
	}
	return 0;
}

/* A template in the path key's query string (/search?query={q}): the value
 * of that query key. Returns 1 with *out (new) or NULL when the request
 * lacks it, 0 when t is not in the query string. */
static int rt_params_query_piece(const rt_operation *op, const struct _u_request *req, const char *t, char **out)
{
	const char *q = strchr(op->path, '?'), *k, *v;
	char *key;

	if (!q || t < q)
		return 0;
	for (k = t; k > q && k[-1] != '&' && k[-1] != '?'; k--)
		;
	key = strndup(k, (size_t)(t - k - 1)); /* up to the '=' before the template */
	if (!key)
		return -1;
	v = u_map_get(req->map_url, key);
	free(key);
	*out = v ? strdup(v) : NULL;
	return v && !*out ? -1 : 1;
}

/* A path template that shares its segment with other text ("{sid}.json",
 * "v{major}.{minor}", "{id}{ext}"), or that is in the path key's query
 * string: the route matched the whole segment under the first template's
 * name (oapigen), and this cuts name's value out of it. Returns 0 when
 * name's template fills its segment (read the route's value as is), 1
 * with *out the value (new, free()) or NULL when the segment lacks the
 * template's literal text, -1 out of memory. */
static int rt_params_path_piece(const rt_operation *op, const struct _u_request *req, const char *name, char **out)
{
	size_t nl = strlen(name);
	const char *seg = op->path, *end, *t, *v, *first;
	rt_params_match m = { .op = op, .name = name, .nl = nl, .budget = RT_PARAMS_MATCH_BUDGET };
	int r;

	*out = NULL;
	for (t = strchr(op->path, '{'); t; t = strchr(t + 1, '{'))
		if (strncmp(t + 1, name, nl) == 0 && t[nl + 1] == '}')
			break;
	if (!t)
		return 0;
	if ((r = rt_params_query_piece(op, req, t, out)) != 0)
		return r;
	for (const char *s = op->path; s < t; s++)
		if (*s == '/')
			seg = s + 1;
	end = seg + strcspn(seg, "/?");
	if (seg == t && t + nl + 2 == end)
		return 0;
	first = strchr(seg, '{');
	{
		char *fname = strndup(first + 1, strcspn(first + 1, "}"));
		if (!fname)
			return -1;
		v = u_map_get(req->map_url, fname);
		free(fname);
	}
	if (!v)
		return 1;
	m.end = end;
	m.vend = v + strlen(v);
	if (!rt_params_seg_match(&m, seg, v) || !m.got)
		return 1;
	*out = strndup(m.got, m.got_len);
	return *out ? 1 : -1;
}

int rt_params_query_matches(const rt_operation *op, const struct _u_request *req)
{
	const char *q = strchr(op->path, '?');

	for (const char *k = q; k && *k; k += strcspn(k, "&")) {
		const char *eq, *pend, *have;
		char *key;
		int ok;
		k++;
		pend = k + strcspn(k, "&");
		eq = memchr(k, '=', (size_t)(pend - k));
		key = strndup(k, (size_t)((eq ? eq : pend) - k));
		if (!key)
			return 0;
		have = u_map_get(req->map_url, key);
		free(key);
		ok = have && (!eq || memchr(k, '{', (size_t)(pend - k)) ||
		              (strlen(have) == (size_t)(pend - eq - 1) && strncmp(have, eq + 1, (size_t)(pend - eq - 1)) == 0));
		if (!ok)
			return 0;
	}
	return 1;
}

/* The literal pairs of the path key's query string (/items?action=list):
 * the request must carry each; 0 when it does, else an error in errs. */
static int rt_params_query_literals(const rt_operation *op, const struct _u_request *req, rt_errors *errs)
{
	const char *q = strchr(op->path, '?');
	int bad = 0;

	for (const char *k = q; k && *k; k += strcspn(k, "&")) {
		const char *eq, *pend, *have;
		char *key;
		k++;
		pend = k + strcspn(k, "&");
		eq = memchr(k, '=', (size_t)(pend - k));
		if (memchr(k, '{', (size_t)(pend - k)))
			continue; /* a template: read as a parameter */
		key = strndup(k, (size_t)((eq ? eq : pend) - k));
		if (!key)
			return -1;
		have = u_map_get(req->map_url, key);
		if (!have || (eq && (strlen(have) != (size_t)(pend - eq - 1) || strncmp(have, eq + 1, (size_t)(pend - eq - 1)) != 0))) {
			rt_errors_add(errs, "", "pattern", "the query must have %.*s (the path %s)", (int)(pend - k), k, op->path);
			bad = 1;
		}
		free(key);
	}
	return bad ? -1 : 0;
}

/* Percent-decodes s[0..n) ('+' a space in forms) into a new string; NULL
 * when it holds a NUL byte or out of memory. */
static char *rt_params_unescape(const char *s, size_t n, int form)
{
	char *out = malloc(n + 1), *o = out;

	for (size_t i = 0; out && i < n; i++) {
		if (s[i] == '%' && i + 2 < n + 1 && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = { s[i + 1], s[i + 2], 0 };
			*o = (char)strtol(hex, NULL, 16);
			i += 2;
			if (!*o++) {
				free(out);
				return NULL;
			}
		} else {
			*o++ = form && s[i] == '+' ? ' ' : s[i];
		}
	}
	if (out)
		*o = '\0';
	return out;
}

/* Whether s holds "%2C" (either case). */
static int rt_params_has_encoded_comma(const char *s)
{
	for (const char *c = strchr(s, '%'); c; c = strchr(c + 1, '%'))
		if (c[1] == '2' && (c[2] == 'C' || c[2] == 'c'))
			return 1;
	return 0;
}

/* Whether the query field key f[0..len) is name, decoded as a form's. */
static int rt_params_key_is(const char *f, size_t len, const char *name)
{
	char *key = rt_params_unescape(f, len, 1);
	int is = key && strcmp(key, name) == 0;

	free(key);
	return is;
}

/* How many times name is a key of url's query string. */
static size_t rt_params_query_count(const char *url, const char *name)
{
	const char *q = url ? strchr(url, '?') : NULL, *end;
	size_t count = 0;

	if (!q)
		return 0;
	end = q + 1 + strcspn(q + 1, "#");
	for (const char *f = q + 1; f < end; f += strcspn(f, "&") + 1) {
		size_t fl = strcspn(f, "&"), kl;
		if (f + fl > end)
			fl = (size_t)(end - f);
		kl = strcspn(f, "=&#");
		count += rt_params_key_is(f, kl < fl ? kl : fl, name);
	}
	return count;
}

/* Query parameter p's items read from the request's own query string and
 * percent-decoded after the split ('+' a space, as libmicrohttpd decodes
 * query arguments): ulfius hands over one value, with repeated keys joined
 * by commas, in which tags=a%2Cb&tags=c (explode) or tags=a%2Cb,c (not)
 * would read as three items. NULL with *n 0 when no value of p holds an
 * encoded comma (ulfius's value then reads the same), or out of memory. */
static char **rt_params_query_items(const char *url, const rt_param *p, size_t *n)
{
	const char *q = url ? strchr(url, '?') : NULL, *end;
	int explode = p->explode || p->style != RT_STYLE_FORM, encoded = 0;
	size_t cap = 0, k = 0;
	char **v = NULL;

	*n = 0;
	if (!q || !rt_params_has_encoded_comma(q + 1))
		return NULL;   /* the common case: no value can hold one */
	end = q + 1 + strcspn(q + 1, "#");
	/* twice over the query: whether an encoded comma is in p's values, then the items */
	for (int pass = 0; pass < 2; pass++) {
		for (const char *f = q + 1; f < end; f += strcspn(f, "&") + 1) {
			size_t fl = strcspn(f, "&");
			const char *eq;
			if (f + fl > end)
				fl = (size_t)(end - f);
			eq = memchr(f, '=', fl);
			if (!eq || !rt_params_key_is(f, (size_t)(eq - f), p->name))
				continue;
			for (const char *t = eq + 1, *fe = f + fl; t <= fe;) {
				size_t tl = explode ? (size_t)(fe - t) : strcspn(t, ",&#");
				if (t + tl > fe)
					tl = (size_t)(fe - t);
				if (pass == 0) {
					for (size_t i = 0; i + 3 <= tl; i++)
						encoded |= t[i] == '%' && t[i + 1] == '2' && (t[i + 2] == 'C' || t[i + 2] == 'c');
					cap++;
				} else if (k < cap && (v[k] = rt_params_unescape(t, tl, 1)) != NULL) {
					k++;
				} else {
					rt_params_free_tokens(v, k);
					return NULL;
				}
				t += tl + 1;
			}
		}
		if (pass == 0 && (!encoded || (v = calloc(cap + 1, sizeof *v)) == NULL))
			return NULL;
	}
	*n = k;
	return v;
}

/* A querystring parameter (OpenAPI 3.2): the raw query of the request (new
 * value, NULL with errs, or NULL without when there is no query). */
static json_t *rt_params_querystring(const struct _u_request *req, const rt_param *p, const char *what, rt_errors *errs)
{
	const char *url = req->http_url ? req->http_url : "", *q = strchr(url, '?');
	size_t qlen = q ? strcspn(q + 1, "#") : 0;
	json_t *v = NULL;

	if (!q || qlen == 0)
		return NULL;
	q++;
	if (p->content == 2) {
		struct _u_map fields;
		size_t before = errs->n;
		if (u_map_init(&fields) != U_OK)
			return NULL;
		for (const char *f = q, *end = q + qlen; f < end; f += strcspn(f, "&") + 1) {
			size_t fl = strcspn(f, "&");
			const char *eq;
			char *k, *val;
			if (f + fl > end)
				fl = (size_t)(end - f);
			if (fl == 0)
				continue;
			eq = memchr(f, '=', fl);
			k = rt_params_unescape(f, eq ? (size_t)(eq - f) : fl, 1);
			val = eq ? rt_params_unescape(eq + 1, fl - (size_t)(eq - f) - 1, 1) : strdup("");
			if (!k || !val) {
				rt_errors_add(errs, "", "encoding", "%s: a field holds a NUL byte", what);
			} else {
				const char *had = u_map_get(&fields, k);
				char *joined = NULL;
				/* repeated fields join with commas, as ulfius joins query keys */
				if (had && asprintf(&joined, "%s,%s", had, val) < 0)
					joined = NULL;
				const char *nv = joined ? joined : val;
				u_map_put_binary(&fields, k, nv, 0, strlen(nv)); /* the length rt_params_form_body reads */
				free(joined);
			}
			free(k);
			free(val);
		}
		if (errs->n == before)
			v = rt_params_form_body(&fields, p->schema, errs);
		u_map_clean(&fields);
		if (v)
			rt_schema_apply_defaults(p->schema, v);
		return v;
	}
	{
		char *text = rt_params_unescape(q, qlen, 0);
		json_error_t je;
		v = text ? json_loads(text, JSON_DECODE_ANY, &je) : NULL;
		if (!v)
			rt_errors_add(errs, "", "encoding", "%s: the query string is not JSON%s%s", what, text ? ": " : "",
			              text ? je.text : "");
		free(text);
	}
	return v;
}

/* "<where> parameter \"<name>\"" into what (size bytes, cut to fit): the
   name errors give a parameter, made for every parameter of every request
   (snprintf's cost twice a request, for text seldom used). */
static void rt_params_what(char *what, size_t size, const char *where, const char *name)
{
	const char *parts[4] = { where, " parameter \"", name, "\"" };
	size_t o = 0;

	for (int i = 0; i < 4; i++) {
		size_t n = strlen(parts[i]);
		if (n > size - 1 - o)
			n = size - 1 - o;
		memcpy(what + o, parts[i], n);
		o += n;
	}
	what[o] = '\0';
}

int rt_params_parse(rt_ctx *c, const rt_operation *op, void *params, rt_errors *errs)
{
	const struct _u_request *req = rt_ctx_request(c);
	size_t before = errs->n;

	if (strchr(op->path, '?'))
		rt_params_query_literals(op, req, errs);
	for (size_t i = 0; i < op->n_params; i++) {
		const rt_param *p = &op->params[i];
		const char *raw = NULL;
		char *piece = NULL;
		char what[160];
		json_t *v = NULL;
		size_t had = errs->n;

		rt_params_what(what, sizeof what, rt_params_where[p->in], p->name);
		switch (p->in) {
		case RT_IN_PATH:
		case RT_IN_QUERY:
			if (p->style == RT_STYLE_DEEP_OBJECT)
				v = rt_params_deep(req->map_url, p, what, errs);
			else if (p->in == RT_IN_QUERY && p->style == RT_STYLE_FORM && p->explode && !p->content &&
			         !(rt_schema_types(p->schema) & RT_T_ARRAY) && (rt_schema_types(p->schema) & RT_T_OBJECT))
				v = rt_params_form_object(req->map_url, p, what, errs);
			/* a deepObject whose schema also admits a scalar (Stripe's
			 * created=5 or created[gt]=5) takes name=value too */
			if (!v && (p->style != RT_STYLE_DEEP_OBJECT ||
			           (rt_params_leaf_types(p->schema, 0) & ~(unsigned)(RT_T_ARRAY | RT_T_OBJECT))))
				raw = u_map_get(req->map_url, p->name);
			/* ulfius joins a key given more than once with commas: a
			 * parameter of one value given twice is refused as that */
			if (raw && p->in == RT_IN_QUERY && strchr(raw, ',') && !(rt_schema_types(p->schema) & RT_T_ARRAY)) {
				size_t times = rt_params_query_count(req->http_url, p->name);
				if (times > 1) {
					rt_errors_add(errs, "", "type", "%s is given %zu times; it takes one value", what, times);
					continue;
				}
			}
			if (raw && p->in == RT_IN_QUERY && !p->content && (rt_schema_types(p->schema) & RT_T_ARRAY) &&
			    !(rt_schema_types(rt_schema_items(p->schema)) & RT_T_OBJECT) &&
			    (p->style == RT_STYLE_FORM || p->explode)) {
				size_t nt = 0;
				char **tok = rt_params_query_items(req->http_url, p, &nt);
				if (tok)
					v = rt_params_array(p->schema, tok, nt, NULL, what, errs);
				rt_params_free_tokens(tok, nt);
			}
			break;
		case RT_IN_HEADER:
			raw = u_map_get_case(req->map_header, p->name);
			break;
		case RT_IN_COOKIE:
			raw = u_map_get(req->map_cookie, p->name);
			break;
		case RT_IN_QUERYSTRING:
			v = rt_params_querystring(req, p, what, errs);
			break;
		}
		if (errs->n > had)
			continue;
		if (p->in == RT_IN_PATH && !v) {
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
		if (!raw && !v) {
			const json_t *d = rt_schema_default(p->schema);
			if (d) {
				rt_params_store(params, p, rt_ctx_keep(c, json_deep_copy(d)));
				continue;
			}
			if (p->required)
				rt_errors_add(errs, "", "required", "%s is required", what);
			continue;
		}
		if (!v)
			v = rt_params_coerce(p, raw, what, errs);
		free(piece);
		if (!v)
			continue;
		rt_ctx_keep(c, v);
		{
			rt_errors perr;
			rt_errors_init(&perr);
			if (rt_schema_validate(p->schema, v, RT_DIR_REQUEST, &perr) > 0) {
				for (size_t k = 0; k < perr.n; k++)
					rt_errors_add(errs, perr.v[k].pointer, perr.v[k].keyword, "%s%s%s %s", what,
					              perr.v[k].pointer[0] ? " at " : "", perr.v[k].pointer, perr.v[k].message);
				rt_errors_free(&perr);
				continue;
			}
			rt_errors_free(&perr);
		}
		rt_params_store(params, p, v);
	}
	return errs->n > before ? -1 : 0;
}

/* A form field name[...] whose name is a declared property (Stripe's
 * expand[]=a, metadata[k]=v, tax_id_data[0][type]=v: the deepObject
 * encoding): put into obj under name; 0 when key is not such a field. */
static int rt_params_form_brackets(json_t *obj, const rt_schema *schema, const char *key, const char *val,
                                   size_t nkeys, rt_errors *errs)
{
	const char *br = strchr(key, '[');
	char *base, *ptr;
	char **segs;
	size_t ns;
	int deep;
	json_t *child;
	const rt_schema *ps;

	if (!br || br == key || !(base = strndup(key, (size_t)(br - key))))
		return 0;
	ps = rt_schema_property(schema, base);
	segs = ps ? rt_params_brackets(key, (size_t)(br - key), &ns, &deep) : NULL;
	ptr = segs ? rt_pointer_join("", base) : NULL;
	if (!ptr) {
		rt_params_free_tokens(segs, segs ? ns : 0);
		free(base);
		return 0;
	}
	child = json_incref(json_object_get(obj, base));
	rt_params_deep_put(&child, ps, segs, ns, val, nkeys, ptr, key, "form field", errs);
	if (child)
		json_object_set_new(obj, base, child);
	rt_params_free_tokens(segs, ns);
	free(ptr);
	free(base);
	return 1;
}

json_t *rt_params_form_body(const struct _u_map *fields, const rt_schema *schema, rt_errors *errs)
{
	const char **keys = u_map_enum_keys(fields);
	size_t before = errs->n, nkeys = 0;
	json_t *obj = json_object();

	while (keys && keys[nkeys])
		nkeys++;

	for (size_t i = 0; obj && keys && keys[i]; i++) {
		ssize_t len = u_map_get_length(fields, keys[i]);
		const char *raw = u_map_get(fields, keys[i]);
		char *val = raw && len > 0 ? strndup(raw, (size_t)len) : strdup(""); /* "k=": empty */
		if (!val || (len > 0 && strlen(val) != (size_t)len)) {
			char *ptr = rt_pointer_join("", keys[i]);
			rt_errors_add(errs, ptr ? ptr : "", "encoding", "form field \"%.80s\" holds a NUL byte", keys[i]);
			free(ptr);
		} else if (!rt_params_form_brackets(obj, schema, keys[i], val, nkeys, errs)) {
			rt_params_put(obj, schema, keys[i], val, 1, "form field", errs);
		}
		free(val);
	}
	if (errs->n == before)
		rt_params_deep_gaps(obj, "form field", errs);
	if (errs->n > before) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

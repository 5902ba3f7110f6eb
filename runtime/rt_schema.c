/* rt_schema.c — the validator that runs compiled schema tables. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rt_schema.h"
#include "rt_format.h"
#include "rt_jalloc.h"

#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pcre2.h>
#include "rt_pattern.h"

/* Deeper instances or schema chains are reported, not followed. */
#define RT_SCHEMA_MAX_DEPTH 512

/* Where the validator is in the instance; turned into a JSON pointer only
 * when a violation is reported. */
typedef struct rt_path {
	const struct rt_path *up;
	const char *name;   /* property name, or NULL for an index */
	size_t index;
} rt_path;

/* What the keywords applied at one instance location evaluated, for
 * unevaluatedProperties / unevaluatedItems (JSON Schema 2020-12 annotations).
 * Only built where such a keyword needs it. */
typedef struct rt_eval {
	const char **props;    /* property names evaluated (the instance's own key strings) */
	size_t nprops, capprops;
	int all_props;
	size_t items_upto;     /* items [0, items_upto) evaluated */
	int all_items;
	unsigned char *marks;  /* items evaluated one by one (contains) */
	size_t nmarks;
} rt_eval;

/* The dynamic scope (2020-12): the schema resources with $dynamicAnchors
 * entered on the way to the current schema, innermost first. */
typedef struct rt_scope {
	const rt_schema_resource *res;
	const struct rt_scope *up;
} rt_scope;

typedef struct rt_vctx {
	enum rt_dir dir;
	rt_errors *out;     /* NULL: only validity is wanted */
	int depth;
	rt_eval *ev;        /* the tracker of the current instance location, or NULL */
	const rt_scope *scope;
} rt_vctx;

static void rt_eval_prop(rt_eval *e, const char *key)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nprops; i++)
		if (e->props[i] == key || strcmp(e->props[i], key) == 0)
			return;
	if (e->nprops == e->capprops) {
		size_t cap = e->capprops ? e->capprops * 2 : 8;
		const char **np = realloc(e->props, cap * sizeof *np);
		if (!np)
			return;
		e->props = np;
		e->capprops = cap;
	}
	e->props[e->nprops++] = key;
}

static int rt_eval_has_prop(const rt_eval *e, const char *key)
{
	if (e->all_props)
		return 1;
	for (size_t i = 0; i < e->nprops; i++)
		if (e->props[i] == key || strcmp(e->props[i], key) == 0)
			return 1;
	return 0;
}

static void rt_eval_mark(rt_eval *e, size_t i)
{
	if (!e)
		return;
	if (i >= e->nmarks) {
		size_t n = i + 16;
		unsigned char *m = realloc(e->marks, n);
		if (!m)
			return;
		memset(m + e->nmarks, 0, n - e->nmarks);
		e->marks = m;
		e->nmarks = n;
	}
	e->marks[i] = 1;
}

static int rt_eval_has_item(const rt_eval *e, size_t i)
{
	return e->all_items || i < e->items_upto || (i < e->nmarks && e->marks[i]);
}

static void rt_eval_merge(rt_eval *dst, const rt_eval *src)
{
	if (!dst)
		return;
	for (size_t i = 0; i < src->nprops; i++)
		rt_eval_prop(dst, src->props[i]);
	dst->all_props |= src->all_props;
	dst->all_items |= src->all_items;
	if (src->items_upto > dst->items_upto)
		dst->items_upto = src->items_upto;
	for (size_t i = 0; i < src->nmarks; i++)
		if (src->marks[i])
			rt_eval_mark(dst, i);
}

static void rt_eval_free(rt_eval *e)
{
	free(e->props);
	free(e->marks);
	memset(e, 0, sizeof *e);
}

static pthread_mutex_t rt_schema_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- the cache: patterns, enum, const, default ---- */

int rt_schema_prepare(rt_schema_cache *c, char *err, size_t errlen)
{
	int rc = 0;
	void *ja;

	if (!c)
		return 0;
	if (__atomic_load_n(&c->ready, __ATOMIC_ACQUIRE) != 0)
		return c->ready == 1 ? 0 : -1;
	/* the cache outlives the request that prepares it first: from malloc */
	ja = rt_jalloc_pause();
	pthread_mutex_lock(&rt_schema_lock);
	if (c->ready != 0) {
		rc = c->ready == 1 ? 0 : -1;
		goto cleanup;
	}
	if (c->pattern) {
		int ec = 0;
		PCRE2_SIZE off = 0;
		pcre2_code *re = rt_pattern_compile(c->pattern, &ec, &off);
		if (!re) {
			PCRE2_UCHAR msg[160];
			pcre2_get_error_message(ec, msg, sizeof msg);
			if (err)
				snprintf(err, errlen, "pattern \"%s\" at offset %zu: %s", c->pattern, (size_t)off, (char *)msg);
			rc = -1;
			goto done;
		}
		pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort */
		c->regex = re;
	}
	if (c->enum_json && !(c->enum_values = json_loads(c->enum_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)))
		rc = -1;
	if (c->const_json && !(c->const_value = json_loads(c->const_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)))
		rc = -1;
	if (c->default_json && !(c->default_value = json_loads(c->default_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)))
		rc = -1;
	if (rc != 0 && err)
		snprintf(err, errlen, "enum, const or default value is not valid JSON");
done:
	__atomic_store_n(&c->ready, rc == 0 ? 1 : -1, __ATOMIC_RELEASE);
cleanup:
	pthread_mutex_unlock(&rt_schema_lock);
	rt_jalloc_end(ja);
	return rc;
}

/* ---- helpers ---- */

static char *rt_path_string(const rt_path *p)
{
	const rt_path *chain[RT_SCHEMA_MAX_DEPTH + 8];
	size_t n = 0;
	char *s = strdup("");

	for (; p && n < sizeof chain / sizeof chain[0]; p = p->up)
		chain[n++] = p;
	while (s && n-- > 0) {
		char *next = chain[n]->name ? rt_pointer_join(s, chain[n]->name)
		                            : rt_pointer_join_index(s, chain[n]->index);
		free(s);
		s = next;
	}
	return s;
}

static int rt_fail(rt_vctx *v, const rt_path *p, const char *keyword, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Records a violation (when messages are wanted); always returns 1. */
static int rt_fail(rt_vctx *v, const rt_path *p, const char *keyword, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	char *ptr;

	if (!v->out)
		return 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ptr = rt_path_string(p);
	rt_errors_add(v->out, ptr ? ptr : "", keyword, "%s", msg);
	free(ptr);
	return 1;
}

static int rt_is_integral(const json_t *j)
{
	if (json_is_integer(j))
		return 1;
	if (json_is_real(j)) {
		double d = json_real_value(j);
		return isfinite(d) && d == floor(d);
	}
	return 0;
}

static unsigned rt_type_of(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_NULL: return RT_T_NULL;
	case JSON_TRUE:
	case JSON_FALSE: return RT_T_BOOLEAN;
	case JSON_INTEGER: return RT_T_INTEGER | RT_T_NUMBER;
	case JSON_REAL: return rt_is_integral(j) ? (RT_T_INTEGER | RT_T_NUMBER) : RT_T_NUMBER;
	case JSON_STRING: return RT_T_STRING;
	case JSON_ARRAY: return RT_T_ARRAY;
	case JSON_OBJECT: return RT_T_OBJECT;
	}
	return 0;
}

static const char *rt_type_names(unsigned mask, char *buf, size_t len)
{
	static const char *const names[] = { "null", "boolean", "integer", "number", "string", "array", "object" };
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < 7; i++) {
		if (!(mask & (1u << i)))
			continue;
		if (mask & RT_T_NUMBER && i == 2)
			continue; /* "number" already covers integer */
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s", used ? " or " : "", names[i]);
	}
	return buf;
}

static const char *rt_json_type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_NULL: return "null";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return rt_is_integral(j) ? "integer" : "number";
	case JSON_STRING: return "string";
	case JSON_ARRAY: return "array";
	case JSON_OBJECT: return "object";
	}
	return "unknown";
}

int rt_json_equal(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return json_number_value(a) == json_number_value(b);
	}
	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a)) {
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!rt_json_equal(json_array_get(a, i), json_array_get(b, i)))
				return 0;
		return 1;
	case JSON_OBJECT: {
		const char *k;
		json_t *va;
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach((json_t *)a, k, va) {
			json_t *vb = json_object_get(b, k);
			if (!vb || !rt_json_equal(va, vb))
				return 0;
		}
		return 1;
	}
	default:
		return 1; /* null, true, false */
	}
}

static size_t rt_utf8_length(const char *s, size_t n)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			count++;
	return count;
}

static int rt_cache_ready(rt_vctx *v, const rt_schema *s, const rt_path *p)
{
	char err[300];

	if (!s->cache)
		return 0;
	if (rt_schema_prepare(s->cache, err, sizeof err) != 0)
		return rt_fail(v, p, "schema", "the schema at %s cannot be used: %s", s->where, err);
	return 0;
}

static int rt_validate(const rt_schema *s, const json_t *j, const rt_path *p, rt_vctx *v);

/* Validates into a private list; returns its violation count and leaves the
 * violations in *tmp (caller frees). With want == 0 nothing is built. */
static int rt_probe_ev(const rt_schema *s, const json_t *j, const rt_path *p, rt_vctx *v,
                       rt_errors *tmp, int want, rt_eval *ev)
{
	rt_vctx sub = { .dir = v->dir, .out = want ? tmp : NULL, .depth = v->depth, .ev = ev, .scope = v->scope };

	return rt_validate(s, j, p, &sub);
}

static int rt_probe(const rt_schema *s, const json_t *j, const rt_path *p, rt_vctx *v,
                    rt_errors *tmp, int want)
{
	rt_vctx sub = { .dir = v->dir, .out = want ? tmp : NULL, .depth = v->depth, .ev = NULL, .scope = v->scope };

	return rt_validate(s, j, p, &sub);
}

static int rt_validate_number(const rt_schema *s, const json_t *j, const rt_path *p, rt_vctx *v)
{
	int bad = 0;
	double x = json_number_value(j);

	if (s->flags & RT_S_HAS_MIN) {
		if (s->flags & RT_S_EXCL_MIN ? !(x > s->minimum) : !(x >= s->minimum))
			bad += rt_fail(v, p, s->flags & RT_S_EXCL_MIN ? "exclusiveMinimum" : "minimum",
			               "must be %s %.17g, got %.17g", s->flags & RT_S_EXCL_MIN ? "greater than" : "at least",
			               s->minimum, x);
	}
	if (s->flags & RT_S_HAS_MAX) {
		if (s->flags & RT_S_EXCL_MAX ? !(x < s->maximum) : !(x <= s->maximum))
			bad += rt_fail(v, p, s->flags & RT_S_EXCL_MAX ? "exclusiveMaximum" : "maximum",
			               "must be %s %.17g, got %.17g", s->flags & RT_S_EXCL_MAX ? "less than" : "at most",
			               s->maximum, x);
	}
	if ((s->flags & RT_S_HAS_EXCL_MIN2) && !(x > s->xminimum))
		bad += rt_fail(v, p, "exclusiveMinimum", "must be greater than %.17g, got %.17g", s->xminimum, x);
	if ((s->flags & RT_S_HAS_EXCL_MAX2) && !(x < s->xmaximum))
		bad += rt_fail(v, p, "exclusiveMaximum", "must be less than %.17g, got %.17g", s->xmaximum, x);
	if (s->flags & RT_S_HAS_MULTIPLE) {
		double m = s->multiple_of;
		int ok;
		if (json_is_integer(j) && m == floor(m) && fabs(m) < 9e15) {
			ok = json_integer_value(j) % (json_int_t)m == 0;
		} else {
			double q = x / m;
			ok = isfinite(q) ? fabs(q - nearbyint(q)) <= 1e-9 * fmax(1.0, fabs(q)) : rt_is_integral(j) && 1.0 / m == floor(1.0 / m);
		}
		if (!ok)
			bad += rt_fail(v, p, "multipleOf", "must be a multiple of %.17g, got %.17g", m, x);
	}
	if ((s->flags & RT_S_FORMAT_ASSERT) && (s->format == RT_FMT_INT32 || s->format == RT_FMT_INT64)) {
		if (!rt_is_integral(j))
			bad += rt_fail(v, p, "format", "must be an integer (%s)", s->format == RT_FMT_INT32 ? "int32" : "int64");
		else if (s->format == RT_FMT_INT32 && (x < -2147483648.0 || x > 2147483647.0))
			bad += rt_fail(v, p, "format", "must fit in int32, got %.17g", x);
		else if (s->format == RT_FMT_INT64 && json_is_real(j) && (x < -9223372036854775808.0 || x >= 9223372036854775808.0))
			bad += rt_fail(v, p, "format", "must fit in int64, got %.17g", x);
	}
	return bad;
}

static int rt_validate_string(const rt_schema *s, const json_t *j, const rt_path *p, rt_vctx *v)
{
	int bad = 0;
	const char *str = json_string_value(j);
	size_t bytes = json_string_length(j);

	if (s->flags & (RT_S_HAS_MIN_LENGTH | RT_S_HAS_MAX_LENGTH)) {
		size_t n = rt_utf8_length(str, bytes);
		if ((s->flags & RT_S_HAS_MIN_LENGTH) && n < (size_t)s->min_length)
			bad += rt_fail(v, p, "minLength", "must be at least %lld character%s long, got %zu",
			               (long long)s->min_length, s->min_length == 1 ? "" : "s", n);
		if ((s->flags & RT_S_HAS_MAX_LENGTH) && n > (size_t)s->max_length)
			bad += rt_fail(v, p, "maxLength", "must be at most %lld character%s long, got %zu",
			               (long long)s->max_length, s->max_length == 1 ? "" : "s", n);
	}
	if (s->cache && s->cache->regex) {
		pcre2_match_data *md = pcre2_match_data_create(1, NULL);
		int r = md ? pcre2_match((pcre2_code *)s->cache->regex, (PCRE2_SPTR)str, bytes, 0, 0, md, NULL) : -1;
		pcre2_match_data_free(md);
		if (r < 0)
			bad += rt_fail(v, p, "pattern", "must match the pattern %s", s->cache->pattern);
	}
	if (s->format != RT_FMT_NONE && (s->flags & RT_S_FORMAT_ASSERT)) {
		const char *why = rt_format_check(s->format, str, bytes);
		if (why)
			bad += rt_fail(v, p, "format", "must be a valid %s: %s", rt_format_name(s->format), why);
	}
	return bad;
}

static int rt_validate_array(const rt_schema *s, const json_t *j, const rt_path *p, rt_vctx *v)
{
	int bad = 0;
	size_t n = json_array_size(j);

	if ((s->flags & RT_S_HAS_MIN_ITEMS) && n < (size_t)s->min_items)
		bad += rt_fail(v, p, "minItems", "must have at least %lld item%s, got %zu", (long long)s->min_items,
		               s->min_items == 1 ? "" : "s", n);
	if ((s->flags & RT_S_HAS_MAX_ITEMS) && n > (size_t)s->max_items)
		bad += rt_fail(v, p, "maxItems", "must have at most %lld item%s, got %zu", (long long)s->max_items,
		               s->max_items == 1 ? "" : "s", n);
	if (s->flags & RT_S_UNIQUE) {
		for (size_t i = 1; i < n; i++) {
			for (size_t k = 0; k < i; k++) {
				if (rt_json_equal(json_array_get(j, i), json_array_get(j, k))) {
					rt_path ip = { p, NULL, i };
					bad += rt_fail(v, &ip, "uniqueItems", "must be unique, but equals item %zu", k);
					i = n;
					break;
				}
			}
		}
	}
	rt_eval *ev = v->ev;
	if (ev) {
		if (s->items)
			ev->all_items = 1;
		else if (s->prefix_items.n > ev->items_upto)
			ev->items_upto = s->prefix_items.n;
	}
	v->ev = NULL; /* the items are other instances */
	for (size_t i = 0; i < n; i++) {
		const rt_schema *is = i < s->prefix_items.n ? s->prefix_items.v[i] : s->items;
		if (is) {
			rt_path ip = { p, NULL, i };
			bad += rt_validate(is, json_array_get(j, i), &ip, v);
			if (bad && !v->out) {
				v->ev = ev;
				return bad;
			}
		}
	}
	v->ev = ev;
	if (s->contains) {
		size_t matches = 0;
		int64_t minc = (s->flags & RT_S_HAS_MIN_CONTAINS) ? s->min_contains : 1;
		for (size_t i = 0; i < n; i++) {
			rt_path ip = { p, NULL, i };
			if (rt_probe(s->contains, json_array_get(j, i), &ip, v, NULL, 0) == 0) {
				matches++;
				rt_eval_mark(v->ev, i);
			}
		}
		if (matches < (size_t)minc)
			bad += rt_fail(v, p, minc == 1 && !(s->flags & RT_S_HAS_MIN_CONTAINS) ? "contains" : "minContains",
			               "must contain at least %lld matching item%s, found %zu", (long long)minc,
			               minc == 1 ? "" : "s", matches);
		if ((s->flags & RT_S_HAS_MAX_CONTAINS) && matches > (size_t)s->max_contains)
			bad += rt_fail(v, p, "maxContains", "must contain at most %lld matching item%s, found %zu",
			               (long long)s->max_contains, s->max_contains == 1 ? "" : "s", matches);
	}
	return bad;
}

static const rt_schema *rt_find_property(const rt_schema *s, const char *name)
{
	size_t lo = 0, hi = s->n_properties;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, s->properties[mid].name);
		if (c == 0)
			return s->properties[mid].schema;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int rt_regex_matches(rt_schema_cache *c, const char *str, size_t len)
{
	pcre2_match_data *md;
	int r;

	if (rt_schema_prepare(c, NULL, 0) != 0 || !c->regex)
		return 0;
	md = pcre2_match_data_create(1, NULL);
	r = md ? pcre2_match((pcre2_code *)c->regex, (PCRE2_SPTR)str, len, 0, 0, md, NULL) : -1;
	pcre2_match_data_free(md);
	return r >= 0;
}

/* Is this property (by its schema) exempt from `required` in this direction? */
static int rt_required_exempt(const rt_schema *ps, enum rt_dir dir)
{
	for (int hops = 0; ps && hops < 16; hops++, ps = ps->ref) {
		if (dir == RT_DIR_REQUEST && (ps->flags & RT_S_READONLY))
			return 1;
		if (dir == RT_DIR_RESPONSE && (ps->flags & RT_S_WRITEONLY))
			return 1;
	}
	return 0;
}

static int rt_validate_object(const rt_schema *s, const json_t *j, const rt_path *p, rt_vctx *v)
{
	int bad = 0;
	size_t n = json_object_size(j);
	const char *key;
	json_t *val;

	if ((s->flags & RT_S_HAS_MIN_PROPS) && n < (size_t)s->min_properties)
		bad += rt_fail(v, p, "minProperties", "must have at least %lld propert%s, got %zu",
		               (long long)s->min_properties, s->min_properties == 1 ? "y" : "ies", n);
	if ((s->flags & RT_S_HAS_MAX_PROPS) && n > (size_t)s->max_properties)
		bad += rt_fail(v, p, "maxProperties", "must have at most %lld propert%s, got %zu",
		               (long long)s->max_properties, s->max_properties == 1 ? "y" : "ies", n);
	for (size_t i = 0; i < s->n_required; i++) {
		if (json_object_get(j, s->required[i]))
			continue;
		if (rt_required_exempt(rt_find_property(s, s->required[i]), v->dir))
			continue;
		bad += rt_fail(v, p, "required", "must have the required property \"%s\"", s->required[i]);
	}
	for (size_t i = 0; i < s->n_dependent_required; i++) {
		const char *const *dep = s->dependent_required[i];
		if (!json_object_get(j, dep[0]))
			continue;
		for (size_t k = 1; dep[k]; k++)
			if (!json_object_get(j, dep[k]))
				bad += rt_fail(v, p, "dependentRequired", "must have the property \"%s\" when \"%s\" is present",
				               dep[k], dep[0]);
	}
	for (size_t i = 0; i < s->n_dependent_schemas; i++)
		if (json_object_get(j, s->dependent_schemas[i].name))
			bad += rt_validate(s->dependent_schemas[i].schema, j, p, v);
	rt_eval *ev = v->ev;
	v->ev = NULL; /* property values are other instances */
	json_object_foreach((json_t *)j, key, val) {
		rt_path kp = { p, key, 0 };
		const rt_schema *ps = rt_find_property(s, key);
		int matched = ps != NULL;

		if (s->property_names) {
			json_t *name = json_string(key);
			if (name) {
				rt_errors tmp;
				rt_errors_init(&tmp);
				if (rt_probe(s->property_names, name, &kp, v, &tmp, v->out != NULL))
					bad += rt_fail(v, &kp, "propertyNames", "property name \"%s\" is not allowed%s%s", key,
					               tmp.n ? ": " : "", tmp.n ? tmp.v[0].message : "");
				rt_errors_free(&tmp);
				json_decref(name);
			}
		}
		if (ps) {
			rt_eval_prop(ev, key);
			bad += rt_validate(ps, val, &kp, v);
		}
		for (size_t i = 0; i < s->n_pattern_properties; i++) {
			if (rt_regex_matches(s->pattern_properties[i].regex, key, strlen(key))) {
				matched = 1;
				rt_eval_prop(ev, key);
				bad += rt_validate(s->pattern_properties[i].schema, val, &kp, v);
			}
		}
		if (!matched) {
			if (s->flags & RT_S_NO_ADDL)
				bad += rt_fail(v, &kp, "additionalProperties", "is not allowed (unknown property \"%s\")", key);
			else if (s->additional) {
				rt_eval_prop(ev, key);
				bad += rt_validate(s->additional, val, &kp, v);
			}
		}
		if (bad && !v->out)
			break;
	}
	v->ev = ev;
	return bad;
}

/* The branch of a failed anyOf/oneOf that came closest: fewest violations. */
static int rt_closest(const rt_schema_list *l, const json_t *j, const rt_path *p, rt_vctx *v, rt_errors *best)
{
	int best_i = -1;

	for (size_t i = 0; i < l->n; i++) {
		rt_errors tmp;
		rt_errors_init(&tmp);
		rt_probe(l->v[i], j, p, v, &tmp, 1);
		if (best_i < 0 || tmp.n < best->n) {
			rt_errors_free(best);
			*best = tmp;
			best_i = (int)i;
		} else {
			rt_errors_free(&tmp);
		}
	}
	return best_i;
}

static int rt_validate_combinators(const rt_schema *s, const json_t *j, const rt_path *p, rt_vctx *v)
{
	int bad = 0;

	for (size_t i = 0; i < s->all_of.n; i++)
		bad += rt_validate(s->all_of.v[i], j, p, v);
	if (s->disc_property && json_is_object(j) && (s->one_of.n || s->any_of.n)) {
		const json_t *dv = json_object_get(j, s->disc_property);
		const char *val = json_string_value(dv);
		const rt_schema *target = NULL;
		for (size_t i = 0; val && i < s->n_disc_map; i++)
			if (strcmp(s->disc_map[i].value, val) == 0)
				target = s->disc_map[i].schema;
		if (target)
			return bad + rt_validate(target, j, p, v);
		if (!dv)
			return bad + rt_fail(v, p, "discriminator", "must have the discriminator property \"%s\"", s->disc_property);
		if (s->n_disc_map)
			return bad + rt_fail(v, p, "discriminator", "discriminator \"%s\" has an unknown value",
			                     s->disc_property);
	}
	if (s->any_of.n) {
		int ok = 0;
		for (size_t i = 0; i < s->any_of.n && (!ok || v->ev); i++) {
			rt_eval be = { 0 };
			if (rt_probe_ev(s->any_of.v[i], j, p, v, NULL, 0, v->ev ? &be : NULL) == 0) {
				ok = 1;
				rt_eval_merge(v->ev, &be);
			}
			rt_eval_free(&be);
		}
		if (!ok) {
			bad++;
			if (v->out) {
				rt_errors best;
				rt_errors_init(&best);
				int bi = rt_closest(&s->any_of, j, p, v, &best);
				rt_fail(v, p, "anyOf", "must match at least one of %zu alternatives; the closest, #%d, fails with %zu violation%s",
				        s->any_of.n, bi, best.n, best.n == 1 ? "" : "s");
				rt_errors_move(v->out, &best);
				rt_errors_free(&best);
			}
		}
	}
	if (s->one_of.n) {
		int first = -1, second = -1;
		rt_eval first_ev = { 0 };
		for (size_t i = 0; i < s->one_of.n && second < 0; i++) {
			rt_eval be = { 0 };
			if (rt_probe_ev(s->one_of.v[i], j, p, v, NULL, 0, v->ev ? &be : NULL) == 0) {
				if (first < 0) {
					first = (int)i;
					rt_eval_merge(&first_ev, &be);
				} else {
					second = (int)i;
				}
			}
			rt_eval_free(&be);
		}
		if (first >= 0 && second < 0)
			rt_eval_merge(v->ev, &first_ev);
		rt_eval_free(&first_ev);
		if (first < 0) {
			bad++;
			if (v->out) {
				rt_errors best;
				rt_errors_init(&best);
				int bi = rt_closest(&s->one_of, j, p, v, &best);
				rt_fail(v, p, "oneOf", "must match exactly one of %zu alternatives but matches none; the closest, #%d, fails with %zu violation%s",
				        s->one_of.n, bi, best.n, best.n == 1 ? "" : "s");
				rt_errors_move(v->out, &best);
				rt_errors_free(&best);
			}
		} else if (second >= 0) {
			bad += rt_fail(v, p, "oneOf", "must match exactly one alternative but matches #%d and #%d", first, second);
		}
	}
	if (s->not_ && rt_probe(s->not_, j, p, v, NULL, 0) == 0)
		bad += rt_fail(v, p, "not", "must not match the schema in \"not\"");
	if (s->if_) {
		rt_eval ie = { 0 };
		int if_ok = rt_probe_ev(s->if_, j, p, v, NULL, 0, v->ev ? &ie : NULL) == 0;
		if (if_ok)
			rt_eval_merge(v->ev, &ie);
		rt_eval_free(&ie);
		if (if_ok) {
			if (s->then_)
				bad += rt_validate(s->then_, j, p, v);
		} else if (s->else_) {
			bad += rt_validate(s->else_, j, p, v);
		}
	}
	return bad;
}

/* $dynamicRef's target: the schema its anchor names in the outermost
 * resource of the dynamic scope that declares it, else the initial target. */
static const rt_schema *rt_dynamic_target(const rt_schema *s, const rt_vctx *v)
{
	const rt_schema *found = NULL;

	if (!s->dyn_name)
		return s->dyn_ref;
	for (const rt_scope *sc = v->scope; sc; sc = sc->up)
		for (size_t i = 0; i < sc->res->n_dyn_anchors; i++)
			if (strcmp(sc->res->dyn_anchors[i].name, s->dyn_name) == 0)
				found = sc->res->dyn_anchors[i].schema;
	return found ? found : s->dyn_ref;
}

static int rt_validate(const rt_schema *s, const json_t *j, const rt_path *p, rt_vctx *v)
{
	int bad = 0;
	unsigned t;
	rt_eval *outer = v->ev, mine = { 0 };
	const rt_scope *outer_scope = v->scope;
	rt_scope frame;

	if (!s)
		return 0;
	if (v->depth >= RT_SCHEMA_MAX_DEPTH)
		return rt_fail(v, p, "depth", "is nested too deeply (more than %d levels)", RT_SCHEMA_MAX_DEPTH);
	if (s->flags & RT_S_FALSE)
		return rt_fail(v, p, "false", "is not allowed here");
	if ((s->flags & RT_S_NULLABLE) && json_is_null(j))
		return 0;
	if (rt_cache_ready(v, s, p))
		return 1;
	v->depth++;
	if (s->resource && (!v->scope || v->scope->res != s->resource)) {
		frame.res = s->resource;
		frame.up = v->scope;
		v->scope = &frame;
	}
	/* track what this location evaluates when an unevaluated* keyword here
	 * or around it needs to know */
	v->ev = (outer || s->unevaluated_properties || s->unevaluated_items) ? &mine : NULL;
	if (v->dir == RT_DIR_REQUEST && (s->flags & RT_S_READONLY))
		bad += rt_fail(v, p, "readOnly", "is read-only and must not be sent in a request");
	if (v->dir == RT_DIR_RESPONSE && (s->flags & RT_S_WRITEONLY))
		bad += rt_fail(v, p, "writeOnly", "is write-only and must not appear in a response");
	t = rt_type_of(j);
	if (s->types && !(s->types & t)) {
		char want[80];
		bad += rt_fail(v, p, "type", "must be %s, got %s", rt_type_names(s->types, want, sizeof want),
		               rt_json_type_name(j));
		goto done; /* the type-specific keywords would only repeat it */
	}
	if (s->cache && s->cache->const_value && !rt_json_equal(s->cache->const_value, j))
		bad += rt_fail(v, p, "const", "must be equal to the constant %s", s->cache->const_json);
	if (s->cache && s->cache->enum_values) {
		size_t i, n = json_array_size(s->cache->enum_values);
		for (i = 0; i < n; i++)
			if (rt_json_equal(json_array_get(s->cache->enum_values, i), j))
				break;
		if (i == n)
			bad += rt_fail(v, p, "enum", "must be one of %.300s", s->cache->enum_json);
	}
	if (t & RT_T_NUMBER)
		bad += rt_validate_number(s, j, p, v);
	else if (t == RT_T_STRING)
		bad += rt_validate_string(s, j, p, v);
	else if (t == RT_T_ARRAY)
		bad += rt_validate_array(s, j, p, v);
	else if (t == RT_T_OBJECT)
		bad += rt_validate_object(s, j, p, v);
	if (bad && !v->out)
		goto done;
	if (s->ref)
		bad += rt_validate(s->ref, j, p, v);
	if (s->dyn_ref)
		bad += rt_validate(rt_dynamic_target(s, v), j, p, v);
	bad += rt_validate_combinators(s, j, p, v);
	if (t == RT_T_OBJECT && s->unevaluated_properties) {
		const char *key;
		json_t *val;
		v->ev = NULL;
		json_object_foreach((json_t *)j, key, val) {
			rt_path kp = { p, key, 0 };
			if (rt_eval_has_prop(&mine, key))
				continue;
			if (s->unevaluated_properties->flags & RT_S_FALSE)
				bad += rt_fail(v, &kp, "unevaluatedProperties", "is not allowed (property \"%s\" is not evaluated by the schema)", key);
			else
				bad += rt_validate(s->unevaluated_properties, val, &kp, v);
		}
		v->ev = &mine;
		mine.all_props = 1;
	}
	if (t == RT_T_ARRAY && s->unevaluated_items) {
		v->ev = NULL;
		for (size_t i = 0; i < json_array_size(j); i++) {
			rt_path ip = { p, NULL, i };
			if (rt_eval_has_item(&mine, i))
				continue;
			if (s->unevaluated_items->flags & RT_S_FALSE)
				bad += rt_fail(v, &ip, "unevaluatedItems", "is not allowed (item %zu is not evaluated by the schema)", i);
			else
				bad += rt_validate(s->unevaluated_items, json_array_get(j, i), &ip, v);
		}
		v->ev = &mine;
		mine.all_items = 1;
	}
done:
	v->depth--;
	v->scope = outer_scope;
	v->ev = outer;
	if (outer && bad == 0)
		rt_eval_merge(outer, &mine);
	rt_eval_free(&mine);
	return bad;
}

int rt_schema_validate(const rt_schema *s, const json_t *instance, enum rt_dir dir, rt_errors *out)
{
	rt_vctx v = { .dir = dir, .out = out, .depth = 0 };
	size_t before = out ? out->n : 0;
	int bad = rt_validate(s, instance, NULL, &v);

	if (out && bad && out->n == before)
		rt_errors_add(out, "", "schema", "is not valid");
	return out ? (int)(out->n - before) : bad;
}

int rt_schema_check(const rt_schema *s, const json_t *instance, enum rt_dir dir)
{
	rt_vctx v = { .dir = dir, .out = NULL, .depth = 0 };

	return rt_validate(s, instance, NULL, &v) == 0;
}

unsigned rt_schema_types(const rt_schema *s)
{
	for (int hops = 0; s && hops < 16; hops++) {
		if (s->types)
			return s->types;
		if (s->ref)
			s = s->ref;
		else if (s->all_of.n == 1)
			s = s->all_of.v[0];
		else
			break;
	}
	return 0;
}

const rt_schema *rt_schema_items(const rt_schema *s)
{
	for (int hops = 0; s && hops < 16; hops++, s = s->ref)
		if (s->items)
			return s->items;
	return NULL;
}

const rt_schema *rt_schema_property(const rt_schema *s, const char *name)
{
	for (int hops = 0; s && hops < 16; hops++, s = s->ref) {
		const rt_schema *ps = rt_find_property(s, name);
		if (ps)
			return ps;
	}
	return NULL;
}

const json_t *rt_schema_default(const rt_schema *s)
{
	for (int hops = 0; s && hops < 16; hops++, s = s->ref) {
		if (s->cache && s->cache->default_json) {
			if (rt_schema_prepare(s->cache, NULL, 0) != 0)
				return NULL;
			return s->cache->default_value;
		}
	}
	return NULL;
}

static int rt_apply_defaults(const rt_schema *s, json_t *instance, int depth)
{
	int added = 0;

	if (!s || depth > 64 || !json_is_object(instance))
		return 0;
	for (int hops = 0; s && hops < 16; hops++, s = s->ref) {
		for (size_t i = 0; i < s->n_properties; i++) {
			json_t *cur = json_object_get(instance, s->properties[i].name);
			if (cur) {
				added += rt_apply_defaults(s->properties[i].schema, cur, depth + 1);
				continue;
			}
			const json_t *d = rt_schema_default(s->properties[i].schema);
			if (d) {
				json_object_set_new(instance, s->properties[i].name, json_deep_copy(d));
				added++;
			}
		}
		for (size_t i = 0; i < s->all_of.n; i++)
			added += rt_apply_defaults(s->all_of.v[i], instance, depth + 1);
	}
	return added;
}

int rt_schema_apply_defaults(const rt_schema *s, json_t *instance)
{
	return rt_apply_defaults(s, instance, 0);
}

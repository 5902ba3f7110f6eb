/* gen_schema.c — the schema compiler's analysis: JSON Schema (OpenAPI 3.0 /
 * 2020-12) into the model of schema_ir.h, one function per keyword, each
 * checking its input. Naming and registration come first, so recursive
 * schemas are cycles of pointers. The emitters (gen_schema_tables.c,
 * gen_model.c) print from the model. */
#include "gen_schema.h"
#include "gen_schema_int.h"
#include "gen_arena.h"
#include "gen_text.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rt_pattern.h"

/* Deeper schema nesting (not $ref chains, which are pointers) is refused. */
#define GS_MAX_DEPTH 200
/* A $ref met deeper than this is named at once and analysed later from the
 * top (gen_schema_compile), so long chains of distinct schemas neither
 * exhaust the stack nor count as nesting. */
#define GS_DEFER_DEPTH 48
#define GS_RESERVE (-1) /* depth argument: only name and register the schema */

gen_schema *gen_schema_new(docset *ds, const char *prefix, int dialect)
{
	gen_schema *g = calloc(1, sizeof *g);

	if (!g)
		return NULL;
	g->ds = ds;
	g->prefix = strdup(prefix);
	g->mem = gen_arena_new();
	g->dialect = dialect;
	g->format_assert = 1;
	g->resources = json_object();
	g->pending = json_array();
	return g;
}

/* What of a schema is not in g->mem: the arrays grown one entry at a time. */
static void gs_schema_free(si_schema *s)
{
	free(s->dep_required);
	free(s->dep_schemas.v);
	free(s->disc_map.v);
}

void gen_schema_free(gen_schema *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		gs_schema_free(g->v[i]);
	free(g->v);
	for (size_t i = 0; i < g->nres; i++) {
		free(g->res[i]->uri);
		free(g->res[i]->where);
		free(g->res[i]->anchors.v);
		free(g->res[i]);
	}
	free(g->res);
	free(g->prefix);
	gen_strtab_free(&g->by_uri);
	gen_strtab_free(&g->names);
	json_decref(g->resources);
	json_decref(g->pending);
	gen_strtab_free(&g->hints);
	gen_arena_free(g->mem);
	free(g);
}

void gen_schema_set_format_assert(gen_schema *g, int on)
{
	g->format_assert = on;
}

size_t gen_schema_count(const gen_schema *g)
{
	return g->n;
}

const si_schema *gen_schema_at(const gen_schema *g, size_t i)
{
	return g->v[i];
}

const si_schema *gen_schema_find(const gen_schema *g, const char *symbol)
{
	const char *uri = gen_strtab_get(&g->names, symbol);

	return uri ? gen_strtab_get(&g->by_uri, uri) : NULL;
}

static int gs_error(gen_schema *g, const char *uri, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* "file: /json/pointer: what" */
static int gs_error(gen_schema *g, const char *uri, char *err, size_t errlen, const char *fmt, ...)
{
	char what[400];
	va_list ap;
	const char *hash = strchr(uri, '#');

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s: %s: %s", docset_display(g->ds, uri), hash && hash[1] ? hash + 1 : "/", what);
	return -1;
}

/* The uri of a sub-schema: uri/key[/name] (a '#' first when uri has none),
 * the tokens escaped, in buf[0..size) when it fits (most do), else new
 * (free() it when it is not buf); NULL out of memory. */
static char *gs_child(char *buf, size_t size, const char *uri, const char *key, const char *name)
{
	size_t ul = strlen(uri), hash = !memchr(uri, '#', ul), kl = docset_token_escape(NULL, key);
	size_t nl = name ? docset_token_escape(NULL, name) : 0, n = ul + hash + 1 + kl + (name ? 1 + nl : 0) + 1;
	char *out = n <= size ? buf : malloc(n), *o = out;

	if (!out)
		return NULL;
	memcpy(o, uri, ul);
	o += ul;
	if (hash)
		*o++ = '#';
	*o++ = '/';
	o += docset_token_escape(o, key);
	if (name) {
		*o++ = '/';
		docset_token_escape(o, name);
	}
	return out;
}

static int gs_is_schema(const json_t *j)
{
	return json_is_object(j) || json_is_boolean(j);
}

static int gs_cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of obj, sorted (strcmp): deterministic order (new array). */
static const char **gs_sorted_keys(const json_t *obj, size_t *n)
{
	const char **keys = calloc(json_object_size(obj) + 1, sizeof *keys);
	const char *k;
	json_t *v;
	size_t i = 0;

	if (!keys)
		return NULL;
	json_object_foreach((json_t *)obj, k, v)
		keys[i++] = k;
	qsort(keys, i, sizeof *keys, gs_cmp_keys);
	*n = i;
	return keys;
}

/* ---- registration ---- */

/* A name for the schema at uri (gen_schema_name.c), unique among the
 * symbols so far; *symbol and *model new. Named components that collide
 * in one document stop the generator. */
static int gs_register(gen_schema *g, const char *uri, size_t len, uint64_t h, const json_t *node,
                       const si_schema *parent, si_schema **out, char *err, size_t errlen)
{
	si_schema *s;
	int rc;

	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 32;
		si_schema **v = realloc(g->v, cap * sizeof *v);
		if (!v)
			return -1;
		g->v = v;
		g->cap = cap;
	}
	s = gen_arena_zalloc(g->mem, sizeof *s);
	if (!s)
		return -1;
	s->node = node;
	s->uri = gen_arena_strndup(g->mem, uri, len);
	rc = s->uri ? gen_schema_name_schema(g, s, parent, err, errlen) : -1;
	if (rc != 0)
		return -1;
	{
		const char *hash = strchr(uri, '#'), *disp = docset_display(g->ds, uri), *frag = hash ? hash + 1 : "";
		size_t dl = strlen(disp), fl = strlen(frag);
		s->where = gen_arena_chars(g->mem, dl + fl + 2);
		if (!s->where)
			return -1;
		memcpy(s->where, disp, dl);
		s->where[dl] = '#';
		memcpy(s->where + dl + 1, frag, fl + 1);
	}
	if (gen_strtab_put_h(&g->by_uri, s->uri, len, h, s) != 0)
		return -1;
	g->v[g->n++] = s;
	*out = s;
	return 0;
}

static int gs_analyse(gen_schema *g, si_schema *s, int depth, char *err, size_t errlen);

/* The schema at uri, registered (and analysed, unless depth is GS_RESERVE:
 * then it is analysed later from the top); parent, when uri is below the
 * parent's (a sub-schema), else NULL (a $ref's target). */
static int gs_reach(gen_schema *g, const char *uri, const json_t *node, const si_schema *parent, int depth,
                    si_schema **out, char *err, size_t errlen)
{
	size_t len = strlen(uri);
	uint64_t hash = gen_strtab_hash(uri, len);
	si_schema *known = gen_strtab_get_h(&g->by_uri, uri, len, hash);

	if (known) {
		*out = known;
		return 0;
	}
	if (depth > GS_MAX_DEPTH)
		return gs_error(g, uri, err, errlen, "schema nested more than %d levels deep", GS_MAX_DEPTH);
	if (!gs_is_schema(node))
		return gs_error(g, uri, err, errlen, "must be a schema (an object or a boolean)");
	if (gs_register(g, uri, len, hash, node, parent, out, err, errlen) != 0)
		return -1;
	if (depth == GS_RESERVE)
		return json_array_append_new(g->pending, json_string(uri)) == 0 ? 0 : -1;
	return gs_analyse(g, *out, depth, err, errlen);
}

/* The depth to reach the target of a $ref (or $dynamicRef, or a dynamic
   anchor, or a discriminator mapping) at, met at depth: past
   GS_DEFER_DEPTH only named now, analysed later from the top. */
static int gs_ref_depth(int depth)
{
	return depth + 1 > GS_DEFER_DEPTH ? GS_RESERVE : depth + 1;
}

/* The sub-schema at uri/key/name (name NULL: at uri/key) of the schema s. */
static int gs_sub2(gen_schema *g, const si_schema *s, const char *key, const char *name, const json_t *node,
                   int depth, si_schema **out, char *err, size_t errlen)
{
	char buf[512], *cu = gs_child(buf, sizeof buf, s->uri, key, name);
	int rc = cu ? gs_reach(g, cu, node, s, depth + 1, out, err, errlen) : -1;

	if (cu != buf)
		free(cu);
	return rc;
}

/* The sub-schema at uri/key of the schema s. */
static int gs_sub(gen_schema *g, const si_schema *s, const char *key, const json_t *node, int depth,
                  si_schema **out, char *err, size_t errlen)
{
	return gs_sub2(g, s, key, NULL, node, depth, out, err, errlen);
}

/* Resolves ref against base; the target, reached at gs_ref_depth. */
static int gs_target(gen_schema *g, const char *uri, const char *base, const char *ref, int depth,
                     si_schema **out, char *err, size_t errlen)
{
	char *turi = NULL;
	const json_t *target = docset_resolve(g->ds, base, ref, &turi, err, errlen);
	int rc;

	if (!target) {
		char why[300];
		snprintf(why, sizeof why, "%s", err);
		return gs_error(g, uri, err, errlen, "%s", why);
	}
	rc = gs_reach(g, turi, target, NULL, gs_ref_depth(depth), out, err, errlen);
	free(turi);
	return rc;
}

/* ---- the keywords: each checks its input and fills the model ---- */

#define GS_KEYS_SEEN 16

typedef struct gs_kw_ctx {
	gen_schema *g;
	si_schema *s;
	const json_t *node;
	const char *base;  /* the base URI in force in the schema */
	uint64_t keys;     /* gs_key_bit of each key of node */
	/* node's keys and values, when it has at most GS_KEYS_SEEN (most
	 * schemas): a keyword is found among them without a hash */
	struct { const char *k; size_t len; const json_t *v; } seen[GS_KEYS_SEEN];
	size_t nseen;      /* > GS_KEYS_SEEN: too many, ask jansson */
	int depth;
	char *err;
	size_t errlen;
} gs_kw_ctx;

static int gs_resource(gen_schema *g, const char *uri, int depth, const char **rsym, char *err, size_t errlen);

/* A filter of a schema's keys, so that the forty-odd keywords looked for
 * in each schema cost no hash lookup when absent (most are): a bit per
 * key, from its length and its first and last bytes. */
static unsigned gs_key_bit(const char *k, size_t len)
{
	return len ? ((unsigned)len * 7u + (unsigned char)k[0] + (unsigned char)k[len - 1]) & 63u : 0;
}

/* gs_getn past its filter. */
static const json_t *gs_getn_seen(const gs_kw_ctx *c, const char *key, size_t len)
{
	if (c->nseen > GS_KEYS_SEEN)
		return json_object_getn(c->node, key, len);
	for (size_t i = 0; i < c->nseen; i++)
		if (c->seen[i].len == len && c->seen[i].k[0] == key[0] && memcmp(c->seen[i].k, key, len) == 0)
			return c->seen[i].v;
	return NULL;
}

/* The keyword key[0..len) of the schema (borrowed), NULL when absent: the
 * filter first (inline: most keywords looked for are absent), then the
 * keys seen. */
static inline const json_t *gs_getn(const gs_kw_ctx *c, const char *key, size_t len)
{
	return c->keys >> gs_key_bit(key, len) & 1 ? gs_getn_seen(c, key, len) : NULL;
}

/* gs_getn of a keyword, mostly a literal (its strlen then a constant) */
#define gs_get(c, key) gs_getn((c), (key), strlen(key))
/* a literal keyword and its length, for a table gs_getn reads */
#define GS_KW(key) key, sizeof key - 1

#define GS_FAIL(c, ...) gs_error((c)->g, (c)->s->uri, (c)->err, (c)->errlen, __VA_ARGS__)

/* Keywords of JSON Schema that we do not implement: refused, never ignored. */
static int gs_kw_unsupported(gs_kw_ctx *c)
{
	static const struct { const char *keyword, *hint; } unsupported[] = {
		{ "$recursiveRef", " (JSON Schema 2019-09; OpenAPI 3.1 schemas are 2020-12: write a \"$ref\" to the"
		                   " schema's own component, or \"$dynamicRef\" with a \"$dynamicAnchor\")" },
	};

	for (size_t u = 0; u < sizeof unsupported / sizeof unsupported[0]; u++) {
		const json_t *kw = gs_get(c, unsupported[u].keyword);
		if (kw && !json_is_true(kw))
			return GS_FAIL(c, "\"%s\" is not supported%s", unsupported[u].keyword, unsupported[u].hint);
	}
	return 0;
}

/* $ref: in 3.0 / draft 4 it replaces the schema (the caller stops after
 * it); in 2020-12 it is one more keyword beside the others. */
static int gs_kw_ref(gs_kw_ctx *c)
{
	const json_t *ref = gs_get(c, "$ref");

	if (!ref)
		return 0;
	if (!json_is_string(ref))
		return GS_FAIL(c, "\"$ref\" must be a string");
	return gs_target(c->g, c->s->uri, c->base, json_string_value(ref), c->depth, &c->s->ref, c->err, c->errlen);
}

/* $dynamicRef (2020-12): resolved like $ref; when that initial target is a
 * $dynamicAnchor of its resource, the validator looks the name up in the
 * dynamic scope (the outermost resource entered that declares it). */
static int gs_kw_dynamic_ref(gs_kw_ctx *c)
{
	const json_t *dref = gs_get(c, "$dynamicRef");
	char *abs, *frag;

	if (!dref)
		return 0;
	if (c->g->dialect == GEN_DIALECT_30)
		return GS_FAIL(c, "\"$dynamicRef\" is not supported in OpenAPI 3.0 schemas (it is JSON Schema 2020-12, OpenAPI 3.1)");
	if (!json_is_string(dref))
		return GS_FAIL(c, "\"$dynamicRef\" must be a string");
	if (gs_target(c->g, c->s->uri, c->base, json_string_value(dref), c->depth, &c->s->dyn_ref, c->err, c->errlen) != 0)
		return -1;
	abs = docset_uri_resolve(c->base, json_string_value(dref));
	frag = abs ? strchr(abs, '#') : NULL;
	if (frag && frag[1] && frag[1] != '/') {
		*frag++ = '\0';
		if (json_object_get(docset_dynamic_anchors(c->g->ds, abs), frag))
			c->s->dyn_name = gen_arena_strdup(c->g->mem, frag);
	}
	free(abs);
	return 0;
}

/* The 2020-12 resource the schema belongs to, when it declares $dynamicAnchors. */
static int gs_kw_resource(gs_kw_ctx *c)
{
	if (c->g->dialect != GEN_DIALECT_31)
		return 0;
	return gs_resource(c->g, c->s->uri, c->depth, &c->s->resource, c->err, c->errlen);
}

static unsigned gs_type_bits(const char *t)
{
	static const struct { const char *n; unsigned b; } types[] = {
#define RT_SCHEMA_TYPE(name, bit, json) { json, SI_T_##name },
#include "rt_schema_flags.def"
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(types[i].n, t) == 0)
			return types[i].b | (types[i].b == SI_T_NUMBER ? SI_T_INTEGER : 0);
	return 0;
}

static int gs_kw_type(gs_kw_ctx *c)
{
	const json_t *type = gs_get(c, "type");

	if (json_is_string(type)) {
		c->s->types = gs_type_bits(json_string_value(type));
		if (!c->s->types)
			return GS_FAIL(c, "unknown type \"%s\"", json_string_value(type));
	} else if (json_is_array(type)) {
		for (size_t i = 0; i < json_array_size(type); i++) {
			const char *t = json_string_value(json_array_get(type, i));
			unsigned b = t ? gs_type_bits(t) : 0;
			if (!b)
				return GS_FAIL(c, "\"type\" holds an unknown type");
			c->s->types |= b;
		}
	} else if (type) {
		return GS_FAIL(c, "\"type\" must be a string or an array of strings");
	}
	return 0;
}

/* nullable, readOnly, writeOnly, uniqueItems */
static int gs_kw_booleans(gs_kw_ctx *c)
{
	static const struct { const char *kw; size_t len; unsigned flag; } kws[] = {
		{ GS_KW("nullable"), SI_F_NULLABLE }, { GS_KW("readOnly"), SI_F_READONLY },
		{ GS_KW("writeOnly"), SI_F_WRITEONLY }, { GS_KW("uniqueItems"), SI_F_UNIQUE },
	};

	for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++)
		if (json_is_true(gs_getn(c, kws[i].kw, kws[i].len)))
			c->s->flags |= kws[i].flag;
	return 0;
}

/* minimum, maximum, exclusiveMinimum/Maximum (3.0 booleans, 2020-12 numbers), multipleOf */
static int gs_kw_bounds(gs_kw_ctx *c)
{
	const json_t *mn = gs_get(c, "minimum"), *mx = gs_get(c, "maximum");
	const json_t *xmn = gs_get(c, "exclusiveMinimum");
	const json_t *xmx = gs_get(c, "exclusiveMaximum");
	const json_t *mult = gs_get(c, "multipleOf");
	si_schema *s = c->s;

	if (mn) {
		if (!json_is_number(mn))
			return GS_FAIL(c, "\"minimum\" must be a number");
		s->flags |= SI_F_HAS_MIN | (json_is_true(xmn) ? SI_F_EXCL_MIN : 0);
		s->minimum = json_number_value(mn);
	}
	if (mx) {
		if (!json_is_number(mx))
			return GS_FAIL(c, "\"maximum\" must be a number");
		s->flags |= SI_F_HAS_MAX | (json_is_true(xmx) ? SI_F_EXCL_MAX : 0);
		s->maximum = json_number_value(mx);
	}
	if (json_is_number(xmn)) {
		s->flags |= SI_F_HAS_EXCL_MIN2;
		s->xminimum = json_number_value(xmn);
	}
	if (json_is_number(xmx)) {
		s->flags |= SI_F_HAS_EXCL_MAX2;
		s->xmaximum = json_number_value(xmx);
	}
	if (mult) {
		if (!json_is_number(mult) || !(json_number_value(mult) > 0))
			return GS_FAIL(c, "\"multipleOf\" must be a number greater than 0");
		s->flags |= SI_F_HAS_MULTIPLE;
		s->multiple_of = json_number_value(mult);
	}
	return 0;
}

/* minLength ... maxContains: non-negative integers, each with its flag */
static int gs_kw_limits(gs_kw_ctx *c)
{
	static const struct { const char *kw; size_t len; unsigned flag; } kws[SI_L_COUNT] = {
#define RT_SCHEMA_LIMIT(field, keyword, flag) { GS_KW(keyword), SI_F_##flag },
#include "rt_schema_flags.def"
	};

	for (size_t i = 0; i < SI_L_COUNT; i++) {
		const json_t *v = gs_getn(c, kws[i].kw, kws[i].len);
		double d = json_is_real(v) ? json_real_value(v) : 0;
		if (!v)
			continue;
		if (json_is_real(v) && d >= 9223372036854775807.0) {
			/* an integer too big for 64 bits (read as a real): no length or
			 * count reaches it, so the largest one means the same */
			c->s->limit[i] = INT64_MAX;
		} else if (json_is_real(v) && d >= 0 && d == (double)(json_int_t)d) {
			c->s->limit[i] = (int64_t)d;
		} else if (json_is_integer(v) && json_integer_value(v) >= 0) {
			c->s->limit[i] = json_integer_value(v);
		} else {
			return GS_FAIL(c, "\"%s\" must be a non-negative integer", kws[i].kw);
		}
		c->s->flags |= kws[i].flag;
	}
	return 0;
}

/* format: a name the runtime knows (an unknown one is an annotation) */
static int gs_kw_format(gs_kw_ctx *c)
{
	static const char *const names[SI_FMT_COUNT] = {
#define RT_SCHEMA_FORMAT(name, text) text,
#include "rt_schema_flags.def"
	};
	const char *fmt = json_string_value(gs_get(c, "format"));

	for (size_t i = 1; fmt && i < SI_FMT_COUNT; i++) {
		if (strcmp(names[i], fmt) == 0) {
			c->s->format = (enum si_format)i;
			if (c->g->format_assert || c->g->dialect == GEN_DIALECT_30)
				c->s->flags |= SI_F_FORMAT_ASSERT;
			break;
		}
	}
	return 0;
}

/* pattern, enum, const, default: kept as written, compiled at start-up */
static int gs_kw_values(gs_kw_ctx *c)
{
	const json_t *pat = gs_get(c, "pattern");
	const json_t *en = gs_get(c, "enum");

	if (pat && !json_is_string(pat))
		return GS_FAIL(c, "\"pattern\" must be a string");
	if (en && !json_is_array(en))
		return GS_FAIL(c, "\"enum\" must be an array");
	/* one PCRE2 cannot hold is not enforced (check.c warns) */
	c->s->pattern = pat && !rt_pattern_unenforced(json_string_value(pat)) ? json_string_value(pat) : NULL;
	c->s->enum_ = en;
	c->s->const_ = gs_get(c, "const");
	c->s->default_ = gs_get(c, "default");
	return 0;
}

/* A non-empty array of schemas at key into l. */
static int gs_list(gs_kw_ctx *c, const char *key, si_list *l)
{
	const json_t *arr = gs_get(c, key);
	size_t n = json_array_size(arr);

	if (!json_is_array(arr) || n == 0)
		return GS_FAIL(c, "\"%s\" must be a non-empty array of schemas", key);
	l->v = gen_arena_zalloc(c->g->mem, n * sizeof *l->v);
	if (!l->v)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char idx[32], buf[512], *cu;
		int rc = -1;
		docset_index_token(idx, i);
		if (!(cu = gs_child(buf, sizeof buf, c->s->uri, key, idx)))
			return -1;
		if (!gs_is_schema(json_array_get(arr, i)))
			gs_error(c->g, cu, c->err, c->errlen, "must be a schema (an object or a boolean)");
		else
			rc = gs_reach(c->g, cu, json_array_get(arr, i), c->s, c->depth + 1, &l->v[i], c->err, c->errlen);
		if (cu != buf)
			free(cu);
		if (rc != 0)
			return -1;
		l->n = i + 1;
	}
	return 0;
}

/* One sub-schema at key, when present (and, with `check`, a schema). */
static int gs_one(gs_kw_ctx *c, const char *key, int check, si_schema **out)
{
	const json_t *sub = gs_get(c, key);

	if (!sub)
		return 0;
	if (check && !gs_is_schema(sub))
		return GS_FAIL(c, "\"%s\" must be a schema", key);
	return gs_sub(c->g, c->s, key, sub, c->depth, out, c->err, c->errlen);
}

/* items (a schema; in draft 4 also an array, then additionalItems), prefixItems */
static int gs_kw_items(gs_kw_ctx *c)
{
	const json_t *items = gs_get(c, "items");

	if (json_is_array(items) && c->g->dialect == GEN_DIALECT_30) {
		c->s->prefix_from_items = 1;
		if (json_array_size(items) && gs_list(c, "items", &c->s->prefix_items) != 0)
			return -1;
		if (gs_is_schema(gs_get(c, "additionalItems")) &&
		    gs_one(c, "additionalItems", 0, &c->s->items) != 0)
			return -1;
	} else if (gs_one(c, "items", 1, &c->s->items) != 0) {
		return -1;
	}
	if (gs_get(c, "prefixItems") && c->g->dialect == GEN_DIALECT_31)
		return gs_list(c, "prefixItems", &c->s->prefix_items);
	return 0;
}

static int gs_kw_unevaluated_items(gs_kw_ctx *c)
{
	return c->g->dialect == GEN_DIALECT_31 ? gs_one(c, "unevaluatedItems", 0, &c->s->unevaluated_items) : 0;
}

static int gs_kw_contains(gs_kw_ctx *c)
{
	return gs_one(c, "contains", 0, &c->s->contains);
}

/* An object of name -> schema at key, sorted by name, into l. */
static int gs_named(gs_kw_ctx *c, const char *key, const json_t *obj, si_named_list *l)
{
	size_t n = 0;
	const char **keys = gs_sorted_keys(obj, &n);
	int rc = -1;

	l->v = gen_arena_zalloc(c->g->mem, (n + 1) * sizeof *l->v);
	if (!keys || !l->v)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		l->v[i].name = gen_arena_strdup(c->g->mem, keys[i]);
		l->n = i + 1;
		if (!l->v[i].name || gs_sub2(c->g, c->s, key, keys[i], json_object_get(obj, keys[i]), c->depth,
		                             &l->v[i].schema, c->err, c->errlen) != 0)
			goto cleanup;
	}
	rc = 0;
cleanup:
	free(keys);
	return rc;
}

static int gs_kw_properties(gs_kw_ctx *c)
{
	const json_t *props = gs_get(c, "properties");

	if (props && !json_is_object(props))
		return GS_FAIL(c, "\"properties\" must be an object");
	if (json_is_string(json_object_get(props, "$ref"))) {
		/* some split documents write this; JSON Schema reads a property named "$ref" */
		char buf[512], *pu = gs_child(buf, sizeof buf, c->s->uri, "properties", NULL);
		gs_error(c->g, pu ? pu : c->s->uri, c->err, c->errlen, "a \"$ref\" in place of the properties map is not "
		         "JSON Schema (a $ref stands for a whole schema: $ref a schema that has these properties)");
		if (pu != buf)
			free(pu);
		return -1;
	}
	return json_object_size(props) ? gs_named(c, "properties", props, &c->s->properties) : 0;
}

static int gs_kw_required(gs_kw_ctx *c)
{
	const json_t *req = gs_get(c, "required");
	size_t n = json_array_size(req);

	if (req && !json_is_array(req))
		return GS_FAIL(c, "\"required\" must be an array of strings");
	if (!n)
		return 0;
	c->s->required = gen_arena_zalloc(c->g->mem, n * sizeof *c->s->required);
	if (!c->s->required)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *name = json_string_value(json_array_get(req, i));
		if (!name)
			return GS_FAIL(c, "\"required\" must be an array of strings");
		c->s->required[i] = gen_arena_strdup(c->g->mem, name);
		c->s->n_required = i + 1;
	}
	return 0;
}

static int gs_kw_additional(gs_kw_ctx *c)
{
	const json_t *addl = gs_get(c, "additionalProperties");

	if (json_is_false(addl))
		c->s->flags |= SI_F_NO_ADDL;
	else if (json_is_object(addl) || json_is_true(addl)) /* true too: it evaluates every other property */
		return gs_sub(c->g, c->s, "additionalProperties", addl, c->depth, &c->s->additional, c->err, c->errlen);
	return 0;
}

static int gs_kw_pattern_properties(gs_kw_ctx *c)
{
	const json_t *pp = gs_get(c, "patternProperties");

	return json_object_size(pp) ? gs_named(c, "patternProperties", pp, &c->s->pattern_properties) : 0;
}

static int gs_kw_unevaluated_properties(gs_kw_ctx *c)
{
	return c->g->dialect == GEN_DIALECT_31 ? gs_one(c, "unevaluatedProperties", 0, &c->s->unevaluated_properties) : 0;
}

static int gs_kw_property_names(gs_kw_ctx *c)
{
	return gs_one(c, "propertyNames", 0, &c->s->property_names);
}

/* One entry of dependentRequired (or an array of draft 4 dependencies). */
static int gs_dep_required_add(gen_schema *g, si_schema *s, const char *name, const json_t *arr)
{
	si_dep_required *v = realloc(s->dep_required, (s->n_dep_required + 1) * sizeof *v), *d;

	if (!v)
		return -1;
	s->dep_required = v;
	d = &v[s->n_dep_required++];
	d->name = gen_arena_strdup(g->mem, name);
	d->n = json_array_size(arr);
	d->names = gen_arena_zalloc(g->mem, (d->n + 1) * sizeof *d->names);
	if (!d->name || !d->names)
		return -1;
	for (size_t x = 0; x < d->n; x++) {
		const char *nm = json_string_value(json_array_get(arr, x));
		if (!(d->names[x] = gen_arena_strdup(g->mem, nm ? nm : "")))
			return -1;
	}
	return 0;
}

/* dependentRequired / dependentSchemas, and draft 4 dependencies (either) */
static int gs_kw_dependencies(gs_kw_ctx *c)
{
	static const char *const kws[] = { "dependentRequired", "dependentSchemas", "dependencies" };
	static const size_t lens[] = { sizeof "dependentRequired" - 1, sizeof "dependentSchemas" - 1, sizeof "dependencies" - 1 };
	static const char *const what[] = { "arrays of names", "schemas", "arrays or schemas" };

	for (int pass = 0; pass < 3; pass++) {
		const json_t *obj = gs_getn(c, kws[pass], lens[pass]);
		size_t n = 0;
		const char **keys;
		int rc = 0;
		if (!json_is_object(obj))
			continue;
		keys = gs_sorted_keys(obj, &n);
		if (!keys)
			return -1;
		for (size_t i = 0; i < n && rc == 0; i++) {
			const json_t *v = json_object_get(obj, keys[i]);
			si_named_list *l = &c->s->dep_schemas;
			if (json_is_array(v) && pass != 1) {
				rc = gs_dep_required_add(c->g, c->s, keys[i], v);
			} else if (gs_is_schema(v) && pass != 0) {
				si_named *nv = realloc(l->v, (l->n + 1) * sizeof *nv);
				rc = -1;
				if (nv) {
					l->v = nv;
					nv[l->n].schema = NULL;
					nv[l->n].name = gen_arena_strdup(c->g->mem, keys[i]);
					l->n++;
					rc = gs_sub2(c->g, c->s, kws[pass], keys[i], v, c->depth, &nv[l->n - 1].schema, c->err, c->errlen);
				}
			} else {
				rc = GS_FAIL(c, "\"%s\" values must be %s", kws[pass], what[pass]);
			}
		}
		free(keys);
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int gs_kw_combinators(gs_kw_ctx *c)
{
	if (gs_get(c, "allOf") && gs_list(c, "allOf", &c->s->all_of) != 0)
		return -1;
	if (gs_get(c, "anyOf") && gs_list(c, "anyOf", &c->s->any_of) != 0)
		return -1;
	if (gs_get(c, "oneOf") && gs_list(c, "oneOf", &c->s->one_of) != 0)
		return -1;
	return 0;
}

/* not; if, and then / else only beside an if */
static int gs_kw_conditionals(gs_kw_ctx *c)
{
	if (gs_one(c, "not", 0, &c->s->not_) != 0)
		return -1;
	if (!gs_get(c, "if"))
		return 0;
	if (gs_one(c, "if", 0, &c->s->if_) != 0 || gs_one(c, "then", 0, &c->s->then_) != 0)
		return -1;
	return gs_one(c, "else", 0, &c->s->else_);
}

static int gs_disc_add(gen_schema *g, si_named_list *l, const char *value, si_schema *branch)
{
	si_named *v = realloc(l->v, (l->n + 1) * sizeof *v);

	if (!v)
		return -1;
	l->v = v;
	v[l->n].name = gen_arena_strdup(g->mem, value);
	v[l->n].schema = branch;
	return v[l->n++].name ? 0 : -1;
}

/* discriminator.mapping: value -> a schema name or a $ref */
static int gs_disc_mapping(gs_kw_ctx *c, const json_t *mapping)
{
	size_t m = 0;
	const char **keys = gs_sorted_keys(mapping, &m);
	int rc = -1;

	if (!keys)
		return -1;
	for (size_t i = 0; i < m; i++) {
		const char *target = json_string_value(json_object_get(mapping, keys[i]));
		char *turi = NULL, *refbuf = NULL;
		const json_t *tn;
		si_schema *ts = NULL;
		int r = -1;
		if (target && !strchr(target, '#') && !strchr(target, '/') &&
		    asprintf(&refbuf, "#/components/schemas/%s", target) < 0)
			refbuf = NULL;
		tn = target ? docset_resolve(c->g->ds, c->base, refbuf ? refbuf : target, &turi, c->err, c->errlen) : NULL;
		if (tn) {
			r = gs_reach(c->g, turi, tn, NULL, gs_ref_depth(c->depth), &ts, c->err, c->errlen);
		} else if (!target) {
			GS_FAIL(c, "discriminator mapping \"%s\" must be a string", keys[i]);
		} else {
			char why[300];
			snprintf(why, sizeof why, "%s", c->err);
			GS_FAIL(c, "discriminator mapping \"%s\" does not resolve: %s", keys[i], why);
		}
		free(turi);
		free(refbuf);
		if (r != 0 || gs_disc_add(c->g, &c->s->disc_map, keys[i], ts) != 0)
			goto cleanup;
	}
	rc = 0;
cleanup:
	free(keys);
	return rc;
}

/* The implicit mapping: each branch that is a $ref to a named component,
 * by its name (branches that do not resolve are left to the validator). */
static int gs_disc_implicit(gs_kw_ctx *c, const json_t *branches)
{
	for (size_t i = 0; i < json_array_size(branches); i++) {
		const char *r = json_string_value(json_object_get(json_array_get(branches, i), "$ref"));
		char *turi = NULL;
		const json_t *tn;
		const char *nm;
		si_schema *ts;
		int rc = 0;
		if (!r)
			continue;
		tn = docset_resolve(c->g->ds, c->base, r, &turi, c->err, c->errlen);
		nm = turi ? gen_schema_component_name(turi) : NULL;
		if (tn && nm && gs_reach(c->g, turi, tn, NULL, gs_ref_depth(c->depth), &ts, c->err, c->errlen) == 0)
			rc = gs_disc_add(c->g, &c->s->disc_map, nm, ts);
		free(turi);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* discriminator (OpenAPI): picks the oneOf/anyOf branch by a property */
static int gs_kw_discriminator(gs_kw_ctx *c)
{
	const json_t *disc = gs_get(c, "discriminator");
	const char *pname = json_string_value(json_object_get(disc, "propertyName"));
	const json_t *branches = gs_get(c, "oneOf");
	const json_t *mapping = json_object_get(disc, "mapping");

	if (!branches)
		branches = gs_get(c, "anyOf");
	if (disc && !pname)
		return GS_FAIL(c, "\"discriminator\" needs a string \"propertyName\"");
	if (!pname || !branches)
		return 0;
	c->s->disc_property = gen_arena_strdup(c->g->mem, pname);
	if (!c->s->disc_property)
		return -1;
	return json_is_object(mapping) ? gs_disc_mapping(c, mapping) : gs_disc_implicit(c, branches);
}

/* The base URI in force in the schema: the parent's, changed by its own
 * $id (resolved against the parent's base: docset_base_of already counts
 * the id when the docset indexed it, and resolving it again against itself
 * would double a relative folder: sub/x -> sub/sub/x) (new). */
static char *gs_base(const gs_kw_ctx *c)
{
	gen_schema *g = c->g;
	const si_schema *s = c->s;
	char *base = docset_base_of(g->ds, s->uri);
	const char *id = json_string_value(g->dialect == GEN_DIALECT_31 ? gs_get(c, "$id") : gs_get(c, "id"));
	const char *hash = strchr(s->uri, '#');
	const char *slash = hash ? strrchr(hash, '/') : NULL;
	char *parent, *pbase, *nb;

	if (!base || !id || id[0] == '#' || !slash || (g->dialect == GEN_DIALECT_30 && gs_get(c, "$ref")))
		return base;
	parent = strndup(s->uri, (size_t)(slash - s->uri));
	pbase = parent ? docset_base_of(g->ds, parent) : NULL;
	nb = pbase ? docset_uri_resolve(pbase, id) : NULL;
	free(parent);
	free(pbase);
	if (!nb)
		return base;
	if (strchr(nb, '#'))
		*strchr(nb, '#') = '\0';
	free(base);
	return nb;
}

/* The keywords, in the order they are analysed (and their sub-schemas reached). */
static int (*const gs_keywords[])(gs_kw_ctx *) = {
	gs_kw_dynamic_ref, gs_kw_resource, gs_kw_type, gs_kw_booleans, gs_kw_bounds, gs_kw_limits, gs_kw_format,
	gs_kw_values, gs_kw_items, gs_kw_unevaluated_items, gs_kw_contains, gs_kw_properties, gs_kw_required,
	gs_kw_additional, gs_kw_pattern_properties, gs_kw_unevaluated_properties, gs_kw_property_names,
	gs_kw_dependencies, gs_kw_combinators, gs_kw_conditionals, gs_kw_discriminator,
};

static int gs_analyse(gen_schema *g, si_schema *s, int depth, char *err, size_t errlen)
{
	gs_kw_ctx c; /* its fields set one by one: seen[] (400 bytes) is filled as the keys are read, not zeroed first */
	char *base = NULL;
	int rc = -1;

	c.g = g;
	c.s = s;
	c.node = s->node;
	c.base = NULL;
	c.keys = 0;
	c.nseen = 0;
	c.depth = depth;
	c.err = err;
	c.errlen = errlen;
	s->analysed = 1;
	if (json_is_boolean(s->node)) {
		s->is_bool = 1;
		s->flags |= json_is_false(s->node) ? SI_F_FALSE : 0;
		return 0;
	}
	{
		const char *k;
		size_t klen;
		json_t *v;
		json_object_keylen_foreach((json_t *)s->node, k, klen, v) {
			c.keys |= (uint64_t)1 << gs_key_bit(k, klen);
			if (c.nseen < GS_KEYS_SEEN) {
				c.seen[c.nseen].k = k;
				c.seen[c.nseen].len = klen;
				c.seen[c.nseen].v = v;
			}
			c.nseen++;
		}
	}
	if (gs_kw_unsupported(&c) != 0)
		return -1;
	base = gs_base(&c);
	if (!base)
		return -1;
	c.base = base;
	if (gs_kw_ref(&c) != 0)
		goto cleanup;
	if (s->ref && g->dialect == GEN_DIALECT_30) {
		rc = 0; /* $ref replaces the schema */
		goto cleanup;
	}
	for (size_t i = 0; i < sizeof gs_keywords / sizeof gs_keywords[0]; i++)
		if (gs_keywords[i](&c) != 0)
			goto cleanup;
	rc = 0;
cleanup:
	free(base);
	return rc;
}

/* ---- 2020-12 dynamic scope ---- */

/* The schema resource (2020-12) the schema at uri belongs to, when that
 * resource declares $dynamicAnchors: *rsym = the C name of its
 * `rt_schema_resource` (anchor name -> table, every target reached), else
 * NULL. Resources without dynamic anchors play no part in $dynamicRef
 * resolution and get no table. */
static int gs_resource(gen_schema *g, const char *uri, int depth, const char **rsym, char *err, size_t errlen)
{
	char *res_uri = docset_base_of(g->ds, uri), *canon = NULL;
	const json_t *anchors, *idx;
	const char **names = NULL;
	size_t n = 0;
	si_resource *r = NULL, *mine, **nv;
	int rc = -1;

	*rsym = NULL;
	if (!res_uri)
		return -1;
	anchors = docset_dynamic_anchors(g->ds, res_uri);
	idx = json_object_get(g->resources, res_uri);
	if (!anchors || idx) {
		*rsym = idx ? g->res[json_integer_value(idx)]->symbol : NULL;
		free(res_uri);
		return 0;
	}
	nv = realloc(g->res, (g->nres + 1) * sizeof *nv);
	r = calloc(1, sizeof *r);
	if (nv)
		g->res = nv;
	if (!nv || !r)
		goto cleanup;
	/* named and registered first: reaching the anchors' targets comes back here */
	r->uri = res_uri;
	res_uri = NULL;
	/* named by where the resource is, never by its (possibly absolute) URI */
	if (!docset_resolve(g->ds, r->uri, r->uri, &canon, err, errlen) ||
	    gen_schema_name_resource(g, canon, &r->symbol, err, errlen) != 0)
		goto cleanup;
	if (asprintf(&r->where, "%s#%s", docset_display(g->ds, canon), strchr(canon, '#') ? strchr(canon, '#') + 1 : "") < 0) {
		r->where = NULL;
		goto cleanup;
	}
	json_object_set_new(g->resources, r->uri, json_integer((json_int_t)g->nres));
	g->res[g->nres++] = r;
	*rsym = r->symbol;
	mine = r;
	r = NULL;
	names = gs_sorted_keys(anchors, &n);
	if (!names)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		const char *target = json_string_value(json_object_get(anchors, names[i]));
		char *tc = NULL;
		const json_t *node = docset_resolve(g->ds, target, target, &tc, err, errlen);
		si_schema *ts = NULL;
		int bad = !node || gs_reach(g, tc, node, NULL, gs_ref_depth(depth), &ts, err, errlen) != 0;
		free(tc);
		if (bad || gs_disc_add(g, &mine->anchors, names[i], ts) != 0)
			goto cleanup;
	}
	rc = 0;
cleanup:
	if (r) {
		free(r->uri);
		free(r->where);
		free(r);
	}
	free(res_uri);
	free(canon);
	free(names);
	return rc;
}

/* ---- the entry points ---- */

int gen_schema_compile_named(gen_schema *g, const char *uri, const char *hint, const char **symbol,
                             char *err, size_t errlen)
{
	char *canon = NULL;
	const json_t *node = docset_resolve(g->ds, uri, uri, &canon, err, errlen);
	si_schema *s = NULL;
	int rc;

	if (!node)
		return -1;
	if (hint && !gen_strtab_get(&g->hints, canon)) {
		unsigned bit = gen_schema_hint_bit(canon, strlen(canon));
		char *k = gen_arena_strdup(g->mem, canon), *v = gen_arena_strdup(g->mem, hint);
		if (!k || !v || gen_strtab_put(&g->hints, k, v) != 0) {
			free(canon);
			return -1;
		}
		g->hint_filter[bit / 8] |= (unsigned char)(1u << (bit % 8));
		g->nhints++;
	}
	rc = gs_reach(g, canon, node, NULL, 0, &s, err, errlen);
	free(canon);
	*symbol = s ? s->symbol : NULL;
	/* the schemas named deep down a chain of $refs, from the top */
	while (rc == 0 && json_array_size(g->pending)) {
		size_t last = json_array_size(g->pending) - 1;
		si_schema *p = gen_strtab_get(&g->by_uri, json_string_value(json_array_get(g->pending, last)));
		json_array_remove(g->pending, last);
		if (!p->analysed)
			rc = gs_analyse(g, p, 0, err, errlen);
	}
	return rc;
}

int gen_schema_compile(gen_schema *g, const char *uri, const char **symbol, char *err, size_t errlen)
{
	return gen_schema_compile_named(g, uri, NULL, symbol, err, errlen);
}

/* gen_schema.c — JSON Schema (OpenAPI 3.0 / 2020-12) to rt_schema tables. */
#include "gen_schema.h"
#include "gen_text.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

/* Deeper schema nesting (not $ref chains, which are pointers) is refused. */
#define GS_MAX_DEPTH 200
/* A $ref met deeper than this is named at once and compiled later from the
 * top (gen_schema_compile), so long chains of distinct schemas neither
 * exhaust the stack nor count as nesting. */
#define GS_DEFER_DEPTH 48
#define GS_RESERVE (-1) /* depth argument: only name and register the schema */

typedef struct gs_entry {
	char *uri;      /* canonical "docuri#/pointer" */
	char *symbol;
	char *text;     /* emitted definition (aux arrays + the table) */
	int has_cache;
} gs_entry;

struct gen_schema {
	docset *ds;
	char *prefix;
	int dialect;
	int format_assert;
	gs_entry *v;
	size_t n, cap;
	json_t *by_uri;   /* uri -> index */
	json_t *names;    /* symbol -> uri */
	unsigned counter;
	/* schema resources that declare $dynamicAnchors (2020-12 dynamic scope) */
	json_t *resources;/* resource uri -> index into res */
	gs_entry *res;    /* .uri, .symbol, .text */
	size_t nres, capres;
	json_t *pending;  /* uris named at GS_RESERVE, to compile */
	size_t resume;    /* the slot gs_compile_node fills instead of returning it, or -1 */
};

gen_schema *gen_schema_new(docset *ds, const char *prefix, int dialect)
{
	gen_schema *g = calloc(1, sizeof *g);

	if (!g)
		return NULL;
	g->ds = ds;
	g->prefix = strdup(prefix);
	g->dialect = dialect;
	g->format_assert = 1;
	g->by_uri = json_object();
	g->names = json_object();
	g->resources = json_object();
	g->pending = json_array();
	g->resume = (size_t)-1;
	return g;
}

void gen_schema_free(gen_schema *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++) {
		free(g->v[i].uri);
		free(g->v[i].symbol);
		free(g->v[i].text);
	}
	free(g->v);
	free(g->prefix);
	json_decref(g->by_uri);
	json_decref(g->names);
	for (size_t i = 0; i < g->nres; i++) {
		free(g->res[i].uri);
		free(g->res[i].symbol);
		free(g->res[i].text);
	}
	free(g->res);
	json_decref(g->resources);
	json_decref(g->pending);
	free(g);
}

void gen_schema_set_format_assert(gen_schema *g, int on)
{
	g->format_assert = on;
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

static char *gs_child_uri(const char *uri, const char *key)
{
	char *with_hash = NULL, *out;

	if (strchr(uri, '#'))
		return docset_pointer_join(uri, key);
	if (asprintf(&with_hash, "%s#", uri) < 0)
		return NULL;
	out = docset_pointer_join(with_hash, key);
	free(with_hash);
	return out;
}

static char *gs_child_uri_index(const char *uri, const char *key, size_t i)
{
	char *a = gs_child_uri(uri, key), *out = NULL;
	char idx[32];

	if (!a)
		return NULL;
	snprintf(idx, sizeof idx, "%zu", i);
	out = gs_child_uri(a, idx);
	free(a);
	return out;
}

/* The component name if uri is #/components/schemas/X, #/$defs/X or
 * #/definitions/X (directly), else NULL. */
static const char *gs_component_name(const char *uri)
{
	static const char *const bases[] = { "#/components/schemas/", "#/$defs/", "#/definitions/" };
	const char *hash = strchr(uri, '#');

	if (!hash)
		return NULL;
	for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
		size_t bl = strlen(bases[i]);
		if (strncmp(hash, bases[i], bl) == 0 && hash[bl] && !strchr(hash + bl, '/'))
			return hash + bl;
	}
	return NULL;
}

static int gs_compile_node(gen_schema *g, const char *uri, const json_t *node, int depth,
                           const char **symbol, char *err, size_t errlen);

/* The depth to compile the target of a $ref (or $dynamicRef, or a dynamic
   anchor) at, met at depth: past GS_DEFER_DEPTH only named now, compiled
   later from the top. */
static int gs_ref_depth(int depth)
{
	return depth + 1 > GS_DEFER_DEPTH ? GS_RESERVE : depth + 1;
}

/* Compiles the target of the reference keyword kw ("$ref", "$dynamicRef")
   of the schema at uri, resolved against base; *tsym = its C name. */
static int gs_compile_ref(gen_schema *g, const char *uri, const char *base, const char *kw, const json_t *ref,
                          int depth, const char **tsym, char *err, size_t errlen)
{
	char *turi = NULL;
	const json_t *target;
	int rc;

	if (!json_is_string(ref))
		return gs_error(g, uri, err, errlen, "\"%s\" must be a string", kw);
	target = docset_resolve(g->ds, base, json_string_value(ref), &turi, err, errlen);
	if (!target) {
		char why[300];
		snprintf(why, sizeof why, "%s", err);
		return gs_error(g, uri, err, errlen, "%s", why);
	}
	rc = gs_compile_node(g, turi, target, gs_ref_depth(depth), tsym, err, errlen);
	free(turi);
	return rc;
}

/* Compiles the sub-schema at key (or key/index) of the schema at uri. */
static int gs_child(gen_schema *g, const char *uri, const json_t *node, int depth, const char **sym,
                    char *err, size_t errlen)
{
	return gs_compile_node(g, uri, node, depth + 1, sym, err, errlen);
}

static int gs_is_schema(const json_t *j)
{
	return json_is_object(j) || json_is_boolean(j);
}

/* Writes "static const rt_schema *const NAME[] = { &a, &b };" for a list. */
static int gs_list(gen_schema *g, FILE *aux, const char *uri, const char *key, const json_t *arr,
                   int depth, const char *name, char *err, size_t errlen)
{
	size_t n = json_array_size(arr);
	const char **syms;

	if (!json_is_array(arr) || n == 0)
		return gs_error(g, uri, err, errlen, "\"%s\" must be a non-empty array of schemas", key);
	syms = calloc(n, sizeof *syms);
	if (!syms)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *cu = gs_child_uri_index(uri, key, i);
		int rc = -1;
		if (!gs_is_schema(json_array_get(arr, i)))
			gs_error(g, cu ? cu : uri, err, errlen, "must be a schema (an object or a boolean)");
		else
			rc = gs_child(g, cu, json_array_get(arr, i), depth, &syms[i], err, errlen);
		free(cu);
		if (rc != 0) {
			free(syms);
			return -1;
		}
	}
	fprintf(aux, "static const rt_schema *const %s[] = {", name);
	for (size_t i = 0; i < n; i++)
		fprintf(aux, "%s&%s", i ? ", " : " ", syms[i]);
	fprintf(aux, " };\n");
	free(syms);
	return 0;
}

static int gs_int_kw(gen_schema *g, const char *uri, const json_t *node, const char *kw, json_int_t *out,
                     char *err, size_t errlen)
{
	const json_t *v = json_object_get(node, kw);

	*out = -1;
	if (!v)
		return 0;
	if (json_is_real(v) && json_real_value(v) >= 9223372036854775807.0) {
		/* an integer too big for 64 bits (read as a real): no length or count
		 * reaches it, so the largest one means the same */
		*out = (json_int_t)9223372036854775807LL;
		return 0;
	}
	if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) == (double)(json_int_t)json_real_value(v)) {
		*out = (json_int_t)json_real_value(v);
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return gs_error(g, uri, err, errlen, "\"%s\" must be a non-negative integer", kw);
	*out = json_integer_value(v);
	return 0;
}

static unsigned gs_type_bit(const char *t)
{
	static const struct { const char *n; unsigned b; } types[] = {
		{ "null", 1 }, { "boolean", 2 }, { "integer", 4 }, { "number", 8 | 4 },
		{ "string", 16 }, { "array", 32 }, { "object", 64 },
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(types[i].n, t) == 0)
			return types[i].b;
	return 0;
}

static int gs_cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void gs_json_literal(FILE *out, const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);

	gen_text_cstr(out, s ? s : "null");
	free(s);
}

/* Keywords of JSON Schema that we do not implement: refused, never ignored. */
static const struct { const char *keyword, *hint; } gs_unsupported[] = {
	{ "$recursiveRef", " (JSON Schema 2019-09; OpenAPI 3.1 schemas are 2020-12: write a \"$ref\" to the schema's own"
	                   " component, or \"$dynamicRef\" with a \"$dynamicAnchor\")" },
};

/* The schema resource (2020-12) the schema at uri belongs to, when that
 * resource declares $dynamicAnchors: *rsym = the C name of its
 * `rt_schema_resource` (anchor name -> table, every target compiled), else
 * NULL. Resources without dynamic anchors play no part in $dynamicRef
 * resolution and get no table. */
static int gs_resource(gen_schema *g, const char *uri, int depth, const char **rsym, char *err, size_t errlen)
{
	char *res_uri = docset_base_of(g->ds, uri), *sym = NULL, *text = NULL;
	const json_t *anchors, *idx;
	const char **names = NULL, **syms = NULL;
	size_t n, i = 0, me, textlen = 0;
	const char *k;
	json_t *v;
	FILE *out = NULL;
	int rc = -1;

	*rsym = NULL;
	if (!res_uri)
		return -1;
	anchors = docset_dynamic_anchors(g->ds, res_uri);
	if (!anchors) {
		rc = 0;
		goto cleanup;
	}
	idx = json_object_get(g->resources, res_uri);
	if (idx) {
		*rsym = g->res[json_integer_value(idx)].symbol;
		rc = 0;
		goto cleanup;
	}
	if (g->nres == g->capres) {
		size_t cap = g->capres ? g->capres * 2 : 4;
		gs_entry *nv = realloc(g->res, cap * sizeof *nv);
		if (!nv)
			goto cleanup;
		g->res = nv;
		g->capres = cap;
	}
	if (asprintf(&sym, "%s_r%zu", g->prefix, g->nres) < 0) {
		sym = NULL;
		goto cleanup;
	}
	/* registered first: compiling the anchors' targets comes back here */
	me = g->nres++;
	memset(&g->res[me], 0, sizeof g->res[me]);
	g->res[me].uri = res_uri;
	g->res[me].symbol = sym;
	res_uri = NULL;
	json_object_set_new(g->resources, g->res[me].uri, json_integer((json_int_t)me));
	*rsym = sym;
	n = json_object_size(anchors);
	names = calloc(n, sizeof *names);
	syms = calloc(n, sizeof *syms);
	if (!names || !syms)
		goto cleanup;
	json_object_foreach((json_t *)anchors, k, v)
		names[i++] = k;
	qsort(names, n, sizeof *names, gs_cmp_keys);
	for (i = 0; i < n; i++) {
		const char *target = json_string_value(json_object_get(anchors, names[i]));
		char *canon = NULL;
		const json_t *node = docset_resolve(g->ds, target, target, &canon, err, errlen);
		int r = node ? gs_compile_node(g, canon, node, gs_ref_depth(depth), &syms[i], err, errlen) : -1;
		free(canon);
		if (r != 0)
			goto cleanup;
	}
	out = gen_text_memstream(&text, &textlen);
	if (!out)
		goto cleanup;
	{
		/* named by where the resource is, never by its (possibly absolute) URI */
		char *canon = NULL;
		const char *hash;
		if (!docset_resolve(g->ds, g->res[me].uri, g->res[me].uri, &canon, err, errlen))
			goto cleanup;
		hash = strchr(canon, '#');
		fprintf(out, "/* the $dynamicAnchors of the schema resource %s#%s */\n", docset_display(g->ds, canon),
		        hash ? hash + 1 : "");
		free(canon);
	}
	fprintf(out, "static const rt_schema_prop %s_anchors[] = {\n", sym);
	for (i = 0; i < n; i++) {
		fprintf(out, "\t{ ");
		gen_text_cstr(out, names[i]);
		fprintf(out, ", &%s },\n", syms[i]);
	}
	fprintf(out, "};\nstatic const rt_schema_resource %s = { .dyn_anchors = %s_anchors, .n_dyn_anchors = %zu };\n",
	        sym, sym, n);
	fclose(out);
	out = NULL;
	g->res[me].text = text;
	text = NULL;
	rc = 0;
cleanup:
	if (out)
		fclose(out);
	free(text);
	free(names);
	free(syms);
	free(res_uri);
	return rc;
}

static int gs_compile_node(gen_schema *g, const char *uri, const json_t *node, int depth,
                           const char **symbol, char *err, size_t errlen)
{
	json_t *idx = json_object_get(g->by_uri, uri);
	size_t me;
	char *sym = NULL, *buf = NULL;
	size_t buflen = 0;
	FILE *aux = NULL;
	char *base = NULL;
	int rc = -1;
	unsigned types = 0, flags = 0;
	const char *cname;
	char cache_name[160] = "";
	int has_cache = 0;

	if (idx && (size_t)json_integer_value(idx) == g->resume) {
		/* a schema named earlier at GS_RESERVE: compile it into its slot */
		me = g->resume;
		g->resume = (size_t)-1;
		sym = g->v[me].symbol;
		*symbol = sym;
		goto compile;
	}
	if (idx) {
		*symbol = g->v[json_integer_value(idx)].symbol;
		return 0;
	}
	if (depth > GS_MAX_DEPTH)
		return gs_error(g, uri, err, errlen, "schema nested more than %d levels deep", GS_MAX_DEPTH);
	if (!gs_is_schema(node))
		return gs_error(g, uri, err, errlen, "must be a schema (an object or a boolean)");

	/* name and register before compiling children, so cycles terminate */
	cname = gs_component_name(uri);
	if (cname) {
		char *id = gen_text_ident(cname);
		if (!id || asprintf(&sym, "%s_schema_%s", g->prefix, id) < 0)
			sym = NULL;
		free(id);
		if (sym && json_object_get(g->names, sym)) {
			const char *other = json_string_value(json_object_get(g->names, sym));
			const char *oh = strchr(other, '#'), *mh = strchr(uri, '#');
			if (!oh || !mh || oh - other != mh - uri || strncmp(other, uri, (size_t)(mh - uri)) != 0) {
				/* the same name in another document: qualify it */
				char *q = NULL;
				if (asprintf(&q, "%s_%u", sym, g->counter++) < 0)
					q = NULL;
				free(sym);
				sym = q;
				goto named;
			}
			gs_error(g, uri, err, errlen, "schema name collides with %s (both become the C name %s)", other, sym);
			free(sym);
			return -1;
		}
	named:;
	} else if (asprintf(&sym, "%s_s%u", g->prefix, g->counter++) < 0) {
		sym = NULL;
	}
	if (!sym)
		return -1;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 32;
		gs_entry *v = realloc(g->v, cap * sizeof *v);
		if (!v) {
			free(sym);
			return -1;
		}
		g->v = v;
		g->cap = cap;
	}
	me = g->n++;
	memset(&g->v[me], 0, sizeof g->v[me]);
	g->v[me].uri = strdup(uri);
	g->v[me].symbol = sym;
	json_object_set_new(g->by_uri, uri, json_integer((json_int_t)me));
	json_object_set_new(g->names, sym, json_string(uri));
	*symbol = sym;
	if (depth == GS_RESERVE)
		return json_array_append_new(g->pending, json_string(uri)) == 0 ? 0 : -1;

compile:
	aux = gen_text_memstream(&buf, &buflen);
	if (!aux)
		return -1;

	/* what the table says, gathered as text of designated initializers */
	char *fields = NULL;
	size_t fieldslen = 0;
	FILE *f = gen_text_memstream(&fields, &fieldslen);
	if (!f)
		goto cleanup;

	if (json_is_boolean(node)) {
		if (json_is_false(node))
			flags |= 1u << 0; /* RT_S_FALSE */
		fprintf(f, "\t.min_length = -1, .max_length = -1, .min_items = -1, .max_items = -1,\n"
		           "\t.min_properties = -1, .max_properties = -1, .min_contains = -1, .max_contains = -1,\n");
		rc = 0;
		goto finish;
	}

	for (size_t u = 0; u < sizeof gs_unsupported / sizeof gs_unsupported[0]; u++) {
		const json_t *kw = json_object_get(node, gs_unsupported[u].keyword);
		if (kw && !json_is_true(kw)) {
			gs_error(g, uri, err, errlen, "\"%s\" is not supported%s", gs_unsupported[u].keyword, gs_unsupported[u].hint);
			goto cleanup;
		}
	}

	base = docset_base_of(g->ds, uri);
	{
		const char *mybase_id = json_string_value(json_object_get(node, g->dialect == GEN_DIALECT_31 ? "$id" : "id"));
		/* the node's own id, resolved against its parent's base (docset_base_of
		 * already counts the id when the docset indexed it; resolving it again
		 * against itself would double a relative folder: sub/x -> sub/sub/x) */
		const char *hash = strchr(uri, '#');
		const char *slash = hash ? strrchr(hash, '/') : NULL;
		if (mybase_id && mybase_id[0] != '#' && slash &&
		    !(g->dialect == GEN_DIALECT_30 && json_object_get(node, "$ref"))) {
			char *parent = strndup(uri, (size_t)(slash - uri));
			char *pbase = parent ? docset_base_of(g->ds, parent) : NULL;
			char *nb = pbase ? docset_uri_resolve(pbase, mybase_id) : NULL;
			free(parent);
			free(pbase);
			if (nb) {
				char *frag = strchr(nb, '#');
				if (frag)
					*frag = '\0';
				free(base);
				base = nb;
			}
		}
	}

	/* $ref: in 3.0 / draft 4 it replaces the schema; in 2020-12 it is one
	 * more keyword beside the others */
	const json_t *ref = json_object_get(node, "$ref");
	if (ref) {
		const char *tsym;
		if (gs_compile_ref(g, uri, base, "$ref", ref, depth, &tsym, err, errlen) != 0)
			goto cleanup;
		fprintf(f, "\t.ref = &%s,\n", tsym);
		if (g->dialect == GEN_DIALECT_30) {
			fprintf(f, "\t.min_length = -1, .max_length = -1, .min_items = -1, .max_items = -1,\n"
			           "\t.min_properties = -1, .max_properties = -1, .min_contains = -1, .max_contains = -1,\n");
			rc = 0;
			goto finish;
		}
	}

	/* $dynamicRef (2020-12): resolved like $ref; when that initial target is
	 * a $dynamicAnchor of its resource, the validator looks the name up in
	 * the dynamic scope (the outermost resource entered that declares it) */
	const json_t *dref = json_object_get(node, "$dynamicRef");
	if (dref && g->dialect == GEN_DIALECT_30) {
		gs_error(g, uri, err, errlen, "\"$dynamicRef\" is not supported in OpenAPI 3.0 schemas (it is JSON Schema 2020-12, OpenAPI 3.1)");
		goto cleanup;
	}
	if (dref) {
		char *abs = NULL, *frag;
		const char *tsym;
		if (gs_compile_ref(g, uri, base, "$dynamicRef", dref, depth, &tsym, err, errlen) != 0)
			goto cleanup;
		fprintf(f, "\t.dyn_ref = &%s,\n", tsym);
		abs = docset_uri_resolve(base, json_string_value(dref));
		frag = abs ? strchr(abs, '#') : NULL;
		if (frag && frag[1] && frag[1] != '/') {
			*frag++ = '\0';
			if (json_object_get(docset_dynamic_anchors(g->ds, abs), frag)) {
				fprintf(f, "\t.dyn_name = ");
				gen_text_cstr(f, frag);
				fprintf(f, ",\n");
			}
		}
		free(abs);
	}
	if (g->dialect == GEN_DIALECT_31) {
		const char *rsym;
		if (gs_resource(g, uri, depth, &rsym, err, errlen) != 0)
			goto cleanup;
		if (rsym)
			fprintf(f, "\t.resource = &%s,\n", rsym);
	}

	/* type */
	const json_t *type = json_object_get(node, "type");
	if (json_is_string(type)) {
		types = gs_type_bit(json_string_value(type));
		if (!types) {
			gs_error(g, uri, err, errlen, "unknown type \"%s\"", json_string_value(type));
			goto cleanup;
		}
	} else if (json_is_array(type)) {
		for (size_t i = 0; i < json_array_size(type); i++) {
			const char *t = json_string_value(json_array_get(type, i));
			unsigned b = t ? gs_type_bit(t) : 0;
			if (!b) {
				gs_error(g, uri, err, errlen, "\"type\" holds an unknown type");
				goto cleanup;
			}
			types |= b;
		}
	} else if (type) {
		gs_error(g, uri, err, errlen, "\"type\" must be a string or an array of strings");
		goto cleanup;
	}
	if (types)
		fprintf(f, "\t.types = 0x%x,\n", types);

	if (json_is_true(json_object_get(node, "nullable")))
		flags |= 1u << 1;
	if (json_is_true(json_object_get(node, "readOnly")))
		flags |= 1u << 2;
	if (json_is_true(json_object_get(node, "writeOnly")))
		flags |= 1u << 3;
	if (json_is_true(json_object_get(node, "uniqueItems")))
		flags |= 1u << 4;

	/* numbers */
	const json_t *mn = json_object_get(node, "minimum"), *mx = json_object_get(node, "maximum");
	const json_t *xmn = json_object_get(node, "exclusiveMinimum"), *xmx = json_object_get(node, "exclusiveMaximum");
	const json_t *mult = json_object_get(node, "multipleOf");
	if (mn) {
		if (!json_is_number(mn)) {
			gs_error(g, uri, err, errlen, "\"minimum\" must be a number");
			goto cleanup;
		}
		flags |= 1u << 5;
		fprintf(f, "\t.minimum = %.17g,\n", json_number_value(mn));
		if (json_is_true(xmn))
			flags |= 1u << 7;
	}
	if (mx) {
		if (!json_is_number(mx)) {
			gs_error(g, uri, err, errlen, "\"maximum\" must be a number");
			goto cleanup;
		}
		flags |= 1u << 6;
		fprintf(f, "\t.maximum = %.17g,\n", json_number_value(mx));
		if (json_is_true(xmx))
			flags |= 1u << 8;
	}
	if (json_is_number(xmn)) {
		flags |= 1u << 12;
		fprintf(f, "\t.xminimum = %.17g,\n", json_number_value(xmn));
	}
	if (json_is_number(xmx)) {
		flags |= 1u << 13;
		fprintf(f, "\t.xmaximum = %.17g,\n", json_number_value(xmx));
	}
	if (mult) {
		if (!json_is_number(mult) || !(json_number_value(mult) > 0)) {
			gs_error(g, uri, err, errlen, "\"multipleOf\" must be a number greater than 0");
			goto cleanup;
		}
		flags |= 1u << 9;
		fprintf(f, "\t.multiple_of = %.17g,\n", json_number_value(mult));
	}

	/* limits */
	{
		static const char *const kws[] = { "minLength", "maxLength", "minItems", "maxItems",
		                                   "minProperties", "maxProperties", "minContains", "maxContains" };
		static const char *const fields_[] = { "min_length", "max_length", "min_items", "max_items",
		                                       "min_properties", "max_properties", "min_contains", "max_contains" };
		for (size_t i = 0; i < 8; i++) {
			json_int_t v;
			if (gs_int_kw(g, uri, node, kws[i], &v, err, errlen) != 0)
				goto cleanup;
			fprintf(f, "\t.%s = %lld,\n", fields_[i], (long long)v);
		}
	}

	/* format */
	const json_t *fmt = json_object_get(node, "format");
	if (json_is_string(fmt)) {
		static const char *const names[] = { "", "date-time", "date", "time", "uuid", "email", "uri", "ipv4",
		                                     "ipv6", "byte", "int32", "int64", "hostname", "uri-reference", "regex" };
		static const char *const enums[] = { "RT_FMT_NONE", "RT_FMT_DATE_TIME", "RT_FMT_DATE", "RT_FMT_TIME",
		                                     "RT_FMT_UUID", "RT_FMT_EMAIL", "RT_FMT_URI", "RT_FMT_IPV4",
		                                     "RT_FMT_IPV6", "RT_FMT_BYTE", "RT_FMT_INT32", "RT_FMT_INT64",
		                                     "RT_FMT_HOSTNAME", "RT_FMT_URI_REFERENCE", "RT_FMT_REGEX" };
		for (size_t i = 1; i < sizeof names / sizeof names[0]; i++) {
			if (strcmp(names[i], json_string_value(fmt)) == 0) {
				fprintf(f, "\t.format = %s,\n", enums[i]);
				if (g->format_assert || g->dialect == GEN_DIALECT_30)
					flags |= 1u << 11;
				break;
			}
		}
	}

	/* the cache: pattern, enum, const, default */
	{
		const json_t *pat = json_object_get(node, "pattern");
		const json_t *en = json_object_get(node, "enum");
		const json_t *cn = json_object_get(node, "const");
		const json_t *df = json_object_get(node, "default");
		if (pat && !json_is_string(pat)) {
			gs_error(g, uri, err, errlen, "\"pattern\" must be a string");
			goto cleanup;
		}
		if (en && !json_is_array(en)) {
			gs_error(g, uri, err, errlen, "\"enum\" must be an array");
			goto cleanup;
		}
		if (pat || en || cn || df) {
			has_cache = 1;
			snprintf(cache_name, sizeof cache_name, "%s_cache", sym);
			fprintf(aux, "static rt_schema_cache %s = {", cache_name);
			if (pat) {
				fprintf(aux, " .pattern = ");
				gen_text_cstr(aux, json_string_value(pat));
				fputc(',', aux);
			}
			if (en) {
				fprintf(aux, " .enum_json = ");
				gs_json_literal(aux, en);
				fputc(',', aux);
			}
			if (cn) {
				fprintf(aux, " .const_json = ");
				gs_json_literal(aux, cn);
				fputc(',', aux);
			}
			if (df) {
				fprintf(aux, " .default_json = ");
				gs_json_literal(aux, df);
				fputc(',', aux);
			}
			fprintf(aux, " };\n");
			fprintf(f, "\t.cache = &%s,\n", cache_name);
		}
	}

	/* arrays */
	{
		const json_t *items = json_object_get(node, "items");
		const json_t *prefix = json_object_get(node, "prefixItems");
		const json_t *addl_items = json_object_get(node, "additionalItems");
		const char *s;
		char name[200];
		if (json_is_array(items) && g->dialect == GEN_DIALECT_30) {
			/* draft 4 tuple form */
			snprintf(name, sizeof name, "%s_prefix", sym);
			if (json_array_size(items) > 0) {
				if (gs_list(g, aux, uri, "items", items, depth, name, err, errlen) != 0)
					goto cleanup;
				fprintf(f, "\t.prefix_items = { %s, %zu },\n", name, json_array_size(items));
			}
			if (gs_is_schema(addl_items)) {
				char *cu = gs_child_uri(uri, "additionalItems");
				int r = gs_child(g, cu, addl_items, depth, &s, err, errlen);
				free(cu);
				if (r != 0)
					goto cleanup;
				fprintf(f, "\t.items = &%s,\n", s);
			}
		} else if (items) {
			char *cu = gs_child_uri(uri, "items");
			int r = gs_is_schema(items) ? gs_child(g, cu, items, depth, &s, err, errlen)
			                            : gs_error(g, uri, err, errlen, "\"items\" must be a schema");
			free(cu);
			if (r != 0)
				goto cleanup;
			fprintf(f, "\t.items = &%s,\n", s);
		}
		if (prefix && g->dialect == GEN_DIALECT_31) {
			snprintf(name, sizeof name, "%s_prefix", sym);
			if (gs_list(g, aux, uri, "prefixItems", prefix, depth, name, err, errlen) != 0)
				goto cleanup;
			fprintf(f, "\t.prefix_items = { %s, %zu },\n", name, json_array_size(prefix));
		}
		const json_t *uitems = json_object_get(node, "unevaluatedItems");
		if (uitems && g->dialect == GEN_DIALECT_31) {
			char *cu = gs_child_uri(uri, "unevaluatedItems");
			int r = gs_child(g, cu, uitems, depth, &s, err, errlen);
			free(cu);
			if (r != 0)
				goto cleanup;
			fprintf(f, "\t.unevaluated_items = &%s,\n", s);
		}
		const json_t *contains = json_object_get(node, "contains");
		if (contains) {
			char *cu = gs_child_uri(uri, "contains");
			int r = gs_child(g, cu, contains, depth, &s, err, errlen);
			free(cu);
			if (r != 0)
				goto cleanup;
			fprintf(f, "\t.contains = &%s,\n", s);
		}
	}

	/* objects */
	{
		const json_t *props = json_object_get(node, "properties");
		const json_t *req = json_object_get(node, "required");
		const json_t *addl = json_object_get(node, "additionalProperties");
		const json_t *pprops = json_object_get(node, "patternProperties");
		const json_t *pnames = json_object_get(node, "propertyNames");
		const char *s;
		if (props && !json_is_object(props)) {
			gs_error(g, uri, err, errlen, "\"properties\" must be an object");
			goto cleanup;
		}
		if (json_is_string(json_object_get(props, "$ref"))) {
			/* some split documents write this; JSON Schema reads a property named "$ref" */
			char *pu = gs_child_uri(uri, "properties");
			gs_error(g, pu ? pu : uri, err, errlen, "a \"$ref\" in place of the properties map is not JSON Schema "
			         "(a $ref stands for a whole schema: $ref a schema that has these properties)");
			free(pu);
			goto cleanup;
		}
		if (json_object_size(props)) {
			size_t n = json_object_size(props), i = 0;
			const char **keys = calloc(n, sizeof *keys);
			const char **syms = calloc(n, sizeof *syms);
			const char *k;
			json_t *v;
			int bad = !keys || !syms;
			char *puri = gs_child_uri(uri, "properties");
			json_object_foreach((json_t *)props, k, v)
				keys[i++] = k;
			if (!bad)
				qsort(keys, n, sizeof *keys, gs_cmp_keys);
			for (i = 0; !bad && i < n; i++) {
				char *cu = gs_child_uri(puri, keys[i]);
				bad = gs_child(g, cu, json_object_get(props, keys[i]), depth, &syms[i], err, errlen) != 0;
				free(cu);
			}
			if (!bad) {
				fprintf(aux, "static const rt_schema_prop %s_props[] = {\n", sym);
				for (i = 0; i < n; i++) {
					fprintf(aux, "\t{ ");
					gen_text_cstr(aux, keys[i]);
					fprintf(aux, ", &%s },\n", syms[i]);
				}
				fprintf(aux, "};\n");
				fprintf(f, "\t.properties = %s_props, .n_properties = %zu,\n", sym, n);
			}
			free(puri);
			free(keys);
			free(syms);
			if (bad)
				goto cleanup;
		}
		if (req) {
			if (!json_is_array(req)) {
				gs_error(g, uri, err, errlen, "\"required\" must be an array of strings");
				goto cleanup;
			}
			if (json_array_size(req)) {
				fprintf(aux, "static const char *const %s_required[] = {", sym);
				for (size_t i = 0; i < json_array_size(req); i++) {
					if (!json_is_string(json_array_get(req, i))) {
						gs_error(g, uri, err, errlen, "\"required\" must be an array of strings");
						goto cleanup;
					}
					fputc(' ', aux);
					gen_text_cstr(aux, json_string_value(json_array_get(req, i)));
					fputc(',', aux);
				}
				fprintf(aux, " };\n");
				fprintf(f, "\t.required = %s_required, .n_required = %zu,\n", sym, json_array_size(req));
			}
		}
		if (json_is_false(addl)) {
			flags |= 1u << 10;
		} else if (json_is_object(addl) || json_is_true(addl)) {
			/* true too: it evaluates every other property (unevaluatedProperties) */
			char *cu = gs_child_uri(uri, "additionalProperties");
			int r = gs_child(g, cu, addl, depth, &s, err, errlen);
			free(cu);
			if (r != 0)
				goto cleanup;
			fprintf(f, "\t.additional = &%s,\n", s);
		}
		if (json_object_size(pprops)) {
			size_t n = json_object_size(pprops), i = 0;
			const char **keys = calloc(n, sizeof *keys);
			const char **syms = calloc(n, sizeof *syms);
			const char *k;
			json_t *v;
			int bad = !keys || !syms;
			char *puri = gs_child_uri(uri, "patternProperties");
			json_object_foreach((json_t *)pprops, k, v)
				keys[i++] = k;
			if (!bad)
				qsort(keys, n, sizeof *keys, gs_cmp_keys);
			for (i = 0; !bad && i < n; i++) {
				char *cu = gs_child_uri(puri, keys[i]);
				bad = gs_child(g, cu, json_object_get(pprops, keys[i]), depth, &syms[i], err, errlen) != 0;
				free(cu);
			}
			if (!bad) {
				for (i = 0; i < n; i++) {
					fprintf(aux, "static rt_schema_cache %s_pp%zu = { .pattern = ", sym, i);
					gen_text_cstr(aux, keys[i]);
					fprintf(aux, " };\n");
				}
				fprintf(aux, "static const rt_schema_pattern_prop %s_pprops[] = {\n", sym);
				for (i = 0; i < n; i++)
					fprintf(aux, "\t{ &%s_pp%zu, &%s },\n", sym, i, syms[i]);
				fprintf(aux, "};\n");
				fprintf(f, "\t.pattern_properties = %s_pprops, .n_pattern_properties = %zu,\n", sym, n);
			}
			free(puri);
			free(keys);
			free(syms);
			if (bad)
				goto cleanup;
		}
		const json_t *uprops = json_object_get(node, "unevaluatedProperties");
		if (uprops && g->dialect == GEN_DIALECT_31) {
			char *cu = gs_child_uri(uri, "unevaluatedProperties");
			int r = gs_child(g, cu, uprops, depth, &s, err, errlen);
			free(cu);
			if (r != 0)
				goto cleanup;
			fprintf(f, "\t.unevaluated_properties = &%s,\n", s);
		}
		if (pnames) {
			char *cu = gs_child_uri(uri, "propertyNames");
			int r = gs_child(g, cu, pnames, depth, &s, err, errlen);
			free(cu);
			if (r != 0)
				goto cleanup;
			fprintf(f, "\t.property_names = &%s,\n", s);
		}
		/* dependentRequired / dependentSchemas, and draft 4 dependencies */
		const json_t *dreq = json_object_get(node, "dependentRequired");
		const json_t *dsch = json_object_get(node, "dependentSchemas");
		const json_t *deps = json_object_get(node, "dependencies");
		size_t nreq = 0, nsch = 0;
		const char *k;
		json_t *v;
		FILE *rq = NULL, *sc = NULL;
		char *rqbuf = NULL, *scbuf = NULL;
		size_t rqlen = 0, sclen = 0;
		rq = gen_text_memstream(&rqbuf, &rqlen);
		sc = gen_text_memstream(&scbuf, &sclen);
		int bad = !rq || !sc;
		for (int pass = 0; pass < 3 && !bad; pass++) {
			const json_t *obj = pass == 0 ? dreq : pass == 1 ? dsch : deps;
			const char *kw = pass == 0 ? "dependentRequired" : pass == 1 ? "dependentSchemas" : "dependencies";
			if (!json_is_object(obj))
				continue;
			/* sorted for determinism */
			size_t n = json_object_size(obj), i = 0;
			const char **keys = calloc(n ? n : 1, sizeof *keys);
			json_object_foreach((json_t *)obj, k, v)
				keys[i++] = k;
			qsort(keys, n, sizeof *keys, gs_cmp_keys);
			for (i = 0; i < n && !bad; i++) {
				v = json_object_get(obj, keys[i]);
				if (json_is_array(v) && pass != 1) {
					fprintf(aux, "static const char *const %s_dr%zu[] = { ", sym, nreq);
					gen_text_cstr(aux, keys[i]);
					for (size_t x = 0; x < json_array_size(v); x++) {
						fprintf(aux, ", ");
						gen_text_cstr(aux, json_string_value(json_array_get(v, x)) ? json_string_value(json_array_get(v, x)) : "");
					}
					fprintf(aux, ", NULL };\n");
					fprintf(rq, "%s_dr%zu, ", sym, nreq);
					nreq++;
				} else if (gs_is_schema(v) && pass != 0) {
					char *du = gs_child_uri(uri, kw);
					char *cu = du ? gs_child_uri(du, keys[i]) : NULL;
					const char *ds;
					bad = gs_child(g, cu, v, depth, &ds, err, errlen) != 0;
					free(du);
					free(cu);
					if (!bad) {
						fprintf(sc, "\t{ ");
						gen_text_cstr(sc, keys[i]);
						fprintf(sc, ", &%s },\n", ds);
						nsch++;
					}
				} else {
					gs_error(g, uri, err, errlen, "\"%s\" values must be %s", kw,
					         pass == 0 ? "arrays of names" : pass == 1 ? "schemas" : "arrays or schemas");
					bad = 1;
				}
			}
			free(keys);
		}
		if (rq)
			fclose(rq);
		if (sc)
			fclose(sc);
		if (!bad && nreq) {
			fprintf(aux, "static const char *const *const %s_depreq[] = { %s};\n", sym, rqbuf);
			fprintf(f, "\t.dependent_required = %s_depreq, .n_dependent_required = %zu,\n", sym, nreq);
		}
		if (!bad && nsch) {
			fprintf(aux, "static const rt_schema_prop %s_depsch[] = {\n%s};\n", sym, scbuf);
			fprintf(f, "\t.dependent_schemas = %s_depsch, .n_dependent_schemas = %zu,\n", sym, nsch);
		}
		free(rqbuf);
		free(scbuf);
		if (bad)
			goto cleanup;
	}

	/* combinators */
	{
		static const char *const kws[] = { "allOf", "anyOf", "oneOf" };
		static const char *const fields_[] = { "all_of", "any_of", "one_of" };
		for (size_t i = 0; i < 3; i++) {
			const json_t *l = json_object_get(node, kws[i]);
			char name[200];
			if (!l)
				continue;
			snprintf(name, sizeof name, "%s_%s", sym, fields_[i]);
			if (gs_list(g, aux, uri, kws[i], l, depth, name, err, errlen) != 0)
				goto cleanup;
			fprintf(f, "\t.%s = { %s, %zu },\n", fields_[i], name, json_array_size(l));
		}
		static const char *const one[] = { "not", "if", "then", "else" };
		static const char *const onef[] = { "not_", "if_", "then_", "else_" };
		for (size_t i = 0; i < 4; i++) {
			const json_t *sub = json_object_get(node, one[i]);
			const char *s;
			if (!sub || (i >= 2 && !json_object_get(node, "if")))
				continue;
			char *cu = gs_child_uri(uri, one[i]);
			int r = gs_child(g, cu, sub, depth, &s, err, errlen);
			free(cu);
			if (r != 0)
				goto cleanup;
			fprintf(f, "\t.%s = &%s,\n", onef[i], s);
		}
	}

	/* discriminator (OpenAPI): picks the oneOf/anyOf branch by a property */
	{
		const json_t *disc = json_object_get(node, "discriminator");
		const char *pname = json_string_value(json_object_get(disc, "propertyName"));
		const json_t *branches = json_object_get(node, "oneOf");
		if (!branches)
			branches = json_object_get(node, "anyOf");
		if (disc && !pname) {
			gs_error(g, uri, err, errlen, "\"discriminator\" needs a string \"propertyName\"");
			goto cleanup;
		}
		if (pname && branches) {
			const json_t *mapping = json_object_get(disc, "mapping");
			size_t n = 0;
			fprintf(f, "\t.disc_property = ");
			gen_text_cstr(f, pname);
			fprintf(f, ",\n");
			fprintf(aux, "static const rt_schema_disc_map %s_disc[] = {\n", sym);
			if (json_is_object(mapping)) {
				size_t m = json_object_size(mapping), i = 0;
				const char **keys = calloc(m ? m : 1, sizeof *keys);
				const char *k;
				json_t *v;
				json_object_foreach((json_t *)mapping, k, v)
					keys[i++] = k;
				qsort(keys, m, sizeof *keys, gs_cmp_keys);
				for (i = 0; i < m; i++) {
					const char *target = json_string_value(json_object_get(mapping, keys[i]));
					char *turi = NULL, *refbuf = NULL;
					const char *ts;
					const json_t *tn;
					int r = -1;
					if (target && !strchr(target, '#') && !strchr(target, '/') &&
					    asprintf(&refbuf, "#/components/schemas/%s", target) < 0)
						refbuf = NULL;
					tn = target ? docset_resolve(g->ds, base, refbuf ? refbuf : target, &turi, err, errlen) : NULL;
					if (tn)
						r = gs_compile_node(g, turi, tn, gs_ref_depth(depth), &ts, err, errlen);
					else if (!target)
						gs_error(g, uri, err, errlen, "discriminator mapping \"%s\" must be a string", keys[i]);
					else {
						char why[300];
						snprintf(why, sizeof why, "%s", err);
						gs_error(g, uri, err, errlen, "discriminator mapping \"%s\" does not resolve: %s", keys[i], why);
					}
					free(turi);
					free(refbuf);
					if (r != 0) {
						free(keys);
						goto cleanup;
					}
					fprintf(aux, "\t{ ");
					gen_text_cstr(aux, keys[i]);
					fprintf(aux, ", &%s },\n", ts);
					n++;
				}
				free(keys);
			} else {
				/* implicit mapping: each branch that is a $ref to a named component */
				for (size_t i = 0; i < json_array_size(branches); i++) {
					const char *r = json_string_value(json_object_get(json_array_get(branches, i), "$ref"));
					char *turi = NULL;
					const char *ts, *nm;
					const json_t *tn;
					if (!r)
						continue;
					tn = docset_resolve(g->ds, base, r, &turi, err, errlen);
					nm = turi ? gs_component_name(turi) : NULL;
					if (tn && nm && gs_compile_node(g, turi, tn, gs_ref_depth(depth), &ts, err, errlen) == 0) {
						fprintf(aux, "\t{ ");
						gen_text_cstr(aux, nm);
						fprintf(aux, ", &%s },\n", ts);
						n++;
					}
					free(turi);
				}
			}
			if (n == 0)
				fprintf(aux, "\t{ NULL, NULL },\n");
			fprintf(aux, "};\n");
			fprintf(f, "\t.disc_map = %s_disc, .n_disc_map = %zu,\n", sym, n);
		}
	}
	rc = 0;

finish:
	if (flags)
		fprintf(f, "\t.flags = 0x%x,\n", flags);
	fclose(f);
	f = NULL;
	{
		const char *hash = strchr(uri, '#');
		fprintf(aux, "/* ");
		gen_text_comment(aux, docset_display(g->ds, uri));
		fputc('#', aux);
		gen_text_comment(aux, hash ? hash + 1 : "");
		fprintf(aux, " */\nstatic const rt_schema %s = {\n\t.where = ", sym);
		char *where = NULL;
		if (asprintf(&where, "%s#%s", docset_display(g->ds, uri), hash ? hash + 1 : "") >= 0) {
			gen_text_cstr(aux, where);
			free(where);
		}
		fprintf(aux, ",\n%s};\n", fields ? fields : "");
	}
	free(fields);
	fclose(aux);
	aux = NULL;
	g->v[me].text = buf;
	g->v[me].has_cache = has_cache;
	buf = NULL;
	free(base);
	return rc;

cleanup:
	if (f)
		fclose(f);
	free(fields);
	if (aux)
		fclose(aux);
	free(buf);
	free(base);
	return -1;
}

int gen_schema_compile(gen_schema *g, const char *uri, const char **symbol, char *err, size_t errlen)
{
	char *canon = NULL;
	const json_t *node = docset_resolve(g->ds, uri, uri, &canon, err, errlen);
	int rc;

	if (!node)
		return -1;
	rc = gs_compile_node(g, canon, node, 0, symbol, err, errlen);
	free(canon);
	/* the schemas named deep down a chain of $refs, from the top */
	while (rc == 0 && json_array_size(g->pending)) {
		size_t last = json_array_size(g->pending) - 1;
		char *u = strdup(json_string_value(json_array_get(g->pending, last)));
		const char *s;
		json_array_remove(g->pending, last);
		node = u ? docset_resolve(g->ds, u, u, &canon, err, errlen) : NULL;
		if (!node) {
			free(u);
			return -1;
		}
		g->resume = (size_t)json_integer_value(json_object_get(g->by_uri, u));
		rc = gs_compile_node(g, u, node, 0, &s, err, errlen);
		free(canon);
		free(u);
	}
	return rc;
}

int gen_schema_write(gen_schema *g, FILE *out)
{
	for (size_t i = 0; i < g->n; i++)
		fprintf(out, "static const rt_schema %s;\n", g->v[i].symbol);
	for (size_t i = 0; i < g->nres; i++)
		fprintf(out, "static const rt_schema_resource %s;\n", g->res[i].symbol);
	fputc('\n', out);
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i].text)
			fprintf(out, "%s\n", g->v[i].text);
	for (size_t i = 0; i < g->nres; i++)
		if (g->res[i].text)
			fprintf(out, "%s\n", g->res[i].text);
	return 0;
}

size_t gen_schema_count_caches(const gen_schema *g)
{
	size_t n = 0;

	for (size_t i = 0; i < g->n; i++)
		n += g->v[i].has_cache;
	return n;
}

int gen_schema_write_cache_list(gen_schema *g, FILE *out, const char *array_name)
{
	fprintf(out, "static rt_schema_cache *const %s[] = {\n", array_name);
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i].has_cache)
			fprintf(out, "\t&%s_cache,\n", g->v[i].symbol);
	fprintf(out, "\tNULL\n};\n");
	return 0;
}

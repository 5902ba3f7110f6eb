/* gen_parse.c — the emitter of byte parsers (gen_parse.h). One function per
 * schema reached, printed from the IR: the checks of rt_schema.c's
 * rt_validate in its order, on the token just read, straight-line. */
#include "gen_parse.h"
#include "gen_model_int.h"
#include "gen_text.h"

#include <stdlib.h>
#include <string.h>

struct gen_parse {
	gen_schema *gs;
	const si_schema **roots;
	size_t nroots;
	const si_schema **reach; /* every schema a root reaches, in order */
	size_t nreach, capreach;
	size_t fallback;
	size_t fallback_defaults; /* by their table only where defaults are applied */
	gen_model *gm;            /* for the model parsers, or NULL */
	struct gp_mroot { const si_schema *s; gm_type *t; int hops; } *mroots;
	size_t nmroots;
	const gm_type **mreach;   /* structs that get a T__m */
	size_t nmreach;
};

gen_parse *gen_parse_new(gen_schema *gs)
{
	gen_parse *p = calloc(1, sizeof *p);

	if (p)
		p->gs = gs;
	return p;
}

void gen_parse_free(gen_parse *p)
{
	if (!p)
		return;
	free(p->roots);
	free(p->reach);
	free(p->mroots);
	free(p->mreach);
	free(p);
}

int gen_parse_root(gen_parse *p, const char *symbol)
{
	const si_schema *s = gen_schema_find(p->gs, symbol);
	const si_schema **v;

	if (!s)
		return -1;
	for (size_t i = 0; i < p->nroots; i++)
		if (p->roots[i] == s)
			return 0;
	v = realloc(p->roots, (p->nroots + 1) * sizeof *v);
	if (!v)
		return -1;
	p->roots = v;
	p->roots[p->nroots++] = s;
	return 0;
}

/* ---- analysis: which schemas are checked in line ---- */

static int gp_scalar(const json_t *v)
{
	return !json_is_object(v) && !json_is_array(v);
}

static int gp_scalar_enum(const si_schema *s)
{
	size_t i;
	json_t *v;

	if (s->const_ && !gp_scalar(s->const_))
		return 0;
	if (s->enum_)
		json_array_foreach(s->enum_, i, v)
			if (!gp_scalar(v))
				return 0;
	return 1;
}

/* A default that rt_schema_apply_defaults would put into the value through
 * s: a property's (following $ref), inside properties, allOf and $ref. */
static int gp_defaults_reach(const si_schema *s, int depth)
{
	if (!s)
		return 0;
	if (depth > 8)
		return 1; /* deep or recursive: assume so */
	for (size_t i = 0; i < s->properties.n; i++) {
		const si_schema *ps = s->properties.v[i].schema;
		for (int hops = 0; ps && hops < 16; hops++, ps = ps->ref)
			if (ps->default_ || gp_defaults_reach(ps, depth + 1))
				return 1;
	}
	for (size_t i = 0; i < s->all_of.n; i++)
		if (gp_defaults_reach(s->all_of.v[i], depth + 1))
			return 1;
	return gp_defaults_reach(s->ref, depth + 1);
}

/* Keywords that check the value itself (not through another schema). */
static int gp_own(const si_schema *s)
{
	unsigned limits = SI_F_HAS_MIN | SI_F_HAS_MAX | SI_F_HAS_MULTIPLE | SI_F_HAS_EXCL_MIN2 | SI_F_HAS_EXCL_MAX2 |
	                  SI_F_HAS_MIN_LENGTH | SI_F_HAS_MAX_LENGTH | SI_F_HAS_MIN_ITEMS | SI_F_HAS_MAX_ITEMS |
	                  SI_F_HAS_MIN_PROPS | SI_F_HAS_MAX_PROPS | SI_F_NO_ADDL;

	return s->types || (s->flags & limits) || s->pattern || s->enum_ || s->const_ ||
	       (s->format != SI_FMT_NONE && (s->flags & SI_F_FORMAT_ASSERT)) || s->items || s->properties.n ||
	       s->n_required || s->additional || s->n_dep_required || s->pattern_properties.n;
}

/* Combinators (and $ref beside other keywords): the value's bytes are read
 * again for each (rt_parse_rescan). */
static int gp_comb(const si_schema *s)
{
	return s->all_of.n || s->any_of.n || s->one_of.n || s->not_ || s->if_ || (s->ref && gp_own(s));
}

/* Keywords the in-line code does not do: the value is checked by its table. */
static int gp_fallback_always(const si_schema *s)
{
	if (s->is_bool)
		return 0;
	return s->dyn_ref || s->resource || s->unevaluated_items || s->unevaluated_properties || s->contains ||
	       s->prefix_items.n || s->property_names || s->dep_schemas.n || s->disc_property ||
	       !gp_scalar_enum(s) || s->properties.n > 64 || s->pattern_properties.n > 8;
}

/* A re-scan does not apply defaults: where allOf or $ref beside keywords
 * would bring some, the table does it, when defaults are applied there
 * (dfl and RT_PARSE_DEFAULTS, decided at run time); else the in-line code
 * (OpenAPI 3.0's Parameter and Header: their own properties have defaults,
 * which their allOf's alternatives look at). */
static int gp_fallback_defaults(const si_schema *s)
{
	if (s->is_bool || gp_fallback_always(s))
		return 0;
	return (s->all_of.n && gp_defaults_reach(s, 0)) || (s->ref && gp_own(s) && gp_defaults_reach(s->ref, 0));
}

static int gp_fallback(const si_schema *s)
{
	return gp_fallback_always(s) || gp_fallback_defaults(s);
}

static int gp_by_table(const si_schema *s);
static int gp_shallow(const si_schema *s, int depth);

static int gp_reach(gen_parse *p, const si_schema *s)
{
	const si_schema *next[8];
	size_t n = 0;

	for (size_t i = 0; i < p->nreach; i++)
		if (p->reach[i] == s)
			return 0;
	if (p->nreach == p->capreach) {
		size_t cap = p->capreach ? p->capreach * 2 : 32;
		const si_schema **v = realloc(p->reach, cap * sizeof *v);
		if (!v)
			return -1;
		p->reach = v;
		p->capreach = cap;
	}
	p->reach[p->nreach++] = s;
	if (gp_fallback_always(s)) {
		p->fallback++;
		return 0;
	}
	p->fallback_defaults += gp_fallback_defaults(s);
	const si_named_list *nl[] = { &s->properties, &s->pattern_properties };
	const si_list *ll[] = { &s->all_of, &s->any_of, &s->one_of };
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < nl[k]->n; i++)
			if (gp_reach(p, nl[k]->v[i].schema) != 0)
				return -1;
	/* allOf's and not's alternatives checked by their tables have no
	   parser (anyOf's and oneOf's keep theirs, for rt_parse_closest) */
	for (size_t k = 0; k < 3; k++)
		for (size_t i = 0; i < ll[k]->n; i++)
			if (!(k == 0 && gp_by_table(s) && gp_shallow(ll[k]->v[i], 0)) && gp_reach(p, ll[k]->v[i]) != 0)
				return -1;
	next[n++] = s->ref;
	next[n++] = s->items;
	next[n++] = s->additional;
	next[n++] = gp_by_table(s) && s->not_ && gp_shallow(s->not_, 0) ? NULL : s->not_;
	next[n++] = s->if_;
	next[n++] = s->then_;
	next[n++] = s->else_;
	for (size_t i = 0; i < n; i++)
		if (next[i] && gp_reach(p, next[i]) != 0)
			return -1;
	return 0;
}

void gen_parse_counts(gen_parse *p, size_t *reached, size_t *fallback)
{
	*reached = p->nreach;
	*fallback = p->fallback;
}

/* ---- emitting ---- */

static int gp_has_object(const si_schema *s)
{
	return s->properties.n || s->n_required || s->additional || (s->flags & (SI_F_NO_ADDL | SI_F_HAS_MIN_PROPS |
	       SI_F_HAS_MAX_PROPS)) || s->n_dep_required || s->pattern_properties.n;
}

/* The schema that gives a property its default (rt_schema_default), or NULL. */
static const si_schema *gp_default(const si_schema *ps)
{
	for (int hops = 0; ps && hops < 16; hops++, ps = ps->ref)
		if (ps->default_)
			return ps;
	return NULL;
}

/* 1: never required of a request; 2: of a response (rt_required_exempt). */
static int gp_exempt(const si_schema *s, const char *name)
{
	const si_schema *ps = NULL;
	int ex = 0;

	for (size_t i = 0; i < s->properties.n; i++)
		if (strcmp(s->properties.v[i].name, name) == 0)
			ps = s->properties.v[i].schema;
	for (int hops = 0; ps && hops < 16; hops++, ps = ps->ref) {
		if (ps->flags & SI_F_READONLY)
			ex |= 1;
		if (ps->flags & SI_F_WRITEONLY)
			ex |= 2;
	}
	return ex;
}

/* The names the object code tracks: properties, then required and
 * dependentRequired names that are not properties. */
typedef struct gp_names {
	const char **v;
	const si_schema **schema; /* NULL: not a property */
	size_t n;
} gp_names;

static int gp_names_add(gp_names *k, const char *name, const si_schema *schema)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->v[i], name) == 0)
			return 0;
	k->v[k->n] = name;
	k->schema[k->n++] = schema;
	return 0;
}

static int gp_names_build(const si_schema *s, gp_names *k)
{
	size_t cap = s->properties.n + s->n_required + 1;

	for (size_t i = 0; i < s->n_dep_required; i++)
		cap += 1 + s->dep_required[i].n;
	k->v = calloc(cap, sizeof *k->v);
	k->schema = calloc(cap, sizeof *k->schema);
	k->n = 0;
	if (!k->v || !k->schema)
		return -1;
	for (size_t i = 0; i < s->properties.n; i++)
		gp_names_add(k, s->properties.v[i].name, s->properties.v[i].schema);
	for (size_t i = 0; i < s->n_required; i++)
		gp_names_add(k, s->required[i], NULL);
	for (size_t i = 0; i < s->n_dep_required; i++) {
		gp_names_add(k, s->dep_required[i].name, NULL);
		for (size_t x = 0; x < s->dep_required[i].n; x++)
			gp_names_add(k, s->dep_required[i].names[x], NULL);
	}
	return 0;
}

static size_t gp_index(const gp_names *k, const char *name)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->v[i], name) == 0)
			return i;
	return 0;
}

static void gp_match(FILE *out, const char *name)
{
	fprintf(out, "p->r.len == %zu && memcmp(p->r.str, ", strlen(name));
	gen_text_cstring(out, name, strlen(name), 0, 0);
	fprintf(out, ", %zu) == 0", strlen(name));
}

/* the member loop of an object: known names, then the others */
static const gm_field *gp_field(const gm_type *mt, const char *name, size_t *index)
{
	for (size_t i = 0; mt && i < mt->nfields; i++)
		if (strcmp(mt->fields[i].json_name, name) == 0) {
			*index = i;
			return &mt->fields[i];
		}
	return NULL;
}

static int gp_model_ok(const gm_type *t);
static void gp_member_model(FILE *out, const gm_type *mt, const gm_field *f, size_t fi, const si_schema *ps);

/* The literal a pattern "^literal" (letters, digits, '_', '-', '/') asks
   a name to start with, or NULL: PCRE2 decides at run time. */
/* A pattern that is ^ and literal text (letters, digits, _ - / and the
 * escapes \$ \. \/ \-): 1 (a prefix) or, ending in an unescaped $, 2 (the
 * whole name, or it and a final newline: PCRE2's $, as the table has it);
 * the text into buf. 0 for any other pattern. */
static int gp_lit_prefix(const char *pattern, char *buf, size_t size)
{
	size_t n = 0;

	if (pattern[0] != '^')
		return 0;
	for (const char *c = pattern + 1; *c; c++) {
		if (n + 1 >= size)
			return 0;
		if (*c == '$' && c[1] == '\0' && n > 0) {
			buf[n] = '\0';
			return 2;
		}
		if (*c == '\\' && (c[1] == '$' || c[1] == '.' || c[1] == '/' || c[1] == '-')) {
			buf[n++] = *++c;
			continue;
		}
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
		      *c == '-' || *c == '/'))
			return 0;
		buf[n++] = *c;
	}
	buf[n] = '\0';
	return n > 0;
}

/* the test "name nm (nml bytes) matches pattern i of s"; with a known name,
   0 when it cannot match (decided here), else 1 */
static int gp_pmatch(FILE *out, const si_schema *s, size_t i, const char *known)
{
	char lit[128];
	int kind = gp_lit_prefix(s->pattern_properties.v[i].name, lit, sizeof lit);
	size_t n = strlen(lit);

	if (kind == 1) {
		if (known)
			return strncmp(known, lit, n) == 0 ? (fprintf(out, "1"), 1) : 0;
		fprintf(out, "(nml >= %zu && memcmp(nm, ", n);
		gen_text_cstr(out, lit);
		fprintf(out, ", %zu) == 0)", n);
		return 1;
	}
	if (kind == 2) {
		if (known)
			return strncmp(known, lit, n) == 0 && (known[n] == '\0' || strcmp(known + n, "\n") == 0) ?
			       (fprintf(out, "1"), 1) : 0;
		fprintf(out, "((nml == %zu || (nml == %zu && nm[%zu] == '\\n')) && memcmp(nm, ", n, n + 1, n);
		gen_text_cstr(out, lit);
		fprintf(out, ", %zu) == 0)", n);
		return 1;
	}
	fprintf(out, "rt_parse_pattern(&%s__pp%zu, nm, nml) == 1", s->symbol, i);
	return 1;
}

/* the value's first token, noted for gp_fast (member cap; none when < 0) */
static void gp_member_note(FILE *out, long cap)
{
	if (cap >= 0)
		fprintf(out, "\t\t\t\tft%ld = tk;\n\t\t\t\tfv%ld = p->r.str;\n\t\t\t\tfl%ld = p->r.len;\n", cap, cap, cap);
}

/* a known property's value: its schema, then the patterns its name matches */
static void gp_member_known(FILE *out, const si_schema *s, const char *name, const si_schema *ps, long cap)
{
	FILE *tmp;
	char *buf = NULL;
	size_t len = 0;

	if (!s->pattern_properties.n && cap < 0) {
		fprintf(out, "\t\t\t\tif (%s__v(p, rt_jread_next(&p->r), o ? &c : NULL, dfl) != 0)\n\t\t\t\t\tbreak;\n",
		        ps->symbol);
		return;
	}
	if (!s->pattern_properties.n) {
		fprintf(out, "\t\t\t\tint tk = rt_jread_next(&p->r);\n\n");
		gp_member_note(out, cap);
		fprintf(out, "\t\t\t\tif (%s__v(p, tk, o ? &c : NULL, dfl) != 0)\n\t\t\t\t\tbreak;\n", ps->symbol);
		return;
	}
	fprintf(out, "\t\t\t\tconst char *nm = p->r.str, *vs;\n\t\t\t\tsize_t nml = p->r.len;\n\t\t\t\tint tk = rt_jread_next(&p->r);\n\n");
	fprintf(out, "\t\t\t\tvs = p->r.tok;\n\t\t\t\t(void)vs;\n\t\t\t\t(void)nm;\n\t\t\t\t(void)nml;\n");
	gp_member_note(out, cap);
	fprintf(out, "\t\t\t\tif (%s__v(p, tk, o ? &c : NULL, dfl) != 0)\n\t\t\t\t\tbreak;\n", ps->symbol);
	for (size_t i = 0; i < s->pattern_properties.n; i++) {
		tmp = gen_text_memstream(&buf, &len);
		if (!tmp)
			return;
		if (gp_pmatch(tmp, s, i, name)) {
			fclose(tmp);
			fprintf(out, "\t\t\t\tif (%s && rt_parse_rescan(p, vs, p->r.p, %s__v, 1) < 0)\n\t\t\t\t\tbreak;\n", buf,
			        s->pattern_properties.v[i].schema->symbol);
		} else {
			fclose(tmp);
		}
		free(buf);
		buf = NULL;
	}
}

/* a name the object does not know: the patterns, else additionalProperties */
static void gp_member_other(FILE *out, const si_schema *s)
{
	fprintf(out, "\t\t\t{\n\t\t\t\tconst char *nm = p->r.str, *vs;\n\t\t\t\tsize_t nml = p->r.len;\n\t\t\t\tint tk, hit = 0;\n\n");
	fprintf(out, "\t\t\t\tif (rt_jread_names_add(&p->r, &other) != 0)\n\t\t\t\t\tbreak;\n");
	fprintf(out, "\t\t\t\ttk = rt_jread_next(&p->r);\n\t\t\t\tvs = p->r.tok;\n\t\t\t\t(void)vs;\n\t\t\t\t(void)hit;\n"
	             "\t\t\t\t(void)nm;\n\t\t\t\t(void)nml;\n");
	for (size_t i = 0; i < s->pattern_properties.n; i++) {
		fprintf(out, "\t\t\t\tif (");
		gp_pmatch(out, s, i, NULL);
		fprintf(out, ") {\n\t\t\t\t\tif (hit++ ? rt_parse_rescan(p, vs, p->r.p, %s__v, 1) < 0 : %s__v(p, tk, o ? &c : NULL, 0) != 0)\n"
		             "\t\t\t\t\t\tbreak;\n\t\t\t\t}\n",
		        s->pattern_properties.v[i].schema->symbol, s->pattern_properties.v[i].schema->symbol);
	}
	fprintf(out, "\t\t\t\tif (!hit) {\n");
	if (s->flags & SI_F_NO_ADDL)
		fprintf(out, "\t\t\t\t\trt_parse_fail(p, \"additionalProperties\", \"is not allowed (unknown property \\\"%%.*s\\\")\", "
		             "(int)nml, nm);\n\t\t\t\t\tif (rt_jread_skip_rest(&p->r, tk) != 0)\n\t\t\t\t\t\tbreak;\n");
	else if (s->additional)
		fprintf(out, "\t\t\t\t\tif (%s__v(p, tk, o ? &c : NULL, 0) != 0)\n\t\t\t\t\t\tbreak;\n", s->additional->symbol);
	else
		fprintf(out, "\t\t\t\t\tif (rt_parse_json(p, tk, o ? &c : NULL) != 0)\n\t\t\t\t\t\tbreak;\n");
	fprintf(out, "\t\t\t\t}\n\t\t\t}\n");
}

static void gp_object_members(FILE *out, const si_schema *s, const gp_names *k, const gm_type *mt,
                              const unsigned char *need)
{
	fprintf(out, "\t\twhile ((t = rt_jread_next(&p->r)) == RT_JR_NAME) {\n\t\t\tjson_t *c = NULL;\n\t\t\tn++;\n");
	/* the name is checked UTF-8 with no NUL (rt_jread), and stays put */
	fprintf(out, "\t\t\tkey = p->r.str;\n\t\t\tkey_len = p->r.len;\n");
	for (size_t i = 0; i < k->n; i++) {
		size_t fi = 0;
		const gm_field *f = k->schema[i] ? gp_field(mt, k->v[i], &fi) : NULL;
		fprintf(out, "\t\t\t%sif (", i ? "else " : "");
		gp_match(out, k->v[i]);
		fprintf(out, ") {\n\t\t\t\tif (seen[%zu] && rt_jread_duplicate(&p->r))\n\t\t\t\t\tbreak;\n"
		             "\t\t\t\tseen[%zu] = 1;\n", i, i);
		if (f) {
			gp_member_model(out, mt, f, fi, k->schema[i]);
			fprintf(out, "\t\t\t\tgoto member;\n");
		} else if (k->schema[i]) {
			gp_member_known(out, s, k->v[i], k->schema[i], need && need[i] ? (long)i : -1);
			fprintf(out, "\t\t\t\tgoto member;\n");
		}
		fprintf(out, "\t\t\t}\n");
	}
	gp_member_other(out, s);
	fprintf(out, "\t\t\tgoto member;\n\t\tmember:\n");
	fprintf(out, "\t\t\tif (c && json_object_setn_new_nocheck(o, key, key_len, c) != 0)\n\t\t\t\tbreak;\n\t\t}\n");
}

/* after the members: defaults, then the object keywords (before the
   members' violations, as the table validator reports them) */
static void gp_object_after(FILE *out, const si_schema *s, const gp_names *k, const gm_type *mt)
{
	for (size_t i = 0; i < k->n; i++) {
		const si_schema *ds = k->schema[i] ? gp_default(k->schema[i]) : NULL;
		size_t fi = 0;
		const gm_field *f;
		if (!ds)
			continue;
		f = gp_field(mt, k->v[i], &fi);
		fprintf(out, "\t\tif (!seen[%zu] && dfl && (p->flags & RT_PARSE_DEFAULTS)) {\n\t\t\tseen[%zu] = 1;\n\t\t\tn++;\n", i, i);
		fprintf(out, "\t\t\tif (rt_parse_default(p, &%s, ", k->schema[i]->symbol);
		gen_text_cstr(out, k->v[i]);
		fprintf(out, ", o) != 0)\n\t\t\t\tgoto fail;\n");
		if (f) {
			fprintf(out, "\t\t\tif (%s__f%zu(rt_schema_default(&%s), p->r.arena, mo) != 0)\n"
			             "\t\t\t\trt_parse_fail(p, \"model\", \"the default of \\\"%%s\\\" does not fit its C type\", ",
			        mt->cname, fi, k->schema[i]->symbol);
			gen_text_cstr(out, k->v[i]);
			fprintf(out, ");\n");
			if (f->optional)
				fprintf(out, "\t\t\tmo->has_%s = 1;\n", f->cname);
		}
		fprintf(out, "\t\t}\n");
	}
	if ((s->flags & SI_F_HAS_MIN_PROPS) && s->limit[SI_L_HAS_MIN_PROPS] > 0)
		fprintf(out, "\t\tif (n < %lld)\n\t\t\trt_parse_fail_at(p, pos++, \"minProperties\", \"must have at least %lld propert%s, got %%zu\", n);\n",
		        (long long)s->limit[SI_L_HAS_MIN_PROPS], (long long)s->limit[SI_L_HAS_MIN_PROPS],
		        s->limit[SI_L_HAS_MIN_PROPS] == 1 ? "y" : "ies");
	if (s->flags & SI_F_HAS_MAX_PROPS)
		fprintf(out, "\t\tif (n > %lld)\n\t\t\trt_parse_fail_at(p, pos++, \"maxProperties\", \"must have at most %lld propert%s, got %%zu\", n);\n",
		        (long long)s->limit[SI_L_HAS_MAX_PROPS], (long long)s->limit[SI_L_HAS_MAX_PROPS],
		        s->limit[SI_L_HAS_MAX_PROPS] == 1 ? "y" : "ies");
	for (size_t i = 0; i < s->n_required; i++) {
		int ex = gp_exempt(s, s->required[i]);
		fprintf(out, "\t\tif (!seen[%zu]%s%s)\n", gp_index(k, s->required[i]), ex & 1 ? " && p->dir != RT_DIR_REQUEST" : "",
		        ex & 2 ? " && p->dir != RT_DIR_RESPONSE" : "");
		fprintf(out, "\t\t\trt_parse_fail_at(p, pos++, \"required\", \"must have the required property %%s\", ");
		{
			char *q = NULL;
			if (asprintf(&q, "\"%s\"", s->required[i]) >= 0)
				gen_text_cstr(out, q);
			free(q);
		}
		fprintf(out, ");\n");
	}
	for (size_t i = 0; i < s->n_dep_required; i++) {
		const si_dep_required *d = &s->dep_required[i];
		for (size_t x = 0; x < d->n; x++) {
			fprintf(out, "\t\tif (seen[%zu] && !seen[%zu])\n\t\t\trt_parse_fail_at(p, pos++, \"dependentRequired\", "
			             "\"must have the property \\\"%%s\\\" when \\\"%%s\\\" is present\", ",
			        gp_index(k, d->name), gp_index(k, d->names[x]));
			gen_text_cstr(out, d->names[x]);
			fprintf(out, ", ");
			gen_text_cstr(out, d->name);
			fprintf(out, ");\n");
		}
	}
}

static const si_schema *gp_follow(const si_schema *s);
static int gp_leaf(const si_schema *s);
static int gp_walks_object(const si_schema *s);

/* gp_fast: allOf alternatives whose verdict the member loop can tell by
 * itself. OpenAPI 3.0's ExampleXORExamples, SchemaXORContent and
 * ParameterLocation (in Parameter and Header) look only at which of the
 * object's own members are present and at the string or literal a few of
 * them hold. For such an alternative two C expressions are printed over
 * the loop's seen[] and the first tokens it noted (ft<i>, fv<i>, fl<i>):
 * "surely holds" and "surely fails", each exact where it says so (a
 * member is present or not; a string or literal token equals an enum's
 * string or literal or not). When the first is true the alternative's
 * check is skipped: it would report nothing. Else it runs as before, so
 * verdicts and messages stay the checks' own. */
typedef struct gp_fx {
	const gp_names *k;
	unsigned char *need; /* the members whose first token is noted */
} gp_fx;

enum { GP_FAST_MAX = 16384 }; /* the longest expression printed */

static long gp_fx_name(const gp_names *k, const char *name)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->v[i], name) == 0)
			return (long)i;
	return -1;
}

/* *acc = "(*acc op e)", or e when *acc is NULL; takes e */
static int gp_fx_op(char **acc, const char *op, char *e)
{
	char *r = NULL;

	if (!e)
		return -1;
	if (!*acc) {
		*acc = e;
		return 0;
	}
	if (asprintf(&r, "(%s %s %s)", *acc, op, e) < 0)
		r = NULL;
	free(*acc);
	free(e);
	*acc = r;
	return r ? 0 : -1;
}

static char *gp_fx_dup(const char *fmt, long i)
{
	char *r = NULL;

	return asprintf(&r, fmt, i, i, i, i) < 0 ? NULL : r;
}

/* one enum value against member i's first token, or NULL when not told */
static char *gp_fx_value(const json_t *e, long i)
{
	char *buf = NULL, *r;
	size_t len = 0, n = json_string_length(e);
	FILE *m;

	if (json_is_true(e))
		return gp_fx_dup("(ft%ld == RT_JR_TRUE)", i);
	if (json_is_false(e))
		return gp_fx_dup("(ft%ld == RT_JR_FALSE)", i);
	if (json_is_null(e))
		return gp_fx_dup("(ft%ld == RT_JR_NULL)", i);
	if (!json_is_string(e) || !(m = gen_text_memstream(&buf, &len)))
		return NULL;
	fprintf(m, "(ft%ld == RT_JR_STRING && fl%ld == %zu && memcmp(fv%ld, ", i, i, n, i);
	gen_text_cstring(m, json_string_value(e), n, 0, 0);
	fprintf(m, ", %zu) == 0)", n);
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	r = buf;
	return r;
}

/* member `name`'s value against ps, an enum of strings and literals (or a
 * boolean schema): *v holds, *f fails */
static int gp_fx_member(gp_fx *x, const char *name, const si_schema *ps, char **v, char **f)
{
	long i = gp_fx_name(x->k, name);
	char *m = NULL, *neg = NULL;
	size_t ne;

	ps = gp_follow(ps);
	if (!ps)
		return -1;
	if (ps->is_bool && !(ps->flags & SI_F_FALSE)) {
		*v = strdup("1");
		*f = strdup("0");
		return *v && *f ? 0 : -1;
	}
	if (i < 0)
		return -1;
	if (ps->is_bool) {
		*v = gp_fx_dup("!seen[%ld]", i);
		*f = gp_fx_dup("seen[%ld]", i);
		return *v && *f ? 0 : -1;
	}
	if (!x->k->schema[i] || !gp_leaf(ps) || ps->ref || ps->dyn_ref || ps->types || ps->flags ||
	    ps->format != SI_FMT_NONE || ps->pattern || ps->const_ || !json_is_array(ps->enum_) ||
	    !(ne = json_array_size(ps->enum_)))
		return -1;
	for (size_t e = 0; e < ne; e++)
		if (gp_fx_op(&m, "||", gp_fx_value(json_array_get(ps->enum_, e), i)) != 0) {
			free(m);
			return -1;
		}
	x->need[i] = 1;
	if (asprintf(v, "(!seen[%ld] || %s)", i, m) < 0)
		*v = NULL;
	if (asprintf(&neg, "(seen[%ld] && !%s)", i, m) < 0)
		neg = NULL;
	free(m);
	*f = neg;
	if (*v && *f)
		return 0;
	free(*v);
	free(*f);
	*v = *f = NULL;
	return -1;
}

static int gp_fx_schema(gp_fx *x, const si_schema *a, int depth, char **v, char **f);

/* anyOf (one_of 0) or oneOf (1) over l: *v holds, *f fails */
static int gp_fx_some(gp_fx *x, const si_list *l, int one_of, int depth, char **v, char **f)
{
	char **lv = calloc(l->n + 1, sizeof *lv), **lf = calloc(l->n + 1, sizeof *lf);
	int rc = -1;

	if (!lv || !lf)
		goto cleanup;
	for (size_t i = 0; i < l->n; i++)
		if (gp_fx_schema(x, l->v[i], depth + 1, &lv[i], &lf[i]) != 0)
			goto cleanup;
	for (size_t i = 0; i < l->n; i++) {
		char *one = strdup(lv[i]);
		for (size_t j = 0; one_of && j < l->n; j++)
			if (j != i && gp_fx_op(&one, "&&", strdup(lf[j])) != 0)
				goto cleanup;
		if (gp_fx_op(v, "||", one) != 0 || gp_fx_op(f, "&&", strdup(lf[i])) != 0)
			goto cleanup;
	}
	for (size_t i = 0; one_of && i < l->n; i++)
		for (size_t j = i + 1; j < l->n; j++) {
			char *two = NULL;
			if (asprintf(&two, "(%s && %s)", lv[i], lv[j]) < 0 || gp_fx_op(f, "||", two) != 0)
				goto cleanup;
		}
	rc = 0;
cleanup:
	if (rc != 0) {
		free(*v);
		free(*f);
		*v = *f = NULL;
	}
	for (size_t i = 0; lv && lf && i < l->n; i++) {
		free(lv[i]);
		free(lf[i]);
	}
	free(lv);
	free(lf);
	return rc;
}

/* alternative a on the object: *v holds, *f fails (new strings); -1 when
 * it looks at more than gp_fast tells */
static int gp_fx_schema(gp_fx *x, const si_schema *a, int depth, char **v, char **f)
{
	char *pv = NULL, *pf = NULL;

	*v = *f = NULL;
	a = gp_follow(a);
	if (!a || depth > 8)
		return -1;
	if (a->is_bool) {
		*v = strdup(a->flags & SI_F_FALSE ? "0" : "1");
		*f = strdup(a->flags & SI_F_FALSE ? "1" : "0");
		goto done;
	}
	if (a->ref || a->dyn_ref || a->resource || a->items || a->prefix_items.n || a->contains || a->unevaluated_items ||
	    a->additional || a->pattern_properties.n || a->property_names || a->unevaluated_properties ||
	    a->dep_schemas.n || a->n_dep_required || a->if_ || a->then_ || a->else_ || a->disc_property || a->enum_ ||
	    a->const_ || a->pattern || a->flags || a->format != SI_FMT_NONE || (a->types && !(a->types & SI_T_OBJECT)))
		return -1;
	for (size_t i = 0; i < a->n_required; i++) {
		long k = gp_fx_name(x->k, a->required[i]);
		if (k < 0 || gp_fx_op(v, "&&", gp_fx_dup("seen[%ld]", k)) != 0 ||
		    gp_fx_op(f, "||", gp_fx_dup("!seen[%ld]", k)) != 0)
			goto fail;
	}
	for (size_t i = 0; i < a->properties.n; i++)
		if (gp_fx_member(x, a->properties.v[i].name, a->properties.v[i].schema, &pv, &pf) != 0 ||
		    gp_fx_op(v, "&&", pv) != 0 || gp_fx_op(f, "||", pf) != 0)
			goto fail;
	for (size_t i = 0; i < a->all_of.n; i++) {
		pv = pf = NULL;
		if (gp_fx_schema(x, a->all_of.v[i], depth + 1, &pv, &pf) != 0 || gp_fx_op(v, "&&", pv) != 0 ||
		    gp_fx_op(f, "||", pf) != 0)
			goto fail;
	}
	for (int one = 0; one < 2; one++) {
		const si_list *l = one ? &a->one_of : &a->any_of;
		pv = pf = NULL;
		if (l->n && (gp_fx_some(x, l, one, depth, &pv, &pf) != 0 || gp_fx_op(v, "&&", pv) != 0 ||
		             gp_fx_op(f, "||", pf) != 0))
			goto fail;
	}
	if (a->not_) {
		pv = pf = NULL;
		if (gp_fx_schema(x, a->not_, depth + 1, &pv, &pf) != 0 || gp_fx_op(v, "&&", pf) != 0 ||
		    gp_fx_op(f, "||", pv) != 0)
			goto fail;
	}
	if (!*v && !*f) {
		*v = strdup("1");
		*f = strdup("0");
	}
done:
	if (*v && *f && strlen(*v) < GP_FAST_MAX && strlen(*f) < GP_FAST_MAX)
		return 0;
fail:
	free(*v);
	free(*f);
	*v = *f = NULL;
	return -1;
}

/* "holds" of s's allOf alternative i on the object whose names are k, or
 * NULL; marks in need the members whose tokens it reads */
static char *gp_fast(const si_schema *s, const gp_names *k, size_t i, unsigned char *need)
{
	unsigned char *mine = calloc(k->n + 1, 1);
	gp_fx x = { k, mine };
	char *v = NULL, *f = NULL;

	if (mine && i < 32 && !s->unevaluated_properties && !s->unevaluated_items && gp_walks_object(s) &&
	    gp_fx_schema(&x, s->all_of.v[i], 0, &v, &f) == 0)
		for (size_t n = 0; n < k->n; n++)
			need[n] |= mine[n];
	free(mine);
	free(f);
	return v;
}

/* bit i: s's allOf alternative i has a gp_fast verdict */
static unsigned gp_fast_mask(const si_schema *s)
{
	gp_names k;
	unsigned char *need;
	unsigned mask = 0;

	if (!s->all_of.n || gp_names_build(s, &k) != 0 || !(need = calloc(k.n + 1, 1))) {
		if (s->all_of.n) {
			free(k.v);
			free(k.schema);
		}
		return 0;
	}
	for (size_t i = 0; i < s->all_of.n && i < 32; i++) {
		char *v = gp_fast(s, &k, i, need);
		if (v)
			mask |= 1u << i;
		free(v);
	}
	free(need);
	free(k.v);
	free(k.schema);
	return mask;
}

/* gp_fast in the member loop: the noted tokens' variables, from need
 * (filled by gp_fast_need) */
static void gp_fast_decl(FILE *out, const gp_names *k, const unsigned char *need)
{
	for (size_t i = 0; i < k->n; i++)
		if (need[i]) {
			fprintf(out, "\t\tint ft%zu = RT_JR_ERROR; /* gp_fast: the first token of ", i);
			gen_text_cstr(out, k->v[i]);
			fprintf(out, " */\n\t\tconst char *fv%zu = NULL;\n\t\tsize_t fl%zu = 0;\n\n\t\t(void)fv%zu;\n\t\t(void)fl%zu;\n",
			        i, i, i, i);
		}
}

static void gp_fast_need(const si_schema *s, const gp_names *k, unsigned char *need)
{
	for (size_t i = 0; i < s->all_of.n && i < 32; i++)
		free(gp_fast(s, k, i, need));
}

/* after the members (the object whole): `fast`, the alternatives that hold */
static void gp_fast_set(FILE *out, const si_schema *s, const gp_names *k, unsigned char *need)
{
	fprintf(out, "\t\t/* the allOf alternatives that hold, as the members tell (gp_fast) */\n\t\tfast = 0u");
	for (size_t i = 0; i < s->all_of.n && i < 32; i++) {
		char *v = gp_fast(s, k, i, need);
		if (v)
			fprintf(out, "\n\t\t       | (%s ? %uu : 0u)", v, 1u << i);
		free(v);
	}
	fprintf(out, ";\n");
}

static int gp_object(FILE *out, const si_schema *s, const gm_type *mt)
{
	gp_names k;
	unsigned fast = mt ? 0 : gp_fast_mask(s);
	unsigned char *need = NULL;

	if (gp_names_build(s, &k) != 0 || (fast && !(need = calloc(k.n + 1, 1)))) {
		free(k.v);
		free(k.schema);
		return -1;
	}
	if (fast)
		gp_fast_need(s, &k, need);
	fprintf(out, "\tif (t == RT_JR_OBJECT_BEGIN) {\n");
	fprintf(out, "\t\tsize_t pos = p->errs ? p->errs->n : 0, n = 0;\n");
	fprintf(out, "\t\tunsigned char seen[%zu] = { 0 };\n", k.n ? k.n : 1);
	fprintf(out, "\t\trt_jread_names other = { 0 };\n\t\tjson_t *o = NULL;\n\t\tconst char *key = NULL;\n\t\tsize_t key_len = 0;\n\n");
	fprintf(out, "\t\t(void)pos;\n\t\t(void)key;\n\t\t(void)key_len;\n\t\t(void)seen;\n");
	if (fast)
		gp_fast_decl(out, &k, need);
	fprintf(out, "\t\tif (j && !(o = json_object()))\n\t\t\treturn -1;\n");
	gp_object_members(out, s, &k, mt, need);
	fprintf(out, "\t\tif (t != RT_JR_OBJECT_END)\n\t\t\tgoto fail;\n");
	if (fast)
		gp_fast_set(out, s, &k, need);
	gp_object_after(out, s, &k, mt);
	fprintf(out, "\t\tif (j)\n\t\t\t*j = o;\n\t\tgoto %s;\n\tfail:\n\t\tjson_decref(o);\n\t\trc = -1;\n\t\tgoto done;\n\t}\n",
	        gp_comb(s) ? "after" : "done");
	free(need);
	free(k.v);
	free(k.schema);
	return 0;
}

static void gp_array(FILE *out, const si_schema *s)
{
	fprintf(out, "\tif (t == RT_JR_ARRAY_BEGIN) {\n");
	fprintf(out, "\t\tsize_t pos = p->errs ? p->errs->n : 0, n = 0;\n\t\tjson_t *arr = NULL;\n\n\t\t(void)pos;\n");
	/* uniqueItems: the items as values, compared as the table compares them
	   (rt_json_equal: 1 and 1.0 are one number), even when no tree is asked for */
	fprintf(out, "\t\tif (%s && !(arr = json_array()))\n\t\t\treturn -1;\n", s->flags & SI_F_UNIQUE ? "1" : "j");
	if (s->flags & SI_F_UNIQUE)
		fprintf(out, "\t\tunsigned lean = p->flags & RT_PARSE_LEAN;\n\n"
		             "\t\tp->flags &= ~(unsigned)RT_PARSE_LEAN; /* the items are compared: built whole */\n");
	fprintf(out, "\t\twhile ((t = rt_jread_next(&p->r)) != RT_JR_ARRAY_END) {\n\t\t\tjson_t *c = NULL;\n\n");
	fprintf(out, "\t\t\tif (t == RT_JR_ERROR)\n\t\t\t\tbreak;\n\t\t\tn++;\n");
	if (s->items)
		fprintf(out, "\t\t\tif (%s__v(p, t, arr ? &c : NULL, 0) != 0)\n\t\t\t\tbreak;\n", s->items->symbol);
	else
		fprintf(out, "\t\t\tif (rt_parse_json(p, t, arr ? &c : NULL) != 0)\n\t\t\t\tbreak;\n");
	fprintf(out, "\t\t\tif (c && json_array_append_new(arr, c) != 0)\n\t\t\t\tbreak;\n\t\t}\n");
	if (s->flags & SI_F_UNIQUE)
		fprintf(out, "\t\tp->flags |= lean;\n");
	fprintf(out, "\t\tif (t != RT_JR_ARRAY_END) {\n\t\t\tjson_decref(arr);\n\t\t\trc = -1;\n\t\t\tgoto done;\n\t\t}\n");
	if ((s->flags & SI_F_HAS_MIN_ITEMS) && s->limit[SI_L_HAS_MIN_ITEMS] > 0)
		fprintf(out, "\t\tif (n < %lld)\n\t\t\trt_parse_fail_at(p, pos++, \"minItems\", \"must have at least %lld item%s, got %%zu\", n);\n",
		        (long long)s->limit[SI_L_HAS_MIN_ITEMS], (long long)s->limit[SI_L_HAS_MIN_ITEMS],
		        s->limit[SI_L_HAS_MIN_ITEMS] == 1 ? "" : "s");
	if (s->flags & SI_F_HAS_MAX_ITEMS)
		fprintf(out, "\t\tif (n > %lld)\n\t\t\trt_parse_fail_at(p, pos++, \"maxItems\", \"must have at most %lld item%s, got %%zu\", n);\n",
		        (long long)s->limit[SI_L_HAS_MAX_ITEMS], (long long)s->limit[SI_L_HAS_MAX_ITEMS],
		        s->limit[SI_L_HAS_MAX_ITEMS] == 1 ? "" : "s");
	if (s->flags & SI_F_UNIQUE) {
		fprintf(out, "\t\tfor (size_t a = 1; a < json_array_size(arr); a++)\n");
		fprintf(out, "\t\t\tfor (size_t b = 0; b < a; b++)\n");
		fprintf(out, "\t\t\t\tif (rt_json_equal(json_array_get(arr, a), json_array_get(arr, b))) {\n");
		fprintf(out, "\t\t\t\t\tchar ix[24];\n\n");
		fprintf(out, "\t\t\t\t\tsnprintf(ix, sizeof ix, \"%%zu\", a);\n");
		fprintf(out, "\t\t\t\t\trt_parse_fail_member(p, pos++, ix, \"uniqueItems\", \"must be unique, but equals item %%zu\", b);\n");
		fprintf(out, "\t\t\t\t\ta = json_array_size(arr);\n\t\t\t\t\tbreak;\n\t\t\t\t}\n");
		fprintf(out, "\t\tif (j)\n\t\t\t*j = arr;\n\t\telse\n\t\t\tjson_decref(arr);\n\t\tgoto %s;\n\t}\n",
		        gp_comb(s) ? "after" : "done");
		return;
	}
	fprintf(out, "\t\tif (j)\n\t\t\t*j = arr;\n\t\tgoto %s;\n\t}\n", gp_comb(s) ? "after" : "done");
}

/* a double constant: "%.17g" reads back as the same double; ".0" keeps it a double */
static const char *gp_double(char *buf, size_t size, double v)
{
	snprintf(buf, size, "%.17g", v);
	if (!strpbrk(buf, ".eEn"))
		strncat(buf, ".0", size - strlen(buf) - 1);
	return buf;
}

static void gp_bound(FILE *out, const char *test, const char *keyword, const char *what, double v)
{
	char d[40];

	gp_double(d, sizeof d, v);
	fprintf(out, "\t\tif (!(x %s %s))\n\t\t\trt_parse_fail(p, \"%s\", \"must be %s %%.17g, got %%.17g\", %s, x);\n",
	        test, d, keyword, what, d);
}

static void gp_number(FILE *out, const si_schema *s)
{
	static const char *const fmt_int[] = { "int32", "int64" };
	int fi = s->format == SI_FMT_INT32 ? 0 : s->format == SI_FMT_INT64 ? 1 : -1;

	if (!(s->flags & (SI_F_HAS_MIN | SI_F_HAS_MAX | SI_F_HAS_EXCL_MIN2 | SI_F_HAS_EXCL_MAX2 | SI_F_HAS_MULTIPLE)) &&
	    !((s->flags & SI_F_FORMAT_ASSERT) && fi >= 0))
		return;
	fprintf(out, "\tif (t == RT_JR_INTEGER || t == RT_JR_REAL) {\n\t\tdouble x = t == RT_JR_INTEGER ? (double)p->r.i : p->r.d;\n\n");
	if (s->flags & SI_F_HAS_MIN)
		gp_bound(out, s->flags & SI_F_EXCL_MIN ? ">" : ">=", s->flags & SI_F_EXCL_MIN ? "exclusiveMinimum" : "minimum",
		         s->flags & SI_F_EXCL_MIN ? "greater than" : "at least", s->minimum);
	if (s->flags & SI_F_HAS_MAX)
		gp_bound(out, s->flags & SI_F_EXCL_MAX ? "<" : "<=", s->flags & SI_F_EXCL_MAX ? "exclusiveMaximum" : "maximum",
		         s->flags & SI_F_EXCL_MAX ? "less than" : "at most", s->maximum);
	if (s->flags & SI_F_HAS_EXCL_MIN2)
		gp_bound(out, ">", "exclusiveMinimum", "greater than", s->xminimum);
	if (s->flags & SI_F_HAS_EXCL_MAX2)
		gp_bound(out, "<", "exclusiveMaximum", "less than", s->xmaximum);
	if (s->flags & SI_F_HAS_MULTIPLE) {
		char d[40];
		gp_double(d, sizeof d, s->multiple_of);
		fprintf(out, "\t\tif (!rt_parse_multiple(t, p->r.i, x, %s))\n\t\t\trt_parse_fail(p, \"multipleOf\", "
		             "\"must be a multiple of %%.17g, got %%.17g\", %s, x);\n", d, d);
	}
	if ((s->flags & SI_F_FORMAT_ASSERT) && fi >= 0) {
		fprintf(out, "\t\tif (!(rt_parse_type_of(p, t) & RT_T_INTEGER))\n\t\t\trt_parse_fail(p, \"format\", \"must be an integer (%s)\");\n", fmt_int[fi]);
		if (fi == 0)
			fprintf(out, "\t\telse if (x < -2147483648.0 || x > 2147483647.0)\n\t\t\trt_parse_fail(p, \"format\", \"must fit in int32, got %%.17g\", x);\n");
		else
			fprintf(out, "\t\telse if (t == RT_JR_REAL && (x < -9223372036854775808.0 || x >= 9223372036854775808.0))\n"
			             "\t\t\trt_parse_fail(p, \"format\", \"must fit in int64, got %%.17g\", x);\n");
	}
	fprintf(out, "\t}\n");
}

static void gp_string(FILE *out, const si_schema *s)
{
	static const char *const formats[SI_FMT_COUNT] = {
#define RT_SCHEMA_FORMAT(name, text) "RT_FMT_" #name,
#include "rt_schema_flags.def"
	};
	int fmt = s->format != SI_FMT_NONE && (s->flags & SI_F_FORMAT_ASSERT);
	/* minLength 0 holds for every string (and n < 0 on a size_t does not compile) */
	unsigned fl = s->limit[SI_L_HAS_MIN_LENGTH] > 0 ? s->flags : s->flags & ~(unsigned)SI_F_HAS_MIN_LENGTH;

	if (!(fl & (SI_F_HAS_MIN_LENGTH | SI_F_HAS_MAX_LENGTH)) && !s->pattern && !fmt)
		return;
	fprintf(out, "\tif (t == RT_JR_STRING) {\n");
	if (fl & (SI_F_HAS_MIN_LENGTH | SI_F_HAS_MAX_LENGTH)) {
		/* a string of len bytes has len/4 to len characters: count them only
		   when that range does not settle both bounds */
		fprintf(out, "\t\tsize_t n = p->r.len;\n\n\t\tif (");
		if (s->flags & SI_F_HAS_MAX_LENGTH)
			fprintf(out, "n > %lld%s", (long long)s->limit[SI_L_HAS_MAX_LENGTH], fl & SI_F_HAS_MIN_LENGTH ? " || " : "");
		if (fl & SI_F_HAS_MIN_LENGTH)
			fprintf(out, "(n + 3) / 4 < %lld", (long long)s->limit[SI_L_HAS_MIN_LENGTH]);
		fprintf(out, ")\n\t\t\tn = rt_parse_chars(p->r.str, p->r.len);\n");
	}
	if (fl & SI_F_HAS_MIN_LENGTH)
		fprintf(out, "\t\tif (n < %lld)\n\t\t\trt_parse_fail(p, \"minLength\", \"must be at least %lld character%s long, got %%zu\", n);\n",
		        (long long)s->limit[SI_L_HAS_MIN_LENGTH], (long long)s->limit[SI_L_HAS_MIN_LENGTH],
		        s->limit[SI_L_HAS_MIN_LENGTH] == 1 ? "" : "s");
	if (s->flags & SI_F_HAS_MAX_LENGTH)
		fprintf(out, "\t\tif (n > %lld)\n\t\t\trt_parse_fail(p, \"maxLength\", \"must be at most %lld character%s long, got %%zu\", n);\n",
		        (long long)s->limit[SI_L_HAS_MAX_LENGTH], (long long)s->limit[SI_L_HAS_MAX_LENGTH],
		        s->limit[SI_L_HAS_MAX_LENGTH] == 1 ? "" : "s");
	if (s->pattern)
		fprintf(out, "\t\tif (rt_parse_pattern(&%s__cache, p->r.str, p->r.len) == 0)\n\t\t\trt_parse_fail(p, \"pattern\", "
		             "\"must match the pattern %%s\", %s__cache.pattern);\n", s->symbol, s->symbol);
	if (fmt)
		fprintf(out, "\t\trt_parse_format(p, %s, p->r.str, p->r.len);\n", formats[s->format]);
	fprintf(out, "\t}\n");
}

/* const and enum of scalars */
static void gp_enum(FILE *out, const si_schema *s)
{
	if (s->const_)
		fprintf(out, "\tif (!rt_parse_equal(p, t, %s__cache.const_value))\n\t\trt_parse_fail(p, \"const\", "
		             "\"must be equal to the constant %%s\", %s__cache.const_json);\n", s->symbol, s->symbol);
	if (s->enum_) {
		size_t i;
		json_t *v;
		int strings = 1;
		json_array_foreach(s->enum_, i, v)
			strings &= json_is_string(v) && !memchr(json_string_value(v), 0, json_string_length(v));
		if (strings && json_array_size(s->enum_)) {
			fprintf(out, "\tif (t != RT_JR_STRING || !(");
			json_array_foreach(s->enum_, i, v) {
				fprintf(out, "%s(", i ? " ||\n\t      " : "");
				gp_match(out, json_string_value(v));
				fprintf(out, ")");
			}
			fprintf(out, "))\n");
		} else {
			fprintf(out, "\tif (!rt_parse_in(p, t, %s__cache.enum_values))\n", s->symbol);
		}
		fprintf(out, "\t\trt_parse_fail(p, \"enum\", \"must be one of %%.300s\", %s__cache.enum_json);\n", s->symbol);
	}
}

/* "RT_T_A | RT_T_B", by the names of rt_schema_flags.def */
static void gp_types(FILE *out, unsigned mask)
{
	static const struct { const char *name; unsigned bit; } types[] = {
#define RT_SCHEMA_TYPE(name, bit, json) { "RT_T_" #name, SI_T_##name },
#include "rt_schema_flags.def"
	};
	const char *sep = "";

	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		if (mask & types[i].bit) {
			fprintf(out, "%s%s", sep, types[i].name);
			sep = " | ";
		}
	}
}

static void gp_fns(FILE *out, const char *name, const si_list *l)
{
	fprintf(out, "\t\tstatic const rt_parse_vfn %s[] = {", name);
	for (size_t i = 0; i < l->n; i++)
		fprintf(out, "%s%s__v", i ? ", " : " ", l->v[i]->symbol);
	fprintf(out, " };\n");
}

/* name_t[]: the tables of the alternatives checked by them (gp_by_table),
   NULL for the others */
static void gp_tables(FILE *out, const char *name, const si_list *l, const si_schema *live)
{
	fprintf(out, "\t\t/* checked by their tables on the value built once (gp_by_table) */\n"
	             "\t\tstatic const rt_schema *const %s_t[] = {", name);
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i] != live && gp_shallow(l->v[i], 0))
			fprintf(out, "%s&%s", i ? ", " : " ", l->v[i]->symbol);
		else
			fprintf(out, "%sNULL", i ? ", " : " ");
	}
	fprintf(out, " };\n");
}

static int gp_walks_array(const si_schema *s)
{
	return (!s->types || (s->types & SI_T_ARRAY)) &&
	       (s->items || (s->flags & (SI_F_HAS_MIN_ITEMS | SI_F_HAS_MAX_ITEMS | SI_F_UNIQUE)));
}

static int gp_walks_object(const si_schema *s)
{
	return (!s->types || (s->types & SI_T_OBJECT)) && gp_has_object(s);
}

/* The alternative read from the reader itself rather than re-scanned
 * (rt_parse_live): oneOf's first, else anyOf's, where the schema's own
 * keywords do not walk the value (it is then read once, the others
 * re-scanned); NULL where none is. */
static const si_schema *gp_live(const si_schema *s)
{
	if (!gp_comb(s) || gp_walks_array(s) || gp_walks_object(s))
		return NULL;
	return s->one_of.n ? s->one_of.v[0] : s->any_of.n ? s->any_of.v[0] : NULL;
}

/* a schema that is only a $ref: the one it refers to, followed */
static const si_schema *gp_follow(const si_schema *s)
{
	for (int hops = 0; s && s->ref && hops < 16 && !gp_own(s) && !s->all_of.n && !s->any_of.n && !s->one_of.n &&
	                   !s->not_ && !s->if_ && !s->flags && !s->is_bool; hops++)
		s = s->ref;
	return s;
}

/* When a value valid against a cannot be valid against b, as the schemas
 * say, the name that tells: a is an object (never null) with
 * additionalProperties false that lets no member named as one b requires
 * (OpenAPI 3.0's Schema and Reference, whose $ref the Schema does not
 * allow). Else NULL. Either way round: valid against b, it fails a. */
static const char *gp_excluded_by(const si_schema *a, const si_schema *b)
{
	a = gp_follow(a);
	b = gp_follow(b);
	if (!a || !b || a->is_bool || b->is_bool || a->types != SI_T_OBJECT || !(a->flags & SI_F_NO_ADDL) ||
	    (a->flags & SI_F_NULLABLE))
		return NULL;
	for (size_t r = 0; r < b->n_required; r++) {
		const char *name = b->required[r];
		int allowed = 0;
		for (size_t i = 0; !allowed && i < a->properties.n; i++)
			allowed = strcmp(a->properties.v[i].name, name) == 0;
		for (size_t i = 0; !allowed && i < a->pattern_properties.n; i++) {
			char lit[128];
			int kind = gp_lit_prefix(a->pattern_properties.v[i].name, lit, sizeof lit);
			size_t n = strlen(lit);
			if (kind == 0)
				allowed = 1; /* a pattern not decided here: it might */
			else if (strncmp(name, lit, n) == 0)
				allowed = kind == 1 || name[n] == '\0' || strcmp(name + n, "\n") == 0;
		}
		if (!allowed)
			return name;
	}
	return NULL;
}

static int gp_excludes(const si_schema *a, const si_schema *b)
{
	return gp_excluded_by(a, b) != NULL;
}

/* Either way round (gp_excluded_by): a value valid against one fails the other. */
static int gp_exclusive(const si_schema *a, const si_schema *b)
{
	return gp_excludes(a, b) || gp_excludes(b, a);
}

/* A oneOf whose first alternative (read first, gp_live) refuses a name that
 * alternative #i requires (OpenAPI 3.0's Schema | Reference and $ref): i,
 * and the name in *name, when an object that starts with that name (most
 * do) is read with #i first (it holds, and then #0 fails: no re-scan). Or
 * the other way round (*inv): #i refuses a name #0 requires (the
 * Components' Reference | Response, Reference | Header, ...): an object
 * that does not start with that name is read with #i first. Else 0. Only a
 * guess at which to read first: the verdicts do not depend on it. */
static size_t gp_swap(const si_schema *s, const char **name, int *inv)
{
	if (!s->one_of.n || gp_live(s) != s->one_of.v[0] || gp_by_table(s))
		return 0;
	for (int way = 0; way < 2; way++)
		for (size_t i = 1; i < s->one_of.n; i++) {
			const char *nm = way ? gp_excluded_by(s->one_of.v[i], s->one_of.v[0])
			                     : gp_excluded_by(s->one_of.v[0], s->one_of.v[i]);
			int plain = nm && strlen(nm) < 64;
			for (const char *c = nm; plain && *c; c++)
				plain = *c != '"' && *c != '\\' && (unsigned char)*c >= 0x20;
			if (plain) {
				*name = nm;
				*inv = way;
				return i;
			}
		}
	return 0;
}

/* A schema with no schema below it (it checks the value itself only). */
static int gp_leaf(const si_schema *s)
{
	s = gp_follow(s);
	return s && (s->is_bool ||
	             (!s->ref && !s->dyn_ref && !s->resource && !s->items && !s->prefix_items.n && !s->contains &&
	              !s->unevaluated_items && !s->properties.n && !s->additional && !s->pattern_properties.n &&
	              !s->property_names && !s->unevaluated_properties && !s->dep_schemas.n && !s->all_of.n &&
	              !s->any_of.n && !s->one_of.n && !s->not_ && !s->if_));
}

/* An alternative that looks at the value's own members and no further
 * (its properties' schemas are leaves, its combinators such alternatives
 * too: OpenAPI 3.0's SchemaXORContent and ParameterLocation). 0 when not;
 * else the re-scans checking it would take, itself and those inside. */
static int gp_shallow(const si_schema *s, int depth)
{
	const si_list *ll[3];
	int n = 1, k;

	s = gp_follow(s);
	if (!s || s->is_bool || depth > 8 || s->ref || s->dyn_ref || s->resource || s->items || s->prefix_items.n ||
	    s->contains || s->unevaluated_items || s->additional || s->pattern_properties.n || s->property_names ||
	    s->unevaluated_properties || s->dep_schemas.n || s->if_)
		return 0;
	for (size_t i = 0; i < s->properties.n; i++)
		if (!gp_leaf(s->properties.v[i].schema))
			return 0;
	ll[0] = &s->all_of;
	ll[1] = &s->any_of;
	ll[2] = &s->one_of;
	for (size_t l = 0; l < 3; l++)
		for (size_t i = 0; i < ll[l]->n; i++) {
			if (!(k = gp_shallow(ll[l]->v[i], depth + 1)))
				return 0;
			n += k;
		}
	if (s->not_) {
		if (!(k = gp_shallow(s->not_, depth + 1)))
			return 0;
		n += k;
	}
	return n;
}

/* Does s check its shallow alternatives by their tables, on the value built
 * once as a json_t (rt_parse_shallow), rather than re-scanning its bytes
 * for each? When they would take 3 re-scans or more. */
static int gp_by_table(const si_schema *s)
{
	const si_list *ll[] = { &s->all_of, &s->any_of, &s->one_of };
	const si_schema *live = gp_live(s);
	int n = s->not_ ? gp_shallow(s->not_, 0) : 0;

	for (size_t l = 0; l < 3; l++)
		for (size_t i = 0; i < ll[l]->n; i++)
			if (ll[l]->v[i] != live)
				n += gp_shallow(ll[l]->v[i], 0);
	return n >= 3;
}

/* how alternative a of s is checked: "rt_parse_shallow(..., &<table>, ..."
   when gp_by_table says so, else "rt_parse_rescan(..., <symbol>__v, ..." */
static void gp_check(FILE *out, const si_schema *s, const si_schema *a, int want)
{
	if (gp_by_table(s) && gp_shallow(a, 0))
		fprintf(out, "rt_parse_shallow(p, s0, s1, &%s, %d, &tree)", a->symbol, want);
	else
		fprintf(out, "rt_parse_rescan(p, s0, s1, %s__v, %d)", a->symbol, want);
}

/* $ref beside keywords, allOf, anyOf, oneOf, not, if: in rt_schema.c's
   order, each a re-scan of the value's bytes s0..s1 (but gp_live's, done,
   and oneOf's alternatives that gp_excludes says fail when its first holds) */
static void gp_combinators(FILE *out, const si_schema *s, int label)
{
	const si_schema *live = gp_live(s);
	const char *any0 = live && !s->one_of.n ? "i == 0 ? live : " : "";
	const char *one0 = live && s->one_of.n ? "i == 0 ? live : " : "";


	int by_table = gp_by_table(s);
	const char *anyk = by_table ? "(any_t[i] ? rt_parse_shallow(p, s0, s1, any_t[i], 0, &tree) : rt_parse_rescan(p, s0, s1, any[i], 0))"
	                            : "rt_parse_rescan(p, s0, s1, any[i], 0)";
	const char *onek = by_table ? "(one_t[i] ? rt_parse_shallow(p, s0, s1, one_t[i], 0, &tree) : rt_parse_rescan(p, s0, s1, one[i], 0))"
	                            : "rt_parse_rescan(p, s0, s1, one[i], 0)";

	fprintf(out, "%s\tif (rc == 0) {\n\t\tconst char *s1 = p->r.p;\n\t\tint k = 0;\n\n\t\t(void)k;\n", label ? "after:\n" : "");
	if (by_table)
		fprintf(out, "\t\t/* the value as built, when whole (no violation yet: none of it was left\n"
		             "\t\t   out) and without defaults; else rt_parse_shallow builds it */\n"
		             "\t\tif (j && *j && (!(p->flags & RT_PARSE_LEAN) || p->bad == 0) && !(dfl && (p->flags & RT_PARSE_DEFAULTS)))\n"
		             "\t\t\ttree = json_incref(*j);\n");
	if (s->ref)
		fprintf(out, "\t\tif (rt_parse_rescan(p, s0, s1, %s__v, 1) < 0)\n\t\t\tgoto nomem;\n", s->ref->symbol);
	unsigned fast = gp_fast_mask(s);

	for (size_t i = 0; i < s->all_of.n; i++) {
		fprintf(out, "\t\tif (");
		if (i < 32 && (fast & (1u << i)))
			fprintf(out, "!(fast & %uu) && ", 1u << i);
		gp_check(out, s, s->all_of.v[i], 1);
		fprintf(out, " < 0)\n\t\t\tgoto nomem;\n");
	}
	if (s->any_of.n) {
		fprintf(out, "\t\t{\n");
		gp_fns(out, "any", &s->any_of);
		if (by_table)
			gp_tables(out, "any", &s->any_of, live);
		fprintf(out, "\t\tint ok = 0;\n\n\t\tfor (size_t i = 0; !ok && i < %zu; i++) {\n"
		             "\t\t\tif ((k = %s%s) < 0)\n\t\t\t\tgoto nomem;\n\t\t\tok = k == 0;\n\t\t}\n"
		             "\t\tif (!ok)\n\t\t\trt_parse_closest(p, s0, s1, any, %zu, 0);\n\t\t}\n", s->any_of.n, any0, anyk, s->any_of.n);
	}
	if (s->one_of.n) {
		int excl = 0;
		const char *swap_name = NULL;
		int inv = 0;
		size_t swap = gp_swap(s, &swap_name, &inv);
		char swap0[96];

		fprintf(out, "\t\t{\n");
		gp_fns(out, "one", &s->one_of);
		if (by_table)
			gp_tables(out, "one", &s->one_of, live);
		for (size_t i = 1; i < s->one_of.n; i++)
			excl |= gp_exclusive(s->one_of.v[0], s->one_of.v[i]);
		if (excl) {
			fprintf(out, "\t\t/* fail when #0 holds (gp_excludes) */\n\t\tstatic const unsigned char excl[] = {");
			for (size_t i = 0; i < s->one_of.n; i++)
				fprintf(out, "%s%d", i ? ", " : " ", i > 0 && gp_exclusive(s->one_of.v[0], s->one_of.v[i]));
			fprintf(out, " };\n");
			one0 = live ? "i == 0 ? live : first == 0 && excl[i] ? 1 : " : "first == 0 && excl[i] ? 1 : ";
		}
		if (swap) {
			fprintf(out, "\t\t/* fail when #%zu holds (gp_excludes, either way) */\n\t\tstatic const unsigned char excl_%zu[] = {",
			        swap, swap);
			for (size_t i = 0; i < s->one_of.n; i++)
				fprintf(out, "%s%d", i ? ", " : " ", i != swap && gp_exclusive(s->one_of.v[swap], s->one_of.v[i]));
			fprintf(out, " };\n");
			snprintf(swap0, sizeof swap0, "i == lv ? live : live == 0 && (lv ? excl_%zu : excl)[i] ? 1 : ", swap);
			one0 = swap0;
		}
		fprintf(out, "\t\tint first = -1, second = -1;\n\n\t\tfor (int i = 0; second < 0 && i < (int)%zu; i++) {\n"
		             "\t\t\tif ((k = %s%s) < 0)\n\t\t\t\tgoto nomem;\n"
		             "\t\t\tif (k == 0 && first < 0)\n\t\t\t\tfirst = i;\n\t\t\telse if (k == 0)\n\t\t\t\tsecond = i;\n\t\t}\n"
		             "\t\tif (first < 0)\n\t\t\trt_parse_closest(p, s0, s1, one, %zu, 1);\n"
		             "\t\telse if (second >= 0)\n\t\t\trt_parse_fail(p, \"oneOf\", \"must match exactly one alternative but matches #%%d and #%%d\", first, second);\n"
		             "\t\t}\n", s->one_of.n, one0, onek, s->one_of.n);
	}
	if (s->not_) {
		fprintf(out, "\t\tif ((k = ");
		gp_check(out, s, s->not_, 0);
		fprintf(out, ") < 0)\n\t\t\tgoto nomem;\n\t\tif (k == 0)\n"
		             "\t\t\trt_parse_fail(p, \"not\", \"must not match the schema in \\\"not\\\"\");\n");
	}
	if (s->if_) {
		fprintf(out, "\t\tif ((k = rt_parse_rescan(p, s0, s1, %s__v, 0)) < 0)\n\t\t\tgoto nomem;\n", s->if_->symbol);
		if (s->then_)
			fprintf(out, "\t\tif (k == 0 && rt_parse_rescan(p, s0, s1, %s__v, 1) < 0)\n\t\t\tgoto nomem;\n", s->then_->symbol);
		if (s->else_)
			fprintf(out, "\t\tif (k > 0 && rt_parse_rescan(p, s0, s1, %s__v, 1) < 0)\n\t\t\tgoto nomem;\n", s->else_->symbol);
	}
	fprintf(out, "\t}\n\tgoto done;\nnomem:\n\tif (j) {\n\t\tjson_decref(*j);\n\t\t*j = NULL;\n\t}\n\tp->r.err = RT_JREAD_E_NOMEM;\n\trc = -1;\n");
}

/* One schema's checks on the value whose first token is t: `<symbol>__v`
 * (the value as a json_t into *j when j), or with a model type mt (an
 * object whose keywords are all in line) `<T>__m`, the value into *mo. */
static int gp_validator(FILE *out, const si_schema *s, const gm_type *mt)
{
	int used = 0; /* does a path jump to done: */

	fprintf(out, "/* ");
	gen_text_comment(out, s->where);
	if (mt)
		fprintf(out, " */\nstatic int %s__m(rt_parse *p, int t, %s *mo, int dfl)\n{\n\tjson_t **j = NULL;\n", mt->cname,
		        mt->cname);
	else
		fprintf(out, " */\nstatic int %s__v(rt_parse *p, int t, json_t **j, int dfl)\n{\n", s->symbol);
	/* (a scalar's value costs little: no test for it) */
	if (!mt && !(s->types && !(s->types & (SI_T_OBJECT | SI_T_ARRAY))))
		fprintf(out, "\tif (j && p->bad && (p->flags & RT_PARSE_LEAN))\n\t\tj = NULL; /* the value is refused: build no more of it */\n");
	if (!mt && gp_fallback_always(s)) {
		fprintf(out, "\treturn rt_parse_table(p, t, &%s, dfl, j);\n}\n\n", s->symbol);
		return 0;
	}
	fprintf(out, "\tint rc = 0;\n%s%s\n\t(void)dfl;\n", gp_comb(s) ? "\tconst char *s0 = p->r.tok; /* the value's bytes, for the combinators */\n" : "",
	        !mt && gp_live(s) ? "\tint live = -1; /* the violations of the alternative read first */\n" : "");
	{
		const char *nm;
		int inv;
		if (!mt && gp_live(s) && gp_swap(s, &nm, &inv))
			fprintf(out, "\tint lv = 0; /* which alternative that is */\n");
	}
	if (gp_comb(s) && gp_by_table(s))
		fprintf(out, "\tjson_t *tree = NULL; /* the value, for the alternatives checked by their tables */\n");
	if (gp_comb(s) && gp_fast_mask(s))
		fprintf(out, "\tunsigned fast = 0; /* the allOf alternatives the members tell hold (gp_fast) */\n");
	if (!mt && gp_fallback_defaults(s))
		fprintf(out, "\tif (dfl && (p->flags & RT_PARSE_DEFAULTS)) /* gp_fallback_defaults */\n"
		             "\t\treturn rt_parse_table(p, t, &%s, dfl, j);\n", s->symbol);
	fprintf(out, "\tif (p->depth >= 512) {\n\t\trt_parse_fail(p, \"depth\", \"is nested too deeply (more than %%d levels)\", 512);\n"
	             "\t\treturn rt_parse_json(p, t, NULL);\n\t}\n");
	if (s->flags & SI_F_FALSE) {
		fprintf(out, "\t(void)j;\n\t(void)rc;\n\trt_parse_fail(p, \"false\", \"is not allowed here\");\n\treturn rt_parse_json(p, t, NULL);\n}\n\n");
		return 0;
	}
	if (s->flags & SI_F_NULLABLE)
		fprintf(out, "\tif (t == RT_JR_NULL)\n\t\treturn rt_parse_json(p, t, j);\n");
	if (s->pattern || s->enum_ || s->const_ || s->default_)
		fprintf(out, "\tif (rt_parse_cache(p, &%s))\n\t\treturn rt_parse_json(p, t, NULL);\n", s->symbol);
	fprintf(out, "\tp->depth++;\n");
	if (s->flags & SI_F_READONLY)
		fprintf(out, "\tif (p->dir == RT_DIR_REQUEST)\n\t\trt_parse_fail(p, \"readOnly\", \"is read-only and must not be sent in a request\");\n");
	if (s->flags & SI_F_WRITEONLY)
		fprintf(out, "\tif (p->dir == RT_DIR_RESPONSE)\n\t\trt_parse_fail(p, \"writeOnly\", \"is write-only and must not appear in a response\");\n");
	if (s->types) {
		fprintf(out, "\tif (!(rt_parse_type_of(p, t) & (");
		gp_types(out, s->types);
		fprintf(out, "))) {\n\t\trc = rt_parse_type_fail(p, t, ");
		gp_types(out, s->types);
		fprintf(out, ");\n\t\tgoto done;\n\t}\n");
	}
	gp_enum(out, s);
	gp_number(out, s);
	gp_string(out, s);
	if (s->ref && !gp_own(s) && !gp_comb(s)) {
		fprintf(out, "\trc = %s__v(p, t, j, dfl);\n", s->ref->symbol);
		used = 0;
	} else {
		int arr = gp_walks_array(s), obj = gp_walks_object(s);
		if (arr)
			gp_array(out, s);
		if (obj && gp_object(out, s, mt) != 0)
			return -1;
		const char *swap_name = NULL;
		int inv = 0;
		size_t swap = !mt && gp_live(s) ? gp_swap(s, &swap_name, &inv) : 0;

		if (swap) {
			fprintf(out, "\t/* an object that %s with \"%s\": #%zu first (gp_swap) */\n"
			             "\tlv = t == RT_JR_OBJECT_BEGIN && %srt_jread_first_name(&p->r, \"%s\", %zu) ? %zu : 0;\n",
			        inv ? "does not start" : "starts", swap_name, swap, inv ? "!" : "", swap_name, strlen(swap_name), swap);
			fprintf(out, "\tif ((live = rt_parse_live(p, t, lv ? %s__v : %s__v, j)) < 0)\n\t\trc = -1;\n"
			             "\telse if (live > 0 && j && rt_parse_again(p, s0, p->r.p, j) != 0)\n\t\tgoto nomem;\n",
			        s->one_of.v[swap]->symbol, gp_live(s)->symbol);
		} else if (!mt && gp_live(s))
			fprintf(out, "\tif ((live = rt_parse_live(p, t, %s__v, j)) < 0)\n\t\trc = -1;\n"
			             "\telse if (live > 0 && j && rt_parse_again(p, s0, p->r.p, j) != 0)\n\t\tgoto nomem;\n",
			        gp_live(s)->symbol);
		else
			fprintf(out, "\tif (j || t == RT_JR_OBJECT_BEGIN || t == RT_JR_ARRAY_BEGIN)\n\t\trc = rt_parse_json(p, t, j);\n");
		if (gp_comb(s))
			gp_combinators(out, s, arr || obj);
		used = arr || obj || gp_comb(s);
	}
	fprintf(out, "%s%s\tp->depth--;\n\treturn rc;\n}\n\n", used || s->types ? "done:\n" : "",
	        gp_comb(s) && gp_by_table(s) ? "\tjson_decref(tree);\n" : "");
	return 0;
}

void gen_parse_write_header(gen_parse *p, FILE *out)
{
	for (size_t i = 0; i < p->nroots; i++)
		fprintf(out, "int %s_parse(const char *buf, size_t len, rt_arena *a, enum rt_dir dir, unsigned flags, "
		             "json_t **out, rt_errors *errs);\n", p->roots[i]->symbol);
}

int gen_parse_write(gen_parse *p, FILE *out)
{
	p->nreach = 0;
	p->fallback = 0;
	p->fallback_defaults = 0;
	for (size_t i = 0; i < p->nroots; i++)
		if (gp_reach(p, p->roots[i]) != 0)
			return -1;
	fprintf(out, "/* byte parsers: %zu schemas, %zu of them checked by their table (fallback)", p->nreach,
	        p->fallback);
	if (p->fallback_defaults)
		fprintf(out, ", %zu more where defaults are applied", p->fallback_defaults);
	fprintf(out, " */\n");
	for (size_t i = 0; i < p->nreach; i++)
		fprintf(out, "static int %s__v(rt_parse *p, int t, json_t **j, int dfl);\n", p->reach[i]->symbol);
	fprintf(out, "\n");
	for (size_t i = 0; i < p->nreach; i++)
		if (gp_validator(out, p->reach[i], NULL) != 0)
			return -1;
	for (size_t i = 0; i < p->nroots; i++) {
		const char *sym = p->roots[i]->symbol;
		fprintf(out, "int %s_parse(const char *buf, size_t len, rt_arena *a, enum rt_dir dir, unsigned flags, "
		             "json_t **out, rt_errors *errs)\n{\n", sym);
		fprintf(out, "\trt_parse p;\n\tsize_t base = errs ? errs->n : 0;\n\tjson_t *v = NULL;\n\tint rc;\n\n");
		fprintf(out, "\trt_parse_init(&p, buf, len, a, dir, flags | RT_PARSE_LEAN, errs);\n");
		fprintf(out, "\trc = rt_parse_finish(&p, %s__v(&p, rt_jread_next(&p.r), out ? &v : NULL, 1), base);\n", sym);
		fprintf(out, "\tjson_decref(p.keep);\n");
		fprintf(out, "\tif (rc == RT_PARSE_OK && out)\n\t\t*out = v;\n\telse\n\t\tjson_decref(v);\n\treturn rc;\n}\n\n");
	}
	return 0;
}

void gen_parse_write_roots(gen_parse *p, FILE *out, const char *name, int decl)
{
	if (decl) {
		fprintf(out, "extern const rt_parse_root %s[];\n", name);
		return;
	}
	fprintf(out, "const rt_parse_root %s[] = {\n", name);
	for (size_t i = 0; i < p->nroots; i++) {
		fprintf(out, "\t{ ");
		gen_text_cstr(out, p->roots[i]->where);
		fprintf(out, ", &%s, %s_parse, %s__v },\n", p->roots[i]->symbol, p->roots[i]->symbol, p->roots[i]->symbol);
	}
	fprintf(out, "\t{ NULL, NULL, NULL, NULL },\n};\n\n");
}

/* ---- model parsers: bytes straight into the C model ---- */

/* A struct whose schema the object code checks in line, and nothing else
   (no extra members: those are read by _from_json after the json parser). */
static int gp_model_ok(const gm_type *t)
{
	return t && t->kind == GM_STRUCT && !t->extra && !gp_fallback(t->s) && !gp_comb(t->s) && t->s->types == SI_T_OBJECT &&
	       !t->s->ref && !t->s->pattern_properties.n && !(t->s->flags & (SI_F_NULLABLE | SI_F_FALSE)) &&
	       t->s->properties.n;
}

static int gp_inline_kind(const gm_field *f)
{
	return f->type->kind == GM_STRING || f->type->kind == GM_ENUM || f->type->kind == GM_INT ||
	       f->type->kind == GM_NUMBER || f->type->kind == GM_BOOL;
}

static int gp_direct(const gm_field *f, const si_schema *ps)
{
	return f->type->kind == GM_STRUCT && f->type->s == ps && gp_model_ok(f->type);
}

/* the field's property schema in mt's schema */
static const si_schema *gp_prop(const gm_type *mt, const gm_field *f)
{
	for (size_t i = 0; i < mt->s->properties.n; i++)
		if (strcmp(mt->s->properties.v[i].name, f->json_name) == 0)
			return mt->s->properties.v[i].schema;
	return NULL;
}

static int gp_needs_helper(const gm_type *mt, const gm_field *f)
{
	const si_schema *ps = gp_prop(mt, f);

	return ps && ((!gp_inline_kind(f) && !gp_direct(f, ps)) || gp_default(ps));
}

/* one known member into its field (inside the member loop) */
static void gp_member_model(FILE *out, const gm_type *mt, const gm_field *f, size_t fi, const si_schema *ps)
{
	char v[300], len[300], count[300];
	int json = !gp_inline_kind(f);

	gen_model_names(v, len, count, sizeof v, "mo->", f->cname);
	fprintf(out, "\t\t\t\t{\n\t\t\t\t\tint tk = rt_jread_next(&p->r), bad0 = p->bad;\n");
	if (gp_direct(f, ps)) {
		if (f->by_pointer)
			fprintf(out, "\t\t\t\t\t%s *q = rt_arena_alloc(p->r.arena, sizeof *q);\n\n\t\t\t\t\tif (!q)\n\t\t\t\t\t\tbreak;\n"
			             "\t\t\t\t\tmemset(q, 0, sizeof *q);\n\t\t\t\t\t%s = q;\n", f->type->cname, v);
		fprintf(out, "\t\t\t\t\tif (%s__m(p, tk, %s%s, dfl) != 0)\n\t\t\t\t\t\tbreak;\n", f->type->cname,
		        f->by_pointer ? "" : "&", f->by_pointer ? "q" : v);
		if (f->optional)
			fprintf(out, "\t\t\t\t\tmo->has_%s = 1;\n", f->cname);
		fprintf(out, "\t\t\t\t\t(void)bad0;\n\t\t\t\t}\n");
		return;
	}
	if (json)
		fprintf(out, "\t\t\t\t\tjson_t *c2 = NULL;\n\n");
	fprintf(out, "\t\t\t\t\tif (%s__v(p, tk, %s, dfl) != 0)\n\t\t\t\t\t\tbreak;\n", ps->symbol, json ? "&c2" : "NULL");
	if (json)
		fprintf(out, "\t\t\t\t\tif (c2 && !rt_parse_keep(p, c2))\n\t\t\t\t\t\tbreak;\n");
	fprintf(out, "\t\t\t\t\tif (p->bad == bad0) {\n");
	if (f->nullable)
		fprintf(out, "\t\t\t\t\t\tif (tk == RT_JR_NULL)\n\t\t\t\t\t\t\tmo->%s_null = 1;\n\t\t\t\t\t\telse ", f->cname);
	else
		fprintf(out, "\t\t\t\t\t\t");
	switch (f->type->kind) {
	case GM_STRING:
		fprintf(out, "if (tk == RT_JR_STRING) {\n\t\t\t\t\t\t\tif (!(%s = rt_jread_cstr(&p->r)))\n\t\t\t\t\t\t\t\tbreak;\n"
		             "\t\t\t\t\t\t\t%s = p->r.len;\n\t\t\t\t\t\t}\n", v, len);
		break;
	case GM_ENUM:
		fprintf(out, "if (tk == RT_JR_STRING)\n\t\t\t\t\t\t\t%s = %s_from_text(p->r.str, p->r.len);\n", v, f->type->cname);
		break;
	case GM_INT:
		fprintf(out, "if (tk == RT_JR_INTEGER)\n\t\t\t\t\t\t\t%s = p->r.i;\n\t\t\t\t\t\telse if (tk == RT_JR_REAL && "
		             "rt_parse_int64(p->r.d, &%s) != 0)\n\t\t\t\t\t\t\trt_parse_fail(p, \"model\", \"must fit in int64, got %%.17g\", p->r.d);\n",
		        v, v);
		break;
	case GM_NUMBER:
		fprintf(out, "if (tk == RT_JR_INTEGER || tk == RT_JR_REAL)\n\t\t\t\t\t\t\t%s = tk == RT_JR_INTEGER ? (double)p->r.i : p->r.d;\n", v);
		break;
	case GM_BOOL:
		fprintf(out, "%s = tk == RT_JR_TRUE;\n", v);
		break;
	default:
		fprintf(out, "if (c2 && %s__f%zu(c2, p->r.arena, mo) != 0)\n\t\t\t\t\t\t\trt_parse_fail(p, \"model\", \"does not fit its C type\");\n",
		        mt->cname, fi);
		break;
	}
	if (f->optional)
		fprintf(out, "\t\t\t\t\t\tmo->has_%s = 1;\n", f->cname);
	fprintf(out, "\t\t\t\t\t}\n\t\t\t\t}\n");
}

/* `<T>__f<i>`: a field from a validated json_t (gen_model's reader) */
static void gp_helpers(FILE *out, const gm_type *mt)
{
	char v[300], len[300], count[300];

	for (size_t i = 0; i < mt->nfields; i++) {
		const gm_field *f = &mt->fields[i];
		if (!gp_needs_helper(mt, f))
			continue;
		gen_model_names(v, len, count, sizeof v, "out->", f->cname);
		fprintf(out, "static int %s__f%zu(const json_t *f, rt_arena *a, %s *out)\n{\n\t(void)a;\n", mt->cname, i, mt->cname);
		if (f->nullable)
			fprintf(out, "\tif (json_is_null(f)) {\n\t\tout->%s_null = 1;\n\t\treturn 0;\n\t}\n", f->cname);
		gen_model_read(out, f->type, "f", v, len, count, f->by_pointer, 1);
		fprintf(out, "\treturn 0;\n}\n\n");
	}
}

static int gp_mreach(gen_parse *p, const gm_type *t)
{
	const gm_type **v;

	for (size_t i = 0; i < p->nmreach; i++)
		if (p->mreach[i] == t)
			return 0;
	v = realloc(p->mreach, (p->nmreach + 1) * sizeof *v);
	if (!v)
		return -1;
	p->mreach = v;
	p->mreach[p->nmreach++] = t;
	if (gp_reach(p, t->s) != 0)
		return -1;
	for (size_t i = 0; i < t->nfields; i++) {
		const si_schema *ps = gp_prop(t, &t->fields[i]);
		if (ps && gp_direct(&t->fields[i], ps) && gp_mreach(p, t->fields[i].type) != 0)
			return -1;
	}
	return 0;
}

int gen_parse_model(gen_parse *p, gen_model *gm, const char *symbol, const char *ctype)
{
	const si_schema *s = gen_schema_find(p->gs, symbol);
	int hops = 0;
	struct gp_mroot *v;
	gm_type *t = NULL;

	p->gm = gm;
	/* the body's schema, or $ref alone (no other keyword, no flag) to it */
	for (; s && hops < 16; hops++) {
		t = gen_model_type(gm, s->symbol);
		if (t && t->cname && strcmp(t->cname, ctype) == 0)
			break;
		t = NULL;
		if (!s->ref || s->flags || gp_fallback(s) || s->types || s->properties.n || s->items || s->additional ||
		    s->n_required || s->format != SI_FMT_NONE || s->pattern || s->enum_ || s->const_ || s->default_)
			return 0;
		s = s->ref;
	}
	if (!t || !gp_model_ok(t))
		return 0;
	v = realloc(p->mroots, (p->nmroots + 1) * sizeof *v);
	if (!v)
		return -1;
	p->mroots = v;
	p->mroots[p->nmroots].s = gen_schema_find(p->gs, symbol);
	p->mroots[p->nmroots].t = t;
	p->mroots[p->nmroots].hops = hops;
	p->nmroots++;
	return 0;
}

const char *gen_parse_model_name(const gen_parse *p, const char *symbol)
{
	for (size_t i = 0; i < p->nmroots; i++)
		if (strcmp(p->mroots[i].s->symbol, symbol) == 0)
			return p->mroots[i].t->cname;
	return NULL;
}

void gen_parse_write_model_header(gen_parse *p, FILE *out)
{
	for (size_t i = 0; i < p->nmroots; i++) {
		int dup = 0;
		for (size_t k = 0; k < i; k++)
			dup |= p->mroots[k].t == p->mroots[i].t;
		if (!dup)
			fprintf(out, "int %s_parse(const char *buf, size_t len, rt_arena *a, unsigned flags, %s *out, json_t **keep, "
			             "rt_errors *errs);\n", p->mroots[i].t->cname, p->mroots[i].t->cname);
	}
}

/* After gen_parse_write (the validators the model parsers call). */
int gen_parse_write_models(gen_parse *p, FILE *out)
{
	p->nmreach = 0;
	for (size_t i = 0; i < p->nmroots; i++)
		if (gp_mreach(p, p->mroots[i].t) != 0)
			return -1;
	if (!p->nmreach)
		return 0;
	fprintf(out, "/* model parsers: request bytes straight into %zu C model%s */\n", p->nmreach, p->nmreach == 1 ? "" : "s");
	for (size_t i = 0; i < p->nmreach; i++)
		fprintf(out, "static int %s__m(rt_parse *p, int t, %s *mo, int dfl);\n", p->mreach[i]->cname, p->mreach[i]->cname);
	fprintf(out, "\n");
	for (size_t i = 0; i < p->nmreach; i++) {
		gp_helpers(out, p->mreach[i]);
		if (gp_validator(out, p->mreach[i]->s, p->mreach[i]) != 0)
			return -1;
	}
	for (size_t i = 0; i < p->nmroots; i++) {
		const gm_type *t = p->mroots[i].t;
		int dup = 0;
		for (size_t k = 0; k < i; k++)
			dup |= p->mroots[k].t == t;
		if (dup)
			continue;
		fprintf(out, "int %s_parse(const char *buf, size_t len, rt_arena *a, unsigned flags, %s *out, json_t **keep, "
		             "rt_errors *errs)\n{\n", t->cname, t->cname);
		fprintf(out, "\trt_parse p;\n\tsize_t base = errs ? errs->n : 0;\n\tint rc;\n\n\tmemset(out, 0, sizeof *out);\n");
		fprintf(out, "\trt_parse_init(&p, buf, len, a, RT_DIR_REQUEST, flags, errs);\n");
		if (p->mroots[i].hops)
			fprintf(out, "\tp.depth = %d; /* the $ref%s before the model's schema */\n", p->mroots[i].hops,
			        p->mroots[i].hops == 1 ? "" : "s");
		fprintf(out, "\trc = rt_parse_finish(&p, %s__m(&p, rt_jread_next(&p.r), out, 1), base);\n", t->cname);
		fprintf(out, "\tif (rc == RT_PARSE_OK && keep)\n\t\t*keep = p.keep;\n\telse\n\t\tjson_decref(p.keep);\n\treturn rc;\n}\n\n");
	}
	return 0;
}

/* gen_schema_tables.c — the emitter of `static const rt_schema` tables (the
 * json_t validator's) from the schema model. Constants are printed by the
 * names runtime/rt_schema_flags.def gives them; a limit is printed only
 * when it is set. */
#include "gen_schema.h"
#include "gen_schema_int.h"
#include "gen_text.h"

#include <stdlib.h>
#include <string.h>

/* "RT_T_A | RT_T_B" or "RT_S_A | ..." for a mask. */
static void gst_mask(FILE *out, unsigned mask, int flags)
{
	static const struct { const char *name; unsigned bit; } types[] = {
#define RT_SCHEMA_TYPE(name, bit, json) { "RT_T_" #name, SI_T_##name },
#include "rt_schema_flags.def"
	}, fl[] = {
#define RT_SCHEMA_FLAG(name, bit, what) { "RT_S_" #name, SI_F_##name },
#include "rt_schema_flags.def"
	};
	size_t n = flags ? sizeof fl / sizeof fl[0] : sizeof types / sizeof types[0];
	const char *sep = "";

	for (size_t i = 0; i < n; i++) {
		unsigned bit = flags ? fl[i].bit : types[i].bit;
		if (mask & bit) {
			fprintf(out, "%s%s", sep, flags ? fl[i].name : types[i].name);
			sep = " | ";
		}
	}
}

static void gst_json_literal(FILE *out, const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);

	gen_text_cstr(out, s ? s : "null");
	free(s);
}

static int gst_has_cache(const si_schema *s)
{
	return s->pattern || s->enum_ || s->const_ || s->default_;
}

static void gst_cache(FILE *aux, FILE *f, const si_schema *s)
{
	static const char *const fields[] = { "enum_json", "const_json", "default_json" };
	const json_t *values[] = { s->enum_, s->const_, s->default_ };

	if (!gst_has_cache(s))
		return;
	fprintf(aux, "static rt_schema_cache %s__cache = {", s->symbol);
	if (s->pattern) {
		fprintf(aux, " .pattern = ");
		gen_text_cstr(aux, s->pattern);
		fputc(',', aux);
	}
	for (size_t i = 0; i < 3; i++) {
		if (!values[i])
			continue;
		fprintf(aux, " .%s = ", fields[i]);
		gst_json_literal(aux, values[i]);
		fputc(',', aux);
	}
	fprintf(aux, " };\n");
	fprintf(f, "\t.cache = &%s__cache,\n", s->symbol);
}

/* "static const rt_schema *const NAME[] = { &a, &b };" and its field */
static void gst_list(FILE *aux, FILE *f, const si_schema *s, const char *field, const char *suffix, const si_list *l)
{
	if (!l->n)
		return;
	fprintf(aux, "static const rt_schema *const %s__%s[] = {", s->symbol, suffix);
	for (size_t i = 0; i < l->n; i++)
		fprintf(aux, "%s&%s", i ? ", " : " ", l->v[i]->symbol);
	fprintf(aux, " };\n");
	fprintf(f, "\t.%s = { %s__%s, %zu },\n", field, s->symbol, suffix, l->n);
}

static void gst_props(FILE *out, const char *type, const char *name, const si_named_list *l)
{
	fprintf(out, "static const %s %s[] = {\n", type, name);
	for (size_t i = 0; i < l->n; i++) {
		fprintf(out, "\t{ ");
		gen_text_cstr(out, l->v[i].name);
		fprintf(out, ", &%s },\n", l->v[i].schema->symbol);
	}
	if (!l->n)
		fprintf(out, "\t{ NULL, NULL },\n");
	fprintf(out, "};\n");
}

static void gst_one(FILE *f, const char *field, const si_schema *sub)
{
	if (sub)
		fprintf(f, "\t.%s = &%s,\n", field, sub->symbol);
}

/* numbers, lengths, counts, format, the cache */
static void gst_scalars(FILE *aux, FILE *f, const si_schema *s)
{
	static const char *const limits[SI_L_COUNT] = {
#define RT_SCHEMA_LIMIT(field, keyword, flag) #field,
#include "rt_schema_flags.def"
	};
	static const unsigned limit_flags[SI_L_COUNT] = {
#define RT_SCHEMA_LIMIT(field, keyword, flag) SI_F_##flag,
#include "rt_schema_flags.def"
	};
	static const char *const formats[SI_FMT_COUNT] = {
#define RT_SCHEMA_FORMAT(name, text) "RT_FMT_" #name,
#include "rt_schema_flags.def"
	};

	if (s->types) {
		fprintf(f, "\t.types = ");
		gst_mask(f, s->types, 0);
		fprintf(f, ",\n");
	}
	if (s->flags & SI_F_HAS_MIN)
		fprintf(f, "\t.minimum = %.17g,\n", s->minimum);
	if (s->flags & SI_F_HAS_MAX)
		fprintf(f, "\t.maximum = %.17g,\n", s->maximum);
	if (s->flags & SI_F_HAS_EXCL_MIN2)
		fprintf(f, "\t.xminimum = %.17g,\n", s->xminimum);
	if (s->flags & SI_F_HAS_EXCL_MAX2)
		fprintf(f, "\t.xmaximum = %.17g,\n", s->xmaximum);
	if (s->flags & SI_F_HAS_MULTIPLE)
		fprintf(f, "\t.multiple_of = %.17g,\n", s->multiple_of);
	for (size_t i = 0; i < SI_L_COUNT; i++)
		if (s->flags & limit_flags[i])
			fprintf(f, "\t.%s = %lld,\n", limits[i], (long long)s->limit[i]);
	if (s->format != SI_FMT_NONE)
		fprintf(f, "\t.format = %s,\n", formats[s->format]);
	gst_cache(aux, f, s);
}

static void gst_arrays(FILE *aux, FILE *f, const si_schema *s)
{
	if (s->prefix_from_items)
		gst_list(aux, f, s, "prefix_items", "prefix", &s->prefix_items);
	gst_one(f, "items", s->items);
	if (!s->prefix_from_items)
		gst_list(aux, f, s, "prefix_items", "prefix", &s->prefix_items);
	gst_one(f, "unevaluated_items", s->unevaluated_items);
	gst_one(f, "contains", s->contains);
}

static void gst_dependencies(FILE *aux, FILE *f, const si_schema *s)
{
	char name[300];

	for (size_t i = 0; i < s->n_dep_required; i++) {
		fprintf(aux, "static const char *const %s__dr%zu[] = { ", s->symbol, i);
		gen_text_cstr(aux, s->dep_required[i].name);
		for (size_t x = 0; x < s->dep_required[i].n; x++) {
			fprintf(aux, ", ");
			gen_text_cstr(aux, s->dep_required[i].names[x]);
		}
		fprintf(aux, ", NULL };\n");
	}
	if (s->n_dep_required) {
		fprintf(aux, "static const char *const *const %s__depreq[] = { ", s->symbol);
		for (size_t i = 0; i < s->n_dep_required; i++)
			fprintf(aux, "%s__dr%zu, ", s->symbol, i);
		fprintf(aux, "};\n");
		fprintf(f, "\t.dependent_required = %s__depreq, .n_dependent_required = %zu,\n", s->symbol, s->n_dep_required);
	}
	if (s->dep_schemas.n) {
		snprintf(name, sizeof name, "%s__depsch", s->symbol);
		gst_props(aux, "rt_schema_prop", name, &s->dep_schemas);
		fprintf(f, "\t.dependent_schemas = %s, .n_dependent_schemas = %zu,\n", name, s->dep_schemas.n);
	}
}

static void gst_objects(FILE *aux, FILE *f, const si_schema *s)
{
	char name[300];

	if (s->properties.n) {
		snprintf(name, sizeof name, "%s__props", s->symbol);
		gst_props(aux, "rt_schema_prop", name, &s->properties);
		fprintf(f, "\t.properties = %s, .n_properties = %zu,\n", name, s->properties.n);
	}
	if (s->n_required) {
		fprintf(aux, "static const char *const %s__required[] = {", s->symbol);
		for (size_t i = 0; i < s->n_required; i++) {
			fputc(' ', aux);
			gen_text_cstr(aux, s->required[i]);
			fputc(',', aux);
		}
		fprintf(aux, " };\n");
		fprintf(f, "\t.required = %s__required, .n_required = %zu,\n", s->symbol, s->n_required);
	}
	gst_one(f, "additional", s->additional);
	if (s->pattern_properties.n) {
		for (size_t i = 0; i < s->pattern_properties.n; i++) {
			fprintf(aux, "static rt_schema_cache %s__pp%zu = { .pattern = ", s->symbol, i);
			gen_text_cstr(aux, s->pattern_properties.v[i].name);
			fprintf(aux, " };\n");
		}
		fprintf(aux, "static const rt_schema_pattern_prop %s__pprops[] = {\n", s->symbol);
		for (size_t i = 0; i < s->pattern_properties.n; i++)
			fprintf(aux, "\t{ &%s__pp%zu, &%s },\n", s->symbol, i, s->pattern_properties.v[i].schema->symbol);
		fprintf(aux, "};\n");
		fprintf(f, "\t.pattern_properties = %s__pprops, .n_pattern_properties = %zu,\n", s->symbol,
		        s->pattern_properties.n);
	}
	gst_one(f, "unevaluated_properties", s->unevaluated_properties);
	gst_one(f, "property_names", s->property_names);
	gst_dependencies(aux, f, s);
}

static void gst_combinators(FILE *aux, FILE *f, const si_schema *s)
{
	char name[300];

	gst_list(aux, f, s, "all_of", "all_of", &s->all_of);
	gst_list(aux, f, s, "any_of", "any_of", &s->any_of);
	gst_list(aux, f, s, "one_of", "one_of", &s->one_of);
	gst_one(f, "not_", s->not_);
	gst_one(f, "if_", s->if_);
	gst_one(f, "then_", s->then_);
	gst_one(f, "else_", s->else_);
	if (s->disc_property) {
		fprintf(f, "\t.disc_property = ");
		gen_text_cstr(f, s->disc_property);
		fprintf(f, ",\n");
		snprintf(name, sizeof name, "%s__disc", s->symbol);
		gst_props(aux, "rt_schema_disc_map", name, &s->disc_map);
		fprintf(f, "\t.disc_map = %s, .n_disc_map = %zu,\n", name, s->disc_map.n);
	}
}

/* The fields of the table (designated initializers) into f, the arrays
 * and caches they point to into aux. */
static void gst_fields(FILE *aux, FILE *f, const si_schema *s)
{
	gst_one(f, "ref", s->ref);
	gst_one(f, "dyn_ref", s->dyn_ref);
	if (s->dyn_name) {
		fprintf(f, "\t.dyn_name = ");
		gen_text_cstr(f, s->dyn_name);
		fprintf(f, ",\n");
	}
	if (s->resource)
		fprintf(f, "\t.resource = &%s,\n", s->resource);
	gst_scalars(aux, f, s);
	gst_arrays(aux, f, s);
	gst_objects(aux, f, s);
	gst_combinators(aux, f, s);
	if (s->flags) {
		fprintf(f, "\t.flags = ");
		gst_mask(f, s->flags, 1);
		fprintf(f, ",\n");
	}
}

static int gst_table(FILE *out, const si_schema *s)
{
	char *aux_text = NULL, *fields = NULL;
	size_t auxlen = 0, fieldslen = 0;
	FILE *aux = gen_text_memstream(&aux_text, &auxlen), *f = gen_text_memstream(&fields, &fieldslen);

	if (!aux || !f) {
		if (aux)
			fclose(aux);
		if (f)
			fclose(f);
		free(aux_text);
		free(fields);
		return -1;
	}
	gst_fields(aux, f, s);
	fclose(aux);
	fclose(f);
	fputs(aux_text, out);
	fprintf(out, "/* ");
	gen_text_comment(out, s->where);
	fprintf(out, " */\nstatic const rt_schema %s = {\n\t.where = ", s->symbol);
	gen_text_cstr(out, s->where);
	fprintf(out, ",\n%s};\n\n", fields);
	free(aux_text);
	free(fields);
	return 0;
}

static void gst_resource(FILE *out, const si_resource *r)
{
	char name[300];

	fprintf(out, "/* the $dynamicAnchors of the schema resource ");
	gen_text_comment(out, r->where);
	fprintf(out, " */\n");
	snprintf(name, sizeof name, "%s__anchors", r->symbol);
	gst_props(out, "rt_schema_prop", name, &r->anchors);
	fprintf(out, "static const rt_schema_resource %s = { .dyn_anchors = %s, .n_dyn_anchors = %zu };\n\n",
	        r->symbol, name, r->anchors.n);
}

int gen_schema_write(gen_schema *g, FILE *out)
{
	for (size_t i = 0; i < g->n; i++)
		fprintf(out, "static const rt_schema %s;\n", g->v[i]->symbol);
	for (size_t i = 0; i < g->nres; i++)
		fprintf(out, "static const rt_schema_resource %s;\n", g->res[i]->symbol);
	fputc('\n', out);
	for (size_t i = 0; i < g->n; i++)
		if (gst_table(out, g->v[i]) != 0)
			return -1;
	for (size_t i = 0; i < g->nres; i++)
		gst_resource(out, g->res[i]);
	return 0;
}

size_t gen_schema_count_caches(const gen_schema *g)
{
	size_t n = 0;

	for (size_t i = 0; i < g->n; i++)
		n += (size_t)gst_has_cache(g->v[i]);
	return n;
}

int gen_schema_write_cache_list(gen_schema *g, FILE *out, const char *array_name)
{
	fprintf(out, "static rt_schema_cache *const %s[] = {\n", array_name);
	for (size_t i = 0; i < g->n; i++)
		if (gst_has_cache(g->v[i]))
			fprintf(out, "\t&%s__cache,\n", g->v[i]->symbol);
	fprintf(out, "\tNULL\n};\n");
	return 0;
}

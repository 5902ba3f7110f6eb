/* gen_model.c — the C models of body schemas: mapping (gm_build), layout
 * (directions, optional fields, dependency order) and the emitters of the
 * types (header), readers from json_t and writers of JSON text (source). */
#include "gen_model.h"
#include "gen_model_int.h"
#include "gen_text.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

gen_model *gen_model_new(gen_schema *gs, const char *prefix)
{
	gen_model *m = calloc(1, sizeof *m);

	if (!m)
		return NULL;
	m->gs = gs;
	m->prefix = strdup(prefix);
	m->by_symbol = json_object();
	m->reasons = json_object();
	return m;
}

static void gm_branches_drop(gm_type *t)
{
	for (size_t k = 0; k < t->nbranches; k++) {
		free(t->branches[k].member);
		free(t->branches[k].tag);
		for (size_t x = 0; x < t->branches[k].nvalues; x++)
			free(t->branches[k].values[x]);
		free(t->branches[k].values);
	}
	free(t->branches);
	t->branches = NULL;
	t->nbranches = 0;
}

void gen_model_free(gen_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		gm_type *t = m->v[i];
		for (size_t k = 0; k < t->nfields; k++) {
			free(t->fields[k].json_name);
			free(t->fields[k].cname);
		}
		free(t->fields);
		for (size_t k = 0; k < t->nenum; k++) {
			free(t->enum_values[k]);
			free(t->enum_consts[k]);
		}
		free(t->enum_values);
		free(t->enum_consts);
		gm_branches_drop(t);
		free(t->cname);
		free(t);
	}
	free(m->v);
	free(m->order);
	free(m->roots);
	free(m->root_dirs);
	free(m->prefix);
	json_decref(m->by_symbol);
	json_decref(m->reasons);
	free(m);
}

/* ---- mapping ---- */

static const char *const gm_c_keywords[] = {
	"auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
	"extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
	"short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
	"volatile", "while", "bool", "true", "false", "errno", "NULL", NULL
};

/* A C member name from a property name (new): a keyword, or a name that
 * starts with a digit or is in capitals only, gets a '_' after it. */
static char *gm_member(const char *name)
{
	char *id = gen_text_ident(name), *out = NULL;
	int caps = 0;

	if (!id)
		return NULL;
	for (const char *c = id; *c && caps >= 0; c++)
		caps = (*c >= 'a' && *c <= 'z') ? -1 : caps || (*c >= 'A' && *c <= 'Z');
	for (const char *const *k = gm_c_keywords; *k; k++)
		if (strcmp(id, *k) == 0)
			caps = 1;
	if (caps <= 0)
		return id;
	if (asprintf(&out, "%s_", id) < 0)
		out = NULL;
	free(id);
	return out;
}

static char *gm_upper(const char *a, const char *b)
{
	char *out = NULL, *id;

	if (asprintf(&out, "%s_%s", a, b) < 0)
		return NULL;
	id = gen_text_ident(out);
	free(out);
	for (char *c = id; c && *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 32);
	return id;
}

/* Keywords that give a schema a shape of its own (beside $ref or allOf). */
static int gm_structural(const si_schema *s, int ignore_all_of)
{
	return s->is_bool || s->types || s->properties.n || s->items || s->prefix_items.n || s->additional ||
	       s->pattern_properties.n || (!ignore_all_of && s->all_of.n) || s->any_of.n || s->one_of.n || s->not_ ||
	       s->if_ || s->enum_ || s->const_ || s->dyn_ref || s->unevaluated_items || s->unevaluated_properties ||
	       s->contains || s->property_names || s->dep_schemas.n;
}

static int gm_null_only(const si_schema *s)
{
	return s->types == SI_T_NULL && !s->properties.n && !s->ref;
}

/* Follows what only names another schema: $ref alone, allOf of one,
 * anyOf/oneOf of a schema and null (which makes it nullable). */
static const si_schema *gm_resolve(const si_schema *s, int *nullable)
{
	for (int hops = 0; hops < 64; hops++) {
		const si_list *two = s->any_of.n == 2 ? &s->any_of : s->one_of.n == 2 ? &s->one_of : NULL;
		if (s->flags & SI_F_NULLABLE)
			*nullable = 1;
		if (s->ref && !gm_structural(s, 0)) {
			s = s->ref;
		} else if (s->all_of.n == 1 && !s->ref && !gm_structural(s, 1)) {
			s = s->all_of.v[0];
		} else if (two && !s->ref && !s->disc_property && s->types == 0 && !s->properties.n &&
		           (gm_null_only(two->v[0]) || gm_null_only(two->v[1]))) {
			*nullable = 1;
			s = gm_null_only(two->v[0]) ? two->v[1] : two->v[0];
		} else {
			break;
		}
	}
	return s;
}

static gm_type *gm_new(gen_model *m, const si_schema *s, const char *key)
{
	gm_type *t = calloc(1, sizeof *t);

	if (!t)
		return NULL;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 32;
		gm_type **v = realloc(m->v, cap * sizeof *v);
		if (!v) {
			free(t);
			return NULL;
		}
		m->v = v;
		m->cap = cap;
	}
	t->s = s;
	if (key)
		json_object_set_new(m->by_symbol, key, json_integer((json_int_t)m->n));
	m->v[m->n++] = t;
	return t;
}

static int gm_name(gen_model *m, gm_type *t)
{
	if (asprintf(&t->cname, "%s_%s", m->prefix, t->s->model_name) < 0) {
		t->cname = NULL;
		return -1;
	}
	return 0;
}

static gm_type *gm_build(gen_model *m, const si_schema *in, int *nullable);

static gm_type *gm_json(gm_type *t, const char *why)
{
	t->kind = GM_JSON;
	t->reason = why;
	return t;
}

/* A string enum: its values as C constants (or plain strings when they clash). */
static int gm_enum(gen_model *m, gm_type *t, int *nullable)
{
	size_t n = json_array_size(t->s->enum_);

	t->kind = GM_STRING;
	for (size_t i = 0; i < n; i++)
		if (json_is_null(json_array_get(t->s->enum_, i)))
			*nullable = 1;
		else if (!json_is_string(json_array_get(t->s->enum_, i)))
			return 0;
	if (gm_name(m, t) != 0)
		return -1;
	t->enum_values = calloc(n + 1, sizeof *t->enum_values);
	t->enum_consts = calloc(n + 1, sizeof *t->enum_consts);
	if (!t->enum_values || !t->enum_consts)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *v = json_string_value(json_array_get(t->s->enum_, i));
		char *c;
		if (!v)
			continue;
		c = gm_upper(t->cname, v);
		if (!c)
			return -1;
		for (size_t k = 0; k < t->nenum; k++) {
			if (strcmp(t->enum_consts[k], c) == 0) {
				free(c);
				return 0; /* two values, one C name: stays a string */
			}
		}
		t->enum_values[t->nenum] = strdup(v);
		t->enum_consts[t->nenum++] = c;
	}
	t->kind = t->nenum ? GM_ENUM : GM_STRING;
	return 0;
}

static int gm_is_required(const si_schema *s, const char *name)
{
	for (size_t i = 0; i < s->n_required; i++)
		if (strcmp(s->required[i], name) == 0)
			return 1;
	return 0;
}

/* 1 when two members of one struct get one C name (companions too): the
 * object then stays a json_t, rather than fields that a rename elsewhere
 * could swap. */
static int gm_check_names(const gm_type *t)
{
	json_t *seen = json_object();
	int rc = 0;

	for (size_t i = 0; i < t->nfields && rc == 0; i++) {
		const gm_field *f = &t->fields[i];
		char *names[5] = { NULL };
		if (asprintf(&names[0], "%s", f->cname) < 0 || asprintf(&names[1], "has_%s", f->cname) < 0 ||
		    asprintf(&names[2], "%s_len", f->cname) < 0 || asprintf(&names[3], "n_%s", f->cname) < 0 ||
		    asprintf(&names[4], "%s_null", f->cname) < 0)
			rc = -1;
		for (size_t k = 0; k < 5 && rc == 0; k++) {
			const char *other = json_string_value(json_object_get(seen, names[k]));
			if (other)
				rc = 1;
			else
				json_object_set_new(seen, names[k], json_string(f->json_name));
		}
		for (size_t k = 0; k < 5; k++)
			free(names[k]);
	}
	json_decref(seen);
	return rc;
}

/* The fields of the properties of s, in the document's order, into t. */
static int gm_fields(gen_model *m, gm_type *t, const si_schema *s)
{
	const json_t *props = json_object_get(s->node, "properties");
	const char *k;
	json_t *v;

	t->fields = calloc(s->properties.n + 1, sizeof *t->fields);
	if (!t->fields)
		return -1;
	json_object_foreach((json_t *)props, k, v) {
		const si_named *p = NULL;
		gm_field *f;
		int fnull = 0;
		for (size_t i = 0; i < s->properties.n && !p; i++)
			if (strcmp(s->properties.v[i].name, k) == 0)
				p = &s->properties.v[i];
		if (!p)
			continue;
		/* the type first: building it may reach t again (a recursive
		 * schema), which must not see a field without its type */
		gm_type *ft = gm_build(m, p->schema, &fnull);
		if (!ft)
			return -1;
		f = &t->fields[t->nfields++];
		f->json_name = strdup(k);
		f->cname = gm_member(k);
		if (!f->json_name || !f->cname)
			return -1;
		f->required = gm_is_required(s, k);
		f->type = ft;
		f->readonly = !!((p->schema->flags | f->type->s->flags) & SI_F_READONLY);
		f->writeonly = !!((p->schema->flags | f->type->s->flags) & SI_F_WRITEONLY);
		f->nullable = fnull && f->type->kind != GM_JSON;
	}
	return 0;
}

/* An object with properties: a struct, the fields in the document's order. */
static int gm_struct(gen_model *m, gm_type *t)
{
	t->kind = GM_STRUCT;
	t->building = 1;
	if (gm_name(m, t) != 0 || gm_fields(m, t, t->s) != 0)
		return -1;
	t->building = 0;
	switch (gm_check_names(t)) {
	case 0:
		return 0;
	case 1:
		gm_json(t, "two properties that become one C name");
		return 0;
	default:
		return -1;
	}
}

/* Appends a copy of field f to t (same type; a property already there with
 * the same type is one field, required when either says so). 1 when the
 * two disagree on its type. */
static int gm_field_add(gm_type *t, const gm_field *f)
{
	gm_field *nf;

	for (size_t i = 0; i < t->nfields; i++) {
		if (strcmp(t->fields[i].json_name, f->json_name) != 0)
			continue;
		gm_field *g = &t->fields[i];
		gm_kind k = g->type->kind;
		/* the same type, or the same scalar kind (a branch may narrow a string): allOf means both hold */
		if (g->type != f->type && (k != f->type->kind || (k != GM_STRING && k != GM_INT && k != GM_NUMBER &&
		                                                   k != GM_BOOL && k != GM_JSON)))
			return 1;
		g->required |= f->required;
		g->nullable &= f->nullable;
		g->readonly |= f->readonly;
		g->writeonly |= f->writeonly;
		return 0;
	}
	nf = realloc(t->fields, (t->nfields + 1) * sizeof *nf);
	if (!nf)
		return -1;
	t->fields = nf;
	nf[t->nfields] = *f;
	nf[t->nfields].json_name = strdup(f->json_name);
	nf[t->nfields].cname = strdup(f->cname);
	if (!nf[t->nfields].json_name || !nf[t->nfields].cname)
		return -1;
	t->nfields++;
	return 0;
}

/* allOf of objects with properties: one struct with every branch's fields
 * (in branch order), and the schema's own. */
static int gm_merge(gen_model *m, gm_type *t)
{
	const si_schema *s = t->s;
	gm_type own = { .s = s };
	int rc = 0;

	if ((s->types & ~(unsigned)SI_T_NULL) & ~(unsigned)SI_T_OBJECT)
		return gm_json(t, "allOf of several schemas"), 0;
	if (s->additional && !s->additional->is_bool)
		return gm_json(t, "allOf beside additionalProperties with a schema"), 0;
	if (gm_name(m, t) != 0)
		return -1;
	t->kind = GM_STRUCT;
	for (size_t i = 0; i < s->all_of.n && rc == 0; i++) {
		int bn = 0;
		gm_type *bt = gm_build(m, s->all_of.v[i], &bn);
		if (!bt)
			return -1;
		if (bt->building) { /* its fields are not all known yet: nothing to copy */
			gm_json(t, "allOf of a schema that contains it");
			return 0;
		}
		if (bt->kind != GM_STRUCT || bn || bt->extra) {
			gm_json(t, "allOf of schemas that are not all objects with properties");
			return 0;
		}
		for (size_t k = 0; k < bt->nfields && rc == 0; k++)
			rc = gm_field_add(t, &bt->fields[k]);
	}
	if (rc == 0 && s->properties.n) {
		rc = gm_fields(m, &own, s);
		for (size_t k = 0; k < own.nfields && rc == 0; k++)
			rc = gm_field_add(t, &own.fields[k]);
	}
	for (size_t k = 0; k < own.nfields; k++) {
		free(own.fields[k].json_name);
		free(own.fields[k].cname);
	}
	free(own.fields);
	for (size_t k = 0; rc == 0 && k < t->nfields; k++)
		t->fields[k].required |= gm_is_required(s, t->fields[k].json_name);
	if (rc == 1) {
		gm_json(t, "allOf branches that disagree on a property");
		return 0;
	}
	if (rc != 0)
		return -1;
	switch (gm_check_names(t)) {
	case 0:
		return 0;
	case 1:
		gm_json(t, "two properties that become one C name");
		return 0;
	default:
		return -1;
	}
}

static int gm_branch_add(gm_type *t, gm_type *bt, const char *value)
{
	gm_branch *b = NULL;
	char **nv;

	for (size_t i = 0; i < t->nbranches && !b; i++)
		if (t->branches[i].type == bt)
			b = &t->branches[i];
	if (!b) {
		gm_branch *v = realloc(t->branches, (t->nbranches + 1) * sizeof *v);
		if (!v)
			return -1;
		t->branches = v;
		b = &v[t->nbranches++];
		memset(b, 0, sizeof *b);
		b->type = bt;
		b->member = gm_member(bt->s->model_name);
		b->tag = gm_upper(t->cname, bt->s->model_name);
		if (!b->member || !b->tag)
			return -1;
	}
	nv = realloc(b->values, (b->nvalues + 1) * sizeof *nv);
	if (!nv)
		return -1;
	b->values = nv;
	nv[b->nvalues] = strdup(value);
	return nv[b->nvalues++] ? 0 : -1;
}

/* The JSON type a branch of kind k is told apart by, or NULL (any JSON). */
static const char *gm_json_class(const gm_type *bt)
{
	switch (bt->kind) {
	case GM_STRING:
	case GM_ENUM:
		return "string";
	case GM_INT:
	case GM_NUMBER:
		return "number";
	case GM_BOOL:
		return "boolean";
	case GM_STRUCT:
	case GM_MAP:
		return "object";
	case GM_UNION:
		return bt->disc_property ? "object" : NULL;
	case GM_ARRAY:
	case GM_LIST:
		return "array";
	default:
		return NULL;
	}
}

/* oneOf/anyOf without a discriminator whose branches have one JSON type
 * each, no two the same (string, number, boolean, object, array; a branch
 * of null only makes it nullable): a union tagged by that type. */
static int gm_type_union(gen_model *m, gm_type *t, int *nullable)
{
	const si_list *l = t->s->one_of.n ? &t->s->one_of : &t->s->any_of;
	static const char why[] = "oneOf/anyOf without a discriminator, its branches not told apart by type";

	if ((t->s->one_of.n && t->s->any_of.n) || t->s->types || t->s->properties.n)
		return gm_json(t, why), 0;
	t->kind = GM_UNION;
	if (gm_name(m, t) != 0)
		return -1;
	for (size_t i = 0; i < l->n; i++) {
		int bn = 0;
		gm_type *bt;
		const char *cls;
		gm_branch *b;
		if (gm_null_only(l->v[i])) {
			*nullable = 1;
			continue;
		}
		bt = gm_build(m, l->v[i], &bn);
		if (!bt)
			return -1;
		cls = gm_json_class(bt);
		for (size_t k = 0; cls && k < t->nbranches; k++)
			if (strcmp(gm_json_class(t->branches[k].type), cls) == 0)
				cls = NULL;
		if (!cls) {
			gm_branches_drop(t); /* a json_t reaches none of them */
			return gm_json(t, why), 0;
		}
		*nullable |= bn;
		b = realloc(t->branches, (t->nbranches + 1) * sizeof *b);
		if (!b)
			return -1;
		t->branches = b;
		b = &b[t->nbranches++];
		memset(b, 0, sizeof *b);
		b->type = bt;
		b->member = strdup(bt->kind == GM_INT ? "integer" : cls);
		b->tag = gm_upper(t->cname, b->member);
		if (!b->member || !b->tag)
			return -1;
	}
	return t->nbranches ? 0 : (gm_json(t, why), 0);
}

/* oneOf/anyOf with a discriminator whose every branch is a struct, or
 * with branches told apart by JSON type (gm_type_union). */
static int gm_union(gen_model *m, gm_type *t, int *nullable)
{
	if (!t->s->disc_property || !t->s->disc_map.n)
		return gm_type_union(m, t, nullable);
	t->kind = GM_UNION;
	t->disc_property = t->s->disc_property;
	if (gm_name(m, t) != 0)
		return -1;
	for (size_t i = 0; i < t->s->disc_map.n; i++) {
		int bn = 0;
		gm_type *bt = gm_build(m, t->s->disc_map.v[i].schema, &bn);
		if (!bt)
			return -1;
		if (bt->kind != GM_STRUCT) {
			gm_branches_drop(t);
			gm_json(t, "a discriminator branch that is not an object with properties");
			return 0;
		}
		if (gm_branch_add(t, bt, t->s->disc_map.v[i].name) != 0)
			return -1;
	}
	return 0;
}

static int gm_array(gen_model *m, gm_type *t)
{
	int inull = 0;

	if (t->s->prefix_items.n) {
		gm_json(t, "prefixItems (a tuple)");
		return 0;
	}
	t->kind = GM_ARRAY;
	if (!t->s->items) {
		t->item = gm_new(m, t->s, NULL);
		return t->item ? (gm_json(t->item, "array items without a schema"), 0) : -1;
	}
	t->item = gm_build(m, t->s->items, &inull);
	if (!t->item)
		return -1;
	if (t->item->kind == GM_ARRAY || (inull && t->item->kind != GM_JSON)) {
		/* the element becomes any JSON; keep the mapped type for its own users */
		gm_type *j = gm_new(m, t->s->items, NULL);
		if (!j)
			return -1;
		t->item = gm_json(j, t->item->kind == GM_ARRAY ? "an array of arrays" : "nullable array items");
	}
	return 0;
}

static int gm_object(gen_model *m, gm_type *t)
{
	const si_schema *s = t->s;

	if (s->properties.n) {
		if (gm_struct(m, t) != 0)
			return -1;
		if (t->kind != GM_STRUCT || !s->additional || s->additional->is_bool)
			return 0;
		/* the members the properties do not name: "additional", entries as a map's */
		for (size_t i = 0; i < t->nfields; i++)
			if (strcmp(t->fields[i].cname, "additional") == 0 || strcmp(t->fields[i].cname, "n_additional") == 0)
				return gm_json(t, "a property named like the additionalProperties member"), 0;
		t->extra = 1;
		t->item = gm_build(m, s->additional, &t->item_nullable);
		if (!t->item)
			return -1;
		if (t->item->kind == GM_JSON)
			t->item_nullable = 0;
		return 0;
	}
	if (s->additional && !s->additional->is_bool) {
		t->kind = GM_MAP;
		if (gm_name(m, t) != 0)
			return -1;
		t->item = gm_build(m, s->additional, &t->item_nullable);
		if (!t->item)
			return -1;
		if (t->item->kind == GM_JSON)
			t->item_nullable = 0;
		return 0;
	}
	gm_json(t, "an object without properties (free-form)");
	return 0;
}

/* What cannot be a C type, and why; NULL when it can. */
static const char *gm_untyped(const si_schema *s)
{
	if (s->is_bool)
		return "no type (the schema true or false)";
	if (s->dyn_ref)
		return "a recursive $dynamicRef";
	if (s->ref)
		return "$ref beside other keywords";
	if (s->pattern_properties.n)
		return "patternProperties";
	if (s->if_)
		return "if/then/else";
	if (s->unevaluated_items || s->unevaluated_properties)
		return "unevaluatedProperties/unevaluatedItems";
	if (s->not_)
		return "not";
	if (s->all_of.n)
		return "allOf";
	return NULL;
}

static int gm_classify(gen_model *m, gm_type *t, int *nullable)
{
	const si_schema *s = t->s;
	unsigned types = s->types & ~(unsigned)SI_T_NULL;
	const char *why = gm_untyped(s);

	if (s->types & SI_T_NULL)
		*nullable = 1;
	if (why && s->all_of.n && !s->one_of.n && !s->any_of.n && strcmp(why, "allOf") == 0)
		return gm_merge(m, t);
	if (why)
		return gm_json(t, why), 0;
	if (s->one_of.n || s->any_of.n)
		return gm_union(m, t, nullable);
	switch (types) {
	case 0:
		return gm_json(t, "no type"), 0;
	case SI_T_STRING:
		return s->enum_ ? gm_enum(m, t, nullable) : (t->kind = GM_STRING, 0);
	case SI_T_INTEGER:
		return t->kind = GM_INT, 0;
	case SI_T_INTEGER | SI_T_NUMBER:
		return t->kind = GM_NUMBER, 0;
	case SI_T_BOOLEAN:
		return t->kind = GM_BOOL, 0;
	case SI_T_ARRAY:
		return gm_array(m, t);
	case SI_T_OBJECT:
		return gm_object(m, t);
	default:
		return gm_json(t, "several types"), 0;
	}
}

/* The type of the schema in (after what only names another schema);
 * *nullable set when null is allowed beside it. */
static gm_type *gm_build(gen_model *m, const si_schema *in, int *nullable)
{
	const si_schema *s = gm_resolve(in, nullable);
	const json_t *idx = json_object_get(m->by_symbol, s->symbol);
	gm_type *t;
	int nn = 0;

	if (idx) {
		t = m->v[json_integer_value(idx)];
		if (t->kind == GM_ENUM || t->kind == GM_STRING)
			for (size_t i = 0; t->s->enum_ && i < json_array_size(t->s->enum_); i++)
				*nullable |= json_is_null(json_array_get(t->s->enum_, i));
		*nullable |= !!(s->types & SI_T_NULL);
		return t;
	}
	t = gm_new(m, s, s->symbol);
	if (!t || gm_classify(m, t, &nn) != 0)
		return NULL;
	*nullable |= nn;
	return t;
}

int gen_model_body(gen_model *m, const char *symbol, int dir, const char **ctype, const char **why,
                   char *err, size_t errlen)
{
	const si_schema *s = gen_schema_find(m->gs, symbol);
	gm_type *t;
	int nullable = 0;
	char key[400];

	m->err = err;
	m->errlen = errlen;
	*ctype = NULL;
	*why = "no schema";
	if (!s)
		return 0;
	m->bodies++;
	t = gm_build(m, s, &nullable);
	if (!t)
		return -1;
	if (t->kind == GM_ARRAY) {
		/* a body that is an array: a named list of its items */
		const json_t *idx;
		snprintf(key, sizeof key, "%s/list", t->s->symbol);
		idx = json_object_get(m->by_symbol, key);
		if (idx) {
			t = m->v[json_integer_value(idx)];
		} else {
			gm_type *l = gm_new(m, t->s, key);
			if (!l || gm_name(m, l) != 0)
				return -1;
			l->kind = GM_LIST;
			l->item = t->item;
			t = l;
		}
	}
	if (t->kind != GM_STRUCT && t->kind != GM_UNION && t->kind != GM_MAP && t->kind != GM_LIST) {
		const char *r = t->kind == GM_JSON ? t->reason : "a body that is not an object or an array";
		json_object_set_new(m->reasons, r, json_integer(json_integer_value(json_object_get(m->reasons, r)) + 1));
		*why = r;
		return 0;
	}
	if (nullable) {
		const char *r = "a nullable body";
		json_object_set_new(m->reasons, r, json_integer(json_integer_value(json_object_get(m->reasons, r)) + 1));
		*why = r;
		return 0;
	}
	m->typed++;
	{
		gm_type **r = realloc(m->roots, (m->nroots + 1) * sizeof *r);
		int *d = realloc(m->root_dirs, (m->nroots + 1) * sizeof *d);
		if (r)
			m->roots = r;
		if (d)
			m->root_dirs = d;
		if (!r || !d)
			return -1;
		m->roots[m->nroots] = t;
		m->root_dirs[m->nroots++] = dir;
	}
	*ctype = t->cname;
	*why = NULL;
	return 0;
}

void gen_model_coverage(const gen_model *m, size_t *bodies, size_t *typed)
{
	*bodies = m->bodies;
	*typed = m->typed;
}

/* ---- layout ---- */

static int gm_named_kind(const gm_type *t)
{
	return t->kind == GM_STRUCT || t->kind == GM_UNION || t->kind == GM_MAP || t->kind == GM_LIST ||
	       t->kind == GM_ENUM;
}

static void gm_mark(gm_type *t, int dir)
{
	if (!t || (t->dirs & dir) == dir)
		return;
	t->dirs |= dir;
	for (size_t i = 0; i < t->nfields; i++)
		gm_mark(t->fields[i].type, dir);
	for (size_t i = 0; i < t->nbranches; i++)
		gm_mark(t->branches[i].type, dir);
	gm_mark(t->item, dir);
}

/* A struct, union or map held by value must be complete before its holder. */
static int gm_by_value(const gm_type *t)
{
	return t->kind == GM_STRUCT || t->kind == GM_UNION || t->kind == GM_MAP;
}

static int gm_place(gen_model *m, gm_type *t)
{
	if (t->state)
		return 0;
	t->state = 1;
	for (size_t i = 0; i < t->nfields; i++) {
		gm_field *f = &t->fields[i];
		f->optional = !f->required || (f->readonly && (t->dirs & GEN_MODEL_REQUEST)) ||
		              (f->writeonly && (t->dirs & GEN_MODEL_RESPONSE));
		if (gm_by_value(f->type) && f->type->state == 1)
			f->by_pointer = 1;
		else if (gm_place(m, f->type) != 0)
			return -1;
	}
	for (size_t i = 0; i < t->nbranches; i++) {
		if (gm_by_value(t->branches[i].type) && t->branches[i].type->state == 1)
			t->branches[i].by_pointer = 1;
		else if (gm_place(m, t->branches[i].type) != 0)
			return -1;
	}
	if ((t->kind == GM_MAP || t->extra) && t->item && gm_by_value(t->item) && t->item->state == 1)
		t->item_by_pointer = 1; /* the entry holds its value: cut the cycle there */
	else if (t->item && gm_place(m, t->item) != 0)
		return -1;
	t->state = 2;
	if (gm_named_kind(t)) {
		gm_type **o = realloc(m->order, (m->norder + 1) * sizeof *o);
		if (!o)
			return -1;
		m->order = o;
		o[m->norder++] = t;
	}
	return 0;
}

static int gm_layout(gen_model *m)
{
	if (m->order || !m->nroots)
		return 0;
	for (size_t i = 0; i < m->nroots; i++)
		gm_mark(m->roots[i], m->root_dirs[i]);
	for (size_t i = 0; i < m->nroots; i++)
		if (gm_place(m, m->roots[i]) != 0)
			return -1;
	return 0;
}

/* ---- the header: types and prototypes ---- */

/* The C type of an element of an array (or a map value's base type). */
static const char *gm_elem_ctype(const gm_type *t)
{
	switch (t->kind) {
	case GM_STRING: return "rt_str";
	case GM_INT: return "int64_t";
	case GM_NUMBER: return "double";
	case GM_BOOL: return "int";
	case GM_JSON: return "const json_t *";
	default: return t->cname;
	}
}

static void gm_comment(FILE *out, const char *s)
{
	gen_text_comment(out, s);
}

/* One member (and its companions) named name, of type t. */
static void gm_decl(FILE *out, const gm_type *t, const char *name, int by_pointer)
{
	switch (t->kind) {
	case GM_STRING:
		fprintf(out, "\tconst char *%s;\n\tsize_t %s_len;\n", name, name);
		break;
	case GM_ENUM:
	case GM_STRUCT:
	case GM_UNION:
	case GM_MAP:
	case GM_LIST:
		fprintf(out, "\t%s%s %s%s;\n", by_pointer ? "const " : "", t->cname, by_pointer ? "*" : "", name);
		break;
	case GM_INT:
	case GM_NUMBER:
	case GM_BOOL:
		fprintf(out, "\t%s %s;\n", gm_elem_ctype(t), name);
		break;
	case GM_ARRAY: {
		const char *e = gm_elem_ctype(t->item);
		fprintf(out, "\t%s%s*%s;\n\tsize_t n_%s;\n", e, e[strlen(e) - 1] == '*' ? "" : " ", name, name);
		if (t->item->kind == GM_JSON) {
			fprintf(out, "\t/* items: any JSON: ");
			gm_comment(out, t->item->reason);
			fprintf(out, " */\n");
		}
		break;
	}
	case GM_JSON:
		fprintf(out, "\tconst json_t *%s; /* any JSON: ", name);
		gm_comment(out, t->reason);
		fprintf(out, " */\n");
		break;
	}
}

static void gm_write_enum(FILE *out, const gm_type *t)
{
	fprintf(out, "/* ");
	gm_comment(out, t->s->where);
	fprintf(out, " */\ntypedef enum %s {\n", t->cname);
	for (size_t i = 0; i < t->nenum; i++) {
		fprintf(out, "\t%s%s, /* ", t->enum_consts[i], i == 0 ? " = 1" : "");
		gm_comment(out, t->enum_values[i]);
		fprintf(out, " */\n");
	}
	fprintf(out, "} %s;\n/* The value's text, or NULL for a value outside the enum. */\n"
	             "const char *%s_text(%s v);\n/* The value of text, or 0 when it is none. */\n"
	             "%s %s_from_text(const char *text, size_t len);\n\n", t->cname, t->cname, t->cname, t->cname, t->cname);
}

/* The entry of a map, or of a struct's members beyond its properties. */
static void gm_write_entry(FILE *out, const gm_type *t)
{
	fprintf(out, "typedef struct %s_entry {\n\tconst char *key;\n\tsize_t key_len;\n", t->cname);
	gm_decl(out, t->item, "value", t->item_by_pointer);
	if (t->item_nullable)
		fprintf(out, "\tint value_null;\n");
	fprintf(out, "} %s_entry;\n", t->cname);
}

static void gm_write_struct(FILE *out, const gm_type *t)
{
	fprintf(out, "/* ");
	gm_comment(out, t->s->where);
	fprintf(out, " */\n");
	if (t->extra)
		gm_write_entry(out, t);
	fprintf(out, "struct %s {\n", t->cname);
	for (size_t i = 0; i < t->nfields; i++) {
		const gm_field *f = &t->fields[i];
		fprintf(out, "\t/* \"");
		gm_comment(out, f->json_name);
		fprintf(out, "\"%s%s%s%s */\n", f->optional ? ", optional (has_)" : ", required",
		        f->nullable ? ", nullable (_null)" : "", f->readonly ? ", readOnly" : "",
		        f->writeonly ? ", writeOnly" : "");
		gm_decl(out, f->type, f->cname, f->by_pointer);
		if (f->type->kind == GM_JSON)
			fprintf(out, "\tconst char *%s_json; /* or the value as JSON text, sent as it is (checked to be one JSON "
			        "value); NULL: %s */\n", f->cname, f->cname);
		if (f->optional)
			fprintf(out, "\tint has_%s;\n", f->cname);
		if (f->nullable)
			fprintf(out, "\tint %s_null;\n", f->cname);
	}
	if (t->extra)
		fprintf(out, "\t/* additionalProperties: the members not named above, in the order received */\n"
		             "\t%s_entry *additional;\n\tsize_t n_additional;\n", t->cname);
	if (!t->nfields)
		fprintf(out, "\tchar no_properties;\n");
	fprintf(out, "};\n\n");
}

/* A union member: scalars and named types as themselves, a string as an
 * rt_str, an array as { items, n_items }. */
static void gm_branch_decl(FILE *out, const gm_branch *b)
{
	const gm_type *bt = b->type;
	const char *e;

	switch (bt->kind) {
	case GM_STRING:
		fprintf(out, "\t\trt_str %s;\n", b->member);
		break;
	case GM_ARRAY:
		e = gm_elem_ctype(bt->item);
		fprintf(out, "\t\tstruct {\n\t\t\t%s%s*items;\n\t\t\tsize_t n_items;\n\t\t} %s;\n", e,
		        e[strlen(e) - 1] == '*' ? "" : " ", b->member);
		break;
	case GM_INT:
	case GM_NUMBER:
	case GM_BOOL:
		fprintf(out, "\t\t%s %s;\n", gm_elem_ctype(bt), b->member);
		break;
	default:
		fprintf(out, "\t\t%s%s %s%s;\n", b->by_pointer ? "const " : "", bt->cname, b->by_pointer ? "*" : "", b->member);
		break;
	}
}

static void gm_write_union(FILE *out, const gm_type *t)
{
	fprintf(out, "/* ");
	gm_comment(out, t->s->where);
	if (t->disc_property) {
		fprintf(out, ": by \"");
		gm_comment(out, t->disc_property);
		fprintf(out, "\"");
	} else {
		fprintf(out, ": by JSON type");
	}
	fprintf(out, " */\ntypedef enum %s_tag {\n", t->cname);
	for (size_t i = 0; i < t->nbranches; i++) {
		fprintf(out, "\t%s%s, /*", t->branches[i].tag, i == 0 ? " = 1" : "");
		if (!t->disc_property)
			fprintf(out, " a JSON %s", gm_json_class(t->branches[i].type));
		for (size_t k = 0; k < t->branches[i].nvalues; k++) {
			fprintf(out, " \"");
			gm_comment(out, t->branches[i].values[k]);
			fprintf(out, "\"");
		}
		fprintf(out, " */\n");
	}
	fprintf(out, "} %s_tag;\nstruct %s {\n\t%s_tag tag;\n\tunion {\n", t->cname, t->cname, t->cname);
	for (size_t i = 0; i < t->nbranches; i++)
		gm_branch_decl(out, &t->branches[i]);
	fprintf(out, "\t} u;\n};\n\n");
}

static void gm_write_map(FILE *out, const gm_type *t)
{
	fprintf(out, "/* ");
	gm_comment(out, t->s->where);
	fprintf(out, ": additionalProperties, in the order received */\n");
	gm_write_entry(out, t);
	fprintf(out, "struct %s {\n\t%s_entry *v;\n\tsize_t n;\n};\n\n", t->cname, t->cname);
}

static void gm_write_list(FILE *out, const gm_type *t)
{
	const char *e = gm_elem_ctype(t->item);

	fprintf(out, "/* ");
	gm_comment(out, t->s->where);
	fprintf(out, " */\nstruct %s {\n\t%s%s*items;\n\tsize_t n_items;\n};\n\n", t->cname, e,
	        e[strlen(e) - 1] == '*' ? "" : " ");
}

int gen_model_write_header(gen_model *m, FILE *out)
{
	if (gm_layout(m) != 0)
		return -1;
	if (!m->norder)
		return 0;
	fprintf(out, "/* ---- typed bodies: models of the schemas request and response bodies reach ---- */\n\n");
	for (size_t i = 0; i < m->norder; i++)
		if (m->order[i]->kind != GM_ENUM)
			fprintf(out, "typedef struct %s %s;\n", m->order[i]->cname, m->order[i]->cname);
	fputc('\n', out);
	for (size_t i = 0; i < m->norder; i++)
		if (m->order[i]->kind == GM_ENUM)
			gm_write_enum(out, m->order[i]);
	for (size_t i = 0; i < m->norder; i++) {
		const gm_type *t = m->order[i];
		if (t->kind == GM_STRUCT)
			gm_write_struct(out, t);
		else if (t->kind == GM_UNION)
			gm_write_union(out, t);
		else if (t->kind == GM_MAP)
			gm_write_map(out, t);
		else if (t->kind == GM_LIST)
			gm_write_list(out, t);
	}
	fprintf(out, "/* Per model: the reader of a validated json_t (borrowed; strings and\n"
	             " * json_t members point into it, arrays come from the arena; 0, or -1 when\n"
	             " * it does not have the model's shape), and the writer of its JSON text. */\n");
	for (size_t i = 0; i < m->norder; i++) {
		const gm_type *t = m->order[i];
		if (t->kind == GM_ENUM)
			continue;
		fprintf(out, "int %s_from_json(const json_t *j, rt_arena *a, %s *out);\n", t->cname, t->cname);
		fprintf(out, "void %s_write(rt_json_writer *w, const %s *v);\n", t->cname, t->cname);
	}
	fputc('\n', out);
	return 0;
}

/* ---- the source: readers and writers ---- */

static void gm_ind(FILE *out, int n)
{
	while (n-- > 0)
		fputc('\t', out);
}

/* Reads src (a const json_t *) into v (and len / count) per t. */
static void gm_read(FILE *out, const gm_type *t, const char *src, const char *v, const char *len,
                    const char *count, int by_pointer, int in)
{
	char ev[300], el[300];

	switch (t->kind) {
	case GM_STRING:
		gm_ind(out, in);
		fprintf(out, "if (!json_is_string(%s))\n", src);
		gm_ind(out, in + 1);
		fprintf(out, "return -1;\n");
		gm_ind(out, in);
		fprintf(out, "%s = json_string_value(%s);\n", v, src);
		gm_ind(out, in);
		fprintf(out, "%s = json_string_length(%s);\n", len, src);
		break;
	case GM_ENUM:
		gm_ind(out, in);
		fprintf(out, "if (!json_is_string(%s) || !(%s = %s_from_text(json_string_value(%s), json_string_length(%s))))\n",
		        src, v, t->cname, src, src);
		gm_ind(out, in + 1);
		fprintf(out, "return -1;\n");
		break;
	case GM_INT:
	case GM_NUMBER:
		gm_ind(out, in);
		fprintf(out, "if (rt_json_as_%s(%s, &%s) != 0)\n", t->kind == GM_INT ? "int64" : "double", src, v);
		gm_ind(out, in + 1);
		fprintf(out, "return -1;\n");
		break;
	case GM_BOOL:
		gm_ind(out, in);
		fprintf(out, "if (!json_is_boolean(%s))\n", src);
		gm_ind(out, in + 1);
		fprintf(out, "return -1;\n");
		gm_ind(out, in);
		fprintf(out, "%s = json_is_true(%s);\n", v, src);
		break;
	case GM_JSON:
		gm_ind(out, in);
		fprintf(out, "%s = %s;\n", v, src);
		break;
	case GM_STRUCT:
	case GM_UNION:
	case GM_MAP:
	case GM_LIST:
		gm_ind(out, in);
		if (by_pointer) {
			fprintf(out, "{\n");
			gm_ind(out, in + 1);
			fprintf(out, "%s *p = rt_arena_alloc(a, sizeof *p);\n", t->cname);
			gm_ind(out, in + 1);
			fprintf(out, "if (!p || %s_from_json(%s, a, p) != 0)\n", t->cname, src);
			gm_ind(out, in + 2);
			fprintf(out, "return -1;\n");
			gm_ind(out, in + 1);
			fprintf(out, "%s = p;\n", v);
			gm_ind(out, in);
			fprintf(out, "}\n");
		} else {
			fprintf(out, "if (%s_from_json(%s, a, &%s) != 0)\n", t->cname, src, v);
			gm_ind(out, in + 1);
			fprintf(out, "return -1;\n");
		}
		break;
	case GM_ARRAY:
		gm_ind(out, in);
		fprintf(out, "if (!json_is_array(%s))\n", src);
		gm_ind(out, in + 1);
		fprintf(out, "return -1;\n");
		gm_ind(out, in);
		fprintf(out, "%s = json_array_size(%s);\n", count, src);
		gm_ind(out, in);
		fprintf(out, "%s = %s ? rt_arena_alloc(a, %s * sizeof *%s) : NULL;\n", v, count, count, v);
		gm_ind(out, in);
		fprintf(out, "if (%s && !%s)\n", count, v);
		gm_ind(out, in + 1);
		fprintf(out, "return -1;\n");
		gm_ind(out, in);
		fprintf(out, "for (size_t i = 0; i < %s; i++) {\n", count);
		gm_ind(out, in + 1);
		fprintf(out, "const json_t *e = json_array_get(%s, i);\n", src);
		snprintf(ev, sizeof ev, t->item->kind == GM_STRING ? "%s[i].s" : "%s[i]", v);
		snprintf(el, sizeof el, "%s[i].len", v);
		gm_read(out, t->item, "e", ev, el, NULL, 0, in + 1);
		gm_ind(out, in);
		fprintf(out, "}\n");
		break;
	}
}

/* Writes v (and len / count) per t. */
static void gm_write_value(FILE *out, const gm_type *t, const char *v, const char *len, const char *count,
                           int by_pointer, int in)
{
	char ev[300], el[300];

	gm_ind(out, in);
	switch (t->kind) {
	case GM_STRING:
		fprintf(out, "rt_json_write_string(w, %s, %s);\n", v, len);
		break;
	case GM_ENUM:
		fprintf(out, "rt_json_write_text(w, %s_text(%s));\n", t->cname, v);
		break;
	case GM_INT:
		fprintf(out, "rt_json_write_integer(w, %s);\n", v);
		break;
	case GM_NUMBER:
		fprintf(out, "rt_json_write_real(w, %s);\n", v);
		break;
	case GM_BOOL:
		fprintf(out, "rt_json_write_bool(w, %s);\n", v);
		break;
	case GM_JSON:
		fprintf(out, "rt_json_write_value(w, %s);\n", v);
		break;
	case GM_STRUCT:
	case GM_UNION:
	case GM_MAP:
	case GM_LIST:
		if (by_pointer) {
			fprintf(out, "if (%s)\n", v);
			gm_ind(out, in + 1);
			fprintf(out, "%s_write(w, %s);\n", t->cname, v);
			gm_ind(out, in);
			fprintf(out, "else\n");
			gm_ind(out, in + 1);
			fprintf(out, "rt_json_write_null(w);\n");
		} else
			fprintf(out, "%s_write(w, &%s);\n", t->cname, v);
		break;
	case GM_ARRAY:
		fprintf(out, "rt_json_write_raw(w, \"[\", 1);\n");
		gm_ind(out, in);
		fprintf(out, "for (size_t i = 0; i < %s; i++) {\n", count);
		gm_ind(out, in + 1);
		fprintf(out, "if (i)\n");
		gm_ind(out, in + 2);
		fprintf(out, "rt_json_write_raw(w, \",\", 1);\n");
		snprintf(ev, sizeof ev, t->item->kind == GM_STRING ? "%s[i].s" : "%s[i]", v);
		snprintf(el, sizeof el, "%s[i].len", v);
		gm_write_value(out, t->item, ev, el, NULL, 0, in + 1);
		gm_ind(out, in);
		fprintf(out, "}\n");
		gm_ind(out, in);
		fprintf(out, "rt_json_write_raw(w, \"]\", 1);\n");
		break;
	}
}

static void gm_names(char *v, char *len, char *count, size_t size, const char *base, const char *name)
{
	snprintf(v, size, "%s%s", base, name);
	snprintf(len, size, "%s%s_len", base, name);
	snprintf(count, size, "%sn_%s", base, name);
}

/* A struct's members its properties do not name, in the order received. */
static void gm_source_extra_read(FILE *out, const gm_type *t)
{
	fprintf(out, "\t{\n\t\tconst char *key;\n\t\tjson_t *mv;\n\t\tsize_t x = 0, n = json_object_size(j);\n\n"
	             "\t\tout->additional = n ? rt_arena_alloc(a, n * sizeof *out->additional) : NULL;\n"
	             "\t\tif (n && !out->additional)\n\t\t\treturn -1;\n"
	             "\t\tjson_object_foreach((json_t *)j, key, mv) {\n\t\t\tif (");
	for (size_t i = 0; i < t->nfields; i++) {
		fprintf(out, "%sstrcmp(key, ", i ? " ||\n\t\t\t    " : "");
		gen_text_cstr(out, t->fields[i].json_name);
		fprintf(out, ") == 0");
	}
	fprintf(out, ")\n\t\t\t\tcontinue;\n\t\t\tout->additional[x].key = key;\n"
	             "\t\t\tout->additional[x].key_len = strlen(key);\n");
	if (t->item_nullable) /* set either way: the arena's memory is not zeroed */
		fprintf(out, "\t\t\tout->additional[x].value_null = json_is_null(mv);\n"
		             "\t\t\tif (!out->additional[x].value_null) {\n");
	gm_read(out, t->item, "mv", "out->additional[x].value", "out->additional[x].value_len",
	        "out->additional[x].n_value", t->item_by_pointer, t->item_nullable ? 4 : 3);
	if (t->item_nullable)
		fprintf(out, "\t\t\t}\n");
	fprintf(out, "\t\t\tx++;\n\t\t}\n\t\tout->n_additional = x;\n\t}\n");
}

static void gm_source_struct(FILE *out, const gm_type *t)
{
	char v[300], len[300], count[300];

	fprintf(out, "int %s_from_json(const json_t *j, rt_arena *a, %s *out)\n{\n", t->cname, t->cname);
	fprintf(out, "%s\t(void)a;\n\tmemset(out, 0, sizeof *out);\n\tif (!json_is_object(j))\n\t\treturn -1;\n",
	        t->nfields ? "\tconst json_t *f;\n\n" : "");
	for (size_t i = 0; i < t->nfields; i++) {
		const gm_field *f = &t->fields[i];
		fprintf(out, "\tf = json_object_get(j, ");
		gen_text_cstr(out, f->json_name);
		fprintf(out, ");\n");
		if (!f->optional)
			fprintf(out, "\tif (!f)\n\t\treturn -1;\n");
		fprintf(out, "\tif (f) {\n");
		if (f->optional)
			fprintf(out, "\t\tout->has_%s = 1;\n", f->cname);
		gm_names(v, len, count, sizeof v, "out->", f->cname);
		if (f->nullable)
			fprintf(out, "\t\tif (json_is_null(f))\n\t\t\tout->%s_null = 1;\n\t\telse {\n", f->cname);
		gm_read(out, f->type, "f", v, len, count, f->by_pointer, f->nullable ? 3 : 2);
		if (f->nullable)
			fprintf(out, "\t\t}\n");
		fprintf(out, "\t}\n");
	}
	if (t->extra)
		gm_source_extra_read(out, t);
	fprintf(out, "\treturn 0;\n}\n\n");
	fprintf(out, "void %s_write(rt_json_writer *w, const %s *v)\n{\n", t->cname, t->cname);
	if (t->nfields)
		fprintf(out, "\tint first = 1;\n\n");
	fprintf(out, "\trt_json_write_raw(w, \"{\", 1);\n");
	for (size_t i = 0; i < t->nfields; i++) {
		const gm_field *f = &t->fields[i];
		int in = f->optional ? 2 : 1;
		if (f->optional)
			fprintf(out, "\tif (v->has_%s) {\n", f->cname);
		gm_ind(out, in);
		fprintf(out, "rt_json_write_key(w, ");
		gen_text_cstr(out, f->json_name);
		fprintf(out, ", %zu, &first);\n", strlen(f->json_name));
		gm_names(v, len, count, sizeof v, "v->", f->cname);
		if (f->nullable) {
			gm_ind(out, in);
			fprintf(out, "if (v->%s_null)\n", f->cname);
			gm_ind(out, in + 1);
			fprintf(out, "rt_json_write_null(w);\n");
			gm_ind(out, in);
			fprintf(out, "else {\n");
		}
		if (f->type->kind == GM_JSON) {
			gm_ind(out, in + f->nullable);
			fprintf(out, "if (v->%s_json)\n", f->cname);
			gm_ind(out, in + f->nullable + 1);
			fprintf(out, "rt_json_write_json(w, v->%s_json);\n", f->cname);
			gm_ind(out, in + f->nullable);
			fprintf(out, "else\n");
			gm_write_value(out, f->type, v, len, count, f->by_pointer, in + f->nullable + 1);
		} else
			gm_write_value(out, f->type, v, len, count, f->by_pointer, in + f->nullable);
		if (f->nullable) {
			gm_ind(out, in);
			fprintf(out, "}\n");
		}
		if (f->optional)
			fprintf(out, "\t}\n");
	}
	if (t->extra) {
		fprintf(out, "\tfor (size_t k = 0; k < v->n_additional; k++) {\n"
		             "\t\trt_json_write_key(w, v->additional[k].key, v->additional[k].key_len, &first);\n");
		if (t->item_nullable)
			fprintf(out, "\t\tif (v->additional[k].value_null)\n\t\t\trt_json_write_null(w);\n\t\telse {\n");
		gm_write_value(out, t->item, "v->additional[k].value", "v->additional[k].value_len",
		               "v->additional[k].n_value", t->item_by_pointer, t->item_nullable ? 3 : 2);
		if (t->item_nullable)
			fprintf(out, "\t\t}\n");
		fprintf(out, "\t}\n");
	}
	fprintf(out, "\trt_json_write_raw(w, \"}\", 1);\n}\n\n");
}

/* The expressions of branch b's value under base ("out->u." / "v->u."). */
static void gm_branch_names(const gm_branch *b, const char *base, char *v, char *len, char *count, size_t size)
{
	snprintf(v, size, b->type->kind == GM_STRING ? "%s%s.s" : b->type->kind == GM_ARRAY ? "%s%s.items" : "%s%s",
	         base, b->member);
	snprintf(len, size, "%s%s.len", base, b->member);
	snprintf(count, size, "%s%s.n_items", base, b->member);
}

/* A union told apart by JSON type: the branch of the value's type. */
static void gm_source_type_union(FILE *out, const gm_type *t)
{
	char v[300], len[300], count[300];

	fprintf(out, "int %s_from_json(const json_t *j, rt_arena *a, %s *out)\n{\n\t(void)a;\n"
	             "\tmemset(out, 0, sizeof *out);\n", t->cname, t->cname);
	for (size_t i = 0; i < t->nbranches; i++) {
		const gm_branch *b = &t->branches[i];
		fprintf(out, "\tif (json_is_%s(j)) {\n\t\tout->tag = %s;\n", gm_json_class(b->type), b->tag);
		gm_branch_names(b, "out->u.", v, len, count, sizeof v);
		gm_read(out, b->type, "j", v, len, count, b->by_pointer, 2);
		fprintf(out, "\t\treturn 0;\n\t}\n");
	}
	fprintf(out, "\treturn -1;\n}\n\n");
	fprintf(out, "void %s_write(rt_json_writer *w, const %s *v)\n{\n\tswitch (v->tag) {\n", t->cname, t->cname);
	for (size_t i = 0; i < t->nbranches; i++) {
		const gm_branch *b = &t->branches[i];
		fprintf(out, "\tcase %s:\n", b->tag);
		gm_branch_names(b, "v->u.", v, len, count, sizeof v);
		gm_write_value(out, b->type, v, len, count, b->by_pointer, 2);
		fprintf(out, "\t\treturn;\n");
	}
	fprintf(out, "\t}\n\tw->failed = 1; /* no branch chosen */\n}\n\n");
}

static void gm_source_union(FILE *out, const gm_type *t)
{
	if (!t->disc_property) {
		gm_source_type_union(out, t);
		return;
	}
	fprintf(out, "int %s_from_json(const json_t *j, rt_arena *a, %s *out)\n{\n\tconst char *d = "
	             "json_string_value(json_object_get(j, ", t->cname, t->cname);
	gen_text_cstr(out, t->disc_property);
	fprintf(out, "));\n\n\tmemset(out, 0, sizeof *out);\n\tif (!d)\n\t\treturn -1;\n");
	for (size_t i = 0; i < t->nbranches; i++) {
		const gm_branch *b = &t->branches[i];
		fprintf(out, "\tif (");
		for (size_t k = 0; k < b->nvalues; k++) {
			fprintf(out, "%sstrcmp(d, ", k ? " || " : "");
			gen_text_cstr(out, b->values[k]);
			fprintf(out, ") == 0");
		}
		fprintf(out, ") {\n\t\tout->tag = %s;\n", b->tag);
		if (b->by_pointer)
			fprintf(out, "\t\t%s *p = rt_arena_alloc(a, sizeof *p);\n\t\tout->u.%s = p;\n"
			             "\t\treturn p ? %s_from_json(j, a, p) : -1;\n\t}\n", b->type->cname, b->member, b->type->cname);
		else
			fprintf(out, "\t\treturn %s_from_json(j, a, &out->u.%s);\n\t}\n", b->type->cname, b->member);
	}
	fprintf(out, "\treturn -1;\n}\n\n");
	fprintf(out, "void %s_write(rt_json_writer *w, const %s *v)\n{\n\tswitch (v->tag) {\n", t->cname, t->cname);
	for (size_t i = 0; i < t->nbranches; i++)
		fprintf(out, "\tcase %s:\n\t\t%s_write(w, %sv->u.%s);\n\t\treturn;\n", t->branches[i].tag,
		        t->branches[i].type->cname, t->branches[i].by_pointer ? "" : "&", t->branches[i].member);
	fprintf(out, "\t}\n\tw->failed = 1; /* no branch chosen */\n}\n\n");
}

static void gm_source_map(FILE *out, const gm_type *t)
{
	fprintf(out, "int %s_from_json(const json_t *j, rt_arena *a, %s *out)\n{\n\tconst char *key;\n\tjson_t *f;\n"
	             "\tsize_t x = 0;\n\n\tmemset(out, 0, sizeof *out);\n\tif (!json_is_object(j))\n\t\treturn -1;\n"
	             "\tout->n = json_object_size(j);\n\tout->v = out->n ? rt_arena_alloc(a, out->n * sizeof *out->v) : NULL;\n"
	             "\tif (out->n && !out->v)\n\t\treturn -1;\n\tjson_object_foreach((json_t *)j, key, f) {\n"
	             "\t\tout->v[x].key = key;\n\t\tout->v[x].key_len = strlen(key);\n", t->cname, t->cname);
	if (t->item_nullable) /* set either way: the arena's memory is not zeroed */
		fprintf(out, "\t\tout->v[x].value_null = json_is_null(f);\n\t\tif (!out->v[x].value_null) {\n");
	gm_read(out, t->item, "f", "out->v[x].value", "out->v[x].value_len", "out->v[x].n_value", t->item_by_pointer,
	        t->item_nullable ? 3 : 2);
	if (t->item_nullable)
		fprintf(out, "\t\t}\n");
	fprintf(out, "\t\tx++;\n\t}\n\treturn 0;\n}\n\n");
	fprintf(out, "void %s_write(rt_json_writer *w, const %s *v)\n{\n\tint first = 1;\n\n"
	             "\trt_json_write_raw(w, \"{\", 1);\n\tfor (size_t k = 0; k < v->n; k++) {\n"
	             "\t\trt_json_write_key(w, v->v[k].key, v->v[k].key_len, &first);\n", t->cname, t->cname);
	if (t->item_nullable)
		fprintf(out, "\t\tif (v->v[k].value_null)\n\t\t\trt_json_write_null(w);\n\t\telse {\n");
	gm_write_value(out, t->item, "v->v[k].value", "v->v[k].value_len", "v->v[k].n_value", t->item_by_pointer,
	               t->item_nullable ? 3 : 2);
	if (t->item_nullable)
		fprintf(out, "\t\t}\n");
	fprintf(out, "\t}\n\trt_json_write_raw(w, \"}\", 1);\n}\n\n");
}

static void gm_source_list(FILE *out, const gm_type *t)
{
	gm_type arr = { .kind = GM_ARRAY, .item = t->item };

	fprintf(out, "int %s_from_json(const json_t *j, rt_arena *a, %s *out)\n{\n\tmemset(out, 0, sizeof *out);\n",
	        t->cname, t->cname);
	gm_read(out, &arr, "j", "out->items", NULL, "out->n_items", 0, 1);
	fprintf(out, "\treturn 0;\n}\n\n");
	fprintf(out, "void %s_write(rt_json_writer *w, const %s *v)\n{\n", t->cname, t->cname);
	gm_write_value(out, &arr, "v->items", NULL, "v->n_items", 0, 1);
	fprintf(out, "}\n\n");
}

static void gm_source_enum(FILE *out, const gm_type *t)
{
	fprintf(out, "const char *%s_text(%s v)\n{\n\tswitch (v) {\n", t->cname, t->cname);
	for (size_t i = 0; i < t->nenum; i++) {
		fprintf(out, "\tcase %s: return ", t->enum_consts[i]);
		gen_text_cstr(out, t->enum_values[i]);
		fprintf(out, ";\n");
	}
	fprintf(out, "\t}\n\treturn NULL;\n}\n\n");
	fprintf(out, "%s %s_from_text(const char *text, size_t len)\n{\n", t->cname, t->cname);
	for (size_t i = 0; i < t->nenum; i++) {
		fprintf(out, "\tif (len == %zu && memcmp(text, ", strlen(t->enum_values[i]));
		gen_text_cstr(out, t->enum_values[i]);
		fprintf(out, ", len) == 0)\n\t\treturn %s;\n", t->enum_consts[i]);
	}
	fprintf(out, "\treturn (%s)0;\n}\n\n", t->cname);
}

int gen_model_write_source(gen_model *m, FILE *out)
{
	if (gm_layout(m) != 0)
		return -1;
	for (size_t i = 0; i < m->norder; i++) {
		const gm_type *t = m->order[i];
		fprintf(out, "/* ");
		gm_comment(out, t->s->where);
		fprintf(out, " */\n");
		if (t->kind == GM_ENUM)
			gm_source_enum(out, t);
		else if (t->kind == GM_STRUCT)
			gm_source_struct(out, t);
		else if (t->kind == GM_UNION)
			gm_source_union(out, t);
		else if (t->kind == GM_MAP)
			gm_source_map(out, t);
		else if (t->kind == GM_LIST)
			gm_source_list(out, t);
	}
	return 0;
}

int gen_model_write_coverage(const gen_model *m, FILE *out)
{
	const char *k;
	json_t *v;

	fprintf(out, "/* Typed bodies: %zu of %zu body schemas have a model", m->typed, m->bodies);
	json_object_foreach(m->reasons, k, v) {
		fprintf(out, "; json_t (");
		gm_comment(out, k);
		fprintf(out, "): %lld", (long long)json_integer_value(v));
	}
	fprintf(out, " */\n");
	return 0;
}

/* ---- for gen_parse (gen_model_int.h) ---- */

gm_type *gen_model_type(const gen_model *m, const char *symbol)
{
	const json_t *i = json_object_get(m->by_symbol, symbol);

	return i ? m->v[json_integer_value(i)] : NULL;
}

void gen_model_read(FILE *out, const gm_type *t, const char *src, const char *v, const char *len,
                    const char *count, int by_pointer, int in)
{
	gm_read(out, t, src, v, len, count, by_pointer, in);
}

void gen_model_names(char *v, char *len, char *count, size_t size, const char *base, const char *name)
{
	gm_names(v, len, count, size, base, name);
}

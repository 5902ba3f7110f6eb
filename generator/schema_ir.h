/* schema_ir.h — the schema compiler's model of one JSON Schema.
 *
 * gen_schema.c analyses a schema keyword by keyword into one si_schema per
 * schema it reaches (checking each keyword's input as it goes); the
 * emitters print from this model only: gen_schema_tables.c the rt_schema
 * tables of the json_t validator, gen_model.c the C models and their
 * (de)serializers. Everything here is owned by the gen_schema that made it;
 * `node` and the json_t values borrow from the docset, which outlives it.
 *
 * Absence is one convention: a limit or a bound counts only with its
 * SI_F_HAS_* flag (the RT_S_* flags of runtime/rt_schema_flags.def); a
 * sub-schema or a string is absent when NULL.
 */
#ifndef SCHEMA_IR_H
#define SCHEMA_IR_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* The runtime's constants, from the table it is built from. */
enum {
#define RT_SCHEMA_TYPE(name, bit, json) SI_T_##name = 1u << (bit),
#include "rt_schema_flags.def"
};
enum {
#define RT_SCHEMA_FLAG(name, bit, what) SI_F_##name = 1u << (bit),
#include "rt_schema_flags.def"
};
enum si_format {
#define RT_SCHEMA_FORMAT(name, text) SI_FMT_##name,
#include "rt_schema_flags.def"
	SI_FMT_COUNT
};
enum si_limit {
#define RT_SCHEMA_LIMIT(field, keyword, flag) SI_L_##flag,
#include "rt_schema_flags.def"
	SI_L_COUNT
};

typedef struct si_schema si_schema;

typedef struct si_list {          /* allOf, anyOf, oneOf, prefixItems */
	si_schema **v;
	size_t n;
} si_list;

typedef struct si_named {         /* a name and its schema: properties, dependentSchemas, ... */
	char *name;
	si_schema *schema;
} si_named;

typedef struct si_named_list {
	si_named *v;
	size_t n;
} si_named_list;

typedef struct si_dep_required {  /* dependentRequired: when `name` is present, these are too */
	char *name;
	char **names;
	size_t n;
} si_dep_required;

struct si_schema {
	char *uri;                /* canonical "docuri#/pointer" */
	char *where;              /* "file#/pointer" as messages show it */
	char *symbol;             /* <prefix>_schema_<Name>[_<where in it>] */
	char *model_name;         /* <Name>[_<where in it>], what a C model of it is called */
	const json_t *node;       /* the schema itself (borrowed) */
	int analysed;
	int is_bool;              /* the schema `true` or `false` */
	unsigned types;           /* SI_T_* mask, 0 = any */
	unsigned flags;           /* SI_F_* */
	enum si_format format;
	double minimum, maximum, xminimum, xmaximum, multiple_of;
	int64_t limit[SI_L_COUNT];
	/* the cache: pattern, enum, const, default */
	const char *pattern;
	const json_t *enum_, *const_, *default_;
	/* references */
	si_schema *ref, *dyn_ref;
	char *dyn_name;
	const char *resource;     /* symbol of the rt_schema_resource, or NULL */
	/* arrays */
	si_schema *items;         /* items, or with a prefix the rest (additionalItems) */
	si_list prefix_items;
	int prefix_from_items;    /* draft 4 tuple `items` (for names only) */
	si_schema *contains, *unevaluated_items;
	/* objects */
	si_named_list properties; /* sorted by name (strcmp) */
	char **required;          /* as written */
	size_t n_required;
	si_schema *additional;    /* additionalProperties as a schema (true too) */
	si_named_list pattern_properties; /* name = the pattern, sorted */
	si_schema *property_names, *unevaluated_properties;
	si_dep_required *dep_required;
	size_t n_dep_required;
	si_named_list dep_schemas;
	/* combinators */
	si_list all_of, any_of, one_of;
	si_schema *not_, *if_, *then_, *else_;
	/* discriminator */
	char *disc_property;
	si_named_list disc_map;   /* value -> branch, sorted by value */
	/* how it was named, for naming the schemas below it (gen_schema_name.c) */
	size_t name_base;         /* its name before uniqueness: model_name[0..name_base) */
	unsigned name_ntok;       /* the tokens of its pointer */
	unsigned name_hints;      /* the hints given when it was named */
	int name_open;            /* its pointer ends in a keyword that names what follows */
};

typedef struct si_resource {      /* a 2020-12 resource with $dynamicAnchors */
	char *uri;
	char *where;              /* "file#/pointer" of the resource */
	char *symbol;
	si_named_list anchors;    /* anchor name -> schema, sorted */
} si_resource;

#endif

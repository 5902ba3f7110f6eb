/* rt_schema.h — compiled JSON Schemas and the validator that runs them.
 *
 * oapigen's schema compiler emits one `static const rt_schema` per schema it
 * reaches, with designated initializers; sub-schemas are pointers, so
 * recursive schemas are plain cycles of pointers. The few parts that need
 * work at start-up (regular expressions, enum/const/default values) sit in
 * small non-const `rt_schema_cache` objects the tables point to; they are
 * built by rt_schema_prepare(): <api>_register prepares every cache of its
 * API before serving (a pattern PCRE2 cannot compile fails registration with
 * its offset and reason), and the validator, thread-safely, on first use.
 *
 * Dialects: RT_DIALECT_30 is the OpenAPI 3.0 Schema Object (draft 4 rules:
 * boolean exclusiveMinimum/Maximum, nullable, format asserted);
 * RT_DIALECT_31 is JSON Schema 2020-12 as OpenAPI 3.1 uses it.
 */
#ifndef RT_SCHEMA_H
#define RT_SCHEMA_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "rt_errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RT_T_* (rt_schema.types), RT_S_* (rt_schema.flags), RT_FMT_* (formats the
 * validator knows; an unknown format name is not asserted): one table,
 * rt_schema_flags.def, that oapigen prints the names from. */
enum {
#define RT_SCHEMA_TYPE(name, bit, json) RT_T_##name = 1 << (bit),
#include "rt_schema_flags.def"
};

enum rt_dir { RT_DIR_NONE, RT_DIR_REQUEST, RT_DIR_RESPONSE };

enum rt_format {
#define RT_SCHEMA_FORMAT(name, text) RT_FMT_##name,
#include "rt_schema_flags.def"
};

/* rt_schema.flags */
enum {
#define RT_SCHEMA_FLAG(name, bit, what) RT_S_##name = 1 << (bit),
#include "rt_schema_flags.def"
};

typedef struct rt_schema rt_schema;

/* Mutable, lazily built parts of a schema (compiled once). */
typedef struct rt_schema_cache {
	const char *pattern;       /* ECMA-262 regex source, or NULL */
	const char *enum_json;     /* JSON array text of `enum`, or NULL */
	const char *const_json;    /* JSON text of `const`, or NULL */
	const char *default_json;  /* JSON text of `default`, or NULL */
	/* built on first use */
	int ready;                 /* 0 not yet, 1 built, -1 failed */
	void *regex;               /* pcre2_code_8 * */
	json_t *enum_values;
	json_t *const_value;
	json_t *default_value;
} rt_schema_cache;

typedef struct rt_schema_prop {
	const char *name;
	const rt_schema *schema;
} rt_schema_prop;

typedef struct rt_schema_pattern_prop {
	rt_schema_cache *regex;    /* only .pattern is used */
	const rt_schema *schema;
} rt_schema_pattern_prop;

typedef struct rt_schema_list {
	const rt_schema *const *v;
	size_t n;
} rt_schema_list;

/* A JSON Schema 2020-12 schema resource that declares $dynamicAnchors:
 * what $dynamicRef finds in it when the resource is in the dynamic scope. */
typedef struct rt_schema_resource {
	const rt_schema_prop *dyn_anchors; /* $dynamicAnchor name -> schema */
	size_t n_dyn_anchors;
} rt_schema_resource;

/* discriminator: propertyName and mapping value -> branch */
typedef struct rt_schema_disc_map {
	const char *value;
	const rt_schema *schema;
} rt_schema_disc_map;

struct rt_schema {
	const char *where;         /* "file#/json/pointer" the table came from */
	unsigned types;            /* RT_T_* mask; 0 = any type */
	unsigned flags;            /* RT_S_* */
	enum rt_format format;
	double minimum, maximum;   /* with RT_S_HAS_MIN / RT_S_HAS_MAX */
	double xminimum, xmaximum; /* 2020-12 exclusiveMinimum / exclusiveMaximum */
	double multiple_of;        /* with RT_S_HAS_MULTIPLE */
	int64_t min_length, max_length;         /* with RT_S_HAS_MIN_LENGTH / _MAX_LENGTH; code points */
	int64_t min_items, max_items;           /* with RT_S_HAS_MIN_ITEMS / _MAX_ITEMS */
	int64_t min_properties, max_properties; /* with RT_S_HAS_MIN_PROPS / _MAX_PROPS */
	int64_t min_contains, max_contains;     /* with RT_S_HAS_MIN_CONTAINS (else 1) / _MAX_CONTAINS */
	rt_schema_cache *cache;    /* pattern / enum / const / default, or NULL */
	/* arrays */
	const rt_schema *items;            /* items (all) or, with prefix_items, the rest */
	rt_schema_list prefix_items;       /* 2020-12 prefixItems / draft4 items array */
	const rt_schema *contains;
	const rt_schema *unevaluated_items;
	/* objects, properties sorted by name (strcmp) */
	const rt_schema_prop *properties;
	size_t n_properties;
	const char *const *required;
	size_t n_required;
	const rt_schema *additional;       /* schema for other properties, or NULL */
	const rt_schema_pattern_prop *pattern_properties;
	size_t n_pattern_properties;
	const rt_schema *property_names;
	const rt_schema *unevaluated_properties;
	/* dependentRequired: name -> list of names (NULL-terminated) */
	const char *const *const *dependent_required; /* each entry: {name, req1, req2, ..., NULL} */
	size_t n_dependent_required;
	const rt_schema_prop *dependent_schemas;
	size_t n_dependent_schemas;
	/* combinators */
	rt_schema_list all_of, any_of, one_of;
	const rt_schema *not_;
	const rt_schema *if_, *then_, *else_;
	const rt_schema *ref;              /* $ref: validated in addition */
	const rt_schema *dyn_ref;          /* $dynamicRef: its initial target */
	const char *dyn_name;              /* the $dynamicAnchor name looked up in the dynamic
	                                      scope, or NULL: dyn_ref is used as a $ref */
	const rt_schema_resource *resource;/* the resource this schema is part of, when it
	                                      declares $dynamicAnchors; entering the schema
	                                      puts the resource in the dynamic scope */
	const char *disc_property;         /* discriminator.propertyName */
	const rt_schema_disc_map *disc_map;
	size_t n_disc_map;
};

/* Appends every violation of instance to out; returns the number added
 * (0 = valid). Thread-safe. */
int rt_schema_validate(const rt_schema *s, const json_t *instance, enum rt_dir dir, rt_errors *out);
/* 1 if valid, 0 if not; no messages are built. */
int rt_schema_check(const rt_schema *s, const json_t *instance, enum rt_dir dir);

unsigned rt_schema_types(const rt_schema *s);          /* RT_T_* mask, 0 = any */
const rt_schema *rt_schema_items(const rt_schema *s);  /* array items or NULL */
const rt_schema *rt_schema_property(const rt_schema *s, const char *name);
/* The schema's `default` (borrowed) or NULL. */
const json_t *rt_schema_default(const rt_schema *s);
/* Fills missing object properties that have a `default`, recursively through
 * properties; returns the number of values added. */
int rt_schema_apply_defaults(const rt_schema *s, json_t *instance);

/* Compiles the cache of one schema table (patterns, enum/const/default);
 * returns 0, or -1 with err set (e.g. a pattern PCRE2 rejects). Generated
 * code calls it for every table at registration so that bad patterns are
 * found at start-up. Idempotent and thread-safe. */
int rt_schema_prepare(rt_schema_cache *c, char *err, size_t errlen);

/* JSON Schema equality: 1 and 1.0 are equal, key order does not matter. */
int rt_json_equal(const json_t *a, const json_t *b);

#ifdef __cplusplus
}
#endif

#endif

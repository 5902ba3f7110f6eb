/* gen_model_int.h — the model's types, shared by gen_model.c (which builds
 * and writes them) and gen_parse.c (which parses request bytes into them).
 * Everything is owned by the gen_model. */
#ifndef GEN_MODEL_INT_H
#define GEN_MODEL_INT_H

#include <stdio.h>
#include <jansson.h>
#include "gen_model.h"

typedef enum gm_kind {
	GM_JSON, GM_STRING, GM_ENUM, GM_INT, GM_NUMBER, GM_BOOL, GM_ARRAY, GM_STRUCT, GM_MAP, GM_UNION, GM_LIST
} gm_kind;

typedef struct gm_type gm_type;

typedef struct gm_field {
	char *json_name;
	char *cname;
	gm_type *type;
	int required, readonly, writeonly, nullable;
	int optional;       /* has_ flag: set by gm_layout from the directions */
	int by_pointer;     /* a by-value cycle is cut here */
} gm_field;

typedef struct gm_branch {
	char *member;       /* union member */
	char *tag;          /* tag constant */
	gm_type *type;
	char **values;      /* discriminator values that pick it */
	size_t nvalues;
	int by_pointer;
} gm_branch;

struct gm_type {
	const si_schema *s; /* the schema it maps (after $ref and friends) */
	gm_kind kind;
	const char *reason; /* GM_JSON: why */
	char *cname;        /* named kinds: <api>_<Model> */
	gm_type *item;      /* GM_ARRAY, GM_LIST: element; GM_MAP: value */
	int item_nullable;  /* GM_MAP, or a GM_STRUCT's extra members: a nullable value */
	int item_by_pointer; /* GM_MAP, extra: a by-value cycle is cut at its value */
	int extra;          /* GM_STRUCT: additionalProperties with a schema (item) beside the fields */
	int building;       /* GM_STRUCT: its fields are being built (a schema reached from inside itself) */
	gm_field *fields;
	size_t nfields;
	char **enum_values, **enum_consts;
	size_t nenum;
	gm_branch *branches;
	size_t nbranches;
	const char *disc_property; /* GM_UNION: NULL when its branches are told apart by JSON type */
	int dirs;           /* GEN_MODEL_* it is reached in */
	int state;          /* layout: 0, 1 visiting, 2 placed */
};

struct gen_model {
	gen_schema *gs;
	char *prefix;
	gm_type **v;        /* every type, in the order built */
	size_t n, cap;
	gm_type **order;    /* named types, dependencies first */
	size_t norder;
	json_t *by_symbol;  /* "<symbol>" or "<symbol>/list" -> index into v */
	gm_type **roots;
	int *root_dirs;
	size_t nroots;
	size_t bodies, typed;
	json_t *reasons;    /* reason -> count, over the bodies that stay json_t */
	char *err;
	size_t errlen;
};

/* The type of the body whose table is `symbol`, or NULL (after gen_model_body). */
gm_type *gen_model_type(const gen_model *m, const char *symbol);
/* Reads src (a const json_t *) into v (and len / count) per t; a mismatch
 * does `return -1` (gen_model.c's readers from json_t). */
void gen_model_read(FILE *out, const gm_type *t, const char *src, const char *v, const char *len,
                    const char *count, int by_pointer, int in);
/* v's names for field `name` under base ("out->"): value, length, count. */
void gen_model_names(char *v, char *len, char *count, size_t size, const char *base, const char *name);

#endif

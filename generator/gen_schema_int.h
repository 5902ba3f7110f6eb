/* gen_schema_int.h — what the schema compiler's files share: the compiler's
 * state (gen_schema.c fills it) and the naming of its schemas
 * (gen_schema_name.c). Not for other modules: they use gen_schema.h. */
#ifndef GEN_SCHEMA_INT_H
#define GEN_SCHEMA_INT_H

#include <stddef.h>
#include <jansson.h>
#include "docset.h"
#include "gen_arena.h"
#include "gen_schema.h"
#include "gen_strtab.h"
#include "schema_ir.h"

struct gen_schema {
	docset *ds;
	gen_arena *mem;   /* the schemas and their strings */
	char *prefix;
	int dialect;
	int format_assert;
	si_schema **v;    /* in the order reached */
	size_t n, cap;
	gen_strtab by_uri;/* uri -> its si_schema */
	gen_strtab names; /* symbol -> the uri of what it names (a schema's or a resource's) */
	si_resource **res;/* 2020-12 resources with $dynamicAnchors */
	size_t nres;
	json_t *resources;/* resource uri -> index into res */
	json_t *pending;  /* uris named at GS_RESERVE, to analyse */
	gen_strtab hints; /* uri -> name given by the caller (gen_schema_compile_named) */
	unsigned char hint_filter[8192]; /* bit gen_schema_hint_bit of each hint's uri */
	unsigned nhints;  /* how many hints were given */
};

/* A 16-bit hash of uri[0..len) (its length, middle and last bytes): a
 * filter of the hints, which gen_schema_name looks for at every prefix of
 * every schema's uri. */
static inline unsigned gen_schema_hint_bit(const char *uri, size_t len)
{
	return len ? (unsigned)(len * 40503u + (unsigned char)uri[len - 1] * 257u + (unsigned char)uri[len / 2]) & 0xffffu : 0;
}

/* The names of the schema s (at its canonical uri): s->symbol
 * "<prefix>_schema_<N>" and s->model_name "<N>" (both in g->mem), N from where the
 * schema sits: a named component (its name), or the nearest enclosing
 * component or named place, followed by the keywords down to it
 * ("CreateKey_name", "Key_tags_items"). Unique among the symbols so far; two
 * components of one document that become the same C name stop the
 * generator (err set, -1). With parent (named before, its uri a prefix of
 * s's), N is built on from the parent's when it can be (the same name). */
int gen_schema_name_schema(gen_schema *g, si_schema *s, const si_schema *parent, char *err, size_t errlen);
/* The name if uri is #/components/schemas/X, #/$defs/X or #/definitions/X
 * (directly), else NULL (borrowed from uri). */
const char *gen_schema_component_name(const char *uri);
/* "<prefix>_resource_<N>" for the resource whose root is at uri (in g->mem). */
int gen_schema_name_resource(gen_schema *g, const char *uri, char **symbol, char *err, size_t errlen);

#endif

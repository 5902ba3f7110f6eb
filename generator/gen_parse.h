/* gen_parse.h — the emitter of byte parsers: from the schema compiler's
 * model (schema_ir.h), C that goes from JSON text to a validated value in
 * one pass over rt_jread (runtime/rt_parse.h), every keyword checked in
 * straight-line code, with the table validator's messages and pointers.
 *
 * For each root (a body schema) it writes
 *   int <symbol>_parse(const char *buf, size_t len, rt_arena *a, enum rt_dir dir,
 *                      unsigned flags, json_t **out, rt_errors *errs);
 * returning RT_PARSE_OK / _INVALID / _SYNTAX / _NOMEM; *out (may be NULL)
 * gets the value as a new json_t when it is valid. Each schema it reaches
 * gets one static function `<symbol>__v`. Combinators (allOf, anyOf,
 * oneOf, not, if/then/else, and $ref beside other keywords) read the value's
 * bytes again per branch (rt_parse_rescan). A schema with keywords that need
 * evaluation annotations or the whole value at once (unevaluated*,
 * contains, uniqueItems, prefixItems, propertyNames, dependentSchemas,
 * discriminator, $dynamicRef, enum/const of containers, more than 8
 * patternProperties or 64 properties), or where defaults would come through
 * allOf, is built as a json_t from the tokens and checked by its table (the
 * `fallback`, counted in a comment of the output). The tables must be
 * written before (gen_schema_write): the parsers name them.
 */
#ifndef GEN_PARSE_H
#define GEN_PARSE_H

#include <stdio.h>
#include "gen_model.h"
#include "gen_schema.h"

typedef struct gen_parse gen_parse;

gen_parse *gen_parse_new(gen_schema *gs);
void gen_parse_free(gen_parse *p);
/* Asks for the entry point of the table `symbol`; 0 or -1 (unknown). */
int gen_parse_root(gen_parse *p, const char *symbol);
/* The prototypes of the entry points. */
void gen_parse_write_header(gen_parse *p, FILE *out);
/* The validators and entry points (after the tables). */
int gen_parse_write(gen_parse *p, FILE *out);
/* `const rt_parse_root <name>[]`: every root, its table and its parser,
 * ending with { NULL } (after gen_parse_write); with decl, the extern
 * declaration for a header. */
void gen_parse_write_roots(gen_parse *p, FILE *out, const char *name, int decl);
/* The model parser of a request body: when the body's C model is ctype (a
 * struct gen_model made, reached from `symbol` directly or by $ref alone)
 * and its object keywords are all checked in line, a root of
 *   int <T>_parse(const char *buf, size_t len, rt_arena *a, unsigned flags,
 *                 <T> *out, json_t **keep, rt_errors *errs);
 * (request direction): the bytes straight into the model, no json_t but
 * for fields that stay json_t (kept in *keep, new, for the caller to
 * decref) or that gen_model reads from one. 0 either way, -1 out of memory. */
int gen_parse_model(gen_parse *p, gen_model *gm, const char *symbol, const char *ctype);
/* <T> when `symbol` got a model parser, else NULL. */
const char *gen_parse_model_name(const gen_parse *p, const char *symbol);
void gen_parse_write_model_header(gen_parse *p, FILE *out);
/* After gen_parse_write. */
int gen_parse_write_models(gen_parse *p, FILE *out);
/* Schemas reached, and how many of them fell back to their table. */
void gen_parse_counts(gen_parse *p, size_t *reached, size_t *fallback);

#endif

/* gen_model.h — C models of the schemas request and response bodies reach.
 *
 * From the schema compiler's model (schema_ir.h), gen_model maps each body
 * schema to a C type (README, "Typed bodies", has the table): an object to
 * a struct named from the spec (`<api>_<Name>`), a string enum to a C enum
 * and its text, strings to (const char *, size_t), integers to int64_t,
 * numbers to double, arrays to (T *, size_t), additionalProperties with a
 * schema to a key/value array, oneOf/anyOf with a discriminator to a tagged
 * union, and anything else to `const json_t *` with a comment saying why.
 * It then writes the types (header), and per model a reader from the
 * validated json_t (`<model>_from_json`, memory from the request's arena)
 * and a writer of the JSON text (`<model>_write`, no json_t).
 */
#ifndef GEN_MODEL_H
#define GEN_MODEL_H

#include <stdio.h>
#include "gen_schema.h"

typedef struct gen_model gen_model;

enum { GEN_MODEL_REQUEST = 1, GEN_MODEL_RESPONSE = 2 };

gen_model *gen_model_new(gen_schema *gs, const char *prefix);
void gen_model_free(gen_model *m);
/* The model of the body whose schema table is `symbol`, reached in
 * direction dir (GEN_MODEL_*): *ctype = its C type ("heron_CreateKeySchema",
 * owned by m), or NULL when the body stays a json_t (*why = the reason).
 * -1 only out of memory: a body it cannot model (two properties that become
 * the same C field, ...) stays a json_t with its reason, never refuses the
 * document, so --check does not build the models. */
int gen_model_body(gen_model *m, const char *symbol, int dir, const char **ctype, const char **why,
                   char *err, size_t errlen);
/* After every body: the types, in dependency order, and the prototypes. */
int gen_model_write_header(gen_model *m, FILE *out);
/* The readers and writers. */
int gen_model_write_source(gen_model *m, FILE *out);
/* Body schemas seen, and how many got a typed model. */
void gen_model_coverage(const gen_model *m, size_t *bodies, size_t *typed);
/* One comment line: how many body schemas have a model, and why the others stay json_t. */
int gen_model_write_coverage(const gen_model *m, FILE *out);

#endif

/* gen_schema.h — the schema compiler: JSON Schemas into a model
 * (schema_ir.h), and from it `static const rt_schema` tables.
 *
 * gen_schema_compile() analyses one schema and everything it reaches,
 * following $ref through the docset; recursive schemas become cycles of
 * pointers. gen_schema_write() writes the tables of what was compiled, in
 * the order it was reached, so the same document always gives the same
 * bytes. Schemas are named from where they sit (gen_schema_name.c):
 * components (#/components/schemas/Name, $defs, definitions) are
 * <prefix>_schema_<Name>, a schema inside one <prefix>_schema_<Name>_<way>
 * (Key_tags_items), a schema given a name by the caller likewise. Two
 * components that sanitize to the same C identifier stop the generator.
 */
#ifndef GEN_SCHEMA_H
#define GEN_SCHEMA_H

#include <stdio.h>
#include "docset.h"
#include "schema_ir.h"

enum { GEN_DIALECT_30 = 30, GEN_DIALECT_31 = 31 };

typedef struct gen_schema gen_schema;

gen_schema *gen_schema_new(docset *ds, const char *prefix, int dialect);
void gen_schema_free(gen_schema *g);
/* format as an assertion (default on; JSON Schema 2020-12 makes it an
 * annotation, which the test suite's required files expect). */
void gen_schema_set_format_assert(gen_schema *g, int on);
/* Compiles the schema at uri ("file:///x.yaml#/components/schemas/Key");
 * *symbol = the C name of its table (owned by g). On an unsupported or
 * broken schema: err = "file: /json/pointer: what", return -1. */
int gen_schema_compile(gen_schema *g, const char *uri, const char **symbol, char *err, size_t errlen);
/* The same; a schema that is not a component is named `name` (and what is
 * inside it after that), unless it was reached before: "createKey_body". */
int gen_schema_compile_named(gen_schema *g, const char *uri, const char *name, const char **symbol,
                             char *err, size_t errlen);
/* The model of what was compiled, in the order reached (owned by g). */
size_t gen_schema_count(const gen_schema *g);
const si_schema *gen_schema_at(const gen_schema *g, size_t i);
const si_schema *gen_schema_find(const gen_schema *g, const char *symbol); /* or NULL */

/* Forward declarations and definitions of every table compiled so far
 * (gen_schema_tables.c). */
int gen_schema_write(gen_schema *g, FILE *out);
/* The tables with a cache (patterns, enum/const/default), and their list
 * `static rt_schema_cache *const <array_name>[]`, for start-up preparation. */
size_t gen_schema_count_caches(const gen_schema *g);
int gen_schema_write_cache_list(gen_schema *g, FILE *out, const char *array_name);

#endif

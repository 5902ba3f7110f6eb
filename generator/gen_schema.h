/* gen_schema.h — compiles JSON Schemas into `static const rt_schema` tables.
 *
 * gen_schema_compile() compiles one schema and everything it reaches,
 * following $ref through the docset; recursive schemas become cycles of
 * pointers. gen_schema_write() writes what was compiled, in the order it was
 * reached, so the same document always gives the same bytes. Named
 * components (#/components/schemas/Name, $defs, definitions) are
 * <prefix>_schema_<Name>; other schemas <prefix>_s<N>. Two names that
 * sanitize to the same C identifier stop the generator.
 */
#ifndef GEN_SCHEMA_H
#define GEN_SCHEMA_H

#include <stdio.h>
#include "docset.h"

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
/* Forward declarations and definitions of everything compiled so far. */
int gen_schema_write(gen_schema *g, FILE *out);
/* Writes a function `void <name>(void)`-style list: the symbols of every
 * compiled table with a cache, for start-up preparation. Returns the count. */
size_t gen_schema_count_caches(const gen_schema *g);
int gen_schema_write_cache_list(gen_schema *g, FILE *out, const char *array_name);

#endif

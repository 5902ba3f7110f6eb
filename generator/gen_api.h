/* gen_api.h — one OpenAPI document to the C of its API: the handler
 * interface (<api>_api.h), the route and parameter tables with their glue
 * (<api>_api.c) and the document itself (<api>_spec.c).
 *
 * Every error names the spec file and a JSON pointer: "file: /pointer: what".
 */
#ifndef GEN_API_H
#define GEN_API_H

#include <stddef.h>
#include <jansson.h>

typedef struct gen_api_options {
	const char *spec_path;   /* as given on the command line; named in line 1 */
	const char *name;        /* C prefix */
	const char *out_dir;     /* NULL: check only */
	/* called with the document (borrowed) once it is loaded, before the model
	 * is built; 0 goes on, -1 refuses it with err set. NULL: no such check. */
	int (*check)(const char *name, const json_t *doc, char *err, size_t errlen);
} gen_api_options;

/* Returns 0, or -1 with err set. Writes nothing unless everything succeeded. */
int gen_api_run(const gen_api_options *opt, char *err, size_t errlen);

#endif

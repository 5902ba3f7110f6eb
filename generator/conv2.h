/* conv2.h — Swagger 2.0 documents read as OpenAPI 3.0.
 *
 * A document whose top level says swagger: "2.0" is converted, right after
 * it is loaded and before anything else sees it, into the OpenAPI 3.0.3
 * document that says the same (the design of kin-openapi's openapi2conv):
 *   host, basePath, schemes       -> servers (one per scheme)
 *   consumes, produces            -> the media types of request and response content
 *   body and formData parameters  -> requestBody (formData: an object schema,
 *                                    multipart/form-data when a parameter is a
 *                                    file, else application/x-www-form-urlencoded)
 *   type, format, items, ... of a parameter or header -> its schema
 *   collectionFormat              -> style and explode (tsv has no equivalent: refused)
 *   definitions, parameters, responses, securityDefinitions -> components
 *                                    (#/definitions/X -> #/components/schemas/X, ...;
 *                                    a body parameter -> components/requestBodies)
 *   type: file                    -> type: string, format: binary
 *   x-nullable                    -> nullable
 *   securityDefinitions basic, apiKey, oauth2 (implicit, password,
 *                                    application, accessCode) -> securitySchemes
 * The converted document keeps a map from its JSON pointers to the pointers
 * of the nodes of the original they came from, so that a message about the
 * converted document names the place in the file its author wrote.
 */
#ifndef CONV2_H
#define CONV2_H

#include <stddef.h>
#include <jansson.h>

/* A docset_loader_fn: load_document, then, for a Swagger 2.0 document, its
 * conversion (new); the map is kept for conv2_explain under path. NULL with
 * err "file:line:col: what" (reading) or "file: /pointer: what" (converting,
 * the pointer into the original). */
json_t *conv2_load(const char *path, char *err, size_t errlen);

/* Converts doc (borrowed), a Swagger 2.0 document read from name: the
 * OpenAPI 3.0 document (new) and *map (new object: converted pointer ->
 * original pointer, for the nodes whose place changed), or NULL with err. */
json_t *conv2_convert(const json_t *doc, const char *name, json_t **map, char *err, size_t errlen);

/* The pointer in the original of the node at pointer in the converted
 * document (new string): the longest prefix the map knows, the rest kept. */
char *conv2_original_pointer(const json_t *map, const char *pointer);

/* When err reads "file: /pointer: what" and file is a document conv2_load
 * converted, rewrites the pointer into one into the original, in place. */
void conv2_explain(char *err, size_t errlen);

/* Whether conv2_load converted the document at path. */
int conv2_converted(const char *path);

/* Forgets what conv2_load kept. */
void conv2_forget(void);

#endif

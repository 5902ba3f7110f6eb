/* load.h — reads one OpenAPI document, YAML 1.2 or JSON, into jansson.
 *
 * libfyaml parses (JSON is YAML 1.2, and a .json file is read in JSON mode);
 * plain scalars are typed by the YAML 1.2 core schema (null, bool, int,
 * float), quoted scalars stay strings, anchors and aliases are resolved, and
 * mapping keys keep their order. Duplicate keys are an error. A YAML file
 * libfyaml 0.7.12 rejects is read once more with empty sequence entries
 * ("-" alone, then a sibling) written as "- ~", which it wrongly refuses.
 */
#ifndef LOAD_H
#define LOAD_H

#include <stddef.h>
#include <jansson.h>

/* Returns the document (new reference), or NULL with err set to
 * "file:line:col: what is wrong". */
json_t *load_document(const char *path, char *err, size_t errlen);

/* The same for a document held in memory; name is used in messages. */
json_t *load_document_string(const char *name, const char *text, size_t len,
                             char *err, size_t errlen);

#endif

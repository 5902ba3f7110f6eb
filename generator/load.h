/* load.h — reads one OpenAPI document, YAML 1.2 or JSON, into jansson.
 *
 * A .json file is read into jansson, by load_fast_parse or, where that gives
 * up, by jansson's own parser; should jansson refuse the file
 * (a duplicate key, an integer too big for json_int_t, bad UTF-8, ...) it
 * is read again as YAML 1.2 in libfyaml's JSON mode, whose messages and
 * conversions stand. YAML is read from libfyaml's parser events, without a
 * libfyaml document: plain scalars are typed by the YAML 1.2 core schema
 * (null, bool, int, float), quoted scalars stay strings, an alias shares its
 * anchor's value, merge keys ("<<") are applied, and mapping keys keep their
 * order. Duplicate keys are an error, and so are aliases that expand the
 * document to many times its size. A YAML file libfyaml 0.7.12 rejects is
 * read once more with empty sequence entries ("-" alone, then a sibling)
 * written as "- ~", which it wrongly refuses. Every step is linear in the
 * size of the document.
 */
#ifndef LOAD_H
#define LOAD_H

#include <stddef.h>
#include <jansson.h>

/* Returns the document (new reference), or NULL with err set to
 * "file:line:col: what is wrong". Values reached through YAML aliases are
 * shared (json_incref), so the document must not be modified in place. */
json_t *load_document(const char *path, char *err, size_t errlen);

/* JSON text[0..len) (an object or an array) into the very values jansson's
 * json_loadb(JSON_REJECT_DUPLICATES) gives, read in place (jansson reads a
 * byte at a time); NULL wherever it is not sure jansson reads the text the
 * same way (out-of-range numbers, \u0000, duplicate keys, bad UTF-8, nesting
 * past 1000, any syntax error), jansson deciding then. New reference. */
json_t *load_fast_parse(const char *text, size_t len);

/* load_document for a document held in memory (read as YAML 1.2); name is used
 * in messages. */
json_t *load_document_string(const char *name, const char *text, size_t len,
                             char *err, size_t errlen);

#endif

/* docset.h — the documents oapigen has loaded, and `$ref` resolution.
 *
 * Every document is known by an absolute base URI ("file:///abs/path.yaml"
 * for files). References are resolved as RFC 3986 says: relative files are
 * loaded on demand through the loader, fragments are JSON pointers (with
 * ~0 ~1 and percent-escapes) or, for JSON Schema 2020-12, `$anchor` names;
 * an embedded `$id` gives its sub-tree a base URI of its own.
 * The docset owns every document; returned nodes are borrowed.
 */
#ifndef DOCSET_H
#define DOCSET_H

#include <stddef.h>
#include <jansson.h>

typedef struct docset docset;
typedef json_t *(*docset_loader_fn)(const char *path, char *err, size_t errlen); /* new */

docset *docset_new(docset_loader_fn loader);
void docset_free(docset *ds);
/* Loads path (or finds it loaded); *uri = its base URI (owned by ds). */
const json_t *docset_load(docset *ds, const char *path, const char **uri, char *err, size_t errlen);
/* Registers doc (stolen) under the absolute uri; indexes its $id and $anchor. */
int docset_add(docset *ds, const char *uri, json_t *doc);
/* Makes alias_uri (absolute, no fragment) another name of the loaded
 * document doc_uri: OpenAPI 3.2's $self. 0, or -1 (doc_uri not loaded). */
int docset_alias(docset *ds, const char *alias_uri, const char *doc_uri);
/* Resolves ref against base_uri. Returns the borrowed node, and in *out_uri
 * (new, free()) its canonical absolute "uri#/json/pointer". */
const json_t *docset_resolve(docset *ds, const char *base_uri, const char *ref,
                             char **out_uri, char *err, size_t errlen);
/* The $dynamicAnchors of the schema resource whose base URI is resource_uri
 * (no fragment): a borrowed object of name -> canonical "docuri#/pointer",
 * or NULL when it declares none. */
const json_t *docset_dynamic_anchors(docset *ds, const char *resource_uri);
/* The base URI in force inside the node named by canonical uri: the nearest
 * enclosing $id, else the document's URI (new, free()). */
char *docset_base_of(docset *ds, const char *canonical_uri);
/* RFC 3986 reference resolution (new, free()). */
char *docset_uri_resolve(const char *base, const char *ref);
/* Node at a JSON pointer inside root (fragment without '#', percent-decoded
 * here), or NULL. */
const json_t *docset_pointer(const json_t *root, const char *pointer);
/* base + "/" + tok with ~ and / escaped (new, free()). */
char *docset_pointer_join(const char *base, const char *tok);
/* tok escaped (~0 ~1) at out and a NUL, when out is not NULL; its length
 * escaped (without the NUL) either way. */
size_t docset_token_escape(char *out, const char *tok);
/* A JSON pointer grown and cut back as a walk of a document goes down and
 * up: one buffer for the whole walk, not a string per node. Starts
 * { NULL, 0, 0 } (the pointer "" of the root: s is NULL until the first
 * push); s is free()d by its owner. */
typedef struct docset_ptrbuf {
	char *s;
	size_t len, cap;
} docset_ptrbuf;
/* Appends "/" + tok escaped; the length before, to cut back to, or
 * (size_t)-1 out of memory. */
size_t docset_ptrbuf_push(docset_ptrbuf *b, const char *tok);
void docset_ptrbuf_cut(docset_ptrbuf *b, size_t len);
/* An array index's token: i in decimal at out (room for 21 bytes), without
 * snprintf (a walk makes one for every array element). */
void docset_index_token(char *out, size_t i);
/* The pointer so far ("" at the root; borrowed until the next push). */
static inline const char *docset_ptrbuf_get(const docset_ptrbuf *b)
{
	return b->s ? b->s : "";
}
/* A short name for messages: the file's path relative to the working folder
 * when below it, else the URI (owned by ds). */
const char *docset_display(docset *ds, const char *uri);

#endif

/* rt_items.h — bodies of sequential media types (OpenAPI 3.2 itemSchema),
 * read into and written from a JSON array of their items.
 *
 * JSON Lines and NDJSON (application/jsonl, application/x-ndjson): one
 * JSON text a line, blank lines skipped. JSON text sequences
 * (application/json-seq, RFC 7464): each text after a 0x1E. Server-Sent
 * Events (text/event-stream): events apart by a blank line, an event being
 * the object of its fields: "data" (its data lines joined with newlines),
 * "event", "id" (strings) and "retry" (an integer); comments and other
 * fields are left out when read.
 *
 * Ownership: *items from rt_items_read is new (the caller decrefs); every
 * other json_t is borrowed. Violations go to the caller's rt_errors at
 * "/<index>" (and the item's own pointer after it).
 */
#ifndef RT_ITEMS_H
#define RT_ITEMS_H

#include <stddef.h>
#include <jansson.h>
#include "rt_errors.h"
#include "rt_json.h"
#include "rt_schema.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when media_type (parameters after ';' ignored, case-insensitive) is one
 * of the four sequential media types above, else 0. */
int rt_items_is_sequential(const char *media_type);

/* The items of buf (len bytes) of media_type: *items is their array (new,
 * NULL only when out of memory). An item that is not JSON adds "item <i> is
 * not JSON: ..." at /<i> and stands as null in the array. Returns the
 * number of errors added (0: every item read). */
int rt_items_read(const char *media_type, const char *buf, size_t len, json_t **items, rt_errors *errs);

/* Validates each element of items against schema in direction dir; each
 * violation at /<i><pointer>, "item <i> at <pointer>: <message>". Returns
 * how many were added (0: all valid). */
int rt_items_validate(const rt_schema *schema, const json_t *items, enum rt_dir dir, rt_errors *errs);

/* Appends items (an array) to w in media_type's framing: jsonl and ndjson
 * each item's compact text and "\n"; json-seq 0x1E, the text, "\n"; an
 * event its fields as "name: value" lines (data one "data:" line per line
 * of its text) and a blank line. An item that cannot be written so (an
 * event that is not an object of those fields with string data, event and
 * id without line breaks, a non-negative integer retry; an empty event,
 * which a reader would skip) adds an error at /<i> and writes nothing of
 * it. Returns the number of errors added; w->failed reports memory. */
int rt_items_write(const char *media_type, const json_t *items, rt_json_writer *w, rt_errors *errs);

#ifdef __cplusplus
}
#endif

#endif

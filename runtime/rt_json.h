/* rt_json.h — the compact JSON text of a response body.
 *
 * rt_json_dumpb writes exactly what json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY) writes (insertion order, no spaces, the same escapes,
 * reals through jansson itself), without jansson's per-container loop-check
 * bookkeeping (a hashtable entry, an allocation and a "%p" format for every
 * object and array). Instead, nesting deeper than RT_JSON_MAX_DEPTH is
 * refused, which also refuses a cycle; the caller then falls back to
 * json_dumps. Strings must be valid UTF-8, as jansson requires.
 */
#ifndef RT_JSON_H
#define RT_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RT_JSON_MAX_DEPTH 512

/* Like json_dumpb: writes at most size bytes of the text of v (borrowed) to
 * buf (no NUL) and returns the text's full length, which may exceed size
 * (call again with a larger buffer); 0 when v cannot be written (invalid
 * UTF-8, too deep, NULL). */
size_t rt_json_dumpb(const json_t *v, char *buf, size_t size);

/* ---- writing JSON text directly (the serializers oapigen generates) ----
 * Bytes as json_dumps(JSON_COMPACT | JSON_ENCODE_ANY) writes them for the
 * same values in the same order: its string escapes, its integer and real
 * formatting. The writer grows its buffer (malloc); `failed` is set, and
 * stays set, on invalid UTF-8, a NaN or infinity, a NULL string or out of
 * memory: the text is then not to be sent. */
typedef struct rt_str { const char *s; size_t len; } rt_str; /* a string of a model: len bytes, not NUL-terminated */

typedef struct rt_json_writer {
	char *buf;
	size_t size;
	size_t used;    /* bytes written (may run past size when not growing: the length needed) */
	int grow;
	int failed;
} rt_json_writer;

void rt_json_writer_init(rt_json_writer *w);
void rt_json_writer_free(rt_json_writer *w);
void rt_json_write_raw(rt_json_writer *w, const char *s, size_t n);
void rt_json_write_string(rt_json_writer *w, const char *s, size_t n);   /* quoted, escaped */
/* `,` unless *first (then clears it), the key as a string, `:` */
void rt_json_write_key(rt_json_writer *w, const char *key, size_t n, int *first);
void rt_json_write_integer(rt_json_writer *w, int64_t v);
void rt_json_write_real(rt_json_writer *w, double v);
void rt_json_write_bool(rt_json_writer *w, int v);
void rt_json_write_null(rt_json_writer *w);
void rt_json_write_value(rt_json_writer *w, const json_t *v);           /* borrowed; NULL writes null */
/* text (NUL-terminated) as it is when it is one JSON value by RFC 8259
   (rt_jread's grammar: strict UTF-8, no duplicate member names), else the
   writer fails: a free-form field a handler has as JSON text already (a
   stored one) goes out without a jansson tree made and written again. */
void rt_json_write_json(rt_json_writer *w, const char *text);
/* s as a string; a NULL s (an enum value outside its enum) fails the writer */
void rt_json_write_text(rt_json_writer *w, const char *s);
/* A model's number from a validated json_t: an integer (a real with no
 * fraction counts, as JSON Schema says) or any number; -1 when it is not one. */
int rt_json_as_int64(const json_t *v, int64_t *out);
int rt_json_as_double(const json_t *v, double *out);
/* jansson's text of the real v into buf (no NUL): its length, 0 for NaN,
 * infinities or a buffer too small. */
size_t rt_json_format_real(double v, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif

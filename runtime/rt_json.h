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
#include <jansson.h>

#define RT_JSON_MAX_DEPTH 512

/* Like json_dumpb: writes at most size bytes of the text of v (borrowed) to
 * buf (no NUL) and returns the text's full length, which may exceed size
 * (call again with a larger buffer); 0 when v cannot be written (invalid
 * UTF-8, too deep, NULL). */
size_t rt_json_dumpb(const json_t *v, char *buf, size_t size);

#endif

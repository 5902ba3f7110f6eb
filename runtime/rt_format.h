/* rt_format.h — the string formats JSON Schema and OpenAPI name.
 * Each check returns NULL when the string is valid, or a static reason. */
#ifndef RT_FORMAT_H
#define RT_FORMAT_H

#include <stddef.h>
#include "rt_schema.h"

#ifdef __cplusplus
extern "C" {
#endif

const char *rt_format_check(enum rt_format f, const char *s, size_t len);
const char *rt_format_name(enum rt_format f);
/* RT_FMT_NONE for a name the validator does not check. */
enum rt_format rt_format_from_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif

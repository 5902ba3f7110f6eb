/* rt_utf8.h — strict UTF-8 checks for request data (path, query, headers).
 * Nothing here allocates; callers own every buffer. */
#ifndef RT_UTF8_H
#define RT_UTF8_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates,
   nothing above U+10FFFF), else 0. */
int rt_utf8_valid(const char *s, size_t len);

/* 1 when s (NUL-terminated) is well-formed UTF-8 after percent-decoding
   ("%C3%A9" counts as the two bytes it names; a '%' not followed by two hex
   digits is taken literally). '+' is left alone. */
int rt_utf8_valid_percent_decoded(const char *s, size_t len);

#ifdef __cplusplus
}
#endif

#endif

/* rt_errors.h — the list of violations a validator collects.
 *
 * Each violation names where it is (a JSON pointer into the instance), which
 * keyword failed, and a readable message. The list owns its strings;
 * rt_errors_free() releases them. Validators add every violation, not just
 * the first, up to RT_ERRORS_MAX (then `truncated` is set).
 */
#ifndef RT_ERRORS_H
#define RT_ERRORS_H

#include <stddef.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RT_ERRORS_MAX 100

typedef struct rt_error {
	char *pointer;       /* JSON pointer into the instance, "" = root */
	const char *keyword; /* static string: "minLength", "required", ... */
	char *message;
} rt_error;

typedef struct rt_errors {
	rt_error *v;
	size_t n, cap;
	int truncated;
} rt_errors;

void rt_errors_init(rt_errors *e);
void rt_errors_free(rt_errors *e);
/* Adds one violation; returns 0, or -1 when out of memory or full. */
int rt_errors_add(rt_errors *e, const char *pointer, const char *keyword,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Moves every violation of src to the end of dst (src is left empty). */
void rt_errors_move(rt_errors *dst, rt_errors *src);
/* Drops violations from index n on. */
void rt_errors_truncate(rt_errors *e, size_t n);
/* New: [{"pointer": ..., "keyword": ..., "message": ...}, ...] */
json_t *rt_errors_to_json(const rt_errors *e);

/* Appends the JSON pointer token for name (escaping ~ and /) to base;
 * returns a new string the caller frees. */
char *rt_pointer_join(const char *base, const char *name);
char *rt_pointer_join_index(const char *base, size_t index);

#ifdef __cplusplus
}
#endif

#endif

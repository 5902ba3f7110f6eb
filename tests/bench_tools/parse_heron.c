/* parse_heron.c — a hand-written stand-in for the parser oapigen is to
 * generate for heron's CreateKeySchema ({"name": a string of 1 to 128
 * characters}, required, additionalProperties false): bytes to a typed model
 * through rt_jread, every violation collected with rt_schema_validate's
 * keywords and pointers, malformed JSON reported alone (as today). Not
 * generated, and not used by apikeyd: it checks the interface of
 * parsebench.c (bench_parsers[]) and shows what a typed parser reaches.
 * parsebench compares its verdicts and error counts with today's path on
 * every body. */
#include <string.h>

#include "rt_arena.h"
#include "rt_errors.h"
#include "rt_jread.h"

typedef struct heron_CreateKeySchema {
	const char *name; /* into the request, or the arena when it had escapes */
	size_t name_len;
} heron_CreateKeySchema;

#include "parsebench.h"

/* characters of valid UTF-8 */
static size_t chars(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

static int heron_CreateKeySchema_parse(const char *buf, size_t len, rt_arena *a, void *model, rt_errors *errs)
{
	heron_CreateKeySchema *out = model;
	size_t base = errs->n;
	rt_jread_names unknown = { 0 };
	unsigned seen = 0;
	rt_jread r;
	int t;

	rt_jread_init(&r, buf, len, a, 0);
	t = rt_jread_next(&r);
	if (t != RT_JR_OBJECT_BEGIN) {
		if (t == RT_JR_ERROR || rt_jread_skip_rest(&r, t) != 0)
			goto json;
		rt_errors_add(errs, "", "type", "must be object");
		goto end;
	}
	while ((t = rt_jread_next(&r)) == RT_JR_NAME) {
		if (r.len == 4 && memcmp(r.str, "name", 4) == 0) {
			if ((seen & 1) != 0 && rt_jread_duplicate(&r) != 0)
				goto json;
			seen |= 1;
			t = rt_jread_next(&r);
			if (t == RT_JR_STRING) {
				size_t n = chars(r.str, r.len);
				out->name = r.str;
				out->name_len = r.len;
				if (n < 1)
					rt_errors_add(errs, "/name", "minLength", "must be at least 1 character long, got %zu", n);
				if (n > 128)
					rt_errors_add(errs, "/name", "maxLength", "must be at most 128 characters long, got %zu", n);
			} else {
				if (t == RT_JR_ERROR || rt_jread_skip_rest(&r, t) != 0)
					goto json;
				rt_errors_add(errs, "/name", "type", "must be string");
			}
		} else {
			char ptr[256];
			if (rt_jread_names_add(&r, &unknown) != 0)
				goto json;
			rt_jread_pointer(&r, ptr, sizeof ptr);
			if (rt_jread_skip(&r) != 0)
				goto json;
			rt_errors_add(errs, ptr, "additionalProperties", "is not allowed");
		}
	}
	if (t != RT_JR_OBJECT_END)
		goto json;
	if ((seen & 1) == 0)
		rt_errors_add(errs, "", "required", "must have the required property \"name\"");
end:
	if (rt_jread_next(&r) != RT_JR_END)
		goto json;
	return (int)(errs->n - base);
json:
	rt_errors_truncate(errs, base);
	return rt_jread_error_add(&r, errs) == 0 ? 1 : -1;
}

const bench_parser bench_parsers[] = {
	{ "heron CreateKeySchema", heron_CreateKeySchema_parse, sizeof(heron_CreateKeySchema), NULL },
	{ NULL, NULL, 0, NULL },
};

/* rt_value.h — a JSON value in a request's arena: what a generated parser
 * (rt_parse.h) hands back for a body without a C model when the caller
 * does not need a json_t.
 *
 * A jansson tree costs a malloc, a hash table and a free per value: over
 * half of the parse of a large document with no model (the OpenAPI 3.0
 * schema's bench-parse case) went to building and freeing it. An rt_value
 * tree is a few arena allocations, freed with the arena, and reads like
 * the JSON it came from:
 *  - objects keep their members in the order received, as (key, key_len,
 *    value); rt_value_get finds one by name (a linear search);
 *  - arrays are one contiguous run of values;
 *  - strings are (s, len): into the input where the text had no escapes,
 *    else decoded once into the arena; never NUL-terminated by contract
 *    (they hold no NUL: rt_jread refuses \u0000);
 *  - integers are int64_t, reals double, as rt_jread reads them (json_t's
 *    integer and real).
 *
 * Memory: everything is in the arena, or points into the input; both must
 * outlive the value. Nothing is freed on its own (the builder's own
 * bookkeeping is malloc'd and freed by rt_value_builder_free). rt_value_to_json makes
 * the json_t (new) that the same bytes would have given.
 *
 *	const rt_value *v;
 *	if (rt_parse_value(root->root, buf, len, &arena, dir, 0, &v, &errs) == RT_PARSE_OK) {
 *		const rt_value *title = rt_value_get(rt_value_get(v, "info"), "title");
 *		if (title && title->type == RT_V_STRING) ... title->u.str.s, title->u.str.len ...
 *	}
 */
#ifndef RT_VALUE_H
#define RT_VALUE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "rt_arena.h"
#include "rt_jread.h"
#include "rt_json.h"

#ifdef __cplusplus
extern "C" {
#endif

enum rt_value_type { RT_V_NULL, RT_V_TRUE, RT_V_FALSE, RT_V_INTEGER, RT_V_REAL, RT_V_STRING, RT_V_ARRAY, RT_V_OBJECT };

typedef struct rt_value rt_value;
typedef struct rt_value_member rt_value_member;

struct rt_value {
	int type; /* enum rt_value_type */
	union {
		int64_t i;                               /* RT_V_INTEGER */
		double d;                                /* RT_V_REAL */
		rt_str str;                              /* RT_V_STRING */
		struct { rt_value *v; size_t n; } array; /* RT_V_ARRAY */
		struct { rt_value_member *v; size_t n; } object; /* RT_V_OBJECT, in the order received */
	} u;
};

struct rt_value_member {
	rt_str key;
	rt_value value;
};

/* The tree built from a reader's tokens as it reads them (a sink,
 * rt_jread_sink_set): a generated parser's own reader feeds it, so that
 * the value is there when the parse ends, with no second read and no
 * json_t (rt_parse_value). Its bookkeeping is malloc'd (rt_value_builder_free);
 * the tree is in the arena.
 *
 *	rt_value_builder b;
 *	rt_value_builder_init(&b, arena);
 *	rt_jread_sink_set(&r, &b.sink);
 *	... read one whole value with r ...
 *	rc = rt_value_builder_end(&b, &v);  // 0: v is the value read
 *	rt_value_builder_free(&b);
 */
typedef struct rt_value_open rt_value_open;
typedef struct rt_value_builder {
	rt_jread_sink sink;    /* first: the reader's handle on it */
	rt_arena *a;
	rt_value_member *v;    /* the open containers' members (elements in .value), innermost last */
	size_t n, cap;
	rt_value_open *open;   /* the open containers */
	size_t nopen, capopen;
	rt_str key;            /* the last member name */
	rt_value root;
	int done;              /* root holds the whole value */
} rt_value_builder;

void rt_value_builder_init(rt_value_builder *b, rt_arena *a);
/* The value its tokens made (in the arena): 0, or -1 when they did not
   make one whole value or the arena is out of memory. */
int rt_value_builder_end(rt_value_builder *b, const rt_value **out);
void rt_value_builder_free(rt_value_builder *b);

/* The value of JSON text that a reader has already checked in full (a
 * generated parser accepted it; it is read again trusted, by rt_jread_trust):
 * buf (borrowed, len bytes) to *out, in a. 0, or -1 when out of memory or
 * the text is not one JSON value (a caller's mistake). */
int rt_value_read(const char *buf, size_t len, rt_arena *a, const rt_value **out);
/* The same from a json_t (borrowed; strings and keys copied into a); 0 or
   -1 (out of memory). */
int rt_value_from_json(const json_t *j, rt_arena *a, const rt_value **out);

/* The member of an object named key (NUL-terminated, or n bytes); NULL
   when v is NULL, not an object, or has no such member. */
const rt_value *rt_value_get(const rt_value *v, const char *key);
const rt_value *rt_value_getn(const rt_value *v, const char *key, size_t n);

/* A new json_t equal to v (members in v's order); NULL when out of memory. */
json_t *rt_value_to_json(const rt_value *v);

#ifdef __cplusplus
}
#endif

#endif

/* rt_parse.h — what the parsers oapigen generates (generator/gen_parse.c)
 * share: bytes to a validated value in one pass over rt_jread.
 *
 * A generated parser reads tokens with p->r and checks each keyword in its
 * own straight-line code; violations go to p->errs with the table
 * validator's (rt_schema.c) keywords, messages and JSON pointers, in its
 * order. Malformed JSON is reported alone, as one "json" violation with
 * line and column. What this file gives them is the generic part:
 * messages, the JSON pointer of the current position, UTF-8 lengths,
 * patterns through the tables' compiled PCRE2, formats, building a json_t
 * from the tokens (for schemas without a C model), and the fallback: a
 * sub-value whose keywords need the value twice (combinators, unevaluated*,
 * ...) is built as a json_t and checked by the table validator.
 *
 * Memory: strings come from the reader (into the input, or decoded once
 * into the arena). json_t values built here are new references: the caller
 * of the entry point owns what it returns and p->keep (decref it), and they
 * live as long as the arena: from rt_parse_init to rt_parse_finish jansson's
 * memory comes from the thread's rt_jalloc slot, released by rt_arena_free
 * (rt_jalloc.h). Decref them before, and keep no piece of them past it.
 */
#ifndef RT_PARSE_H
#define RT_PARSE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "rt_arena.h"
#include "rt_errors.h"
#include "rt_jread.h"
#include "rt_schema.h"
#include "rt_value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* entry points' flags */
enum {
	RT_PARSE_DEFAULTS = 1, /* fill missing properties that have a default, as
	                          rt_schema_apply_defaults does before validation */
	RT_PARSE_LEAN = 2      /* once a violation is found, the json_t being built
	                          is refused anyway: build no more of it (the json_t
	                          entry points set it themselves; uniqueItems, which
	                          compares its items, clears it while reading them) */
};

/* what an entry point returns */
enum { RT_PARSE_OK = 0, RT_PARSE_INVALID = 1, RT_PARSE_SYNTAX = 2, RT_PARSE_NOMEM = -1 };

/* A generated entry point: JSON text to the validated value (new, *out may
   be NULL to only check). */
typedef int (*rt_parse_fn)(const char *buf, size_t len, rt_arena *a, enum rt_dir dir, unsigned flags, json_t **out,
                           rt_errors *errs);

typedef struct rt_parse {
	rt_jread r;
	rt_errors *errs;
	enum rt_dir dir;
	unsigned flags;
	int depth;          /* schema depth, as rt_schema.c counts it */
	int bad;            /* violations found (also those not recorded) */
	json_t *keep;       /* json_t values the model points to (new), or NULL */
	const struct rt_parse *up; /* a re-scan's parser: pointers start at its position */
	int trial;          /* inside rt_parse_live's alternative: its violations may not stand */
	void *jalloc;       /* rt_jalloc_begin's state, restored by rt_parse_finish */
} rt_parse;

/* A generated validator: the value whose first token is t (rt_parse.h's
   generated `<symbol>__v`). */
typedef int (*rt_parse_vfn)(rt_parse *p, int t, json_t **j, int dfl);

/* One root in a generated list: the schema's table, its parser and the
   parser's validator (what tests compare); the list ends with { NULL }. */
typedef struct rt_parse_root {
	const char *where;
	const rt_schema *schema;
	rt_parse_fn parse;
	rt_parse_vfn root;
} rt_parse_root;

/* Every rt_parse_init is followed by rt_parse_finish on the same thread: in
   between, jansson allocates in the arena's rt_jalloc slot. */
void rt_parse_init(rt_parse *p, const char *buf, size_t len, rt_arena *a, enum rt_dir dir, unsigned flags,
                   rt_errors *errs);
/* The entry points' end: checks that only whitespace follows, turns a
 * reader error into the one "json" violation (dropping the others from
 * base on), and says RT_PARSE_*. rc is the value parser's result. */
int rt_parse_finish(rt_parse *p, int rc, size_t base);

/* An entry point whose value is an rt_value tree in the arena (rt_value.h)
 * rather than a json_t, for a caller that reads the body but has no use for
 * jansson. root is the schema's validator (`<symbol>__v`, an rt_parse_root's
 * root): it reads the bytes as `<symbol>_parse` does, building nothing,
 * while its reader's tokens go to an rt_value_builder (rt_jread_sink_set),
 * one pass. With RT_PARSE_DEFAULTS the defaults need a tree to go into: the
 * json_t is built and copied. Verdict and violations are `<symbol>_parse`'s;
 * *out (may be NULL to only check) is set on RT_PARSE_OK only. */
int rt_parse_value(rt_parse_vfn root, const char *buf, size_t len, rt_arena *a, enum rt_dir dir, unsigned flags,
                   const rt_value **out, rt_errors *errs);

/* A violation at the current position (the value just read; after an
 * object's or array's end, that container); always 0. */
int rt_parse_fail(rt_parse *p, const char *keyword, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same, moved to index pos of p->errs (object and array keywords come
 * before their members' violations, as in the table validator). */
int rt_parse_fail_at(rt_parse *p, size_t pos, const char *keyword, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same at the current position plus /name. */
int rt_parse_fail_member(rt_parse *p, size_t pos, const char *name, const char *keyword, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* RT_T_* of the value whose first token is tok (a real with no fraction is
 * an integer, as in JSON Schema). */
static inline unsigned rt_parse_type_of(const rt_parse *p, int tok)
{
	switch (tok) {
	case RT_JR_NULL: return RT_T_NULL;
	case RT_JR_TRUE:
	case RT_JR_FALSE: return RT_T_BOOLEAN;
	case RT_JR_INTEGER: return RT_T_INTEGER | RT_T_NUMBER;
	case RT_JR_REAL: return isfinite(p->r.d) && p->r.d == floor(p->r.d) ? (RT_T_INTEGER | RT_T_NUMBER) : RT_T_NUMBER;
	case RT_JR_STRING: return RT_T_STRING;
	case RT_JR_ARRAY_BEGIN: return RT_T_ARRAY;
	case RT_JR_OBJECT_BEGIN: return RT_T_OBJECT;
	}
	return 0;
}
/* "type": must be <want>, got <what tok is>; skips the rest of the value.
   0, or -1 on a reader error. */
int rt_parse_type_fail(rt_parse *p, int tok, unsigned want);

size_t rt_parse_chars(const char *s, size_t n);
/* 1 when x is a multiple of m as rt_schema.c decides it. */
int rt_parse_multiple(int tok, int64_t i, double x, double m);
/* 1 when the string matches the cache's pattern; -1 when the cache cannot
   be prepared (reported as "schema" by the caller via rt_parse_cache). */
int rt_parse_pattern(rt_schema_cache *c, const char *s, size_t n);
/* Prepares s's cache; 0, or 1 after reporting "schema" as rt_schema.c. */
int rt_parse_cache(rt_parse *p, const rt_schema *s);
/* format (RT_FMT_*) on a string: 0, or 1 after reporting "format". */
int rt_parse_format(rt_parse *p, int format, const char *s, size_t n);
/* enum / const: is the scalar just read (tok) equal to a JSON value? */
int rt_parse_equal(const rt_parse *p, int tok, const json_t *v);
/* ... to one of the array values? */
int rt_parse_in(const rt_parse *p, int tok, const json_t *values);

/* The value whose first token is tok as a new json_t (*out), or skips it
   when out is NULL; 0 or -1 (reader error or out of memory). */
int rt_parse_json(rt_parse *p, int tok, json_t **out);
/* The fallback: the value as a json_t, validated by the table s (defaults
   applied first when apply and RT_PARSE_DEFAULTS), its violations under the
   current pointer; *out (may be NULL) gets the value. 0 or -1. */
int rt_parse_table(rt_parse *p, int tok, const rt_schema *s, int apply, json_t **out);
/* A property missing from the object just closed that gets its default:
   validates the default with the table ps under /name. 0 or -1. */
int rt_parse_default(rt_parse *p, const rt_schema *ps, const char *name, json_t *obj);
/* A real with no fraction into *out: 0, or -1 when it does not fit int64. */
int rt_parse_int64(double d, int64_t *out);
/* Combinators look at a value twice: fn over the bytes [start, end) of the
 * value just read (already checked as JSON), its pointers under the current
 * position. want: its violations go to p->errs and count in p->bad; else
 * nothing is recorded. Returns its violation count, or -1 (out of memory). */
int rt_parse_rescan(rt_parse *p, const char *start, const char *end, rt_parse_vfn fn, int want);
/* A combinator's alternative that looks at the value's own members and no
 * further (gen_parse's gp_shallow), checked by its table s on the value
 * just read as a json_t: built from the bytes [start, end) into *tree on
 * first use (NULL before; the caller decrefs it), shared by the others.
 * want: as rt_parse_rescan. Returns its violation count, or -1 (out of
 * memory). */
int rt_parse_shallow(rt_parse *p, const char *start, const char *end, const rt_schema *s, int want, json_t **tree);
/* A combinator's first alternative without a re-scan: fn on the value whose
 * first token is t, from p->r itself (checked as it is read), recording
 * nothing and applying no defaults, as a re-scan without want; *j (may be
 * NULL) gets the value as fn builds it, complete only when fn finds no
 * violation (else see rt_parse_again). Returns its violation count, or -1
 * (a reader error or out of memory: p->r.err says which). */
int rt_parse_live(rt_parse *p, int t, rt_parse_vfn fn, json_t **j);
/* The value of the bytes [start, end), read once already, as a new json_t
   into *out (which it decrefs first); 0, or -1 (out of memory). */
int rt_parse_again(rt_parse *p, const char *start, const char *end, json_t **out);
/* A failed anyOf (one_of 0) or oneOf matching none: the message naming the
 * branch with the fewest violations (the first of them), then those. */
int rt_parse_closest(rt_parse *p, const char *start, const char *end, const rt_parse_vfn *fns, size_t n, int one_of);
/* Keeps v (stolen) until the caller decrefs p->keep; returns v, or NULL. */
const json_t *rt_parse_keep(rt_parse *p, json_t *v);

#ifdef __cplusplus
}
#endif

#endif

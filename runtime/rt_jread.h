/* rt_jread.h — a byte-level JSON pull reader for generated parsers.
 *
 * Reads JSON text (const char *, size_t; no NUL needed) one token at a time,
 * with no jansson tree: generated code asks for the next token and stores
 * what it needs straight into its typed model. It accepts exactly what
 * json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) accepts
 * (rt_http.c's request bodies):
 *  - RFC 8259 grammar, any value at the top, nothing but whitespace after it;
 *  - strict UTF-8 everywhere (no overlongs, no surrogates, nothing above
 *    U+10FFFF); \u escapes with surrogate pairs; \u0000 refused (jansson
 *    without JSON_ALLOW_NUL), so a string never holds a NUL byte;
 *  - integers are int64: one that does not fit is refused, never wrapped and
 *    never turned into a real; reals as strtod reads them (overflow refused,
 *    underflow to 0 or a subnormal accepted);
 *  - values nested at most max_depth deep, counting the value itself as
 *    jansson does (RT_JREAD_MAX_DEPTH, jansson's JSON_PARSER_MAX_DEPTH);
 *  - one deliberate difference: jansson drops a NUL byte that directly
 *    follows a number or a literal ("[1\0]", a quirk of its lexer's
 *    lookahead); rt_jread refuses every NUL byte outside a string, as RFC
 *    8259 does;
 *  - duplicate member names: refused inside values skipped with
 *    rt_jread_skip; in objects the generated code walks itself, it calls
 *    rt_jread_names_add for the names it does not know (known ones it tracks
 *    with its own bits).
 *
 * Strings come back unescaped. Without escapes they point into the input
 * (not NUL-terminated); with escapes they are decoded once into the arena
 * (NUL-terminated). rt_jread_cstr gives a NUL-terminated string either way,
 * copying at most once. Everything the reader allocates is in the arena;
 * it mallocs nothing itself. The input and the arena must outlive the
 * strings handed out.
 *
 *	rt_jread r;
 *	rt_jread_init(&r, buf, len, arena);
 *	if (rt_jread_next(&r) != RT_JR_OBJECT_BEGIN) ...;
 *	while ((t = rt_jread_next(&r)) == RT_JR_NAME) {
 *		if (r.len == 4 && memcmp(r.str, "name", 4) == 0) { t = rt_jread_next(&r); ... }
 *		else if (rt_jread_names_add(&r, &unknown) != 0 || rt_jread_skip(&r) != 0) goto fail;
 *	}
 *	if (t != RT_JR_OBJECT_END || rt_jread_next(&r) != RT_JR_END) goto fail; // RT_JR_ERROR: r.err
 */
#ifndef RT_JREAD_H
#define RT_JREAD_H

#include <stddef.h>
#include <stdint.h>

#include "rt_arena.h"
#include "rt_errors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RT_JREAD_MAX_DEPTH 2048
#define RT_JREAD_INLINE_FRAMES 16

/* X(name, message): the reader's errors; rt_jread_strerror gives the text */
#define RT_JREAD_ERROR_MAP(X) \
	X(OK, "no error") \
	X(EOF, "premature end of input") \
	X(TOKEN, "invalid token") \
	X(VALUE, "value expected") \
	X(NAME, "string or '}' expected") \
	X(COLON, "':' expected") \
	X(ARRAY_NEXT, "',' or ']' expected") \
	X(OBJECT_NEXT, "',' or '}' expected") \
	X(TRAILING, "end of input expected") \
	X(CONTROL, "control character in string") \
	X(ESCAPE, "invalid escape") \
	X(SURROGATE, "invalid Unicode escape (unpaired surrogate)") \
	X(NUL, "\\u0000 is not allowed") \
	X(UTF8, "invalid UTF-8") \
	X(NUMBER, "invalid number") \
	X(INTEGER_RANGE, "integer out of int64 range") \
	X(REAL_RANGE, "real number overflow") \
	X(DEPTH, "maximum nesting depth reached") \
	X(DUPLICATE, "duplicate object key") \
	X(NOMEM, "out of memory")

enum rt_jread_error {
#define RT_JREAD_E_ENUM(name, msg) RT_JREAD_E_##name,
	RT_JREAD_ERROR_MAP(RT_JREAD_E_ENUM)
#undef RT_JREAD_E_ENUM
};

enum rt_jread_token {
	RT_JR_ERROR = -1, /* r->err, r->err_off say what and where */
	RT_JR_END = 0,    /* after the top-level value: only whitespace was left */
	RT_JR_NULL,
	RT_JR_TRUE,
	RT_JR_FALSE,
	RT_JR_INTEGER,      /* r->i; r->num, r->num_len the text */
	RT_JR_REAL,         /* r->d; r->num, r->num_len the text */
	RT_JR_STRING,       /* r->str, r->len */
	RT_JR_NAME,         /* a member name (its ':' read): r->str, r->len */
	RT_JR_OBJECT_BEGIN,
	RT_JR_OBJECT_END,
	RT_JR_ARRAY_BEGIN,
	RT_JR_ARRAY_END
};

/* one open container; the JSON pointer of the current position is built
   from these */
typedef struct rt_jread_frame {
	const char *open; /* its '{' or '[' */
	const char *name; /* object: the last member name read, NULL before it */
	size_t name_len;
	size_t index;     /* array: elements begun so far */
	int object;
} rt_jread_frame;

typedef struct rt_jread_name {
	const char *s;
	size_t len;
	uint32_t hash;
} rt_jread_name;

/* The names seen in one object; zero-initialise (= {0}) per object, or
   rt_jread_names_reset to reuse its storage (in the arena) for the next. */
typedef struct rt_jread_names {
	rt_jread_name *v;
	size_t n, cap;
	uint32_t *tab; /* hash index (1 + position in v) once n is large, else NULL */
	size_t tab_cap;
	uint32_t *mem; /* the index's storage, kept for the next object */
	size_t mem_cap;
} rt_jread_names;

/* Where the containers that a parse read or skipped end (rt_jread_trust,
   rt_jread_note_ends): its readers share it, so that a re-scan jumps over
   what was read once. Zero-initialise; its storage is in the arena. */
typedef struct rt_jread_ends {
	struct rt_jread_end { const char *open, *close; } *v; /* open addressing by open */
	size_t n, cap;
} rt_jread_ends;

/* Where a reader hands each token it reads (rt_jread_sink_set): rt_value's
   tree builder. token() returns 0, or -1 (out of memory: the reader fails
   with RT_JREAD_E_NOMEM). */
struct rt_jread;
typedef struct rt_jread_sink {
	int (*token)(struct rt_jread_sink *s, const struct rt_jread *r, int tok);
} rt_jread_sink;

typedef struct rt_jread {
	/* the current token's value (read-only) */
	const char *str;    /* RT_JR_STRING, RT_JR_NAME */
	size_t len;
	int in_arena;       /* str is in the arena, NUL-terminated (it was decoded, or rt_jread_cstr copied it) */
	int64_t i;          /* RT_JR_INTEGER */
	double d;           /* RT_JR_REAL */
	const char *num;    /* RT_JR_INTEGER, RT_JR_REAL: the text in the input */
	size_t num_len;
	/* the error (read-only) */
	int err;            /* enum rt_jread_error */
	size_t err_off;     /* byte offset of the error in the input */
	/* private */
	const char *p, *end, *base;
	const char *tok;    /* where the current token starts */
	rt_arena *arena;
	unsigned depth, max_depth;
	int state;
	int no_decode;
	int trusted;        /* rt_jread_trust: skipping goes by brackets and quotes */
	rt_jread_ends *ends; /* rt_jread_trust's, or NULL */
	rt_jread_sink *sink; /* rt_jread_sink_set's, or NULL */
	rt_jread_frame *frames;
	rt_jread_names *skip_sets;
	unsigned skip_sets_n, frames_cap;
	rt_jread_frame frames_inline[RT_JREAD_INLINE_FRAMES];
} rt_jread;

/* buf (borrowed, len bytes), arena (borrowed) for decoded strings and the
   reader's own bookkeeping; max_depth 0 = RT_JREAD_MAX_DEPTH. */
void rt_jread_init(rt_jread *r, const char *buf, size_t len, rt_arena *arena, unsigned max_depth);

/* The next token (enum rt_jread_token). After RT_JR_ERROR every call
   returns RT_JR_ERROR again; after RT_JR_END, RT_JR_END. */
int rt_jread_next(rt_jread *r);

/* For bytes a reader has already read in full (a re-scan of a value by
   generated combinator code): skipped containers are then passed over by
   their brackets and quotes alone, unchecked. ends (borrowed, may be NULL):
   where the larger ones end is noted there, and a container found there is
   jumped over; the readers that share it must read the same bytes (the
   same buffer, unchanged). Call right after init. */
void rt_jread_trust(rt_jread *r, rt_jread_ends *ends);
/* A checking reader notes in ends (borrowed) where the larger containers it
   reads from now on end, for the trusted readers that share it. */
void rt_jread_note_ends(rt_jread *r, rt_jread_ends *ends);

/* Every token the reader reads from now on, skipped values' included (their
 * strings then decoded too), goes to sink (borrowed) as well, in the order
 * of the text, before rt_jread_next returns it; a reader that fails stops
 * handing them. Not for trusted readers (their skips go by brackets). The
 * readers without one pay nothing for it. */
void rt_jread_sink_set(rt_jread *r, rt_jread_sink *sink);

/* Skips the next value entirely (checked as rt_jread_next checks it,
   duplicate names included); 0, or -1 with r->err set. */
int rt_jread_skip(rt_jread *r);
/* Skips the rest of the value whose first token tok was just read (nothing
   for a scalar; up to the matching end for RT_JR_*_BEGIN); 0 or -1. */
int rt_jread_skip_rest(rt_jread *r, int tok);

/* Adds the current RT_JR_NAME to set; 0, or -1 with r->err =
   RT_JREAD_E_DUPLICATE (r->err_off at the name) or RT_JREAD_E_NOMEM. A
   trusted reader (rt_jread_trust) adds nothing and returns 0: its bytes'
   first read refused duplicates (and strings it only finds the end of). */
int rt_jread_names_add(rt_jread *r, rt_jread_names *set);
void rt_jread_names_reset(rt_jread_names *set);
/* For generated code that tracks its known names with its own bits: the
   current RT_JR_NAME repeats one; fails the reader with
   RT_JREAD_E_DUPLICATE at that name. Returns -1. */
int rt_jread_duplicate(rt_jread *r);

/* Right after RT_JR_OBJECT_BEGIN: 1 when the object's first member is
   named name (n bytes, in the input as written, no escapes), else 0; reads
   nothing (a generated parser's guess at which alternative to try first). */
int rt_jread_first_name(const rt_jread *r, const char *name, size_t n);
/* The current string or name NUL-terminated (in the arena unless it already
   is); NULL when out of memory. */
const char *rt_jread_cstr(rt_jread *r);

/* 1-based line and column (in characters) of r->err_off. */
void rt_jread_position(const rt_jread *r, int *line, int *column);
/* The JSON pointer of the current position (the member or element being
   read) into buf, NUL-terminated, truncated to size; returns its full length. */
size_t rt_jread_pointer(const rt_jread *r, char *buf, size_t size);
const char *rt_jread_strerror(int err);
/* Adds the reader's error to e: {pointer, "json", "line L, column C: what"};
   0, or -1 as rt_errors_add. */
int rt_jread_error_add(const rt_jread *r, rt_errors *e);

#ifdef __cplusplus
}
#endif

#endif

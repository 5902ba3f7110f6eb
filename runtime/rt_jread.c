/* rt_jread.c — see rt_jread.h.
 *
 * One pass over the bytes, no per-byte calls: whitespace, literals and
 * numbers are open loops; strings are scanned eight bytes at a time (a SWAR
 * test for '"', '\\', control bytes and non-ASCII bytes) and validated as
 * UTF-8 inline; only strings holding an escape are decoded, once, into the
 * arena. Reals with at most 19 significant digits and a small exponent are
 * computed exactly in double arithmetic (one correctly rounded operation, as
 * strtod would give); the others go through strtod_l in the "C" locale.
 */
#include "rt_jread.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S_VALUE, S_FIRST, S_AFTER, S_DONE, S_END, S_ERROR };
/* beside a state: the reader has a sink (rt_jread_next's switch reaches
   jr_next_sink by its default case, so readers without one pay nothing) */
#define S_SINK 8

static const char *const jr_messages[] = {
#define RT_JREAD_E_MSG(name, msg) msg,
	RT_JREAD_ERROR_MAP(RT_JREAD_E_MSG)
#undef RT_JREAD_E_MSG
};

const char *rt_jread_strerror(int err)
{
	if (err < 0 || (size_t)err >= sizeof jr_messages / sizeof *jr_messages)
		return "unknown error";
	return jr_messages[err];
}

void rt_jread_init(rt_jread *r, const char *buf, size_t len, rt_arena *arena, unsigned max_depth)
{
	memset(r, 0, offsetof(rt_jread, frames_inline));
	r->p = r->base = r->tok = buf;
	r->end = buf + len;
	r->arena = arena;
	r->max_depth = max_depth ? max_depth : RT_JREAD_MAX_DEPTH;
	r->state = S_VALUE;
	r->frames = r->frames_inline;
	r->frames_cap = RT_JREAD_INLINE_FRAMES;
}

static int jr_fail(rt_jread *r, int err, const char *at)
{
	r->err = err;
	r->err_off = (size_t)(at - r->base);
	r->state = S_ERROR;
	return RT_JR_ERROR;
}

#define JR_DIGIT(c) ((unsigned)((c) - '0') < 10u)

#define JR_WS_MASK ((1ull << ' ') | (1ull << '\n') | (1ull << '\r') | (1ull << '\t'))

/* past the whitespace at p: none in compact text (one test); indentation
   eight spaces at a time */
static inline const char *jr_ws(const char *p, const char *end)
{
	while (p < end && (unsigned char)*p <= ' ') {
		uint64_t w;
		if (!((JR_WS_MASK >> (unsigned char)*p) & 1))
			break;
		p++;
		while (end - p >= 8 && (memcpy(&w, p, 8), w == 0x2020202020202020ull))
			p += 8;
	}
	return p;
}


/* nonzero when one of the 8 bytes of w is '"', '\\', < 0x20 or >= 0x80 */
static inline uint64_t jr_special(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');

	return (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w) | w) & high;
}

/* length of the valid UTF-8 sequence at p (first byte >= 0x80), 0 if none */
static inline size_t jr_utf8(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0], c1;
	size_t left = (size_t)(end - p);

	if (c < 0xC2)
		return 0;
	if (c < 0xE0)
		return left >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c < 0xF0) {
		if (left < 3)
			return 0;
		c1 = p[1];
		if (c == 0xE0 ? (c1 < 0xA0 || c1 > 0xBF) : c == 0xED ? (c1 < 0x80 || c1 > 0x9F) : (c1 & 0xC0) != 0x80)
			return 0;
		return (p[2] & 0xC0) == 0x80 ? 3 : 0;
	}
	if (c < 0xF5) {
		if (left < 4)
			return 0;
		c1 = p[1];
		if (c == 0xF0 ? (c1 < 0x90 || c1 > 0xBF) : c == 0xF4 ? (c1 < 0x80 || c1 > 0x8F) : (c1 & 0xC0) != 0x80)
			return 0;
		return (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80 ? 4 : 0;
	}
	return 0;
}

static inline int jr_hex(unsigned c)
{
	if (c - '0' < 10u)
		return (int)(c - '0');
	c |= 0x20;
	if (c - 'a' < 6u)
		return (int)(c - 'a' + 10);
	return -1;
}

/* the 4 hex digits at p (p + 4 <= end), or -1 */
static inline long jr_hex4(const char *p)
{
	int a = jr_hex((unsigned char)p[0]), b = jr_hex((unsigned char)p[1]), c = jr_hex((unsigned char)p[2]),
	    d = jr_hex((unsigned char)p[3]);

	if ((a | b | c | d) < 0)
		return -1;
	return (long)((a << 12) | (b << 8) | (c << 4) | d);
}

static char *jr_utf8_put(char *t, unsigned long cp)
{
	if (cp < 0x80) {
		*t++ = (char)cp;
	} else if (cp < 0x800) {
		*t++ = (char)(0xC0 | (cp >> 6));
		*t++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*t++ = (char)(0xE0 | (cp >> 12));
		*t++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*t++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*t++ = (char)(0xF0 | (cp >> 18));
		*t++ = (char)(0x80 | ((cp >> 12) & 0x3F));
		*t++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*t++ = (char)(0x80 | (cp & 0x3F));
	}
	return t;
}

/* Decodes the checked escaped text s[0..n) into the arena. */
static int jr_decode(rt_jread *r, const char *s, size_t n)
{
	const char *e = s + n;
	char *t, *out = rt_arena_alloc_aligned(r->arena, n + 1, 1);

	if (out == NULL)
		return -1;
	t = out;
	while (s < e) {
		const char *bs = memchr(s, '\\', (size_t)(e - s));
		if (bs == NULL)
			bs = e;
		memcpy(t, s, (size_t)(bs - s));
		t += bs - s;
		s = bs;
		if (s == e)
			break;
		switch (s[1]) {
		case 'b': *t++ = '\b'; break;
		case 'f': *t++ = '\f'; break;
		case 'n': *t++ = '\n'; break;
		case 'r': *t++ = '\r'; break;
		case 't': *t++ = '\t'; break;
		case 'u': {
			unsigned long cp = (unsigned long)jr_hex4(s + 2);
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)jr_hex4(s + 8) - 0xDC00);
				s += 6;
			}
			t = jr_utf8_put(t, cp);
			s += 6;
			continue;
		}
		default: *t++ = s[1]; break; /* '"', '\\', '/' */
		}
		s += 2;
	}
	*t = '\0';
	r->str = out;
	r->len = (size_t)(t - out);
	r->in_arena = 1;
	return 0;
}

/* The string whose opening quote is just before p: checked, and decoded
   when it holds escapes and decode is set. */
/* jr_string in trusted bytes (rt_jread_trust): checked on their first
   read, so only to the closing quote, decoding when there are escapes. */
/* A string whose contents run from start to the closing quote at p: the
   token, decoded into the arena when it has escapes and decode asks. */
static int jr_string_end(rt_jread *r, const char *start, const char *p, int esc, int decode)
{
	r->p = p + 1;
	r->str = start;
	r->len = (size_t)(p - start);
	r->in_arena = 0;
	if (esc && decode && jr_decode(r, start, (size_t)(p - start)) != 0)
		return jr_fail(r, RT_JREAD_E_NOMEM, start);
	return 0;
}

static int jr_string_trusted(rt_jread *r, const char *p, int decode)
{
	const char *start = p, *end = r->end;
	int esc = 0;

	for (;;) {
		while (end - p >= 8) { /* eight bytes at a time to a quote or backslash */
			const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
			uint64_t w, q, b, m;
			memcpy(&w, p, 8);
			q = w ^ (ones * '"');
			b = w ^ (ones * '\\');
			if ((m = (((q - ones) & ~q) | ((b - ones) & ~b)) & high) != 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
				p += __builtin_ctzll(m) >> 3;
#endif
				break;
			}
			p += 8;
		}
		if (p >= end)
			return jr_fail(r, RT_JREAD_E_EOF, end);
		if (*p == '"')
			break;
		if (*p == '\\') {
			esc = 1;
			p++;
		}
		p++;
	}
	return jr_string_end(r, start, p, esc, decode);
}

static int jr_string(rt_jread *r, const char *p, int decode)
{
	const char *start = p, *end = r->end;
	int esc = 0;

	if (r->trusted)
		return jr_string_trusted(r, p, decode);
	for (;;) {
		unsigned c;
		while (end - p >= 8) {
			uint64_t w, s;
			memcpy(&w, p, 8);
			if ((s = jr_special(w)) != 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
				p += __builtin_ctzll(s) >> 3; /* the first special byte: exact below it */
#endif
				break;
			}
			p += 8;
		}
		if (p >= end)
			return jr_fail(r, RT_JREAD_E_EOF, end);
		c = (unsigned char)*p;
		if (c == '"')
			break;
		if (c >= 0x20 && c < 0x80) {
			if (c != '\\') {
				p++;
				continue;
			}
			esc = 1;
			if (end - p < 2)
				return jr_fail(r, RT_JREAD_E_EOF, end);
			switch (p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				p += 2;
				continue;
			case 'u': {
				long cp;
				if (end - p < 6) {
					for (const char *q = p + 2; q < end; q++)
						if (jr_hex((unsigned char)*q) < 0)
							return jr_fail(r, RT_JREAD_E_ESCAPE, p);
					return jr_fail(r, RT_JREAD_E_EOF, end);
				}
				if ((cp = jr_hex4(p + 2)) < 0)
					return jr_fail(r, RT_JREAD_E_ESCAPE, p);
				if (cp == 0)
					return jr_fail(r, RT_JREAD_E_NUL, p);
				if (cp >= 0xDC00 && cp <= 0xDFFF)
					return jr_fail(r, RT_JREAD_E_SURROGATE, p);
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					long lo;
					if (end - p < 8 && (end - p == 6 || p[6] == '\\'))
						return jr_fail(r, RT_JREAD_E_EOF, end);
					if (p[6] != '\\' || p[7] != 'u')
						return jr_fail(r, RT_JREAD_E_SURROGATE, p);
					if (end - p < 12) {
						for (const char *q = p + 8; q < end; q++)
							if (jr_hex((unsigned char)*q) < 0)
								return jr_fail(r, RT_JREAD_E_ESCAPE, p + 6);
						return jr_fail(r, RT_JREAD_E_EOF, end);
					}
					if ((lo = jr_hex4(p + 8)) < 0)
						return jr_fail(r, RT_JREAD_E_ESCAPE, p + 6);
					if (lo < 0xDC00 || lo > 0xDFFF)
						return jr_fail(r, RT_JREAD_E_SURROGATE, p);
					p += 6;
				}
				p += 6;
				continue;
			}
			default:
				return jr_fail(r, RT_JREAD_E_ESCAPE, p);
			}
		}
		if (c < 0x20)
			return jr_fail(r, RT_JREAD_E_CONTROL, p);
		{
			size_t n = jr_utf8((const unsigned char *)p, (const unsigned char *)end);
			if (n == 0)
				return jr_fail(r, RT_JREAD_E_UTF8, p);
			p += n;
		}
	}
	return jr_string_end(r, start, p, esc, decode);
}

static pthread_once_t jr_locale_once = PTHREAD_ONCE_INIT;
static locale_t jr_c_locale;

static void jr_locale_init(void)
{
	jr_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static const double jr_pow10[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

/* strtod of text[0..n) in the "C" locale; 0, or -1 on overflow */
static int jr_strtod(rt_jread *r, const char *text, size_t n, double *out)
{
	char small[64], *buf = small, *e;
	double d;

	if (n >= sizeof small) {
		buf = rt_arena_alloc_aligned(r->arena, n + 1, 1);
		if (buf == NULL)
			return -2;
	}
	memcpy(buf, text, n);
	buf[n] = '\0';
	pthread_once(&jr_locale_once, jr_locale_init);
	errno = 0;
	d = jr_c_locale != (locale_t)0 ? strtod_l(buf, &e, jr_c_locale) : strtod(buf, &e);
	if (errno == ERANGE && isinf(d))
		return -1;
	*out = d;
	return 0;
}

/* The number starting at p (a '-' or a digit). */
static int jr_number(rt_jread *r, const char *p)
{
	const char *start = p, *end = r->end, *d0;
	uint64_t m = 0;
	int neg = 0, sig = 0, slow = 0;
	long e10 = 0, ex = 0;

	if (*p == '-') {
		neg = 1;
		if (++p == end)
			return jr_fail(r, RT_JREAD_E_NUMBER, start);
	}
	d0 = p;
	if (*p == '0') {
		p++;
		if (p < end && JR_DIGIT(*p))
			return jr_fail(r, RT_JREAD_E_NUMBER, start);
	} else if (JR_DIGIT(*p)) {
		while (p < end && JR_DIGIT(*p)) {
			if (p - d0 < 19)
				m = m * 10 + (uint64_t)(*p - '0');
			p++;
		}
	} else {
		return jr_fail(r, RT_JREAD_E_NUMBER, start);
	}
	if (p == end || (*p != '.' && *p != 'e' && *p != 'E')) {
		size_t nd = (size_t)(p - d0);
		if (nd > 19 || m > (uint64_t)INT64_MAX + (uint64_t)neg)
			return jr_fail(r, RT_JREAD_E_INTEGER_RANGE, start);
		r->i = neg ? (m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m) : (int64_t)m;
		r->num = start;
		r->num_len = (size_t)(p - start);
		r->p = p;
		return RT_JR_INTEGER;
	}
	/* a real: m holds the integer part when it had at most 19 digits */
	sig = m ? (int)(p - d0) : 0;
	if (sig > 19)
		slow = 1;
	if (*p == '.') {
		const char *f0 = ++p;
		while (p < end && JR_DIGIT(*p)) {
			if (sig < 19) {
				m = m * 10 + (uint64_t)(*p - '0');
				e10--;
				if (m)
					sig++;
			} else if (*p != '0') {
				slow = 1;
			}
			p++;
		}
		if (p == f0)
			return jr_fail(r, RT_JREAD_E_NUMBER, start);
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		int eneg = 0;
		const char *x0;
		if (++p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		x0 = p;
		while (p < end && JR_DIGIT(*p)) {
			if (ex < 100000)
				ex = ex * 10 + (*p - '0');
			p++;
		}
		if (p == x0)
			return jr_fail(r, RT_JREAD_E_NUMBER, start);
		e10 += eneg ? -ex : ex;
	}
	r->num = start;
	r->num_len = (size_t)(p - start);
	r->p = p;
	if (!slow && m == 0) {
		r->d = neg ? -0.0 : 0.0;
	} else if (!slow && m <= (1ull << 53) && e10 >= -22 && e10 <= 22) {
		double d = (double)m;
		d = e10 < 0 ? d / jr_pow10[-e10] : d * jr_pow10[e10];
		r->d = neg ? -d : d;
	} else {
		int rc = jr_strtod(r, start, (size_t)(p - start), &r->d);
		if (rc == -1)
			return jr_fail(r, RT_JREAD_E_REAL_RANGE, start);
		if (rc != 0)
			return jr_fail(r, RT_JREAD_E_NOMEM, start);
	}
	return RT_JR_REAL;
}

/* a frame for depth r->depth (growing the stack into the arena) */
static void jr_ends_put(rt_jread *r, const char *open, const char *close);
/* containers shorter than this are scanned again rather than noted */
#define JR_ENDS_MIN 48

static rt_jread_frame *jr_push(rt_jread *r)
{
	if (r->depth == r->frames_cap) {
		unsigned cap = r->frames_cap * 4;
		rt_jread_frame *f;
		if (cap > r->max_depth)
			cap = r->max_depth;
		f = rt_arena_alloc(r->arena, (size_t)cap * sizeof *f);
		if (f == NULL)
			return NULL;
		memcpy(f, r->frames, (size_t)r->depth * sizeof *f);
		r->frames = f;
		r->frames_cap = cap;
	}
	return &r->frames[r->depth++];
}

__attribute__((noinline)) static int jr_next_sink(rt_jread *r);

int rt_jread_next(rt_jread *r)
{
	const char *p = r->p, *end = r->end;
	rt_jread_frame *f = NULL;
	int tok;

	p = jr_ws(p, end);
	switch (r->state) {
	case S_AFTER:
		if (p == end)
			return jr_fail(r, RT_JREAD_E_EOF, p);
		f = &r->frames[r->depth - 1];
		if (*p == ',') {
			p = jr_ws(p + 1, end);
			if (f->object)
				goto name;
			goto value;
		}
		if (*p == (f->object ? '}' : ']'))
			goto close;
		return jr_fail(r, f->object ? RT_JREAD_E_OBJECT_NEXT : RT_JREAD_E_ARRAY_NEXT, p);
	case S_FIRST:
		if (p == end)
			return jr_fail(r, RT_JREAD_E_EOF, p);
		f = &r->frames[r->depth - 1];
		if (*p == (f->object ? '}' : ']'))
			goto close;
		if (f->object)
			goto name;
		goto value;
	case S_VALUE:
		goto value;
	case S_DONE:
		r->p = p;
		if (p != end)
			return jr_fail(r, RT_JREAD_E_TRAILING, p);
		r->state = S_END;
		return RT_JR_END;
	case S_END:
		return RT_JR_END;
	default:
		if (r->state & S_SINK)
			return jr_next_sink(r);
		return RT_JR_ERROR;
	}

name:
	r->tok = p;
	if (p == end)
		return jr_fail(r, RT_JREAD_E_EOF, p);
	if (*p != '"')
		return jr_fail(r, RT_JREAD_E_NAME, p);
	if (jr_string(r, p + 1, 1) != 0)
		return RT_JR_ERROR;
	f->name = r->str;
	f->name_len = r->len;
	p = jr_ws(r->p, end);
	if (p == end)
		return jr_fail(r, RT_JREAD_E_EOF, p);
	if (*p != ':')
		return jr_fail(r, RT_JREAD_E_COLON, p);
	r->p = p + 1;
	r->state = S_VALUE;
	return RT_JR_NAME;

value:
	r->tok = p;
	if (p == end)
		return jr_fail(r, RT_JREAD_E_EOF, p);
	if (r->depth) {
		f = &r->frames[r->depth - 1];
		if (!f->object)
			f->index++;
		if (r->depth >= r->max_depth)
			return jr_fail(r, RT_JREAD_E_DEPTH, p);
	}
	switch (*p) {
	case '{':
	case '[':
		if ((f = jr_push(r)) == NULL)
			return jr_fail(r, RT_JREAD_E_NOMEM, p);
		f->object = *p == '{';
		f->open = p;
		f->name = NULL;
		f->name_len = 0;
		f->index = 0;
		r->p = p + 1;
		r->state = S_FIRST;
		return f->object ? RT_JR_OBJECT_BEGIN : RT_JR_ARRAY_BEGIN;
	case '"':
		if (jr_string(r, p + 1, !r->no_decode) != 0)
			return RT_JR_ERROR;
		tok = RT_JR_STRING;
		break;
	case 't':
		if (end - p < 4 || memcmp(p, "true", 4) != 0)
			return jr_fail(r, RT_JREAD_E_TOKEN, p);
		r->p = p + 4;
		tok = RT_JR_TRUE;
		break;
	case 'f':
		if (end - p < 5 || memcmp(p, "false", 5) != 0)
			return jr_fail(r, RT_JREAD_E_TOKEN, p);
		r->p = p + 5;
		tok = RT_JR_FALSE;
		break;
	case 'n':
		if (end - p < 4 || memcmp(p, "null", 4) != 0)
			return jr_fail(r, RT_JREAD_E_TOKEN, p);
		r->p = p + 4;
		tok = RT_JR_NULL;
		break;
	case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
		tok = jr_number(r, p);
		if (tok == RT_JR_ERROR)
			return tok;
		break;
	default:
		return jr_fail(r, *p == ',' || *p == ']' || *p == '}' || *p == ':' ? RT_JREAD_E_VALUE : RT_JREAD_E_TOKEN, p);
	}
	r->state = r->depth ? S_AFTER : S_DONE;
	return tok;

close:
	if (r->ends && p - f->open >= JR_ENDS_MIN)
		jr_ends_put(r, f->open, p);
	r->tok = p;
	r->depth--;
	r->p = p + 1;
	r->state = r->depth ? S_AFTER : S_DONE;
	return f->object ? RT_JR_OBJECT_END : RT_JR_ARRAY_END;
}

/* rt_jread_next with a sink: the token read as without one, then handed to
   the sink (a skipped value's string decoded first: skipping reads them
   raw). */
__attribute__((noinline)) static int jr_next_sink(rt_jread *r)
{
	int tok;

	r->state &= ~S_SINK;
	tok = rt_jread_next(r);
	if (r->state == S_ERROR)
		return tok;
	r->state |= S_SINK;
	if (tok == RT_JR_END)
		return tok;
	if (tok == RT_JR_STRING && r->no_decode && memchr(r->str, '\\', r->len) != NULL &&
	    jr_decode(r, r->str, r->len) != 0)
		return jr_fail(r, RT_JREAD_E_NOMEM, r->tok);
	if (r->sink->token(r->sink, r, tok) != 0)
		return jr_fail(r, RT_JREAD_E_NOMEM, r->tok);
	return tok;
}

void rt_jread_sink_set(rt_jread *r, rt_jread_sink *sink)
{
	r->sink = sink;
	if (sink != NULL && r->state != S_ERROR)
		r->state |= S_SINK;
	else
		r->state &= ~S_SINK;
}

/* ---- duplicate names ---- */

static uint32_t jr_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

void rt_jread_names_reset(rt_jread_names *set)
{
	set->n = 0;
	set->tab = NULL; /* rebuilt, in set->mem, only if this object grows large too */
	set->tab_cap = 0;
}

#define JR_NAMES_LINEAR 12

static int jr_names_index(rt_jread *r, rt_jread_names *set, size_t cap)
{
	uint32_t *tab = set->mem;

	if (set->mem_cap < cap) {
		if ((tab = rt_arena_alloc(r->arena, cap * sizeof *tab)) == NULL)
			return -1;
		set->mem = tab;
		set->mem_cap = cap;
	}
	memset(tab, 0, cap * sizeof *tab);
	for (size_t i = 0; i < set->n; i++) {
		size_t j = set->v[i].hash & (cap - 1);
		while (tab[j])
			j = (j + 1) & (cap - 1);
		tab[j] = (uint32_t)(i + 1);
	}
	set->tab = tab;
	set->tab_cap = cap;
	return 0;
}

int rt_jread_names_add(rt_jread *r, rt_jread_names *set)
{
	const char *s = r->str;
	size_t n = r->len, j = 0;
	uint32_t h = 0;

	if (r->trusted)
		return 0; /* the first read refused duplicates */
	if (set->tab == NULL) {
		for (size_t i = 0; i < set->n; i++)
			if (set->v[i].len == n && memcmp(set->v[i].s, s, n) == 0)
				goto dup;
		if (set->n >= JR_NAMES_LINEAR) {
			for (size_t i = 0; i < set->n; i++)
				set->v[i].hash = jr_hash(set->v[i].s, set->v[i].len);
			if (jr_names_index(r, set, 64) != 0)
				goto nomem;
		}
	}
	if (set->tab != NULL) {
		if (2 * (set->n + 1) > set->tab_cap && jr_names_index(r, set, set->tab_cap * 2) != 0)
			goto nomem;
		h = jr_hash(s, n);
		for (j = h & (set->tab_cap - 1); set->tab[j]; j = (j + 1) & (set->tab_cap - 1)) {
			const rt_jread_name *e = &set->v[set->tab[j] - 1];
			if (e->hash == h && e->len == n && memcmp(e->s, s, n) == 0)
				goto dup;
		}
	}
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 8;
		rt_jread_name *v = rt_arena_alloc(r->arena, cap * sizeof *v);
		if (v == NULL)
			goto nomem;
		if (set->n)
			memcpy(v, set->v, set->n * sizeof *v);
		set->v = v;
		set->cap = cap;
	}
	set->v[set->n].s = s;
	set->v[set->n].len = n;
	set->v[set->n].hash = h;
	set->n++;
	if (set->tab != NULL)
		set->tab[j] = (uint32_t)set->n;
	return 0;
dup:
	jr_fail(r, RT_JREAD_E_DUPLICATE, r->tok);
	return -1;
nomem:
	jr_fail(r, RT_JREAD_E_NOMEM, r->tok);
	return -1;
}

int rt_jread_duplicate(rt_jread *r)
{
	jr_fail(r, RT_JREAD_E_DUPLICATE, r->tok);
	return -1;
}

/* ---- skipping ---- */

static rt_jread_names *jr_skip_set_grow(rt_jread *r, unsigned level)
{
	unsigned n = r->skip_sets_n ? r->skip_sets_n * 4 : 8;
	rt_jread_names *v;

	while (n <= level)
		n *= 2;
	v = rt_arena_alloc(r->arena, (size_t)n * sizeof *v);
	if (v == NULL)
		return NULL;
	memset(v, 0, (size_t)n * sizeof *v);
	if (r->skip_sets_n)
		memcpy(v, r->skip_sets, (size_t)r->skip_sets_n * sizeof *v);
	r->skip_sets = v;
	r->skip_sets_n = n;
	return &r->skip_sets[level];
}

static inline rt_jread_names *jr_skip_set(rt_jread *r, unsigned level)
{
	return level < r->skip_sets_n ? &r->skip_sets[level] : jr_skip_set_grow(r, level);
}

void rt_jread_trust(rt_jread *r, rt_jread_ends *ends)
{
	r->trusted = 1;
	r->ends = ends;
}

void rt_jread_note_ends(rt_jread *r, rt_jread_ends *ends)
{
	r->ends = ends;
}

/* how deep inside a skipped container its nested ones are noted */
#define JR_ENDS_STACK 32

static size_t jr_ends_slot(const char *open, size_t cap)
{
	return (size_t)(((uint64_t)(uintptr_t)open * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

static const char *jr_ends_get(const rt_jread_ends *e, const char *open)
{
	if (e->cap == 0)
		return NULL;
	for (size_t i = jr_ends_slot(open, e->cap);; i = (i + 1) & (e->cap - 1)) {
		if (e->v[i].open == open)
			return e->v[i].close;
		if (e->v[i].open == NULL)
			return NULL;
	}
}

/* Notes [open, close]; out of memory, it is only not noted. */
static void jr_ends_put(rt_jread *r, const char *open, const char *close)
{
	rt_jread_ends *e = r->ends;
	size_t i;

	if (2 * (e->n + 1) > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 256;
		struct rt_jread_end *v = rt_arena_alloc(r->arena, cap * sizeof *v);
		if (v == NULL)
			return;
		memset(v, 0, cap * sizeof *v);
		for (size_t k = 0; k < e->cap; k++)
			if (e->v[k].open) {
				for (i = jr_ends_slot(e->v[k].open, cap); v[i].open; i = (i + 1) & (cap - 1))
					;
				v[i] = e->v[k];
			}
		e->v = v;
		e->cap = cap;
	}
	for (i = jr_ends_slot(open, e->cap); e->v[i].open; i = (i + 1) & (e->cap - 1))
		if (e->v[i].open == open)
			return;
	e->v[i].open = open;
	e->v[i].close = close;
	e->n++;
}

/* The rest of a container just opened, in bytes already checked: to the
   byte after its matching close; by r->ends where it knows the way. */
static int jr_fast_skip(rt_jread *r)
{
	const char *p = r->p, *end = r->end, *to;
	const char *open[JR_ENDS_STACK];
	unsigned depth = 1;

	open[0] = p - 1;
	if (r->ends && (to = jr_ends_get(r->ends, p - 1)) != NULL) {
		p = to;
		goto closed;
	}
	for (; p < end; p++) {
		switch (*p) {
		case '"':
			for (p++; p < end; p++) {
				while (end - p >= 8) { /* eight bytes at a time to a quote or backslash */
					const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
					uint64_t w, q, b;
					memcpy(&w, p, 8);
					q = w ^ (ones * '"');
					b = w ^ (ones * '\\');
					if ((((q - ones) & ~q) | ((b - ones) & ~b)) & high)
						break;
					p += 8;
				}
				if (p >= end || *p == '"')
					break;
				if (*p == '\\')
					p++;
			}
			break;
		case '{':
		case '[':
			if (r->ends && (to = jr_ends_get(r->ends, p)) != NULL) {
				p = to;
				break;
			}
			if (depth < JR_ENDS_STACK)
				open[depth] = p;
			depth++;
			break;
		case '}':
		case ']':
			depth--;
			if (r->ends && depth < JR_ENDS_STACK && p - open[depth] >= JR_ENDS_MIN)
				jr_ends_put(r, open[depth], p);
			if (depth == 0)
				goto closed;
			break;
		default:
			break;
		}
	}
	jr_fail(r, RT_JREAD_E_EOF, end);
	return -1;
closed:
	r->tok = p;
	r->depth--;
	r->p = p + 1;
	r->state = r->depth ? S_AFTER : S_DONE;
	return 0;
}

int rt_jread_skip_rest(rt_jread *r, int tok)
{
	unsigned base;
	int rc = -1;

	if (tok == RT_JR_ERROR)
		return -1;
	if (tok != RT_JR_OBJECT_BEGIN && tok != RT_JR_ARRAY_BEGIN)
		return 0;
	if (r->trusted)
		return jr_fast_skip(r);
	base = r->depth - 1;
	r->no_decode = 1;
	if (tok == RT_JR_OBJECT_BEGIN) {
		rt_jread_names *set = jr_skip_set(r, 0);
		if (set == NULL) {
			jr_fail(r, RT_JREAD_E_NOMEM, r->tok);
			goto cleanup;
		}
		rt_jread_names_reset(set);
	}
	for (;;) {
		rt_jread_names *set;
		switch (rt_jread_next(r)) {
		case RT_JR_ERROR:
			goto cleanup;
		case RT_JR_NAME:
			if ((set = jr_skip_set(r, r->depth - 1 - base)) == NULL) {
				jr_fail(r, RT_JREAD_E_NOMEM, r->tok);
				goto cleanup;
			}
			if (rt_jread_names_add(r, set) != 0)
				goto cleanup;
			break;
		case RT_JR_OBJECT_BEGIN:
			if ((set = jr_skip_set(r, r->depth - 1 - base)) == NULL) {
				jr_fail(r, RT_JREAD_E_NOMEM, r->tok);
				goto cleanup;
			}
			rt_jread_names_reset(set);
			break;
		case RT_JR_OBJECT_END:
		case RT_JR_ARRAY_END:
			if (r->depth == base) {
				rc = 0;
				goto cleanup;
			}
			break;
		default:
			break;
		}
	}
cleanup:
	r->no_decode = 0;
	return rc;
}

int rt_jread_first_name(const rt_jread *r, const char *name, size_t n)
{
	const char *p = jr_ws(r->p, r->end);

	return (r->state & ~S_SINK) == S_FIRST && (size_t)(r->end - p) > n + 1 && *p == '"' && memcmp(p + 1, name, n) == 0 &&
	       p[n + 1] == '"';
}

int rt_jread_skip(rt_jread *r)
{
	int tok;

	r->no_decode = 1;
	tok = rt_jread_next(r);
	r->no_decode = 0;
	return rt_jread_skip_rest(r, tok);
}

/* ---- strings, positions, errors ---- */

const char *rt_jread_cstr(rt_jread *r)
{
	char *s;

	if (r->in_arena)
		return r->str;
	s = rt_arena_strndup(r->arena, r->str, r->len);
	if (s == NULL)
		return NULL;
	r->str = s;
	r->in_arena = 1;
	return s;
}

void rt_jread_position(const rt_jread *r, int *line, int *column)
{
	const char *p = r->base, *e = r->base + r->err_off;
	int l = 1, c = 1;

	for (; p < e; p++) {
		if (*p == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)*p & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*column = c;
}

/* appends s[0..n) to buf at *len, truncating at size */
static void jr_put(char *buf, size_t size, size_t *len, const char *s, size_t n)
{
	if (*len < size) {
		size_t k = size - *len < n ? size - *len : n;
		memcpy(buf + *len, s, k);
	}
	*len += n;
}

size_t rt_jread_pointer(const rt_jread *r, char *buf, size_t size)
{
	size_t len = 0;

	for (unsigned k = 0; k < r->depth; k++) {
		const rt_jread_frame *f = &r->frames[k];
		if (f->object && f->name != NULL) {
			jr_put(buf, size, &len, "/", 1);
			for (size_t i = 0; i < f->name_len; i++) {
				if (f->name[i] == '~')
					jr_put(buf, size, &len, "~0", 2);
				else if (f->name[i] == '/')
					jr_put(buf, size, &len, "~1", 2);
				else
					jr_put(buf, size, &len, &f->name[i], 1);
			}
		} else if (!f->object && f->index > 0) {
			char num[24];
			int n = snprintf(num, sizeof num, "/%zu", f->index - 1);
			jr_put(buf, size, &len, num, (size_t)n);
		}
	}
	if (size > 0)
		buf[len < size ? len : size - 1] = '\0';
	return len;
}

int rt_jread_error_add(const rt_jread *r, rt_errors *e)
{
	char small[256], *ptr = small;
	size_t n = rt_jread_pointer(r, small, sizeof small);
	int line, column, rc;

	if (n >= sizeof small) {
		ptr = malloc(n + 1);
		if (ptr == NULL)
			return -1;
		rt_jread_pointer(r, ptr, n + 1);
	}
	rt_jread_position(r, &line, &column);
	rc = rt_errors_add(e, ptr, "json", "line %d, column %d: %s", line, column, rt_jread_strerror(r->err));
	if (ptr != small)
		free(ptr);
	return rc;
}

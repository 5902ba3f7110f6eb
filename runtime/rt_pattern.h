/* rt_pattern.h — a JSON Schema pattern (ECMA-262) as PCRE2 compiles it.
 *
 * Header-only, so that oapigen (which never links the runtime) refuses at
 * generation exactly the patterns rt_schema_prepare would fail to compile
 * at start: the same rewriting, the same options. Include <pcre2.h> first
 * (PCRE2_CODE_UNIT_WIDTH 8).
 */
#ifndef RT_PATTERN_H
#define RT_PATTERN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pcre2_compile's options for a rewritten pattern */
#define RT_PATTERN_PCRE2_OPTIONS (PCRE2_UTF | PCRE2_MATCH_INVALID_UTF)

/* ECMA-262 long Unicode property names that PCRE2 spells short. */
static const char *const rt_pattern_props[][2] = {
	{ "Letter", "L" }, { "Lowercase_Letter", "Ll" }, { "Uppercase_Letter", "Lu" },
	{ "Titlecase_Letter", "Lt" }, { "Modifier_Letter", "Lm" }, { "Other_Letter", "Lo" },
	{ "Mark", "M" }, { "Number", "N" }, { "Decimal_Number", "Nd" }, { "Letter_Number", "Nl" },
	{ "Other_Number", "No" }, { "Punctuation", "P" }, { "Symbol", "S" }, { "Separator", "Z" },
	{ "Space_Separator", "Zs" }, { "Other", "C" }, { "Control", "Cc" },
};

/* The value of the n hex digits at s, or -1 when one is not. */
static inline long rt_pattern_hex(const char *s, size_t n)
{
	long v = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* The ECMA-262 escape \\uXXXX (a surrogate pair \\uHHHH\\uLLLL as one code
 * point) or \\u{X...} at src + i into *cp: the bytes it spans, or 0 when
 * there is none. */
static inline size_t rt_pattern_u(const char *src, size_t i, size_t n, long *cp)
{
	size_t used = 6;

	if (i + 1 >= n || src[i] != '\\' || src[i + 1] != 'u')
		return 0;
	*cp = i + 6 <= n ? rt_pattern_hex(src + i + 2, 4) : -1;
	if (i + 2 < n && src[i + 2] == '{') {
		const char *close = strchr(src + i + 3, '}');
		size_t len = close ? (size_t)(close - (src + i + 3)) : 0;
		*cp = len >= 1 && len <= 6 ? rt_pattern_hex(src + i + 3, len) : -1;
		used = len + 4;
	} else if (*cp >= 0xD800 && *cp <= 0xDBFF && i + 12 <= n && src[i + 6] == '\\' && src[i + 7] == 'u') {
		long lo = rt_pattern_hex(src + i + 8, 4);
		if (lo >= 0xDC00 && lo <= 0xDFFF) {
			*cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
			used = 12;
		}
	}
	return *cp >= 0 && i + used <= n ? used : 0;
}

/* Writes PCRE2's \\x{lo} or \\x{lo}-\\x{hi} at o: the bytes written. */
static inline int rt_pattern_put(char *o, long lo, long hi)
{
	return lo == hi ? sprintf(o, "\\x{%lX}", lo) : sprintf(o, "\\x{%lX}-\\x{%lX}", lo, hi);
}

/* A repeat {m,n} (lazy or not) that ends the whole pattern, with n
 * over PCRE2's 65535 and m within it, written at o as {m}: a pattern is
 * searched for, unanchored, so with nothing after it x{m,n} matches where x{m}
 * does (its first m repeats; and x{m} is one of its choices). 1 when it did. */
static inline int rt_pattern_tail_repeat(const char *src, size_t i, size_t n, char *o)
{
	char *end;
	unsigned long m, hi = 0;
	size_t j, bs = 0;

	if (i == 0 || i + 1 >= n || src[i + 1] < '0' || src[i + 1] > '9' || strchr("^$|(*+?}", src[i - 1]))
		return 0; /* nothing repeatable before it (ECMA-262 refuses that) */
	while (bs + 2 <= i && src[i - 2 - bs] == '\\')
		bs++;
	if ((src[i - 1] == 'b' || src[i - 1] == 'B') && bs % 2 == 1)
		return 0; /* the assertions \b and \B */
	m = strtoul(src + i + 1, &end, 10);
	if (*end != ',' || m > 65535)
		return 0;
	j = (size_t)(end - src) + 1;
	if (j < n && src[j] >= '0' && src[j] <= '9') {
		hi = strtoul(src + j, &end, 10);
		if (hi <= 65535 || hi < m)
			return 0; /* PCRE2 holds it, or ECMA-262 refuses it */
		j = (size_t)(end - src);
	}
	if (j >= n || src[j] != '}' || hi == 0)
		return 0;
	j++;
	if (j < n && src[j] == '?')
		j++;
	if (j != n)
		return 0;
	sprintf(o, "{%lu}", m);
	return 1;
}

/* Rewrites \\p{Long_Name} and \\p{Script=X} into PCRE2's spelling, and
 * ECMA-262's \\uXXXX (a surrogate pair as one code point) and \\u{X...}
 * into PCRE2's \\x{...} (new).
 *
 * Patterns match code points (as ECMA-262's u flag does), and every string
 * the runtime matches is valid UTF-8 (rt_utf8.c, rt_jread.c and jansson
 * refuse lone surrogates), so a lone surrogate U+D800..U+DFFF, which PCRE2
 * will not compile, matches nothing: outside a class it becomes (?!); in a
 * class it is left out (a range loses its surrogate part), and a class left
 * with nothing matches nothing, (?!), or, negated, any character, [\\s\\S]
 * (as ECMA-262's [] and [^] do). A surrogate whose place is unclear (the end
 * of a range that is not two \\u escapes) is kept, for PCRE2 to refuse. */
static inline char *rt_pattern_to_pcre2(const char *src)
{
	size_t n = strlen(src), cls_at = 0, first = 0;
	char *out = malloc(4 * n + 16), *o = out;
	int in_class = 0, neg = 0, kept = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		long cp = -1, hi = -1;
		size_t used, used2 = 0;
		if (!in_class && src[i] == '[') {
			in_class = 1;
			cls_at = (size_t)(o - out);
			*o++ = src[i++];
			neg = i < n && src[i] == '^';
			if (neg)
				*o++ = src[i++];
			kept = 0;
			first = i;
			continue;
		}
		if (in_class && src[i] == ']') {
			in_class = 0;
			i++;
			if (kept) {
				*o++ = ']';
			} else {
				o = out + cls_at;
				o += sprintf(o, "%s", neg ? "[\\s\\S]" : "(?!)");
			}
			continue;
		}
		if (src[i] == '\\' && i + 2 < n && (src[i + 1] == 'p' || src[i + 1] == 'P') && src[i + 2] == '{') {
			const char *close = strchr(src + i + 3, '}');
			size_t len = close ? (size_t)(close - (src + i + 3)) : 0;
			const char *name = src + i + 3;
			const char *repl = NULL;
			size_t rlen = 0;
			for (size_t k = 0; close && k < sizeof rt_pattern_props / sizeof rt_pattern_props[0]; k++) {
				if (strlen(rt_pattern_props[k][0]) == len && strncmp(name, rt_pattern_props[k][0], len) == 0) {
					repl = rt_pattern_props[k][1];
					rlen = strlen(repl);
				}
			}
			if (close && !repl && (strncmp(name, "Script=", 7) == 0 || strncmp(name, "sc=", 3) == 0)) {
				repl = strchr(name, '=') + 1;
				rlen = (size_t)(close - repl);
			}
			if (repl) {
				*o++ = src[i];
				*o++ = src[i + 1];
				*o++ = '{';
				memcpy(o, repl, rlen);
				o += rlen;
				*o++ = '}';
				i = (size_t)(close - src) + 1;
				kept = 1;
				continue;
			}
		}
		if ((used = rt_pattern_u(src, i, n, &cp)) != 0) {
			int sur = cp >= 0xD800 && cp <= 0xDFFF;
			if (in_class && i + used < n && src[i + used] == '-')
				used2 = rt_pattern_u(src, i + used + 1, n, &hi);
			if (used2 && cp > hi && (sur || (hi >= 0xD800 && hi <= 0xDFFF))) {
				/* out of order: a range PCRE2 refuses as such, as ECMA-262 does */
				o += sprintf(o, "\\x{1}-\\x{0}");
				kept = 1;
				i += used + 1 + used2;
				continue;
			}
			if (used2 && cp <= hi && cp <= 0xDFFF && hi >= 0xD800) {
				/* a range over surrogates: its parts outside them */
				if (cp < 0xD800)
					o += rt_pattern_put(o, cp, 0xD7FF);
				if (hi > 0xDFFF)
					o += rt_pattern_put(o, 0xE000, hi);
				kept |= cp < 0xD800 || hi > 0xDFFF;
				i += used + 1 + used2;
				continue;
			}
			if (sur && !in_class) {
				o += sprintf(o, "(?!)");
				i += used;
				continue;
			}
			if (sur && !(i >= first + 2 && src[i - 1] == '-') &&
			    !(i + used + 1 < n && src[i + used] == '-' && src[i + used + 1] != ']')) {
				i += used; /* a lone surrogate in a class: left out */
				continue;
			}
			o += rt_pattern_put(o, cp, cp);
			i += used;
			kept = 1;
			continue;
		}
		if (!in_class && src[i] == '{' && rt_pattern_tail_repeat(src, i, n, o)) {
			o += strlen(o);
			break;
		}
		if (src[i] == '\\' && i + 1 < n) {
			*o++ = src[i++];
		}
		*o++ = src[i++];
		kept = 1;
	}
	*o = '\0';
	return out;
}

/* 1 when pcre2_compile's error code ec is one of PCRE2's own limits, which
 * a valid ECMA-262 pattern can reach (a repeat count over 65535, a lone
 * surrogate PCRE2 will not hold, a pattern too large or too deep), not a
 * syntax error. Such a pattern is not enforced (oapigen warns and leaves it
 * out of the generated code); any other error refuses the document. */
static inline int rt_pattern_limit(int ec)
{
	switch (ec) {
	case PCRE2_ERROR_QUANTIFIER_TOO_BIG:
	case PCRE2_ERROR_PARENTHESES_NEST_TOO_DEEP:
	case PCRE2_ERROR_PATTERN_TOO_LARGE:
	case PCRE2_ERROR_HEAP_FAILED:
	case PCRE2_ERROR_LOOKBEHIND_NOT_FIXED_LENGTH:
	case PCRE2_ERROR_LOOKBEHIND_TOO_COMPLICATED:
	case PCRE2_ERROR_LOOKBEHIND_TOO_LONG:
	case PCRE2_ERROR_UNICODE_DISALLOWED_CODE_POINT:
	case PCRE2_ERROR_PATTERN_TOO_COMPLICATED:
	case PCRE2_ERROR_PATTERN_STRING_TOO_LONG:
	case PCRE2_ERROR_TOO_MANY_CAPTURES:
		return 1;
	default:
		return 0;
	}
}

/* The ECMA-262 pattern re compiled as the runtime matches it (the caller
 * frees it with pcre2_code_free), or NULL with *ec and *off set (*ec 0: out
 * of memory). */
static inline pcre2_code *rt_pattern_compile(const char *re, int *ec, PCRE2_SIZE *off)
{
	char *src = rt_pattern_to_pcre2(re);
	pcre2_code *code;

	*ec = 0;
	*off = 0;
	if (!src)
		return NULL;
	code = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, RT_PATTERN_PCRE2_OPTIONS, ec, off, NULL);
	free(src);
	return code;
}

/* 1 when re compiles but for one of PCRE2's limits (rt_pattern_limit). */
static inline int rt_pattern_unenforced(const char *re)
{
	int ec;
	PCRE2_SIZE off;
	pcre2_code *code = rt_pattern_compile(re, &ec, &off);

	pcre2_code_free(code);
	return !code && rt_pattern_limit(ec);
}

#endif

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

/* Rewrites \\p{Long_Name} and \\p{Script=X} into PCRE2's spelling, and
 * ECMA-262's \\uXXXX (a surrogate pair as one code point) and \\u{X...}
 * into PCRE2's \\x{...} (new). */
static inline char *rt_pattern_to_pcre2(const char *src)
{
	size_t n = strlen(src);
	char *out = malloc(2 * n + 16), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
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
				continue;
			}
		}
		if (src[i] == '\\' && i + 1 < n && src[i + 1] == 'u') {
			long cp = i + 6 <= n ? rt_pattern_hex(src + i + 2, 4) : -1;
			size_t used = 6;
			if (i + 2 < n && src[i + 2] == '{') {
				const char *close = strchr(src + i + 3, '}');
				size_t len = close ? (size_t)(close - (src + i + 3)) : 0;
				cp = len >= 1 && len <= 6 ? rt_pattern_hex(src + i + 3, len) : -1;
				used = len + 4;
			} else if (cp >= 0xD800 && cp <= 0xDBFF && i + 12 <= n && src[i + 6] == '\\' && src[i + 7] == 'u') {
				long lo = rt_pattern_hex(src + i + 8, 4);
				if (lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					used = 12;
				}
			}
			if (cp >= 0 && i + used <= n) {
				char hex[16];
				int k = snprintf(hex, sizeof hex, "\\x{%lX}", cp);
				memcpy(o, hex, (size_t)k);
				o += k;
				i += used;
				continue;
			}
		}
		if (src[i] == '\\' && i + 1 < n) {
			*o++ = src[i++];
		}
		*o++ = src[i++];
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

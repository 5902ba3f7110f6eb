/* rt_json.c — compact JSON text of a jansson value (see rt_json.h). */
#include "rt_json.h"
#include "rt_arena.h"
#include "rt_jread.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef rt_json_writer rt_json_out;

/* A growing writer takes room for n more bytes; when it cannot, it fails
   and stops growing (used still counts). */
static void rt_json_grow(rt_json_out *o, size_t n)
{
	size_t want = o->size ? o->size : 256;
	char *nb;

	while (want < o->used + n && want < SIZE_MAX / 2)
		want *= 2;
	nb = want >= o->used + n ? realloc(o->buf, want) : NULL;
	if (!nb) {
		o->failed = 1;
		o->grow = 0;
		return;
	}
	o->buf = nb;
	o->size = want;
}

static void rt_json_put(rt_json_out *o, const char *s, size_t n)
{
	if (o->grow && o->used + n > o->size)
		rt_json_grow(o, n);
	if (o->used < o->size)
		memcpy(o->buf + o->used, s, o->used + n <= o->size ? n : o->size - o->used);
	o->used += n;
}

static void rt_json_putc(rt_json_out *o, char c)
{
	if (o->grow && o->used + 1 > o->size)
		rt_json_grow(o, 1);
	if (o->used < o->size)
		o->buf[o->used] = c;
	o->used++;
}

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), or 0: no
   overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t rt_json_utf8_len(const unsigned char *s, size_t left)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t n;

	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (left < n)
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

/* 1 when none of the 8 bytes at s needs a look of its own: no control
   character, quote, backslash or byte >= 0x80 (a zero-byte test per kind;
   it can see a match that is not there, never miss one). */
static int rt_json_plain8(const unsigned char *s)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t w, q, b;

	memcpy(&w, s, 8);
	q = w ^ (ones * '"');
	b = w ^ (ones * '\\');
	return ((w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high) == 0;
}

static int rt_json_string(rt_json_out *o, const char *str, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)str;
	size_t run = 0, i = 0;

	rt_json_putc(o, '"');
	while (i < len) {
		unsigned char c = s[i];
		const char *esc = NULL;
		char u[6];
		size_t n;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			for (i++; len - i >= 8 && rt_json_plain8(s + i); i += 8)
				;
			continue;
		}
		if (c >= 0x80) {
			n = rt_json_utf8_len(s + i, len - i);
			if (!n)
				return -1;
			i += n;
			continue;
		}
		rt_json_put(o, str + run, i - run);
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default: break;
		}
		if (esc) {
			rt_json_put(o, esc, 2);
		} else {
			u[0] = '\\';
			u[1] = 'u';
			u[2] = '0';
			u[3] = '0';
			u[4] = hex[c >> 4];
			u[5] = hex[c & 15];
			rt_json_put(o, u, 6);
		}
		run = ++i;
	}
	rt_json_put(o, str + run, len - run);
	rt_json_putc(o, '"');
	return 0;
}

static void rt_json_integer(rt_json_out *o, json_int_t v)
{
	char d[24];
	size_t n = sizeof d;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		d[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		d[--n] = '-';
	rt_json_put(o, d + n, sizeof d - n);
}

static int rt_json_value(rt_json_out *o, const json_t *v, int depth)
{
	if (!v)
		return -1;
	switch (json_typeof(v)) {
	case JSON_NULL:
		rt_json_put(o, "null", 4);
		return 0;
	case JSON_TRUE:
		rt_json_put(o, "true", 4);
		return 0;
	case JSON_FALSE:
		rt_json_put(o, "false", 5);
		return 0;
	case JSON_INTEGER:
		rt_json_integer(o, json_integer_value(v));
		return 0;
	case JSON_REAL: {
		/* jansson's own shortest-round-trip formatting, for the same bytes */
		char r[128];
		size_t n = json_dumpb(v, r, sizeof r, JSON_COMPACT | JSON_ENCODE_ANY);
		if (n == 0 || n > sizeof r)
			return -1;
		rt_json_put(o, r, n);
		return 0;
	}
	case JSON_STRING:
		return rt_json_string(o, json_string_value(v), json_string_length(v));
	case JSON_ARRAY: {
		size_t n = json_array_size(v);
		if (depth >= RT_JSON_MAX_DEPTH)
			return -1;
		rt_json_putc(o, '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				rt_json_putc(o, ',');
			if (rt_json_value(o, json_array_get(v, i), depth + 1) != 0)
				return -1;
		}
		rt_json_putc(o, ']');
		return 0;
	}
	case JSON_OBJECT: {
		void *it = json_object_iter((json_t *)v);
		int first = 1;
		if (depth >= RT_JSON_MAX_DEPTH)
			return -1;
		rt_json_putc(o, '{');
		for (; it; it = json_object_iter_next((json_t *)v, it)) {
			if (!first)
				rt_json_putc(o, ',');
			first = 0;
			if (rt_json_string(o, json_object_iter_key(it), json_object_iter_key_len(it)) != 0)
				return -1;
			rt_json_putc(o, ':');
			if (rt_json_value(o, json_object_iter_value(it), depth + 1) != 0)
				return -1;
		}
		rt_json_putc(o, '}');
		return 0;
	}
	}
	return -1;
}

size_t rt_json_dumpb(const json_t *v, char *buf, size_t size)
{
	rt_json_out o = { .buf = buf, .size = size };

	return rt_json_value(&o, v, 0) == 0 ? o.used : 0;
}

/* ---- the writer generated serializers call ---- */

void rt_json_writer_init(rt_json_writer *w)
{
	memset(w, 0, sizeof *w);
	w->grow = 1;
}

void rt_json_writer_free(rt_json_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof *w);
}

void rt_json_write_raw(rt_json_writer *w, const char *s, size_t n)
{
	rt_json_put(w, s, n);
}

void rt_json_write_string(rt_json_writer *w, const char *s, size_t n)
{
	if (!s || rt_json_string(w, s, n) != 0)
		w->failed = 1;
}

void rt_json_write_key(rt_json_writer *w, const char *key, size_t n, int *first)
{
	char t[68];
	size_t i = 0;

	/* the keys are the schema's property names, short and plain: one put
	   of ,"key": when no byte of it needs escaping */
	if (n <= 64) {
		const unsigned char *k = (const unsigned char *)key;
		while (i < n && k[i] >= 0x20 && k[i] < 0x80 && k[i] != '"' && k[i] != '\\')
			i++;
	}
	if (n <= 64 && i == n) {
		size_t o = 0;
		if (!*first)
			t[o++] = ',';
		t[o++] = '"';
		memcpy(t + o, key, n);
		o += n;
		t[o++] = '"';
		t[o++] = ':';
		*first = 0;
		rt_json_put(w, t, o);
		return;
	}
	if (!*first)
		rt_json_putc(w, ',');
	*first = 0;
	rt_json_write_string(w, key, n);
	rt_json_putc(w, ':');
}

void rt_json_write_integer(rt_json_writer *w, int64_t v)
{
	rt_json_integer(w, (json_int_t)v);
}

size_t rt_json_format_real(double v, char *buf, size_t size)
{
	/* jansson's jsonp_dtostr: %.17g, a ".0" when it would read back as an
	   integer, no '+' and no leading zeros in the exponent */
	char tmp[64], *e;
	int n;

	if (v != v || v - v != 0) /* NaN, infinities: jansson refuses them */
		return 0;
	n = snprintf(tmp, sizeof tmp, "%.17g", v);
	if (n <= 0 || (size_t)n >= sizeof tmp - 3)
		return 0;
	for (char *c = tmp; *c; c++)
		if (*c == ',')
			*c = '.'; /* a locale's decimal comma */
	if (!strchr(tmp, '.') && !strchr(tmp, 'e')) {
		memcpy(tmp + n, ".0", 3);
		n += 2;
	}
	e = strchr(tmp, 'e');
	if (e) {
		char *start = e + 1, *end;
		if (*start == '-')
			start++;
		else if (*start == '+')
			memmove(start, start + 1, strlen(start));
		end = start;
		while (*end == '0' && end[1])
			end++;
		if (end != start)
			memmove(start, end, strlen(end) + 1);
		n = (int)strlen(tmp);
	}
	if ((size_t)n > size)
		return 0;
	memcpy(buf, tmp, (size_t)n);
	return (size_t)n;
}

void rt_json_write_real(rt_json_writer *w, double v)
{
	char r[64];
	size_t n = rt_json_format_real(v, r, sizeof r);

	if (!n)
		w->failed = 1;
	else
		rt_json_put(w, r, n);
}

void rt_json_write_bool(rt_json_writer *w, int v)
{
	if (v)
		rt_json_put(w, "true", 4);
	else
		rt_json_put(w, "false", 5);
}

void rt_json_write_null(rt_json_writer *w)
{
	rt_json_put(w, "null", 4);
}

void rt_json_write_json(rt_json_writer *w, const char *text)
{
	RT_ARENA_ON_STACK(arena, 512);
	rt_jread r;
	size_t len = strlen(text);
	int ok;

	rt_jread_init(&r, text, len, &arena, 0);
	ok = rt_jread_skip(&r) == 0 && rt_jread_next(&r) == RT_JR_END;
	rt_arena_free(&arena);
	if (!ok) {
		w->failed = 1;
		return;
	}
	rt_json_put(w, text, len);
}

void rt_json_write_value(rt_json_writer *w, const json_t *v)
{
	if (!v)
		rt_json_put(w, "null", 4);
	else if (rt_json_value(w, v, 0) != 0)
		w->failed = 1;
}

void rt_json_write_text(rt_json_writer *w, const char *s)
{
	if (!s)
		w->failed = 1;
	else
		rt_json_write_string(w, s, strlen(s));
}

int rt_json_as_int64(const json_t *v, int64_t *out)
{
	double d;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (!json_is_real(v))
		return -1;
	d = json_real_value(v); /* 1.0 is an integer to JSON Schema */
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != (double)(int64_t)d)
		return -1;
	*out = (int64_t)d;
	return 0;
}

int rt_json_as_double(const json_t *v, double *out)
{
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return 0;
}

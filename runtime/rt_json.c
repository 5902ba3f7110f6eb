/* rt_json.c — compact JSON text of a jansson value (see rt_json.h). */
#include "rt_json.h"

#include <stdint.h>
#include <string.h>

typedef struct rt_json_out {
	char *buf;
	size_t size;
	size_t used;    /* may run past size: the length needed */
} rt_json_out;

static void rt_json_put(rt_json_out *o, const char *s, size_t n)
{
	if (o->used < o->size)
		memcpy(o->buf + o->used, s, o->used + n <= o->size ? n : o->size - o->used);
	o->used += n;
}

static void rt_json_putc(rt_json_out *o, char c)
{
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
			i++;
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
	rt_json_out o = { buf, size, 0 };

	return rt_json_value(&o, v, 0) == 0 ? o.used : 0;
}

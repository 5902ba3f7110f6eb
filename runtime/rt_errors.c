/* rt_errors.c — the violation list. */
#include "rt_errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rt_errors_init(rt_errors *e)
{
	memset(e, 0, sizeof *e);
}

void rt_errors_truncate(rt_errors *e, size_t n)
{
	while (e->n > n) {
		e->n--;
		free(e->v[e->n].pointer);
		free(e->v[e->n].message);
	}
}

void rt_errors_free(rt_errors *e)
{
	rt_errors_truncate(e, 0);
	free(e->v);
	rt_errors_init(e);
}

int rt_errors_add(rt_errors *e, const char *pointer, const char *keyword, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	char *ptr = NULL;

	if (e->n >= RT_ERRORS_MAX) {
		e->truncated = 1;
		return -1;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		rt_error *v = realloc(e->v, cap * sizeof *v);
		if (!v)
			return -1;
		e->v = v;
		e->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	ptr = strdup(pointer ? pointer : "");
	if (!msg || !ptr) {
		free(msg);
		free(ptr);
		return -1;
	}
	e->v[e->n].pointer = ptr;
	e->v[e->n].keyword = keyword;
	e->v[e->n].message = msg;
	e->n++;
	return 0;
}

void rt_errors_move(rt_errors *dst, rt_errors *src)
{
	for (size_t i = 0; i < src->n; i++) {
		if (dst->n >= RT_ERRORS_MAX) {
			dst->truncated = 1;
			break;
		}
		if (dst->n == dst->cap) {
			size_t cap = dst->cap ? dst->cap * 2 : 8;
			rt_error *v = realloc(dst->v, cap * sizeof *v);
			if (!v)
				break;
			dst->v = v;
			dst->cap = cap;
		}
		dst->v[dst->n++] = src->v[i];
		src->v[i].pointer = NULL;
		src->v[i].message = NULL;
	}
	if (src->truncated)
		dst->truncated = 1;
	for (size_t i = 0; i < src->n; i++) {
		free(src->v[i].pointer);
		free(src->v[i].message);
	}
	src->n = 0;
}

json_t *rt_errors_to_json(const rt_errors *e)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < e->n; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "pointer", e->v[i].pointer,
		                                   "keyword", e->v[i].keyword, "message", e->v[i].message));
	return a;
}

char *rt_pointer_join(const char *base, const char *name)
{
	size_t bl = strlen(base), extra = 0;
	char *out, *p;

	for (const char *s = name; *s; s++)
		extra += (*s == '~' || *s == '/') ? 2 : 1;
	out = malloc(bl + 1 + extra + 1);
	if (!out)
		return NULL;
	memcpy(out, base, bl);
	p = out + bl;
	*p++ = '/';
	for (const char *s = name; *s; s++) {
		if (*s == '~') {
			*p++ = '~';
			*p++ = '0';
		} else if (*s == '/') {
			*p++ = '~';
			*p++ = '1';
		} else {
			*p++ = *s;
		}
	}
	*p = '\0';
	return out;
}

char *rt_pointer_join_index(const char *base, size_t index)
{
	char *out = NULL;

	if (asprintf(&out, "%s/%zu", base, index) < 0)
		return NULL;
	return out;
}

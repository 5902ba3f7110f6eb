/* rt_value.c — see rt_value.h. */
#include "rt_value.h"

#include <stdlib.h>
#include <string.h>

/* ---- the builder: a reader's sink ---- */

struct rt_value_open {
	size_t slot; /* where the container goes: its member in b->v, or SIZE_MAX for the root */
	size_t base; /* its first member in b->v */
	int object;
};

/* A new member of the innermost open container (its key the last name
   read when that is an object): its index in b->v, or SIZE_MAX. */
static size_t rv_member(rt_value_builder *b)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		rt_value_member *v = realloc(b->v, cap * sizeof *v);
		if (v == NULL)
			return SIZE_MAX;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n].key = b->open[b->nopen - 1].object ? b->key : (rt_str){ NULL, 0 };
	return b->n++;
}

/* v where the next value goes: the root, or a member */
static int rv_place(rt_value_builder *b, const rt_value *v)
{
	size_t at;

	if (b->nopen == 0) {
		if (b->done)
			return -1;
		b->root = *v;
		b->done = 1;
		return 0;
	}
	if ((at = rv_member(b)) == SIZE_MAX)
		return -1;
	b->v[at].value = *v;
	return 0;
}

static int rv_begin(rt_value_builder *b, int object)
{
	size_t slot = SIZE_MAX;

	if (b->nopen == 0 && b->done)
		return -1;
	if (b->nopen && (slot = rv_member(b)) == SIZE_MAX)
		return -1;
	if (b->nopen == b->capopen) {
		size_t cap = b->capopen ? b->capopen * 2 : 16;
		rt_value_open *o = realloc(b->open, cap * sizeof *o);
		if (o == NULL)
			return -1;
		b->open = o;
		b->capopen = cap;
	}
	b->open[b->nopen++] = (rt_value_open){ slot, b->n, object };
	return 0;
}

/* The innermost container closes: its members move into one arena run. */
static int rv_end(rt_value_builder *b)
{
	rt_value_open o;
	rt_value v;
	size_t n;

	if (b->nopen == 0)
		return -1;
	o = b->open[--b->nopen];
	n = b->n - o.base;
	if (o.object) {
		v.type = RT_V_OBJECT;
		v.u.object.n = n;
		v.u.object.v = n ? rt_arena_alloc(b->a, n * sizeof(rt_value_member)) : NULL;
		if (n && v.u.object.v == NULL)
			return -1;
		if (n)
			memcpy(v.u.object.v, b->v + o.base, n * sizeof(rt_value_member));
	} else {
		v.type = RT_V_ARRAY;
		v.u.array.n = n;
		v.u.array.v = n ? rt_arena_alloc(b->a, n * sizeof(rt_value)) : NULL;
		if (n && v.u.array.v == NULL)
			return -1;
		for (size_t k = 0; k < n; k++)
			v.u.array.v[k] = b->v[o.base + k].value;
	}
	b->n = o.base;
	if (o.slot == SIZE_MAX) {
		b->root = v;
		b->done = 1;
	} else {
		b->v[o.slot].value = v;
	}
	return 0;
}

static int rv_token(rt_jread_sink *s, const rt_jread *r, int tok)
{
	rt_value_builder *b = (rt_value_builder *)s;
	rt_value v;

	switch (tok) {
	case RT_JR_NAME: b->key = (rt_str){ r->str, r->len }; return 0;
	case RT_JR_OBJECT_BEGIN: return rv_begin(b, 1);
	case RT_JR_ARRAY_BEGIN: return rv_begin(b, 0);
	case RT_JR_OBJECT_END:
	case RT_JR_ARRAY_END: return rv_end(b);
	case RT_JR_NULL: v.type = RT_V_NULL; break;
	case RT_JR_TRUE: v.type = RT_V_TRUE; break;
	case RT_JR_FALSE: v.type = RT_V_FALSE; break;
	case RT_JR_INTEGER: v.type = RT_V_INTEGER; v.u.i = r->i; break;
	case RT_JR_REAL: v.type = RT_V_REAL; v.u.d = r->d; break;
	case RT_JR_STRING: v.type = RT_V_STRING; v.u.str = (rt_str){ r->str, r->len }; break;
	default: return -1;
	}
	return rv_place(b, &v);
}

void rt_value_builder_init(rt_value_builder *b, rt_arena *a)
{
	memset(b, 0, sizeof *b);
	b->sink.token = rv_token;
	b->a = a;
}

int rt_value_builder_end(rt_value_builder *b, const rt_value **out)
{
	rt_value *v;

	*out = NULL;
	if (!b->done || b->nopen != 0 || (v = rt_arena_alloc(b->a, sizeof *v)) == NULL)
		return -1;
	*v = b->root;
	*out = v;
	return 0;
}

void rt_value_builder_free(rt_value_builder *b)
{
	free(b->v);
	free(b->open);
	b->v = NULL;
	b->open = NULL;
	b->n = b->cap = b->nopen = b->capopen = 0;
}

/* ---- from text read before, from json_t ---- */

int rt_value_read(const char *buf, size_t len, rt_arena *a, const rt_value **out)
{
	rt_value_builder b;
	rt_jread r;
	int t, rc = -1;

	*out = NULL;
	rt_value_builder_init(&b, a);
	rt_jread_init(&r, buf, len, a, 0);
	rt_jread_trust(&r, NULL);
	rt_jread_sink_set(&r, &b.sink);
	while ((t = rt_jread_next(&r)) != RT_JR_END)
		if (t == RT_JR_ERROR)
			goto cleanup;
	rc = rt_value_builder_end(&b, out);
cleanup:
	rt_value_builder_free(&b);
	return rc;
}

static int rt_value_json(const json_t *j, rt_arena *a, rt_value *out)
{
	size_t n = 0, k = 0;
	const char *key;
	json_t *m;

	switch (json_typeof(j)) {
	case JSON_NULL: out->type = RT_V_NULL; return 0;
	case JSON_TRUE: out->type = RT_V_TRUE; return 0;
	case JSON_FALSE: out->type = RT_V_FALSE; return 0;
	case JSON_INTEGER: out->type = RT_V_INTEGER; out->u.i = json_integer_value(j); return 0;
	case JSON_REAL: out->type = RT_V_REAL; out->u.d = json_real_value(j); return 0;
	case JSON_STRING:
		out->type = RT_V_STRING;
		n = json_string_length(j);
		out->u.str.len = n;
		out->u.str.s = rt_arena_strndup(a, json_string_value(j), n);
		return out->u.str.s ? 0 : -1;
	case JSON_ARRAY:
		n = json_array_size(j);
		out->type = RT_V_ARRAY;
		out->u.array.n = n;
		out->u.array.v = n ? rt_arena_alloc(a, n * sizeof(rt_value)) : NULL;
		if (n && out->u.array.v == NULL)
			return -1;
		json_array_foreach(j, k, m)
			if (rt_value_json(m, a, &out->u.array.v[k]) != 0)
				return -1;
		return 0;
	case JSON_OBJECT:
		n = json_object_size(j);
		out->type = RT_V_OBJECT;
		out->u.object.n = n;
		out->u.object.v = n ? rt_arena_alloc(a, n * sizeof(rt_value_member)) : NULL;
		if (n && out->u.object.v == NULL)
			return -1;
		json_object_foreach((json_t *)j, key, m) {
			rt_value_member *e = &out->u.object.v[k++];
			e->key.len = strlen(key); /* jansson's keys here hold no NUL (rt_jread refuses \u0000) */
			if ((e->key.s = rt_arena_strndup(a, key, e->key.len)) == NULL || rt_value_json(m, a, &e->value) != 0)
				return -1;
		}
		return 0;
	}
	return -1;
}

int rt_value_from_json(const json_t *j, rt_arena *a, const rt_value **out)
{
	rt_value *v = rt_arena_alloc(a, sizeof *v);

	*out = NULL;
	if (v == NULL || j == NULL || rt_value_json(j, a, v) != 0)
		return -1;
	*out = v;
	return 0;
}

const rt_value *rt_value_getn(const rt_value *v, const char *key, size_t n)
{
	if (v == NULL || v->type != RT_V_OBJECT)
		return NULL;
	for (size_t k = 0; k < v->u.object.n; k++) {
		const rt_value_member *e = &v->u.object.v[k];
		if (e->key.len == n && memcmp(e->key.s, key, n) == 0)
			return &e->value;
	}
	return NULL;
}

const rt_value *rt_value_get(const rt_value *v, const char *key)
{
	return rt_value_getn(v, key, strlen(key));
}

json_t *rt_value_to_json(const rt_value *v)
{
	json_t *j = NULL, *c;

	switch (v->type) {
	case RT_V_NULL: return json_null();
	case RT_V_TRUE: return json_true();
	case RT_V_FALSE: return json_false();
	case RT_V_INTEGER: return json_integer(v->u.i);
	case RT_V_REAL: return json_real(v->u.d);
	case RT_V_STRING: return json_stringn_nocheck(v->u.str.s, v->u.str.len);
	case RT_V_ARRAY:
		if ((j = json_array()) == NULL)
			return NULL;
		for (size_t k = 0; k < v->u.array.n; k++)
			if ((c = rt_value_to_json(&v->u.array.v[k])) == NULL || json_array_append_new(j, c) != 0)
				goto fail;
		return j;
	case RT_V_OBJECT:
		if ((j = json_object()) == NULL)
			return NULL;
		for (size_t k = 0; k < v->u.object.n; k++) {
			const rt_value_member *e = &v->u.object.v[k];
			if ((c = rt_value_to_json(&e->value)) == NULL || json_object_setn_new_nocheck(j, e->key.s, e->key.len, c) != 0)
				goto fail;
		}
		return j;
	}
	return NULL;
fail:
	json_decref(j);
	return NULL;
}

/* rt_value.c — see rt_value.h. */
#include "rt_value.h"

#include <stdlib.h>
#include <string.h>

#include "rt_jread.h"

/* The values of the containers being read, innermost last: a container's
 * members (or elements, in .value) are pushed here as they are read, then
 * moved into one arena run when it closes. Malloc'd, freed after the read. */
typedef struct rt_value_stack {
	rt_value_member *v;
	size_t n, cap;
} rt_value_stack;

static int rt_value_push(rt_value_stack *st)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 64;
		rt_value_member *v = realloc(st->v, cap * sizeof *v);
		if (v == NULL)
			return -1;
		st->v = v;
		st->cap = cap;
	}
	st->n++;
	return 0;
}

/* The value whose first token is tok into *out; 0 or -1. */
static int rt_value_token(rt_jread *r, rt_arena *a, rt_value_stack *st, int tok, rt_value *out)
{
	size_t base = st->n, n;
	rt_value c;
	int t;

	switch (tok) {
	case RT_JR_NULL: out->type = RT_V_NULL; return 0;
	case RT_JR_TRUE: out->type = RT_V_TRUE; return 0;
	case RT_JR_FALSE: out->type = RT_V_FALSE; return 0;
	case RT_JR_INTEGER: out->type = RT_V_INTEGER; out->u.i = r->i; return 0;
	case RT_JR_REAL: out->type = RT_V_REAL; out->u.d = r->d; return 0;
	case RT_JR_STRING:
		out->type = RT_V_STRING;
		out->u.str = (rt_str){ r->str, r->len };
		return 0;
	case RT_JR_ARRAY_BEGIN:
		while ((t = rt_jread_next(r)) != RT_JR_ARRAY_END) {
			/* its slot first: the element's own elements go above it (and
			   may move the stack: the slot is found again by index) */
			size_t at = st->n;
			if (t == RT_JR_ERROR || rt_value_push(st) != 0 || rt_value_token(r, a, st, t, &c) != 0)
				return -1;
			st->v[at].value = c;
		}
		n = st->n - base;
		out->type = RT_V_ARRAY;
		out->u.array.n = n;
		out->u.array.v = n ? rt_arena_alloc(a, n * sizeof(rt_value)) : NULL;
		if (n && out->u.array.v == NULL)
			return -1;
		for (size_t k = 0; k < n; k++)
			out->u.array.v[k] = st->v[base + k].value;
		st->n = base;
		return 0;
	case RT_JR_OBJECT_BEGIN:
		while ((t = rt_jread_next(r)) == RT_JR_NAME) {
			size_t at = st->n;
			if (rt_value_push(st) != 0)
				return -1;
			st->v[at].key = (rt_str){ r->str, r->len };
			if (rt_value_token(r, a, st, rt_jread_next(r), &c) != 0)
				return -1;
			st->v[at].value = c;
		}
		if (t != RT_JR_OBJECT_END)
			return -1;
		n = st->n - base;
		out->type = RT_V_OBJECT;
		out->u.object.n = n;
		out->u.object.v = n ? rt_arena_alloc(a, n * sizeof(rt_value_member)) : NULL;
		if (n && out->u.object.v == NULL)
			return -1;
		if (n)
			memcpy(out->u.object.v, st->v + base, n * sizeof(rt_value_member));
		st->n = base;
		return 0;
	}
	return -1; /* RT_JR_ERROR, or a token no value starts with */
}

int rt_value_read(const char *buf, size_t len, rt_arena *a, const rt_value **out)
{
	rt_value_stack st = { 0 };
	rt_value *v = rt_arena_alloc(a, sizeof *v);
	rt_jread r;
	int rc = -1;

	*out = NULL;
	if (v == NULL)
		goto cleanup;
	rt_jread_init(&r, buf, len, a, 0);
	rt_jread_trust(&r, NULL);
	if (rt_value_token(&r, a, &st, rt_jread_next(&r), v) != 0 || rt_jread_next(&r) != RT_JR_END)
		goto cleanup;
	*out = v;
	rc = 0;
cleanup:
	free(st.v);
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

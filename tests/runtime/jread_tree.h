/* jread_tree.h — test helpers shared by tests/runtime and tests/fuzz: a
 * jansson tree built from rt_jread's tokens (as a generic parser on top of
 * the reader would), and a comparison of two trees stricter than
 * json_equal (a real's bits, so -0.0 is not 0.0; integer vs real).
 * Header-only (static functions): each includer uses all of them. */
#ifndef JREAD_TREE_H
#define JREAD_TREE_H

#include <string.h>
#include <jansson.h>

#include "rt_jread.h"

/* The value whose first token tok was just read: new, or NULL when the
   reader failed (r->err) or jansson ran out of memory. */
static json_t *jread_tree_value(rt_jread *r, int tok)
{
	json_t *v = NULL;
	int t;

	switch (tok) {
	case RT_JR_NULL: return json_null();
	case RT_JR_TRUE: return json_true();
	case RT_JR_FALSE: return json_false();
	case RT_JR_INTEGER: return json_integer(r->i);
	case RT_JR_REAL: return json_real(r->d);
	case RT_JR_STRING: return json_stringn(r->str, r->len);
	case RT_JR_ARRAY_BEGIN:
		v = json_array();
		while ((t = rt_jread_next(r)) != RT_JR_ARRAY_END) {
			json_t *e = jread_tree_value(r, t);
			if (e == NULL || json_array_append_new(v, e) != 0)
				goto fail;
		}
		return v;
	case RT_JR_OBJECT_BEGIN: {
		rt_jread_names seen = { 0 };
		v = json_object();
		while ((t = rt_jread_next(r)) == RT_JR_NAME) {
			const char *k = r->str;
			size_t kl = r->len;
			json_t *e;
			if (rt_jread_names_add(r, &seen) != 0)
				goto fail;
			e = jread_tree_value(r, rt_jread_next(r));
			if (e == NULL || json_object_setn_new(v, k, kl, e) != 0)
				goto fail;
		}
		if (t != RT_JR_OBJECT_END)
			goto fail;
		return v;
	}
	default:
		return NULL;
	}
fail:
	json_decref(v);
	return NULL;
}

/* The whole document of buf: new, or NULL (r->err says why). */
static json_t *jread_tree(rt_jread *r, const char *buf, size_t len, rt_arena *a)
{
	json_t *v;

	rt_jread_init(r, buf, len, a, 0);
	v = jread_tree_value(r, rt_jread_next(r));
	if (v != NULL && rt_jread_next(r) != RT_JR_END) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* 1 when a and b are the same value: same types, reals bit for bit. */
static int jread_tree_same(const json_t *a, const json_t *b)
{
	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a)) {
	case JSON_REAL: {
		double x = json_real_value(a), y = json_real_value(b);
		return memcmp(&x, &y, sizeof x) == 0;
	}
	case JSON_INTEGER: return json_integer_value(a) == json_integer_value(b);
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!jread_tree_same(json_array_get(a, i), json_array_get(b, i)))
				return 0;
		return 1;
	case JSON_OBJECT: {
		const char *k;
		size_t kl;
		json_t *v;
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_keylen_foreach((json_t *)a, k, kl, v) {
			json_t *w = json_object_getn(b, k, kl);
			if (w == NULL || !jread_tree_same(v, w))
				return 0;
		}
		return 1;
	}
	default: return 1;
	}
}

/* Only accepts or refuses buf, skipping the whole value: 1 accepted. */
static int jread_tree_skip_all(const char *buf, size_t len, rt_arena *a, rt_jread *r)
{
	rt_jread_init(r, buf, len, a, 0);
	return rt_jread_skip(r) == 0 && rt_jread_next(r) == RT_JR_END;
}

#endif

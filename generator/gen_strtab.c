/* gen_strtab.c — see gen_strtab.h. */
#include "gen_strtab.h"

#include <stdlib.h>
#include <string.h>

uint64_t gen_strtab_hash(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15u ^ n, w = 0;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdu;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
	return h ^ h >> 29;
}

/* The slot of key[0..n) (hash h): its own, or the free one it would take. */
static gen_strtab_slot *gen_strtab_find(const gen_strtab *t, const char *key, size_t n, uint64_t h)
{
	for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
		gen_strtab_slot *s = &t->v[i];
		if (!s->key || (s->hash == h && s->len == n && memcmp(s->key, key, n) == 0))
			return s;
	}
}

void *gen_strtab_get_h(const gen_strtab *t, const char *key, size_t len, uint64_t h)
{
	const gen_strtab_slot *s = t->v ? gen_strtab_find(t, key, len, h) : NULL;

	return s && s->key ? s->value : NULL;
}

void *gen_strtab_get(const gen_strtab *t, const char *key)
{
	size_t n = strlen(key);

	return gen_strtab_get_h(t, key, n, gen_strtab_hash(key, n));
}

/* Twice the slots, every key moved to its place among them. */
static int gen_strtab_grow(gen_strtab *t)
{
	size_t cap = t->v ? (t->mask + 1) * 2 : 64;
	gen_strtab old = *t;

	t->v = calloc(cap, sizeof *t->v);
	if (!t->v) {
		*t = old;
		return -1;
	}
	t->mask = cap - 1;
	for (size_t i = 0; old.v && i <= old.mask; i++)
		if (old.v[i].key)
			*gen_strtab_find(t, old.v[i].key, old.v[i].len, old.v[i].hash) = old.v[i];
	free(old.v);
	return 0;
}

int gen_strtab_put_h(gen_strtab *t, const char *key, size_t len, uint64_t h, void *value)
{
	gen_strtab_slot *s;

	/* at most three quarters of the slots taken: the runs stay short */
	if ((!t->v || 4 * (t->n + 1) > 3 * (t->mask + 1)) && gen_strtab_grow(t) != 0)
		return -1;
	s = gen_strtab_find(t, key, len, h);
	if (!s->key) {
		s->hash = h;
		s->key = key;
		s->len = len;
		t->n++;
	}
	s->value = value;
	return 0;
}

int gen_strtab_put(gen_strtab *t, const char *key, void *value)
{
	size_t n = strlen(key);

	return gen_strtab_put_h(t, key, n, gen_strtab_hash(key, n), value);
}

void gen_strtab_free(gen_strtab *t)
{
	free(t->v);
	t->v = NULL;
	t->mask = t->n = 0;
}

/* keycache.c — a fixed table of HMAC -> key, invalidated synchronously. */
#include "keycache.h"
#include "kmetrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#define KEYCACHE_STRIPES 64

/* Where a key's entry is: by key id modulo the table size, the last key put
   there and its slot (a key has one entry, at the slot of its HMAC).
   shared: another key id with the same index was put over it, so a key
   looked up here and not found may still be cached (forget then sweeps). */
typedef struct keycache_where {
	int64_t key_id;
	size_t slot;
	int shared;
} keycache_where;

typedef struct keycache_slot {
	unsigned char hash[STORE_HASH_LEN];
	keycache_entry e;
	time_t stored;
	int used;
} keycache_slot;

struct keycache {
	keycache_slot *slots;
	size_t mask;
	unsigned ttl;
	uint64_t epoch;                          /* bumped by every forget (atomic) */
	pthread_mutex_t stripe[KEYCACHE_STRIPES];
	/* key id -> slot, so that forgetting one key looks at its slot instead
	   of sweeping the table (50 revokes/s swept 65,536 slots each: 5% of
	   the server's time, bench-perf (e)); where_lock is taken inside a
	   stripe's lock, never around one */
	keycache_where *where;
	pthread_mutex_t where_lock;
};

int keycache_new(size_t slots, unsigned ttl, keycache **out)
{
	keycache *c;
	size_t n = 1;

	*out = NULL;
	if (ttl == 0)
		return -1;
	if (slots == 0)
		slots = 4096;
	while (n < slots || n < KEYCACHE_STRIPES)
		n <<= 1;
	c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	c->slots = calloc(n, sizeof *c->slots);
	c->where = calloc(n, sizeof *c->where);
	if (!c->slots || !c->where) {
		free(c->slots);
		free(c->where);
		free(c);
		return -1;
	}
	pthread_mutex_init(&c->where_lock, NULL);
	c->mask = n - 1;
	c->ttl = ttl;
	for (int i = 0; i < KEYCACHE_STRIPES; i++)
		pthread_mutex_init(&c->stripe[i], NULL);
	*out = c;
	return 0;
}

void keycache_free(keycache *c)
{
	if (!c)
		return;
	for (int i = 0; i < KEYCACHE_STRIPES; i++)
		pthread_mutex_destroy(&c->stripe[i]);
	pthread_mutex_destroy(&c->where_lock);
	gnutls_memset(c->slots, 0, (c->mask + 1) * sizeof *c->slots);
	free(c->slots);
	free(c->where);
	free(c);
}

/* The HMAC is uniformly distributed and unknown to clients without the
   server secret: its first bytes are a fair index. */
static size_t keycache_index(const keycache *c, const unsigned char hash[STORE_HASH_LEN])
{
	uint64_t v;

	memcpy(&v, hash, sizeof v);
	return (size_t)v & c->mask;
}

static pthread_mutex_t *keycache_lock_of(keycache *c, size_t i)
{
	return &c->stripe[i % KEYCACHE_STRIPES];
}

int keycache_get(keycache *c, const unsigned char hash[STORE_HASH_LEN], time_t now, keycache_entry *out)
{
	size_t i = keycache_index(c, hash);
	keycache_slot *s = &c->slots[i];
	int hit = 0;

	pthread_mutex_lock(keycache_lock_of(c, i));
	if (s->used && gnutls_memcmp(s->hash, hash, STORE_HASH_LEN) == 0) {
		if (now >= s->stored && now - s->stored < (time_t)c->ttl) {
			*out = s->e;
			hit = 1;
		} else {
			s->used = 0;
		}
	}
	pthread_mutex_unlock(keycache_lock_of(c, i));
	kmetrics_cache(KMETRICS_CACHE_KEY, hit);
	return hit;
}

uint64_t keycache_epoch(keycache *c)
{
	return __atomic_load_n(&c->epoch, __ATOMIC_SEQ_CST);
}

void keycache_put(keycache *c, const unsigned char hash[STORE_HASH_LEN], const keycache_entry *e,
                  uint64_t epoch, time_t now)
{
	size_t i = keycache_index(c, hash);
	keycache_slot *s = &c->slots[i];

	pthread_mutex_lock(keycache_lock_of(c, i));
	/* Checked under the slot's lock and where_lock: a forget bumps the
	   epoch under where_lock, so a put that saw the old epoch has recorded
	   where its entry is before that forget looks, and the forget then
	   waits for this slot's lock. */
	pthread_mutex_lock(&c->where_lock);
	if (keycache_epoch(c) == epoch) {
		keycache_where *w = &c->where[(uint64_t)e->key_id & c->mask];
		memcpy(s->hash, hash, STORE_HASH_LEN);
		s->e = *e;
		s->stored = now;
		s->used = 1;
		if (w->key_id != 0 && w->key_id != e->key_id)
			w->shared = 1;
		w->key_id = e->key_id;
		w->slot = i;
	}
	pthread_mutex_unlock(&c->where_lock);
	pthread_mutex_unlock(keycache_lock_of(c, i));
}

void keycache_forget(keycache *c, int64_t key_id)
{
	keycache_where w = { 0, 0, 1 };

	pthread_mutex_lock(&c->where_lock);
	__atomic_add_fetch(&c->epoch, 1, __ATOMIC_SEQ_CST);
	if (key_id > 0)
		w = c->where[(uint64_t)key_id & c->mask];
	pthread_mutex_unlock(&c->where_lock);
	if (key_id > 0 && w.key_id == key_id) {
		/* a key has one entry, at the slot of its HMAC */
		pthread_mutex_lock(keycache_lock_of(c, w.slot));
		if (c->slots[w.slot].used && c->slots[w.slot].e.key_id == key_id)
			c->slots[w.slot].used = 0;
		pthread_mutex_unlock(keycache_lock_of(c, w.slot));
		return;
	}
	if (key_id > 0 && !w.shared)
		return;   /* never put, and no other id was put over its record */
	for (size_t st = 0; st < KEYCACHE_STRIPES; st++) {
		pthread_mutex_lock(&c->stripe[st]);
		for (size_t i = st; i <= c->mask; i += KEYCACHE_STRIPES)
			if (c->slots[i].used && (key_id < 0 || c->slots[i].e.key_id == key_id))
				c->slots[i].used = 0;
		pthread_mutex_unlock(&c->stripe[st]);
	}
}

void keycache_forget_all(keycache *c)
{
	__atomic_add_fetch(&c->epoch, 1, __ATOMIC_SEQ_CST);
	for (size_t st = 0; st < KEYCACHE_STRIPES; st++) {
		pthread_mutex_lock(&c->stripe[st]);
		for (size_t i = st; i <= c->mask; i += KEYCACHE_STRIPES)
			c->slots[i].used = 0;
		pthread_mutex_unlock(&c->stripe[st]);
	}
}

/* keycache.c — a fixed table of HMAC -> key, invalidated synchronously. */
#include "keycache.h"
#include "bigmem.h"
#include "kmetrics.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#define KEYCACHE_STRIPES 64

/* Where a key's entry is: by key id modulo the table size, the last key put
   there and its slot (a key has one entry, in the set of its HMAC).
   shared: another key id with the same index was put over it, so a key
   looked up here and not found may still be cached (forget then sweeps). */
typedef struct keycache_where {
	int64_t key_id;
	size_t slot;
	int shared;
} keycache_where;

/* A slot holds an entry packed: the fields before name as they are, then
   the four texts (name, scopes, meta, owner) one after another, each with
   its NUL, in text (of KEYCACHE_INLINE bytes) or, when they do not fit, in
   big (allocated at the put, freed by the put that replaces it or at
   keycache_free). The whole entry is about 2.4 KiB, nearly all of it the
   texts' room; a key's texts are typically under a hundred bytes. Slots of
   whole entries made the table 160 MiB and every hit a 2.4 KiB copy from
   memory no cache held (perf: keycache_get was 2.4% of a verify). */
#define KEYCACHE_FIXED offsetof(keycache_entry, name)
#define KEYCACHE_INLINE 256
_Static_assert(offsetof(keycache_entry, scopes) == offsetof(keycache_entry, name) + STORE_NAME_CHARS * 4 + 1 &&
               offsetof(keycache_entry, meta) == offsetof(keycache_entry, scopes) + STORE_SCOPES_LEN &&
               offsetof(keycache_entry, owner) == offsetof(keycache_entry, meta) + STORE_META_LEN &&
               sizeof(keycache_entry) - offsetof(keycache_entry, owner) < STORE_OWNER_LEN + 8,
               "keycache_entry ends with name, scopes, meta and owner, in that order (the slot's packing)");

typedef struct keycache_slot {
	uint32_t seq;                             /* odd while a writer changes the slot (keycache_get) */
	unsigned char hash[STORE_HASH_LEN];
	time_t stored;
	int used;
	uint32_t held;                            /* > 0: young until this age (keycache_get_aged), ttl + grace at most */
	int64_t key_id;                           /* the entry's, for the forgets */
	uint16_t len[4];                          /* name, scopes, meta, owner: bytes without the NUL */
	char *big;                                /* the texts when they do not fit in text */
	unsigned char fixed[KEYCACHE_FIXED];
	char text[KEYCACHE_INLINE];
} __attribute__((aligned(64))) keycache_slot;   /* seq, hash, stored, used in its first cache line */
_Static_assert(offsetof(keycache_slot, key_id) + sizeof(int64_t) <= 64, "a slot's head is one cache line");

/* The entry's four texts, where the packing reads them. */
static char *keycache_texts(keycache_entry *e, size_t k)
{
	return k == 0 ? e->name : k == 1 ? e->scopes : k == 2 ? e->meta : e->owner;
}

/* Bytes of a slot's texts, with their NULs. */
static size_t keycache_text_bytes(const keycache_slot *s)
{
	return (size_t)s->len[0] + s->len[1] + s->len[2] + s->len[3] + 4;
}

static const size_t keycache_text_room[4] = { STORE_NAME_CHARS * 4 + 1, STORE_SCOPES_LEN, STORE_META_LEN,
                                              STORE_OWNER_LEN };

struct keycache {
	keycache_slot *slots;
	/* Each slot's tag, a set's four side by side (half a cache line): 0
	   for an empty slot, else bytes 8..15 of its HMAC made odd. A lookup
	   reads only the slot whose tag matches: the slots are 448 bytes
	   apart, and reading each way's HMAC until one matched cost a cache
	   miss per way once the table outgrew the caches (perf, bench-perf
	   (b), 10,000 keys: keycache_get 0.55 us of a request, against 0.02 us
	   with one hot key). A hint only, written with the slot: the slot's
	   read still checks `used` and the whole HMAC, so a stale tag costs a
	   look, and one not written yet a store read. */
	uint64_t *tags;
	size_t mask;
	unsigned ttl;
	uint64_t epoch;                          /* bumped by every forget (atomic) */
	/* a put since the last keycache_forget_all swept (under where_lock):
	   without one the table is empty, and a forget of everything is the
	   epoch's bump alone. While the store fails, every request forgets
	   everything (store_changed says "changed"), and each swept 65,536
	   slots: 119 us, some six times the request. */
	int dirty;
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
	while (n < slots || n < KEYCACHE_STRIPES * KEYCACHE_WAYS)
		n <<= 1;
	c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	/* zeroed as used, in huge pages (bigmem.h), and aligned: a slot's head
	   in one cache line, a set's 32 bytes of tags never across two */
	c->slots = bigmem_alloc(n * sizeof *c->slots);
	c->where = bigmem_alloc(n * sizeof *c->where);
	c->tags = bigmem_alloc(n * sizeof *c->tags);
	if (!c->slots || !c->where || !c->tags) {
		bigmem_free(c->slots, n * sizeof *c->slots);
		bigmem_free(c->where, n * sizeof *c->where);
		bigmem_free(c->tags, n * sizeof *c->tags);
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
	for (size_t i = 0; i <= c->mask; i++)
		if (c->slots[i].big) {
			gnutls_memset(c->slots[i].big, 0, keycache_text_bytes(&c->slots[i]));
			free(c->slots[i].big);
		}
	gnutls_memset(c->slots, 0, (c->mask + 1) * sizeof *c->slots);
	bigmem_free(c->tags, (c->mask + 1) * sizeof *c->tags);
	bigmem_free(c->slots, (c->mask + 1) * sizeof *c->slots);
	bigmem_free(c->where, (c->mask + 1) * sizeof *c->where);
	free(c);
}

/* The first slot of hash's set. The HMAC is uniformly distributed and
   unknown to clients without the server secret: its first bytes are a fair
   index. */
static size_t keycache_set(const keycache *c, const unsigned char hash[STORE_HASH_LEN])
{
	uint64_t v;

	memcpy(&v, hash, sizeof v);
	return (size_t)v & c->mask & ~(size_t)(KEYCACHE_WAYS - 1);
}

/* hash's tag (struct keycache): bytes the set index does not use, never 0 */
static uint64_t keycache_tag(const unsigned char hash[STORE_HASH_LEN])
{
	uint64_t v;

	memcpy(&v, hash + 8, sizeof v);
	return v | 1u;
}

/* The lock of slot i's set. */
static pthread_mutex_t *keycache_lock_of(keycache *c, size_t i)
{
	return &c->stripe[(i / KEYCACHE_WAYS) % KEYCACHE_STRIPES];
}

/* Brackets a change to slot s (its stripe's lock held): readers without
   the lock that overlap it try again (keycache_get). */
static void keycache_write_begin(keycache_slot *s)
{
	__atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void keycache_write_end(keycache_slot *s)
{
	__atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELEASE);
}

/* Slot i emptied, under its set's lock. */
static void keycache_empty(keycache *c, size_t i)
{
	keycache_write_begin(&c->slots[i]);
	c->slots[i].used = 0;
	keycache_write_end(&c->slots[i]);
	__atomic_store_n(&c->tags[i], 0, __ATOMIC_RELAXED);
}

/* Whether slot s was stored less than the ttl before now (a clock that
   went back makes nothing young). */
static int keycache_young(const keycache *c, const keycache_slot *s, time_t now)
{
	return now >= s->stored && (now - s->stored < (time_t)c->ttl || now - s->stored < (time_t)s->held);
}

/* Copies slot s's entry into out when it is the key of hash and younger
   than the ttl at now: 1; 2 when it is that key's but too old (or the
   clock went back); else 0. Under the slot's lock, or in a sequence
   read (keycache_get), where what it reads may be torn: then the lengths
   are only trusted as far as they fit, and the caller retries. */
static int keycache_copy(const keycache *c, const keycache_slot *s, const unsigned char hash[STORE_HASH_LEN],
                         time_t now, int may_be_big, keycache_entry *out)
{
	const char *t = may_be_big && s->big ? s->big : s->text;
	size_t total = 0;

	if (!s->used || gnutls_memcmp(s->hash, hash, STORE_HASH_LEN) != 0)
		return 0;
	if (!keycache_young(c, s, now))
		return 2;
	for (size_t k = 0; k < 4; k++) {
		if (s->len[k] >= keycache_text_room[k])
			return 0;
		total += s->len[k] + 1u;
	}
	if (t == s->text && total > KEYCACHE_INLINE)
		return 0;
	memcpy(out, s->fixed, KEYCACHE_FIXED);
	for (size_t k = 0; k < 4; k++) {
		char *d = keycache_texts(out, k);
		memcpy(d, t, s->len[k]);
		d[s->len[k]] = '\0';
		t += s->len[k] + 1;
	}
	return 1;
}

/* Slot s read without the lock (a sequence lock: every writer makes seq odd
   under the slot's lock, changes the slot, makes it even; a read that saw
   seq change, or odd, tries again): 1 a hit, 0 not hash's entry, -1 to be
   read under the lock (texts kept apart in big, which a put may free; an
   entry to drop; or a writer in the way every time). */
static int keycache_get_unlocked(const keycache *c, const keycache_slot *s, const unsigned char hash[STORE_HASH_LEN],
                                 time_t now, keycache_entry *out)
{
	for (int tries = 0; tries < 4; tries++) {
		uint32_t s1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		int big, hit;
		if (s1 & 1u)
			continue;
		big = __atomic_load_n(&s->big, __ATOMIC_RELAXED) != NULL;
		/* never s->big here: a put may free it */
		hit = !big ? keycache_copy(c, s, hash, now, 0, out)
		      : s->used && gnutls_memcmp(s->hash, hash, STORE_HASH_LEN) == 0 ? 2 : 0;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != s1)
			continue;
		return hit == 2 ? -1 : hit;
	}
	return -1;
}

/* Every line of s asked for at once: a hit reads the head, then copies the
   entry out of the lines after it, and with 10,000 keys each was a miss of
   its own, one after another (bench-perf (b)). */
static void keycache_prefetch(const keycache_slot *s)
{
	for (size_t o = 0; o < sizeof *s; o += 64)
		__builtin_prefetch((const char *)s + o, 0, 3);
}

/* keycache_get, and keycache_get_aged with grace > 0 (0 < hold <= grace). */
static int keycache_lookup(keycache *c, const unsigned char hash[STORE_HASH_LEN], time_t now, unsigned grace,
                           unsigned hold, keycache_entry *out)
{
	size_t set = keycache_set(c, hash);
	uint64_t tag = keycache_tag(hash);
	int hit = 0, locked = 0;

	/* the set's slot heads asked for with its tags: a hit reads the tags, then
	   one head, and each was a miss after the other */
	for (size_t w = 0; w < KEYCACHE_WAYS; w++)
		__builtin_prefetch(&c->slots[set + w], 0, 3);
	/* Without the lock first: every request looks its key up here, and a
	   gateway's own key, on every verify, always in the same set, made its
	   stripe's lock the most contended one. */
	for (size_t w = 0; w < KEYCACHE_WAYS; w++) {
		int r;
		if (__atomic_load_n(&c->tags[set + w], __ATOMIC_RELAXED) != tag)
			continue;
		keycache_prefetch(&c->slots[set + w]);
		r = keycache_get_unlocked(c, &c->slots[set + w], hash, now, out);
		if (r == 1) {
			kmetrics_cache(KMETRICS_CACHE_KEY, 1);
			return 1;
		}
		locked |= r < 0;
	}
	if (locked) {
		pthread_mutex_lock(keycache_lock_of(c, set));
		for (size_t w = 0; w < KEYCACHE_WAYS && hit == 0; w++) {
			keycache_slot *s = &c->slots[set + w];
			hit = keycache_copy(c, s, hash, now, 1, out);
			if (hit == 2 && grace > 0 && now >= s->stored && now - s->stored < (time_t)(c->ttl + grace)) {
				/* aged, within the grace: young again for hold seconds, so
				   that the uses meanwhile are hits, and this caller's to
				   read again (2) */
				time_t until = now - s->stored + (time_t)hold, most = (time_t)c->ttl + grace;
				keycache_write_begin(s);
				s->held = (uint32_t)(until < most ? until : most);
				keycache_write_end(s);
				hit = keycache_copy(c, s, hash, now, 1, out) == 1 ? 2 : 0;
				break;
			}
			if (hit == 2) {   /* too old: gone, even if the clock goes back */
				keycache_empty(c, set + w);
				hit = 0;
				break;
			}
		}
		pthread_mutex_unlock(keycache_lock_of(c, set));
	}
	kmetrics_cache(KMETRICS_CACHE_KEY, hit != 0);
	return hit;
}

int keycache_get(keycache *c, const unsigned char hash[STORE_HASH_LEN], time_t now, keycache_entry *out)
{
	return keycache_lookup(c, hash, now, 0, 0, out);
}

int keycache_get_aged(keycache *c, const unsigned char hash[STORE_HASH_LEN], time_t now, unsigned grace,
                      unsigned hold, keycache_entry *out)
{
	if (hold == 0 || grace > UINT32_MAX / 2 || hold > grace)
		grace = 0;
	return keycache_lookup(c, hash, now, grace, hold, out);
}

uint64_t keycache_epoch(keycache *c)
{
	return __atomic_load_n(&c->epoch, __ATOMIC_SEQ_CST);
}

/* The slot of set for hash's entry: the one holding it already, else an
   empty or aged one, else the one stored longest ago. Under the set's lock. */
static size_t keycache_way(const keycache *c, size_t set, const unsigned char hash[STORE_HASH_LEN], time_t now)
{
	size_t pick = set;

	for (size_t w = 0; w < KEYCACHE_WAYS; w++) {
		const keycache_slot *s = &c->slots[set + w];
		if (s->used && gnutls_memcmp(s->hash, hash, STORE_HASH_LEN) == 0)
			return set + w;
	}
	for (size_t w = 0; w < KEYCACHE_WAYS; w++) {
		const keycache_slot *s = &c->slots[set + w];
		if (!s->used || !keycache_young(c, s, now))
			return set + w;
		if (s->stored < c->slots[pick].stored)
			pick = set + w;
	}
	return pick;
}

void keycache_put(keycache *c, const unsigned char hash[STORE_HASH_LEN], const keycache_entry *e,
                  uint64_t epoch, time_t now)
{
	size_t set = keycache_set(c, hash), i;
	keycache_slot *s;
	uint16_t len[4];
	size_t total = 0;
	char *big = NULL, *old = NULL;
	size_t old_bytes = 0;
	const char *texts[4] = { e->name, e->scopes, e->meta, e->owner };

	for (size_t k = 0; k < 4; k++) {
		len[k] = (uint16_t)strnlen(texts[k], keycache_text_room[k] - 1);
		total += len[k] + 1u;
	}
	if (total > KEYCACHE_INLINE && (big = malloc(total)) == NULL)
		return;   /* not cached: the next use reads the store */
	pthread_mutex_lock(keycache_lock_of(c, set));
	i = keycache_way(c, set, hash, now);
	s = &c->slots[i];
	/* Checked under the slot's lock and where_lock: a forget bumps the
	   epoch under where_lock, so a put that saw the old epoch has recorded
	   where its entry is before that forget looks, and the forget then
	   waits for this slot's lock. */
	pthread_mutex_lock(&c->where_lock);
	if (keycache_epoch(c) == epoch) {
		keycache_where *w = &c->where[(uint64_t)e->key_id & c->mask];
		char *t;
		c->dirty = 1;
		keycache_write_begin(s);
		memcpy(s->hash, hash, STORE_HASH_LEN);
		memcpy(s->fixed, e, KEYCACHE_FIXED);
		old = s->big;
		old_bytes = keycache_text_bytes(s);
		s->big = big;
		s->key_id = e->key_id;
		big = NULL;
		t = s->big ? s->big : s->text;
		for (size_t k = 0; k < 4; k++) {
			memcpy(t, texts[k], len[k]);
			t[len[k]] = '\0';
			t += len[k] + 1;
			s->len[k] = len[k];
		}
		s->stored = now;
		s->held = 0;
		s->used = 1;
		keycache_write_end(s);
		__atomic_store_n(&c->tags[i], keycache_tag(hash), __ATOMIC_RELAXED);
		if (w->key_id != 0 && w->key_id != e->key_id)
			w->shared = 1;
		w->key_id = e->key_id;
		w->slot = i;
	}
	pthread_mutex_unlock(&c->where_lock);
	pthread_mutex_unlock(keycache_lock_of(c, set));
	free(big);   /* a forget ran since epoch: not put */
	if (old) {
		gnutls_memset(old, 0, old_bytes);
		free(old);
	}
}

/* Empties every slot of key_id (every slot: key_id < 0), stripe by stripe. */
static void keycache_sweep(keycache *c, int64_t key_id)
{
	for (size_t st = 0; st < KEYCACHE_STRIPES; st++) {
		pthread_mutex_lock(&c->stripe[st]);
		for (size_t set = st * KEYCACHE_WAYS; set <= c->mask; set += KEYCACHE_STRIPES * KEYCACHE_WAYS)
			for (size_t i = set; i < set + KEYCACHE_WAYS; i++)
				if (c->slots[i].used && (key_id < 0 || c->slots[i].key_id == key_id))
					keycache_empty(c, i);
		pthread_mutex_unlock(&c->stripe[st]);
	}
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
		/* a key has one entry, in the set of its HMAC, at the slot recorded */
		pthread_mutex_lock(keycache_lock_of(c, w.slot));
		keycache_slot *s = &c->slots[w.slot];
		if (s->used && s->key_id == key_id)
			keycache_empty(c, w.slot);
		pthread_mutex_unlock(keycache_lock_of(c, w.slot));
		return;
	}
	if (key_id > 0 && !w.shared)
		return;   /* never put, and no other id was put over its record */
	keycache_sweep(c, key_id);
}

void keycache_forget_all(keycache *c)
{
	int dirty;

	/* under where_lock, where a put checks the epoch: a put either ran
	   before (dirty is set, and the sweep waits for its slot's lock) or
	   sees the new epoch and puts nothing */
	pthread_mutex_lock(&c->where_lock);
	__atomic_add_fetch(&c->epoch, 1, __ATOMIC_SEQ_CST);
	dirty = c->dirty;
	c->dirty = 0;
	pthread_mutex_unlock(&c->where_lock);
	if (dirty)
		keycache_sweep(c, -1);
}

/* keycache.h — the authentication cache of the key service: which key (and
 * owner) an HMAC of a token belongs to, so that a repeated request with the
 * same key needs no SQL.
 *
 * Only positive answers are kept (an unknown, inactive, revoked or deleted
 * key always goes to the store), and nothing secret: the entry is the
 * HMAC-SHA-256 the store holds anyway, the key's ids, uuid and attributes. A hit still
 * compares the whole HMAC in constant time.
 *
 * Invalidation is synchronous: keycache_forget() removes every entry of a
 * key before the state change that calls it returns, so the next request
 * with that key goes to the store. A lookup that began before a forget
 * cannot put a stale entry back: keycache_epoch() is taken before the store
 * is read and keycache_put() drops the entry if any forget happened since.
 * Changes made to the database by another process are seen by the key
 * service (store_changed), which then empties the cache (keycache_forget_all);
 * entries also age out after `ttl` seconds.
 *
 * Fixed size, four-way set-associative on the HMAC, striped locks. A slot keeps an
 * entry's texts packed in a few hundred bytes of its own; only an entry whose
 * texts do not fit (a long meta) allocates them, at the put.  Thread-safe. The caller passes `now` (unix seconds), so
 * tests can move the clock.
 */
#ifndef KEYCACHE_H
#define KEYCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "store.h"

/* A key's entry is in one of the KEYCACHE_WAYS slots of the set its HMAC
   picks (adjacent slots, one lock). Direct-mapped, 10,000 keys in 65,536
   slots had 14% of them sharing a slot with another and evicting it in
   turn: 7% of requests went to the store, bench-perf (b); in sets of two,
   the 1% of sets three or more keys fell in still sent 3-5% (200-500
   lookups a second at 8,000 req/s), in sets of four 0.15%. */
#define KEYCACHE_WAYS 4

typedef struct keycache keycache;

typedef struct keycache_entry {
	int64_t key_id;
	int64_t user_id;
	char key_uuid[37];
	/* what the key service decides on each hit without the store: an entry
	   is only ever an active, unrevoked key, but its expiry, scopes and rate
	   limit are checked on every hit, and the uses of a key whose uses are
	   counted (counted) always go to the store (keysvc.c) */
	int active;
	int family;
	char role[8];
	int64_t created;
	int64_t expires_at;
	int counted;
	int64_t rl_limit, rl_window;
	char name[STORE_NAME_CHARS * 4 + 1];
	char scopes[STORE_SCOPES_LEN];
	char meta[STORE_META_LEN];
	char owner[STORE_OWNER_LEN];
} keycache_entry;

/* slots: rounded up to a power of two (0 = 4096); ttl in seconds (> 0). */
int keycache_new(size_t slots, unsigned ttl, keycache **out);
void keycache_free(keycache *c);

/* 1 and *out filled when hash is cached and younger than ttl; else 0. */
int keycache_get(keycache *c, const unsigned char hash[STORE_HASH_LEN], time_t now, keycache_entry *out);
/* As keycache_get, and an entry aged past the ttl by less than grace
   seconds is handed out too, once: 2 and *out filled, the entry young
   again for hold seconds (hold <= grace), so that the other uses meanwhile
   are hits while the one caller that got 2 reads the key again and puts it
   back (or forgets it); unrefreshed, it is handed out so again each hold.
   From ttl + grace after its put, or with the clock gone back, the entry
   is gone and the answer 0, as keycache_get's. */
int keycache_get_aged(keycache *c, const unsigned char hash[STORE_HASH_LEN], time_t now, unsigned grace,
                      unsigned hold, keycache_entry *out);
/* Snapshot to take before reading the store for a later keycache_put. */
uint64_t keycache_epoch(keycache *c);
/* Caches e under hash unless a keycache_forget ran since `epoch`. */
void keycache_put(keycache *c, const unsigned char hash[STORE_HASH_LEN], const keycache_entry *e,
                  uint64_t epoch, time_t now);
/* Removes every entry of key_id (key_id < 0: every entry); returns once
 * none is left. */
void keycache_forget(keycache *c, int64_t key_id);
/* Removes every entry (another process changed the database). */
void keycache_forget_all(keycache *c);

#endif

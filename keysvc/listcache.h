/* listcache.h — the key service's cache of whole key lists: one owner's
 * keys of one family (with or without the revoked ones), as the store last
 * returned them, so that listing again needs no SQL.
 *
 * Invalidation is synchronous and per owner: every write to an owner's keys
 * (create, activate, deactivate, revoke, delete, a last_used update) calls
 * listcache_forget_user() before it returns, so the next list reads the
 * store. A list read from the store before such a write cannot be put back
 * afterwards: listcache_epoch() is taken before the store read and
 * listcache_put() drops the list if the owner was forgotten since. Changes
 * made by another process empty it (listcache_forget_all, when the key
 * service sees them); entries also age out after `ttl` seconds.
 *
 * Bounded: an owner's lists share one group of slots (one lock, one epoch),
 * a group's slots are shared by the owners whose ids fall in it, and the
 * least recently used list makes room; lists longer than max_keys are not
 * kept, nor any beyond max_rows rows in all; families 0..7 only. Thread-safe. The caller passes `now` (unix seconds).
 */
#ifndef LISTCACHE_H
#define LISTCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "store.h"

typedef struct listcache listcache;

/* groups (of 16 lists each): rounded up to a power of two; ttl > 0. */
int listcache_new(size_t groups, size_t max_keys, size_t max_rows, unsigned ttl, listcache **out);
void listcache_free(listcache *c);

/* 1 on a hit (2: an aged list, listcache_set_grace): *out is a new copy
   (free()), *n its length (0: *out NULL). */
int listcache_get(listcache *c, int64_t user, int family, int include_revoked, time_t now, store_key **out,
                  size_t *n);
/* 1 on a hit (2: an aged list, listcache_set_grace): fn(ctx, k) on each of
 * the list's first max keys (max 0: all) in order, until fn answers
 * nonzero (*rc: that answer, else 0). fn runs outside the cache's locks,
 * on a copy of each key that lasts until fn returns; no array of the list
 * is made. */
int listcache_each(listcache *c, int64_t user, int family, int include_revoked, time_t now, size_t max,
                   int (*fn)(void *ctx, const store_key *k), void *ctx, int *rc);
/* From now on a list past the ttl by less than grace seconds is a hit too,
 * once answered 2 (listcache_get, listcache_each: its caller reads it again
 * and puts it back) and then held young for hold seconds (hold <= grace;
 * again each hold while no put comes); from ttl + grace after its put it is
 * gone. grace 0 (the default): a list past the ttl is gone. */
void listcache_set_grace(listcache *c, unsigned grace, unsigned hold);
/* Snapshot to take before reading the store for a later listcache_put. */
uint64_t listcache_epoch(listcache *c, int64_t user);
/* Keeps a copy of v[0..n) unless user was forgotten since `epoch`. */
void listcache_put(listcache *c, int64_t user, int family, int include_revoked, const store_key *v, size_t n,
                   uint64_t epoch, time_t now);
/* key_id's last_used is now when: user's lists that hold it are updated in
 * place (one that cannot be repacked is dropped); fills in flight are not
 * kept (the epoch moves, as for a forget). */
void listcache_touch(listcache *c, int64_t user, int64_t key_id, int64_t when);
/* The first line of user's group on its way into the CPU's cache (a hint:
   the caller is likely to ask for one of user's lists soon). */
void listcache_prefetch(listcache *c, int64_t user);
/* Drops every list of user (user < 0: of every owner). */
void listcache_forget_user(listcache *c, int64_t user);
/* Drops every list (another process changed the database). */
void listcache_forget_all(listcache *c);

#endif

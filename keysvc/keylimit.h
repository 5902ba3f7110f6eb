/* keylimit.h — the per-key rate limit of the apikeyd API: at most `limit`
 * uses of a key in each fixed window of `window` seconds (windows start at
 * multiples of `window` since the epoch, so every node cuts them alike).
 *
 * The state is this process's own (per node): N nodes behind a load
 * balancer grant up to N times the limit. Sharing it would take a counter
 * all nodes reach (PostgreSQL: a keyed row incremented per use, or a Redis
 * INCR with expiry) at one round trip per use; README.md says so.
 *
 * Fixed size, no allocation after keylimit_new: slots direct-mapped on the
 * key id, tagged with it, striped locks. Two keys in use at once whose ids
 * share a slot take it from each other, and a key that finds its slot taken
 * starts a fresh count: with more rate-limited keys in use than slots a key
 * may get more than its limit, never less. Thread-safe; the caller passes
 * `now` (the key service's clock, which tests move).
 */
#ifndef KEYLIMIT_H
#define KEYLIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct keylimit keylimit;

/* slots: rounded up to a power of two (0 = 65536). */
int keylimit_new(size_t slots, keylimit **out);
void keylimit_free(keylimit *l);

/* One use of key_id at now: 1 (allowed, counted) or 0 (over the limit, not
 * counted). *left: uses left in this window after it; *reset: when the
 * window ends (unix seconds). limit and window > 0. */
int keylimit_take(keylimit *l, int64_t key_id, int64_t limit, int64_t window, int64_t now, int64_t *left,
                  int64_t *reset);
/* Forgets key_id's count (its limit changed). */
void keylimit_forget(keylimit *l, int64_t key_id);

#endif

/* ratelimit.h — failed authentications per client, and which clients are
 * blocked (429 with Retry-After) after `limit` failures within `window`
 * seconds.
 *
 * A client is its address, grouped as one host usually holds it: an IPv4
 * address, an IPv6 /64 (an IPv4-mapped IPv6 address counts as the IPv4
 * one), or, for anything that does not parse, the text itself.
 *
 * Fixed size, no allocation after ratelimit_new: 8-way sets chosen by a
 * keyed hash (HMAC-SHA-256 under a per-process random key), so nobody can
 * pick addresses that land in one set. A block is never evicted: failures
 * from other addresses cannot lift it. When every way of a set is blocked,
 * a new client in that set goes untracked until one of the blocks ends.
 *
 * Thread-safe. The caller passes `now` (unix seconds), so tests can move
 * the clock.
 */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <time.h>

typedef struct ratelimit ratelimit;

/* limit: failures that block (> 0); window: seconds (> 0). 0 or -1 (no memory, no randomness). */
int ratelimit_new(unsigned limit, unsigned window, ratelimit **out);
void ratelimit_free(ratelimit *r);

/* 1 when addr's client is blocked at now (*retry_after: seconds, >= 1); else 0. */
int ratelimit_blocked(ratelimit *r, const char *addr, time_t now, unsigned *retry_after);
/* Counts one failed authentication from addr. */
void ratelimit_fail(ratelimit *r, const char *addr, time_t now);

#endif

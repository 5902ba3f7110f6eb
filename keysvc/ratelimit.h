/* ratelimit.h — failed authentications per client, and which clients are
 * blocked (429 with Retry-After) after `limit` failures within `window`
 * seconds. Only failures are limited: the key service asks after a
 * credential failed, so a valid key authenticates from a blocked address.
 *
 * A client is its address, grouped as one host usually holds it: an IPv4
 * address, an IPv6 /64 (an IPv4-mapped IPv6 address counts as the IPv4
 * one), or, for anything that does not parse, the text itself.
 *
 * Fixed size, no allocation after ratelimit_new: 8-way sets chosen by a
 * keyed hash (HMAC-SHA-256 under a per-process random key), so nobody can
 * pick addresses that land in one set. A new client takes a free way, else
 * the unblocked way whose window started first; a block is never evicted,
 * so failures from other addresses cannot lift it. When every way of its
 * set is blocked, a client is counted in a shared bucket instead: one per
 * IPv4 /16 or IPv6 /32 (keyed-hashed into a fixed array, so distinct
 * prefixes may share one, which only blocks sooner), with the same limit
 * and window. Saturating the table therefore never stops the counting: a
 * fresh address is blocked within `limit` failures, perhaps at its first.
 *
 * Thread-safe. The caller passes `now` (unix seconds), so tests can move
 * the clock.
 */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <stddef.h>
#include <time.h>

typedef struct ratelimit ratelimit;

#define RATELIMIT_DEFAULT_CLIENTS 1024

/* limit: failures that block (> 0); window: seconds (> 0); 1024 clients.
   0 or -1 (no memory, no randomness). */
int ratelimit_new(unsigned limit, unsigned window, ratelimit **out);
/* The same with room for `clients` clients (rounded up to a multiple of 8;
   0 = RATELIMIT_DEFAULT_CLIENTS). */
int ratelimit_new_sized(unsigned limit, unsigned window, size_t clients, ratelimit **out);
void ratelimit_free(ratelimit *r);

/* 1 when addr's client is blocked at now (*retry_after: seconds, >= 1); else 0. */
int ratelimit_blocked(ratelimit *r, const char *addr, time_t now, unsigned *retry_after);
/* Counts one failed authentication from addr. */
void ratelimit_fail(ratelimit *r, const char *addr, time_t now);
/* One failed authentication from addr: when its client is already blocked,
   returns 1 with *retry_after (the failure is answered 429 and not counted,
   so the block keeps its end); else counts it and returns 0. */
int ratelimit_fail_check(ratelimit *r, const char *addr, time_t now, unsigned *retry_after);

#endif

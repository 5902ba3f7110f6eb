/* ratelimit.c — failed authentications per client; see ratelimit.h. */
#include "ratelimit.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#define RATELIMIT_WAYS 8
#define RATELIMIT_SHARED 256   /* buckets of /16s and /32s, for clients the table has no room for */
#define RATELIMIT_ID_MAX 64

/* A client, as ratelimit_client() derives it from an address. */
typedef struct ratelimit_id {
	unsigned char b[RATELIMIT_ID_MAX];
	size_t len;
} ratelimit_id;

typedef struct ratelimit_count {
	time_t window_start;
	unsigned failures;
	time_t blocked_until;
} ratelimit_count;

typedef struct ratelimit_entry {
	ratelimit_id id;          /* len 0: free */
	ratelimit_count c;
} ratelimit_entry;

struct ratelimit {
	pthread_mutex_t lock;
	unsigned limit, window;
	size_t sets;
	unsigned char key[32];
	ratelimit_count shared[RATELIMIT_SHARED];
	ratelimit_entry *e;       /* sets x RATELIMIT_WAYS */
};

int ratelimit_new_sized(unsigned limit, unsigned window, size_t clients, ratelimit **out)
{
	ratelimit *r;

	*out = NULL;
	if (limit == 0 || window == 0)
		return -1;
	if (clients == 0)
		clients = RATELIMIT_DEFAULT_CLIENTS;
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return -1;
	r->sets = (clients + RATELIMIT_WAYS - 1) / RATELIMIT_WAYS;
	r->e = calloc(r->sets * RATELIMIT_WAYS, sizeof *r->e);
	if (r->e == NULL || gnutls_rnd(GNUTLS_RND_RANDOM, r->key, sizeof r->key) != 0) {
		free(r->e);
		free(r);
		return -1;
	}
	pthread_mutex_init(&r->lock, NULL);
	r->limit = limit;
	r->window = window;
	*out = r;
	return 0;
}

int ratelimit_new(unsigned limit, unsigned window, ratelimit **out)
{
	return ratelimit_new_sized(limit, window, RATELIMIT_DEFAULT_CLIENTS, out);
}

void ratelimit_free(ratelimit *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->e);
	free(r);
}

/* The client an address belongs to: 4 bytes for IPv4 (also when mapped into
   IPv6), the first 8 bytes (/64) for IPv6, else the text (cut to fit). */
static void ratelimit_client(const char *addr, ratelimit_id *id)
{
	static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
	unsigned char a6[16];
	size_t n;

	memset(id, 0, sizeof *id);
	if (inet_pton(AF_INET, addr, id->b) == 1) {
		id->b[4] = 4;
		id->len = 5;
	} else if (inet_pton(AF_INET6, addr, a6) == 1) {
		if (memcmp(a6, mapped, sizeof mapped) == 0) {
			memcpy(id->b, a6 + 12, 4);
			id->b[4] = 4;
			id->len = 5;
		} else {
			memcpy(id->b, a6, 8);
			id->b[8] = 6;
			id->len = 9;
		}
	} else {
		n = strlen(addr);
		if (n > RATELIMIT_ID_MAX - 1)
			n = RATELIMIT_ID_MAX - 1;
		memcpy(id->b, addr, n);
		id->b[n] = 't';
		id->len = n + 1;
	}
}

/* The shared bucket's name: the IPv4 /16 or IPv6 /32 of a client (a text
   client is its own). Tagged so it never equals a client's id. */
static void ratelimit_coarse(const ratelimit_id *id, ratelimit_id *out)
{
	memset(out, 0, sizeof *out);
	if (id->len == 5 && id->b[4] == 4) {
		memcpy(out->b, id->b, 2);
		out->b[2] = 's';
		out->b[3] = 4;
		out->len = 4;
	} else if (id->len == 9 && id->b[8] == 6) {
		memcpy(out->b, id->b, 4);
		out->b[4] = 's';
		out->b[5] = 6;
		out->len = 6;
	} else {
		*out = *id;
	}
}

static uint32_t ratelimit_hash(const ratelimit *r, const ratelimit_id *id)
{
	unsigned char mac[32];
	uint32_t h;

	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, r->key, sizeof r->key, id->b, id->len, mac) != 0)
		memset(mac, 0, sizeof mac); /* cannot happen with SHA-256; set 0 still works, unkeyed */
	memcpy(&h, mac, sizeof h);
	return h;
}

static ratelimit_entry *ratelimit_find(ratelimit_entry *set, const ratelimit_id *id)
{
	for (int w = 0; w < RATELIMIT_WAYS; w++)
		if (set[w].id.len == id->len && memcmp(set[w].id.b, id->b, id->len) == 0)
			return &set[w];
	return NULL;
}

/* The way a new client takes: a free one, else the unblocked one whose
   window started first; NULL when every way is blocked. */
static ratelimit_entry *ratelimit_victim(ratelimit_entry *set, time_t now)
{
	ratelimit_entry *best = NULL;

	for (int w = 0; w < RATELIMIT_WAYS; w++) {
		if (set[w].id.len == 0)
			return &set[w];
		if (set[w].c.blocked_until > now)
			continue;
		if (best == NULL || set[w].c.window_start < best->c.window_start)
			best = &set[w];
	}
	return best;
}

/* Under the lock: the counter of addr's client — its way; else, with
   claim, a way it takes (NULL without claim: nothing counted yet); else,
   every way of its set blocked, the shared bucket of its /16 or /32. */
static ratelimit_count *ratelimit_locate(ratelimit *r, const ratelimit_id *id, time_t now, int claim)
{
	ratelimit_entry *set = &r->e[(ratelimit_hash(r, id) % r->sets) * RATELIMIT_WAYS], *e;
	ratelimit_id coarse;

	e = ratelimit_find(set, id);
	if (e != NULL)
		return &e->c;
	e = ratelimit_victim(set, now);
	if (e != NULL) {
		if (!claim)
			return NULL;
		memset(e, 0, sizeof *e);
		e->id = *id;
		e->c.window_start = now;
		return &e->c;
	}
	ratelimit_coarse(id, &coarse);
	return &r->shared[ratelimit_hash(r, &coarse) % RATELIMIT_SHARED];
}

static int ratelimit_count_blocked(const ratelimit_count *c, time_t now, unsigned *retry_after)
{
	if (c == NULL || c->blocked_until <= now)
		return 0;
	*retry_after = (unsigned)(c->blocked_until - now);
	return 1;
}

static void ratelimit_count_fail(const ratelimit *r, ratelimit_count *c, time_t now)
{
	if (now - c->window_start >= (time_t)r->window) {
		c->window_start = now;
		c->failures = 0;
	}
	if (++c->failures >= r->limit)
		c->blocked_until = now + r->window;
}

int ratelimit_blocked(ratelimit *r, const char *addr, time_t now, unsigned *retry_after)
{
	ratelimit_id id;
	int blocked;

	ratelimit_client(addr, &id);
	pthread_mutex_lock(&r->lock);
	blocked = ratelimit_count_blocked(ratelimit_locate(r, &id, now, 0), now, retry_after);
	pthread_mutex_unlock(&r->lock);
	return blocked;
}

int ratelimit_fail_check(ratelimit *r, const char *addr, time_t now, unsigned *retry_after)
{
	ratelimit_count *c;
	ratelimit_id id;
	int blocked;

	ratelimit_client(addr, &id);
	pthread_mutex_lock(&r->lock);
	c = ratelimit_locate(r, &id, now, 1);
	blocked = ratelimit_count_blocked(c, now, retry_after);
	if (!blocked)
		ratelimit_count_fail(r, c, now);
	pthread_mutex_unlock(&r->lock);
	return blocked;
}

void ratelimit_fail(ratelimit *r, const char *addr, time_t now)
{
	unsigned ra;

	(void)ratelimit_fail_check(r, addr, now, &ra);
}

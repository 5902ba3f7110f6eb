/* ratelimit.c — failed authentications per client; see ratelimit.h. */
#include "ratelimit.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#define RATELIMIT_SETS 128
#define RATELIMIT_WAYS 8
#define RATELIMIT_ID_MAX 64

/* A client, as ratelimit_client() derives it from an address. */
typedef struct ratelimit_id {
	unsigned char b[RATELIMIT_ID_MAX];
	size_t len;
} ratelimit_id;

typedef struct ratelimit_entry {
	ratelimit_id id;          /* len 0: free */
	time_t window_start;
	unsigned failures;
	time_t blocked_until;
} ratelimit_entry;

struct ratelimit {
	pthread_mutex_t lock;
	unsigned limit, window;
	unsigned char key[32];
	ratelimit_entry e[RATELIMIT_SETS][RATELIMIT_WAYS];
};

int ratelimit_new(unsigned limit, unsigned window, ratelimit **out)
{
	ratelimit *r;

	*out = NULL;
	if (limit == 0 || window == 0)
		return -1;
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return -1;
	if (gnutls_rnd(GNUTLS_RND_RANDOM, r->key, sizeof r->key) != 0) {
		free(r);
		return -1;
	}
	pthread_mutex_init(&r->lock, NULL);
	r->limit = limit;
	r->window = window;
	*out = r;
	return 0;
}

void ratelimit_free(ratelimit *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->lock);
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

static ratelimit_entry *ratelimit_set(ratelimit *r, const ratelimit_id *id)
{
	unsigned char mac[32];
	uint32_t h;

	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, r->key, sizeof r->key, id->b, id->len, mac) != 0)
		memset(mac, 0, sizeof mac); /* cannot happen with SHA-256; set 0 still works, unkeyed */
	memcpy(&h, mac, sizeof h);
	return r->e[h % RATELIMIT_SETS];
}

static ratelimit_entry *ratelimit_find(ratelimit_entry *set, const ratelimit_id *id)
{
	for (int w = 0; w < RATELIMIT_WAYS; w++)
		if (set[w].id.len == id->len && memcmp(set[w].id.b, id->b, id->len) == 0)
			return &set[w];
	return NULL;
}

int ratelimit_blocked(ratelimit *r, const char *addr, time_t now, unsigned *retry_after)
{
	ratelimit_entry *set, *e;
	ratelimit_id id;
	int blocked = 0;

	ratelimit_client(addr, &id);
	pthread_mutex_lock(&r->lock);
	set = ratelimit_set(r, &id);
	e = ratelimit_find(set, &id);
	if (e != NULL && e->blocked_until > now) {
		blocked = 1;
		*retry_after = (unsigned)(e->blocked_until - now);
	}
	pthread_mutex_unlock(&r->lock);
	return blocked;
}

/* The way a new client takes: a free one, else the unblocked one whose
   window started first; NULL when every way is blocked. */
static ratelimit_entry *ratelimit_victim(ratelimit_entry *set, time_t now)
{
	ratelimit_entry *best = NULL;

	for (int w = 0; w < RATELIMIT_WAYS; w++) {
		if (set[w].id.len == 0)
			return &set[w];
		if (set[w].blocked_until > now)
			continue;
		if (best == NULL || set[w].window_start < best->window_start)
			best = &set[w];
	}
	return best;
}

void ratelimit_fail(ratelimit *r, const char *addr, time_t now)
{
	ratelimit_entry *set, *e;
	ratelimit_id id;

	ratelimit_client(addr, &id);
	pthread_mutex_lock(&r->lock);
	set = ratelimit_set(r, &id);
	e = ratelimit_find(set, &id);
	if (e == NULL) {
		e = ratelimit_victim(set, now);
		if (e == NULL)
			goto cleanup;
		memset(e, 0, sizeof *e);
		e->id = id;
		e->window_start = now;
	}
	if (now - e->window_start >= (time_t)r->window) {
		e->window_start = now;
		e->failures = 0;
	}
	if (++e->failures >= r->limit)
		e->blocked_until = now + r->window;
cleanup:
	pthread_mutex_unlock(&r->lock);
}

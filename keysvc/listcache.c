/* listcache.c — whole key lists per owner and family, forgotten per owner. */
#include "listcache.h"
#include "kmetrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Slots of one group: family * 2 + include_revoked, families 0..7. */
#define LISTCACHE_PER_GROUP 16

typedef struct listcache_slot {
	int64_t user;
	store_key *v;           /* NULL: empty slot (an empty list has v != NULL, n = 0) */
	size_t n;
	time_t stored;
} listcache_slot;

typedef struct listcache_group {
	pthread_mutex_t lock;
	uint64_t epoch;         /* bumped by every forget of an owner of this group */
	listcache_slot slot[LISTCACHE_PER_GROUP];
} listcache_group;

struct listcache {
	listcache_group *groups;
	size_t mask;
	size_t max_keys, max_rows;
	unsigned ttl;
	pthread_mutex_t rows_lock;
	size_t rows;            /* rows held in all slots */
};

int listcache_new(size_t groups, size_t max_keys, size_t max_rows, unsigned ttl, listcache **out)
{
	listcache *c;
	size_t n = 1;

	*out = NULL;
	if (ttl == 0)
		return -1;
	while (n < groups)
		n <<= 1;
	c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	c->groups = calloc(n, sizeof *c->groups);
	if (!c->groups) {
		free(c);
		return -1;
	}
	c->mask = n - 1;
	c->max_keys = max_keys;
	c->max_rows = max_rows;
	c->ttl = ttl;
	pthread_mutex_init(&c->rows_lock, NULL);
	for (size_t i = 0; i < n; i++)
		pthread_mutex_init(&c->groups[i].lock, NULL);
	*out = c;
	return 0;
}

void listcache_free(listcache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i <= c->mask; i++) {
		for (size_t s = 0; s < LISTCACHE_PER_GROUP; s++)
			free(c->groups[i].slot[s].v);
		pthread_mutex_destroy(&c->groups[i].lock);
	}
	pthread_mutex_destroy(&c->rows_lock);
	free(c->groups);
	free(c);
}

static listcache_group *listcache_group_of(listcache *c, int64_t user)
{
	uint64_t h = (uint64_t)user * 0x9E3779B97F4A7C15ull;   /* Fibonacci hashing */

	return &c->groups[(size_t)(h >> 32) & c->mask];
}

static int listcache_index(int family, int include_revoked)
{
	if (family < 0 || family * 2 + 1 >= LISTCACHE_PER_GROUP)
		return -1;
	return family * 2 + (include_revoked ? 1 : 0);
}

/* Empties a slot; the caller holds its group's lock. */
static void listcache_drop(listcache *c, listcache_slot *s)
{
	if (!s->v)
		return;
	pthread_mutex_lock(&c->rows_lock);
	c->rows -= s->n;
	pthread_mutex_unlock(&c->rows_lock);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

int listcache_get(listcache *c, int64_t user, int family, int include_revoked, time_t now, store_key **out,
                  size_t *n)
{
	int idx = listcache_index(family, include_revoked);
	listcache_group *g;
	listcache_slot *s;
	int hit = 0;

	*out = NULL;
	*n = 0;
	if (idx < 0)
		return 0;
	g = listcache_group_of(c, user);
	s = &g->slot[idx];
	pthread_mutex_lock(&g->lock);
	if (s->v && s->user == user) {
		if (now >= s->stored && now - s->stored < (time_t)c->ttl) {
			store_key *copy = s->n ? malloc(s->n * sizeof *copy) : NULL;
			if (copy || s->n == 0) {
				if (s->n)
					memcpy(copy, s->v, s->n * sizeof *copy);
				*out = copy;
				*n = s->n;
				hit = 1;
			}
		} else {
			listcache_drop(c, s);
		}
	}
	pthread_mutex_unlock(&g->lock);
	kmetrics_cache(KMETRICS_CACHE_LIST, hit);
	return hit;
}

uint64_t listcache_epoch(listcache *c, int64_t user)
{
	listcache_group *g = listcache_group_of(c, user);
	uint64_t e;

	pthread_mutex_lock(&g->lock);
	e = g->epoch;
	pthread_mutex_unlock(&g->lock);
	return e;
}

void listcache_put(listcache *c, int64_t user, int family, int include_revoked, const store_key *v, size_t n,
                   uint64_t epoch, time_t now)
{
	int idx = listcache_index(family, include_revoked);
	listcache_group *g;
	listcache_slot *s;
	store_key *copy;
	int room;

	if (idx < 0 || n > c->max_keys)
		return;
	/* an empty list is kept as a 1-byte allocation, so that v != NULL */
	copy = malloc(n ? n * sizeof *copy : 1);
	if (!copy)
		return;
	if (n)
		memcpy(copy, v, n * sizeof *copy);
	g = listcache_group_of(c, user);
	s = &g->slot[idx];
	pthread_mutex_lock(&g->lock);
	if (g->epoch != epoch) {
		pthread_mutex_unlock(&g->lock);
		free(copy);
		return;
	}
	listcache_drop(c, s);
	pthread_mutex_lock(&c->rows_lock);
	room = c->rows + n <= c->max_rows;
	if (room)
		c->rows += n;
	pthread_mutex_unlock(&c->rows_lock);
	if (room) {
		s->user = user;
		s->v = copy;
		s->n = n;
		s->stored = now;
		copy = NULL;
	}
	pthread_mutex_unlock(&g->lock);
	free(copy);
}

void listcache_forget_user(listcache *c, int64_t user)
{
	if (user < 0) {
		for (size_t gi = 0; gi <= c->mask; gi++) {
			listcache_group *g = &c->groups[gi];
			pthread_mutex_lock(&g->lock);
			g->epoch++;
			for (size_t i = 0; i < LISTCACHE_PER_GROUP; i++)
				if (g->slot[i].v)
					listcache_drop(c, &g->slot[i]);
			pthread_mutex_unlock(&g->lock);
		}
		return;
	}
	listcache_group *g = listcache_group_of(c, user);

	pthread_mutex_lock(&g->lock);
	g->epoch++;
	for (size_t i = 0; i < LISTCACHE_PER_GROUP; i++)
		if (g->slot[i].v && g->slot[i].user == user)
			listcache_drop(c, &g->slot[i]);
	pthread_mutex_unlock(&g->lock);
}

void listcache_forget_all(listcache *c)
{
	for (size_t i = 0; i <= c->mask; i++) {
		listcache_group *g = &c->groups[i];
		pthread_mutex_lock(&g->lock);
		g->epoch++;
		for (size_t k = 0; k < LISTCACHE_PER_GROUP; k++)
			if (g->slot[k].v)
				listcache_drop(c, &g->slot[k]);
		pthread_mutex_unlock(&g->lock);
	}
}

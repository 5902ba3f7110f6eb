/* listcache.c — whole key lists per owner and family, forgotten per owner. */
#include "listcache.h"
#include "bigmem.h"
#include "kmetrics.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A group is a set of LISTCACHE_WAYS slots, each holding any owner's list
   of one family (with or without the revoked keys): an owner's lists all sit
   in the group of its id, and the least recently used slot of the group
   makes room. (Slots used to be fixed per family, one owner per group and
   family: 10,000 owners over 1,024 groups missed 70% of their lists,
   bench-perf (b).) */
#define LISTCACHE_WAYS 16
#define LISTCACHE_FAMILIES 8    /* families 0..7 are kept */

typedef struct listcache_slot {
	int64_t user;
	int family, include_revoked;
	unsigned char *v;       /* the list packed (listcache_pack); NULL: empty slot (an empty list has v != NULL, n = 0) */
	size_t n;
	size_t bytes;           /* v's length */
	time_t stored;
	uint64_t used;          /* the group's clock at the slot's last put or hit */
	uint32_t held;          /* > 0: young until this age (listcache_set_grace), ttl + grace at most */
} __attribute__((aligned(64))) listcache_slot;   /* one line each */

/* A group's first cache line holds what a hit reads before its slot: the
   lock, each slot's tag and the clock. A lookup reads the slots whose tag
   matches, and no other: on 10,000 owners the group's lock and each slot
   looked at were a cache miss, and the scan for the owner read up to
   fifteen lines (perf, bench-perf (b): the lock, the scan and the copy
   0.35 us more of a request than with one hot key). */
typedef struct listcache_group {
	pthread_mutex_t lock;
	uint8_t tag[LISTCACHE_WAYS];   /* 0: slot empty; else listcache_tag of its list */
	uint64_t clock;
	uint64_t epoch;         /* bumped by every forget of an owner of this group */
	listcache_slot slot[LISTCACHE_WAYS];
} __attribute__((aligned(64))) listcache_group;
_Static_assert(offsetof(listcache_group, clock) + sizeof(uint64_t) <= 64, "a group's lock, tags and clock share a line");

struct listcache {
	listcache_group *groups;
	size_t mask;
	size_t max_keys, max_rows;
	unsigned ttl;
	unsigned grace, hold;   /* listcache_set_grace */
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
	c->groups = bigmem_alloc(n * sizeof *c->groups);   /* zeroed, aligned to its lines */
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
		for (size_t s = 0; s < LISTCACHE_WAYS; s++)
			free(c->groups[i].slot[s].v);
		pthread_mutex_destroy(&c->groups[i].lock);
	}
	pthread_mutex_destroy(&c->rows_lock);
	bigmem_free(c->groups, (c->mask + 1) * sizeof *c->groups);
	free(c);
}

/* A list kept packed: a store_key is 6.5 KiB of text buffers, nearly all of
   it zero bytes past each text's end, so 16,384 rows held as they are came
   to 105 MiB (bench-perf (b), 10,000 owners: peak RSS 78 -> 172 MB). The
   bytes of the n keys as records of (zero bytes, literal bytes, the
   literal): each u16, a literal ending where four zero bytes begin. */
#define LISTCACHE_RUN_MAX 65535u

/* Zero bytes at p (at most len, and LISTCACHE_RUN_MAX), eight at a time. */
static size_t listcache_zeros(const unsigned char *p, size_t len)
{
	size_t z = 0, max = len < LISTCACHE_RUN_MAX ? len : LISTCACHE_RUN_MAX;
	uint64_t w;

	while (z + 8 <= max && (memcpy(&w, p + z, 8), w == 0))
		z += 8;
	while (z < max && p[z] == 0)
		z++;
	return z;
}

/* Bytes at p up to where four zero bytes begin (or len, or
   LISTCACHE_RUN_MAX): a text runs to its NUL in one memchr. */
static size_t listcache_literal(const unsigned char *p, size_t len)
{
	size_t l = 0, max = len < LISTCACHE_RUN_MAX ? len : LISTCACHE_RUN_MAX;

	while (l < max) {
		const unsigned char *nul = memchr(p + l, 0, max - l);
		if (!nul)
			return max;
		l = (size_t)(nul - p);
		if (l + 4 > len || (p[l + 1] == 0 && p[l + 2] == 0 && p[l + 3] == 0))
			return l;
		l++;
	}
	return max;
}

/* v[0..n) packed into a new allocation (at least 1 byte, so that an empty
   list is not NULL), or NULL when out of memory. A record takes at least
   four zero bytes for its four bytes of lengths (but the first, and one
   after a literal of LISTCACHE_RUN_MAX), so the packed list is never much
   longer than the list. */
static unsigned char *listcache_pack(const store_key *v, size_t n, size_t *bytes)
{
	const unsigned char *src = (const unsigned char *)v;
	size_t len = n * sizeof *v, o = 0;
	unsigned char *out = malloc(len + 4 * (len / LISTCACHE_RUN_MAX + 2) + 1), *fit;

	for (size_t i = 0; out && i < len;) {
		size_t z = listcache_zeros(src + i, len - i), l = listcache_literal(src + i + z, len - i - z);
		uint16_t zz = (uint16_t)z, ll = (uint16_t)l;
		memcpy(out + o, &zz, 2);
		memcpy(out + o + 2, &ll, 2);
		memcpy(out + o + 4, src + i + z, l);
		o += 4 + l;
		i += z + l;
	}
	if (!out)
		return NULL;
	out[o] = 0;
	*bytes = o + 1;
	fit = realloc(out, o + 1);
	return fit ? fit : out;
}

/* A packed list read in order: the record under way (its zeros and literal
   bytes still to give) and where the next begins. A record may run across
   two keys. */
typedef struct listcache_cursor {
	const unsigned char *p;
	size_t z, l;
} listcache_cursor;

/* The key listcache_each hands fn: the thread's own, all zero between
   uses. A key is mostly zeros (6.5 KB, nearly all of it empty text
   fields), so it costs its literal bytes, written and then cleared, not
   its size: the zeros are already there. fn may call back into the list
   cache (a nested walk then fills a key of its own on the stack). */
#define LISTCACHE_DIRTY 48
struct listcache_one {
	store_key k;
	int busy;
	size_t n;                        /* literal runs written into k, LISTCACHE_DIRTY + 1: more */
	uint16_t at[LISTCACHE_DIRTY], len[LISTCACHE_DIRTY];
};
static _Thread_local struct listcache_one listcache_one;

/* The cursor's next len bytes into out. u NULL: every byte written, the
   zeros too; else out is u->k, all zero: the literal bytes only, each run
   noted for listcache_one_clear. */
static void listcache_fill(listcache_cursor *k, unsigned char *out, size_t len, struct listcache_one *u)
{
	for (size_t o = 0, t; o < len;) {
		if (k->z == 0 && k->l == 0) {   /* the next record: never both 0 (listcache_pack) */
			uint16_t z, l;
			memcpy(&z, k->p, 2);
			memcpy(&l, k->p + 2, 2);
			k->z = z;
			k->l = l;
			k->p += 4;
			continue;
		}
		t = k->z < len - o ? k->z : len - o;
		if (u == NULL)
			memset(out + o, 0, t);
		o += t;
		k->z -= t;
		if (k->z > 0)
			continue;
		t = k->l < len - o ? k->l : len - o;
		memcpy(out + o, k->p, t);
		if (u != NULL && t > 0) {
			if (u->n < LISTCACHE_DIRTY) {
				u->at[u->n] = (uint16_t)o;
				u->len[u->n] = (uint16_t)t;
			}
			u->n += u->n <= LISTCACHE_DIRTY;
		}
		o += t;
		k->p += t;
		k->l -= t;
	}
}

/* u->k all zero again. */
static void listcache_one_clear(struct listcache_one *u)
{
	if (u->n > LISTCACHE_DIRTY)
		memset(&u->k, 0, sizeof u->k);
	else
		for (size_t i = 0; i < u->n; i++)
			memset((unsigned char *)&u->k + u->at[i], 0, u->len[i]);
	u->n = 0;
}

/* The n keys of a packed list, into a new array (NULL when n is 0, or out
   of memory). */
static store_key *listcache_unpack(const unsigned char *p, size_t n)
{
	store_key *out = n ? malloc(n * sizeof *out) : NULL;
	listcache_cursor k = { p, 0, 0 };

	if (out)
		listcache_fill(&k, (unsigned char *)out, n * sizeof *out, NULL);
	return out;
}

static listcache_group *listcache_group_of(listcache *c, int64_t user)
{
	uint64_t h = (uint64_t)user * 0x9E3779B97F4A7C15ull;   /* Fibonacci hashing */

	return &c->groups[(size_t)(h >> 32) & c->mask];
}

void listcache_prefetch(listcache *c, int64_t user)
{
	__builtin_prefetch(listcache_group_of(c, user), 1, 3);
}

/* The tag of user's list of family (with the revoked keys or not): bits of
   the id's hash the group index does not use, never 0. */
static uint8_t listcache_tag(int64_t user, int family, int include_revoked)
{
	uint64_t h = (uint64_t)user * 0x9E3779B97F4A7C15ull;
	unsigned t = (unsigned)(h >> 24) ^ (unsigned)family * 37u ^ (include_revoked ? 101u : 0u);

	return (uint8_t)((t & 0xFFu) ? t : 1u);
}

/* The slot holding user's list of family, or NULL; the caller holds the
   group's lock. */
static listcache_slot *listcache_find(listcache_group *g, int64_t user, int family, int include_revoked)
{
	uint8_t t = listcache_tag(user, family, include_revoked);

	for (size_t i = 0; i < LISTCACHE_WAYS; i++) {
		listcache_slot *s = &g->slot[i];
		if (g->tag[i] == t && s->v && s->user == user && s->family == family &&
		    s->include_revoked == include_revoked)
			return s;
	}
	return NULL;
}

/* Empties a slot of g; the caller holds g's lock. */
static void listcache_drop(listcache *c, listcache_group *g, listcache_slot *s)
{
	if (!s->v)
		return;
	g->tag[s - g->slot] = 0;
	pthread_mutex_lock(&c->rows_lock);
	c->rows -= s->n;
	pthread_mutex_unlock(&c->rows_lock);
	free(s->v);
	s->v = NULL;
	s->n = 0;
	s->bytes = 0;
}

/* The slot of user's list of family if it is younger than the ttl (an
   older one is dropped), else NULL; *gp: user's group, left locked for the
   caller to unlock. *aged: 1 when the list was past the ttl, within the
   grace, and is now held young for its caller to read again. */
static listcache_slot *listcache_live(listcache *c, int64_t user, int family, int include_revoked, time_t now,
                                      listcache_group **gp, int *aged)
{
	listcache_group *g = listcache_group_of(c, user);
	listcache_slot *s;
	time_t age;

	*gp = g;
	*aged = 0;
	pthread_mutex_lock(&g->lock);
	s = listcache_find(g, user, family, include_revoked != 0);
	if (!s)
		return NULL;
	age = now - s->stored;
	if (now >= s->stored && (age < (time_t)c->ttl || age < (time_t)s->held))
		return s;
	if (c->grace > 0 && now >= s->stored && age < (time_t)(c->ttl + c->grace)) {
		time_t until = age + (time_t)c->hold, most = (time_t)(c->ttl + c->grace);
		s->held = (uint32_t)(until < most ? until : most);
		*aged = 1;
		return s;
	}
	listcache_drop(c, g, s);
	return NULL;
}

void listcache_set_grace(listcache *c, unsigned grace, unsigned hold)
{
	if (hold == 0 || grace > UINT32_MAX / 2 || hold > grace)
		grace = hold = 0;
	c->grace = grace;
	c->hold = hold;
}

int listcache_get(listcache *c, int64_t user, int family, int include_revoked, time_t now, store_key **out,
                  size_t *n)
{
	listcache_group *g;
	listcache_slot *s;
	int hit = 0, aged;

	*out = NULL;
	*n = 0;
	if (family < 0 || family >= LISTCACHE_FAMILIES)
		return 0;
	if ((s = listcache_live(c, user, family, include_revoked, now, &g, &aged)) != NULL) {
		store_key *copy = listcache_unpack(s->v, s->n);
		if (copy || s->n == 0) {
			*out = copy;
			*n = s->n;
			s->used = ++g->clock;
			hit = aged ? 2 : 1;
		} else if (aged) {
			s->held = 0;   /* not handed out */
		}
	}
	pthread_mutex_unlock(&g->lock);
	kmetrics_cache(KMETRICS_CACHE_LIST, hit != 0);
	return hit;
}

int listcache_each(listcache *c, int64_t user, int family, int include_revoked, time_t now, size_t max,
                   int (*fn)(void *ctx, const store_key *k), void *ctx, int *rc)
{
	listcache_group *g;
	listcache_slot *s;
	unsigned char small[2048], *packed = NULL;
	size_t n = 0;
	int hit = 0, aged = 0;

	*rc = 0;
	if (family < 0 || family >= LISTCACHE_FAMILIES)
		return 0;
	if ((s = listcache_live(c, user, family, include_revoked, now, &g, &aged)) != NULL) {
		if ((packed = s->bytes <= sizeof small ? small : malloc(s->bytes)) != NULL) {
			memcpy(packed, s->v, s->bytes);
			n = s->n;
			s->used = ++g->clock;
			hit = aged ? 2 : 1;
		} else if (aged) {
			s->held = 0;   /* not handed out */
		}
	}
	pthread_mutex_unlock(&g->lock);
	kmetrics_cache(KMETRICS_CACHE_LIST, hit != 0);
	if (hit) {   /* outside the lock: fn may take its time, or call back into the key service */
		listcache_cursor k = { packed, 0, 0 };
		struct listcache_one *u = &listcache_one, nested;
		if (u->busy) {   /* fn walks a list of its own: a key of this walk's own */
			u = &nested;
			memset(u, 0, sizeof *u);
		}
		u->busy = 1;
		for (size_t i = 0; i < n && (!max || i < max) && *rc == 0; i++) {
			listcache_fill(&k, (unsigned char *)&u->k, sizeof u->k, u);
			*rc = fn(ctx, &u->k);
			listcache_one_clear(u);
		}
		u->busy = 0;
	}
	if (packed != small)
		free(packed);
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

/* Where user's list of family goes: its slot, else an empty one, else the
   least recently used; the caller holds the group's lock. */
static listcache_slot *listcache_room(listcache_group *g, int64_t user, int family, int include_revoked)
{
	listcache_slot *s = listcache_find(g, user, family, include_revoked), *lru = NULL;

	for (size_t i = 0; !s && i < LISTCACHE_WAYS; i++) {
		if (!g->slot[i].v)
			s = &g->slot[i];
		else if (!lru || g->slot[i].used < lru->used)
			lru = &g->slot[i];
	}
	return s ? s : lru;
}

void listcache_put(listcache *c, int64_t user, int family, int include_revoked, const store_key *v, size_t n,
                   uint64_t epoch, time_t now)
{
	listcache_group *g;
	listcache_slot *s;
	unsigned char *copy;
	size_t bytes = 0;
	int room;

	if (family < 0 || family >= LISTCACHE_FAMILIES || n > c->max_keys)
		return;
	include_revoked = include_revoked != 0;
	copy = listcache_pack(v, n, &bytes);
	if (!copy)
		return;
	g = listcache_group_of(c, user);
	pthread_mutex_lock(&g->lock);
	if (g->epoch != epoch) {
		pthread_mutex_unlock(&g->lock);
		free(copy);
		return;
	}
	s = listcache_room(g, user, family, include_revoked);
	listcache_drop(c, g, s);
	pthread_mutex_lock(&c->rows_lock);
	room = c->rows + n <= c->max_rows;
	if (room)
		c->rows += n;
	pthread_mutex_unlock(&c->rows_lock);
	if (room) {
		s->user = user;
		s->family = family;
		s->include_revoked = include_revoked;
		g->tag[s - g->slot] = listcache_tag(user, family, include_revoked);
		s->v = copy;
		s->n = n;
		s->bytes = bytes;
		s->stored = now;
		s->held = 0;
		s->used = ++g->clock;
		copy = NULL;
	}
	pthread_mutex_unlock(&g->lock);
	free(copy);
}

void listcache_forget_all(listcache *c)
{
	for (size_t i = 0; i <= c->mask; i++) {
		listcache_group *g = &c->groups[i];
		pthread_mutex_lock(&g->lock);
		g->epoch++;
		for (size_t k = 0; k < LISTCACHE_WAYS; k++)
			if (g->slot[k].v)
				listcache_drop(c, g, &g->slot[k]);
		pthread_mutex_unlock(&g->lock);
	}
}

void listcache_touch(listcache *c, int64_t user, int64_t key_id, int64_t when)
{
	listcache_group *g = listcache_group_of(c, user);

	pthread_mutex_lock(&g->lock);
	g->epoch++;
	for (size_t i = 0; i < LISTCACHE_WAYS; i++) {
		listcache_slot *s = &g->slot[i];
		store_key *v;
		int held = 0;
		if (!s->v || s->user != user || s->n == 0)
			continue;
		if (!(v = listcache_unpack(s->v, s->n))) {
			listcache_drop(c, g, s);
			continue;
		}
		for (size_t k = 0; k < s->n; k++)
			if (v[k].id == key_id) {   /* as the store writes it: never back */
				if (v[k].last_used < when)
					v[k].last_used = when;
				held = 1;
			}
		if (held) {
			size_t bytes = 0;
			unsigned char *packed = listcache_pack(v, s->n, &bytes);
			if (packed) {
				free(s->v);
				s->v = packed;
				s->bytes = bytes;
			} else {
				listcache_drop(c, g, s);
			}
		}
		free(v);
	}
	pthread_mutex_unlock(&g->lock);
}

void listcache_forget_user(listcache *c, int64_t user)
{
	if (user < 0) {
		listcache_forget_all(c);
		return;
	}
	listcache_group *g = listcache_group_of(c, user);

	pthread_mutex_lock(&g->lock);
	g->epoch++;
	for (size_t i = 0; i < LISTCACHE_WAYS; i++)
		if (g->slot[i].v && g->slot[i].user == user)
			listcache_drop(c, g, &g->slot[i]);
	pthread_mutex_unlock(&g->lock);
}

/* keylimit.c — fixed-window use counts per key (keylimit.h). */
#include "keylimit.h"

#include <pthread.h>
#include <stdlib.h>

#define KEYLIMIT_STRIPES 64

typedef struct keylimit_slot {
	int64_t key_id;          /* 0: free */
	int64_t window_start;
	int64_t used;
} keylimit_slot;

struct keylimit {
	keylimit_slot *slots;
	size_t mask;
	pthread_mutex_t stripe[KEYLIMIT_STRIPES];
};

int keylimit_new(size_t slots, keylimit **out)
{
	keylimit *l;
	size_t n = 1;

	*out = NULL;
	if (slots == 0)
		slots = 65536;
	while (n < slots || n < KEYLIMIT_STRIPES)
		n <<= 1;
	l = calloc(1, sizeof *l);
	if (!l)
		return -1;
	l->slots = calloc(n, sizeof *l->slots);
	if (!l->slots) {
		free(l);
		return -1;
	}
	l->mask = n - 1;
	for (int i = 0; i < KEYLIMIT_STRIPES; i++)
		pthread_mutex_init(&l->stripe[i], NULL);
	*out = l;
	return 0;
}

void keylimit_free(keylimit *l)
{
	if (!l)
		return;
	for (int i = 0; i < KEYLIMIT_STRIPES; i++)
		pthread_mutex_destroy(&l->stripe[i]);
	free(l->slots);
	free(l);
}

int keylimit_take(keylimit *l, int64_t key_id, int64_t limit, int64_t window, int64_t now, int64_t *left,
                  int64_t *reset)
{
	size_t i = (size_t)((uint64_t)key_id * UINT64_C(0x9E3779B97F4A7C15) >> 16) & l->mask;
	keylimit_slot *s = &l->slots[i];
	int64_t start = now - (now % window);
	int ok;

	pthread_mutex_lock(&l->stripe[i % KEYLIMIT_STRIPES]);
	if (s->key_id != key_id || s->window_start != start) {
		s->key_id = key_id;
		s->window_start = start;
		s->used = 0;
	}
	ok = s->used < limit;
	if (ok)
		s->used++;
	*left = limit - s->used;
	pthread_mutex_unlock(&l->stripe[i % KEYLIMIT_STRIPES]);
	*reset = start + window;
	return ok;
}

void keylimit_forget(keylimit *l, int64_t key_id)
{
	size_t i = (size_t)((uint64_t)key_id * UINT64_C(0x9E3779B97F4A7C15) >> 16) & l->mask;

	pthread_mutex_lock(&l->stripe[i % KEYLIMIT_STRIPES]);
	if (l->slots[i].key_id == key_id)
		l->slots[i].key_id = 0;
	pthread_mutex_unlock(&l->stripe[i % KEYLIMIT_STRIPES]);
}

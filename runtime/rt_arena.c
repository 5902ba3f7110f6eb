/* rt_arena.c — see rt_arena.h. */
#include "rt_arena.h"
#include "rt_jalloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct rt_arena_block {
	rt_arena_block *next;
	size_t size;
	max_align_t data[]; /* size bytes */
};

/* The thread's kept block: the largest one (up to RT_ARENA_KEEP_MAX) its
 * last arenas malloc'd, which rt_arena_free keeps rather than frees and the
 * next arena's first malloc'd block is, when big enough. Without it, a large
 * body's arena gave glibc blocks of 64 KiB and more back on every request,
 * and each such free consolidated glibc's free lists (8% of a valid OpenAPI
 * document's parse under callgrind). The block goes back to malloc when its
 * thread exits (the key's destructor). Under AddressSanitizer nothing is
 * kept, so that a use after rt_arena_free is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#define RT_ARENA_KEEP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RT_ARENA_KEEP 0
#endif
#endif
#ifndef RT_ARENA_KEEP
#define RT_ARENA_KEEP 1
#endif

static pthread_key_t rt_arena_key;
static pthread_once_t rt_arena_once = PTHREAD_ONCE_INIT;
static int rt_arena_key_ok;

static void rt_arena_key_drop(void *b)
{
	free(b);
}

static void rt_arena_key_make(void)
{
	rt_arena_key_ok = pthread_key_create(&rt_arena_key, rt_arena_key_drop) == 0;
}

/* The kept block, taken (NULL: none, or smaller than need). */
static rt_arena_block *rt_arena_kept_take(size_t need)
{
	rt_arena_block *b;

	if (!RT_ARENA_KEEP || pthread_once(&rt_arena_once, rt_arena_key_make) != 0 || !rt_arena_key_ok)
		return NULL;
	b = pthread_getspecific(rt_arena_key);
	if (b == NULL || b->size < need || pthread_setspecific(rt_arena_key, NULL) != 0)
		return NULL;
	return b;
}

/* b (a block no arena holds) kept, or freed; the smaller of it and the
   one kept before goes back to malloc. */
static void rt_arena_kept_put(rt_arena_block *b)
{
	rt_arena_block *old;

	if (!RT_ARENA_KEEP || b->size > RT_ARENA_KEEP_MAX || pthread_once(&rt_arena_once, rt_arena_key_make) != 0 ||
	    !rt_arena_key_ok) {
		free(b);
		return;
	}
	old = pthread_getspecific(rt_arena_key);
	if (old != NULL && old->size >= b->size) {
		free(b);
		return;
	}
	if (pthread_setspecific(rt_arena_key, b) != 0) {
		free(b);
		return;
	}
	free(old);
}

void rt_arena_init(rt_arena *a, void *first, size_t size)
{
	a->p = first;
	a->end = first ? (char *)first + size : NULL;
	a->blocks = NULL;
	a->next_size = RT_ARENA_MIN_BLOCK;
	a->used = 0;
	a->jslot = NULL;
}

/* out of line: an arena that malloc'd nothing (most) pays nothing for it */
__attribute__((noinline)) static void rt_arena_free_blocks(rt_arena_block *b)
{
	while (b != NULL) {
		rt_arena_block *next = b->next;
		rt_arena_kept_put(b);
		b = next;
	}
}

void rt_arena_free(rt_arena *a)
{
	if (a->jslot != NULL)
		rt_jalloc_release(a);
	if (a->blocks != NULL)
		rt_arena_free_blocks(a->blocks);
	a->blocks = NULL;
	a->p = a->end = NULL;
	a->used = 0;
}

void *rt_arena_alloc_slow(rt_arena *a, size_t size, size_t align)
{
	rt_arena_block *b;
	size_t need, bsize;
	uintptr_t p;

	if (align == 0 || (align & (align - 1)) != 0 || size > SIZE_MAX / 4 - align - sizeof *b)
		return NULL;
	need = size + align; /* room for the worst alignment */
	bsize = a->next_size;
	while (bsize < need)
		bsize *= 2;
	b = rt_arena_kept_take(need);
	if (b != NULL) {
		bsize = b->size;
	} else {
		b = malloc(sizeof *b + bsize);
		if (b == NULL)
			return NULL;
		b->size = bsize;
	}
	b->next = a->blocks;
	a->blocks = b;
	if (a->next_size < (SIZE_MAX >> 2))
		a->next_size = bsize * 2;
	p = ((uintptr_t)b->data + (align - 1)) & ~(uintptr_t)(align - 1);
	a->p = (char *)(p + size);
	a->end = (char *)b->data + bsize;
	a->used += size;
	return (void *)p;
}

char *rt_arena_strndup(rt_arena *a, const char *s, size_t n)
{
	char *d;

	if (n == SIZE_MAX)
		return NULL;
	d = rt_arena_alloc_aligned(a, n + 1, 1);
	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* rt_arena.c — see rt_arena.h. */
#include "rt_arena.h"

#include <stdlib.h>
#include <string.h>

struct rt_arena_block {
	rt_arena_block *next;
	size_t size;
	max_align_t data[]; /* size bytes */
};

void rt_arena_init(rt_arena *a, void *first, size_t size)
{
	a->p = first;
	a->end = first ? (char *)first + size : NULL;
	a->blocks = NULL;
	a->next_size = RT_ARENA_MIN_BLOCK;
	a->used = 0;
}

void rt_arena_free(rt_arena *a)
{
	rt_arena_block *b = a->blocks;

	while (b != NULL) {
		rt_arena_block *next = b->next;
		free(b);
		b = next;
	}
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
	b = malloc(sizeof *b + bsize);
	if (b == NULL)
		return NULL;
	b->size = bsize;
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

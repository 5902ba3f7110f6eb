/* gen_arena.c — see gen_arena.h. */
#include "gen_arena.h"

#include <stddef.h>
#include <stdlib.h>
#include <jansson.h>

#define GEN_ARENA_BLOCK ((size_t)1 << 20)

/* A block: the ones before it chained behind it, then its bytes. */
typedef struct gen_arena_block {
	struct gen_arena_block *prev;
	size_t used, cap;
	max_align_t data[];
} gen_arena_block;

static gen_arena_block *gen_arena_top; /* the block being carved */

static void *gen_arena_malloc(size_t n)
{
	gen_arena_block *b = gen_arena_top;
	size_t a = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	void *p;

	if (!b || b->cap - b->used < a) {
		size_t cap = a > GEN_ARENA_BLOCK / 4 ? a : GEN_ARENA_BLOCK;
		gen_arena_block *nb = malloc(sizeof *nb + cap);
		if (!nb)
			return NULL;
		nb->used = 0;
		nb->cap = cap;
		if (b && cap != GEN_ARENA_BLOCK) {
			/* a large request gets a block of its own, behind the one being carved */
			nb->prev = b->prev;
			b->prev = nb;
			nb->used = a;
			return nb->data;
		}
		nb->prev = b;
		gen_arena_top = b = nb;
	}
	p = (char *)b->data + b->used;
	b->used += a;
	return p;
}

static void gen_arena_free(void *p)
{
	(void)p; /* the block goes at gen_arena_end */
}

void gen_arena_begin(void)
{
	json_set_alloc_funcs(gen_arena_malloc, gen_arena_free);
}

void gen_arena_end(void)
{
	json_set_alloc_funcs(malloc, free);
	while (gen_arena_top) {
		gen_arena_block *prev = gen_arena_top->prev;
		free(gen_arena_top);
		gen_arena_top = prev;
	}
}

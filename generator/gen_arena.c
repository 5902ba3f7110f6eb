/* gen_arena.c — see gen_arena.h. */
#include "gen_arena.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <jansson.h>

/* 2 MB: one transparent huge page where the system gives them on request
 * (a fault per block, not 512) */
#define GEN_ARENA_BLOCK ((size_t)2 << 20)

/* A block: the ones before it chained behind it, then its bytes. */
typedef struct gen_arena_block {
	struct gen_arena_block *prev;
	size_t used, cap;
	max_align_t data[];
} gen_arena_block;

struct gen_arena {
	gen_arena_block *top; /* the block being carved */
};

static gen_arena gen_arena_jansson; /* jansson's, between begin and end */

/* n bytes from r, at a multiple of align (a power of two; strings take 1);
 * n is rounded up to align too, so a region of aligned requests only
 * (jansson's) stays aligned at the end of each */
static void *gen_arena_alloc(gen_arena *r, size_t n, size_t align)
{
	gen_arena_block *b = r->top;
	size_t at = b ? (b->used + align - 1) & ~(align - 1) : 0;

	n = (n + align - 1) & ~(align - 1);

	if (!b || at > b->cap || b->cap - at < n) {
		size_t cap = n > GEN_ARENA_BLOCK / 4 ? n : GEN_ARENA_BLOCK - sizeof(gen_arena_block);
		gen_arena_block *nb = cap == n ? malloc(sizeof *nb + cap) : aligned_alloc(GEN_ARENA_BLOCK, GEN_ARENA_BLOCK);
		if (!nb)
			return NULL;
#ifdef MADV_HUGEPAGE
		if (cap != n)
			madvise(nb, GEN_ARENA_BLOCK, MADV_HUGEPAGE); /* a hint: without it, small pages */
#endif
		nb->used = 0;
		nb->cap = cap;
		if (b && cap == n) {
			/* a large request gets a block of its own, behind the one being carved */
			nb->prev = b->prev;
			b->prev = nb;
			nb->used = n;
			return nb->data;
		}
		nb->prev = b;
		r->top = b = nb;
		at = 0;
	}
	b->used = at + n;
	return (char *)b->data + at;
}

static void gen_arena_release(gen_arena *r)
{
	while (r->top) {
		gen_arena_block *prev = r->top->prev;
		free(r->top);
		r->top = prev;
	}
}

static void *gen_arena_json_malloc(size_t n)
{
	/* every request of jansson's region is aligned, so the block's use is:
	 * the common case without gen_arena_alloc's rounding of it */
	gen_arena_block *b = gen_arena_jansson.top;
	size_t a = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);

	if (b && b->cap - b->used >= a) {
		void *p = (char *)b->data + b->used;
		b->used += a;
		return p;
	}
	return gen_arena_alloc(&gen_arena_jansson, n, sizeof(max_align_t));
}

static void gen_arena_json_free(void *p)
{
	(void)p; /* the block goes at gen_arena_end */
}

void gen_arena_begin(void)
{
	json_set_alloc_funcs(gen_arena_json_malloc, gen_arena_json_free);
}

void gen_arena_end(void)
{
	json_set_alloc_funcs(malloc, free);
	gen_arena_release(&gen_arena_jansson);
}

gen_arena *gen_arena_new(void)
{
	return calloc(1, sizeof(gen_arena));
}

void gen_arena_free(gen_arena *a)
{
	if (!a)
		return;
	gen_arena_release(a);
	free(a);
}

void *gen_arena_zalloc(gen_arena *a, size_t n)
{
	void *p = gen_arena_alloc(a, n, sizeof(max_align_t));

	return p ? memset(p, 0, n) : NULL;
}

char *gen_arena_chars(gen_arena *a, size_t n)
{
	return gen_arena_alloc(a, n, 1);
}

char *gen_arena_strndup(gen_arena *a, const char *s, size_t n)
{
	char *p = s ? gen_arena_alloc(a, n + 1, 1) : NULL;

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *gen_arena_strdup(gen_arena *a, const char *s)
{
	return s ? gen_arena_strndup(a, s, strlen(s)) : NULL;
}

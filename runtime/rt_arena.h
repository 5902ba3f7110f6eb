/* rt_arena.h — a per-request arena: many small allocations, freed together.
 *
 * The first block is the caller's (on its stack, or inline in a struct it
 * owns); when it is full, further blocks are malloc'd, each at least twice
 * the size of the one before, and rt_arena_free() releases them all at once.
 * Nothing is freed one by one. The largest of them (up to RT_ARENA_KEEP_MAX)
 * is kept for the thread's next arena rather than given back to malloc
 * (rt_arena.c says why); it is freed when the thread exits. Allocations are aligned to RT_ARENA_ALIGN
 * (alignof(max_align_t)) unless an alignment is given. The arena owns every
 * block it malloc'd; the caller owns the first block and the rt_arena itself.
 *
 *	RT_ARENA_ON_STACK(a, 4096);            // rt_arena a, 4 KiB first block
 *	char *s = rt_arena_strndup(&a, p, n);  // NUL-terminated copy
 *	...
 *	rt_arena_free(&a);                     // every malloc'd block
 *
 * Not thread-safe: one arena per request, freed on the thread that used it.
 * A generated parser that builds a json_t with this arena makes jansson's
 * memory come from its thread's rt_jalloc slot (rt_jalloc.h): such a json_t
 * lives as long as the arena, and rt_arena_free releases it too.
 */
#ifndef RT_ARENA_H
#define RT_ARENA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
#define RT_ARENA_ALIGN alignof(max_align_t)     /* C++11's spelling of C11's _Alignof */
#else
#define RT_ARENA_ALIGN _Alignof(max_align_t)
#endif
/* the smallest block rt_arena_alloc_aligned mallocs */
#define RT_ARENA_MIN_BLOCK 4096
/* the largest block rt_arena_free keeps for the thread's next arena */
#define RT_ARENA_KEEP_MAX ((size_t)4 << 20)

typedef struct rt_arena_block rt_arena_block;
struct rt_jalloc_slot;

typedef struct rt_arena {
	char *p, *end;          /* free space in the current block */
	rt_arena_block *blocks; /* malloc'd blocks, newest first */
	size_t next_size;       /* size of the next malloc'd block */
	size_t used;            /* bytes handed out, for statistics */
	struct rt_jalloc_slot *jslot; /* jansson values of this arena's parses live there (rt_jalloc.h), or NULL */
} rt_arena;

/* first (borrowed, may be NULL with size 0): the first block. */
void rt_arena_init(rt_arena *a, void *first, size_t size);
/* Frees every malloc'd block; the arena is empty afterwards, its first block
   reusable (call rt_arena_init again to start over). */
void rt_arena_free(rt_arena *a);

/* size bytes aligned to align (a power of two); NULL when out of memory or
   size is absurd. size 0 returns a valid, unique-enough pointer. */
void *rt_arena_alloc_slow(rt_arena *a, size_t size, size_t align);

static inline void *rt_arena_alloc_aligned(rt_arena *a, size_t size, size_t align)
{
	uintptr_t p = ((uintptr_t)a->p + (align - 1)) & ~(uintptr_t)(align - 1);
	if (a->p != NULL && p <= (uintptr_t)a->end && size <= (uintptr_t)a->end - p) {
		a->p = (char *)(p + size);
		a->used += size;
		return (void *)p;
	}
	return rt_arena_alloc_slow(a, size, align);
}

static inline void *rt_arena_alloc(rt_arena *a, size_t size)
{
	return rt_arena_alloc_aligned(a, size, RT_ARENA_ALIGN);
}

/* A NUL-terminated copy of n bytes of s (which may hold no NUL); NULL when
   out of memory. */
char *rt_arena_strndup(rt_arena *a, const char *s, size_t n);

/* Declares `rt_arena name` whose first block of size bytes is on the stack. */
#define RT_ARENA_ON_STACK(name, size) \
	_Alignas(max_align_t) char name##_first[size]; \
	rt_arena name; \
	rt_arena_init(&name, name##_first, sizeof name##_first)

#ifdef __cplusplus
}
#endif

#endif

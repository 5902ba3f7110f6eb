/* rt_jalloc.h — jansson's memory for a request body's json_t, bump-allocated
 * and released with the request's arena (rt_arena.h) rather than malloc'd
 * and freed value by value.
 *
 * A generated parser that builds a body's json_t makes one jansson value, a
 * hash table and a member for every JSON value: on the OpenAPI 3.0 document
 * of bench-parse, 35,000 mallocs and as many frees, 10M of the path's 24M
 * instructions (bulk malloc then bulk free defeats glibc's tcache). jansson
 * has only process-wide hooks (json_set_alloc_funcs), so the hooks here are
 * installed once, for the whole process, on first use, and decide by two
 * things:
 *  - allocating: while this thread is inside rt_jalloc_begin (a generated
 *    parser, from rt_parse_init to rt_parse_finish), jansson's memory comes
 *    from the thread's slot (RT_JALLOC_SLOT_SIZE of a region of address space
 *    reserved on first use; the first value made for an arena makes it hold
 *    the slot); otherwise, and when the slot is full or there is none
 *    (more threads than slots, no room to reserve), from malloc;
 *  - freeing: memory inside the region is not freed one by one (a no-op);
 *    everything else goes to free(). The test is the address alone, so a
 *    value malloc'd before the hooks, on another thread, or by a library
 *    (json_dumps's text that callers free() themselves) is untouched, and a
 *    free on any thread is right.
 * The slot's memory is released all at once when the last arena that
 * allocated in it (on this thread) is freed: rt_arena_free calls
 * rt_jalloc_release, on the thread that parsed (rt_arena is one thread's);
 * pages touched past RT_ARENA_KEEP_MAX go back to the kernel then.
 *
 * The contract: a json_t that a generated parser returns (and p->keep,
 * and what the parser's defaults put into it) lives as long as the arena
 * it was parsed with. Decref it before rt_arena_free (rt_http_dispatch
 * does: the body, then c.keep, then the arena), and never keep a piece of
 * it (json_incref, json_object_set, json_array_append) in anything that
 * outlives the request: copy it (json_deep_copy, which allocates outside a
 * parse, from malloc). Mutating the body inside the request (set, del,
 * append) is fine: what is added is malloc'd, what is dropped from the
 * region is simply not reused until the release. Under AddressSanitizer the
 * released memory is poisoned, so a use after the request is caught there.
 *
 * Nothing else in the process may call json_set_alloc_funcs once a body
 * has been parsed (ulfius_global_init does: apikeyd does not call it).
 */
#ifndef RT_JALLOC_H
#define RT_JALLOC_H

#include <stddef.h>

#include "rt_arena.h"

#ifdef __cplusplus
extern "C" {
#endif

/* one thread's window of the region */
#define RT_JALLOC_SLOT_SIZE ((size_t)16 << 20)
/* windows reserved (address space only: pages are touched as used) */
#define RT_JALLOC_SLOTS 256

typedef struct rt_jalloc_slot rt_jalloc_slot;

/* From now on, until rt_jalloc_end(returned), jansson values this thread
 * makes are allocated in its slot, released when a is freed: the first of
 * them makes a hold the slot (a->jslot), so a parse that makes none does
 * not touch it. Returns the state to restore (nesting is fine). */
void *rt_jalloc_begin(rt_arena *a);
void rt_jalloc_end(void *saved);

/* jansson values made from now on until rt_jalloc_end(returned) come from
   malloc again: for what outlives the request (a schema's cached values). */
void *rt_jalloc_pause(void);

/* a is being freed (rt_arena_free): the slot's memory is released when no
   other arena of this thread still holds some. */
void rt_jalloc_release(rt_arena *a);

/* 1 when p (a jansson value, borrowed) lives in the region: it dies with its
   request's arena. For tests. */
int rt_jalloc_owns(const void *p);

#ifdef __cplusplus
}
#endif

#endif

/* rt_jalloc.c — see rt_jalloc.h. */
#include "rt_jalloc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <jansson.h>

#if defined(__SANITIZE_ADDRESS__)
#define RJ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RJ_ASAN 1
#endif
#endif
#ifdef RJ_ASAN
#include <sanitizer/asan_interface.h>
#define RJ_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define RJ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define RJ_POISON(p, n) ((void)(p), (void)(n))
#define RJ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* jansson's structures hold pointers, sizes, json_int_t (long long) and
   doubles, nothing more aligned: its allocations are aligned to these */
union rj_align {
	void *p;
	long long ll;
	double d;
	size_t z;
};
#define RJ_ALIGN _Alignof(union rj_align)

struct rt_jalloc_slot {
	char *base, *top, *end; /* [base, top) handed out, up to end */
	unsigned live;          /* arenas of the owning thread holding memory here */
	rt_jalloc_slot *next;   /* on the free list */
};

static char *rj_region;      /* RT_JALLOC_SLOTS windows, reserved once; NULL: none */
static size_t rj_region_size;
static rt_jalloc_slot rj_slots[RT_JALLOC_SLOTS];
static size_t rj_used;       /* rj_slots taken from the region so far */
static rt_jalloc_slot *rj_free_slots; /* given back by threads that ended */
static pthread_mutex_t rj_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t rj_once = PTHREAD_ONCE_INIT;
static pthread_key_t rj_key;
static int rj_key_ok;
static int rj_ready;

static _Thread_local rt_jalloc_slot *rj_mine; /* this thread's slot */
static _Thread_local int rj_none;             /* no slot could be had: malloc */
static _Thread_local rt_arena *rj_arena;      /* the arena jansson's values go with now, or NULL */
static _Thread_local rt_jalloc_slot *rj_cur;  /* its slot when it holds ours, else NULL */

static rt_jalloc_slot *rj_attach(rt_arena *a);

static void *rj_malloc(size_t n);

/* Not from the slot: the arena's first jansson value takes it (none when
   the arena holds another thread's, not ours to bump, or none can be had);
   else, or when the slot is full, malloc. Out of line: the bump above
   saves no registers. */
__attribute__((noinline)) static void *rj_malloc_slow(size_t n)
{
	if (rj_cur == NULL && rj_arena != NULL && rj_arena->jslot == NULL && (rj_cur = rj_attach(rj_arena)) != NULL)
		return rj_malloc(n);
	return malloc(n);
}

static void *rj_malloc(size_t n)
{
	rt_jalloc_slot *s = rj_cur;
	size_t k = (n + (RJ_ALIGN - 1)) & ~(size_t)(RJ_ALIGN - 1);

	if (s != NULL && n != 0 && k >= n && k <= (size_t)(s->end - s->top)) {
		void *p = s->top;
		s->top += k;
		RJ_UNPOISON(p, n);
		return p;
	}
	return rj_malloc_slow(n);
}

static void rj_free(void *p)
{
	if ((uintptr_t)p - (uintptr_t)rj_region < rj_region_size)
		return; /* released with its request's arena */
	free(p);
}

/* The pages of [from, s->top) go back to the kernel. */
static void rj_drop(rt_jalloc_slot *s, char *from)
{
	if (s->top > from)
		madvise(from, (size_t)(s->top - from), MADV_DONTNEED);
}

/* A thread that had a slot ends: the slot goes back for another thread,
   unless an arena still holds memory in it (never reused then). */
static void rj_thread_end(void *v)
{
	rt_jalloc_slot *s = v;

	if (s->live != 0)
		return;
	rj_drop(s, s->base);
	RJ_POISON(s->base, (size_t)(s->top - s->base));
	s->top = s->base;
	pthread_mutex_lock(&rj_lock);
	s->next = rj_free_slots;
	rj_free_slots = s;
	pthread_mutex_unlock(&rj_lock);
}

static void rj_init(void)
{
	size_t size = (size_t)RT_JALLOC_SLOTS * RT_JALLOC_SLOT_SIZE;
	void *r;

	if (pthread_key_create(&rj_key, rj_thread_end) != 0)
		return;
	rj_key_ok = 1;
	r = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return;
	rj_region = r;
	rj_region_size = size;
	/* for the whole process, from now on: rj_free frees what is not in
	   the region, so values malloc'd before are freed as they were */
	json_set_alloc_funcs(rj_malloc, rj_free);
}

/* rj_cur for a: its slot when that is this thread's */
static void rj_use(rt_arena *a)
{
	rj_arena = a;
	rj_cur = a != NULL && a->jslot != NULL && a->jslot == rj_mine ? a->jslot : NULL;
}

void *rt_jalloc_begin(rt_arena *a)
{
	rt_arena *prev = rj_arena;

	if (!__atomic_load_n(&rj_ready, __ATOMIC_ACQUIRE) && pthread_once(&rj_once, rj_init) == 0)
		__atomic_store_n(&rj_ready, 1, __ATOMIC_RELEASE);
	rj_use(a);
	return prev;
}

void rt_jalloc_end(void *saved)
{
	rj_use(saved);
}

void *rt_jalloc_pause(void)
{
	rt_arena *prev = rj_arena;

	rj_use(NULL);
	return prev;
}

/* This thread's slot, taken on first use; NULL when none can be had. */
static rt_jalloc_slot *rj_take(void)
{
	rt_jalloc_slot *s = NULL;

	if (rj_region == NULL || !rj_key_ok) {
		rj_none = 1;
		return NULL;
	}
	pthread_mutex_lock(&rj_lock);
	if (rj_free_slots != NULL) {
		s = rj_free_slots;
		rj_free_slots = s->next;
	} else if (rj_used < RT_JALLOC_SLOTS) {
		char *base = rj_region + rj_used * RT_JALLOC_SLOT_SIZE;
		if (mprotect(base, RT_JALLOC_SLOT_SIZE, PROT_READ | PROT_WRITE) == 0) {
			s = &rj_slots[rj_used++];
			s->base = s->top = base;
			s->end = base + RT_JALLOC_SLOT_SIZE;
			RJ_POISON(base, RT_JALLOC_SLOT_SIZE);
		}
	}
	pthread_mutex_unlock(&rj_lock);
	if (s == NULL || pthread_setspecific(rj_key, s) != 0) {
		if (s != NULL)
			rj_thread_end(s);
		rj_none = 1;
		return NULL;
	}
	s->live = 0;
	rj_mine = s;
	return s;
}

/* The first jansson value of a's parses: a holds this thread's slot from
   now on, until rt_arena_free. */
static rt_jalloc_slot *rj_attach(rt_arena *a)
{
	rt_jalloc_slot *s = rj_mine;

	if (s == NULL && (rj_none || (s = rj_take()) == NULL))
		return NULL;
	a->jslot = s;
	s->live++;
	return s;
}

void rt_jalloc_release(rt_arena *a)
{
	rt_jalloc_slot *s = a->jslot;

	a->jslot = NULL;
	if (rj_arena == a)
		rj_cur = NULL; /* freed while still in use: its next value takes the slot again */
	if (s == NULL || --s->live != 0)
		return;
	/* no arena of the thread holds any: all of it is free again; what a
	   large body touched past RT_ARENA_KEEP_MAX goes back to the kernel */
	if (s->top - s->base > (ptrdiff_t)RT_ARENA_KEEP_MAX)
		rj_drop(s, s->base + RT_ARENA_KEEP_MAX);
	RJ_POISON(s->base, (size_t)(s->top - s->base));
	s->top = s->base;
}

int rt_jalloc_owns(const void *p)
{
	return (uintptr_t)p - (uintptr_t)rj_region < rj_region_size;
}

/* oalloc.c — ulfius's allocations for a request, from a block of the
 * request's own (oalloc.h). */
#include "oalloc.h"

#include <orcania.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define OALLOC_HEAD 64             /* a block's own fields, then its bytes */
#define OALLOC_CACHE 8             /* blocks a thread keeps for its next requests */

struct oalloc_block {
    size_t used;                   /* from the block's start: OALLOC_HEAD when empty */
    oalloc_block *next;            /* in the free list */
};

static unsigned char *oalloc_base;           /* the region, or NULL */
static atomic_size_t oalloc_fresh;           /* blocks never handed out start here */
static pthread_mutex_t oalloc_lock = PTHREAD_MUTEX_INITIALIZER;
static oalloc_block *oalloc_free;            /* given back by threads that ended, or beyond their cache */
static pthread_key_t oalloc_key;

static _Thread_local oalloc_block *oalloc_bound;   /* the running request's block */
static _Thread_local int oalloc_drawing;           /* o_malloc takes from oalloc_bound */
static _Thread_local oalloc_block *oalloc_cache[OALLOC_CACHE];
static _Thread_local int oalloc_cached;

int oalloc_owns(const void *p)
{
    return oalloc_base != NULL && (uintptr_t)p - (uintptr_t)oalloc_base < (uintptr_t)OALLOC_BLOCK * OALLOC_BLOCKS;
}

size_t oalloc_used(const oalloc_block *b)
{
    return b != NULL ? b->used - OALLOC_HEAD : 0;
}

/* Every allocation: its size in the 16 bytes before it (o_realloc copies
   that much), rounded up to 16 so that the next is aligned as malloc's. */
static void *oalloc_malloc(size_t n)
{
    oalloc_block *b = oalloc_bound;

    if (oalloc_drawing && b != NULL && n <= OALLOC_BLOCK) {
        size_t need = 16 + ((n + 15) & ~(size_t)15);
        if (need <= OALLOC_BLOCK - b->used) {
            unsigned char *p = (unsigned char *)b + b->used;
            memcpy(p, &n, sizeof n);
            b->used += need;
            return p + 16;
        }
    }
    return malloc(n);
}

static void oalloc_release(void *p)
{
    if (!oalloc_owns(p)) free(p);   /* a block's bytes go with their block */
}

static void *oalloc_realloc(void *p, size_t n)
{
    oalloc_block *b = oalloc_bound;
    unsigned char *q = p;
    size_t old;
    void *to;

    if (p == NULL) return oalloc_malloc(n);
    if (!oalloc_owns(p)) return realloc(p, n);
    memcpy(&old, q - 16, sizeof old);
    /* the last allocation of the block being drawn from grows where it is */
    if (oalloc_drawing && b != NULL && n <= OALLOC_BLOCK && q - 16 >= (unsigned char *)b &&
        q + ((old + 15) & ~(size_t)15) == (unsigned char *)b + b->used) {
        size_t start = (size_t)(q - 16 - (unsigned char *)b), need = 16 + ((n + 15) & ~(size_t)15);
        if (need <= OALLOC_BLOCK - start) {
            memcpy(q - 16, &n, sizeof n);
            b->used = start + need;
            return p;
        }
    }
    if ((to = oalloc_malloc(n)) != NULL) memcpy(to, p, old < n ? old : n);
    return to;
}

/* A thread that ends: its cached blocks to the free list. */
static void oalloc_thread_end(void *v)
{
    (void)v;
    pthread_mutex_lock(&oalloc_lock);
    while (oalloc_cached > 0) {
        oalloc_block *b = oalloc_cache[--oalloc_cached];
        b->next = oalloc_free;
        oalloc_free = b;
    }
    pthread_mutex_unlock(&oalloc_lock);
}

int oalloc_install(void)
{
    void *m;

    if (oalloc_base != NULL) return 0;
    if (pthread_key_create(&oalloc_key, oalloc_thread_end) != 0) return -1;
    m = mmap(NULL, (size_t)OALLOC_BLOCK * OALLOC_BLOCKS, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return -1;
    oalloc_base = m;
    o_set_alloc_funcs(oalloc_malloc, oalloc_realloc, oalloc_release);
    return 0;
}

oalloc_block *oalloc_get(void)
{
    oalloc_block *b = NULL;
    size_t i;

    if (oalloc_base == NULL) return NULL;
    if (oalloc_cached > 0) {
        b = oalloc_cache[--oalloc_cached];
    } else {
        pthread_mutex_lock(&oalloc_lock);
        if ((b = oalloc_free) != NULL) oalloc_free = b->next;
        pthread_mutex_unlock(&oalloc_lock);
        if (b == NULL && (i = atomic_fetch_add(&oalloc_fresh, 1)) < OALLOC_BLOCKS)
            b = (oalloc_block *)(oalloc_base + i * OALLOC_BLOCK);
    }
    if (b != NULL) b->used = OALLOC_HEAD;
    return b;
}

void oalloc_put(oalloc_block *b)
{
    if (b == NULL) return;
    if (oalloc_bound == b) {
        oalloc_bound = NULL;
        oalloc_drawing = 0;
    }
    if (oalloc_cached < OALLOC_CACHE) {
        if (oalloc_cached == 0) pthread_setspecific(oalloc_key, (void *)1);   /* for oalloc_thread_end */
        oalloc_cache[oalloc_cached++] = b;
        return;
    }
    pthread_mutex_lock(&oalloc_lock);
    b->next = oalloc_free;
    oalloc_free = b;
    pthread_mutex_unlock(&oalloc_lock);
}

void oalloc_bind(oalloc_block *b)
{
    oalloc_bound = b;
    oalloc_drawing = 0;
}

void oalloc_on(void)
{
    oalloc_drawing = oalloc_bound != NULL;
}

void oalloc_off(void)
{
    oalloc_drawing = 0;
}

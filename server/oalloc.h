/* oalloc.h — ulfius's allocations for a request, from a block of the
 * request's own.
 *
 * ulfius builds each request's state (its maps of headers, URL and
 * response, every key and value a malloc, every array a realloc) with
 * orcania's o_malloc, and frees it piece by piece when the request ends:
 * about 60 mallocs, reallocs and frees of glibc's per request, a tenth of
 * an authenticated request's instructions and more of its time (perf:
 * glibc's allocator was 2 us of a 15 us request). oalloc_install points
 * orcania's functions here. While a thread has drawing on (oalloc_on, for
 * ulfius's own steps only: its URI logger, the request's first calls, the
 * response's set-up), o_malloc takes its bytes from the block bound to the
 * request (oalloc_bind) by moving a pointer; o_free of a block's bytes does
 * nothing; oalloc_put gives the whole block back when the request is done.
 * Anything else, and everything with drawing off (the routes' callbacks,
 * other threads, a request whose block is full), is glibc's malloc, freed
 * by free as before: whether a pointer is a block's is a range test, so
 * ulfius can free either kind with o_free.
 *
 * The contract: bytes drawn for a request are not used after oalloc_put of
 * its block. The server puts a block back when libmicrohttpd says the
 * request is complete (ulfius has freed its state then) or the connection
 * closed. Blocks come from one reserved region (OALLOC_BLOCKS of
 * OALLOC_BLOCK bytes, touched as used); with none left, a request's
 * allocations are glibc's. */
#ifndef APIKEYD_OALLOC_H
#define APIKEYD_OALLOC_H

#include <stddef.h>

#define OALLOC_BLOCK (16 * 1024)
#define OALLOC_BLOCKS 16384        /* 256 MiB of address space */

typedef struct oalloc_block oalloc_block;

/* Reserves the region and sets orcania's functions; 0, or -1 (nothing set). */
int oalloc_install(void);
/* A block for a request, empty; NULL when not installed or none is left. */
oalloc_block *oalloc_get(void);
/* b (NULL: nothing) back, every allocation in it gone. */
void oalloc_put(oalloc_block *b);
/* b: the block of the request this thread runs now (NULL: none); drawing
   is off until oalloc_on. */
void oalloc_bind(oalloc_block *b);
void oalloc_on(void);
void oalloc_off(void);
/* Whether p is a block's (for tests). */
int oalloc_owns(const void *p);
/* Bytes of b in use (for tests). */
size_t oalloc_used(const oalloc_block *b);

#endif

/* bigmem.h — zeroed, page-aligned memory for the key service's large
 * tables (the caches), resident only as it is used, in 2 MiB pages where
 * the kernel allows them.
 *
 * calloc gives large blocks from mmap too, but 16 bytes past a page's
 * start, where tables whose slots are laid on cache lines (keycache.c,
 * listcache.c) need 64-byte boundaries; and aligned_alloc with a memset
 * would make the whole 28 MiB authentication cache resident at start.
 *
 * A table of 2 MiB or more is mapped on a 2 MiB boundary and marked
 * MADV_HUGEPAGE (transparent huge pages in "madvise" mode take only marked
 * memory). A cache of 10,000 keys puts each lookup on a page of its own,
 * and in 4 KiB pages nearly every one missed the TLB, whose walk is dearest
 * in a virtual machine (perf, bench-perf (b) over HTTPS: keycache_get 0.63
 * us of a request in small pages, 0.44-0.49 us in huge ones). The price: a
 * huge page is resident once any byte of it is used, so a table of a few
 * keys holds a few 2 MiB pages, not a few 4 KiB ones.
 */
#ifndef BIGMEM_H
#define BIGMEM_H

#include <stddef.h>

/* bytes zeroed bytes (bytes > 0), page-aligned, or NULL (errno set). */
void *bigmem_alloc(size_t bytes);
/* p from bigmem_alloc(bytes), with the same bytes; NULL is allowed. */
void bigmem_free(void *p, size_t bytes);

#endif

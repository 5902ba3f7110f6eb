/* bigmem.c — large zeroed tables, in huge pages where allowed (bigmem.h). */
#include "bigmem.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define BIGMEM_HUGE ((size_t)2 << 20)

/* The length mapped for bytes: whole huge pages from BIGMEM_HUGE up, else
   whole pages; 0 when it would overflow. */
static size_t bigmem_len(size_t bytes)
{
	size_t unit = bytes >= BIGMEM_HUGE ? BIGMEM_HUGE : (size_t)sysconf(_SC_PAGESIZE);

	if (bytes > SIZE_MAX - 2 * BIGMEM_HUGE)
		return 0;
	return (bytes + unit - 1) / unit * unit;
}

void *bigmem_alloc(size_t bytes)
{
	size_t len = bigmem_len(bytes), span;
	unsigned char *p, *a;

	if (bytes == 0 || len == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (bytes < BIGMEM_HUGE) {   /* as bigmem_len: small pages */
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	/* a huge page more than len, and the aligned len kept from it */
	span = len + BIGMEM_HUGE;
	p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = (unsigned char *)(((uintptr_t)p + BIGMEM_HUGE - 1) & ~(uintptr_t)(BIGMEM_HUGE - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	if (a + len < p + span)
		munmap(a + len, (size_t)(p + span - (a + len)));
	/* a hint: where huge pages are off ("never") the table works the same
	   in small ones */
	(void)madvise(a, len, MADV_HUGEPAGE);
	return a;
}

void bigmem_free(void *p, size_t bytes)
{
	if (p != NULL)
		munmap(p, bigmem_len(bytes));
}

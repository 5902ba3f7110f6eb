/* oalloc_test: server/oalloc.c behind orcania's o_malloc, o_realloc and
 * o_free, and under ulfius's own request state (ulfius_init_request, its
 * maps, ulfius_clean_request_full):
 * - drawing on, a bound block's bytes: aligned as malloc's, apart, the
 *   last one grown where it is, a copy keeping the bytes otherwise;
 * - drawing off, unbound, a full block, or a size beyond a block: glibc's,
 *   and o_free frees them (a pointer of each kind freed, from either
 *   state, by whoever frees it, under valgrind and ASan too);
 * - a block back and taken again is empty; a thread's cached blocks go to
 *   the others when it ends;
 * - a request built and cleaned by ulfius in a block, then another: the
 *   block is empty again and glibc saw none of it. */
#include "oalloc.h"

#include <malloc.h>
#include <orcania.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ulfius.h>

static int passed, failed;

static void check(int ok, const char *what)
{
    printf("%s  %s\n", ok ? "ok  " : "FAIL", what);
    if (ok) passed++;
    else failed++;
}

static oalloc_block *from_thread;

static void *other_thread(void *arg)
{
    (void)arg;
    from_thread = oalloc_get();
    oalloc_put(from_thread);   /* cached by this thread, which now ends */
    return NULL;
}

/* glibc's count of bytes in use (mallinfo2), to see that a step took none */
static size_t glibc_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks;
}

int main(void)
{
    oalloc_block *b, *b2;
    unsigned char *p, *q, *r, *big, *lib;
    int apart = 1, kept = 1;

    check(oalloc_get() == NULL, "not installed: no block");
    check(oalloc_install() == 0, "installed");
    b = oalloc_get();
    check(b != NULL && oalloc_used(b) == 0, "a block, empty");

    /* unbound and bound-but-off: glibc's */
    lib = o_malloc(40);
    check(lib != NULL && !oalloc_owns(lib), "unbound: o_malloc is glibc's");
    oalloc_bind(b);
    q = o_malloc(40);
    check(q != NULL && !oalloc_owns(q), "bound, drawing off: glibc's");
    o_free(q);

    oalloc_on();
    p = o_malloc(1);
    q = o_malloc(100);
    check(oalloc_owns(p) && oalloc_owns(q), "drawing on: the block's");
    check(((uintptr_t)p % 16) == 0 && ((uintptr_t)q % 16) == 0, "aligned to 16");
    memset(p, 0xAA, 1);
    memset(q, 0xBB, 100);
    for (int i = 0; i < 100; i++) apart &= q[i] == 0xBB;
    check(apart && p[0] == 0xAA && q >= p + 16, "allocations do not overlap");
    r = o_realloc(q, 400);
    check(r == q, "the last allocation grows where it is");
    for (int i = 0; i < 100; i++) kept &= r[i] == 0xBB;
    check(kept, "and keeps its bytes");
    q = o_realloc(p, 64);   /* not the last: a copy */
    check(q != p && oalloc_owns(q) && q[0] == 0xAA, "another grows by a copy, its bytes kept");
    lib = o_realloc(lib, 80);
    check(lib != NULL && !oalloc_owns(lib), "a glibc pointer grows in glibc, drawing or not");
    o_free(lib);
    big = o_malloc(OALLOC_BLOCK + 1);
    check(big != NULL && !oalloc_owns(big), "more than a block: glibc's");
    o_free(big);
    {
        size_t before = oalloc_used(b), n = 0;
        while (oalloc_owns(p = o_malloc(1000))) n++;
        check(n > 0 && !oalloc_owns(p) && oalloc_used(b) > before, "a full block: glibc's from then on");
        o_free(p);
    }
    oalloc_off();
    r = o_realloc(r, 4000);   /* the block's, drawing off: copied to glibc */
    kept = r != NULL && !oalloc_owns(r);
    for (int i = 0; kept && i < 100; i++) kept &= r[i] == 0xBB;
    check(kept, "a block's pointer grown with drawing off: glibc's, its bytes kept");
    o_free(r);
    o_free(q);   /* the block's: nothing */
    oalloc_put(b);
    p = o_malloc(8);
    check(p != NULL && !oalloc_owns(p), "after oalloc_put: unbound, glibc's");
    o_free(p);
    b2 = oalloc_get();
    check(b2 == b && oalloc_used(b2) == 0, "a block back, taken again: empty");

    /* ulfius's request state in a block: none of it glibc's */
    {
        struct _u_request req;
        size_t g0, g1;
        int ok = 1;
        oalloc_bind(b2);
        oalloc_on();
        g0 = glibc_in_use();
        for (int round = 0; round < 3 && ok; round++) {
            ok &= ulfius_init_request(&req) == U_OK;
            for (int i = 0; i < 12; i++) {   /* what a request's head holds: it fits */
                char k[16], v[64];
                snprintf(k, sizeof k, "X-H%d", i);
                snprintf(v, sizeof v, "value %d of a header, long enough", i);
                ok &= u_map_put(req.map_header, k, v) == U_OK;
            }
            ok &= strcmp(u_map_get_case(req.map_header, "x-h11"), "value 11 of a header, long enough") == 0;
            ok &= u_map_remove_from_key(req.map_header, "X-H3") == U_OK && u_map_count(req.map_header) == 11;
            ulfius_clean_request(&req);
        }
        g1 = glibc_in_use();
        oalloc_off();
        check(ok, "ulfius builds, reads and cleans a request in a block");
        if (g1 != g0) printf("glibc in use: %zu -> %zu\n", g0, g1);
        check(g1 == g0, "glibc kept none of it");
        check(oalloc_used(b2) > 0 && oalloc_used(b2) < OALLOC_BLOCK, "the block holds it");
        oalloc_put(b2);
    }

    /* a thread's cache, when it ends, is everyone's */
    {
        pthread_t t;
        oalloc_block *held[8], *again;
        int found = 0;
        for (int i = 0; i < 8; i++) held[i] = oalloc_get();   /* empty this thread's cache */
        pthread_create(&t, NULL, other_thread, NULL);
        pthread_join(t, NULL);
        /* this thread's cache is empty: the next comes from the free list */
        again = oalloc_get();
        found = again == from_thread;
        check(from_thread != NULL && found, "a block cached by a thread that ended is taken by another");
        oalloc_put(again);
        for (int i = 0; i < 8; i++) oalloc_put(held[i]);
    }
    printf("oalloc: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

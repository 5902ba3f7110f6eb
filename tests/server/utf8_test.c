/* utf8_test: table-driven checks of runtime/rt_utf8.c (strict UTF-8, and UTF-8
 * after percent-decoding, including inputs longer than its 512-byte chunk). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_utf8.h"

typedef struct utf8_case { int line; const char *in; size_t len; int expect; } utf8_case;
#define TEST(s, e) { __LINE__, s, sizeof(s) - 1, e }

static const utf8_case raw_cases[] = {
    TEST("", 1),
    TEST("plain ascii", 1),
    TEST("caf\xc3\xa9", 1),                 /* é */
    TEST("\xe2\x82\xac", 1),                /* € */
    TEST("\xf0\x9f\x98\x80", 1),            /* U+1F600 */
    TEST("\xf4\x8f\xbf\xbf", 1),            /* U+10FFFF */
    TEST("\xff", 0),
    TEST("\xc3", 0),                        /* truncated */
    TEST("\xc3\x28", 0),                    /* bad continuation */
    TEST("\xc0\xaf", 0),                    /* overlong / */
    TEST("\xe0\x80\xaf", 0),                /* overlong */
    TEST("\xed\xa0\x80", 0),                /* surrogate U+D800 */
    TEST("\xf4\x90\x80\x80", 0),            /* > U+10FFFF */
    TEST("\xf0\x8f\xbf\xbf", 0),            /* overlong 4-byte */
    TEST("\x80", 0),                        /* lone continuation */
    TEST("a\xe2\x82", 0),                   /* truncated at the end */
};

static const utf8_case pct_cases[] = {
    TEST("/heron/api", 1),
    TEST("/caf%C3%A9", 1),
    TEST("/caf%c3%a9", 1),
    TEST("/x%C3%28y", 0),
    TEST("name=%ff", 0),
    TEST("%ED%A0%80", 0),                   /* surrogate, encoded */
    TEST("%E2%82", 0),                      /* truncated, encoded */
    TEST("%E2%82%AC", 1),
    TEST("%", 1),                           /* a lone % is literal */
    TEST("%zz", 1),
    TEST("100%25", 1),
    TEST("%C3\xa9", 1),                     /* mixed encoded and raw */
    TEST("\xff", 0),                        /* raw bytes too */
};

static int run(const char *name, const utf8_case *c, size_t n, int (*fn)(const char *, size_t),
        int *pass, int *fail)
{
    for (size_t i = 0; i < n; i++) {
        int got = fn(c[i].in, c[i].len);
        if (got == c[i].expect) (*pass)++;
        else { (*fail)++; printf("FAILED  %s line %d: got %d, expected %d\n", name, c[i].line, got, c[i].expect); }
    }
    return 0;
}

/* Long inputs: a multi-byte sequence or an error straddling every chunk edge. */
static void run_long(int *pass, int *fail)
{
    for (size_t pad = 500; pad < 530; pad++) {
        char buf[2048];
        size_t n = 0;
        memset(buf, 'a', pad);
        n = pad;
        memcpy(buf + n, "%F0%9F%98%80", 12);   /* valid 4-byte, encoded */
        n += 12;
        memcpy(buf + n, "\xe2\x82\xac", 3);
        n += 3;
        if (rt_utf8_valid_percent_decoded(buf, n) == 1) (*pass)++;
        else { (*fail)++; printf("FAILED  long valid, pad %zu\n", pad); }
        buf[n - 1] = '(';                       /* break the last sequence */
        if (rt_utf8_valid_percent_decoded(buf, n) == 0) (*pass)++;
        else { (*fail)++; printf("FAILED  long invalid, pad %zu\n", pad); }
        memcpy(buf + pad, "%F0%9F%98%28", 12);  /* break the straddling one */
        buf[n - 1] = '\xac';
        if (rt_utf8_valid_percent_decoded(buf, n) == 0) (*pass)++;
        else { (*fail)++; printf("FAILED  long invalid straddling, pad %zu\n", pad); }
    }
}

int main(void)
{
    int pass = 0, fail = 0;
    run("rt_utf8_valid", raw_cases, sizeof raw_cases / sizeof raw_cases[0], rt_utf8_valid, &pass, &fail);
    run("rt_utf8_valid_percent_decoded", pct_cases, sizeof pct_cases / sizeof pct_cases[0],
        rt_utf8_valid_percent_decoded, &pass, &fail);
    run("rt_utf8_valid_percent_decoded (raw table)", raw_cases, sizeof raw_cases / sizeof raw_cases[0],
        rt_utf8_valid_percent_decoded, &pass, &fail);
    run_long(&pass, &fail);
    printf("utf8: %d passed, %d failed\n", pass, fail);
    return fail ? 1 : 0;
}

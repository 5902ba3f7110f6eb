/* rt_utf8.c — strict UTF-8 validation (RFC 3629 table 4). */
#include "rt_utf8.h"

#include <stdint.h>
#include <string.h>

int rt_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned char c = p[i];
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;

        if (c < 0x80) {
            /* ASCII, the common case: eight bytes at a time while no high bit is set */
            uint64_t w;
            for (i++; len - i >= 8; i += 8) {
                memcpy(&w, p + i, 8);
                if (w & 0x8080808080808080ull) break;
            }
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) n = 1;
        else if (c == 0xE0) { n = 2; lo = 0xA0; }
        else if (c >= 0xE1 && c <= 0xEC) n = 2;
        else if (c == 0xED) { n = 2; hi = 0x9F; }   /* no surrogates */
        else if (c >= 0xEE && c <= 0xEF) n = 2;
        else if (c == 0xF0) { n = 3; lo = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) n = 3;
        else if (c == 0xF4) { n = 3; hi = 0x8F; }   /* <= U+10FFFF */
        else return 0;
        if (len - i - 1 < n) return 0;
        if (p[i + 1] < lo || p[i + 1] > hi) return 0;
        for (size_t k = 2; k <= n; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xBF) return 0;
        i += n + 1;
    }
    return 1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int rt_utf8_valid_percent_decoded(const char *s, size_t len)
{
    /* Decode into a bounded buffer in chunks; a UTF-8 sequence is at most 4
       bytes, so carry up to 3 undecided bytes between chunks. */
    char buf[512];
    size_t n = 0, i = 0;

    while (i < len) {
        int h1, h2;
        if (s[i] == '%' && i + 2 < len &&
            (h1 = hexval(s[i + 1])) >= 0 && (h2 = hexval(s[i + 2])) >= 0) {
            buf[n++] = (char)(h1 * 16 + h2);
            i += 3;
        } else {
            buf[n++] = s[i++];
        }
        if (n == sizeof buf) {
            /* validate up to the last complete sequence start */
            size_t cut = n;
            size_t back = 0;
            while (back < 3 && cut > 0 &&
                   ((unsigned char)buf[cut - 1] & 0xC0) == 0x80) { cut--; back++; }
            if (cut > 0 && ((unsigned char)buf[cut - 1] & 0x80)) cut--; /* lead byte */
            if (!rt_utf8_valid(buf, cut)) return 0;
            for (size_t k = cut; k < n; k++) buf[k - cut] = buf[k];
            n -= cut;
        }
    }
    return rt_utf8_valid(buf, n);
}

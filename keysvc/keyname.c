/* keyname.c — key names: refused characters, then NFC (libunistring). */
#include "keyname.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uninorm.h>
#include <unistr.h>

/* Control characters and the bidirectional formatting characters. */
static int keyname_refused(ucs4_t c)
{
	return c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F) ||                   /* C0, DEL, C1 */
	       (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) ||        /* embeddings, overrides, isolates */
	       c == 0x200E || c == 0x200F || c == 0x061C;                            /* LRM, RLM, ALM */
}

int keyname_nfc(const char *in, char *out, size_t outlen, size_t max_chars)
{
	const uint8_t *s = (const uint8_t *)in, *end;
	size_t n = strlen(in), len;
	uint8_t *r;
	ucs4_t c;
	int l;

	if (outlen == 0 || u8_check(s, n))
		return -1;
	if (n == 0) {
		out[0] = '\0';
		return 0;
	}
	for (end = s + n; s < end; s += l) {
		l = u8_mbtouc(&c, s, (size_t)(end - s));
		if (l <= 0 || keyname_refused(c))
			return -1;
	}
	len = outlen - 1;
	r = u8_normalize(UNINORM_NFC, (const uint8_t *)in, n, (uint8_t *)out, &len);
	if (!r)
		return -1;
	if (r != (uint8_t *)out) {   /* longer than out: libunistring allocated it */
		free(r);
		return -1;
	}
	out[len] = '\0';
	return u8_mbsnlen((const uint8_t *)out, len) <= max_chars ? 0 : -1;
}

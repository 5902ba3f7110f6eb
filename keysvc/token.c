/* token.c — API-key tokens: CSPRNG body, base62, CRC32 checksum. */
#include "token.h"

#include <pthread.h>
#include <string.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

static const char token_alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/* "fk_": Feldera keys issued before Feldera's own "apikey:" format, still valid */
#define TOKEN_PREFIX(text) { text, sizeof text - 1 }
static const struct { const char *text; size_t len; } token_prefixes[] = {
	TOKEN_PREFIX("key_"), TOKEN_PREFIX("apikey:"), TOKEN_PREFIX("fk_"), TOKEN_PREFIX("ak_"), TOKEN_PREFIX("fa_"),
	TOKEN_PREFIX("apk_"), { NULL, 0 },
};
#undef TOKEN_PREFIX

/* CRC-32 (IEEE 802.3, zlib's), four bytes a step (slicing by 4: table[k]
   is the CRC of a byte followed by k zero bytes). Every token is checked
   on every request before its HMAC: the byte-a-step loop was a visible
   share of a verify (perf, bench-verify). */
static uint32_t token_crc_table[4][256];

static void token_crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		token_crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int k = 1; k < 4; k++)
			token_crc_table[k][i] = (token_crc_table[k - 1][i] >> 8) ^ token_crc_table[0][token_crc_table[k - 1][i] & 0xFF];
}

uint32_t token_crc32(const void *data, size_t len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const unsigned char *p = data;
	uint32_t crc = 0xFFFFFFFFu;

	pthread_once(&once, token_crc_init);
	for (; len >= 4; len -= 4, p += 4) {
		crc ^= (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		crc = token_crc_table[3][crc & 0xFF] ^ token_crc_table[2][(crc >> 8) & 0xFF] ^
		      token_crc_table[1][(crc >> 16) & 0xFF] ^ token_crc_table[0][crc >> 24];
	}
	for (; len > 0; len--, p++)
		crc = token_crc_table[0][(crc ^ *p) & 0xFF] ^ (crc >> 8);
	return crc ^ 0xFFFFFFFFu;
}

/* 1 for a letter of token_alphabet (a table: a test per byte of every
   token of every request). */
static const unsigned char token_is_base62[256] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
	['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
	['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
	['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
	['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static int token_base62(unsigned char c)
{
	return token_is_base62[c];
}

static void token_crc_text(uint32_t crc, char out[TOKEN_CRC_LEN])
{
	for (int i = TOKEN_CRC_LEN - 1; i >= 0; i--) {
		out[i] = token_alphabet[crc % 62];
		crc /= 62;
	}
}

const char *token_prefix_of(const char *s)
{
	for (size_t i = 0; token_prefixes[i].text; i++)
		if (s[0] == token_prefixes[i].text[0] && strncmp(s, token_prefixes[i].text, token_prefixes[i].len) == 0)
			return token_prefixes[i].text;
	return NULL;
}

int token_new(const char *prefix, char *out, size_t outlen)
{
	unsigned char rnd[TOKEN_BODY_LEN];
	size_t pl = strlen(prefix);

	if (pl + TOKEN_BODY_LEN + TOKEN_CRC_LEN + 1 > outlen)
		return -1;
	/* 43 characters from 62 letters, each by rejection sampling of a random
	 * byte (values >= 248 are drawn again), so every letter is equally likely:
	 * 43 * log2(62) = 256 bits */
	memcpy(out, prefix, pl);
	for (size_t i = 0; i < TOKEN_BODY_LEN;) {
		if (gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof rnd) != 0)
			return -1;
		for (size_t k = 0; k < sizeof rnd && i < TOKEN_BODY_LEN; k++)
			if (rnd[k] < 248)
				out[pl + i++] = token_alphabet[rnd[k] % 62];
	}
	token_crc_text(token_crc32(out, pl + TOKEN_BODY_LEN), out + pl + TOKEN_BODY_LEN);
	out[pl + TOKEN_BODY_LEN + TOKEN_CRC_LEN] = '\0';
	gnutls_memset(rnd, 0, sizeof rnd);
	return 0;
}

int token_shape(const char *s)
{
	const char *prefix = token_prefix_of(s);
	size_t pl, n = strlen(s);

	if (!prefix)
		return 0;
	pl = strlen(prefix);
	if (n != pl + TOKEN_BODY_LEN + TOKEN_CRC_LEN)
		return 0;
	for (size_t i = pl; i < n; i++)
		if (!token_base62((unsigned char)s[i]))
			return 0;
	return 1;
}

int token_crc_ok(const char *s)
{
	size_t body = strlen(s) - TOKEN_CRC_LEN;   /* a token of token_shape's: longer than its checksum */
	char crc[TOKEN_CRC_LEN];

	token_crc_text(token_crc32(s, body), crc);
	return memcmp(crc, s + body, TOKEN_CRC_LEN) == 0;
}

int token_check(const char *s)
{
	return token_shape(s) && token_crc_ok(s);
}

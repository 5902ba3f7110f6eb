/* token.h — the API-key format: PREFIX + 43 base62 characters (256 random
 * bits from gnutls_rnd(GNUTLS_RND_KEY)) + 6 base62 characters of CRC32 over
 * everything before them (GitHub's token format). A mistyped or random
 * string fails the checksum and is refused without touching the store. */
#ifndef TOKEN_H
#define TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_BODY_LEN 43
#define TOKEN_CRC_LEN 6
#define TOKEN_MAX 64          /* longest token plus NUL */
#define TOKEN_PREFIX_SHOWN 8  /* token_prefix: the first 8 characters */

/* Writes a new token with prefix ("key_", "apikey:", "ak_", ...) into out; 0 or -1. */
int token_new(const char *prefix, char *out, size_t outlen);
/* 1 if s has a known prefix, the right length, base62 body and a matching
 * checksum; 0 otherwise. */
int token_check(const char *s);
/* token_check in two halves: a known prefix, the right length and a base62
   body (token_shape), and the checksum of a token of that shape
   (token_crc_ok). The authentication path asks for the checksum only when
   the key cache misses: a token whose HMAC matched a stored key's has the
   key's checksum. */
int token_shape(const char *s);
int token_crc_ok(const char *s);
/* One of the known prefixes s starts with, or NULL. */
const char *token_prefix_of(const char *s);
uint32_t token_crc32(const void *data, size_t len);

#endif

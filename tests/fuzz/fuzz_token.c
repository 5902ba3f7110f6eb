/* fuzz_token.c — the API-key token parser (keysvc/token.c: prefix, 43
 * base62 characters, 6 base62 characters of CRC32) and the key service's
 * API-key authentication in front of an in-memory store.
 *
 * Input: the credential as a C string (up to its first NUL), as the
 * x-api-key header or the Bearer value reaches the authentication hook.
 *
 * Oracle, besides the sanitizers: token_check agrees with a second,
 * independent reading of the format written here (bitwise CRC32, its own
 * base62); keysvc_authenticate answers BAD_TOKEN exactly for what that
 * reading refuses, and REJECTED for well-formed tokens the store does not
 * hold (only the stored key is OK).
 */
#include "fuzz.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keysvc.h"
#include "token.h"

static keysvc *fuzz_ks;
static char fuzz_key[TOKEN_MAX];

static uint32_t fuzz_crc32(const char *s, size_t n)
{
	uint32_t crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		crc ^= (unsigned char)s[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static int fuzz_base62(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int fuzz_digit(char c)
{
	return c <= '9' ? c - '0' : c <= 'Z' ? c - 'A' + 10 : c - 'a' + 36;
}

/* The format, read again: the length of the known prefix s starts with,
 * or 0; and whether the whole token is well formed. */
static size_t fuzz_prefix(const char *s)
{
	static const char *const known[] = { "key_", "apikey:", "fk_", "ak_", "fa_", "apk_" };   /* fk_: Feldera before apikey:; apk_: apikeyd's own API */

	for (size_t i = 0; i < sizeof known / sizeof *known; i++)
		if (strncmp(s, known[i], strlen(known[i])) == 0)
			return strlen(known[i]);
	return 0;
}

static int fuzz_well_formed(const char *s)
{
	size_t pl = fuzz_prefix(s), n = strlen(s);
	uint64_t crc = 0;

	if (!pl || n != pl + 43 + 6)
		return 0;
	for (size_t i = pl; i < n; i++)
		if (!fuzz_base62(s[i]))
			return 0;
	for (size_t i = n - 6; i < n; i++)
		crc = crc * 62 + (uint64_t)fuzz_digit(s[i]);
	return crc == fuzz_crc32(s, n - 6);
}

static void fuzz_token_release(void)
{
	keysvc_close(fuzz_ks);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	keysvc_config kc = { .db_path = ":memory:", .fail_limit = UINT_MAX };
	char err[256];
	int64_t user;

	(void)argc;
	(void)argv;
	if (keysvc_open(&kc, &fuzz_ks, err, sizeof err) != 0 ||
	    keysvc_user_add(fuzz_ks, "fuzz", fuzz_key, sizeof fuzz_key, &user) != KEYSVC_OK) {
		fprintf(stderr, "fuzz_token: cannot open the store: %s\n", err);
		abort();
	}
	FUZZ_ASSERT(fuzz_well_formed(fuzz_key), "a new token is not well formed: %s", fuzz_key);
	atexit(fuzz_token_release);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = strndup((const char *)data, size);
	keysvc_principal p;
	unsigned retry = 0;
	int want, rc;

	if (!s)
		return 0;
	want = fuzz_well_formed(s);
	FUZZ_ASSERT(token_check(s) == want, "token_check(\"%s\") is %d", s, !want);
	FUZZ_ASSERT((token_prefix_of(s) != NULL) == (fuzz_prefix(s) != 0), "token_prefix_of(\"%s\")", s);
	rc = keysvc_authenticate(fuzz_ks, s, "fuzz", &p, &retry);
	if (strcmp(s, fuzz_key) == 0)
		FUZZ_ASSERT(rc == KEYSVC_OK, "the stored key fails: %s", keysvc_strerror(rc));
	else
		FUZZ_ASSERT(rc == (want ? KEYSVC_REJECTED : KEYSVC_BAD_TOKEN), "keysvc_authenticate(\"%s\"): %s", s,
		            keysvc_strerror(rc));
	free(s);
	return 0;
}

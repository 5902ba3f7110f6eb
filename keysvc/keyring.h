/* keyring.h — the HMAC secrets API keys are hashed with, each with an id
 * (issue 14, secret rotation). The store keeps, per key, the id of the
 * secret its hash was made with; a key made with an older secret is
 * re-hashed with the current one when it is next used (keysvc.c).
 *
 * The file (mode 0600, never group- or world-readable):
 *   apikeyd-keyring 1
 *   ID HEX ADDED          one line per secret: id (1, 2, ...), 64 hex
 *   ...                   digits (32 bytes), unix seconds it was added
 * ordered by id; the highest id is the current secret (new keys). A file
 * of exactly 32 bytes is the format before keyrings: a keyring of one
 * secret, id 1 (keyring.legacy); keyring_save writes the text format.
 * keyring_save writes a new file beside the old one, fsyncs it, renames it
 * over the old one and fsyncs the folder: a reader sees the old keyring or
 * the new one, never a part, and a crash leaves one of the two.
 *
 * A keyring is a plain value (no pointers): copy it, and keyring_wipe it
 * when done (the secrets are zeroed). */
#ifndef KEYRING_H
#define KEYRING_H

#include <stddef.h>
#include <stdint.h>

#define KEYRING_SECRET_LEN 32
#define KEYRING_MAX 16          /* secrets held at once: retire old ones */
#define KEYRING_MAGIC "apikeyd-keyring 1"

typedef struct keyring_secret {
	int64_t id;
	int64_t added;              /* unix seconds; 0: unknown (a legacy file) */
	unsigned char key[KEYRING_SECRET_LEN];
} keyring_secret;

typedef struct keyring {
	size_t n;                   /* secrets in s, by id; s[n - 1] is current */
	keyring_secret s[KEYRING_MAX];
	int legacy;                 /* read from a 32-byte file */
} keyring;

/* Reads path: 0, 1 when the file does not exist (errno ENOENT; out empty),
 * or -1 with err (unreadable, readable by others, malformed: the line and
 * what is wrong with it). */
int keyring_load(const char *path, keyring *out, char *err, size_t errlen);
/* Writes k to path atomically (see above), mode 0600; 0 or -1 with err. */
int keyring_save(const char *path, const keyring *k, char *err, size_t errlen);
/* Adds a new random secret, id one past the highest, as current; 0 or -1
 * (full: KEYRING_MAX, or no randomness) with err. */
int keyring_add(keyring *k, int64_t now, char *err, size_t errlen);
/* Removes the secret id: 0, or -1 when k holds no such id. */
int keyring_remove(keyring *k, int64_t id);
/* The current secret (NULL for an empty keyring), or the one with this id. */
const keyring_secret *keyring_current(const keyring *k);
const keyring_secret *keyring_find(const keyring *k, int64_t id);
/* An exclusive lock on path + ".lock" (created 0600), so two rotations or
 * a rotation and a retire never interleave: fd, or -1 with err. Released
 * by keyring_unlock (close). */
int keyring_lock(const char *path, char *err, size_t errlen);
void keyring_unlock(int fd);
/* Zeroes every secret in k. */
void keyring_wipe(keyring *k);

#endif

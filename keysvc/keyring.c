/* keyring.c — the HMAC keyring file: read, written atomically, locked. */
#include "keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

/* the whole file: the magic line and KEYRING_MAX lines of ~100 bytes */
#define KEYRING_FILE_MAX 4096

void keyring_wipe(keyring *k)
{
	gnutls_memset(k, 0, sizeof *k);
}

const keyring_secret *keyring_current(const keyring *k)
{
	return k->n ? &k->s[k->n - 1] : NULL;
}

const keyring_secret *keyring_find(const keyring *k, int64_t id)
{
	for (size_t i = 0; i < k->n; i++)
		if (k->s[i].id == id)
			return &k->s[i];
	return NULL;
}

static int keyring_hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* One "ID HEX ADDED" line (NUL-terminated, no newline) into s. */
static int keyring_parse_line(const char *line, keyring_secret *s)
{
	char *end = NULL;
	const char *p = line;
	long long id, added;

	errno = 0;
	id = strtoll(p, &end, 10);
	if (errno || end == p || id <= 0 || *end != ' ')
		return -1;
	p = end + 1;
	for (int i = 0; i < KEYRING_SECRET_LEN; i++) {
		int hi = keyring_hexval(p[2 * i]), lo = hi < 0 ? -1 : keyring_hexval(p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		s->key[i] = (unsigned char)(hi << 4 | lo);
	}
	p += 2 * KEYRING_SECRET_LEN;
	if (*p != ' ')
		return -1;
	errno = 0;
	added = strtoll(p + 1, &end, 10);
	if (errno || end == p + 1 || *end != '\0' || added < 0)
		return -1;
	s->id = id;
	s->added = added;
	return 0;
}

int keyring_load(const char *path, keyring *out, char *err, size_t errlen)
{
	char buf[KEYRING_FILE_MAX + 1];
	struct stat sb;
	ssize_t n = 0, r;
	int fd, rc = -1, lineno = 1;
	char *line, *next;

	memset(out, 0, sizeof *out);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || (sb.st_mode & 077)) {
		snprintf(err, errlen, "%s: the secret file must not be readable by group or others (chmod 600)", path);
		goto cleanup;
	}
	while (n < KEYRING_FILE_MAX + 1 && (r = read(fd, buf + n, (size_t)(KEYRING_FILE_MAX + 1 - n))) > 0)
		n += r;
	if (n == KEYRING_SECRET_LEN && memcmp(buf, KEYRING_MAGIC, strlen(KEYRING_MAGIC)) != 0) {
		out->n = 1;
		out->legacy = 1;
		out->s[0].id = 1;
		memcpy(out->s[0].key, buf, KEYRING_SECRET_LEN);
		rc = 0;
		goto cleanup;
	}
	if (n > KEYRING_FILE_MAX || (size_t)n < strlen(KEYRING_MAGIC) + 1 ||
	    memcmp(buf, KEYRING_MAGIC "\n", strlen(KEYRING_MAGIC) + 1) != 0 || memchr(buf, '\0', (size_t)n)) {
		snprintf(err, errlen, "%s: the secret file must hold 32 bytes, or a keyring (first line \"%s\")", path,
		         KEYRING_MAGIC);
		goto cleanup;
	}
	buf[n] = '\0';
	for (line = buf + strlen(KEYRING_MAGIC) + 1; *line; line = next) {
		char *nl = strchr(line, '\n');
		lineno++;
		if (!nl) {
			snprintf(err, errlen, "%s:%d: the line does not end (a cut file?)", path, lineno);
			goto cleanup;
		}
		*nl = '\0';
		next = nl + 1;
		if (out->n == KEYRING_MAX) {
			snprintf(err, errlen, "%s:%d: more than %d secrets", path, lineno, KEYRING_MAX);
			goto cleanup;
		}
		if (keyring_parse_line(line, &out->s[out->n]) != 0) {
			snprintf(err, errlen, "%s:%d: expected \"ID HEX ADDED\" (an id from 1, 64 hex digits, unix seconds)",
			         path, lineno);
			goto cleanup;
		}
		if (out->n && out->s[out->n].id <= out->s[out->n - 1].id) {
			snprintf(err, errlen, "%s:%d: secret ids must increase line by line", path, lineno);
			goto cleanup;
		}
		out->n++;
	}
	if (out->n == 0) {
		snprintf(err, errlen, "%s: the keyring holds no secret", path);
		goto cleanup;
	}
	rc = 0;
cleanup:
	gnutls_memset(buf, 0, sizeof buf);
	close(fd);
	if (rc != 0)
		keyring_wipe(out);
	return rc;
}

/* fsync of the folder holding path: the rename is durable. */
static int keyring_sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = -1;

	if (!copy)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

int keyring_save(const char *path, const keyring *k, char *err, size_t errlen)
{
	char buf[KEYRING_FILE_MAX], *tmp = NULL;
	size_t len = 0;
	int fd = -1, rc = -1;

	len = (size_t)snprintf(buf, sizeof buf, "%s\n", KEYRING_MAGIC);
	for (size_t i = 0; i < k->n; i++) {
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%" PRId64 " ", k->s[i].id);
		for (int b = 0; b < KEYRING_SECRET_LEN; b++)
			len += (size_t)snprintf(buf + len, sizeof buf - len, "%02x", k->s[i].key[b]);
		len += (size_t)snprintf(buf + len, sizeof buf - len, " %" PRId64 "\n", k->s[i].added);
	}
	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		tmp = NULL;
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		goto cleanup;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: cannot replace: %s", path, strerror(errno));
		goto cleanup;
	}
	if (keyring_sync_dir(path) != 0) {
		snprintf(err, errlen, "%s: written, but the folder cannot be synced: %s", path, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto cleanup;
	}
	free(tmp);
	tmp = NULL;
	rc = 0;
cleanup:
	gnutls_memset(buf, 0, sizeof buf);
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	return rc;
}

int keyring_add(keyring *k, int64_t now, char *err, size_t errlen)
{
	keyring_secret *s;

	if (k->n == KEYRING_MAX) {
		snprintf(err, errlen, "the keyring holds %d secrets already: retire an old one first", KEYRING_MAX);
		return -1;
	}
	s = &k->s[k->n];
	if (gnutls_rnd(GNUTLS_RND_KEY, s->key, sizeof s->key) != 0) {
		snprintf(err, errlen, "cannot draw random bytes for the secret");
		return -1;
	}
	s->id = k->n ? k->s[k->n - 1].id + 1 : 1;
	s->added = now;
	k->n++;
	k->legacy = 0;
	return 0;
}

int keyring_remove(keyring *k, int64_t id)
{
	for (size_t i = 0; i < k->n; i++) {
		if (k->s[i].id != id)
			continue;
		memmove(&k->s[i], &k->s[i + 1], (k->n - i - 1) * sizeof k->s[0]);
		k->n--;
		gnutls_memset(&k->s[k->n], 0, sizeof k->s[0]);
		return 0;
	}
	return -1;
}

int keyring_lock(const char *path, char *err, size_t errlen)
{
	char lock[4200];
	int fd;

	snprintf(lock, sizeof lock, "%s.lock", path);
	fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", lock, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX) != 0) {
		snprintf(err, errlen, "%s: cannot lock: %s", lock, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

void keyring_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

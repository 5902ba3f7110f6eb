/* keysvc.c — keys, secrets, authentication and rate limiting. */
#include "keysvc.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <rhonabwy.h>

#include "keycache.h"
#include "listcache.h"
#include "ratelimit.h"

#define KEYSVC_SECRET_LEN 32
#define KEYSVC_TOUCH_SLOTS 4096
#define KEYSVC_TOUCH_EVERY 60
/* Authentication cache: slots, and the age after which an entry goes back
   to the store (a backstop: changes made through this process forget the
   key at once, and another process's writes empty the caches on the next
   call, keysvc_other_writers). */
#define KEYSVC_CACHE_SLOTS 8192
#define KEYSVC_CACHE_TTL 5
/* List cache: groups of owners, the longest list kept, rows kept in all
   (a store_key is about 1.3 KiB: at most ~5 MiB). */
#define KEYSVC_LIST_GROUPS 256
#define KEYSVC_LIST_MAX_KEYS 64
#define KEYSVC_LIST_MAX_ROWS 4096

#define KEYSVC_MSG(name, msg) msg,
static const char *const keysvc_messages[] = { KEYSVC_STATUS_MAP(KEYSVC_MSG) };
#undef KEYSVC_MSG

static const char *const keysvc_prefixes[KEYSVC_NFAMILIES] = { "key_", "fk_", "ak_", "ak_", "fa_" };

/* When each key's last_used was last written. */
typedef struct keysvc_touch {
	int64_t key_id;
	time_t written;
} keysvc_touch;

struct keysvc {
	store *st;
	unsigned char secret[KEYSVC_SECRET_LEN];
	jwks_t *jwks;
	keycache *cache;
	listcache *lists;
	ratelimit *rate;
	store_log_fn log;
	pthread_mutex_t lock;      /* the touch table (stats are atomic) */
	keysvc_touch touch[KEYSVC_TOUCH_SLOTS];
	keysvc_stats stats;
};

const char *keysvc_strerror(int status)
{
	return status >= 0 && status < KEYSVC_NSTATUS ? keysvc_messages[status] : "unknown error";
}

/* ---- the server secret ---- */

/* Reads the secret, or creates it when the file is missing (*created = 1). */
static int keysvc_secret(const char *path, unsigned char *secret, int *created, char *err, size_t errlen)
{
	struct stat sb;
	int fd;
	ssize_t n;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		if (fstat(fd, &sb) != 0 || (sb.st_mode & 077)) {
			snprintf(err, errlen, "%s: the secret file must not be readable by group or others (chmod 600)", path);
			close(fd);
			return -1;
		}
		n = read(fd, secret, KEYSVC_SECRET_LEN);
		close(fd);
		if (n != KEYSVC_SECRET_LEN) {
			snprintf(err, errlen, "%s: the secret file must hold %d bytes", path, KEYSVC_SECRET_LEN);
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (gnutls_rnd(GNUTLS_RND_KEY, secret, KEYSVC_SECRET_LEN) != 0) {
		snprintf(err, errlen, "cannot draw random bytes for the secret");
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create the secret file: %s", path, strerror(errno));
		return -1;
	}
	n = write(fd, secret, KEYSVC_SECRET_LEN);
	if (n != KEYSVC_SECRET_LEN || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: cannot write the secret file", path);
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	*created = 1;
	return 0;
}

static int keysvc_load_jwks(keysvc *ks, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	long len;
	int rc = -1;
	jwk_t *jwk = NULL;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 || len > 1 << 20) {
		snprintf(err, errlen, "%s: cannot read the JWT key file", path);
		goto cleanup;
	}
	text = calloc(1, (size_t)len + 1);
	if (!text || fread(text, 1, (size_t)len, f) != (size_t)len)
		goto cleanup;
	if (r_jwks_init(&ks->jwks) != RHN_OK)
		goto cleanup;
	if (strstr(text, "-----BEGIN")) {
		if (r_jwk_init(&jwk) != RHN_OK ||
		    r_jwk_import_from_pem_der(jwk, R_X509_TYPE_PUBKEY, R_FORMAT_PEM, (const unsigned char *)text, (size_t)len) != RHN_OK ||
		    r_jwks_append_jwk(ks->jwks, jwk) != RHN_OK) {
			snprintf(err, errlen, "%s: not a PEM public key rhonabwy can read", path);
			goto cleanup;
		}
	} else if (r_jwks_import_from_json_str(ks->jwks, text) != RHN_OK || r_jwks_size(ks->jwks) == 0) {
		snprintf(err, errlen, "%s: not a JWKS document with at least one key", path);
		goto cleanup;
	}
	rc = 0;
cleanup:
	r_jwk_free(jwk);
	free(text);
	fclose(f);
	return rc;
}

/* ---- the secret's check value ---- */

static void keysvc_log(const keysvc *ks, int level, const char *msg)
{
	if (ks->log)
		ks->log(level, msg);
	else
		fprintf(stderr, "apikeyd: %s\n", msg);
}

#define KEYSVC_CHECK_LABEL "apikeyd-secret-check"

/* HMAC-SHA-256(secret, "apikeyd-secret-check") in hex: tells whether a
 * secret is the one the stored keys were made with, and nothing about it. */
static int keysvc_check_value(const keysvc *ks, char out[2 * STORE_HASH_LEN + 1])
{
	unsigned char mac[STORE_HASH_LEN];

	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, ks->secret, sizeof ks->secret, KEYSVC_CHECK_LABEL,
	                     strlen(KEYSVC_CHECK_LABEL), mac) != 0)
		return -1;
	for (size_t i = 0; i < sizeof mac; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

/* Refuses a secret that is not the one of the stored keys: every key would
 * answer 401. A database with keys and no check value yet (made before
 * schema 3) gets one from the first start with a secret it did not just
 * create; with a secret just created (the file was missing) it is refused. */
static int keysvc_secret_matches(keysvc *ks, const char *secret_path, int created, char *err, size_t errlen)
{
	char want[2 * STORE_HASH_LEN + 1], have[2 * STORE_HASH_LEN + 8];
	int64_t keys = 0;
	int rc;

	if (keysvc_check_value(ks, want) != 0) {
		snprintf(err, errlen, "cannot compute the secret's check value");
		return -1;
	}
	rc = store_meta_get(ks->st, "secret_check", have, sizeof have);
	if (rc == STORE_OK) {
		if (strcmp(have, want) == 0)
			return 0;
		snprintf(err, errlen, "%s: not the secret the keys in %s were made with (its check value differs); %s",
		         secret_path, "the database",
		         created ? "the secret file was missing: restore it from a backup" : "restore the right secret file");
		return -1;
	}
	if (rc != STORE_NOT_FOUND || store_key_count(ks->st, &keys) != STORE_OK) {
		snprintf(err, errlen, "cannot read the secret's check value from the database");
		return -1;
	}
	if (keys > 0 && created) {
		snprintf(err, errlen, "%s was missing, and the database holds %lld keys made with the secret it held: "
		         "restore the secret file from a backup (a new secret would make every key fail)",
		         secret_path, (long long)keys);
		return -1;
	}
	if (store_meta_set(ks->st, "secret_check", want) != STORE_OK)
		keysvc_log(ks, STORE_LOG_WARNING, "cannot write the secret's check value (a read-only database?); "
		        "the next start that can will write it");
	return 0;
}

int keysvc_open(const keysvc_config *cfg, keysvc **out, char *err, size_t errlen)
{
	keysvc *ks = calloc(1, sizeof *ks);
	store_config sc = { .path = cfg->db_path, .synchronous_full = cfg->synchronous_full,
	                    .group_commit = !cfg->naive_commit, .log = cfg->log };
	char *secret_path = NULL;
	int created = 0;

	*out = NULL;
	if (!ks)
		return -1;
	ks->log = cfg->log;
	pthread_mutex_init(&ks->lock, NULL);
	if (strcmp(cfg->db_path, ":memory:") == 0 && !cfg->secret_path) {
		if (gnutls_rnd(GNUTLS_RND_KEY, ks->secret, sizeof ks->secret) != 0)
			goto fail;
	} else {
		if (cfg->secret_path) {
			secret_path = strdup(cfg->secret_path);
		} else {
			char *copy = strdup(cfg->db_path);
			if (!copy || asprintf(&secret_path, "%s/apikeyd.secret", dirname(copy)) < 0)
				secret_path = NULL;
			free(copy);
		}
		if (!secret_path || keysvc_secret(secret_path, ks->secret, &created, err, errlen) != 0)
			goto fail;
	}
	if (cfg->jwt_key_path && keysvc_load_jwks(ks, cfg->jwt_key_path, err, errlen) != 0)
		goto fail;
	if (store_open(&sc, &ks->st, err, errlen) != 0)
		goto fail;
	if (secret_path && keysvc_secret_matches(ks, secret_path, created, err, errlen) != 0) {
		if (created)
			unlink(secret_path);   /* so that the next start does not take it for the right one */
		goto fail;
	}
	if (ratelimit_new(cfg->fail_limit ? cfg->fail_limit : 10, cfg->fail_window ? cfg->fail_window : 60, &ks->rate) != 0) {
		snprintf(err, errlen, "cannot set up the key service's rate limiter (memory or randomness)");
		goto fail;
	}
	if (keycache_new(KEYSVC_CACHE_SLOTS, KEYSVC_CACHE_TTL, &ks->cache) != 0 ||
	    listcache_new(KEYSVC_LIST_GROUPS, KEYSVC_LIST_MAX_KEYS, KEYSVC_LIST_MAX_ROWS, KEYSVC_CACHE_TTL, &ks->lists) != 0) {
		snprintf(err, errlen, "out of memory for the key service's caches");
		goto fail;
	}
	free(secret_path);
	*out = ks;
	return 0;
fail:
	free(secret_path);
	keysvc_close(ks);
	return -1;
}

void keysvc_close(keysvc *ks)
{
	if (!ks)
		return;
	store_close(ks->st);
	keycache_free(ks->cache);
	listcache_free(ks->lists);
	ratelimit_free(ks->rate);
	r_jwks_free(ks->jwks);
	gnutls_memset(ks->secret, 0, sizeof ks->secret);
	pthread_mutex_destroy(&ks->lock);
	free(ks);
}

store *keysvc_store(keysvc *ks)
{
	return ks->st;
}

void keysvc_get_stats(keysvc *ks, keysvc_stats *out)
{
	out->hash_lookups = __atomic_load_n(&ks->stats.hash_lookups, __ATOMIC_RELAXED);
	out->bad_tokens = __atomic_load_n(&ks->stats.bad_tokens, __ATOMIC_RELAXED);
	out->cache_hits = __atomic_load_n(&ks->stats.cache_hits, __ATOMIC_RELAXED);
	out->list_hits = __atomic_load_n(&ks->stats.list_hits, __ATOMIC_RELAXED);
}

static int keysvc_hash(keysvc *ks, const char *token, unsigned char out[STORE_HASH_LEN])
{
	return gnutls_hmac_fast(GNUTLS_MAC_SHA256, ks->secret, sizeof ks->secret, token, strlen(token), out) == 0 ? 0 : -1;
}

static int keysvc_from_store(int rc)
{
	return rc == STORE_OK ? KEYSVC_OK : rc == STORE_NOT_FOUND ? KEYSVC_NOT_FOUND
	     : rc == STORE_CONSTRAINT ? KEYSVC_DUPLICATE : rc == STORE_UNAVAILABLE ? KEYSVC_UNAVAILABLE : KEYSVC_STORE;
}

/* Another process wrote to the keys (store_changed: PRAGMA data_version,
   then the epoch row): both caches drop everything before they answer. */
static void keysvc_other_writers(keysvc *ks)
{
	if (store_changed(ks->st)) {
		keycache_forget_all(ks->cache);
		listcache_forget_all(ks->lists);
	}
}

int keysvc_ready(keysvc *ks, unsigned timeout_ms, char *why, size_t len)
{
	return keysvc_from_store(store_ready(ks->st, timeout_ms, why, len));
}

/* ---- keys ---- */

/* Characters (code points) of a UTF-8 string: the bytes that do not continue one. */
static size_t keysvc_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* A name or description fits: the documents' limit in characters, and
 * the store's buffer in bytes (for text that is not UTF-8). */
static int keysvc_fits(const char *s, size_t chars, size_t bytes)
{
	return strlen(s) < bytes && keysvc_chars(s) <= chars;
}

int keysvc_create(keysvc *ks, int64_t user, int family, const char *name, const char *description,
                  const char *role, const char *client, keysvc_key *out, char *token, size_t toklen)
{
	unsigned char hash[STORE_HASH_LEN];
	size_t tl;
	int rc;

	if (family < 0 || family >= KEYSVC_NFAMILIES || !name || !keysvc_fits(name, STORE_NAME_CHARS, sizeof out->name) ||
	    (description && !keysvc_fits(description, STORE_DESCRIPTION_CHARS, sizeof out->description)) ||
	    (role && strlen(role) > 7) || toklen < TOKEN_MAX)
		return KEYSVC_INVALID;
	memset(out, 0, sizeof *out);
	out->user_id = user;
	out->family = family;
	snprintf(out->name, sizeof out->name, "%s", name);
	if (description) {
		out->has_description = 1;
		snprintf(out->description, sizeof out->description, "%s", description);
	}
	snprintf(out->role, sizeof out->role, "%s", role ? role : "");
	for (int attempt = 0; attempt < 3; attempt++) {
		if (token_new(keysvc_prefixes[family], token, toklen) != 0 || keysvc_hash(ks, token, hash) != 0)
			return KEYSVC_STORE;
		tl = strlen(token);
		snprintf(out->prefix, sizeof out->prefix, "%.8s", token);
		snprintf(out->tail, sizeof out->tail, "%s", token + tl - 3);
		rc = store_key_insert(ks->st, out, hash, client);
		listcache_forget_user(ks->lists, user);
		if (rc != STORE_CONSTRAINT || family == KEYSVC_FELDERA)
			break;
		/* a hash collision (never in practice): draw again */
	}
	if (rc != STORE_OK)
		gnutls_memset(token, 0, toklen);
	return keysvc_from_store(rc);
}

int keysvc_user_add(keysvc *ks, const char *name, char *token, size_t toklen, int64_t *user_id)
{
	keysvc_key k;
	int rc;

	if (!name || !*name || strlen(name) > 128)
		return KEYSVC_INVALID;
	rc = store_user_add(ks->st, name, user_id);
	if (rc == STORE_CONSTRAINT)
		return KEYSVC_USER_EXISTS;
	if (rc != STORE_OK)
		return KEYSVC_STORE;
	return keysvc_create(ks, *user_id, KEYSVC_HERON, "first key", NULL, NULL, "cli", &k, token, toklen);
}

int keysvc_list(keysvc *ks, int64_t user, int family, const char *name, int include_revoked, int64_t skip,
                int64_t limit, keysvc_key **out, size_t *n, int64_t *total)
{
	int whole = !name && skip <= 0 && limit < 0;   /* the lists worth keeping: no filter, no page */
	time_t now = time(NULL);
	uint64_t epoch = 0;
	int rc;

	if (whole)
		keysvc_other_writers(ks);
	if (whole && listcache_get(ks->lists, user, family, include_revoked, now, out, n)) {
		__atomic_add_fetch(&ks->stats.list_hits, 1, __ATOMIC_RELAXED);
		*total = (int64_t)*n;
		return KEYSVC_OK;
	}
	if (whole)
		epoch = listcache_epoch(ks->lists, user);
	rc = store_key_list(ks->st, user, family, name, include_revoked, skip, limit, out, n, total);
	if (whole && rc == STORE_OK)
		listcache_put(ks->lists, user, family, include_revoked, *out, *n, epoch, now);
	return keysvc_from_store(rc);
}

int keysvc_get_uuid(keysvc *ks, int64_t user, int family, const char *uuid, keysvc_key *out)
{
	return keysvc_from_store(store_key_get_uuid(ks->st, user, family, uuid, out));
}

int keysvc_get_id(keysvc *ks, int64_t user, int family, int64_t id, keysvc_key *out)
{
	return keysvc_from_store(store_key_get_id(ks->st, user, family, id, out));
}

int keysvc_get_name(keysvc *ks, int64_t user, int family, const char *name, keysvc_key *out)
{
	return keysvc_from_store(store_key_get_name(ks->st, user, family, name, out));
}

/* KEYSVC_OK when the key belongs to user; another user's key is
 * KEYSVC_NOT_FOUND; a store that failed says so (never NOT_FOUND). */
static int keysvc_owned(keysvc *ks, int64_t user, int64_t key_id)
{
	keysvc_key k;

	return keysvc_from_store(store_key_get_id(ks->st, user, -1, key_id, &k));
}

/* After a state change is committed (or failed: no harm), the key leaves the
   authentication cache and its owner's lists the list cache before the
   caller hears back: the next request is decided by the store. */
static int keysvc_changed(keysvc *ks, int64_t owner, int64_t key_id, int store_rc)
{
	keycache_forget(ks->cache, key_id);
	listcache_forget_user(ks->lists, owner);
	return keysvc_from_store(store_rc);
}

int keysvc_set_active(keysvc *ks, int64_t user, int64_t key_id, int active, const char *client)
{
	int rc = keysvc_owned(ks, user, key_id);

	if (rc != KEYSVC_OK)
		return rc;
	return keysvc_changed(ks, user, key_id, store_key_set_active(ks->st, key_id, active, user, client));
}

int keysvc_revoke(keysvc *ks, int64_t user, int64_t key_id, const char *client)
{
	int rc = keysvc_owned(ks, user, key_id);

	if (rc != KEYSVC_OK)
		return rc;
	return keysvc_changed(ks, user, key_id, store_key_revoke(ks->st, key_id, user, client));
}

int keysvc_delete(keysvc *ks, int64_t user, int64_t key_id, const char *client)
{
	int rc = keysvc_owned(ks, user, key_id);

	if (rc != KEYSVC_OK)
		return rc;
	return keysvc_changed(ks, user, key_id, store_key_delete(ks->st, key_id, user, client));
}

/* last_used: at most one write a minute per key */
static void keysvc_touch_key(keysvc *ks, int64_t owner, int64_t key_id)
{
	time_t now = time(NULL);
	keysvc_touch *t;
	int write = 0;

	pthread_mutex_lock(&ks->lock);
	t = &ks->touch[(uint64_t)key_id % KEYSVC_TOUCH_SLOTS];
	if (t->key_id != key_id || now - t->written >= KEYSVC_TOUCH_EVERY) {
		t->key_id = key_id;
		t->written = now;
		write = 1;
	}
	pthread_mutex_unlock(&ks->lock);
	if (write) {
		store_key_touch(ks->st, key_id, (int64_t)now);
		listcache_forget_user(ks->lists, owner);   /* lists show last_used */
	}
}

int keysvc_authenticate(keysvc *ks, const char *token, const char *client, keysvc_principal *out,
                        unsigned *retry_after)
{
	unsigned char hash[STORE_HASH_LEN], stored[STORE_HASH_LEN];
	keysvc_key k;
	keycache_entry hit;
	uint64_t epoch;
	time_t now;
	int rc;

	if (ratelimit_blocked(ks->rate, client, time(NULL), retry_after))
		return KEYSVC_RATE_LIMITED;
	if (!token_check(token)) {
		__atomic_add_fetch(&ks->stats.bad_tokens, 1, __ATOMIC_RELAXED);
		ratelimit_fail(ks->rate, client, time(NULL));
		return KEYSVC_BAD_TOKEN;
	}
	if (keysvc_hash(ks, token, hash) != 0)
		return KEYSVC_STORE;
	now = time(NULL);
	keysvc_other_writers(ks);
	/* a key that authenticated a moment ago and has not changed since (the
	   cache compares the whole HMAC in constant time). A state that can
	   change without a write through keysvc (an expiry time, should keys get
	   one) must be kept in the entry and checked here, on every hit. */
	if (keycache_get(ks->cache, hash, now, &hit)) {
		__atomic_add_fetch(&ks->stats.cache_hits, 1, __ATOMIC_RELAXED);
		memset(out, 0, sizeof *out);
		out->user_id = hit.user_id;
		out->key_id = hit.key_id;
		snprintf(out->key_uuid, sizeof out->key_uuid, "%s", hit.key_uuid);
		keysvc_touch_key(ks, hit.user_id, hit.key_id);
		return KEYSVC_OK;
	}
	epoch = keycache_epoch(ks->cache);
	__atomic_add_fetch(&ks->stats.hash_lookups, 1, __ATOMIC_RELAXED);
	/* the unique index finds the row by its hash; compare again in constant time */
	rc = store_key_by_hash(ks->st, hash, &k, stored);
	if (rc == STORE_ERROR || rc == STORE_UNAVAILABLE)
		return keysvc_from_store(rc);   /* unverifiable is not invalid: never REJECTED */
	if (rc != STORE_OK || gnutls_memcmp(hash, stored, sizeof hash) != 0 || !k.active || k.revoked) {
		ratelimit_fail(ks->rate, client, time(NULL));
		return KEYSVC_REJECTED;
	}
	memset(out, 0, sizeof *out);
	out->user_id = k.user_id;
	out->key_id = k.id;
	snprintf(out->key_uuid, sizeof out->key_uuid, "%s", k.uuid);
	memset(&hit, 0, sizeof hit);
	hit.user_id = k.user_id;
	hit.key_id = k.id;
	memcpy(hit.key_uuid, out->key_uuid, sizeof hit.key_uuid);
	keycache_put(ks->cache, hash, &hit, epoch, now);
	keysvc_touch_key(ks, k.user_id, k.id);
	return KEYSVC_OK;
}

int keysvc_is_jwt(const char *bearer)
{
	const char *d1 = strchr(bearer, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;

	return d2 && !strchr(d2 + 1, '.') && !token_prefix_of(bearer);
}

int keysvc_authenticate_jwt(keysvc *ks, const char *jwt_text, const char *client, keysvc_principal *out,
                            unsigned *retry_after)
{
	jwt_t *jwt = NULL;
	int rc = KEYSVC_REJECTED, verified = 0;
	const char *sub;
	int64_t user;

	if (!ks->jwks)
		return KEYSVC_NO_JWT;
	if (ratelimit_blocked(ks->rate, client, time(NULL), retry_after))
		return KEYSVC_RATE_LIMITED;
	if (r_jwt_init(&jwt) != RHN_OK)
		return KEYSVC_STORE;
	if (r_jwt_parse(jwt, jwt_text, 0) != RHN_OK)
		goto cleanup;
	/* alg none never verifies, whatever the key set holds */
	if (r_jwt_get_sign_alg(jwt) == R_JWA_ALG_NONE || r_jwt_get_sign_alg(jwt) == R_JWA_ALG_UNKNOWN)
		goto cleanup;
	{
		const char *kid = r_jwt_get_header_str_value(jwt, "kid");
		jwk_t *by_kid = kid ? r_jwks_get_by_kid(ks->jwks, kid) : NULL;
		if (by_kid) {
			verified = r_jwt_verify_signature(jwt, by_kid, 0) == RHN_OK;
			r_jwk_free(by_kid);
		} else {
			for (size_t i = 0; !verified && i < r_jwks_size(ks->jwks); i++) {
				jwk_t *k = r_jwks_get_at(ks->jwks, i);
				verified = r_jwt_verify_signature(jwt, k, 0) == RHN_OK;
				r_jwk_free(k);
			}
		}
	}
	if (!verified)
		goto cleanup;
	if (r_jwt_validate_claims(jwt, R_JWT_CLAIM_EXP, R_JWT_CLAIM_NOW, R_JWT_CLAIM_SUB, NULL, R_JWT_CLAIM_NOP) != RHN_OK)
		goto cleanup;
	if (r_jwt_get_claim_int_value(jwt, "nbf") && r_jwt_validate_claims(jwt, R_JWT_CLAIM_NBF, R_JWT_CLAIM_NOW, R_JWT_CLAIM_NOP) != RHN_OK)
		goto cleanup;
	sub = r_jwt_get_claim_str_value(jwt, "sub");
	if (!sub || store_user_find(ks->st, sub, &user) != STORE_OK)
		goto cleanup;
	memset(out, 0, sizeof *out);
	out->user_id = user;
	rc = KEYSVC_OK;
cleanup:
	if (rc == KEYSVC_REJECTED)
		ratelimit_fail(ks->rate, client, time(NULL));
	r_jwt_free(jwt);
	return rc;
}

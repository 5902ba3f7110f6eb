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
#include "keyfilter.h"
#include "listcache.h"
#include "ratelimit.h"

#define KEYSVC_SECRET_LEN 32
#define KEYSVC_TOUCH_SLOTS 4096
#define KEYSVC_TOUCH_EVERY 60
/* Authentication cache: slots, and the age after which an entry goes back
   to the store (bounds what another process changing the database can go
   unseen; changes made through this process forget the key at once). */
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
	int64_t quota;             /* unrevoked keys per user; 0: none */
	int cascade;               /* revoke and delete take the key's descendants along */
	/* every key HMAC the store held at the last sync, and every one created
	   since: a blocked address's tokens that are no key skip the store */
	keyfilter *filter;
	pthread_rwlock_t filter_lock;   /* the pointer (swapped when it grows) */
	pthread_mutex_t filter_sync;    /* one sync at a time; filter_max_id */
	int64_t filter_max_id;          /* the last row the filter has seen */
	time_t filter_synced;           /* when the last sync began (atomic) */
	pthread_mutex_t lock;      /* the touch table (stats are atomic) */
	keysvc_touch touch[KEYSVC_TOUCH_SLOTS];
	keysvc_stats stats;
};

const char *keysvc_strerror(int status)
{
	return status >= 0 && status < KEYSVC_NSTATUS ? keysvc_messages[status] : "unknown error";
}

/* ---- the server secret ---- */

static int keysvc_secret(const char *path, unsigned char *secret, char *err, size_t errlen)
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

/* ---- the key filter: which HMACs may be keys ---- */

typedef struct keysvc_fill {
	keyfilter *f;
	int64_t max_id;
} keysvc_fill;

static int keysvc_fill_one(void *ctx, int64_t id, const unsigned char hash[STORE_HASH_LEN])
{
	keysvc_fill *x = ctx;

	keyfilter_add(x->f, hash);
	x->max_id = id;
	return 0;
}

/* Brings the filter up to the store: the rows added since the last sync
   (by another process too: ids only grow); once it holds more than it was
   sized for, a filter twice as large from every row, swapped in. A key this
   process creates during a rebuild goes to the old filter and, its id being
   past the rebuild's last row, into the new one at the next sync. */
static int keysvc_filter_sync(keysvc *ks, time_t now)
{
	keysvc_fill x;
	keyfilter *old = NULL;
	size_t count, capacity;
	int rc;

	pthread_mutex_lock(&ks->filter_sync);
	__atomic_store_n(&ks->filter_synced, now, __ATOMIC_RELAXED);
	pthread_rwlock_rdlock(&ks->filter_lock);
	x.f = ks->filter;
	x.max_id = ks->filter_max_id;
	rc = store_key_hashes(ks->st, x.max_id, keysvc_fill_one, &x);
	count = keyfilter_count(ks->filter);
	capacity = keyfilter_capacity(ks->filter);
	pthread_rwlock_unlock(&ks->filter_lock);
	ks->filter_max_id = x.max_id;
	if (rc == STORE_OK && count > capacity && keyfilter_new(2 * count, &x.f) == 0) {
		x.max_id = 0;
		if (store_key_hashes(ks->st, 0, keysvc_fill_one, &x) == STORE_OK) {
			pthread_rwlock_wrlock(&ks->filter_lock);
			old = ks->filter;
			ks->filter = x.f;
			pthread_rwlock_unlock(&ks->filter_lock);
			ks->filter_max_id = x.max_id;
		} else {
			old = x.f;
		}
	}
	pthread_mutex_unlock(&ks->filter_sync);
	keyfilter_free(old);
	return rc == STORE_OK ? 0 : -1;
}

static void keysvc_filter_add(keysvc *ks, const unsigned char hash[STORE_HASH_LEN])
{
	pthread_rwlock_rdlock(&ks->filter_lock);
	keyfilter_add(ks->filter, hash);
	pthread_rwlock_unlock(&ks->filter_lock);
}

/* 0 when hash is surely no key; a miss syncs with the store at most once a
   second (a key another process added a moment ago may wait that long when
   used from a blocked address). */
static int keysvc_filter_maybe(keysvc *ks, const unsigned char hash[STORE_HASH_LEN], time_t now)
{
	int maybe;

	pthread_rwlock_rdlock(&ks->filter_lock);
	maybe = keyfilter_maybe(ks->filter, hash);
	pthread_rwlock_unlock(&ks->filter_lock);
	if (maybe || __atomic_load_n(&ks->filter_synced, __ATOMIC_RELAXED) >= now)
		return maybe;
	if (keysvc_filter_sync(ks, now) != 0)
		return 1;   /* the store failed: let the lookup say so */
	pthread_rwlock_rdlock(&ks->filter_lock);
	maybe = keyfilter_maybe(ks->filter, hash);
	pthread_rwlock_unlock(&ks->filter_lock);
	return maybe;
}

int keysvc_open(const keysvc_config *cfg, keysvc **out, char *err, size_t errlen)
{
	keysvc *ks = calloc(1, sizeof *ks);
	store_config sc = { .path = cfg->db_path, .synchronous_full = cfg->synchronous_full,
	                    .group_commit = !cfg->naive_commit };
	char *secret_path = NULL;

	*out = NULL;
	if (!ks)
		return -1;
	pthread_mutex_init(&ks->lock, NULL);
	pthread_rwlock_init(&ks->filter_lock, NULL);
	ks->quota = cfg->key_quota == 0 ? KEYSVC_DEFAULT_QUOTA : cfg->key_quota < 0 ? 0 : cfg->key_quota;
	ks->cascade = cfg->revoke_cascade;
	pthread_mutex_init(&ks->filter_sync, NULL);
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
		if (!secret_path || keysvc_secret(secret_path, ks->secret, err, errlen) != 0)
			goto fail;
	}
	if (cfg->jwt_key_path && keysvc_load_jwks(ks, cfg->jwt_key_path, err, errlen) != 0)
		goto fail;
	if (store_open(&sc, &ks->st, err, errlen) != 0)
		goto fail;
	if (ratelimit_new_sized(cfg->fail_limit ? cfg->fail_limit : 10, cfg->fail_window ? cfg->fail_window : 60,
	                        cfg->fail_clients, &ks->rate) != 0) {
		snprintf(err, errlen, "cannot set up the key service's rate limiter (memory or randomness)");
		goto fail;
	}
	if (keycache_new(KEYSVC_CACHE_SLOTS, KEYSVC_CACHE_TTL, &ks->cache) != 0 ||
	    listcache_new(KEYSVC_LIST_GROUPS, KEYSVC_LIST_MAX_KEYS, KEYSVC_LIST_MAX_ROWS, KEYSVC_CACHE_TTL, &ks->lists) != 0) {
		snprintf(err, errlen, "out of memory for the key service's caches");
		goto fail;
	}
	if (keyfilter_new(0, &ks->filter) != 0 || keysvc_filter_sync(ks, time(NULL)) != 0) {
		snprintf(err, errlen, "cannot read the key store's hashes into the key filter");
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
	keyfilter_free(ks->filter);
	pthread_rwlock_destroy(&ks->filter_lock);
	pthread_mutex_destroy(&ks->filter_sync);
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
	     : rc == STORE_CONSTRAINT ? KEYSVC_DUPLICATE : rc == STORE_QUOTA ? KEYSVC_QUOTA : KEYSVC_STORE;
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
	return keysvc_create_by(ks, user, 0, family, name, description, role, client, out, token, toklen);
}

int keysvc_create_by(keysvc *ks, int64_t user, int64_t parent, int family, const char *name, const char *description,
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
	out->parent_id = parent > 0 ? parent : 0;
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
		rc = store_key_insert(ks->st, out, hash, client, ks->quota);
		if (rc == STORE_OK)
			keysvc_filter_add(ks, hash);
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

/* The list cache's slot of a family: KEYSVC_ALL after the real ones. */
static int keysvc_slot(int family)
{
	return family < 0 ? KEYSVC_NFAMILIES : family;
}

int keysvc_list(keysvc *ks, int64_t user, int family, const char *name, int include_revoked, int64_t skip,
                int64_t limit, keysvc_key **out, size_t *n, int64_t *total)
{
	int whole = !name && skip <= 0 && limit < 0;   /* the lists worth keeping: no filter, no page */
	time_t now = time(NULL);
	uint64_t epoch = 0;
	int rc;

	if (whole && listcache_get(ks->lists, user, keysvc_slot(family), include_revoked, now, out, n)) {
		__atomic_add_fetch(&ks->stats.list_hits, 1, __ATOMIC_RELAXED);
		*total = (int64_t)*n;
		return KEYSVC_OK;
	}
	if (whole)
		epoch = listcache_epoch(ks->lists, user);
	rc = store_key_list(ks->st, user, family, name, include_revoked, skip, limit, out, n, total);
	if (whole && rc == STORE_OK)
		listcache_put(ks->lists, user, keysvc_slot(family), include_revoked, *out, *n, epoch, now);
	return keysvc_from_store(rc);
}

/* Keys a walk holds at a time (about 5 KiB each); also the longest list
   the list cache keeps, so a whole list that fits one page is cached. */
#define KEYSVC_PAGE KEYSVC_LIST_MAX_KEYS

size_t keysvc_list_max(const keysvc *ks)
{
	return ks->quota > 0 ? (size_t)ks->quota : 0;
}

int keysvc_list_each(keysvc *ks, int64_t user, int family, int include_revoked, size_t max, keysvc_each_fn fn,
                     void *ctx)
{
	time_t now = time(NULL);
	keysvc_key *v = NULL;
	size_t n = 0, given = 0;
	int64_t before = 0;
	uint64_t epoch;
	int rc = KEYSVC_OK;

	if (listcache_get(ks->lists, user, keysvc_slot(family), include_revoked, now, &v, &n)) {
		__atomic_add_fetch(&ks->stats.list_hits, 1, __ATOMIC_RELAXED);
		for (size_t i = 0; i < n && rc == KEYSVC_OK && (!max || i < max); i++)
			if (fn(ctx, &v[i]) != 0)
				rc = KEYSVC_INVALID;
		free(v);
		return rc;
	}
	epoch = listcache_epoch(ks->lists, user);
	for (int first = 1;; first = 0) {
		if (store_key_page(ks->st, user, family, include_revoked, before, KEYSVC_PAGE, &v, &n) != STORE_OK)
			return KEYSVC_STORE;
		if (first && n < KEYSVC_PAGE)   /* the whole list: keep it */
			listcache_put(ks->lists, user, keysvc_slot(family), include_revoked, v, n, epoch, now);
		for (size_t i = 0; i < n && rc == KEYSVC_OK && (!max || given < max); i++, given++)
			if (fn(ctx, &v[i]) != 0)
				rc = KEYSVC_INVALID;
		if (n > 0)
			before = v[n - 1].id;
		free(v);
		v = NULL;
		if (rc != KEYSVC_OK || n < KEYSVC_PAGE || (max && given >= max))
			return rc;
	}
}

int keysvc_user_key(keysvc *ks, const char *name, char *token, size_t toklen, int64_t *user_id, keysvc_key *out)
{
	if (!name || !*name)
		return KEYSVC_INVALID;
	if (store_user_find(ks->st, name, user_id) != STORE_OK)
		return KEYSVC_NO_USER;
	return keysvc_create_by(ks, *user_id, 0, KEYSVC_HERON, "recovery key", NULL, NULL, "cli", out, token, toklen);
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

/* The key must belong to user; another user's key is NOT_FOUND. */
static int keysvc_owned(keysvc *ks, int64_t user, int64_t key_id)
{
	keysvc_key k;

	return store_key_get_id(ks->st, user, -1, key_id, &k) == STORE_OK;
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
	if (!keysvc_owned(ks, user, key_id))
		return KEYSVC_NOT_FOUND;
	return keysvc_changed(ks, user, key_id, store_key_set_active(ks->st, key_id, active, user, client));
}

/* Revokes every unrevoked descendant of key_id (the owner's: a key mints
   only for its owner), each out of the authentication cache before this
   returns. Again until none is left: a descendant's request that was in
   flight may still mint one. */
static int keysvc_revoke_descendants(keysvc *ks, int64_t user, int64_t key_id, const char *client, size_t *n)
{
	int rc = KEYSVC_OK;

	for (int round = 0; round < 16 && rc == KEYSVC_OK; round++) {
		int64_t *ids = NULL;
		size_t cnt = 0;
		if (store_key_descendants(ks->st, key_id, &ids, &cnt) != STORE_OK)
			return KEYSVC_STORE;
		for (size_t i = 0; i < cnt; i++) {
			int r = store_key_revoke(ks->st, ids[i], user, client);
			keycache_forget(ks->cache, ids[i]);
			if (r == STORE_OK)
				(*n)++;
			else if (r != STORE_NOT_FOUND)
				rc = KEYSVC_STORE;
		}
		listcache_forget_user(ks->lists, user);
		free(ids);
		if (cnt == 0)
			break;
	}
	return rc;
}

int keysvc_revoke(keysvc *ks, int64_t user, int64_t key_id, const char *client)
{
	size_t n = 0;
	int rc;

	if (!keysvc_owned(ks, user, key_id))
		return KEYSVC_NOT_FOUND;
	rc = keysvc_changed(ks, user, key_id, store_key_revoke(ks->st, key_id, user, client));
	if (rc == KEYSVC_OK && ks->cascade)
		rc = keysvc_revoke_descendants(ks, user, key_id, client, &n);
	return rc;
}

int keysvc_revoke_tree(keysvc *ks, int64_t user, int64_t key_id, const char *client, size_t *n)
{
	keysvc_key k;
	int rc = KEYSVC_OK;

	*n = 0;
	if (store_key_get_id(ks->st, user, -1, key_id, &k) != STORE_OK)
		return KEYSVC_NOT_FOUND;
	if (!k.revoked) {
		rc = keysvc_changed(ks, user, key_id, store_key_revoke(ks->st, key_id, user, client));
		if (rc == KEYSVC_OK)
			(*n)++;
		else if (rc != KEYSVC_NOT_FOUND)
			return rc;
	}
	return keysvc_revoke_descendants(ks, user, key_id, client, n);
}

int keysvc_key_owner(keysvc *ks, int64_t key_id, int64_t *user)
{
	return keysvc_from_store(store_key_owner(ks->st, key_id, user));
}

int keysvc_delete(keysvc *ks, int64_t user, int64_t key_id, const char *client)
{
	size_t n = 0;

	if (!keysvc_owned(ks, user, key_id))
		return KEYSVC_NOT_FOUND;
	/* before the delete, which hands the key's children to its parent */
	if (ks->cascade && keysvc_revoke_descendants(ks, user, key_id, client, &n) != KEYSVC_OK)
		return KEYSVC_STORE;
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

/* A failed authentication: counted, or KEYSVC_RATE_LIMITED when the client
   is blocked already. Only failures are limited: a valid key authenticates
   from any address. */
static int keysvc_failed(keysvc *ks, const char *client, int rc, unsigned *retry_after)
{
	return ratelimit_fail_check(ks->rate, client, time(NULL), retry_after) ? KEYSVC_RATE_LIMITED : rc;
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

	if (!token_check(token)) {
		__atomic_add_fetch(&ks->stats.bad_tokens, 1, __ATOMIC_RELAXED);
		return keysvc_failed(ks, client, KEYSVC_BAD_TOKEN, retry_after);
	}
	if (keysvc_hash(ks, token, hash) != 0)
		return KEYSVC_STORE;
	now = time(NULL);
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
	/* a blocked address's token that is surely no key (the filter of every
	   key's HMAC) is refused without a store lookup; a valid key, or one the
	   filter cannot rule out, goes on to the store */
	if (ratelimit_blocked(ks->rate, client, now, retry_after) && !keysvc_filter_maybe(ks, hash, now))
		return KEYSVC_RATE_LIMITED;
	epoch = keycache_epoch(ks->cache);
	__atomic_add_fetch(&ks->stats.hash_lookups, 1, __ATOMIC_RELAXED);
	/* the unique index finds the row by its hash; compare again in constant time */
	rc = store_key_by_hash(ks->st, hash, &k, stored);
	if (rc == STORE_ERROR)
		return KEYSVC_STORE;
	if (rc != STORE_OK || gnutls_memcmp(hash, stored, sizeof hash) != 0 || !k.active || k.revoked)
		return keysvc_failed(ks, client, KEYSVC_REJECTED, retry_after);
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
		rc = keysvc_failed(ks, client, rc, retry_after);
	r_jwt_free(jwt);
	return rc;
}

int keysvc_user_find(keysvc *ks, const char *name, int64_t *user)
{
	int rc = store_user_find(ks->st, name, user);

	return rc == STORE_OK ? KEYSVC_OK : rc == STORE_NOT_FOUND ? KEYSVC_NO_USER : KEYSVC_STORE;
}

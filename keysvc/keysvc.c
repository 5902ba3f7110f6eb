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
#include <nettle/hmac.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <rhonabwy.h>
#include <yder.h>

#include "keycache.h"
#include "keyring.h"
#include "keyfilter.h"
#include "keylimit.h"
#include "keyname.h"
#include "kmetrics.h"
#include "listcache.h"
#include "ratelimit.h"

#define KEYSVC_SECRET_LEN KEYRING_SECRET_LEN
/* a retire waits this long after the secret stopped being current, so that
   every process has seen the rotation (each looks once a second) and no
   create hashed under the retired secret is still in flight */
#define KEYSVC_RETIRE_SETTLE 3
/* last_used bookkeeping: when each key's last_used was written, so a key
   is written at most once every 30 to 60 s (KEYSVC_TOUCH_SPREAD).
   Direct-mapped on the key id: 65,536 slots (1 MiB) keep that bound for as
   many keys in use at once; with 4,096, 10,000 keys in turn (bench-pg's
   miss path) wrote on nearly every request. */
#define KEYSVC_TOUCH_SLOTS 65536
#define KEYSVC_TOUCH_EVERY 60
/* A write is recorded as made up to this many seconds earlier (by key id),
   so the next one comes 30 to 60 s later: keys first used together (a
   restart, a warm-up) otherwise all wrote again in the same second a
   minute on, each write also emptying its owner's cached list, and with
   10,000 keys that stalled both workers: open-loop p99 422 ms in the 5 s
   that held it, 0.4-2.5 ms in the others. */
#define KEYSVC_TOUCH_SPREAD 30
/* last_used writes are the touch writer's, a thread of the key service's
   own, not the request's: a request that came due for one waited for its
   commit, and with another process holding SQLite's write lock (a backup,
   the CLI, another node) for the busy timeout, 10 s, before the write
   failed. Jobs queued at most; a use that finds the queue full is counted and
   not recorded (keysvc_touch_dropped). One commit takes at most a batch. */
#define KEYSVC_TOUCH_QUEUE 8192
#define KEYSVC_TOUCH_BATCH 1024
/* The writer gathers what comes in this long after a first write into the
   same commit: every commit moves SQLite's WAL index, and each request's
   check for other processes' writes (store_changed), and each cache refill,
   that began a read while it moved slept and tried again (SQLite's
   walTryBeginRead: clock_nanosleep from 1 us, many a second per worker);
   with a write a key a minute, 10,000 keys made 150-300 commits a second. */
#define KEYSVC_TOUCH_GATHER_MS 100
/* Authentication cache: slots, and the age after which an entry goes back
   to the store (a backstop: changes made through this process forget the
   key at once, and another process's writes empty the caches on the next
   call, keysvc_other_writers). 65,536 slots in sets of four (about 30 MiB
   reserved, of which only the slots used are ever touched: some 460 bytes
   each, an entry's texts packed, keycache.c) hold 10,000 keys in use at
   once; 8,192 sent about a third of bench-perf's (b) requests (10,000 keys
   in turn) to the store, and 65,536 direct-mapped still 7%. Nothing
   depends on the age for being right (expiry, grace, remaining uses and
   limits are judged at each use; every write is seen at once), so it is
   long: with 5 s, (b) still read 7% of its keys and 6% of its lists from
   SQLite (each of 10,000 keys every 5 s), and ran at 30k req/s against
   51k with 60 s. */
#define KEYSVC_CACHE_SLOTS 65536
#define KEYSVC_CACHE_TTL 60
/* A key's entry aged past its time by less than the ttl again is still
   the answer (nothing depends on the age for being right, above), once
   held young for ttl / 12 seconds (5 s) while the refresher thread reads
   the key again off the request's path and puts it back: after a pause
   every entry comes of age, and the next burst of requests each waited for
   its SQLite read (29,000 req/s over 10,000 keys after a minute's pause:
   p99 150-450 ms in the first window). Unrefreshed (the store failing,
   the refresher behind: KEYSVC_REFRESH_QUEUE), it is asked for again each
   hold, and from twice the ttl after its put a request reads the store
   itself. */
#define KEYSVC_REFRESH_QUEUE 4096
/* An entry of either cache is put as if stored up to this many seconds
   earlier (by its key's HMAC, or its owner's id), so that it lives 30 to
   60 s: 10,000 keys cached in one pass all aged in the same second, and the
   next pass sent 10,000 key and 10,000 list reads to the store at once
   (bench-perf (d): p99 68-103 ms at half the peak, 0.8-6 ms without
   expiry). */
#define KEYSVC_CACHE_SPREAD(ks) ((ks)->ttl / 2 > 0 ? (ks)->ttl / 2 : 1)
/* How long an aged entry of either cache is held young while the refresher
   reads it again (KEYSVC_REFRESH_QUEUE), and the grace past the ttl it is
   held in. */
#define KEYSVC_CACHE_HOLD(ks) ((ks)->ttl / 12 > 0 ? (ks)->ttl / 12 : 1)
#define KEYSVC_CACHE_GRACE(ks) ((ks)->ttl)
/* List cache: groups of owners (16 lists each), the longest list kept, rows
   kept in all (packed, a row is its texts and some 150 bytes: a few MiB,
   filled only as lists are asked for; 16,384 store_keys as they are would
   be 105 MiB). 16,384 lists: with 4,096, bench-perf's (b) (10,000 users
   asking for their list in turn) read most lists from SQLite. */
#define KEYSVC_LIST_GROUPS 1024
#define KEYSVC_LIST_MAX_KEYS 64
#define KEYSVC_LIST_MAX_ROWS 16384
/* Which apikeyd-API scopes a key holds, by key id (keysvc_scope_check on
   every verify without SQL): valid while the authentication cache has
   forgotten nothing since (its epoch), and for KEYSVC_CACHE_TTL at most. */
#define KEYSVC_SCOPE_SLOTS 4096
#define KEYSVC_SCOPE_STRIPES 64
#define KEYSVC_HOLDS_READ 1u
#define KEYSVC_HOLDS_WRITE 2u
#define KEYSVC_HOLDS_VERIFY 4u

#define KEYSVC_MSG(name, msg) msg,
static const char *const keysvc_messages[] = { KEYSVC_STATUS_MAP(KEYSVC_MSG) };
#undef KEYSVC_MSG

/* The families (keysvc.h). Feldera's own key format is "apikey:" and the
   secret (Feldera tells keys from JWTs by that prefix); keys issued as fk_
   before keep authenticating (token.c accepts both; keysvc_open checks that
   token.c accepts every prefix named here). Feldera addresses keys by name,
   unique per owner, and a key made without a role is a read key, as in
   Feldera; NebulaBlock by integer id; the others by uuid. */
static const keysvc_family_desc keysvc_families[KEYSVC_NFAMILIES] = {
	[KEYSVC_HERON] = { .api = "heron", .prefix = "key_", .id = KEYSVC_ID_UUID, .default_role = "write" },
	[KEYSVC_FELDERA] = { .api = "feldera", .prefix = "apikey:", .old_prefix = "fk_", .id = KEYSVC_ID_NAME,
	                     .unique_names = 1, .accepts_jwt = 1, .default_role = "read" },
	[KEYSVC_NEBULA] = { .api = "nebula", .prefix = "ak_", .id = KEYSVC_ID_INTEGER, .accepts_jwt = 1,
	                    .default_role = "write" },
	[KEYSVC_NEBULA_UUID] = { .api = "nebula_uuid", .prefix = "ak_", .id = KEYSVC_ID_UUID, .accepts_jwt = 1,
	                         .default_role = "write" },
	[KEYSVC_FASTAPI] = { .api = "fastapi", .prefix = "fa_", .id = KEYSVC_ID_UUID, .default_role = "write" },
	/* apikeyd's own API: keys for the user's customers, with attributes;
	   its rights are scopes (keysvc.h), its role follows from them */
	[KEYSVC_APIKEYD] = { .api = "apikeyd", .prefix = "apk_", .id = KEYSVC_ID_UUID, .default_role = "write" },
};

const keysvc_family_desc *keysvc_family(int family)
{
	return family >= 0 && family < KEYSVC_NFAMILIES ? &keysvc_families[family] : NULL;
}

const keysvc_family_desc *keysvc_family_of_api(const char *api)
{
	for (int f = 0; api && f < KEYSVC_NFAMILIES; f++)
		if (strcmp(keysvc_families[f].api, api) == 0)
			return &keysvc_families[f];
	return NULL;
}

/* Which apikeyd-API scopes a key holds (KEYSVC_HOLDS_*), as last read. */
typedef struct keysvc_holds {
	uint32_t seq;              /* odd while a writer (under the stripe's lock) changes the slot */
	int64_t key_id;
	uint64_t epoch;            /* the authentication cache's, when read */
	int64_t read_at;
	unsigned mask;
} keysvc_holds;

/* When each key's last_used was last written, and the time of a write
   queued for the touch writer and not committed yet (0: none), which the
   key service's own reads show in the meantime. */
typedef struct keysvc_touch {
	int64_t key_id;
	time_t written;
	int64_t pending;
} keysvc_touch;

/* An aged cache entry for the refresher: a key's (its HMAC and id), or
   (list) an owner's list of a family. */
typedef struct keysvc_refresh_job {
	int list;
	unsigned char hash[STORE_HASH_LEN];
	int64_t key_id;
	int64_t user;
	int family, include_revoked;
} keysvc_refresh_job;

/* A last_used write for the touch writer. */
typedef struct keysvc_touch_job {
	int64_t key_id, owner, when;
} keysvc_touch_job;

/* A keyring in use and the ones it replaced: a request may still hold an
   older one, so none is freed before keysvc_close. */
typedef struct keysvc_ring {
	keyring k;                 /* first: keysvc_ring_of */
	struct keysvc_ring *older;
	/* HMAC-SHA-256 keyed with each secret of k, its inner and outer
	   blocks hashed once (keysvc_ring_prepare) instead of on every token:
	   half of each HMAC's compressions. n_pre: the secrets prepared. */
	struct hmac_sha256_ctx pre[KEYRING_MAX];
	size_t n_pre;
} keysvc_ring;

/* The keysvc_ring a keyring of the service is the first member of. */
static const keysvc_ring *keysvc_ring_of(const keyring *k)
{
	return (const keysvc_ring *)(const void *)((const char *)k - offsetof(keysvc_ring, k));
}

static void keysvc_ring_prepare(keysvc_ring *r)
{
	for (size_t i = 0; i < r->k.n; i++)
		hmac_sha256_set_key(&r->pre[i], sizeof r->k.s[i].key, r->k.s[i].key);
	r->n_pre = r->k.n;
}

static void keysvc_ring_wipe(keysvc_ring *r)
{
	keyring_wipe(&r->k);
	gnutls_memset(r->pre, 0, sizeof r->pre);
	r->n_pre = 0;
}


/* What the keyring file was when last read: a rotation replaces it (rename). */
typedef struct keysvc_ring_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
} keysvc_ring_stamp;

/* The JWT settings in force: one set, replaced whole by keysvc_jwt_reload
   (an atomic pointer: a request verifies against the set it loaded); a
   replaced set is kept until keysvc_close, as a request may still hold it. */
typedef struct keysvc_jwt_set {
	jwks_t *jwks;              /* the configured JWT keys */
	jwk_t **jwt_keys;          /* each key of jwks (owned copies) */
	uint64_t *jwt_key_algs;    /* per key: the algs it implies (KEYSVC_ALG bits) */
	uint64_t jwt_algs;         /* their union */
	size_t n_jwt_keys;
	char *jwt_iss, *jwt_aud;   /* NULL: not checked */
	unsigned jwt_max_lifetime, jwt_leeway;
	struct keysvc_jwt_set *older;   /* the sets it replaced */
} keysvc_jwt_set;

struct keysvc {
	store *st;
	keysvc_ring *ring;         /* the current keyring (atomic pointer) */
	char *secret_path;         /* the keyring file; NULL: in memory only (":memory:") */
	pthread_mutex_t ring_lock; /* a reload at a time; ring_stamp */
	time_t ring_checked;       /* the second the file was last looked at (atomic) */
	keysvc_ring_stamp ring_stamp;
	keysvc_jwt_set *jwt;       /* NULL: no JWT (atomic) */
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
	int filter_ready;               /* it holds every row up to filter_max_id (atomic) */
	store_log_fn log;
	pthread_mutex_t lock;      /* the touch table (stats are atomic) */
	keysvc_touch touch[KEYSVC_TOUCH_SLOTS];
	/* last_used writes waiting for the touch writer's thread (started on
	   the first): a ring of tq_n jobs from tq_head */
	pthread_mutex_t tq_lock;
	pthread_cond_t tq_work, tq_idle;
	keysvc_touch_job tq[KEYSVC_TOUCH_QUEUE];
	size_t tq_head, tq_n;
	size_t tq_cap;             /* jobs the ring holds at most (cfg.touch_queue) */
	uint64_t tq_dropped;       /* uses whose write found the ring full (atomic) */
	int64_t tq_said;           /* when a drop was last logged (atomic) */
	int tq_started, tq_stop, tq_busy;
	int tq_hurry;              /* keysvc_touch_flush: write what is queued now */
	pthread_t tq_thread;
	unsigned tq_pending;       /* jobs queued or being written (atomic) */
	unsigned ttl;              /* the caches' (cfg.cache_ttl) */
	/* aged cache entries to read again (keysvc_find), for the refresher's
	   thread (started on the first): a ring of rq_n from rq_head */
	pthread_mutex_t rq_lock;
	pthread_cond_t rq_work;
	keysvc_refresh_job rq[KEYSVC_REFRESH_QUEUE];
	size_t rq_head, rq_n;
	int rq_started, rq_stop;
	pthread_t rq_thread;
	uint64_t refreshes;        /* entries the refresher put back (atomic) */
	keylimit *limits;          /* the keys' own rate limits (per node) */
	int64_t clock_offset;      /* seconds added to the real time: tests (atomic) */
	int64_t clock_at;          /* > 0: the clock stands at this second: tests (atomic) */
	pthread_mutex_t holds_lock[KEYSVC_SCOPE_STRIPES];   /* slot i: lock i % stripes */
	keysvc_holds holds[KEYSVC_SCOPE_SLOTS];
	keysvc_stats stats;
};

const char *keysvc_strerror(int status)
{
	return status >= 0 && status < KEYSVC_NSTATUS ? keysvc_messages[status] : "unknown error";
}

/* ---- the server secret ---- */

/* Reads the keyring (keyring.h; a 32-byte file is one secret, id 1), or
   creates a 32-byte secret when the file is missing (*created = 1) unless
   must_exist (a shared store: never make one up). */
static int keysvc_secret(const char *path, int must_exist, keyring *ring, int *created, char *err, size_t errlen)
{
	int fd, r = keyring_load(path, ring, err, errlen);
	ssize_t n;

	if (r <= 0)
		return r;
	if (must_exist) {
		snprintf(err, errlen,
		         "%s: no such secret file; every node of a shared store must use the same one: create it once "
		         "(head -c 32 /dev/urandom > FILE; chmod 600 FILE), copy it to every node and name it with --secret",
		         path);
		return -1;
	}
	ring->n = 1;
	ring->legacy = 1;
	ring->s[0].id = 1;
	if (gnutls_rnd(GNUTLS_RND_KEY, ring->s[0].key, KEYSVC_SECRET_LEN) != 0) {
		snprintf(err, errlen, "cannot draw random bytes for the secret");
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create the secret file: %s", path, strerror(errno));
		return -1;
	}
	n = write(fd, ring->s[0].key, KEYSVC_SECRET_LEN);
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

/* ---- JSON web tokens: the configured keys ---- */

/* The signing algorithms (RFC 7518, RFC 8037, RFC 8812) by header name;
   "none" is none of them. */
static const struct { const char *name; jwa_alg alg; } keysvc_jwt_algs[] = {
	{ "HS256", R_JWA_ALG_HS256 }, { "HS384", R_JWA_ALG_HS384 }, { "HS512", R_JWA_ALG_HS512 },
	{ "RS256", R_JWA_ALG_RS256 }, { "RS384", R_JWA_ALG_RS384 }, { "RS512", R_JWA_ALG_RS512 },
	{ "PS256", R_JWA_ALG_PS256 }, { "PS384", R_JWA_ALG_PS384 }, { "PS512", R_JWA_ALG_PS512 },
	{ "ES256", R_JWA_ALG_ES256 }, { "ES384", R_JWA_ALG_ES384 }, { "ES512", R_JWA_ALG_ES512 },
	{ "ES256K", R_JWA_ALG_ES256K }, { "EdDSA", R_JWA_ALG_EDDSA },
};
#define KEYSVC_ALG(a) ((uint64_t)1 << (a))
#define KEYSVC_ALGS_RSA (KEYSVC_ALG(R_JWA_ALG_RS256) | KEYSVC_ALG(R_JWA_ALG_RS384) | KEYSVC_ALG(R_JWA_ALG_RS512) | \
	KEYSVC_ALG(R_JWA_ALG_PS256) | KEYSVC_ALG(R_JWA_ALG_PS384) | KEYSVC_ALG(R_JWA_ALG_PS512))
#define KEYSVC_ALGS_HMAC (KEYSVC_ALG(R_JWA_ALG_HS256) | KEYSVC_ALG(R_JWA_ALG_HS384) | KEYSVC_ALG(R_JWA_ALG_HS512))
/* NumericDates: whole seconds from 1970 to the end of year 9999 */
#define KEYSVC_JWT_DATE_MAX INT64_C(253402300799)

static jwa_alg keysvc_jwt_alg(const char *name)
{
	for (size_t i = 0; name && i < sizeof keysvc_jwt_algs / sizeof keysvc_jwt_algs[0]; i++)
		if (strcmp(keysvc_jwt_algs[i].name, name) == 0)
			return keysvc_jwt_algs[i].alg;
	return R_JWA_ALG_UNKNOWN;
}

static int keysvc_streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* The algs key i of path implies: by kty (and curve), narrowed to the key's
   own alg when it names one. -1 with err for a key that cannot verify
   signatures here: wrong use, no key material inline (apikeyd fetches no
   x5u), an alg that does not fit the key. */
static int keysvc_jwk_algs(jwk_t *k, size_t i, const char *path, uint64_t *out, char *err, size_t errlen)
{
	const char *kty = r_jwk_get_property_str(k, "kty"), *crv = r_jwk_get_property_str(k, "crv");
	const char *alg = r_jwk_get_property_str(k, "alg"), *use = r_jwk_get_property_str(k, "use");
	uint64_t m = 0;

	if (keysvc_streq(kty, "RSA") && r_jwk_get_property_str(k, "n"))
		m = KEYSVC_ALGS_RSA;
	else if (keysvc_streq(kty, "EC") && r_jwk_get_property_str(k, "x"))
		m = keysvc_streq(crv, "P-256") ? KEYSVC_ALG(R_JWA_ALG_ES256)
		  : keysvc_streq(crv, "P-384") ? KEYSVC_ALG(R_JWA_ALG_ES384)
		  : keysvc_streq(crv, "P-521") ? KEYSVC_ALG(R_JWA_ALG_ES512)
		  : keysvc_streq(crv, "secp256k1") ? KEYSVC_ALG(R_JWA_ALG_ES256K) : 0;
	else if (keysvc_streq(kty, "OKP") && r_jwk_get_property_str(k, "x") &&
	         (keysvc_streq(crv, "Ed25519") || keysvc_streq(crv, "Ed448")))
		m = KEYSVC_ALG(R_JWA_ALG_EDDSA);
	else if (keysvc_streq(kty, "oct") && r_jwk_get_property_str(k, "k"))
		m = KEYSVC_ALGS_HMAC;
	if (m == 0) {
		snprintf(err, errlen, "%s: key %zu: not a signing key apikeyd can use (kty RSA, EC P-256/P-384/P-521/"
		         "secp256k1, OKP Ed25519/Ed448 or oct, with its key material inline: apikeyd fetches no x5u)", path, i);
		return -1;
	}
	if (use && strcmp(use, "sig") != 0) {
		snprintf(err, errlen, "%s: key %zu: use \"%s\": only signature keys (use sig) verify JWTs", path, i, use);
		return -1;
	}
	if (alg) {
		jwa_alg a = keysvc_jwt_alg(alg);
		if (a == R_JWA_ALG_UNKNOWN || !(m & KEYSVC_ALG(a))) {
			snprintf(err, errlen, "%s: key %zu: alg \"%s\" is not a signature algorithm for its kty %s", path, i, alg, kty);
			return -1;
		}
		m = KEYSVC_ALG(a);
	}
	*out = m;
	return 0;
}

static int keysvc_load_jwks(keysvc_jwt_set *j, const char *path, char *err, size_t errlen)
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
	if (r_jwks_init(&j->jwks) != RHN_OK)
		goto cleanup;
	if (strstr(text, "-----BEGIN")) {
		if (r_jwk_init(&jwk) != RHN_OK ||
		    r_jwk_import_from_pem_der(jwk, R_X509_TYPE_PUBKEY, R_FORMAT_PEM, (const unsigned char *)text, (size_t)len) != RHN_OK ||
		    r_jwks_append_jwk(j->jwks, jwk) != RHN_OK) {
			snprintf(err, errlen, "%s: not a PEM public key rhonabwy can read", path);
			goto cleanup;
		}
	} else if (r_jwks_import_from_json_str(j->jwks, text) != RHN_OK || r_jwks_size(j->jwks) == 0) {
		snprintf(err, errlen, "%s: not a JWKS document with at least one key", path);
		goto cleanup;
	}
	j->n_jwt_keys = r_jwks_size(j->jwks);
	j->jwt_keys = calloc(j->n_jwt_keys, sizeof *j->jwt_keys);
	j->jwt_key_algs = calloc(j->n_jwt_keys, sizeof *j->jwt_key_algs);
	if (!j->jwt_keys || !j->jwt_key_algs) {
		snprintf(err, errlen, "out of memory for the JWT keys");
		goto cleanup;
	}
	for (size_t i = 0; i < j->n_jwt_keys; i++) {
		j->jwt_keys[i] = r_jwks_get_at(j->jwks, i);
		if (!j->jwt_keys[i] || keysvc_jwk_algs(j->jwt_keys[i], i, path, &j->jwt_key_algs[i], err, errlen) != 0)
			goto cleanup;
		j->jwt_algs |= j->jwt_key_algs[i];
	}
	rc = 0;
cleanup:
	r_jwk_free(jwk);
	free(text);
	fclose(f);
	return rc;
}

/* Frees set and every set it replaced. */
static void keysvc_jwt_set_free(keysvc_jwt_set *set)
{
	while (set) {
		keysvc_jwt_set *older = set->older;
		for (size_t i = 0; set->jwt_keys && i < set->n_jwt_keys; i++)
			r_jwk_free(set->jwt_keys[i]);
		free(set->jwt_keys);
		free(set->jwt_key_algs);
		free(set->jwt_iss);
		free(set->jwt_aud);
		r_jwks_free(set->jwks);
		free(set);
		set = older;
	}
}

/* The JWT settings of cfg: *out a new set, or NULL when cfg names no key. */
static int keysvc_jwt_set_new(const keysvc_config *cfg, keysvc_jwt_set **out, char *err, size_t errlen)
{
	keysvc_jwt_set *set;

	*out = NULL;
	if (!cfg->jwt_key_path)
		return 0;
	set = calloc(1, sizeof *set);
	if (!set) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	set->jwt_max_lifetime = cfg->jwt_max_lifetime;
	set->jwt_leeway = cfg->jwt_leeway;
	if (keysvc_load_jwks(set, cfg->jwt_key_path, err, errlen) != 0)
		goto fail;
	if ((cfg->jwt_issuer && !(set->jwt_iss = strdup(cfg->jwt_issuer))) ||
	    (cfg->jwt_audience && !(set->jwt_aud = strdup(cfg->jwt_audience)))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	*out = set;
	return 0;
fail:
	keysvc_jwt_set_free(set);
	return -1;
}

int keysvc_jwt_reload(keysvc *ks, const keysvc_config *cfg, char *err, size_t errlen)
{
	keysvc_jwt_set *set = NULL, *old = __atomic_load_n(&ks->jwt, __ATOMIC_ACQUIRE);

	if (keysvc_jwt_set_new(cfg, &set, err, errlen) != 0)
		return KEYSVC_INVALID;
	/* JWTs turned off: an empty set, which still holds the old ones */
	if (!set && old && !(set = calloc(1, sizeof *set))) {
		snprintf(err, errlen, "out of memory");
		return KEYSVC_STORE;
	}
	if (set)
		set->older = old;
	__atomic_store_n(&ks->jwt, set, __ATOMIC_RELEASE);
	return KEYSVC_OK;
}

/* store_change_fn: another node or process changed a key (key_id < 0:
   changes may have been missed): what this process cached of it goes. */
static void keysvc_store_changed(void *ctx, int64_t key_id, int64_t user_id)
{
	keysvc *ks = ctx;

	keycache_forget(ks->cache, key_id < 0 ? -1 : key_id);
	listcache_forget_user(ks->lists, key_id < 0 ? -1 : user_id);
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
static int keysvc_check_value(const keyring_secret *sec, char out[2 * STORE_HASH_LEN + 1])
{
	unsigned char mac[STORE_HASH_LEN];

	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, sec->key, sizeof sec->key, KEYSVC_CHECK_LABEL,
	                     strlen(KEYSVC_CHECK_LABEL), mac) != 0)
		return -1;
	for (size_t i = 0; i < sizeof mac; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

/* The meta name of a keyring secret's check value: secret_check for
   secret 1 (the one secret of a store before keyrings), secret_check.ID. */
static void keysvc_check_name(int64_t id, char *out, size_t len)
{
	if (id == 1)
		snprintf(out, len, "secret_check");
	else
		snprintf(out, len, "secret_check.%lld", (long long)id);
}

/* Refuses a keyring holding a secret that is not the one the store knows
 * by its id: every key made with it would answer 401. A database with keys
 * and no check value yet for secret 1 (made before schema 3) gets one from
 * the first start with a secret it did not just create; with a secret just
 * created (the file was missing) it is refused. A secret without a check
 * value yet (a rotation's, seen first here) gets one. */
static int keysvc_ring_matches(keysvc *ks, const keyring *ring, const char *secret_path, int created, char *err,
                               size_t errlen)
{
	char want[2 * STORE_HASH_LEN + 1], have[2 * STORE_HASH_LEN + 8], name[40];
	int64_t keys = 0;
	int rc;

	for (size_t i = 0; i < ring->n; i++) {
		const keyring_secret *sec = &ring->s[i];
		if (keysvc_check_value(sec, want) != 0) {
			snprintf(err, errlen, "cannot compute the secret's check value");
			return -1;
		}
		keysvc_check_name(sec->id, name, sizeof name);
		rc = store_meta_get(ks->st, name, have, sizeof have);
		if (rc == STORE_OK) {
			if (strcmp(have, want) == 0)
				continue;
			if (ring->legacy)
				snprintf(err, errlen, "%s: not the secret the keys in %s were made with (its check value differs); %s",
				         secret_path, "the database",
				         created ? "the secret file was missing: restore it from a backup" : "restore the right secret file");
			else
				snprintf(err, errlen, "%s: secret %lld is not the one the keys in the database were made with (its "
				         "check value differs): restore the right keyring file", secret_path, (long long)sec->id);
			return -1;
		}
		if (rc != STORE_NOT_FOUND || (sec->id == 1 && store_key_count(ks->st, &keys) != STORE_OK)) {
			snprintf(err, errlen, "cannot read the secret's check value from the database");
			return -1;
		}
		if (sec->id == 1 && keys > 0 && created) {
			snprintf(err, errlen, "%s was missing, and the database holds %lld keys made with the secret it held: "
			         "restore the secret file from a backup (a new secret would make every key fail)",
			         secret_path, (long long)keys);
			return -1;
		}
		if (store_meta_set(ks->st, name, want) != STORE_OK)
			keysvc_log(ks, STORE_LOG_WARNING, "cannot write the secret's check value (a read-only database?); "
			           "the next start that can will write it");
	}
	return 0;
}

static const keyring *keysvc_ring_now(keysvc *ks);

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
	if (rc == STORE_OK)
		__atomic_store_n(&ks->filter_ready, 1, __ATOMIC_RELEASE);
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
	if (maybe || (__atomic_load_n(&ks->filter_synced, __ATOMIC_RELAXED) >= now &&
	              __atomic_load_n(&ks->filter_ready, __ATOMIC_ACQUIRE)))
		return maybe;
	if (keysvc_filter_sync(ks, now) != 0 || !__atomic_load_n(&ks->filter_ready, __ATOMIC_ACQUIRE))
		return 1;   /* the store failed (now or at the start): let the lookup say so */
	pthread_rwlock_rdlock(&ks->filter_lock);
	maybe = keyfilter_maybe(ks->filter, hash);
	pthread_rwlock_unlock(&ks->filter_lock);
	return maybe;
}

/* ---- the keyring in use: the file, looked at once a second ---- */

static void keysvc_ring_stamp_of(const char *path, keysvc_ring_stamp *out)
{
	struct stat sb;

	memset(out, 0, sizeof *out);
	if (stat(path, &sb) == 0) {
		out->dev = sb.st_dev;
		out->ino = sb.st_ino;
		out->size = sb.st_size;
		out->mtime = sb.st_mtim;
	}
}

/* Warns of unrevoked keys made with a secret the keyring lacks: they answer
   401 until the secret is back (restore the keyring from a backup). */
static void keysvc_ring_needed(keysvc *ks, const keyring *ring)
{
	store_secret_count *c = NULL;
	size_t n = 0;
	char msg[300];

	if (store_secret_counts(ks->st, &c, &n) != STORE_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		if (keyring_find(ring, c[i].secret_id))
			continue;
		snprintf(msg, sizeof msg, "%s lacks secret %lld, which %lld unrevoked key(s) were made with: they fail "
		         "until it is back (restore the keyring from a backup)", ks->secret_path ? ks->secret_path : "the keyring",
		         (long long)c[i].secret_id, (long long)c[i].keys);
		keysvc_log(ks, STORE_LOG_WARNING, msg);
	}
	free(c);
}

/* Reads the keyring file again if it changed (a rotation or a retire, by
   this process or another): checked against the store's check values, then
   swapped in; a keyring that fails keeps the one in use, logged. force:
   look now, not once a second. */
static void keysvc_ring_reload(keysvc *ks, time_t now, int force)
{
	keysvc_ring_stamp st;
	keysvc_ring *r = NULL;
	char err[600], msg[700];

	pthread_mutex_lock(&ks->ring_lock);
	if (!force && __atomic_load_n(&ks->ring_checked, __ATOMIC_RELAXED) == now)
		goto cleanup;
	__atomic_store_n(&ks->ring_checked, now, __ATOMIC_RELAXED);
	keysvc_ring_stamp_of(ks->secret_path, &st);
	if (memcmp(&st, &ks->ring_stamp, sizeof st) == 0)
		goto cleanup;
	ks->ring_stamp = st;
	if (!(r = calloc(1, sizeof *r)))
		goto cleanup;
	if (keyring_load(ks->secret_path, &r->k, err, sizeof err) != 0) {
		snprintf(msg, sizeof msg, "the keyring changed but cannot be read; keeping the one in use: %s",
		         r->k.n == 0 && access(ks->secret_path, F_OK) != 0 ? "the file is gone" : err);
		keysvc_log(ks, STORE_LOG_ERROR, msg);
		goto cleanup;
	}
	if (keysvc_ring_matches(ks, &r->k, ks->secret_path, 0, err, sizeof err) != 0) {
		snprintf(msg, sizeof msg, "the keyring changed but is refused; keeping the one in use: %s", err);
		keysvc_log(ks, STORE_LOG_ERROR, msg);
		goto cleanup;
	}
	keysvc_ring_prepare(r);
	r->older = ks->ring;
	__atomic_store_n(&ks->ring, r, __ATOMIC_RELEASE);
	y_log_message(Y_LOG_LEVEL_INFO, "keyring %s reloaded: %zu secret(s), new keys use secret %lld", ks->secret_path,
	              r->k.n, (long long)keyring_current(&r->k)->id);
	r = NULL;
cleanup:
	pthread_mutex_unlock(&ks->ring_lock);
	if (r) {
		keyring_wipe(&r->k);
		free(r);
	}
}

/* The keyring to use now (never freed before keysvc_close). */
static const keyring *keysvc_ring_now(keysvc *ks)
{
	if (ks->secret_path) {
		time_t now = time(NULL);
		if (__atomic_load_n(&ks->ring_checked, __ATOMIC_RELAXED) != now)
			keysvc_ring_reload(ks, now, 0);
	}
	return &__atomic_load_n(&ks->ring, __ATOMIC_ACQUIRE)->k;
}

int keysvc_open(const keysvc_config *cfg, keysvc **out, char *err, size_t errlen)
{
	keysvc *ks = calloc(1, sizeof *ks);
	store_config sc = { .path = cfg->db_path, .synchronous_full = cfg->synchronous_full,
	                    .group_commit = !cfg->naive_commit, .log = cfg->log, .stale_if_error = cfg->stale_if_error,
	                    .on_change = keysvc_store_changed, .on_change_ctx = ks };
	char *secret_path = NULL;
	int created = 0;

	*out = NULL;
	if (!ks || !(ks->ring = calloc(1, sizeof *ks->ring))) {
		free(ks);
		return -1;
	}
	for (int f = 0; f < KEYSVC_NFAMILIES; f++) {
		/* every prefix a family issues or still accepts is one token.c reads */
		const char *p[2] = { keysvc_families[f].prefix, keysvc_families[f].old_prefix };
		for (int i = 0; i < 2; i++) {
			char t[TOKEN_MAX];
			if (p[i] && (token_new(p[i], t, sizeof t) != 0 || !token_check(t))) {
				snprintf(err, errlen, "family %s: token.c does not read keys that start with %s",
				         keysvc_families[f].api, p[i]);
				free(ks->ring);
				free(ks);
				return -1;
			}
		}
	}
	ks->log = cfg->log;
	pthread_mutex_init(&ks->lock, NULL);
	pthread_mutex_init(&ks->tq_lock, NULL);
	pthread_mutex_init(&ks->rq_lock, NULL);
	pthread_cond_init(&ks->rq_work, NULL);
	ks->ttl = cfg->cache_ttl > 0 ? cfg->cache_ttl : KEYSVC_CACHE_TTL;
	{
		pthread_condattr_t ca;   /* the writer's gathering waits on the monotonic clock */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&ks->tq_work, &ca);
		pthread_condattr_destroy(&ca);
	}
	pthread_cond_init(&ks->tq_idle, NULL);
	for (int i = 0; i < KEYSVC_SCOPE_STRIPES; i++)
		pthread_mutex_init(&ks->holds_lock[i], NULL);
	pthread_rwlock_init(&ks->filter_lock, NULL);
	ks->quota = cfg->key_quota == 0 ? KEYSVC_DEFAULT_QUOTA : cfg->key_quota < 0 ? 0 : cfg->key_quota;
	ks->cascade = cfg->revoke_cascade;
	ks->tq_cap = cfg->touch_queue > 0 && cfg->touch_queue < KEYSVC_TOUCH_QUEUE ? cfg->touch_queue : KEYSVC_TOUCH_QUEUE;
	pthread_mutex_init(&ks->filter_sync, NULL);
	pthread_mutex_init(&ks->ring_lock, NULL);
	if (strcmp(cfg->db_path, ":memory:") == 0 && !cfg->secret_path) {
		ks->ring->k.n = 1;
		ks->ring->k.s[0].id = 1;
		if (gnutls_rnd(GNUTLS_RND_KEY, ks->ring->k.s[0].key, KEYSVC_SECRET_LEN) != 0)
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
		if (!secret_path || keysvc_secret(secret_path, cfg->secret_must_exist, &ks->ring->k, &created, err, errlen) != 0)
			goto fail;
		keysvc_ring_stamp_of(secret_path, &ks->ring_stamp);
		ks->ring_checked = time(NULL);
	}
	keysvc_ring_prepare(ks->ring);
	if (keysvc_jwt_set_new(cfg, &ks->jwt, err, errlen) != 0)
		goto fail;
	if (ratelimit_new_sized(cfg->fail_limit ? cfg->fail_limit : 10, cfg->fail_window ? cfg->fail_window : 60,
	                        cfg->fail_clients, &ks->rate) != 0) {
		snprintf(err, errlen, "cannot set up the key service's rate limiter (memory or randomness)");
		goto fail;
	}
	if (keycache_new(KEYSVC_CACHE_SLOTS, ks->ttl, &ks->cache) != 0 || keylimit_new(0, &ks->limits) != 0 ||
	    listcache_new(KEYSVC_LIST_GROUPS, KEYSVC_LIST_MAX_KEYS, KEYSVC_LIST_MAX_ROWS, ks->ttl, &ks->lists) != 0) {
		snprintf(err, errlen, "out of memory for the key service's caches");
		goto fail;
	}
	listcache_set_grace(ks->lists, KEYSVC_CACHE_GRACE(ks), KEYSVC_CACHE_HOLD(ks));   /* as the keys' (keysvc_find) */
	/* after the caches: a shared store may report changes at once */
	if (store_open(&sc, &ks->st, err, errlen) != 0)
		goto fail;
	if (secret_path && keysvc_ring_matches(ks, &ks->ring->k, secret_path, created, err, errlen) != 0) {
		if (created)
			unlink(secret_path);   /* so that the next start does not take it for the right one */
		goto fail;
	}
	if (secret_path)
		keysvc_ring_needed(ks, &ks->ring->k);
	if (keyfilter_new(0, &ks->filter) != 0) {
		snprintf(err, errlen, "out of memory for the key service's key filter");
		goto fail;
	}
	/* a store that cannot be read now starts anyway (its readiness says
	   why); until a sync succeeds the filter rules nothing out */
	if (keysvc_filter_sync(ks, time(NULL)) != 0)
		keysvc_log(ks, STORE_LOG_WARNING, "cannot read the key store's hashes into the key filter yet; "
		           "blocked addresses' lookups go to the store until it can");
	ks->secret_path = secret_path;
	*out = ks;
	return 0;
fail:
	free(secret_path);
	keysvc_close(ks);
	return -1;
}

/* ---- the touch writer ---- */

/* The slot's pending write cleared, if it is still when's (a later use of
   the same slot may have queued another). */
static void keysvc_touch_settled(keysvc *ks, int64_t key_id, int64_t when)
{
	keysvc_touch *t = &ks->touch[(uint64_t)key_id % KEYSVC_TOUCH_SLOTS];

	pthread_mutex_lock(&ks->lock);
	if (t->key_id == key_id && t->pending == when)
		__atomic_store_n(&t->pending, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&ks->lock);
}

/* Writes jobs (one commit where the store can), then shows them: the
   owners' cached lists updated in place. A write that failed leaves them as
   they are, as the store is (its last_used the one before): dropping them
   took a list the caches could still answer through an outage (--stale-if-
   error) when a queued write came due after the store went down. */
static int keysvc_touch_write(keysvc *ks, const keysvc_touch_job *jobs, size_t n)
{
	store_touch w[KEYSVC_TOUCH_BATCH];
	int rc;

	if (n > KEYSVC_TOUCH_BATCH)
		n = KEYSVC_TOUCH_BATCH;
	for (size_t i = 0; i < n; i++)
		w[i] = (store_touch){ .key_id = jobs[i].key_id, .when = jobs[i].when };
	rc = store_keys_touch(ks->st, w, n);
	for (size_t i = 0; i < n; i++) {
		if (w[i].rc == STORE_OK)
			listcache_touch(ks->lists, jobs[i].owner, jobs[i].key_id, jobs[i].when);
		keysvc_touch_settled(ks, jobs[i].key_id, jobs[i].when);
	}
	return rc;
}

/* Stopping, and the store refused a batch: the rest is not written (under
   tq_lock). Each batch against a locked SQLite waits its busy timeout
   (10 s), so a full queue would hold keysvc_close, and the server's exit,
   for 80 s; last_used is bookkeeping, and the count is logged. */
static void keysvc_touch_drop(keysvc *ks)
{
	size_t n = ks->tq_n;
	char msg[160];

	for (size_t i = 0; i < n; i++) {
		const keysvc_touch_job *j = &ks->tq[(ks->tq_head + i) % KEYSVC_TOUCH_QUEUE];
		keysvc_touch_settled(ks, j->key_id, j->when);
	}
	ks->tq_n = 0;
	__atomic_sub_fetch(&ks->tq_pending, (unsigned)n, __ATOMIC_RELEASE);
	snprintf(msg, sizeof msg, "shutting down with the store refusing writes: %zu keys' last_used not written", n);
	keysvc_log(ks, STORE_LOG_ERROR, msg);
}

static void *keysvc_touch_main(void *arg)
{
	keysvc *ks = arg;
	keysvc_touch_job batch[KEYSVC_TOUCH_BATCH];

	pthread_mutex_lock(&ks->tq_lock);
	for (;;) {
		size_t n = 0;
		while (ks->tq_n == 0 && !ks->tq_stop)
			pthread_cond_wait(&ks->tq_work, &ks->tq_lock);
		if (ks->tq_n == 0)   /* stopped, and every job written */
			break;
		/* the writes of the next KEYSVC_TOUCH_GATHER_MS, in the same commit */
		if (!ks->tq_stop && !ks->tq_hurry && ks->tq_n < KEYSVC_TOUCH_BATCH) {
			struct timespec until;
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += KEYSVC_TOUCH_GATHER_MS * 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			while (!ks->tq_stop && !ks->tq_hurry && ks->tq_n < KEYSVC_TOUCH_BATCH &&
			       pthread_cond_timedwait(&ks->tq_work, &ks->tq_lock, &until) == 0)
				;
		}
		ks->tq_hurry = 0;
		while (n < KEYSVC_TOUCH_BATCH && ks->tq_n > 0) {
			batch[n++] = ks->tq[ks->tq_head];
			ks->tq_head = (ks->tq_head + 1) % KEYSVC_TOUCH_QUEUE;
			ks->tq_n--;
		}
		ks->tq_busy = 1;
		pthread_mutex_unlock(&ks->tq_lock);
		int rc = keysvc_touch_write(ks, batch, n);
		__atomic_sub_fetch(&ks->tq_pending, (unsigned)n, __ATOMIC_RELEASE);
		pthread_mutex_lock(&ks->tq_lock);
		if (rc != STORE_OK && ks->tq_stop && ks->tq_n > 0)
			keysvc_touch_drop(ks);
		ks->tq_busy = 0;
		pthread_cond_broadcast(&ks->tq_idle);
	}
	pthread_mutex_unlock(&ks->tq_lock);
	return NULL;
}

/* Queues a write for the touch writer (its thread started on the first):
   0; 1 when the queue is full (the writer is behind: the store is slow,
   locked or down); -1 when it is stopped or the thread cannot start (the
   caller writes it itself). The slot's pending is set by the caller. */
static int keysvc_touch_queue(keysvc *ks, int64_t owner, int64_t key_id, int64_t when)
{
	int rc = -1;

	pthread_mutex_lock(&ks->tq_lock);
	if (!ks->tq_stop && ks->tq_n >= ks->tq_cap) {
		rc = 1;
	} else if (!ks->tq_stop) {
		if (!ks->tq_started && pthread_create(&ks->tq_thread, NULL, keysvc_touch_main, ks) == 0)
			ks->tq_started = 1;
		if (ks->tq_started) {
			ks->tq[(ks->tq_head + ks->tq_n) % KEYSVC_TOUCH_QUEUE] = (keysvc_touch_job){ key_id, owner, when };
			ks->tq_n++;
			__atomic_add_fetch(&ks->tq_pending, 1, __ATOMIC_RELEASE);
			if (ks->tq_n == 1 || ks->tq_n >= KEYSVC_TOUCH_BATCH)   /* the writer is idle, or has a batch */
				pthread_cond_signal(&ks->tq_work);
			rc = 0;
		}
	}
	pthread_mutex_unlock(&ks->tq_lock);
	return rc;
}

void keysvc_touch_flush(keysvc *ks)
{
	pthread_mutex_lock(&ks->tq_lock);
	if (ks->tq_n > 0) {   /* now, not at the end of the gathering */
		ks->tq_hurry = 1;
		pthread_cond_signal(&ks->tq_work);
	}
	while (ks->tq_n > 0 || ks->tq_busy)
		pthread_cond_wait(&ks->tq_idle, &ks->tq_lock);
	pthread_mutex_unlock(&ks->tq_lock);
}

/* One of the key service's threads (the touch writer, the refresher)
   told to stop, and joined if it was started. */
static void keysvc_thread_stop(pthread_mutex_t *lock, pthread_cond_t *work, int *stop, int *started, pthread_t *th)
{
	pthread_mutex_lock(lock);
	*stop = 1;
	pthread_cond_signal(work);
	pthread_mutex_unlock(lock);
	if (*started)
		pthread_join(*th, NULL);
	*started = 0;
}

/* Every queued write written, the thread gone; later uses write their own. */
static void keysvc_touch_stop(keysvc *ks)
{
	keysvc_thread_stop(&ks->tq_lock, &ks->tq_work, &ks->tq_stop, &ks->tq_started, &ks->tq_thread);
}

/* What the key service shows as a key's last_used: the store's, or a later
   write still queued. */
static int64_t keysvc_touch_shown(keysvc *ks, int64_t key_id, int64_t last_used)
{
	const keysvc_touch *t;
	int64_t p;

	if (__atomic_load_n(&ks->tq_pending, __ATOMIC_ACQUIRE) == 0)
		return last_used;
	t = &ks->touch[(uint64_t)key_id % KEYSVC_TOUCH_SLOTS];
	if (__atomic_load_n(&t->key_id, __ATOMIC_ACQUIRE) != key_id)
		return last_used;
	p = __atomic_load_n(&t->pending, __ATOMIC_ACQUIRE);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&t->key_id, __ATOMIC_RELAXED) != key_id)
		return last_used;
	return p > last_used ? p : last_used;
}

/* keys[0..n-1]'s last_used as keysvc_touch_shown says. */
static void keysvc_touch_show(keysvc *ks, keysvc_key *keys, size_t n)
{
	if (__atomic_load_n(&ks->tq_pending, __ATOMIC_ACQUIRE) == 0)
		return;
	for (size_t i = 0; i < n; i++)
		keys[i].last_used = keysvc_touch_shown(ks, keys[i].id, keys[i].last_used);
}

static void keysvc_refresh_stop(keysvc *ks);
static void keysvc_refresh_list(keysvc *ks, int64_t user, int family, int include_revoked);

void keysvc_close(keysvc *ks)
{
	if (!ks)
		return;
	keysvc_touch_stop(ks);   /* its last writes before the store goes */
	keysvc_refresh_stop(ks);
	store_close(ks->st);
	keycache_free(ks->cache);
	keylimit_free(ks->limits);
	for (int i = 0; i < KEYSVC_SCOPE_STRIPES; i++)
		pthread_mutex_destroy(&ks->holds_lock[i]);
	listcache_free(ks->lists);
	ratelimit_free(ks->rate);
	keyfilter_free(ks->filter);
	pthread_rwlock_destroy(&ks->filter_lock);
	pthread_mutex_destroy(&ks->filter_sync);
	keysvc_jwt_set_free(ks->jwt);
	for (keysvc_ring *r = ks->ring, *older; r; r = older) {
		older = r->older;
		keysvc_ring_wipe(r);
		free(r);
	}
	free(ks->secret_path);
	pthread_mutex_destroy(&ks->ring_lock);
	pthread_mutex_destroy(&ks->lock);
	pthread_mutex_destroy(&ks->tq_lock);
	pthread_cond_destroy(&ks->tq_work);
	pthread_cond_destroy(&ks->tq_idle);
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
	out->touch_dropped = __atomic_load_n(&ks->tq_dropped, __ATOMIC_RELAXED);
	out->refreshes = __atomic_load_n(&ks->refreshes, __ATOMIC_RELAXED);
}

/* HMAC-SHA-256(sec, token); sec is one of ring's secrets, ring one of the
   service's (keysvc_ring). */
static int keysvc_hash(const keyring *ring, const keyring_secret *sec, const char *token,
                       unsigned char out[STORE_HASH_LEN])
{
	const keysvc_ring *r = keysvc_ring_of(ring);
	size_t i = (size_t)(sec - ring->s);

	if (i < r->n_pre) {
		struct hmac_sha256_ctx c = r->pre[i];
		hmac_sha256_update(&c, strlen(token), (const uint8_t *)token);
		hmac_sha256_digest(&c, STORE_HASH_LEN, out);
		gnutls_memset(&c, 0, sizeof c);
		return 0;
	}
	return gnutls_hmac_fast(GNUTLS_MAC_SHA256, sec->key, sizeof sec->key, token, strlen(token), out) == 0 ? 0 : -1;
}

static int keysvc_from_store(int rc)
{
	return rc == STORE_OK ? KEYSVC_OK : rc == STORE_NOT_FOUND ? KEYSVC_NOT_FOUND
	     : rc == STORE_CONSTRAINT ? KEYSVC_DUPLICATE : rc == STORE_QUOTA ? KEYSVC_QUOTA
	     : rc == STORE_UNAVAILABLE ? KEYSVC_UNAVAILABLE : KEYSVC_STORE;
}

/* now less 0 to spread - 1 seconds, by id (a Fibonacci hash: uniform over
   consecutive ids), the same each time for an id: the time to put a cache
   entry at (by two bytes of its HMAC, or its owner's id), or to record a
   last_used write at. */
static time_t keysvc_spread_time(time_t now, int64_t id, unsigned spread)
{
	return now - (time_t)((((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 40) % spread);
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

/* ---- rights ---- */

/* A stored role's rights: "" is a key from before roles, which could write. */
static int keysvc_role_rights(const char *role)
{
	return strcmp(role, "read") == 0 ? KEYSVC_RIGHTS_READ
	     : strcmp(role, "write") == 0 || !*role ? KEYSVC_RIGHTS_WRITE : KEYSVC_RIGHTS_NONE;
}

const char *keysvc_rights_name(int rights)
{
	static const char *const names[] = { "none", "read", "write", "admin" };

	return rights >= KEYSVC_RIGHTS_NONE && rights <= KEYSVC_RIGHTS_ADMIN ? names[rights] : "none";
}

int keysvc_rights(keysvc *ks, const keysvc_principal *caller, int *rights)
{
	keysvc_key k;
	int rc;

	*rights = KEYSVC_RIGHTS_NONE;
	if (!caller || caller->user_id <= 0)
		return KEYSVC_OK;
	if (caller->key_id == 0) {   /* a JWT: the account holder */
		*rights = KEYSVC_RIGHTS_ADMIN;
		return KEYSVC_OK;
	}
	rc = store_key_get_id(ks->st, caller->user_id, -1, caller->key_id, &k);
	if (rc == STORE_NOT_FOUND)
		return KEYSVC_OK;
	if (rc != STORE_OK)
		return keysvc_from_store(rc);   /* unavailable stays unavailable */
	if (k.active && !k.revoked)
		*rights = keysvc_role_rights(k.role);
	return KEYSVC_OK;
}

int keysvc_authorize(keysvc *ks, const keysvc_principal *caller, int need)
{
	int rights, rc = keysvc_rights(ks, caller, &rights);

	return rc != KEYSVC_OK ? rc : rights >= need ? KEYSVC_OK : KEYSVC_FORBIDDEN;
}

int keysvc_name(const char *name, char *out, size_t outlen)
{
	return name && keyname_nfc(name, out, outlen, STORE_NAME_CHARS) == 0 ? KEYSVC_OK : KEYSVC_INVALID;
}

/* Stores a new key as given: no rules (keysvc_create, keysvc_user_add and
   keysvc_user_key decide who may, and with which role). parent: the key
   whose holder creates this one (0: none, a JWT or the CLI). The quota is
   counted inside the insert's transaction (KEYSVC_QUOTA). */
static int keysvc_insert(keysvc *ks, int64_t user, int64_t parent, int family, const char *name, const char *description,
                         const char *role, const keysvc_key *attrs, const char *client, keysvc_key *out, char *token,
                         size_t toklen)
{
	unsigned char hash[STORE_HASH_LEN];
	const keyring *ring_now = keysvc_ring_now(ks);
	const keyring_secret *cur = keyring_current(ring_now);
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
	out->secret_id = cur->id;
	out->active = attrs ? attrs->active : 1;   /* stored as it is: one write */
	if (attrs) {   /* checked by the caller (keysvc_attrs_check) */
		out->expires_at = attrs->expires_at;
		snprintf(out->scopes, sizeof out->scopes, "%s", attrs->scopes);
		snprintf(out->meta, sizeof out->meta, "%s", attrs->meta);
		snprintf(out->owner, sizeof out->owner, "%s", attrs->owner);
		out->has_remaining = attrs->has_remaining;
		out->remaining = attrs->remaining;
		out->rl_limit = attrs->rl_limit;
		out->rl_window = attrs->rl_window;
	} else if (family == KEYSVC_APIKEYD) {
		/* made by a vendor family's rules (keysvc_create): the scopes of its role */
		snprintf(out->scopes, sizeof out->scopes, "%s",
		         role && strcmp(role, "read") == 0 ? KEYSVC_SCOPE_READ
		         : KEYSVC_SCOPE_READ " " KEYSVC_SCOPE_WRITE " " KEYSVC_SCOPE_VERIFY);
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		if (token_new(keysvc_families[family].prefix, token, toklen) != 0 || keysvc_hash(ring_now, cur, token, hash) != 0)
			return KEYSVC_STORE;
		tl = strlen(token);
		snprintf(out->prefix, sizeof out->prefix, "%.8s", token);
		snprintf(out->tail, sizeof out->tail, "%s", token + tl - 3);
		rc = store_key_insert(ks->st, out, hash, client, ks->quota);
		if (rc == STORE_OK)
			keysvc_filter_add(ks, hash);
		listcache_forget_user(ks->lists, user);
		if (rc != STORE_CONSTRAINT || keysvc_families[family].unique_names)
			break;
		/* a hash collision (never in practice): draw again */
	}
	if (rc != STORE_OK)
		gnutls_memset(token, 0, toklen);
	return keysvc_from_store(rc);
}

int keysvc_create(keysvc *ks, const keysvc_principal *caller, int family, const char *name, const char *description,
                  const char *role, const char *client, keysvc_key *out, char *token, size_t toklen)
{
	char nfc[STORE_NAME_CHARS * 4 + 1];
	int have, want, rc;

	rc = keysvc_rights(ks, caller, &have);
	if (rc != KEYSVC_OK)
		return rc;
	if (have < KEYSVC_RIGHTS_WRITE)
		return KEYSVC_FORBIDDEN;
	if (family < 0 || family >= KEYSVC_NFAMILIES)
		return KEYSVC_INVALID;
	if (!role)
		role = keysvc_families[family].default_role;
	want = strcmp(role, "read") == 0 ? KEYSVC_RIGHTS_READ : strcmp(role, "write") == 0 ? KEYSVC_RIGHTS_WRITE : -1;
	if (want < 0)
		return KEYSVC_INVALID;     /* only read and write keys are minted */
	if (want > have)
		return KEYSVC_FORBIDDEN;   /* never more than the caller's own */
	if (keysvc_name(name, nfc, sizeof nfc) != KEYSVC_OK)
		return KEYSVC_INVALID;
	/* the caller's key is the new key's parent (a JWT: none) */
	return keysvc_insert(ks, caller->user_id, caller->key_id, family, nfc, description, role, NULL, client, out, token,
	                     toklen);
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
	return keysvc_insert(ks, *user_id, 0, KEYSVC_HERON, "first key", NULL, "write", NULL, "cli", &k, token, toklen);
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
	char nfc[STORE_NAME_CHARS * 4 + 1];
	int rc, hit;

	if (name && keysvc_name(name, nfc, sizeof nfc) != KEYSVC_OK) {   /* no key has such a name */
		*out = NULL;
		*n = 0;
		*total = 0;
		return KEYSVC_OK;
	}
	if (name)
		name = nfc;
	if (whole)
		keysvc_other_writers(ks);
	if (whole && (hit = listcache_get(ks->lists, user, keysvc_slot(family), include_revoked, now, out, n))) {
		if (hit == 2)
			keysvc_refresh_list(ks, user, family, include_revoked);
		__atomic_add_fetch(&ks->stats.list_hits, 1, __ATOMIC_RELAXED);
		*total = (int64_t)*n;
		keysvc_touch_show(ks, *out, *n);
		return KEYSVC_OK;
	}
	if (whole)
		epoch = listcache_epoch(ks->lists, user);
	rc = store_key_list(ks->st, user, family, name, include_revoked, skip, limit, out, n, total);
	if (whole && rc == STORE_OK)
		listcache_put(ks->lists, user, keysvc_slot(family), include_revoked, *out, *n, epoch,
		              keysvc_spread_time(now, user, KEYSVC_CACHE_SPREAD(ks)));
	if (rc == STORE_OK)
		keysvc_touch_show(ks, *out, *n);
	return keysvc_from_store(rc);
}

/* Keys a walk holds at a time (about 5 KiB each); also the longest list
   the list cache keeps, so a whole list that fits one page is cached. */
#define KEYSVC_PAGE KEYSVC_LIST_MAX_KEYS

size_t keysvc_list_max(const keysvc *ks)
{
	return ks->quota > 0 ? (size_t)ks->quota : 0;
}

/* keysvc_list_each's fn, each key's last_used as keysvc_touch_shown says
   (the key is the walk's own scratch, its last_used put back after). */
typedef struct keysvc_shown_walk {
	keysvc *ks;
	keysvc_each_fn fn;
	void *ctx;
} keysvc_shown_walk;

static int keysvc_shown_each(void *ctx, const keysvc_key *k)
{
	keysvc_shown_walk *w = ctx;
	keysvc_key *m = (keysvc_key *)k;
	int64_t was = k->last_used;
	int rc;

	m->last_used = keysvc_touch_shown(w->ks, k->id, was);
	rc = w->fn(w->ctx, k);
	m->last_used = was;
	return rc;
}

int keysvc_list_each(keysvc *ks, int64_t user, int family, int include_revoked, size_t max, keysvc_each_fn fn,
                     void *ctx)
{
	keysvc_shown_walk shown = { ks, fn, ctx };
	time_t now = time(NULL);
	keysvc_key *v = NULL;
	size_t n = 0, given = 0;
	int64_t before = 0;
	uint64_t epoch;
	int rc = KEYSVC_OK, r, hit;

	keysvc_other_writers(ks);
	if (__atomic_load_n(&ks->tq_pending, __ATOMIC_ACQUIRE) > 0) {   /* a write queued: shown meanwhile */
		fn = keysvc_shown_each;
		ctx = &shown;
	}
	if ((hit = listcache_each(ks->lists, user, keysvc_slot(family), include_revoked, now, max, fn, ctx, &r))) {
		__atomic_add_fetch(&ks->stats.list_hits, 1, __ATOMIC_RELAXED);
		if (hit == 2)
			keysvc_refresh_list(ks, user, family, include_revoked);
		return r != 0 ? KEYSVC_INVALID : KEYSVC_OK;
	}
	epoch = listcache_epoch(ks->lists, user);
	for (int first = 1;; first = 0) {
		if ((r = store_key_page(ks->st, user, family, include_revoked, before, KEYSVC_PAGE, &v, &n)) != STORE_OK)
			return keysvc_from_store(r == STORE_NOT_FOUND ? STORE_ERROR : r);
		if (first && n < KEYSVC_PAGE)   /* the whole list: keep it */
			listcache_put(ks->lists, user, keysvc_slot(family), include_revoked, v, n, epoch,
			              keysvc_spread_time(now, user, KEYSVC_CACHE_SPREAD(ks)));
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
	int rc;

	if (!name || !*name)
		return KEYSVC_INVALID;
	rc = store_user_find(ks->st, name, user_id);
	if (rc == STORE_NOT_FOUND)
		return KEYSVC_NO_USER;
	if (rc != STORE_OK)
		return keysvc_from_store(rc);
	return keysvc_insert(ks, *user_id, 0, KEYSVC_HERON, "recovery key", NULL, "write", NULL, "cli", out, token, toklen);
}

/* A key read from the store, its last_used as keysvc_touch_shown says. */
static int keysvc_got(keysvc *ks, int store_rc, keysvc_key *k)
{
	if (store_rc == STORE_OK)
		keysvc_touch_show(ks, k, 1);
	return keysvc_from_store(store_rc);
}

int keysvc_get_uuid(keysvc *ks, int64_t user, int family, const char *uuid, keysvc_key *out)
{
	return keysvc_got(ks, store_key_get_uuid(ks->st, user, family, uuid, out), out);
}

int keysvc_get_id(keysvc *ks, int64_t user, int family, int64_t id, keysvc_key *out)
{
	return keysvc_got(ks, store_key_get_id(ks->st, user, family, id, out), out);
}

int keysvc_get_name(keysvc *ks, int64_t user, int family, const char *name, keysvc_key *out)
{
	char nfc[STORE_NAME_CHARS * 4 + 1];

	if (keysvc_name(name, nfc, sizeof nfc) != KEYSVC_OK)
		return KEYSVC_NOT_FOUND;
	return keysvc_got(ks, store_key_get_name(ks->st, user, family, nfc, out), out);
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

int keysvc_set_active(keysvc *ks, const keysvc_principal *caller, int64_t key_id, int active, const char *client)
{
	int64_t user = caller ? caller->user_id : 0;
	int rc = keysvc_authorize(ks, caller, KEYSVC_RIGHTS_WRITE);

	if (rc == KEYSVC_OK)
		rc = keysvc_owned(ks, user, key_id);
	if (rc != KEYSVC_OK)
		return rc;
	return keysvc_changed(ks, user, key_id, store_key_set_active(ks->st, key_id, active, user, client));
}

/* Revokes every unrevoked descendant of key_id (the owner's: a key mints
   only for its owner), each out of the authentication cache before this
   returns. Again until none is left: a descendant's request that was in
   flight may still mint one. A store failure is passed on (KEYSVC_STORE or
   KEYSVC_UNAVAILABLE), never taken for a key that is not there. */
static int keysvc_revoke_descendants(keysvc *ks, int64_t user, int64_t key_id, const char *client, size_t *n)
{
	int rc = KEYSVC_OK;

	for (int round = 0; round < 16 && rc == KEYSVC_OK; round++) {
		int64_t *ids = NULL;
		size_t cnt = 0;
		int r = store_key_descendants(ks->st, key_id, &ids, &cnt);
		if (r != STORE_OK)
			return keysvc_from_store(r == STORE_NOT_FOUND ? STORE_ERROR : r);
		for (size_t i = 0; i < cnt; i++) {
			r = store_key_revoke(ks->st, ids[i], user, client);
			keycache_forget(ks->cache, ids[i]);
			if (r == STORE_OK)
				(*n)++;
			else if (r != STORE_NOT_FOUND && rc == KEYSVC_OK)
				rc = keysvc_from_store(r);
		}
		listcache_forget_user(ks->lists, user);
		free(ids);
		if (cnt == 0)
			break;
	}
	return rc;
}

int keysvc_revoke(keysvc *ks, const keysvc_principal *caller, int64_t key_id, const char *client)
{
	int64_t user = caller ? caller->user_id : 0;
	int rc = keysvc_authorize(ks, caller, KEYSVC_RIGHTS_WRITE);
	size_t n = 0;

	if (rc == KEYSVC_OK)
		rc = keysvc_owned(ks, user, key_id);
	if (rc != KEYSVC_OK)
		return rc;
	rc = keysvc_changed(ks, user, key_id, store_key_revoke(ks->st, key_id, user, client));
	if (rc == KEYSVC_OK && ks->cascade)
		rc = keysvc_revoke_descendants(ks, user, key_id, client, &n);
	return rc;
}

int keysvc_revoke_tree(keysvc *ks, const keysvc_principal *caller, int64_t key_id, const char *client, size_t *n)
{
	int64_t user = caller ? caller->user_id : 0;
	keysvc_key k;
	int rc = keysvc_authorize(ks, caller, KEYSVC_RIGHTS_WRITE);

	*n = 0;
	if (rc != KEYSVC_OK)
		return rc;
	if ((rc = keysvc_from_store(store_key_get_id(ks->st, user, -1, key_id, &k))) != KEYSVC_OK)
		return rc;
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

int keysvc_delete(keysvc *ks, const keysvc_principal *caller, int64_t key_id, const char *client)
{
	int64_t user = caller ? caller->user_id : 0;
	int rc = keysvc_authorize(ks, caller, KEYSVC_RIGHTS_WRITE);
	size_t n = 0;

	if (rc == KEYSVC_OK)
		rc = keysvc_owned(ks, user, key_id);
	if (rc != KEYSVC_OK)
		return rc;
	/* before the delete, which hands the key's children to its parent */
	if (ks->cascade && (rc = keysvc_revoke_descendants(ks, user, key_id, client, &n)) != KEYSVC_OK)
		return rc;
	return keysvc_changed(ks, user, key_id, store_key_delete(ks->st, key_id, user, client));
}

/* A use whose write found the queue full: not written, and not waited for.
   The queue fills only while the store takes longer than the uses come (a
   write lock held elsewhere, a server down or far away); a request that
   wrote its own then waited as long, for bookkeeping: SQLite's busy
   timeout, 10 s, at every new key's first use. The slot takes the use as
   written a second short of KEYSVC_TOUCH_EVERY ago, so the key's uses from
   the next second on try again (its uses meanwhile stay on the lock-free
   path: a slot forgetting the use sent every one of them through the
   service's lock and the queue's while the store was behind); the drops
   are counted and logged once a minute at most. */
static void keysvc_touch_dropped(keysvc *ks, int64_t key_id, int64_t when)
{
	keysvc_touch *t = &ks->touch[(uint64_t)key_id % KEYSVC_TOUCH_SLOTS];
	uint64_t n = __atomic_add_fetch(&ks->tq_dropped, 1, __ATOMIC_RELAXED);
	int64_t said = __atomic_load_n(&ks->tq_said, __ATOMIC_RELAXED);
	char msg[200];

	pthread_mutex_lock(&ks->lock);
	if (t->key_id == key_id && t->pending == when) {
		/* as keysvc_touch_key changes a slot: key_id off while written moves */
		__atomic_store_n(&t->key_id, 0, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		__atomic_store_n(&t->written, (time_t)when - (KEYSVC_TOUCH_EVERY - 1), __ATOMIC_RELAXED);
		__atomic_store_n(&t->pending, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&t->key_id, key_id, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&ks->lock);
	kmetrics_touch_dropped();
	if (when - said >= 60 &&
	    __atomic_compare_exchange_n(&ks->tq_said, &said, when, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		snprintf(msg, sizeof msg, "last_used: %zu writes wait for the store, which is behind; %llu uses "
		         "not recorded so far (each key's uses a second later try again)", ks->tq_cap, (unsigned long long)n);
		keysvc_log(ks, STORE_LOG_WARNING, msg);
	}
}

/* last_used: one write per key every 30 to 60 s at most */
static void keysvc_touch_key(keysvc *ks, int64_t owner, int64_t key_id)
{
	time_t now = time(NULL);
	keysvc_touch *t = &ks->touch[(uint64_t)key_id % KEYSVC_TOUCH_SLOTS];
	int write = 0;

	/* Without the lock when the slot says this key was written less than
	   KEYSVC_TOUCH_EVERY ago: nearly every use (the lock, taken on every
	   authentication and verify, was contended by every worker). The
	   writer below clears key_id before it changes written and sets it
	   after, so a reader that finds key_id the same on both sides of its
	   read of written read this key's time. */
	if (__atomic_load_n(&t->key_id, __ATOMIC_ACQUIRE) == key_id) {
		time_t w = __atomic_load_n(&t->written, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&t->key_id, __ATOMIC_RELAXED) == key_id && now >= w && now - w < KEYSVC_TOUCH_EVERY)
			return;
	}
	pthread_mutex_lock(&ks->lock);
	if (t->key_id != key_id || now - t->written >= KEYSVC_TOUCH_EVERY) {
		__atomic_store_n(&t->key_id, 0, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		__atomic_store_n(&t->written, keysvc_spread_time(now, key_id, KEYSVC_TOUCH_SPREAD), __ATOMIC_RELAXED);
		__atomic_store_n(&t->pending, (int64_t)now, __ATOMIC_RELAXED);
		__atomic_store_n(&t->key_id, key_id, __ATOMIC_RELEASE);
		write = 1;
	}
	pthread_mutex_unlock(&ks->lock);
	/* the touch writer's (KEYSVC_TOUCH_QUEUE); the key service's reads show
	   the pending time meanwhile (keysvc_touch_shown), so a list right after
	   the use shows it as when the write was the request's own */
	if (!write)
		return;
	switch (keysvc_touch_queue(ks, owner, key_id, (int64_t)now)) {
	case 0:
		break;
	case 1:
		keysvc_touch_dropped(ks, key_id, (int64_t)now);
		break;
	default: {   /* stopping, or no writer thread: the use writes its own */
		keysvc_touch_job job = { key_id, owner, (int64_t)now };
		keysvc_touch_write(ks, &job, 1);
	}
	}
}

/* A failed authentication: counted, or KEYSVC_RATE_LIMITED when the client
   is blocked already. Only failures are limited: a valid key authenticates
   from any address. */
static int keysvc_failed(keysvc *ks, const char *client, int rc, unsigned *retry_after)
{
	return ratelimit_fail_check(ks->rate, client, time(NULL), retry_after) ? KEYSVC_RATE_LIMITED : rc;
}

/* 0 when the token is surely no key under any secret of the keyring (the
   filter holds hashes as stored: a key not re-hashed yet is there under
   its older secret). */
static int keysvc_filter_maybe_any(keysvc *ks, const keyring *ring, const char *token,
                                   const unsigned char hash[STORE_HASH_LEN], time_t now)
{
	unsigned char h[STORE_HASH_LEN];

	if (keysvc_filter_maybe(ks, hash, now))
		return 1;
	for (size_t i = 0; i + 1 < ring->n; i++)
		if (keysvc_hash(ring, &ring->s[i], token, h) != 0 || keysvc_filter_maybe(ks, h, now))
			return 1;
	return 0;
}

/* A key the current secret does not find: made with an older secret of the
   keyring, newest first. used: the hash that found it. */
static int keysvc_by_older_hash(keysvc *ks, const keyring *ring, const char *token, store_key *k,
                                unsigned char stored[STORE_HASH_LEN], unsigned char used[STORE_HASH_LEN])
{
	int rc = STORE_NOT_FOUND;

	for (size_t i = ring->n - 1; rc == STORE_NOT_FOUND && i-- > 0;) {
		if (keysvc_hash(ring, &ring->s[i], token, used) != 0)
			return STORE_ERROR;
		rc = store_key_by_hash(ks->st, used, k, stored);
	}
	return rc;
}

/* ---- authentication and verification: one path ---- */

/* Copies the text src into dst (room bytes): what it holds, not the whole
   room (the key's texts are arrays of up to 1 KiB, typically a few bytes
   used). */
static void keysvc_text(char *dst, size_t room, const char *src)
{
	size_t n = strnlen(src, room - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void keysvc_entry_of(const keysvc_key *k, keycache_entry *e)
{
	memset(e, 0, sizeof *e);
	e->key_id = k->id;
	e->user_id = k->user_id;
	memcpy(e->key_uuid, k->uuid, sizeof e->key_uuid);
	e->active = k->active && !k->revoked;
	e->family = k->family;
	memcpy(e->role, k->role, sizeof e->role);
	e->created = k->created;
	e->expires_at = k->expires_at;
	e->counted = k->has_remaining;
	e->rl_limit = k->rl_limit;
	e->rl_window = k->rl_window;
	keysvc_text(e->name, sizeof e->name, k->name);
	keysvc_text(e->scopes, sizeof e->scopes, k->scopes);
	keysvc_text(e->meta, sizeof e->meta, k->meta);
	keysvc_text(e->owner, sizeof e->owner, k->owner);
}

/* The key a token belongs to, hash its HMAC under the keyring's current
   secret (*found 0: none, or a revoked one): the authentication cache,
   else the store, under the current secret and then the older ones (a key
   found under an older secret, and active, is re-hashed with the current one now; a
   concurrent request may have done it first, and a store that fails leaves
   it for the next use); an active key is cached. With
   client, a blocked address's token that the key filter rules out is
   KEYSVC_RATE_LIMITED without a lookup. check_crc: token has only
   token_shape's checks behind it, and its checksum is asked here when the
   cache misses (KEYSVC_BAD_TOKEN when wrong); a hit has a stored key's. */
/* The refresher: one aged entry read again. A key still active and
   unrevoked goes back into the cache (unless a forget came meanwhile: the
   epoch), one gone, revoked or inactive out of it; a store that fails
   leaves it, to age again, and past the grace a request asks the store
   itself (and answers its error). */
/* An active key's entry into the authentication cache, as if stored up to
   KEYSVC_CACHE_SPREAD earlier (by its HMAC); epoch taken before the store
   was read. */
static void keysvc_cache_key(keysvc *ks, const unsigned char hash[STORE_HASH_LEN], const keycache_entry *e,
                             uint64_t epoch, int64_t now)
{
	keycache_put(ks->cache, hash, e, epoch, keysvc_spread_time((time_t)now, hash[8] | hash[9] << 8, KEYSVC_CACHE_SPREAD(ks)));
}

/* The refresher: one aged list read again (the whole first page, as
   keysvc_list_each reads it; a longer list is not kept). */
static void keysvc_refresh_owner(keysvc *ks, const keysvc_refresh_job *j)
{
	uint64_t epoch = listcache_epoch(ks->lists, j->user);
	keysvc_key *v = NULL;
	size_t n = 0;

	if (store_key_page(ks->st, j->user, j->family, j->include_revoked, 0, KEYSVC_PAGE, &v, &n) == STORE_OK &&
	    n < KEYSVC_PAGE) {
		listcache_put(ks->lists, j->user, keysvc_slot(j->family), j->include_revoked, v, n, epoch,
		              keysvc_spread_time(time(NULL), j->user, KEYSVC_CACHE_SPREAD(ks)));
		__atomic_add_fetch(&ks->refreshes, 1, __ATOMIC_RELAXED);
	}
	free(v);
}

static void keysvc_refresh_one(keysvc *ks, const keysvc_refresh_job *j)
{
	unsigned char stored[STORE_HASH_LEN];
	uint64_t epoch;
	keycache_entry e;
	keysvc_key k;
	int rc;

	if (j->list) {
		keysvc_refresh_owner(ks, j);
		return;
	}
	epoch = keycache_epoch(ks->cache);
	rc = store_key_by_hash(ks->st, j->hash, &k, stored);
	if (rc == STORE_ERROR || rc == STORE_UNAVAILABLE)
		return;
	if (rc == STORE_OK && gnutls_memcmp(j->hash, stored, sizeof stored) == 0 && !k.revoked) {
		keysvc_entry_of(&k, &e);
		if (e.active) {
			keysvc_cache_key(ks, j->hash, &e, epoch, keysvc_now(ks));
			__atomic_add_fetch(&ks->refreshes, 1, __ATOMIC_RELAXED);
			return;
		}
	}
	keycache_forget(ks->cache, j->key_id);
}

static void *keysvc_refresh_main(void *arg)
{
	keysvc *ks = arg;

	pthread_setname_np(pthread_self(), "apikeyd-refresh");
	pthread_mutex_lock(&ks->rq_lock);
	for (;;) {
		while (ks->rq_n == 0 && !ks->rq_stop)
			pthread_cond_wait(&ks->rq_work, &ks->rq_lock);
		if (ks->rq_stop)   /* what waits ages out */
			break;
		keysvc_refresh_job j = ks->rq[ks->rq_head];
		ks->rq_head = (ks->rq_head + 1) % KEYSVC_REFRESH_QUEUE;
		ks->rq_n--;
		pthread_mutex_unlock(&ks->rq_lock);
		keysvc_refresh_one(ks, &j);
		pthread_mutex_lock(&ks->rq_lock);
	}
	pthread_mutex_unlock(&ks->rq_lock);
	return NULL;
}

/* An aged entry for the refresher (its thread started on the first). A
   full ring, or a thread that does not start, leaves the entry to age
   again: a later use asks once more, or, past the grace, reads the store. */
static void keysvc_refresh_queue(keysvc *ks, const keysvc_refresh_job *job)
{
	pthread_mutex_lock(&ks->rq_lock);
	if (!ks->rq_stop && ks->rq_n < KEYSVC_REFRESH_QUEUE) {
		if (!ks->rq_started && pthread_create(&ks->rq_thread, NULL, keysvc_refresh_main, ks) == 0)
			ks->rq_started = 1;
		if (ks->rq_started) {
			ks->rq[(ks->rq_head + ks->rq_n) % KEYSVC_REFRESH_QUEUE] = *job;
			if (ks->rq_n++ == 0)
				pthread_cond_signal(&ks->rq_work);
		}
	}
	pthread_mutex_unlock(&ks->rq_lock);
}

static void keysvc_refresh_list(keysvc *ks, int64_t user, int family, int include_revoked)
{
	keysvc_refresh_job j = { .list = 1, .user = user, .family = family, .include_revoked = include_revoked != 0 };

	keysvc_refresh_queue(ks, &j);
}

/* The refresher gone; what it had not read ages out. */
static void keysvc_refresh_stop(keysvc *ks)
{
	keysvc_thread_stop(&ks->rq_lock, &ks->rq_work, &ks->rq_stop, &ks->rq_started, &ks->rq_thread);
}

static int keysvc_find(keysvc *ks, const keyring *ring, const char *token, const unsigned char hash[STORE_HASH_LEN],
                       int64_t now, const char *client, unsigned *retry_after, keycache_entry *e, int *found,
                       int check_crc)
{
	unsigned char stored[STORE_HASH_LEN], older[STORE_HASH_LEN];
	const unsigned char *used = hash;
	keysvc_key k;
	uint64_t epoch;
	int rc;

	*found = 0;
	keysvc_other_writers(ks);
	/* a key that authenticated a moment ago and has not changed since (the
	   cache compares the whole HMAC in constant time); what can change
	   without a write (the expiry, the rate limit's window) is in the entry
	   and checked on every hit by keysvc_judge */
	int got = keycache_get_aged(ks->cache, hash, (time_t)now, KEYSVC_CACHE_GRACE(ks), KEYSVC_CACHE_HOLD(ks), e);
	if (got) {
		__atomic_add_fetch(&ks->stats.cache_hits, 1, __ATOMIC_RELAXED);
		*found = 1;
		if (got == 2) {   /* aged: the refresher reads it again */
			keysvc_refresh_job j = { .key_id = e->key_id };
			memcpy(j.hash, hash, STORE_HASH_LEN);
			keysvc_refresh_queue(ks, &j);
		}
		return KEYSVC_OK;
	}
	if (check_crc && !token_crc_ok(token))
		return KEYSVC_BAD_TOKEN;
	/* a blocked address's token that is surely no key (the filter of every
	   key's HMAC) is refused without a store lookup; a valid key, or one the
	   filter cannot rule out, goes on to the store */
	if (client && ratelimit_blocked(ks->rate, client, time(NULL), retry_after) &&
	    !keysvc_filter_maybe_any(ks, ring, token, hash, time(NULL)))
		return KEYSVC_RATE_LIMITED;
	epoch = keycache_epoch(ks->cache);
	__atomic_add_fetch(&ks->stats.hash_lookups, 1, __ATOMIC_RELAXED);
	/* the unique index finds the row by its hash; compare again in constant time */
	rc = store_key_by_hash(ks->st, hash, &k, stored);
	if (rc == STORE_NOT_FOUND && ring->n > 1) {
		rc = keysvc_by_older_hash(ks, ring, token, &k, stored, older);
		used = older;
	}
	if (rc == STORE_ERROR || rc == STORE_UNAVAILABLE)
		return keysvc_from_store(rc);   /* unverifiable is not invalid: never REJECTED, not counted */
	if (rc != STORE_OK || gnutls_memcmp(used, stored, sizeof stored) != 0 || k.revoked)
		return KEYSVC_OK;
	if (used == older && k.active && store_key_rehash(ks->st, k.id, older, hash, keyring_current(ring)->id) == STORE_OK)
		keysvc_filter_add(ks, hash);
	keysvc_entry_of(&k, e);
	if (e->active)
		keysvc_cache_key(ks, hash, e, epoch, now);
	*found = 1;
	return KEYSVC_OK;
}

/* 1 when the space-separated list have holds every scope of need. */
static int keysvc_scopes_hold(const char *have, const char *need)
{
	const char *p = need;

	while (p && *p) {
		size_t n;
		int held = 0;
		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n == 0)
			break;
		for (const char *h = have; *h;) {
			size_t m = strcspn(h, " ");
			if (m == n && memcmp(h, p, n) == 0) {
				held = 1;
				break;
			}
			h += m;
			while (*h == ' ')
				h++;
		}
		if (!held)
			return 0;
		p += n;
	}
	return 1;
}

/* Zeroes what keysvc_judge and its callers read of v, and not v's key,
   whose 6.5 KiB of texts the callers fill as far as they show it: a memset
   of the whole verdict wrote 105 cache lines of each authenticated
   request, over a quarter of its first-level write misses outside
   libmicrohttpd's own memset (callgrind --cache-sim, bench-perf (b)). */
static void keysvc_verdict_clear(keysvc_verdict *v)
{
	v->code = 0;
	v->has_ratelimit = 0;
	v->rl_limit = v->rl_remaining = v->rl_reset = 0;
	v->retry_after = 0;
	v->key.has_remaining = 0;
	v->key.remaining = 0;
}

/* The key's attributes at now, in Unkey's order: disabled, expired,
   scopes, rate limit, uses. Only a use that passed every other check
   counts against the limit and the uses (the rate limit first: a request
   refused by it uses nothing up). */
static int keysvc_judge(keysvc *ks, const keycache_entry *e, int64_t now, const char *need, keysvc_verdict *v)
{
	int64_t left;
	int rc;

	v->has_ratelimit = e->rl_limit > 0 && e->rl_window > 0;
	v->rl_limit = e->rl_limit;
	if (!e->active) {
		v->code = KEYSVC_CODE_DISABLED;
		return KEYSVC_OK;
	}
	if (e->expires_at > 0 && now >= e->expires_at) {
		v->code = KEYSVC_CODE_EXPIRED;
		return KEYSVC_OK;
	}
	if (need && !keysvc_scopes_hold(e->scopes, need)) {
		v->code = KEYSVC_CODE_INSUFFICIENT_SCOPES;
		return KEYSVC_OK;
	}
	if (v->has_ratelimit &&
	    !keylimit_take(ks->limits, e->key_id, e->rl_limit, e->rl_window, now, &v->rl_remaining, &v->rl_reset)) {
		v->code = KEYSVC_CODE_RATE_LIMITED;
		v->retry_after = v->rl_reset - now > 0 ? (unsigned)(v->rl_reset - now) : 1;
		return KEYSVC_OK;
	}
	if (e->counted) {
		rc = store_key_use(ks->st, e->key_id, &left);
		if (rc == STORE_QUOTA) {
			v->key.has_remaining = 1;
			v->key.remaining = 0;
			v->code = KEYSVC_CODE_USAGE_EXCEEDED;
			return KEYSVC_OK;
		}
		if (rc != STORE_OK)
			return keysvc_from_store(rc);
		v->key.has_remaining = 1;
		v->key.remaining = left;
		listcache_forget_user(ks->lists, e->user_id);   /* lists show what is left */
	}
	v->code = KEYSVC_CODE_VALID;
	return KEYSVC_OK;
}

int keysvc_authenticate(keysvc *ks, const char *token, const char *client, keysvc_principal *out,
                        unsigned *retry_after)
{
	unsigned char hash[STORE_HASH_LEN];
	const keyring *ring;
	keycache_entry e;
	keysvc_verdict v;
	int64_t now;
	int rc, found;

	if (!token_shape(token)) {
		__atomic_add_fetch(&ks->stats.bad_tokens, 1, __ATOMIC_RELAXED);
		return keysvc_failed(ks, client, KEYSVC_BAD_TOKEN, retry_after);
	}
	ring = keysvc_ring_now(ks);
	if (keysvc_hash(ring, keyring_current(ring), token, hash) != 0)
		return KEYSVC_STORE;
	now = keysvc_now(ks);
	rc = keysvc_find(ks, ring, token, hash, now, client, retry_after, &e, &found, 1);
	if (rc == KEYSVC_BAD_TOKEN) {   /* its checksum, asked on a cache miss */
		__atomic_add_fetch(&ks->stats.bad_tokens, 1, __ATOMIC_RELAXED);
		return keysvc_failed(ks, client, KEYSVC_BAD_TOKEN, retry_after);
	}
	if (rc != KEYSVC_OK)
		return rc;
	if (!found)
		return keysvc_failed(ks, client, KEYSVC_REJECTED, retry_after);
	/* what this request reads next, asked for now, while the judging runs:
	   the key's last_used slot, and its owner's group in the list cache (an
	   API request mostly lists or changes the owner's keys); with 10,000
	   keys each was a miss of its own (bench-perf (b)) */
	__builtin_prefetch(&ks->touch[(uint64_t)e.key_id % KEYSVC_TOUCH_SLOTS], 0, 3);
	listcache_prefetch(ks->lists, e.user_id);
	keysvc_verdict_clear(&v);
	if ((rc = keysvc_judge(ks, &e, now, NULL, &v)) != KEYSVC_OK)
		return rc;
	if (v.code == KEYSVC_CODE_RATE_LIMITED) {   /* the key's own limit: not a failure */
		*retry_after = v.retry_after;
		return KEYSVC_RATE_LIMITED;
	}
	if (v.code != KEYSVC_CODE_VALID)
		return keysvc_failed(ks, client, KEYSVC_REJECTED, retry_after);
	memset(out, 0, sizeof *out);
	out->user_id = e.user_id;
	out->key_id = e.key_id;
	memcpy(out->key_uuid, e.key_uuid, sizeof out->key_uuid);
	out->role_rights = keysvc_role_rights(e.role);
	keysvc_touch_key(ks, e.user_id, e.key_id);
	return KEYSVC_OK;
}

int keysvc_is_jwt(const char *bearer)
{
	const char *d1 = strchr(bearer, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;

	return d2 && !strchr(d2 + 1, '.') && !token_prefix_of(bearer);
}

/* ---- JSON web tokens: one token ---- */

/* Decodes one segment of unpadded base64url (RFC 7515 2) into JSON: an
   object, no member twice (rhonabwy's parser keeps the last one, so a
   duplicate could mean one thing here and another there). Bits past the
   last whole byte must be zero, so one text has one reading. NULL with
   why on anything else. */
static json_t *keysvc_jwt_segment(const char *s, size_t n, const char *what, char *why, size_t whylen)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char *bytes = NULL;
	size_t len = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	json_t *j = NULL;

	if (n == 0 || n % 4 == 1) {
		snprintf(why, whylen, "the %s are not base64url", what);
		return NULL;
	}
	bytes = malloc(n);
	if (!bytes) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = memchr(alphabet, s[i], 64);
		if (!p) {
			snprintf(why, whylen, "the %s are not base64url", what);
			goto cleanup;
		}
		acc = (acc << 6) | (uint32_t)(p - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			bytes[len++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) {
		snprintf(why, whylen, "the %s have stray bits past their last byte", what);
		goto cleanup;
	}
	j = json_loadb((const char *)bytes, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		j = NULL;
		snprintf(why, whylen, "the %s are not a JSON object, or name a member twice", what);
	}
cleanup:
	free(bytes);
	return j;
}

/* Splits a compact JWS into its decoded header and claims (new). */
static int keysvc_jwt_split(const char *t, size_t len, json_t **header, json_t **claims, char *why, size_t whylen)
{
	const char *d1 = memchr(t, '.', len);
	const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - t)) : NULL;

	if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - t)) || d2 + 1 == t + len) {
		snprintf(why, whylen, "not a signed compact JWS (three non-empty base64url parts)");
		return -1;
	}
	*header = keysvc_jwt_segment(t, (size_t)(d1 - t), "header bytes", why, whylen);
	if (!*header)
		return -1;
	*claims = keysvc_jwt_segment(d1 + 1, (size_t)(d2 - d1 - 1), "claims", why, whylen);
	return *claims ? 0 : -1;
}

/* The header, before anything parses the token: keys come from the
   configuration only, never from the token (no URL fetched, no file opened,
   no embedded key trusted); nothing rhonabwy would inflate or nest; no
   extension (crit) we would have to understand; an alg the configured keys
   imply. *alg and *kid (borrowed from header, or NULL) on success. */
static int keysvc_jwt_check_header(const keysvc_jwt_set *j, json_t *header, jwa_alg *alg, const char **kid, char *why, size_t whylen)
{
	static const char *const key_members[] = { "jku", "x5u", "jwk", "x5c" };
	json_t *a = json_object_get(header, "alg"), *k = json_object_get(header, "kid");
	const char *cty = json_string_value(json_object_get(header, "cty"));

	for (size_t i = 0; i < sizeof key_members / sizeof key_members[0]; i++)
		if (json_object_get(header, key_members[i])) {
			snprintf(why, whylen, "the header carries %s: keys come only from --jwt-key", key_members[i]);
			return -1;
		}
	if (json_object_get(header, "crit")) {
		snprintf(why, whylen, "the header has crit: apikeyd understands no JWS extension (RFC 7515 4.1.11)");
		return -1;
	}
	if (json_object_get(header, "zip") || json_object_get(header, "enc")) {
		snprintf(why, whylen, "the header has %s: a JWS is neither compressed nor encrypted",
		         json_object_get(header, "zip") ? "zip" : "enc");
		return -1;
	}
	if (cty && strcasecmp(cty, "JWT") == 0) {
		snprintf(why, whylen, "the header has cty JWT: nested tokens are refused");
		return -1;
	}
	if (k && !json_is_string(k)) {
		snprintf(why, whylen, "kid is not a string");
		return -1;
	}
	*alg = keysvc_jwt_alg(json_string_value(a));
	if (*alg == R_JWA_ALG_UNKNOWN || !(j->jwt_algs & KEYSVC_ALG(*alg))) {
		if (!json_is_string(a))
			snprintf(why, whylen, "alg is missing or not a string");
		else {
			/* the value goes to the log: at most 16 characters, control and
			   other bytes shown as ? */
			char shown[17];
			size_t n = 0;
			for (const char *c = json_string_value(a); *c && n < sizeof shown - 1; c++)
				shown[n++] = (*c >= 0x21 && *c <= 0x7e && *c != '"') ? *c : '?';
			shown[n] = '\0';
			snprintf(why, whylen, "alg \"%s\"%s is not one the configured key implies", shown,
			         strlen(json_string_value(a)) > n ? "..." : "");
		}
		return -1;
	}
	*kid = json_string_value(k);
	return 0;
}

/* The signature: by the key whose kid the token names, when one does,
   else by any configured key; only keys that imply the token's alg. */
static int keysvc_jwt_verified(const keysvc_jwt_set *j, jwt_t *jwt, jwa_alg alg, const char *kid)
{
	int named = 0;

	for (size_t i = 0; kid && i < j->n_jwt_keys; i++)
		if (keysvc_streq(r_jwk_get_property_str(j->jwt_keys[i], "kid"), kid)) {
			named = 1;
			if ((j->jwt_key_algs[i] & KEYSVC_ALG(alg)) &&
			    r_jwt_verify_signature(jwt, j->jwt_keys[i], R_FLAG_IGNORE_REMOTE) == RHN_OK)
				return 1;
		}
	for (size_t i = 0; !named && i < j->n_jwt_keys; i++)
		if ((j->jwt_key_algs[i] & KEYSVC_ALG(alg)) &&
		    r_jwt_verify_signature(jwt, j->jwt_keys[i], R_FLAG_IGNORE_REMOTE) == RHN_OK)
			return 1;
	return 0;
}

/* A NumericDate claim: absent (*present 0) or a whole number of seconds
   from 0 to the end of year 9999. */
static int keysvc_jwt_date(json_t *claims, const char *name, int64_t *out, int *present, char *why, size_t whylen)
{
	json_t *v = json_object_get(claims, name);

	*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > KEYSVC_JWT_DATE_MAX) {
		snprintf(why, whylen, "%s is not a whole number of seconds from 0 to %lld", name, (long long)KEYSVC_JWT_DATE_MAX);
		return -1;
	}
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/* The claims of a verified token, at time now. */
static int keysvc_jwt_check_claims(const keysvc_jwt_set *j, json_t *claims, int64_t now, char *why, size_t whylen)
{
	int64_t exp = 0, nbf = 0, iat = 0, leeway = j->jwt_leeway;
	int has_exp, has_nbf, has_iat;
	json_t *aud;

	if (keysvc_jwt_date(claims, "exp", &exp, &has_exp, why, whylen) != 0 ||
	    keysvc_jwt_date(claims, "nbf", &nbf, &has_nbf, why, whylen) != 0 ||
	    keysvc_jwt_date(claims, "iat", &iat, &has_iat, why, whylen) != 0)
		return -1;
	if (!has_exp) {
		snprintf(why, whylen, "no exp");
		return -1;
	}
	if (now >= exp + leeway) {
		snprintf(why, whylen, "expired %lld s ago (leeway %lld s)", (long long)(now - exp), (long long)leeway);
		return -1;
	}
	if (has_nbf && nbf > now + leeway) {
		snprintf(why, whylen, "nbf is %lld s ahead (leeway %lld s)", (long long)(nbf - now), (long long)leeway);
		return -1;
	}
	if (has_iat && iat > now + leeway) {
		snprintf(why, whylen, "iat is %lld s in the future (leeway %lld s)", (long long)(iat - now), (long long)leeway);
		return -1;
	}
	if (has_iat && exp < iat) {
		snprintf(why, whylen, "exp is before iat");
		return -1;
	}
	if (j->jwt_max_lifetime) {
		if (!has_iat) {
			snprintf(why, whylen, "no iat, so its lifetime cannot be bounded (maximum lifetime %u s)", j->jwt_max_lifetime);
			return -1;
		}
		if (exp - iat > (int64_t)j->jwt_max_lifetime) {
			snprintf(why, whylen, "lifetime exp - iat of %lld s is over the maximum lifetime %u s",
			         (long long)(exp - iat), j->jwt_max_lifetime);
			return -1;
		}
	}
	if (j->jwt_iss && !keysvc_streq(json_string_value(json_object_get(claims, "iss")), j->jwt_iss)) {
		snprintf(why, whylen, "iss is missing or not the configured issuer");
		return -1;
	}
	if (j->jwt_aud) {
		int ours = keysvc_streq(json_string_value(aud = json_object_get(claims, "aud")), j->jwt_aud);
		size_t i;
		json_t *v;
		json_array_foreach(aud, i, v) {
			if (!json_is_string(v)) {
				snprintf(why, whylen, "aud holds a member that is not a string");
				return -1;
			}
			ours |= keysvc_streq(json_string_value(v), j->jwt_aud);
		}
		if (!ours) {
			snprintf(why, whylen, "aud is missing or does not hold the configured audience");
			return -1;
		}
	}
	if (!json_is_string(json_object_get(claims, "sub"))) {
		snprintf(why, whylen, "sub is missing or not a string");
		return -1;
	}
	return 0;
}

int keysvc_authenticate_jwt(keysvc *ks, const char *jwt_text, const char *client, keysvc_principal *out,
                            unsigned *retry_after)
{
	jwt_t *jwt = NULL;
	json_t *header = NULL, *claims = NULL;
	int rc = KEYSVC_REJECTED;
	const char *kid = NULL;
	char why[200] = "";
	jwa_alg alg = R_JWA_ALG_UNKNOWN;
	size_t len;
	int64_t user;
	const keysvc_jwt_set *j = __atomic_load_n(&ks->jwt, __ATOMIC_ACQUIRE);   /* the set in force now */

	if (!j || !j->jwks)
		return KEYSVC_NO_JWT;
	/* everything about the token is checked here, before rhonabwy sees it */
	len = strnlen(jwt_text, KEYSVC_JWT_MAX_LEN + 1);
	if (len > KEYSVC_JWT_MAX_LEN) {
		snprintf(why, sizeof why, "longer than %d bytes", KEYSVC_JWT_MAX_LEN);
		goto cleanup;
	}
	if (keysvc_jwt_split(jwt_text, len, &header, &claims, why, sizeof why) != 0)
		goto cleanup;
	if (keysvc_jwt_check_header(j, header, &alg, &kid, why, sizeof why) != 0)
		goto cleanup;
	if (r_jwt_init(&jwt) != RHN_OK) {
		rc = KEYSVC_STORE;
		goto cleanup;
	}
	/* no header processed (R_PARSE_NONE: no jku, x5u, jwk, x5c, unsigned
	   refused) and nothing remote, should a key ever name an x5u */
	if (r_jwt_advanced_parsen(jwt, jwt_text, len, R_PARSE_NONE, R_FLAG_IGNORE_REMOTE) != RHN_OK ||
	    r_jwt_get_type(jwt) != R_JWT_TYPE_SIGN || r_jwt_get_sign_alg(jwt) != alg) {
		snprintf(why, sizeof why, "rhonabwy cannot parse it as a signed JWT");
		goto cleanup;
	}
	if (!keysvc_jwt_verified(j, jwt, alg, kid)) {
		snprintf(why, sizeof why, "the signature does not verify with the configured key%s", kid ? " of its kid" : "");
		goto cleanup;
	}
	/* the claims as signed: our decoding of the same bytes (no duplicates) */
	if (keysvc_jwt_check_claims(j, claims, (int64_t)time(NULL), why, sizeof why) != 0)
		goto cleanup;
	{
		int r = store_user_find(ks->st, json_string_value(json_object_get(claims, "sub")), &user);
		if (r == STORE_ERROR || r == STORE_UNAVAILABLE) {
			rc = keysvc_from_store(r);   /* unverifiable, not refused: not counted */
			goto cleanup;
		}
		if (r != STORE_OK) {
			snprintf(why, sizeof why, "sub names no user");
			goto cleanup;
		}
	}
	memset(out, 0, sizeof *out);
	out->user_id = user;
	rc = KEYSVC_OK;
cleanup:
	if (rc == KEYSVC_REJECTED) {
		y_log_message(Y_LOG_LEVEL_INFO, "JWT refused (client %s): %s", client ? client : "-", why);
		rc = keysvc_failed(ks, client, rc, retry_after);
	}
	json_decref(header);
	json_decref(claims);
	r_jwt_free(jwt);
	return rc;
}

const char *keysvc_store_backend(const keysvc *ks)
{
	return store_backend_name(ks->st);
}

int keysvc_store_epochs(keysvc *ks, int64_t *seen, int64_t *current)
{
	return keysvc_from_store(store_epochs(ks->st, seen, current));
}

int keysvc_user_find(keysvc *ks, const char *name, int64_t *user)
{
	int rc = store_user_find(ks->st, name, user);

	return rc == STORE_NOT_FOUND ? KEYSVC_NO_USER : keysvc_from_store(rc);
}

/* ---- operating: the CLI ---- */

int keysvc_user_list(keysvc *ks, store_user **out, size_t *n)
{
	return keysvc_from_store(store_user_list(ks->st, out, n));
}

#define KEYSVC_AUDIT_PAGE 256

int keysvc_audit_each(keysvc *ks, int64_t since, keysvc_audit_fn fn, void *ctx)
{
	store_audit *page = NULL;
	int64_t after = 0;
	size_t n = 0;
	int rc = KEYSVC_OK;

	do {
		rc = keysvc_from_store(store_audit_list(ks->st, since, after, KEYSVC_AUDIT_PAGE, &page, &n));
		for (size_t i = 0; rc == KEYSVC_OK && i < n; i++) {
			after = page[i].id;
			if (fn(ctx, &page[i]) != 0)
				rc = KEYSVC_INVALID;
		}
		free(page);
		page = NULL;
	} while (rc == KEYSVC_OK && n == KEYSVC_AUDIT_PAGE);
	return rc;
}

const char *keysvc_secret_path(const keysvc *ks)
{
	return ks->secret_path;
}

int keysvc_secret_list(keysvc *ks, keysvc_secret_info **out, size_t *n)
{
	const keyring *ring = keysvc_ring_now(ks);
	store_secret_count *c = NULL;
	keysvc_secret_info *v = NULL;
	size_t nc = 0, cnt = 0;
	int rc = keysvc_from_store(store_secret_counts(ks->st, &c, &nc));

	*out = NULL;
	*n = 0;
	if (rc != KEYSVC_OK)
		return rc;
	if (!(v = calloc(ring->n + nc, sizeof *v))) {
		free(c);
		return KEYSVC_STORE;
	}
	for (size_t i = 0; i < ring->n; i++) {
		v[cnt].id = ring->s[i].id;
		v[cnt].added = ring->s[i].added;
		v[cnt].current = i + 1 == ring->n;
		for (size_t j = 0; j < nc; j++)
			if (c[j].secret_id == ring->s[i].id)
				v[cnt].keys = c[j].keys;
		cnt++;
	}
	for (size_t j = 0; j < nc; j++) {
		if (keyring_find(ring, c[j].secret_id))
			continue;
		v[cnt].id = c[j].secret_id;
		v[cnt].missing = 1;
		v[cnt].keys = c[j].keys;
		cnt++;
	}
	free(c);
	*out = v;
	*n = cnt;
	return KEYSVC_OK;
}

int keysvc_secret_rotate(keysvc *ks, int64_t *id)
{
	keyring ring;
	char err[600], want[2 * STORE_HASH_LEN + 1], name[40];
	int fd, rc = KEYSVC_STORE;

	if (!ks->secret_path)
		return KEYSVC_UNSUPPORTED;
	if ((fd = keyring_lock(ks->secret_path, err, sizeof err)) < 0) {
		keysvc_log(ks, STORE_LOG_ERROR, err);
		return KEYSVC_STORE;
	}
	/* the file as it is now (another process may have rotated since this one read it) */
	if ((rc = keyring_load(ks->secret_path, &ring, err, sizeof err)) != 0 ||
	    keyring_add(&ring, (int64_t)time(NULL), err, sizeof err) != 0) {
		keysvc_log(ks, STORE_LOG_ERROR, rc > 0 ? "the keyring file is gone" : err);
		rc = KEYSVC_STORE;
		goto cleanup;
	}
	/* the check value first: a process that sees the new file finds it */
	keysvc_check_name(keyring_current(&ring)->id, name, sizeof name);
	if (keysvc_check_value(keyring_current(&ring), want) != 0 ||
	    (rc = keysvc_from_store(store_meta_set(ks->st, name, want))) != KEYSVC_OK)
		goto cleanup;
	if (keyring_save(ks->secret_path, &ring, err, sizeof err) != 0) {
		keysvc_log(ks, STORE_LOG_ERROR, err);
		rc = KEYSVC_STORE;
		goto cleanup;
	}
	*id = keyring_current(&ring)->id;
	rc = KEYSVC_OK;
cleanup:
	keyring_unlock(fd);
	keyring_wipe(&ring);
	if (rc == KEYSVC_OK)
		keysvc_ring_reload(ks, time(NULL), 1);
	return rc;
}

int keysvc_secret_retire(keysvc *ks, int64_t id, int64_t *still)
{
	keyring ring;
	store_secret_count *c = NULL;
	size_t nc = 0;
	char err[600];
	int fd, rc;

	*still = 0;
	if (!ks->secret_path)
		return KEYSVC_UNSUPPORTED;
	if ((fd = keyring_lock(ks->secret_path, err, sizeof err)) < 0) {
		keysvc_log(ks, STORE_LOG_ERROR, err);
		return KEYSVC_STORE;
	}
	if ((rc = keyring_load(ks->secret_path, &ring, err, sizeof err)) != 0) {
		keysvc_log(ks, STORE_LOG_ERROR, rc > 0 ? "the keyring file is gone" : err);
		rc = KEYSVC_STORE;
		goto cleanup;
	}
	rc = !keyring_find(&ring, id) ? KEYSVC_NO_SECRET : keyring_current(&ring)->id == id ? KEYSVC_SECRET_CURRENT : KEYSVC_OK;
	if (rc == KEYSVC_OK)
		rc = keysvc_from_store(store_secret_counts(ks->st, &c, &nc));
	for (size_t i = 0; rc == KEYSVC_OK && i < nc; i++)
		if (c[i].secret_id == id && c[i].keys > 0) {
			*still = c[i].keys;
			rc = KEYSVC_SECRET_IN_USE;
		}
	for (size_t i = 0; rc == KEYSVC_OK && i + 1 < ring.n; i++)
		if (ring.s[i].id == id && time(NULL) - ring.s[i + 1].added < KEYSVC_RETIRE_SETTLE)
			rc = KEYSVC_SECRET_IN_USE;   /* its successor is too new: creates may still use it */
	if (rc == KEYSVC_OK && (keyring_remove(&ring, id) != 0 || keyring_save(ks->secret_path, &ring, err, sizeof err) != 0)) {
		keysvc_log(ks, STORE_LOG_ERROR, err);
		rc = KEYSVC_STORE;
	}
cleanup:
	free(c);
	keyring_unlock(fd);
	keyring_wipe(&ring);
	if (rc == KEYSVC_OK)
		keysvc_ring_reload(ks, time(NULL), 1);
	return rc;
}

int keysvc_backup(keysvc *ks, const char *path, char *why, size_t len)
{
	int rc = store_backup(ks->st, path, why, len);

	return rc == STORE_NOT_FOUND ? KEYSVC_UNSUPPORTED : keysvc_from_store(rc);
}

int keysvc_restore(keysvc *ks, const char *path, char *why, size_t len)
{
	int rc = store_restore(ks->st, path, why, len);

	keycache_forget_all(ks->cache);
	listcache_forget_all(ks->lists);
	return rc == STORE_NOT_FOUND ? KEYSVC_UNSUPPORTED : keysvc_from_store(rc);
}

/* ---- the apikeyd API: key attributes and verification ---- */

int64_t keysvc_now(keysvc *ks)
{
	int64_t at = __atomic_load_n(&ks->clock_at, __ATOMIC_RELAXED);

	return at > 0 ? at : (int64_t)time(NULL) + __atomic_load_n(&ks->clock_offset, __ATOMIC_RELAXED);
}

void keysvc_clock_set(keysvc *ks, int64_t offset, int64_t at)
{
	__atomic_store_n(&ks->clock_offset, offset, __ATOMIC_RELAXED);
	__atomic_store_n(&ks->clock_at, at > 0 ? at : 0, __ATOMIC_RELAXED);
	keycache_forget_all(ks->cache);   /* entries were stored at the old time */
}

#define KEYSVC_CODE_NAME(name) #name,
static const char *const keysvc_code_names[] = { KEYSVC_CODE_MAP(KEYSVC_CODE_NAME) };
#undef KEYSVC_CODE_NAME

const char *keysvc_code_name(int code)
{
	return code >= 0 && code < KEYSVC_NCODES ? keysvc_code_names[code] : "NOT_FOUND";
}

static unsigned keysvc_scope_bit(const char *scope, size_t n)
{
	return n == strlen(KEYSVC_SCOPE_READ) && memcmp(scope, KEYSVC_SCOPE_READ, n) == 0 ? KEYSVC_HOLDS_READ
	     : n == strlen(KEYSVC_SCOPE_WRITE) && memcmp(scope, KEYSVC_SCOPE_WRITE, n) == 0 ? KEYSVC_HOLDS_WRITE
	     : n == strlen(KEYSVC_SCOPE_VERIFY) && memcmp(scope, KEYSVC_SCOPE_VERIFY, n) == 0 ? KEYSVC_HOLDS_VERIFY : 0;
}

/* The apikeyd-API scopes a list of scopes gives (keys:write implies keys:read). */
static unsigned keysvc_scopes_mask(const char *scopes)
{
	unsigned m = 0;

	for (const char *p = scopes; *p;) {
		size_t n = strcspn(p, " ");
		m |= keysvc_scope_bit(p, n);
		p += n;
		while (*p == ' ')
			p++;
	}
	return m & KEYSVC_HOLDS_WRITE ? m | KEYSVC_HOLDS_READ : m;
}

/* What a key holds on the apikeyd API: its scopes (the apikeyd family),
   else its family rights (a write key all, a read key keys:read). */
static unsigned keysvc_key_mask(const keysvc_key *k)
{
	int rights;

	if (!k->active || k->revoked)
		return 0;
	if (k->family == KEYSVC_APIKEYD)
		return keysvc_scopes_mask(k->scopes);
	rights = keysvc_role_rights(k->role);
	return rights >= KEYSVC_RIGHTS_WRITE ? KEYSVC_HOLDS_READ | KEYSVC_HOLDS_WRITE | KEYSVC_HOLDS_VERIFY
	     : rights == KEYSVC_RIGHTS_READ ? KEYSVC_HOLDS_READ : 0;
}

/* The caller's mask: a JWT holds everything; a key, what keysvc_key_mask
   says, from the holds table while the authentication cache has forgotten
   nothing since it was read. */
static int keysvc_caller_mask(keysvc *ks, const keysvc_principal *caller, unsigned *mask)
{
	keysvc_holds *h;
	pthread_mutex_t *lock;
	keysvc_key k;
	int64_t now = (int64_t)time(NULL);
	uint64_t epoch;
	size_t slot;
	int rc, hit = 0;

	*mask = 0;
	if (!caller || caller->user_id <= 0)
		return KEYSVC_OK;
	if (caller->key_id == 0) {
		*mask = KEYSVC_HOLDS_READ | KEYSVC_HOLDS_WRITE | KEYSVC_HOLDS_VERIFY;
		return KEYSVC_OK;
	}
	keysvc_other_writers(ks);
	slot = (size_t)((uint64_t)caller->key_id % KEYSVC_SCOPE_SLOTS);
	h = &ks->holds[slot];
	lock = &ks->holds_lock[slot % KEYSVC_SCOPE_STRIPES];
	epoch = keycache_epoch(ks->cache);
	/* read without the lock (a sequence lock: the writer makes seq odd,
	   writes, makes it even again; a read that saw seq change retries), as
	   every verify asks for its caller's mask and the callers are few */
	for (;;) {
		uint32_t s1 = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE), s2;
		int64_t id, at;
		uint64_t ep;
		unsigned m;
		if (s1 & 1u)
			continue;
		id = __atomic_load_n(&h->key_id, __ATOMIC_RELAXED);
		ep = __atomic_load_n(&h->epoch, __ATOMIC_RELAXED);
		at = __atomic_load_n(&h->read_at, __ATOMIC_RELAXED);
		m = __atomic_load_n(&h->mask, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);
		if (s1 != s2)
			continue;
		if (id == caller->key_id && ep == epoch && now >= at && now - at < (int64_t)ks->ttl) {
			*mask = m;
			hit = 1;
		}
		break;
	}
	if (hit)
		return KEYSVC_OK;
	rc = store_key_get_id(ks->st, caller->user_id, -1, caller->key_id, &k);
	if (rc == STORE_NOT_FOUND)
		return KEYSVC_OK;
	if (rc != STORE_OK)
		return keysvc_from_store(rc);
	*mask = keysvc_key_mask(&k);
	pthread_mutex_lock(lock);
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&h->key_id, caller->key_id, __ATOMIC_RELAXED);
	__atomic_store_n(&h->epoch, epoch, __ATOMIC_RELAXED);
	__atomic_store_n(&h->read_at, now, __ATOMIC_RELAXED);
	__atomic_store_n(&h->mask, *mask, __ATOMIC_RELAXED);
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(lock);
	return KEYSVC_OK;
}

int keysvc_scope_check(keysvc *ks, const keysvc_principal *caller, const char *scope)
{
	unsigned need = scope ? keysvc_scope_bit(scope, strlen(scope)) : 0, mask;
	int rc;

	if (!need)
		return KEYSVC_FORBIDDEN;
	rc = keysvc_caller_mask(ks, caller, &mask);
	return rc != KEYSVC_OK ? rc : (mask & need) == need ? KEYSVC_OK : KEYSVC_FORBIDDEN;
}

/* A list of scopes as the rules say (keysvc.h): *mask gets its apikeyd-API
   scopes. Duplicates are refused. */
static int keysvc_scopes_valid(const char *scopes, unsigned *mask)
{
	static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:._-*/";
	size_t count = 0;

	if (strlen(scopes) >= STORE_SCOPES_LEN)
		return 0;
	for (const char *p = scopes; *p;) {
		size_t n = strcspn(p, " ");
		if (n == 0 || n > KEYSVC_SCOPE_CHARS || strspn(p, allowed) < n || ++count > KEYSVC_SCOPES_MAX)
			return 0;
		if (n > 5 && memcmp(p, "keys:", 5) == 0 && !keysvc_scope_bit(p, n))
			return 0;   /* the keys: scopes are apikeyd's own */
		for (const char *q = scopes; q < p;) {
			size_t m = strcspn(q, " ");
			if (m == n && memcmp(q, p, n) == 0)
				return 0;
			q += m + 1;
		}
		p += n;
		if (*p == ' ' && *++p == '\0')
			return 0;   /* a trailing space */
	}
	*mask = keysvc_scopes_mask(scopes);
	return 1;
}

/* The attributes of in that fields names, checked and normalized into out
   (name and owner in NFC); *mask: the apikeyd-API scopes they give. */
static int keysvc_attrs_check(const keysvc_key *in, unsigned fields, keysvc_key *out, unsigned *mask)
{
	*mask = 0;
	if ((fields & STORE_SET_NAME) && keysvc_name(in->name, out->name, sizeof out->name) != KEYSVC_OK)
		return KEYSVC_INVALID;
	if ((fields & STORE_SET_OWNER) && in->owner[0] &&
	    keyname_nfc(in->owner, out->owner, sizeof out->owner, KEYSVC_OWNER_CHARS) != 0)
		return KEYSVC_INVALID;
	if ((fields & STORE_SET_OWNER) && !in->owner[0])
		out->owner[0] = '\0';
	if (fields & STORE_SET_SCOPES) {
		if (!keysvc_scopes_valid(in->scopes, mask))
			return KEYSVC_INVALID;
		snprintf(out->scopes, sizeof out->scopes, "%s", in->scopes);
		snprintf(out->role, sizeof out->role, "%s", *mask & KEYSVC_HOLDS_WRITE ? "write"
		                                           : *mask & KEYSVC_HOLDS_READ ? "read" : "none");
	}
	if (fields & STORE_SET_META) {
		json_t *j = in->meta[0] ? json_loads(in->meta, JSON_REJECT_DUPLICATES, NULL) : NULL;
		int ok = !in->meta[0] || (json_is_object(j) && strlen(in->meta) <= KEYSVC_META_MAX);
		json_decref(j);
		if (!ok)
			return KEYSVC_INVALID;
		snprintf(out->meta, sizeof out->meta, "%s", in->meta);
	}
	if (fields & STORE_SET_ACTIVE)
		out->active = in->active ? 1 : 0;
	if (fields & STORE_SET_EXPIRES) {
		if (in->expires_at < 0)
			return KEYSVC_INVALID;
		out->expires_at = in->expires_at;
	}
	if (fields & STORE_SET_REMAINING) {
		if (in->has_remaining && in->remaining < 0)
			return KEYSVC_INVALID;
		out->has_remaining = in->has_remaining;
		out->remaining = in->has_remaining ? in->remaining : 0;
	}
	if (fields & STORE_SET_RATELIMIT) {
		if (in->rl_limit < 0 || in->rl_window < 0 || (in->rl_limit > 0) != (in->rl_window > 0))
			return KEYSVC_INVALID;
		out->rl_limit = in->rl_limit;
		out->rl_window = in->rl_window;
	}
	return KEYSVC_OK;
}

#define KEYSVC_ALL_ATTRS (STORE_SET_NAME | STORE_SET_SCOPES | STORE_SET_META | STORE_SET_ACTIVE | STORE_SET_EXPIRES | \
                          STORE_SET_REMAINING | STORE_SET_RATELIMIT | STORE_SET_OWNER)

int keysvc_key_create(keysvc *ks, const keysvc_principal *caller, const keysvc_key *in, const char *client,
                      keysvc_key *out, char *token, size_t toklen)
{
	keysvc_key *a = calloc(1, sizeof *a);
	unsigned have, want;
	int rc;

	if (!a)
		return KEYSVC_STORE;
	if ((rc = keysvc_caller_mask(ks, caller, &have)) != KEYSVC_OK)
		goto cleanup;
	rc = KEYSVC_FORBIDDEN;
	if (!(have & KEYSVC_HOLDS_WRITE))
		goto cleanup;
	if ((rc = keysvc_attrs_check(in, KEYSVC_ALL_ATTRS, a, &want)) != KEYSVC_OK)
		goto cleanup;
	rc = KEYSVC_FORBIDDEN;
	if ((want & have) != want)
		goto cleanup;   /* never more than the caller's own */
	/* a disabled key is inserted disabled: a second write that failed left
	   an enabled key behind an answer that said the create failed */
	rc = keysvc_insert(ks, caller->user_id, caller->key_id, KEYSVC_APIKEYD, a->name, NULL, a->role, a, client, out,
	                   token, toklen);
cleanup:
	free(a);
	return rc;
}

int keysvc_key_update(keysvc *ks, const keysvc_principal *caller, int64_t key_id, const keysvc_key *in,
                      unsigned fields, const char *client)
{
	keysvc_key *a = calloc(1, sizeof *a);
	unsigned have, want;
	int rc;

	if (!a)
		return KEYSVC_STORE;
	if ((rc = keysvc_caller_mask(ks, caller, &have)) != KEYSVC_OK)
		goto cleanup;
	rc = KEYSVC_FORBIDDEN;
	if (!(have & KEYSVC_HOLDS_WRITE))
		goto cleanup;
	if ((rc = keysvc_owned(ks, caller->user_id, key_id)) != KEYSVC_OK)
		goto cleanup;
	if ((rc = keysvc_attrs_check(in, fields, a, &want)) != KEYSVC_OK)
		goto cleanup;
	rc = KEYSVC_FORBIDDEN;
	if ((want & have) != want)
		goto cleanup;
	rc = keysvc_changed(ks, caller->user_id, key_id,
	                    store_key_update(ks->st, key_id, a, fields, caller->user_id, client));
	if (fields & STORE_SET_RATELIMIT)
		keylimit_forget(ks->limits, key_id);
cleanup:
	free(a);
	return rc;
}

int keysvc_key_rotate(keysvc *ks, const keysvc_principal *caller, int64_t key_id, int64_t grace_seconds,
                      const char *client, keysvc_key *out, char *token, size_t toklen)
{
	keysvc_key *old = calloc(1, sizeof *old);
	int64_t until;
	unsigned have;
	int rc;

	if (!old)
		return KEYSVC_STORE;
	rc = KEYSVC_INVALID;
	if (grace_seconds < 0)
		goto cleanup;
	if ((rc = keysvc_caller_mask(ks, caller, &have)) != KEYSVC_OK)
		goto cleanup;
	rc = KEYSVC_FORBIDDEN;
	if (!(have & KEYSVC_HOLDS_WRITE))
		goto cleanup;
	if ((rc = keysvc_from_store(store_key_get_id(ks->st, caller->user_id, KEYSVC_APIKEYD, key_id, old))) != KEYSVC_OK)
		goto cleanup;
	rc = KEYSVC_NOT_FOUND;
	if (old->revoked)
		goto cleanup;
	/* the new key: the old one's attributes, by the rules of a create */
	if ((rc = keysvc_key_create(ks, caller, old, client, out, token, toklen)) != KEYSVC_OK)
		goto cleanup;
	until = keysvc_now(ks) + grace_seconds;
	if (old->expires_at == 0 || until < old->expires_at) {
		old->expires_at = until;
		rc = keysvc_changed(ks, caller->user_id, key_id,
		                    store_key_update(ks->st, key_id, old, STORE_SET_EXPIRES, caller->user_id, client));
		if (rc != KEYSVC_OK)
			gnutls_memset(token, 0, toklen);
	}
cleanup:
	free(old);
	return rc;
}

/* The check of keysvc_verify, for one owner's keys (user > 0): another
   owner's key is NOT_FOUND. */
static int keysvc_check_for(keysvc *ks, int64_t user, const char *token, const char *need, keysvc_verdict *v)
{
	unsigned char hash[STORE_HASH_LEN];
	const keyring *ring;
	keycache_entry entry, *e = &entry;
	int64_t now = keysvc_now(ks);
	int rc, found = 0;

	keysvc_verdict_clear(v);   /* the key's texts are filled below */
	v->code = KEYSVC_CODE_NOT_FOUND;
	if (!token || !token_check(token)) {
		__atomic_add_fetch(&ks->stats.bad_tokens, 1, __ATOMIC_RELAXED);
		return KEYSVC_OK;
	}
	ring = keysvc_ring_now(ks);
	if (keysvc_hash(ring, keyring_current(ring), token, hash) != 0)
		return KEYSVC_STORE;
	rc = keysvc_find(ks, ring, token, hash, now, NULL, NULL, e, &found, 0);
	if (rc != KEYSVC_OK || !found || e->user_id != user)
		return rc;
	v->key.id = e->key_id;
	v->key.user_id = e->user_id;
	memcpy(v->key.uuid, e->key_uuid, sizeof v->key.uuid);
	v->key.family = e->family;
	v->key.active = e->active;
	memcpy(v->key.role, e->role, sizeof v->key.role);
	v->key.created = e->created;
	v->key.expires_at = e->expires_at;
	v->key.rl_limit = e->rl_limit;
	v->key.rl_window = e->rl_window;
	keysvc_text(v->key.name, sizeof v->key.name, e->name);
	keysvc_text(v->key.scopes, sizeof v->key.scopes, e->scopes);
	keysvc_text(v->key.meta, sizeof v->key.meta, e->meta);
	keysvc_text(v->key.owner, sizeof v->key.owner, e->owner);
	rc = keysvc_judge(ks, e, now, need, v);
	if (rc == KEYSVC_OK && v->code == KEYSVC_CODE_VALID)
		keysvc_touch_key(ks, e->user_id, e->key_id);
	return rc;
}

int keysvc_verify(keysvc *ks, const keysvc_principal *caller, const char *token, const char *need,
                  keysvc_verdict *v)
{
	int rc = keysvc_scope_check(ks, caller, KEYSVC_SCOPE_VERIFY);

	if (rc != KEYSVC_OK)
		return rc;
	return keysvc_check_for(ks, caller->user_id, token, need, v);
}

/* keysvc.h — the key service: every rule the five API families share.
 *
 * Tokens (token.h) are created here and returned once; only
 * HMAC-SHA-256(server secret, token) reaches the store, and the secret lives
 * in a file outside the database (created with mode 0600 on first start).
 * Every operation is scoped to the caller: another user's key is
 * KEYSVC_NOT_FOUND. Every mutation takes the caller's principal and needs
 * write rights: a read key may only read (KEYSVC_FORBIDDEN), on every
 * family, and no key mints a key with more rights than its own. A key
 * created through one family authenticates on every family; deactivated,
 * revoked or deleted keys fail on the very next request:
 * a key that authenticated is remembered by its HMAC (keycache.h) so that
 * its next requests need no SQL, and every state change removes it from
 * there before returning. Whole lists (no filter, no page) are kept too
 * (listcache.h), dropped by every write to their owner's keys. Repeated failed authentications from one client
 * address are answered KEYSVC_RATE_LIMITED; only failures are: a valid key
 * authenticates from a blocked address too. last_used is written at most
 * once a minute per key. Thread-safe.
 */
#ifndef KEYSVC_H
#define KEYSVC_H

#include <stddef.h>
#include <stdint.h>
#include "store.h"
#include "token.h"

enum keysvc_family {
	KEYSVC_HERON = 0, KEYSVC_FELDERA = 1, KEYSVC_NEBULA = 2, KEYSVC_NEBULA_UUID = 3, KEYSVC_FASTAPI = 4,
	KEYSVC_APIKEYD = 5,   /* apikeyd's own API (openapi/apikeyd.yaml): keys with attributes */
	KEYSVC_NFAMILIES
};
/* One descriptor per family: everything the key service and the shared
 * handler code know of a family, in one place (keysvc.c's keysvc_families).
 * The HTTP shape (routes, error bodies) stays in handlers/<api>.c. */
typedef struct keysvc_family_desc {
	const char *api;           /* the API's C prefix and mount name: "heron" */
	const char *prefix;        /* what new keys start with: "key_" */
	const char *old_prefix;    /* keys issued before a format change, still accepted; NULL */
	enum { KEYSVC_ID_UUID, KEYSVC_ID_INTEGER, KEYSVC_ID_NAME } id;   /* how the API addresses a key */
	int unique_names;          /* names unique per owner (the store's keys_feldera_name index) */
	int accepts_jwt;           /* a Bearer JWT authenticates on this API */
	const char *default_role;  /* the role of a key created without one */
} keysvc_family_desc;
/* The descriptor of a family (NULL out of range), or of an API by name (NULL: not a family). */
const keysvc_family_desc *keysvc_family(int family);
const keysvc_family_desc *keysvc_family_of_api(const char *api);

/* family argument of the lists: the owner's keys of every family */
#define KEYSVC_ALL (-1)
/* unrevoked keys a user may hold when the configuration says nothing */
#define KEYSVC_DEFAULT_QUOTA 1000

/* Status codes and their messages, from one table. */
#define KEYSVC_STATUS_MAP(X) \
	X(OK, "success") \
	X(NOT_FOUND, "no such key belongs to the caller") \
	X(DUPLICATE, "an entity with this name already exists") \
	X(BAD_TOKEN, "the token is malformed or its checksum is wrong") \
	X(REJECTED, "the credential is unknown, inactive, revoked or deleted") \
	X(FORBIDDEN, "the caller's role does not allow this") \
	X(RATE_LIMITED, "too many failed authentications from this address") \
	X(USER_EXISTS, "a user with this name already exists") \
	X(NO_USER, "no such user") \
	X(INVALID, "invalid argument") \
	X(NO_JWT, "JSON web tokens are not configured") \
	X(QUOTA, "the user holds as many keys as the key quota allows") \
	X(STORE, "the key store failed") \
	X(UNAVAILABLE, "the key store is busy, locked or full; try again later") \
	X(NO_SECRET, "no secret with this id in the keyring") \
	X(SECRET_IN_USE, "unrevoked keys still need this secret (each is re-hashed with the current one at its next use)") \
	X(SECRET_CURRENT, "this is the current secret (new keys are made with it): rotate first") \
	X(UNSUPPORTED, "this store backend cannot do that")

#define KEYSVC_ENUM(name, msg) KEYSVC_##name,
enum keysvc_status { KEYSVC_STATUS_MAP(KEYSVC_ENUM) KEYSVC_NSTATUS };
#undef KEYSVC_ENUM

const char *keysvc_strerror(int status);

typedef struct keysvc keysvc;
typedef store_key keysvc_key;

typedef struct keysvc_config {
	const char *db_path;          /* "var/apikeyd.db" or ":memory:" */
	const char *secret_path;      /* NULL: <db folder>/apikeyd.secret (or in memory for ":memory:") */
	int secret_must_exist;        /* 1: refuse to create a missing secret (a shared store: PostgreSQL) */
	unsigned stale_if_error;      /* seconds cached keys may serve while a shared store cannot report changes (0) */
	int synchronous_full;         /* 1 (default): a 201 survives power loss */
	int naive_commit;             /* 1: no group commit (benchmark baseline) */
	const char *jwt_key_path;     /* PEM public key or JWKS file; NULL = no JWT */
	const char *jwt_issuer;       /* the iss a JWT must carry; NULL = iss not checked */
	const char *jwt_audience;     /* aud (a string, or an array) must hold it; NULL = not checked */
	unsigned jwt_max_lifetime;    /* seconds exp - iat may span, iat then required; 0 = no bound */
	unsigned jwt_leeway;          /* seconds of clock skew allowed on exp, nbf and iat */
	unsigned fail_limit;          /* failures per window before 429; 0 = 10 */
	unsigned fail_window;         /* seconds; 0 = 60 */
	size_t fail_clients;          /* clients the failure limiter tracks one by one; 0 = 1024 */
	int64_t key_quota;            /* unrevoked keys per user; 0 = KEYSVC_DEFAULT_QUOTA, < 0 = no quota */
	int revoke_cascade;           /* 1: revoking or deleting a key also revokes every key it minted */
	size_t touch_queue;           /* last_used writes waiting for the store at most; 0 = 8192 (tests set fewer) */
	unsigned cache_ttl;            /* seconds a cache entry lives (spread over its second half); 0 = 60 (tests set fewer) */
	store_log_fn log;             /* store errors and start-up warnings; NULL: standard error */
} keysvc_config;

/* Who makes a request, as authentication found it: every mutation takes
 * it. A key principal has the rights of its key's role; key_id 0 is a JWT,
 * the account holder itself. */
typedef struct keysvc_principal {
	int64_t user_id;
	int64_t key_id;               /* 0 for a JWT */
	char key_uuid[37];
	int role_rights;              /* keysvc_authenticate: the key's role's rights when it authenticated
	                                 (KEYSVC_RIGHTS_NONE: an apikeyd customer key without keys: scopes) */
} keysvc_principal;

/* Rights, ordered (Feldera's read < write < admin). A key holds read or
 * write: its role ("read", "write"; a key stored before roles has none and
 * keeps the write it had). A JWT is the account holder, as the first
 * member of a Feldera tenant is its admin: admin, which may mint read and
 * write keys (a key is never minted admin). A key that is gone or off: none. */
enum keysvc_rights { KEYSVC_RIGHTS_NONE = 0, KEYSVC_RIGHTS_READ, KEYSVC_RIGHTS_WRITE, KEYSVC_RIGHTS_ADMIN };

typedef struct keysvc_stats {
	uint64_t hash_lookups;        /* store lookups made by authentication */
	uint64_t bad_tokens;          /* refused by the checksum, no lookup */
	uint64_t cache_hits;          /* answered by the authentication cache, no lookup */
	uint64_t list_hits;           /* whole lists answered by the list cache, no SQL */
	uint64_t touch_dropped;       /* uses whose last_used write found the queue full: not recorded */
	uint64_t refreshes;           /* aged cache entries (keys, lists) read again off the request's path and put back */
} keysvc_stats;

int keysvc_open(const keysvc_config *cfg, keysvc **out, char *err, size_t errlen);
void keysvc_close(keysvc *ks);

/* Creates a user and its first key (Heron family); the token goes to out. */
int keysvc_user_add(keysvc *ks, const char *name, char *token, size_t toklen, int64_t *user_id);

/* The caller's rights (out), read from the store, so a role is never stale. */
int keysvc_rights(keysvc *ks, const keysvc_principal *caller, int *rights);
/* KEYSVC_OK when the caller holds at least `need`, else KEYSVC_FORBIDDEN
 * (KEYSVC_STORE when the store fails). Every mutation below calls it first,
 * before any lookup; a family whose vendor asks more for a read (Feldera's
 * route table asks write of its api_keys reads) calls it itself. */
int keysvc_authorize(keysvc *ks, const keysvc_principal *caller, int need);
const char *keysvc_rights_name(int rights);   /* "none", "read", "write", "admin" */

/* A key name as stored: Unicode NFC, at most STORE_NAME_CHARS characters;
 * KEYSVC_INVALID for text that is not UTF-8 or holds a control character
 * (C0, DEL, C1) or a bidirectional control (U+202A-E, U+2066-9, U+200E/F,
 * U+061C). keysvc_create stores it; lookups and filters by name use it, so
 * either spelling of `café` finds the key. */
int keysvc_name(const char *name, char *out, size_t outlen);

/* Creates a key for the caller (write rights needed); *out describes it
 * and token receives the full key, once. role: "read" or "write", at most
 * the caller's own rights (KEYSVC_FORBIDDEN), anything else
 * KEYSVC_INVALID; NULL: the family's default (Feldera: read, as Feldera
 * makes it; the families without roles: write). The name goes through
 * keysvc_name. KEYSVC_DUPLICATE for a Feldera name the owner already uses;
 * KEYSVC_QUOTA when the owner already holds key_quota unrevoked keys
 * (counted inside the insert's transaction). The caller's key (none for a
 * JWT) is recorded as the new key's parent. */
int keysvc_create(keysvc *ks, const keysvc_principal *caller, int family, const char *name, const char *description,
                  const char *role, const char *client, keysvc_key *out, char *token, size_t toklen);
/* A new Heron key (role write) for an existing user (the CLI's `user key`:
 * recovery when the last key is gone); audited as a create by client "cli". */
int keysvc_user_key(keysvc *ks, const char *name, char *token, size_t toklen, int64_t *user_id, keysvc_key *out);
/* Keys of one family (KEYSVC_ALL: every family), newest first. name:
 * filter or NULL (through keysvc_name). The whole array is in memory: for
 * pages (skip, limit). */
int keysvc_list(keysvc *ks, int64_t user, int family, const char *name, int include_revoked, int64_t skip,
                int64_t limit, keysvc_key **out, size_t *n, int64_t *total);
/* Calls fn with each key of one family (KEYSVC_ALL: every family), newest
 * first, at most max keys (0: all), reading the store in pages of 64: the
 * store's rows in memory stay bounded whatever the length of the list. fn
 * returning nonzero stops the walk (KEYSVC_INVALID). */
typedef int (*keysvc_each_fn)(void *ctx, const keysvc_key *k);
int keysvc_list_each(keysvc *ks, int64_t user, int family, int include_revoked, size_t max, keysvc_each_fn fn,
                     void *ctx);
/* The most keys an unpaged list answers: the key quota (0: no quota, no
 * bound). Only a user holding more than the quota (keys from before it)
 * reaches it; a paged list or the CLI shows the rest. */
size_t keysvc_list_max(const keysvc *ks);
/* Waits until every last_used write queued so far is committed (a key's
 * first use in a minute queues one for the key service's touch writer;
 * its reads show the time meanwhile, a reader of the store itself may not
 * see it until then). keysvc_close does it too. */
void keysvc_touch_flush(keysvc *ks);
int keysvc_get_uuid(keysvc *ks, int64_t user, int family, const char *uuid, keysvc_key *out);
int keysvc_get_id(keysvc *ks, int64_t user, int family, int64_t id, keysvc_key *out);
/* name through keysvc_name */
int keysvc_get_name(keysvc *ks, int64_t user, int family, const char *name, keysvc_key *out);
/* State changes of the caller's own keys: KEYSVC_FORBIDDEN without write
 * rights (before any lookup), KEYSVC_NOT_FOUND for another user's key. */
int keysvc_set_active(keysvc *ks, const keysvc_principal *caller, int64_t key_id, int active, const char *client);
/* Revoke and delete: with revoke_cascade set, every key the key minted
 * (and so on down) is revoked too before they return. */
int keysvc_revoke(keysvc *ks, const keysvc_principal *caller, int64_t key_id, const char *client);
int keysvc_delete(keysvc *ks, const keysvc_principal *caller, int64_t key_id, const char *client);
/* Revokes key_id and every unrevoked key it minted, down the tree, each
 * audited and refused at the next request; *n: keys revoked. The same
 * rights as keysvc_revoke (the CLI acts as the owner: key_id 0). */
int keysvc_revoke_tree(keysvc *ks, const keysvc_principal *caller, int64_t key_id, const char *client, size_t *n);
/* The owner of a key (the CLI addresses keys by id alone). */
int keysvc_key_owner(keysvc *ks, int64_t key_id, int64_t *user);
/* A user's id by name (KEYSVC_NO_USER). */
int keysvc_user_find(keysvc *ks, const char *name, int64_t *user);

/* Authenticates an API key. retry_after is set with KEYSVC_RATE_LIMITED.
 * Only failures count towards the limit; a store that could not check the
 * key is KEYSVC_STORE or KEYSVC_UNAVAILABLE, neither counted nor limited.
 * A key's attributes apply here, so on every family: a disabled, expired
 * or used-up key is KEYSVC_REJECTED (counted); over its own rate limit,
 * KEYSVC_RATE_LIMITED with retry_after until its window ends (not counted
 * as a failure); a key whose uses are counted uses one (keysvc_verify). */
int keysvc_authenticate(keysvc *ks, const char *token, const char *client, keysvc_principal *out,
                        unsigned *retry_after);
/* Authenticates a compact JWS (JWT), at most KEYSVC_JWT_MAX_LEN bytes,
 * against the configured keys only: a header naming or carrying a key (jku,
 * x5u, jwk, x5c), a crit, zip, a nested token (cty JWT), an alg the
 * configured key does not imply (none never) are refused before any
 * parsing by rhonabwy, which fetches and opens nothing (R_PARSE_NONE,
 * R_FLAG_IGNORE_REMOTE). Then the signature, and the claims: exp required,
 * nbf, iat (whole seconds, 0 to year 9999; iat not in the future), each
 * with jwt_leeway; exp - iat within jwt_max_lifetime; iss and aud when
 * configured; `sub` naming a user. A refused token is logged (yder, info)
 * with the reason and the client, never the token. */
#define KEYSVC_JWT_MAX_LEN 8192
/* Replaces the JWT settings (jwt_key_path, jwt_issuer, jwt_audience,
 * jwt_max_lifetime, jwt_leeway of cfg; the rest is not read) with a new
 * set, loaded whole first: on a bad key file KEYSVC_INVALID with err, and
 * the settings in force stay. Requests verifying meanwhile finish with the
 * set they began with (replaced sets are freed by keysvc_close). From one
 * thread at a time (SIGHUP). */
int keysvc_jwt_reload(keysvc *ks, const keysvc_config *cfg, char *err, size_t errlen);
int keysvc_authenticate_jwt(keysvc *ks, const char *jwt, const char *client, keysvc_principal *out,
                            unsigned *retry_after);
/* 1 if a Bearer value looks like a JWT (two dots, no key prefix). */
int keysvc_is_jwt(const char *bearer);

/* Readiness: the store reads, is writable and a write commits within
 * timeout_ms. KEYSVC_OK, or KEYSVC_STORE / KEYSVC_UNAVAILABLE with why. */
int keysvc_ready(keysvc *ks, unsigned timeout_ms, char *why, size_t len);
/* The store backend's name ("sqlite", "postgresql"). */
const char *keysvc_store_backend(const keysvc *ks);
/* The change epoch this process has applied and the store's current one
 * (PostgreSQL; KEYSVC_NOT_FOUND for a store without epochs). */
int keysvc_store_epochs(keysvc *ks, int64_t *seen, int64_t *current);

/* ---- operating: the CLI (server/admin.c) ---- */

/* Every user; *out malloc'd (free()). */
int keysvc_user_list(keysvc *ks, store_user **out, size_t *n);
/* Audit rows at or after since (unix seconds), in id order, in pages: fn
 * gets each; nonzero stops (KEYSVC_INVALID). */
typedef int (*keysvc_audit_fn)(void *ctx, const store_audit *a);
int keysvc_audit_each(keysvc *ks, int64_t since, keysvc_audit_fn fn, void *ctx);

/* The HMAC keyring (keyring.h): each secret, whether it is current, and
 * the unrevoked keys still made with it (keys that a rotation left on an
 * older secret move to the current one at their next use). A secret id
 * the store's keys use and the keyring lacks is listed with missing = 1. */
typedef struct keysvc_secret_info {
	int64_t id;
	int64_t added;          /* unix seconds; 0: unknown (before keyrings) */
	int current;
	int missing;
	int64_t keys;
} keysvc_secret_info;
int keysvc_secret_list(keysvc *ks, keysvc_secret_info **out, size_t *n);
/* Adds a new current secret to the keyring file (its check value first in
 * the store, then the file, atomically, under the keyring's lock); new keys
 * use it. Every process on the store (servers included) reads the file
 * again within a second. KEYSVC_UNSUPPORTED for an in-memory keyring. */
int keysvc_secret_rotate(keysvc *ks, int64_t *id);
/* Removes secret id from the keyring file: KEYSVC_NO_SECRET, KEYSVC_SECRET_CURRENT,
 * or KEYSVC_SECRET_IN_USE while unrevoked keys were made with it (*still:
 * how many; 0 when its successor became current less than 3 s ago, so a
 * create may still be in flight with it). */
int keysvc_secret_retire(keysvc *ks, int64_t id, int64_t *still);
/* The keyring file's path (NULL: in memory). */
const char *keysvc_secret_path(const keysvc *ks);

/* A consistent copy of the store into the new file path while others write
 * (store_backup); KEYSVC_UNSUPPORTED with why for a backend without one. */
int keysvc_backup(keysvc *ks, const char *path, char *why, size_t len);
/* Replaces the store's contents with a copy store_backup made (store_restore). */
int keysvc_restore(keysvc *ks, const char *path, char *why, size_t len);
/* ---- the apikeyd API: key attributes and verification ---- */

/* Scopes: at most KEYSVC_SCOPES_MAX, each 1..KEYSVC_SCOPE_CHARS characters
 * of A-Z a-z 0-9 and : . _ - * /, stored space-separated. Three of them are
 * rights on the apikeyd API itself: keys:read (get, list), keys:write
 * (create, update, rotate, delete; implies keys:read), keys:verify (verify
 * other keys). Any other "keys:" scope is KEYSVC_INVALID. A key of the five
 * vendor families holds its family rights: a write key (or a JWT) all
 * three, a read key keys:read. A key is stored with the role its keys:
 * scopes give it on the vendor families (keys:write: write, keys:read:
 * read, else "none": no rights there) and never gets more than its
 * creator's (KEYSVC_FORBIDDEN). meta: the compact text of a JSON object of
 * at most KEYSVC_META_MAX bytes; owner: at most KEYSVC_OWNER_CHARS
 * characters, as a name (keysvc_name's rules). */
#define KEYSVC_SCOPES_MAX 32
#define KEYSVC_SCOPE_CHARS 64
#define KEYSVC_META_MAX 1024
#define KEYSVC_OWNER_CHARS 64
#define KEYSVC_SCOPE_READ "keys:read"
#define KEYSVC_SCOPE_WRITE "keys:write"
#define KEYSVC_SCOPE_VERIFY "keys:verify"

/* The outcome of a verification, as Unkey names them. */
#define KEYSVC_CODE_MAP(X) \
	X(VALID) X(NOT_FOUND) X(DISABLED) X(EXPIRED) X(INSUFFICIENT_SCOPES) X(USAGE_EXCEEDED) X(RATE_LIMITED)
#define KEYSVC_CODE_ENUM(name) KEYSVC_CODE_##name,
enum keysvc_code { KEYSVC_CODE_MAP(KEYSVC_CODE_ENUM) KEYSVC_NCODES };
#undef KEYSVC_CODE_ENUM
const char *keysvc_code_name(int code);   /* "VALID", ... */

typedef struct keysvc_verdict {
	int code;                 /* KEYSVC_CODE_* */
	keysvc_key key;           /* the key (code not NOT_FOUND); its description is not filled in */
	int has_ratelimit;        /* the key has a rate limit: */
	int64_t rl_limit, rl_remaining, rl_reset;   /* uses per window, left in this one, its end (unix s) */
	unsigned retry_after;     /* RATE_LIMITED: seconds until the window ends (>= 1) */
} keysvc_verdict;

/* The key service's clock: unix seconds, as a test set it. */
int64_t keysvc_now(keysvc *ks);
/* Tests only (the server reaches it only through the test API, mounted
 * with --test-slow-endpoint): at > 0 stops the clock at unix second at;
 * else it runs again, offset seconds from the real time (0: the real time). */
void keysvc_clock_set(keysvc *ks, int64_t offset, int64_t at);

/* KEYSVC_OK when the caller holds scope (above), else KEYSVC_FORBIDDEN. */
int keysvc_scope_check(keysvc *ks, const keysvc_principal *caller, const char *scope);
/* Creates a key of the apikeyd family for the caller (keys:write) with the
 * attributes of in: name, owner, scopes, meta, active (enabled),
 * expires_at, has_remaining/remaining, rl_limit/rl_window (both > 0, or
 * rl_limit 0). KEYSVC_INVALID for an attribute out of bounds (above). */
int keysvc_key_create(keysvc *ks, const keysvc_principal *caller, const keysvc_key *in, const char *client,
                      keysvc_key *out, char *token, size_t toklen);
/* Writes the fields (STORE_SET_*) of in to the caller's unrevoked key
 * key_id, by the rules of keysvc_key_create; the key's next request sees
 * them (its cache entry is forgotten first). */
int keysvc_key_update(keysvc *ks, const keysvc_principal *caller, int64_t key_id, const keysvc_key *in,
                      unsigned fields, const char *client);
/* A new key with the attributes of the caller's key key_id (shown once,
 * in out and token); the old one is refused from now + grace_seconds on
 * (sooner if it expired sooner), everywhere. */
int keysvc_key_rotate(keysvc *ks, const keysvc_principal *caller, int64_t key_id, int64_t grace_seconds,
                      const char *client, keysvc_key *out, char *token, size_t toklen);
/* Verifies token for a backend service or a gateway (the caller needs
 * keys:verify), among the caller's owner's keys (another owner's key is
 * NOT_FOUND): *v says why it is valid or not; need: scopes the key must all hold
 * (space-separated, NULL: none). A valid key whose uses are counted uses
 * one, atomically in the store; over its rate limit nothing is used. No
 * failed-authentication counting: the caller is not the key's holder.
 * KEYSVC_OK with *v, or the store's failure. */
int keysvc_verify(keysvc *ks, const keysvc_principal *caller, const char *token, const char *need,
                  keysvc_verdict *v);

void keysvc_get_stats(keysvc *ks, keysvc_stats *out);
store *keysvc_store(keysvc *ks);   /* for tests */

#endif

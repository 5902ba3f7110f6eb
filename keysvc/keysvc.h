/* keysvc.h — the key service: every rule the five API families share.
 *
 * Tokens (token.h) are created here and returned once; only
 * HMAC-SHA-256(server secret, token) reaches the store, and the secret lives
 * in a file outside the database (created with mode 0600 on first start).
 * Every operation is scoped to the caller: another user's key is
 * KEYSVC_NOT_FOUND. A key created through one family authenticates on every
 * family; deactivated, revoked or deleted keys fail on the very next request:
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
	KEYSVC_NFAMILIES
};
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
	X(RATE_LIMITED, "too many failed authentications from this address") \
	X(USER_EXISTS, "a user with this name already exists") \
	X(NO_USER, "no such user") \
	X(INVALID, "invalid argument") \
	X(NO_JWT, "JSON web tokens are not configured") \
	X(QUOTA, "the user holds as many keys as the key quota allows") \
	X(STORE, "the key store failed")

#define KEYSVC_ENUM(name, msg) KEYSVC_##name,
enum keysvc_status { KEYSVC_STATUS_MAP(KEYSVC_ENUM) KEYSVC_NSTATUS };
#undef KEYSVC_ENUM

const char *keysvc_strerror(int status);

typedef struct keysvc keysvc;
typedef store_key keysvc_key;

typedef struct keysvc_config {
	const char *db_path;          /* "var/apikeyd.db" or ":memory:" */
	const char *secret_path;      /* NULL: <db folder>/apikeyd.secret (or in memory for ":memory:") */
	int synchronous_full;         /* 1 (default): a 201 survives power loss */
	int naive_commit;             /* 1: no group commit (benchmark baseline) */
	const char *jwt_key_path;     /* PEM public key or JWKS file; NULL = no JWT */
	unsigned fail_limit;          /* failures per window before 429; 0 = 10 */
	unsigned fail_window;         /* seconds; 0 = 60 */
	size_t fail_clients;          /* clients the failure limiter tracks one by one; 0 = 1024 */
	int64_t key_quota;            /* unrevoked keys per user; 0 = KEYSVC_DEFAULT_QUOTA, < 0 = no quota */
	int revoke_cascade;           /* 1: revoking or deleting a key also revokes every key it minted */
} keysvc_config;

typedef struct keysvc_principal {
	int64_t user_id;
	int64_t key_id;               /* 0 for a JWT */
	char key_uuid[37];
} keysvc_principal;

typedef struct keysvc_stats {
	uint64_t hash_lookups;        /* store lookups made by authentication */
	uint64_t bad_tokens;          /* refused by the checksum, no lookup */
	uint64_t cache_hits;          /* answered by the authentication cache, no lookup */
	uint64_t list_hits;           /* whole lists answered by the list cache, no SQL */
} keysvc_stats;

int keysvc_open(const keysvc_config *cfg, keysvc **out, char *err, size_t errlen);
void keysvc_close(keysvc *ks);

/* Creates a user and its first key (Heron family); the token goes to out. */
int keysvc_user_add(keysvc *ks, const char *name, char *token, size_t toklen, int64_t *user_id);

/* Creates a key; *out describes it and token receives the full key, once.
 * KEYSVC_DUPLICATE for a Feldera name the owner already uses; KEYSVC_QUOTA
 * when the owner already holds key_quota unrevoked keys. */
int keysvc_create(keysvc *ks, int64_t user, int family, const char *name, const char *description,
                  const char *role, const char *client, keysvc_key *out, char *token, size_t toklen);
/* The same, recording parent (the caller's key id; 0 for none: a JWT, the
 * CLI) as the key that minted it. */
int keysvc_create_by(keysvc *ks, int64_t user, int64_t parent, int family, const char *name, const char *description,
                     const char *role, const char *client, keysvc_key *out, char *token, size_t toklen);
/* A new Heron key for an existing user (the CLI's `user key`: recovery when
 * the last key is gone); audited as a create by client "cli". */
int keysvc_user_key(keysvc *ks, const char *name, char *token, size_t toklen, int64_t *user_id, keysvc_key *out);
/* Keys of one family (KEYSVC_ALL: every family), newest first. name:
 * filter or NULL. The whole array is in memory: for pages (skip, limit). */
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
int keysvc_get_uuid(keysvc *ks, int64_t user, int family, const char *uuid, keysvc_key *out);
int keysvc_get_id(keysvc *ks, int64_t user, int family, int64_t id, keysvc_key *out);
int keysvc_get_name(keysvc *ks, int64_t user, int family, const char *name, keysvc_key *out);
int keysvc_set_active(keysvc *ks, int64_t user, int64_t key_id, int active, const char *client);
/* Revoke and delete: with revoke_cascade set, every key the key minted
 * (and so on down) is revoked too before they return. */
int keysvc_revoke(keysvc *ks, int64_t user, int64_t key_id, const char *client);
int keysvc_delete(keysvc *ks, int64_t user, int64_t key_id, const char *client);
/* Revokes key_id and every unrevoked key it minted, down the tree, each
 * audited and refused at the next request; *n: keys revoked. */
int keysvc_revoke_tree(keysvc *ks, int64_t user, int64_t key_id, const char *client, size_t *n);
/* The owner of a key (the CLI addresses keys by id alone). */
int keysvc_key_owner(keysvc *ks, int64_t key_id, int64_t *user);
/* A user's id by name (KEYSVC_NO_USER). */
int keysvc_user_find(keysvc *ks, const char *name, int64_t *user);

/* Authenticates an API key. retry_after is set with KEYSVC_RATE_LIMITED. */
int keysvc_authenticate(keysvc *ks, const char *token, const char *client, keysvc_principal *out,
                        unsigned *retry_after);
/* Authenticates a JWT: signature (key or JWKS from the config; alg none
 * refused), exp/nbf, and `sub` naming a user. */
int keysvc_authenticate_jwt(keysvc *ks, const char *jwt, const char *client, keysvc_principal *out,
                            unsigned *retry_after);
/* 1 if a Bearer value looks like a JWT (two dots, no key prefix). */
int keysvc_is_jwt(const char *bearer);

void keysvc_get_stats(keysvc *ks, keysvc_stats *out);
store *keysvc_store(keysvc *ks);   /* for tests */

#endif

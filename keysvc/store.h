/* store.h — the key store interface: the only code that speaks SQL is
 * behind it. store_open picks the backend that serves the configured path
 * (store_backend.h lists what a backend implements; store_sqlite.c is the
 * embedded default); every backend keeps the contract below.
 *
 * SQLite (store_sqlite.c): WAL mode, synchronous=FULL by default (a committed create
 * survives a crash or power loss), schema versioned with user_version and
 * migrated on open, prepared statements only (prepared once). Writes go
 * through one connection; concurrent key inserts are group-committed: the
 * first writer to arrive commits everything queued behind it in one
 * transaction (one fsync), and each caller returns only once its row is
 * durable. Reads use their own connection. Thread-safe.
 *
 * Keys are stored as HMAC-SHA-256 of the token (computed by the caller);
 * the token itself never reaches the store.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_HASH_LEN 32

typedef struct store store;

/* The documents limit a name to 128 characters and a description to 1024
 * (JSON Schema maxLength counts code points); in UTF-8 that is up to 4
 * bytes each, and the buffers hold that many. */
#define STORE_NAME_CHARS 128
#define STORE_DESCRIPTION_CHARS 1024
/* The key attributes of the apikeyd API (schema 5 / PostgreSQL 2): scopes
 * as one space-separated string, meta as the text of a JSON object; the
 * buffers hold the most the key service accepts (keysvc.h). */
#define STORE_SCOPES_LEN 512
#define STORE_META_LEN 1025
#define STORE_OWNER_LEN 257   /* 64 characters of UTF-8 */

typedef struct store_key {
	int64_t id;
	char uuid[37];
	int64_t user_id;
	int family;
	char name[STORE_NAME_CHARS * 4 + 1];
	char description[STORE_DESCRIPTION_CHARS * 4 + 1];
	int has_description;
	char role[8];           /* "" when none */
	char prefix[9];         /* first 8 characters of the token */
	char tail[4];           /* last 3 characters of the token */
	int active;
	int revoked;
	int64_t created;        /* unix seconds */
	int64_t last_used;      /* unix seconds, 0 = never */
	int64_t parent_id;      /* the key whose holder created this one; 0: none (the CLI, a JWT) */
	int64_t secret_id;      /* the keyring secret its hash was made with (insert; rows read: 0, see store_secret_counts) */
	int64_t expires_at;     /* unix seconds from which the key is refused; 0 = never */
	char scopes[STORE_SCOPES_LEN];  /* space-separated; "" = none */
	char meta[STORE_META_LEN];      /* a JSON object's text; "" = none */
	int has_remaining;      /* uses are counted: remaining is how many are left */
	int64_t remaining;
	int64_t rl_limit;       /* at most rl_limit uses per rl_window seconds; 0 = no limit */
	int64_t rl_window;
	char owner[STORE_OWNER_LEN];    /* whom the key was issued to (the issuer's name for them); "" = not said */
} store_key;

/* A user, for the CLI's `user list`: keys counts its unrevoked keys. */
typedef struct store_user {
	int64_t id;
	char name[STORE_NAME_CHARS * 4 + 1];
	int64_t created;        /* unix seconds */
	int64_t keys;
} store_user;

/* One audit row: who (actor, a user id; 0: none) did what to which key. */
typedef struct store_audit {
	int64_t id;
	int64_t at;             /* unix seconds */
	int64_t actor;
	int64_t key_id;
	char action[16];        /* "create", "revoke", "activate", "deactivate", "delete" */
	char client[64];        /* the client address, "cli", ... */
} store_audit;

/* Unrevoked keys per keyring secret id (store_secret_counts). */
typedef struct store_secret_count {
	int64_t secret_id;
	int64_t keys;
} store_secret_count;

/* Fields store_key_update writes (the others are left as stored). */
enum {
	STORE_SET_NAME = 1, STORE_SET_SCOPES = 2 /* scopes and role */, STORE_SET_META = 4, STORE_SET_ACTIVE = 8,
	STORE_SET_EXPIRES = 16, STORE_SET_REMAINING = 32, STORE_SET_RATELIMIT = 64, STORE_SET_OWNER = 128
};

/* STORE_ERROR: the store failed (an I/O error, a read-only or corrupt
 * database, ...); STORE_UNAVAILABLE: it failed for a reason that may pass
 * (busy or locked beyond the busy timeout, disk full): worth a retry. A
 * lookup that failed is never STORE_NOT_FOUND. */
enum { STORE_OK = 0, STORE_NOT_FOUND = 1, STORE_CONSTRAINT = 2, STORE_QUOTA = 3, STORE_ERROR = -1, STORE_UNAVAILABLE = -2 };

/* Where the store reports its errors and warnings: one line each, with the
 * cause (SQLite's message), rate-limited by store.c. */
enum { STORE_LOG_ERROR = 0, STORE_LOG_WARNING = 1 };
typedef void (*store_log_fn)(int level, const char *msg);

/* Changes made by other nodes or processes, for a backend that sees them
 * (PostgreSQL's notifications): key_id and user_id of a changed key, or
 * both -1 when changes may have been missed (forget everything cached).
 * Called from the backend's own thread. */
typedef void (*store_change_fn)(void *ctx, int64_t key_id, int64_t user_id);

typedef struct store_config {
	const char *path;       /* file, or ":memory:"; or a PostgreSQL URI (postgresql://...) or conninfo (host=... dbname=...) */
	store_change_fn on_change;  /* may be NULL */
	void *on_change_ctx;
	int synchronous_full;   /* 1: FULL (default); 0: NORMAL */
	int group_commit;       /* 1 (default); 0: one transaction per insert (bench baseline) */
	store_log_fn log;       /* NULL: standard error */
	unsigned stale_if_error;  /* a backend that pushes changes (PostgreSQL): seconds the caches may be trusted after it lost its way to hear of them; 0 */
} store_config;

int store_open(const store_config *cfg, store **out, char *err, size_t errlen);
void store_close(store *s);

int store_user_add(store *s, const char *name, int64_t *id);       /* STORE_CONSTRAINT if taken */
int store_user_find(store *s, const char *name, int64_t *id);      /* STORE_NOT_FOUND */

/* Inserts k (k->id and k->uuid are filled in; k->parent_id kept) with its
 * hash, and an audit row, durably; group-committed with concurrent inserts.
 * STORE_CONSTRAINT when a unique name (Feldera) or the hash already exists;
 * quota > 0: STORE_QUOTA when the owner already holds that many unrevoked
 * keys, counted inside the insert's transaction (exact under concurrency). */
int store_key_insert(store *s, store_key *k, const unsigned char hash[STORE_HASH_LEN], const char *client,
                     int64_t quota);
/* Lookups scoped to the owner and family (family < 0: any family). */
int store_key_get_uuid(store *s, int64_t user, int family, const char *uuid, store_key *out);
int store_key_get_id(store *s, int64_t user, int family, int64_t id, store_key *out);
int store_key_get_name(store *s, int64_t user, int family, const char *name, store_key *out);
/* The key with this hash (any owner), for authentication; stored receives
 * the hash as stored, for a constant-time comparison by the caller. */
int store_key_by_hash(store *s, const unsigned char hash[STORE_HASH_LEN], store_key *out,
                      unsigned char stored[STORE_HASH_LEN]);
/* Keys of an owner in one family (family < 0: every family), newest first;
 * name filter optional; include_revoked 0 hides revoked keys. *out is
 * malloc'd (free()). */
int store_key_list(store *s, int64_t user, int family, const char *name, int include_revoked,
                   int64_t skip, int64_t limit, store_key **out, size_t *n, int64_t *total);
/* One page of an owner's keys (family < 0: every family), newest first:
 * at most `limit` keys with ids below before_id (0: from the newest), so a
 * caller walks a list of any length in pages of bounded memory, unaffected
 * by rows added or removed meanwhile. *out as above. */
int store_key_page(store *s, int64_t user, int family, int include_revoked, int64_t before_id, size_t limit,
                   store_key **out, size_t *n);
/* The owner of a key (STORE_NOT_FOUND). */
int store_key_owner(store *s, int64_t key_id, int64_t *user);
/* The unrevoked keys made by key_id, by their children and so on down
 * (key_id itself not included), in no particular order. *ids malloc'd. */
int store_key_descendants(store *s, int64_t key_id, int64_t **ids, size_t *n);
/* State changes, each with its audit row (action: "activate", ...). */
int store_key_set_active(store *s, int64_t key_id, int active, int64_t actor, const char *client);
int store_key_revoke(store *s, int64_t key_id, int64_t actor, const char *client);
/* A deleted key's children take its parent as theirs (in the same
 * transaction), so the line from an ancestor to its descendants holds. */
int store_key_delete(store *s, int64_t key_id, int64_t actor, const char *client);
int store_key_touch(store *s, int64_t key_id, int64_t when);
/* last_used of n keys (t[i].key_id at t[i].when), in as few commits as the
 * backend can (SQLite: one); t[i].rc each one's outcome, the first failure
 * returned. */
typedef struct store_touch {
	int64_t key_id, when;
	int rc;                  /* out */
} store_touch;
int store_keys_touch(store *s, store_touch *t, size_t n);
/* Writes the fields of k named by `fields` (STORE_SET_*) to the unrevoked
 * key key_id, with an audit row "update" (STORE_NOT_FOUND: no such
 * unrevoked key). Other processes' caches hear of it as of any state change. */
int store_key_update(store *s, int64_t key_id, const store_key *k, unsigned fields, int64_t actor,
                     const char *client);
/* One use of a key whose uses are counted: remaining goes down by one in a
 * single statement (UPDATE ... WHERE remaining > 0 RETURNING), so N uses
 * are granted exactly, whatever the concurrency and the number of nodes.
 * STORE_OK with *left the uses left after this one; STORE_QUOTA when none
 * was left (or uses are not counted); durable before it returns. */
int store_key_use(store *s, int64_t key_id, int64_t *left);
/* Calls fn with the id and hash of every key whose id is above after_id,
 * in id order (all of them from 0; ids only grow, so a caller can follow
 * new rows); stops early when fn returns nonzero. */
int store_key_hashes(store *s, int64_t after_id, int (*fn)(void *ctx, int64_t id, const unsigned char hash[STORE_HASH_LEN]),
                     void *ctx);
/* Times SQLite re-prepared one of the store's statements since open (a
 * statement whose plan depends on a bound value is re-parsed on each bind;
 * none of ours should be). Tests. */
int store_reprepares(store *s, int64_t *n);
/* Number of audit rows with this action and key (tests). */
int store_audit_count(store *s, int64_t key_id, const char *action, int64_t *n);
/* The last change epoch this node has applied and the store's current one
 * (backends without epochs: STORE_NOT_FOUND). Readiness and tests. */
int store_epochs(store *s, int64_t *seen, int64_t *current);
/* The backend's name ("sqlite", "postgresql"). */
const char *store_backend_name(const store *s);
/* The name of the backend that would serve path (NULL: none). */
const char *store_backend_for(const char *path);

/* The store's own named values (schema 3's meta table): the server
 * secret's check value. STORE_NOT_FOUND when unset. */
int store_meta_get(store *s, const char *name, char *value, size_t len);
int store_meta_set(store *s, const char *name, const char *value);
/* Keys in the store, every owner and family. */
int store_key_count(store *s, int64_t *n);
/* Every user, by id; *out malloc'd (free()). */
int store_user_list(store *s, store_user **out, size_t *n);
/* Audit rows at or after since (unix seconds) with ids above after_id, in
 * id order, at most limit; *out malloc'd (free()). A caller pages with the
 * last id it got. */
int store_audit_list(store *s, int64_t since, int64_t after_id, size_t limit, store_audit **out, size_t *n);
/* Replaces key_id's hash old (the row must still hold it, else
 * STORE_NOT_FOUND) with new, made with keyring secret secret_id: the key
 * service re-hashes a key made with an older secret when it is used. No
 * epoch: the key's state does not change. */
int store_key_rehash(store *s, int64_t key_id, const unsigned char old_hash[STORE_HASH_LEN],
                     const unsigned char new_hash[STORE_HASH_LEN], int64_t secret_id);
/* Unrevoked keys per secret id, by id; *out malloc'd (free()). */
int store_secret_counts(store *s, store_secret_count **out, size_t *n);
/* A consistent copy of the whole store, taken while others write, into the
 * new file path (SQLite's online backup API: one read snapshot); a backend
 * that cannot: STORE_NOT_FOUND with why. */
int store_backup(store *s, const char *path, char *why, size_t len);
/* Replaces the store's contents with the copy in path (made by
 * store_backup), through the backend so that a process that has the store
 * open sees the change (its caches drop everything: the epoch moves past
 * both). STORE_NOT_FOUND with why for a backend that cannot. */
int store_restore(store *s, const char *path, char *why, size_t len);

/* Readiness: STORE_OK when the store reads, is writable and a write
 * commits, within timeout_ms; else why says what fails (read-only, disk
 * full, a writer busy). A write probe at most once a second. */
int store_ready(store *s, unsigned timeout_ms, char *why, size_t len);
/* 1 (once) when another process wrote to the keys since the last call that
 * returned 1; cheap enough for every cache hit. Every write to the keys
 * (create, activate, deactivate, revoke, delete; not last_used) bumps an
 * epoch in the database, and each process compares it with its own; the
 * SQLite backend looks at the WAL index header (shared memory) first and
 * asks SQLite only when a commit moved it. */
int store_changed(store *s);

#endif

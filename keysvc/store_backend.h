/* store_backend.h — what a store backend implements (for store_*.c only;
 * the key service sees only store.h).
 *
 * A backend's handle begins with `store base`, whose `be` points at the
 * backend's table; store.c forwards each store_* call through it, so every
 * backend keeps the contract store.h states (statuses, durability, audit
 * rows, thread safety). A new store operation is added to store.h, to this
 * table and to every backend.
 */
#ifndef STORE_BACKEND_H
#define STORE_BACKEND_H

#include "store.h"

typedef struct store_backend {
	const char *name;  /* "sqlite", ... */
	/* 1 if this backend serves cfg->path (a file path, a URI, ...) */
	int (*accepts)(const char *path);
	int (*open)(const store_config *cfg, store **out, char *err, size_t errlen);
	void (*close)(store *s);
	int (*user_add)(store *s, const char *name, int64_t *id);
	int (*user_find)(store *s, const char *name, int64_t *id);
	int (*key_insert)(store *s, store_key *k, const unsigned char hash[STORE_HASH_LEN], const char *client,
	                  int64_t quota);
	int (*key_get_uuid)(store *s, int64_t user, int family, const char *uuid, store_key *out);
	int (*key_get_id)(store *s, int64_t user, int family, int64_t id, store_key *out);
	int (*key_get_name)(store *s, int64_t user, int family, const char *name, store_key *out);
	int (*key_by_hash)(store *s, const unsigned char hash[STORE_HASH_LEN], store_key *out,
	                   unsigned char stored[STORE_HASH_LEN]);
	int (*key_list)(store *s, int64_t user, int family, const char *name, int include_revoked, int64_t skip,
	                int64_t limit, store_key **out, size_t *n, int64_t *total);
	int (*key_page)(store *s, int64_t user, int family, int include_revoked, int64_t before_id, size_t limit,
	                store_key **out, size_t *n);
	int (*key_owner)(store *s, int64_t key_id, int64_t *user);
	int (*key_descendants)(store *s, int64_t key_id, int64_t **ids, size_t *n);
	int (*key_set_active)(store *s, int64_t key_id, int active, int64_t actor, const char *client);
	int (*key_revoke)(store *s, int64_t key_id, int64_t actor, const char *client);
	int (*key_delete)(store *s, int64_t key_id, int64_t actor, const char *client);
	int (*key_touch)(store *s, int64_t key_id, int64_t when);
	/* Optional: many keys' last_used at once (NULL: key_touch for each);
	   t[i].rc each one's, the first failure returned. */
	int (*keys_touch)(store *s, store_touch *t, size_t n);
	int (*key_update)(store *s, int64_t key_id, const store_key *k, unsigned fields, int64_t actor,
	                  const char *client);
	int (*key_use)(store *s, int64_t key_id, int64_t *left);
	int (*key_hashes)(store *s, int64_t after_id, int (*fn)(void *ctx, int64_t id, const unsigned char hash[STORE_HASH_LEN]),
	                  void *ctx);
	int (*reprepares)(store *s, int64_t *n);
	int (*audit_count)(store *s, int64_t key_id, const char *action, int64_t *n);
	/* optional (NULL: no epochs) */
	int (*epochs)(store *s, int64_t *seen, int64_t *current);
	int (*meta_get)(store *s, const char *name, char *value, size_t len);
	int (*meta_set)(store *s, const char *name, const char *value);
	int (*key_count)(store *s, int64_t *n);
	int (*ready)(store *s, unsigned timeout_ms, char *why, size_t len);
	int (*changed)(store *s);
	int (*user_list)(store *s, store_user **out, size_t *n);
	int (*audit_list)(store *s, int64_t since, int64_t after_id, size_t limit, store_audit **out, size_t *n);
	int (*key_rehash)(store *s, int64_t key_id, const unsigned char old_hash[STORE_HASH_LEN],
	                  const unsigned char new_hash[STORE_HASH_LEN], int64_t secret_id);
	int (*secret_counts)(store *s, store_secret_count **out, size_t *n);
	/* optional (NULL: the backend cannot; store.c says so) */
	int (*backup)(store *s, const char *path, char *why, size_t len);
	int (*restore)(store *s, const char *path, char *why, size_t len);
} store_backend;

struct store {
	const store_backend *be;
	store_log_fn log;        /* cfg->log, set by the backend's open first thing */
};

/* Reports one store error or warning (msg names the operation and the
 * cause) through s->log; at most STORE_LOG_BURST lines a second in all, the
 * lines left out counted in the next one logged. */
void store_report(store *s, int level, const char *msg);

/* A new key's uuid (random, version 4), for every backend. */
void store_new_uuid(char out[37]);

extern const store_backend store_sqlite_backend;
extern const store_backend store_pg_backend;

#endif

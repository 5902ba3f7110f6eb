/* store_fault.c — a store backend that wraps another and fails the calls a
 * test names: fault injection for tests/adversarial/storefail.sh.
 *
 * Built only into the test binary $(BUILD)/apikeyd-faults (with store.c
 * compiled -DSTORE_FAULTS, tests/adversarial/module.mk); build/apikeyd and
 * build/libkeysvc.a hold neither this file nor the code that reads
 * APIKEYD_STORE_FAULT, so no environment or configuration can turn it on
 * in production (storefail.sh checks the production binary for the name).
 *
 * APIKEYD_STORE_FAULT names a control file, read on every call; a missing or
 * empty file injects nothing. Its one line is `OPS KIND [SKIP]`:
 *   OPS   comma-separated operation names (key_delete, key_by_hash, ...;
 *         a list read page by page is key_list, a key's owner key_get),
 *         or read, write, all
 *   KIND  error (STORE_ERROR, as an I/O error or a read-only database),
 *         busy (STORE_UNAVAILABLE, "database is locked"),
 *         full (STORE_UNAVAILABLE, "database or disk is full")
 *   SKIP  matching calls to let through first (default 0: fail every one)
 * The skip count restarts whenever the file's text changes.
 */
#include "store_fault.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"

typedef struct store_fault {
	store base;
	store *inner;
	char *control;
	pthread_mutex_t lock;
	char last[256];          /* the control text the count belongs to */
	long seen;               /* matching calls since it changed */
} store_fault;

/* 0: let the call through; else the status to fail it with. */
static int store_fault_check(store *base, const char *op, int write)
{
	store_fault *f = (store_fault *)base;
	char text[256] = "", ops[200], kind[16], msg[300];
	long skip = 0;
	int rc = 0, n;
	FILE *fp = fopen(f->control, "r");

	if (fp) {
		if (!fgets(text, sizeof text, fp))
			text[0] = '\0';
		fclose(fp);
	}
	pthread_mutex_lock(&f->lock);
	if (strcmp(text, f->last) != 0) {
		snprintf(f->last, sizeof f->last, "%s", text);
		f->seen = 0;
	}
	n = sscanf(text, "%199s %15s %ld", ops, kind, &skip);
	if (n >= 2) {
		int match = strcmp(ops, "all") == 0 || (write && strcmp(ops, "write") == 0) ||
		            (!write && strcmp(ops, "read") == 0);
		for (char *save = NULL, *t = strtok_r(ops, ",", &save); t && !match; t = strtok_r(NULL, ",", &save))
			match = strcmp(t, op) == 0;
		if (match && f->seen++ >= skip)
			rc = strcmp(kind, "error") == 0 ? STORE_ERROR : STORE_UNAVAILABLE;
	}
	pthread_mutex_unlock(&f->lock);
	if (rc) {
		snprintf(msg, sizeof msg, "%s: %s (injected)", op,
		         strcmp(kind, "error") == 0 ? "disk I/O error" : strcmp(kind, "full") == 0 ? "database or disk is full"
		                                                                                 : "database is locked");
		store_report(base, STORE_LOG_ERROR, msg);
	}
	return rc;
}

#define FAULT(op, write) \
	store_fault *f = (store_fault *)base; \
	int frc = store_fault_check(base, #op, write); \
	if (frc) \
		return frc

static void store_fault_close(store *base)
{
	store_fault *f = (store_fault *)base;

	store_close(f->inner);
	free(f->control);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static int store_fault_user_add(store *base, const char *name, int64_t *id)
{
	FAULT(user_add, 1);
	return store_user_add(f->inner, name, id);
}

static int store_fault_user_find(store *base, const char *name, int64_t *id)
{
	FAULT(user_find, 0);
	return store_user_find(f->inner, name, id);
}

static int store_fault_key_insert(store *base, store_key *k, const unsigned char hash[STORE_HASH_LEN], const char *client,
                                  int64_t quota)
{
	FAULT(key_insert, 1);
	return store_key_insert(f->inner, k, hash, client, quota);
}

static int store_fault_key_get_uuid(store *base, int64_t user, int family, const char *uuid, store_key *out)
{
	FAULT(key_get, 0);
	return store_key_get_uuid(f->inner, user, family, uuid, out);
}

static int store_fault_key_get_id(store *base, int64_t user, int family, int64_t id, store_key *out)
{
	FAULT(key_get, 0);
	return store_key_get_id(f->inner, user, family, id, out);
}

static int store_fault_key_get_name(store *base, int64_t user, int family, const char *name, store_key *out)
{
	FAULT(key_get, 0);
	return store_key_get_name(f->inner, user, family, name, out);
}

static int store_fault_key_by_hash(store *base, const unsigned char hash[STORE_HASH_LEN], store_key *out,
                                   unsigned char stored[STORE_HASH_LEN])
{
	FAULT(key_by_hash, 0);
	return store_key_by_hash(f->inner, hash, out, stored);
}

static int store_fault_key_list(store *base, int64_t user, int family, const char *name, int include_revoked,
                                int64_t skip, int64_t limit, store_key **out, size_t *n, int64_t *total)
{
	*out = NULL;
	*n = 0;
	*total = 0;
	FAULT(key_list, 0);
	return store_key_list(f->inner, user, family, name, include_revoked, skip, limit, out, n, total);
}

static int store_fault_key_set_active(store *base, int64_t key_id, int active, int64_t actor, const char *client)
{
	FAULT(key_set_active, 1);
	return store_key_set_active(f->inner, key_id, active, actor, client);
}

static int store_fault_key_revoke(store *base, int64_t key_id, int64_t actor, const char *client)
{
	FAULT(key_revoke, 1);
	return store_key_revoke(f->inner, key_id, actor, client);
}

static int store_fault_key_delete(store *base, int64_t key_id, int64_t actor, const char *client)
{
	FAULT(key_delete, 1);
	return store_key_delete(f->inner, key_id, actor, client);
}

static int store_fault_key_touch(store *base, int64_t key_id, int64_t when)
{
	FAULT(key_touch, 1);
	return store_key_touch(f->inner, key_id, when);
}

static int store_fault_key_update(store *base, int64_t key_id, const store_key *k, unsigned fields, int64_t actor,
                                  const char *client)
{
	FAULT(key_update, 1);
	return store_key_update(f->inner, key_id, k, fields, actor, client);
}

static int store_fault_key_use(store *base, int64_t key_id, int64_t *left)
{
	FAULT(key_use, 1);
	return store_key_use(f->inner, key_id, left);
}

/* a list read page by page fails as key_list */
static int store_fault_key_page(store *base, int64_t user, int family, int include_revoked, int64_t before_id,
                                size_t limit, store_key **out, size_t *n)
{
	FAULT(key_list, 0);
	return store_key_page(f->inner, user, family, include_revoked, before_id, limit, out, n);
}

static int store_fault_key_owner(store *base, int64_t key_id, int64_t *user)
{
	FAULT(key_get, 0);
	return store_key_owner(f->inner, key_id, user);
}

static int store_fault_key_descendants(store *base, int64_t key_id, int64_t **ids, size_t *n)
{
	FAULT(key_descendants, 0);
	return store_key_descendants(f->inner, key_id, ids, n);
}

static int store_fault_key_hashes(store *base, int64_t after_id,
                                  int (*fn)(void *ctx, int64_t id, const unsigned char hash[STORE_HASH_LEN]), void *ctx)
{
	FAULT(key_hashes, 0);
	return store_key_hashes(f->inner, after_id, fn, ctx);
}

static int store_fault_reprepares(store *base, int64_t *n)
{
	store_fault *f = (store_fault *)base;
	return store_reprepares(f->inner, n);
}

static int store_fault_audit_count(store *base, int64_t key_id, const char *action, int64_t *n)
{
	store_fault *f = (store_fault *)base;
	return store_audit_count(f->inner, key_id, action, n);
}

static int store_fault_meta_get(store *base, const char *name, char *value, size_t len)
{
	FAULT(meta_get, 0);
	return store_meta_get(f->inner, name, value, len);
}

static int store_fault_meta_set(store *base, const char *name, const char *value)
{
	FAULT(meta_set, 1);
	return store_meta_set(f->inner, name, value);
}

static int store_fault_key_count(store *base, int64_t *n)
{
	FAULT(key_count, 0);
	return store_key_count(f->inner, n);
}

static int store_fault_ready(store *base, unsigned timeout_ms, char *why, size_t len)
{
	store_fault *f = (store_fault *)base;
	int rc = store_fault_check(base, "ready", 1);

	if (rc) {
		snprintf(why, len, "a write to the database fails (injected)");
		return rc;
	}
	return store_ready(f->inner, timeout_ms, why, len);
}

static int store_fault_changed(store *base)
{
	store_fault *f = (store_fault *)base;
	return store_changed(f->inner);
}

static int store_fault_user_list(store *base, store_user **out, size_t *n)
{
	FAULT(user_list, 0);
	return store_user_list(f->inner, out, n);
}

static int store_fault_audit_list(store *base, int64_t since, int64_t after_id, size_t limit, store_audit **out,
                                  size_t *n)
{
	FAULT(audit_list, 0);
	return store_audit_list(f->inner, since, after_id, limit, out, n);
}

static int store_fault_key_rehash(store *base, int64_t key_id, const unsigned char old_hash[STORE_HASH_LEN],
                                  const unsigned char new_hash[STORE_HASH_LEN], int64_t secret_id)
{
	FAULT(key_rehash, 1);
	return store_key_rehash(f->inner, key_id, old_hash, new_hash, secret_id);
}

static int store_fault_secret_counts(store *base, store_secret_count **out, size_t *n)
{
	FAULT(secret_counts, 0);
	return store_secret_counts(f->inner, out, n);
}

static int store_fault_backup(store *base, const char *path, char *why, size_t len)
{
	store_fault *f = (store_fault *)base;
	return store_backup(f->inner, path, why, len);
}

static int store_fault_restore(store *base, const char *path, char *why, size_t len)
{
	store_fault *f = (store_fault *)base;
	return store_restore(f->inner, path, why, len);
}

static int store_fault_accepts(const char *path)
{
	(void)path;
	return 0;   /* never chosen by a path: only store_fault_wrap makes one */
}

static const store_backend store_fault_backend = {
	.name = "fault",
	.accepts = store_fault_accepts,
	.close = store_fault_close,
	.user_add = store_fault_user_add,
	.user_find = store_fault_user_find,
	.key_insert = store_fault_key_insert,
	.key_get_uuid = store_fault_key_get_uuid,
	.key_get_id = store_fault_key_get_id,
	.key_get_name = store_fault_key_get_name,
	.key_by_hash = store_fault_key_by_hash,
	.key_list = store_fault_key_list,
	.key_set_active = store_fault_key_set_active,
	.key_revoke = store_fault_key_revoke,
	.key_delete = store_fault_key_delete,
	.key_touch = store_fault_key_touch,
	.key_update = store_fault_key_update,
	.key_use = store_fault_key_use,
	.key_page = store_fault_key_page,
	.key_owner = store_fault_key_owner,
	.key_descendants = store_fault_key_descendants,
	.key_hashes = store_fault_key_hashes,
	.reprepares = store_fault_reprepares,
	.audit_count = store_fault_audit_count,
	.meta_get = store_fault_meta_get,
	.meta_set = store_fault_meta_set,
	.key_count = store_fault_key_count,
	.ready = store_fault_ready,
	.changed = store_fault_changed,
	.user_list = store_fault_user_list,
	.audit_list = store_fault_audit_list,
	.key_rehash = store_fault_key_rehash,
	.secret_counts = store_fault_secret_counts,
	.backup = store_fault_backup,
	.restore = store_fault_restore,
};

int store_fault_wrap(store *inner, const char *control, store **out)
{
	store_fault *f = calloc(1, sizeof *f);

	*out = NULL;
	if (!f || !(f->control = strdup(control))) {
		free(f);
		return -1;
	}
	f->base.be = &store_fault_backend;
	f->inner = inner;
	pthread_mutex_init(&f->lock, NULL);
	*out = &f->base;
	return 0;
}

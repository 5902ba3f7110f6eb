/* store.c — the store interface: store_open picks the backend that serves
 * the configured path, and every other call goes through its table
 * (store_backend.h). */
#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <gnutls/crypto.h>
#include <stdlib.h>
#include <time.h>

#include "kmetrics.h"
#include "store_backend.h"
#ifdef STORE_FAULTS
#include "store_fault.h"
#endif

#define STORE_LOG_BURST 5

/* Returns call's result, its latency and failure counted for /metrics
   (kmetrics: atomics, no lock). */
#define STORE_TIMED(op, call) do { \
		struct timespec t0_; \
		clock_gettime(CLOCK_MONOTONIC, &t0_); \
		int rc_ = (call); \
		kmetrics_store((op), &t0_, rc_); \
		return rc_; \
	} while (0)

/* In order of preference; the last accepts any path (SQLite files). */
static const store_backend *const store_backends[] = {
	&store_pg_backend,
	&store_sqlite_backend,
};

static pthread_mutex_t store_log_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t store_log_second;
static unsigned store_log_lines;       /* logged in store_log_second */
static unsigned long store_log_dropped; /* left out since the last line logged */

void store_report(store *s, int level, const char *msg)
{
	time_t now = time(NULL);
	unsigned long dropped = 0;
	int emit;
	char line[700];

	pthread_mutex_lock(&store_log_lock);
	if (now != store_log_second) {
		store_log_second = now;
		store_log_lines = 0;
	}
	emit = store_log_lines < STORE_LOG_BURST;
	if (emit) {
		store_log_lines++;
		dropped = store_log_dropped;
		store_log_dropped = 0;
	} else {
		store_log_dropped++;
	}
	pthread_mutex_unlock(&store_log_lock);
	if (!emit)
		return;
	if (dropped)
		snprintf(line, sizeof line, "key store: %s (%lu more store errors not logged)", msg, dropped);
	else
		snprintf(line, sizeof line, "key store: %s", msg);
	if (s && s->log)
		s->log(level, line);
	else
		fprintf(stderr, "apikeyd: %s\n", line);
}

static int store_open_backend(const store_config *cfg, store **out, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof store_backends / sizeof store_backends[0]; i++)
		if (store_backends[i]->accepts(cfg->path))
			return store_backends[i]->open(cfg, out, err, errlen);
	snprintf(err, errlen, "%s: no store backend serves this path", cfg->path);
	return -1;
}

int store_open(const store_config *cfg, store **out, char *err, size_t errlen)
{
	*out = NULL;
	if (store_open_backend(cfg, out, err, errlen) != 0)
		return -1;
#ifdef STORE_FAULTS
	{
		const char *control = getenv("APIKEYD_STORE_FAULT");
		store *inner = *out;
		if (control && *control) {
			if (store_fault_wrap(inner, control, out) != 0) {
				store_close(inner);
				*out = NULL;
				snprintf(err, errlen, "out of memory for the fault-injection store");
				return -1;
			}
			(*out)->log = cfg->log;
			store_report(*out, STORE_LOG_WARNING, "fault injection is on (a test build; APIKEYD_STORE_FAULT)");
		}
	}
#endif
	return 0;
}

void store_close(store *s)
{
	if (s)
		s->be->close(s);
}

int store_user_add(store *s, const char *name, int64_t *id)
{
	return s->be->user_add(s, name, id);
}

int store_user_find(store *s, const char *name, int64_t *id)
{
	return s->be->user_find(s, name, id);
}

int store_key_insert(store *s, store_key *k, const unsigned char hash[STORE_HASH_LEN], const char *client,
                     int64_t quota)
{
	STORE_TIMED(KMETRICS_STORE_WRITE, s->be->key_insert(s, k, hash, client, quota));
}

int store_key_get_uuid(store *s, int64_t user, int family, const char *uuid, store_key *out)
{
	STORE_TIMED(KMETRICS_STORE_READ, s->be->key_get_uuid(s, user, family, uuid, out));
}

int store_key_get_id(store *s, int64_t user, int family, int64_t id, store_key *out)
{
	STORE_TIMED(KMETRICS_STORE_READ, s->be->key_get_id(s, user, family, id, out));
}

int store_key_get_name(store *s, int64_t user, int family, const char *name, store_key *out)
{
	STORE_TIMED(KMETRICS_STORE_READ, s->be->key_get_name(s, user, family, name, out));
}

int store_key_by_hash(store *s, const unsigned char hash[STORE_HASH_LEN], store_key *out,
                      unsigned char stored[STORE_HASH_LEN])
{
	STORE_TIMED(KMETRICS_STORE_LOOKUP, s->be->key_by_hash(s, hash, out, stored));
}

int store_key_list(store *s, int64_t user, int family, const char *name, int include_revoked, int64_t skip,
                   int64_t limit, store_key **out, size_t *n, int64_t *total)
{
	STORE_TIMED(KMETRICS_STORE_READ, s->be->key_list(s, user, family, name, include_revoked, skip, limit, out, n, total));
}

int store_key_set_active(store *s, int64_t key_id, int active, int64_t actor, const char *client)
{
	STORE_TIMED(KMETRICS_STORE_WRITE, s->be->key_set_active(s, key_id, active, actor, client));
}

int store_key_revoke(store *s, int64_t key_id, int64_t actor, const char *client)
{
	STORE_TIMED(KMETRICS_STORE_WRITE, s->be->key_revoke(s, key_id, actor, client));
}

int store_key_delete(store *s, int64_t key_id, int64_t actor, const char *client)
{
	STORE_TIMED(KMETRICS_STORE_WRITE, s->be->key_delete(s, key_id, actor, client));
}

int store_key_touch(store *s, int64_t key_id, int64_t when)
{
	STORE_TIMED(KMETRICS_STORE_WRITE, s->be->key_touch(s, key_id, when));
}

static int store_keys_touch_each(store *s, store_touch *t, size_t n)
{
	int rc = STORE_OK;

	for (size_t i = 0; i < n; i++)
		if ((t[i].rc = s->be->key_touch(s, t[i].key_id, t[i].when)) != STORE_OK && rc == STORE_OK)
			rc = t[i].rc;
	return rc;
}

int store_keys_touch(store *s, store_touch *t, size_t n)
{
	STORE_TIMED(KMETRICS_STORE_WRITE, s->be->keys_touch ? s->be->keys_touch(s, t, n) : store_keys_touch_each(s, t, n));
}

int store_key_update(store *s, int64_t key_id, const store_key *k, unsigned fields, int64_t actor,
                     const char *client)
{
	return s->be->key_update(s, key_id, k, fields, actor, client);
}

int store_key_use(store *s, int64_t key_id, int64_t *left)
{
	return s->be->key_use(s, key_id, left);
}

int store_reprepares(store *s, int64_t *n)
{
	return s->be->reprepares(s, n);
}

int store_audit_count(store *s, int64_t key_id, const char *action, int64_t *n)
{
	return s->be->audit_count(s, key_id, action, n);
}

int store_epochs(store *s, int64_t *seen, int64_t *current)
{
	return s->be->epochs ? s->be->epochs(s, seen, current) : STORE_NOT_FOUND;
}

const char *store_backend_name(const store *s)
{
	return s->be->name;
}

const char *store_backend_for(const char *path)
{
	for (size_t i = 0; i < sizeof store_backends / sizeof store_backends[0]; i++)
		if (store_backends[i]->accepts(path))
			return store_backends[i]->name;
	return NULL;
}

int store_key_hashes(store *s, int64_t after_id, int (*fn)(void *ctx, int64_t id, const unsigned char hash[STORE_HASH_LEN]),
                     void *ctx)
{
	return s->be->key_hashes(s, after_id, fn, ctx);
}

int store_key_page(store *s, int64_t user, int family, int include_revoked, int64_t before_id, size_t limit,
                   store_key **out, size_t *n)
{
	STORE_TIMED(KMETRICS_STORE_READ, s->be->key_page(s, user, family, include_revoked, before_id, limit, out, n));
}

int store_key_owner(store *s, int64_t key_id, int64_t *user)
{
	return s->be->key_owner(s, key_id, user);
}

int store_key_descendants(store *s, int64_t key_id, int64_t **ids, size_t *n)
{
	return s->be->key_descendants(s, key_id, ids, n);
}

int store_meta_get(store *s, const char *name, char *value, size_t len)
{
	return s->be->meta_get(s, name, value, len);
}

int store_meta_set(store *s, const char *name, const char *value)
{
	return s->be->meta_set(s, name, value);
}

int store_key_count(store *s, int64_t *n)
{
	return s->be->key_count(s, n);
}

int store_ready(store *s, unsigned timeout_ms, char *why, size_t len)
{
	return s->be->ready(s, timeout_ms, why, len);
}

int store_changed(store *s)
{
	return s->be->changed(s);
}

void store_new_uuid(char out[37])
{
	unsigned char b[16];

	gnutls_rnd(GNUTLS_RND_NONCE, b, sizeof b);
	b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);   /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);   /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
	         b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

int store_user_list(store *s, store_user **out, size_t *n)
{
	return s->be->user_list(s, out, n);
}

int store_audit_list(store *s, int64_t since, int64_t after_id, size_t limit, store_audit **out, size_t *n)
{
	return s->be->audit_list(s, since, after_id, limit, out, n);
}

int store_key_rehash(store *s, int64_t key_id, const unsigned char old_hash[STORE_HASH_LEN],
                     const unsigned char new_hash[STORE_HASH_LEN], int64_t secret_id)
{
	return s->be->key_rehash(s, key_id, old_hash, new_hash, secret_id);
}

int store_secret_counts(store *s, store_secret_count **out, size_t *n)
{
	return s->be->secret_counts(s, out, n);
}

int store_backup(store *s, const char *path, char *why, size_t len)
{
	if (s->be->backup)
		return s->be->backup(s, path, why, len);
	snprintf(why, len, "the %s store backend has no online backup", s->be->name);
	return STORE_NOT_FOUND;
}

int store_restore(store *s, const char *path, char *why, size_t len)
{
	if (s->be->restore)
		return s->be->restore(s, path, why, len);
	snprintf(why, len, "the %s store backend has no restore", s->be->name);
	return STORE_NOT_FOUND;
}

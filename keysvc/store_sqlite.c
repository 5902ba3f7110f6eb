/* store_sqlite.c — the SQLite store backend (the embedded default), with group commit. */
#include "store_backend.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sqlite3.h>

#define STORE_SCHEMA_VERSION 3

static const char *const store_sqlite_migrations[] = {
	/* 1 */
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE keys ("
	"  id INTEGER PRIMARY KEY,"
	"  uuid TEXT NOT NULL UNIQUE,"
	"  user_id INTEGER NOT NULL REFERENCES users(id),"
	"  family INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  description TEXT,"
	"  role TEXT NOT NULL DEFAULT '',"
	"  prefix TEXT NOT NULL,"
	"  tail TEXT NOT NULL,"
	"  hash BLOB NOT NULL,"
	"  active INTEGER NOT NULL DEFAULT 1,"
	"  revoked INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  last_used INTEGER);"
	"CREATE UNIQUE INDEX keys_hash ON keys(hash);"
	"CREATE INDEX keys_owner ON keys(user_id, family, id);"
	/* Feldera (family 1) addresses keys by name: unique per owner */
	"CREATE UNIQUE INDEX keys_feldera_name ON keys(user_id, name) WHERE family = 1;"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  actor INTEGER,"
	"  key_id INTEGER,"
	"  action TEXT NOT NULL,"
	"  client TEXT);"
	"CREATE INDEX audit_key ON audit(key_id, action);",
	/* 2: key ids are never reused (AUTOINCREMENT), so an audit row names one
	 * key forever and a NebulaBlock id of a deleted key never comes back;
	 * the sequence starts past every id the audit table has seen. */
	"CREATE TABLE keys2 ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  uuid TEXT NOT NULL UNIQUE,"
	"  user_id INTEGER NOT NULL REFERENCES users(id),"
	"  family INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  description TEXT,"
	"  role TEXT NOT NULL DEFAULT '',"
	"  prefix TEXT NOT NULL,"
	"  tail TEXT NOT NULL,"
	"  hash BLOB NOT NULL,"
	"  active INTEGER NOT NULL DEFAULT 1,"
	"  revoked INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  last_used INTEGER);"
	"INSERT INTO keys2 SELECT id, uuid, user_id, family, name, description, role, prefix, tail, hash, active,"
	"  revoked, created, last_used FROM keys;"
	"DROP TABLE keys;"
	"ALTER TABLE keys2 RENAME TO keys;"
	"CREATE UNIQUE INDEX keys_hash ON keys(hash);"
	"CREATE INDEX keys_owner ON keys(user_id, family, id);"
	"CREATE UNIQUE INDEX keys_feldera_name ON keys(user_id, name) WHERE family = 1;"
	"DELETE FROM sqlite_sequence WHERE name = 'keys';"
	"INSERT INTO sqlite_sequence(name, seq) SELECT 'keys', max(coalesce((SELECT max(id) FROM keys), 0),"
	"  coalesce((SELECT max(key_id) FROM audit), 0));",
	/* 3: which key made which: parent_id is the key whose holder created this
	 * one (NULL: the CLI, a JWT), for lists of what a key minted and cascade
	 * revocation; keys_user walks an owner's keys of every family in id order
	 * (lists across families, the quota's count). */
	"ALTER TABLE keys ADD COLUMN parent_id INTEGER;"
	"CREATE INDEX keys_parent ON keys(parent_id);"
	"CREATE INDEX keys_user ON keys(user_id, id);",
};

enum {
	Q_USER_ADD, Q_USER_FIND, Q_KEY_INSERT, Q_AUDIT, Q_GET_UUID, Q_GET_ID, Q_GET_NAME, Q_BY_HASH,
	Q_LIST, Q_COUNT, Q_SET_ACTIVE, Q_REVOKE, Q_DELETE, Q_TOUCH, Q_AUDIT_COUNT, Q_HASHES, Q_QUOTA, Q_LIST_ALL, Q_COUNT_ALL, Q_PAGE,
	Q_PAGE_ALL, Q_OWNER, Q_DESCENDANTS, Q_REPARENT, Q_N
};

/* `family = +?`, never `family = ?`: a bare parameter compared with family
   could make the partial index keys_feldera_name (WHERE family = 1) usable, so
   SQLite marks it plan-sensitive and re-prepares the statement on every bind
   (a full parse and plan per list request). The unary plus keeps the value
   out of that match; the plan (keys_owner, user_id and family) is the same.
   store_sqlite_reprepares() counts what slips through; the tests want 0.
   The _ALL statements (every family) keep the family parameter, as
   `+? < 0`, so both take the same binds. */
#define STORE_KEY_COLS "id, uuid, user_id, family, name, description, role, prefix, tail, active, revoked, created, last_used," \
                       " parent_id"

static const char *const store_sqlite_sql[Q_N] = {
	[Q_USER_ADD] = "INSERT INTO users(name, created) VALUES (?, ?)",
	[Q_USER_FIND] = "SELECT id FROM users WHERE name = ?",
	[Q_KEY_INSERT] = "INSERT INTO keys(uuid, user_id, family, name, description, role, prefix, tail, hash, created,"
	                 " parent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[Q_AUDIT] = "INSERT INTO audit(at, actor, key_id, action, client) VALUES (?, ?, ?, ?, ?)",
	[Q_GET_UUID] = "SELECT " STORE_KEY_COLS " FROM keys WHERE user_id = ? AND (? < 0 OR family = ?) AND uuid = ?",
	[Q_GET_ID] = "SELECT " STORE_KEY_COLS " FROM keys WHERE user_id = ? AND (? < 0 OR family = ?) AND id = ?",
	[Q_GET_NAME] = "SELECT " STORE_KEY_COLS " FROM keys WHERE user_id = ? AND (? < 0 OR family = ?) AND name = ?"
	               " ORDER BY id LIMIT 1",
	[Q_BY_HASH] = "SELECT " STORE_KEY_COLS ", hash FROM keys WHERE hash = ?",
	[Q_LIST] = "SELECT " STORE_KEY_COLS " FROM keys WHERE user_id = ? AND family = +? AND (? IS NULL OR name = ?)"
	           " AND (? OR revoked = 0) ORDER BY id DESC LIMIT ? OFFSET ?",
	[Q_COUNT] = "SELECT count(*) FROM keys WHERE user_id = ? AND family = +? AND (? IS NULL OR name = ?)"
	            " AND (? OR revoked = 0)",
	[Q_SET_ACTIVE] = "UPDATE keys SET active = ? WHERE id = ?",
	[Q_REVOKE] = "UPDATE keys SET active = 0, revoked = 1 WHERE id = ? AND revoked = 0",
	[Q_DELETE] = "DELETE FROM keys WHERE id = ?",
	[Q_TOUCH] = "UPDATE keys SET last_used = ? WHERE id = ? AND (last_used IS NULL OR last_used < ?)",
	[Q_AUDIT_COUNT] = "SELECT count(*) FROM audit WHERE key_id = ? AND action = ?",
	[Q_HASHES] = "SELECT id, hash FROM keys WHERE id > ? ORDER BY id",
	[Q_QUOTA] = "SELECT count(*) FROM (SELECT 1 FROM keys WHERE user_id = ? AND revoked = 0 LIMIT ?)",
	[Q_LIST_ALL] = "SELECT " STORE_KEY_COLS " FROM keys WHERE user_id = ? AND +? < 0 AND (? IS NULL OR name = ?)"
	               " AND (? OR revoked = 0) ORDER BY id DESC LIMIT ? OFFSET ?",
	[Q_COUNT_ALL] = "SELECT count(*) FROM keys WHERE user_id = ? AND +? < 0 AND (? IS NULL OR name = ?)"
	                " AND (? OR revoked = 0)",
	[Q_PAGE] = "SELECT " STORE_KEY_COLS " FROM keys WHERE user_id = ? AND family = +? AND (? OR revoked = 0) AND id < ?"
	           " ORDER BY id DESC LIMIT ?",
	[Q_PAGE_ALL] = "SELECT " STORE_KEY_COLS " FROM keys WHERE user_id = ? AND +? < 0 AND (? OR revoked = 0) AND id < ?"
	               " ORDER BY id DESC LIMIT ?",
	[Q_OWNER] = "SELECT user_id FROM keys WHERE id = ?",
	[Q_DESCENDANTS] = "WITH RECURSIVE t(id) AS (SELECT id FROM keys WHERE parent_id = ?1"
	                  " UNION SELECT k.id FROM keys k JOIN t ON k.parent_id = t.id)"
	                  " SELECT keys.id FROM keys JOIN t ON keys.id = t.id WHERE keys.revoked = 0",
	[Q_REPARENT] = "UPDATE keys SET parent_id = (SELECT parent_id FROM keys WHERE id = ?1) WHERE parent_id = ?1",
};

/* Read connections: WAL lets readers run beside the writer and each other. */
#define STORE_READERS 8

typedef struct store_sqlite_reader {
	sqlite3 *db;
	sqlite3_stmt *st[Q_N];
	pthread_mutex_t lock;
} store_sqlite_reader;

typedef struct store_sqlite_job {
	store_key *k;
	const unsigned char *hash;
	const char *client;
	int64_t quota;
	int rc;
	int done;
	struct store_sqlite_job *next;
} store_sqlite_job;

typedef struct store_sqlite {
	store base;              /* first: the handle keysvc holds */
	sqlite3 *w;
	sqlite3_stmt *ws[Q_N];
	int memory;
	int group;
	pthread_mutex_t lock;      /* queue, writer token */
	pthread_cond_t cond;
	store_sqlite_job *head, *tail;
	int writing;               /* someone holds the write connection */
	store_sqlite_reader readers[STORE_READERS]; /* file databases */
	store_sqlite_reader memreader;    /* :memory: reads use the write connection */
	unsigned next_reader;
} store_sqlite;

static int64_t store_sqlite_now(void)
{
	return (int64_t)time(NULL);
}

static int store_sqlite_prepare_all(sqlite3 *db, sqlite3_stmt **st, char *err, size_t errlen)
{
	for (int i = 0; i < Q_N; i++) {
		if (sqlite3_prepare_v3(db, store_sqlite_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "cannot prepare a statement: %s", sqlite3_errmsg(db));
			return -1;
		}
	}
	return 0;
}

static int store_sqlite_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int store_sqlite_migrate(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int version = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "the database has schema version %d, newer than this program's %d", version,
		         STORE_SCHEMA_VERSION);
		return -1;
	}
	for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
		char sql[64];
		if (store_sqlite_exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
			return -1;
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
		if (store_sqlite_exec(db, store_sqlite_migrations[v], err, errlen) != 0 || store_sqlite_exec(db, sql, err, errlen) != 0) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		if (store_sqlite_exec(db, "COMMIT", err, errlen) != 0)
			return -1;
	}
	return 0;
}

static int store_sqlite_open_db(const char *path, int memory, int sync_full, sqlite3 **db, char *err, size_t errlen)
{
	char pragmas[200];

	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, *db ? sqlite3_errmsg(*db) : "cannot open");
		return -1;
	}
	sqlite3_busy_timeout(*db, 10000);
	snprintf(pragmas, sizeof pragmas, "%sPRAGMA synchronous = %s; PRAGMA foreign_keys = ON;",
	         memory ? "" : "PRAGMA journal_mode = WAL; ", sync_full ? "FULL" : "NORMAL");
	return store_sqlite_exec(*db, pragmas, err, errlen);
}

static void store_sqlite_close(store *base);

static int store_sqlite_open(const store_config *cfg, store **out, char *err, size_t errlen)
{
	store_sqlite *s = calloc(1, sizeof *s);

	*out = NULL;
	if (!s)
		return -1;
	s->base.be = &store_sqlite_backend;
	s->memory = strcmp(cfg->path, ":memory:") == 0;
	s->group = cfg->group_commit;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (store_sqlite_open_db(cfg->path, s->memory, cfg->synchronous_full, &s->w, err, errlen) != 0 ||
	    store_sqlite_migrate(s->w, err, errlen) != 0 || store_sqlite_prepare_all(s->w, s->ws, err, errlen) != 0)
		goto fail;
	if (s->memory) {
		s->memreader.db = s->w;
		memcpy(s->memreader.st, s->ws, sizeof s->memreader.st);
	} else {
		for (int i = 0; i < STORE_READERS; i++) {
			pthread_mutex_init(&s->readers[i].lock, NULL);
			if (store_sqlite_open_db(cfg->path, 0, cfg->synchronous_full, &s->readers[i].db, err, errlen) != 0 ||
			    store_sqlite_prepare_all(s->readers[i].db, s->readers[i].st, err, errlen) != 0)
				goto fail;
		}
	}
	*out = &s->base;
	return 0;
fail:
	store_sqlite_close(&s->base);
	return -1;
}

static void store_sqlite_close(store *base)
{
	store_sqlite *s = (store_sqlite *)base;
	if (!s)
		return;
	for (int i = 0; i < Q_N; i++)
		sqlite3_finalize(s->ws[i]);
	for (int r = 0; !s->memory && r < STORE_READERS; r++) {
		for (int i = 0; i < Q_N; i++)
			sqlite3_finalize(s->readers[r].st[i]);
		sqlite3_close(s->readers[r].db);
		pthread_mutex_destroy(&s->readers[r].lock);
	}
	sqlite3_close(s->w);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

/* ---- the writer token: one thread at a time uses the write connection ---- */

static void store_sqlite_write_begin(store_sqlite *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->writing)
		pthread_cond_wait(&s->cond, &s->lock);
	s->writing = 1;
	pthread_mutex_unlock(&s->lock);
}

static void store_sqlite_write_end(store_sqlite *s)
{
	pthread_mutex_lock(&s->lock);
	s->writing = 0;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Reads: one of the read connections, each thread keeping to its own (or,
 * in memory, the write connection). */
static store_sqlite_reader *store_sqlite_read_begin(store_sqlite *s)
{
	static __thread unsigned mine = ~0u;
	store_sqlite_reader *rd;

	if (s->memory) {
		store_sqlite_write_begin(s);
		return &s->memreader;
	}
	if (mine == ~0u)
		mine = __atomic_fetch_add(&s->next_reader, 1, __ATOMIC_RELAXED);
	rd = &s->readers[mine % STORE_READERS];
	pthread_mutex_lock(&rd->lock);
	return rd;
}

static void store_sqlite_read_end(store_sqlite *s, store_sqlite_reader *rd, sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (s->memory)
		store_sqlite_write_end(s);
	else
		pthread_mutex_unlock(&rd->lock);
}

static int store_sqlite_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	return rc == SQLITE_CONSTRAINT ? STORE_CONSTRAINT : STORE_ERROR;
}

static int store_sqlite_audit(store_sqlite *s, int64_t actor, int64_t key_id, const char *action, const char *client)
{
	sqlite3_stmt *st = s->ws[Q_AUDIT];

	sqlite3_bind_int64(st, 1, store_sqlite_now());
	sqlite3_bind_int64(st, 2, actor);
	sqlite3_bind_int64(st, 3, key_id);
	sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, client ? client : "", -1, SQLITE_STATIC);
	return store_sqlite_step_done(st);
}

/* ---- users ---- */

static int store_sqlite_user_add(store *base, const char *name, int64_t *id)
{
	store_sqlite *s = (store_sqlite *)base;
	sqlite3_stmt *st = s->ws[Q_USER_ADD];
	int rc;

	store_sqlite_write_begin(s);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, store_sqlite_now());
	rc = store_sqlite_step_done(st);
	if (rc == STORE_OK)
		*id = sqlite3_last_insert_rowid(s->w);
	store_sqlite_write_end(s);
	return rc;
}

static int store_sqlite_user_find(store *base, const char *name, int64_t *id)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd = store_sqlite_read_begin(s);
	sqlite3_stmt *st = rd->st[Q_USER_FIND];
	int rc = STORE_NOT_FOUND;

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		rc = STORE_OK;
	}
	store_sqlite_read_end(s, rd, st);
	return rc;
}

/* ---- keys ---- */

static void store_sqlite_copy(char *dst, size_t len, const unsigned char *src)
{
	snprintf(dst, len, "%s", src ? (const char *)src : "");
}

static void store_sqlite_row(sqlite3_stmt *st, store_key *k)
{
	memset(k, 0, sizeof *k);
	k->id = sqlite3_column_int64(st, 0);
	store_sqlite_copy(k->uuid, sizeof k->uuid, sqlite3_column_text(st, 1));
	k->user_id = sqlite3_column_int64(st, 2);
	k->family = sqlite3_column_int(st, 3);
	store_sqlite_copy(k->name, sizeof k->name, sqlite3_column_text(st, 4));
	k->has_description = sqlite3_column_type(st, 5) != SQLITE_NULL;
	store_sqlite_copy(k->description, sizeof k->description, sqlite3_column_text(st, 5));
	store_sqlite_copy(k->role, sizeof k->role, sqlite3_column_text(st, 6));
	store_sqlite_copy(k->prefix, sizeof k->prefix, sqlite3_column_text(st, 7));
	store_sqlite_copy(k->tail, sizeof k->tail, sqlite3_column_text(st, 8));
	k->active = sqlite3_column_int(st, 9);
	k->revoked = sqlite3_column_int(st, 10);
	k->created = sqlite3_column_int64(st, 11);
	k->last_used = sqlite3_column_type(st, 12) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 12);
	k->parent_id = sqlite3_column_type(st, 13) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 13);
}

static void store_sqlite_new_uuid(char out[37])
{
	unsigned char b[16];

	gnutls_rnd(GNUTLS_RND_NONCE, b, sizeof b);
	b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
	         b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* One insert inside the current transaction, under its own savepoint so a
 * constraint failure does not undo the others of the group. */
static int store_sqlite_insert_one(store_sqlite *s, store_sqlite_job *j)
{
	sqlite3_stmt *st = s->ws[Q_KEY_INSERT];
	store_key *k = j->k;
	int rc;

	if (sqlite3_exec(s->w, "SAVEPOINT one", NULL, NULL, NULL) != SQLITE_OK)
		return STORE_ERROR;
	if (j->quota > 0) {
		sqlite3_stmt *q = s->ws[Q_QUOTA];
		int64_t held = -1;
		sqlite3_bind_int64(q, 1, k->user_id);
		sqlite3_bind_int64(q, 2, j->quota);
		if (sqlite3_step(q) == SQLITE_ROW)
			held = sqlite3_column_int64(q, 0);
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		if (held < 0 || held >= j->quota) {
			sqlite3_exec(s->w, "ROLLBACK TO one; RELEASE one", NULL, NULL, NULL);
			return held < 0 ? STORE_ERROR : STORE_QUOTA;
		}
	}
	store_sqlite_new_uuid(k->uuid);
	k->created = store_sqlite_now();
	sqlite3_bind_text(st, 1, k->uuid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, k->user_id);
	sqlite3_bind_int(st, 3, k->family);
	sqlite3_bind_text(st, 4, k->name, -1, SQLITE_STATIC);
	if (k->has_description)
		sqlite3_bind_text(st, 5, k->description, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, k->role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, k->prefix, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, k->tail, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 9, j->hash, STORE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, k->created);
	if (k->parent_id > 0)
		sqlite3_bind_int64(st, 11, k->parent_id);
	rc = store_sqlite_step_done(st);
	if (rc == STORE_OK) {
		k->id = sqlite3_last_insert_rowid(s->w);
		k->active = 1;
		rc = store_sqlite_audit(s, k->user_id, k->id, "create", j->client);
	}
	sqlite3_exec(s->w, rc == STORE_OK ? "RELEASE one" : "ROLLBACK TO one; RELEASE one", NULL, NULL, NULL);
	return rc;
}

static int store_sqlite_key_insert(store *base, store_key *k, const unsigned char hash[STORE_HASH_LEN], const char *client,
                                   int64_t quota)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_job me = { .k = k, .hash = hash, .client = client, .quota = quota };

	pthread_mutex_lock(&s->lock);
	if (s->tail)
		s->tail->next = &me;
	else
		s->head = &me;
	s->tail = &me;
	while (!me.done) {
		if (s->writing) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		/* lead: take the queue (or, without group commit, only the first job) */
		store_sqlite_job *batch = s->head, *j;
		if (s->group) {
			s->head = s->tail = NULL;
		} else {
			s->head = batch->next;
			if (!s->head)
				s->tail = NULL;
			batch->next = NULL;
		}
		s->writing = 1;
		pthread_mutex_unlock(&s->lock);

		int ok = sqlite3_exec(s->w, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
		for (j = batch; j; j = j->next)
			j->rc = ok ? store_sqlite_insert_one(s, j) : STORE_ERROR;
		if (ok && sqlite3_exec(s->w, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			sqlite3_exec(s->w, "ROLLBACK", NULL, NULL, NULL);
			for (j = batch; j; j = j->next)
				j->rc = STORE_ERROR;
		}

		pthread_mutex_lock(&s->lock);
		for (j = batch; j;) {
			store_sqlite_job *next = j->next;
			j->done = 1;
			j = next;
		}
		s->writing = 0;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return me.rc;
}

static int store_sqlite_get(store_sqlite *s, int q, int64_t user, int family, const char *text, int64_t num, store_key *out)
{
	store_sqlite_reader *rd = store_sqlite_read_begin(s);
	sqlite3_stmt *st = rd->st[q];
	int rc = STORE_NOT_FOUND;

	sqlite3_bind_int64(st, 1, user);
	sqlite3_bind_int(st, 2, family);
	sqlite3_bind_int(st, 3, family);
	if (text)
		sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 4, num);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		store_sqlite_row(st, out);
		rc = STORE_OK;
	} else if (r != SQLITE_DONE) {
		rc = STORE_ERROR;
	}
	store_sqlite_read_end(s, rd, st);
	return rc;
}

static int store_sqlite_key_get_uuid(store *base, int64_t user, int family, const char *uuid, store_key *out)
{
	store_sqlite *s = (store_sqlite *)base;
	return store_sqlite_get(s, Q_GET_UUID, user, family, uuid, 0, out);
}

static int store_sqlite_key_get_id(store *base, int64_t user, int family, int64_t id, store_key *out)
{
	store_sqlite *s = (store_sqlite *)base;
	return store_sqlite_get(s, Q_GET_ID, user, family, NULL, id, out);
}

static int store_sqlite_key_get_name(store *base, int64_t user, int family, const char *name, store_key *out)
{
	store_sqlite *s = (store_sqlite *)base;
	return store_sqlite_get(s, Q_GET_NAME, user, family, name, 0, out);
}

static int store_sqlite_key_by_hash(store *base, const unsigned char hash[STORE_HASH_LEN], store_key *out,
                      unsigned char stored[STORE_HASH_LEN])
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd = store_sqlite_read_begin(s);
	sqlite3_stmt *st = rd->st[Q_BY_HASH];
	int rc = STORE_NOT_FOUND;
	int r;

	sqlite3_bind_blob(st, 1, hash, STORE_HASH_LEN, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		store_sqlite_row(st, out);
		if (sqlite3_column_bytes(st, 14) == STORE_HASH_LEN)
			memcpy(stored, sqlite3_column_blob(st, 14), STORE_HASH_LEN);
		else
			memset(stored, 0, STORE_HASH_LEN);
		rc = STORE_OK;
	} else if (r != SQLITE_DONE) {
		rc = STORE_ERROR;
	}
	store_sqlite_read_end(s, rd, st);
	return rc;
}

static int store_sqlite_key_list(store *base, int64_t user, int family, const char *name, int include_revoked,
                   int64_t skip, int64_t limit, store_key **out, size_t *n, int64_t *total)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd = store_sqlite_read_begin(s);
	sqlite3_stmt *st = rd->st[family < 0 ? Q_COUNT_ALL : Q_COUNT];
	store_key *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = STORE_OK;

	*out = NULL;
	*n = 0;
	*total = 0;
	sqlite3_bind_int64(st, 1, user);
	sqlite3_bind_int(st, 2, family);
	if (name) {
		sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int(st, 5, include_revoked);
	/* a whole list (no skip, no limit) is its own total: no count query */
	if ((skip > 0 || limit >= 0) && sqlite3_step(st) == SQLITE_ROW)
		*total = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	/* the same read lock for the page */
	st = rd->st[family < 0 ? Q_LIST_ALL : Q_LIST];
	sqlite3_bind_int64(st, 1, user);
	sqlite3_bind_int(st, 2, family);
	if (name) {
		sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int(st, 5, include_revoked);
	sqlite3_bind_int64(st, 6, limit < 0 ? -1 : limit);
	sqlite3_bind_int64(st, 7, skip);
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			store_key *nv = realloc(v, cap * sizeof *v);
			if (!nv) {
				rc = STORE_ERROR;
				break;
			}
			v = nv;
		}
		store_sqlite_row(st, &v[cnt++]);
	}
	if (r != SQLITE_DONE && r != SQLITE_ROW)
		rc = STORE_ERROR;
	store_sqlite_read_end(s, rd, st);
	if (rc != STORE_OK) {
		free(v);
		return rc;
	}
	if (skip <= 0 && limit < 0)
		*total = (int64_t)cnt;
	*out = v;
	*n = cnt;
	return STORE_OK;
}

static int store_sqlite_key_page(store *base, int64_t user, int family, int include_revoked, int64_t before_id,
                                 size_t limit, store_key **out, size_t *n)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd;
	sqlite3_stmt *st;
	store_key *v;
	size_t cnt = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (limit == 0)
		return STORE_OK;
	v = malloc(limit * sizeof *v);
	if (!v)
		return STORE_ERROR;
	rd = store_sqlite_read_begin(s);
	st = rd->st[family < 0 ? Q_PAGE_ALL : Q_PAGE];
	sqlite3_bind_int64(st, 1, user);
	sqlite3_bind_int(st, 2, family);
	sqlite3_bind_int(st, 3, include_revoked);
	sqlite3_bind_int64(st, 4, before_id > 0 ? before_id : INT64_MAX);
	sqlite3_bind_int64(st, 5, (int64_t)limit);
	while (cnt < limit && (r = sqlite3_step(st)) == SQLITE_ROW)
		store_sqlite_row(st, &v[cnt++]);
	if (cnt < limit && r != SQLITE_DONE) {
		store_sqlite_read_end(s, rd, st);
		free(v);
		return STORE_ERROR;
	}
	store_sqlite_read_end(s, rd, st);
	if (cnt == 0) {
		free(v);
		v = NULL;
	}
	*out = v;
	*n = cnt;
	return STORE_OK;
}

static int store_sqlite_key_owner(store *base, int64_t key_id, int64_t *user)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd = store_sqlite_read_begin(s);
	sqlite3_stmt *st = rd->st[Q_OWNER];
	int rc = STORE_NOT_FOUND, r;

	sqlite3_bind_int64(st, 1, key_id);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*user = sqlite3_column_int64(st, 0);
		rc = STORE_OK;
	} else if (r != SQLITE_DONE) {
		rc = STORE_ERROR;
	}
	store_sqlite_read_end(s, rd, st);
	return rc;
}

static int store_sqlite_key_descendants(store *base, int64_t key_id, int64_t **ids, size_t *n)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd = store_sqlite_read_begin(s);
	sqlite3_stmt *st = rd->st[Q_DESCENDANTS];
	int64_t *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = STORE_OK, r;

	sqlite3_bind_int64(st, 1, key_id);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			int64_t *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof *v);
			if (!nv) {
				rc = STORE_ERROR;
				break;
			}
			v = nv;
		}
		v[cnt++] = sqlite3_column_int64(st, 0);
	}
	if (rc == STORE_OK && r != SQLITE_DONE)
		rc = STORE_ERROR;
	store_sqlite_read_end(s, rd, st);
	if (rc != STORE_OK) {
		free(v);
		v = NULL;
		cnt = 0;
	}
	*ids = v;
	*n = cnt;
	return rc;
}

/* One statement plus its audit row, in one transaction; pre (or -1): a
   statement run first with key_id as its one parameter. */
static int store_sqlite_change(store_sqlite *s, int pre, int q, int64_t a, int64_t b, int nbind, int64_t key_id,
                               int64_t actor, const char *action, const char *client)
{
	sqlite3_stmt *st = s->ws[q];
	int rc = STORE_OK;

	store_sqlite_write_begin(s);
	if (sqlite3_exec(s->w, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		store_sqlite_write_end(s);
		return STORE_ERROR;
	}
	if (pre >= 0) {
		sqlite3_bind_int64(s->ws[pre], 1, key_id);
		rc = store_sqlite_step_done(s->ws[pre]);
	}
	if (rc == STORE_OK) {
		sqlite3_bind_int64(st, 1, a);
		if (nbind > 1)
			sqlite3_bind_int64(st, 2, b);
		rc = store_sqlite_step_done(st);
	}
	if (rc == STORE_OK && sqlite3_changes(s->w) == 0)
		rc = STORE_NOT_FOUND;
	if (rc == STORE_OK && action)
		rc = store_sqlite_audit(s, actor, key_id, action, client);
	if (rc == STORE_OK)
		rc = sqlite3_exec(s->w, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? STORE_OK : STORE_ERROR;
	if (rc != STORE_OK)
		sqlite3_exec(s->w, "ROLLBACK", NULL, NULL, NULL);
	store_sqlite_write_end(s);
	return rc;
}

static int store_sqlite_key_set_active(store *base, int64_t key_id, int active, int64_t actor, const char *client)
{
	store_sqlite *s = (store_sqlite *)base;
	return store_sqlite_change(s, -1, Q_SET_ACTIVE, active, key_id, 2, key_id, actor, active ? "activate" : "deactivate", client);
}

static int store_sqlite_key_revoke(store *base, int64_t key_id, int64_t actor, const char *client)
{
	store_sqlite *s = (store_sqlite *)base;
	return store_sqlite_change(s, -1, Q_REVOKE, key_id, 0, 1, key_id, actor, "revoke", client);
}

static int store_sqlite_key_delete(store *base, int64_t key_id, int64_t actor, const char *client)
{
	store_sqlite *s = (store_sqlite *)base;
	return store_sqlite_change(s, Q_REPARENT, Q_DELETE, key_id, 0, 1, key_id, actor, "delete", client);
}

static int store_sqlite_key_touch(store *base, int64_t key_id, int64_t when)
{
	store_sqlite *s = (store_sqlite *)base;
	sqlite3_stmt *st = s->ws[Q_TOUCH];
	int rc;

	store_sqlite_write_begin(s);
	sqlite3_bind_int64(st, 1, when);
	sqlite3_bind_int64(st, 2, key_id);
	sqlite3_bind_int64(st, 3, when);
	rc = store_sqlite_step_done(st);
	store_sqlite_write_end(s);
	return rc;
}

static int store_sqlite_key_hashes(store *base, int64_t after_id,
                                  int (*fn)(void *ctx, int64_t id, const unsigned char hash[STORE_HASH_LEN]), void *ctx)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd = store_sqlite_read_begin(s);
	sqlite3_stmt *st = rd->st[Q_HASHES];
	int r;

	sqlite3_bind_int64(st, 1, after_id);
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		if (sqlite3_column_bytes(st, 1) == STORE_HASH_LEN &&
		    fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1)) != 0)
			break;
	store_sqlite_read_end(s, rd, st);
	return r == SQLITE_ROW || r == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

static int store_sqlite_audit_count(store *base, int64_t key_id, const char *action, int64_t *n)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd = store_sqlite_read_begin(s);
	sqlite3_stmt *st = rd->st[Q_AUDIT_COUNT];
	int rc = STORE_ERROR;

	sqlite3_bind_int64(st, 1, key_id);
	sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*n = sqlite3_column_int64(st, 0);
		rc = STORE_OK;
	}
	store_sqlite_read_end(s, rd, st);
	return rc;
}

static int64_t store_sqlite_stmt_reprepares(sqlite3_stmt *const *st)
{
	int64_t n = 0;

	for (int i = 0; i < Q_N; i++)
		if (st[i])
			n += sqlite3_stmt_status(st[i], SQLITE_STMTSTATUS_REPREPARE, 0);
	return n;
}

static int store_sqlite_reprepares(store *base, int64_t *n)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_write_begin(s);
	*n = store_sqlite_stmt_reprepares(s->ws);
	store_sqlite_write_end(s);
	for (int r = 0; !s->memory && r < STORE_READERS; r++) {
		pthread_mutex_lock(&s->readers[r].lock);
		*n += store_sqlite_stmt_reprepares(s->readers[r].st);
		pthread_mutex_unlock(&s->readers[r].lock);
	}
	return STORE_OK;
}

/* Every path that is not another backend's: a file, or ":memory:". */
static int store_sqlite_accepts(const char *path)
{
	(void)path;
	return 1;
}

const store_backend store_sqlite_backend = {
	.name = "sqlite",
	.accepts = store_sqlite_accepts,
	.open = store_sqlite_open,
	.close = store_sqlite_close,
	.user_add = store_sqlite_user_add,
	.user_find = store_sqlite_user_find,
	.key_insert = store_sqlite_key_insert,
	.key_get_uuid = store_sqlite_key_get_uuid,
	.key_get_id = store_sqlite_key_get_id,
	.key_get_name = store_sqlite_key_get_name,
	.key_by_hash = store_sqlite_key_by_hash,
	.key_list = store_sqlite_key_list,
	.key_set_active = store_sqlite_key_set_active,
	.key_revoke = store_sqlite_key_revoke,
	.key_delete = store_sqlite_key_delete,
	.key_touch = store_sqlite_key_touch,
	.key_page = store_sqlite_key_page,
	.key_owner = store_sqlite_key_owner,
	.key_descendants = store_sqlite_key_descendants,
	.key_hashes = store_sqlite_key_hashes,
	.reprepares = store_sqlite_reprepares,
	.audit_count = store_sqlite_audit_count,
};

/* store_sqlite.c — the SQLite store backend (the embedded default), with group commit. */
#include "kmetrics.h"
#include "store_backend.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sqlite3.h>

#define STORE_SCHEMA_VERSION 6

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
	/* 3: a one-row-per-name table of the store's own values: "epoch", bumped
	 * by every write to the keys (other processes on the file see it, so
	 * their caches drop what changed), and "secret_check", the check value of
	 * the server secret (keysvc; never the secret itself). */
	"CREATE TABLE meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;"
	"INSERT INTO meta(name, value) VALUES ('epoch', 0);",
	/* 4: which key made which: parent_id is the key whose holder created this
	 * one (NULL: the CLI, a JWT), for lists of what a key minted and cascade
	 * revocation; keys_user walks an owner's keys of every family in id order
	 * (lists across families, the quota's count). */
	"ALTER TABLE keys ADD COLUMN parent_id INTEGER;"
	"CREATE INDEX keys_parent ON keys(parent_id);"
	"CREATE INDEX keys_user ON keys(user_id, id);",
	/* 5: the HMAC keyring (keysvc.h): secret_id is the keyring secret a
	 * key's hash was made with; every key before is the one secret of then,
	 * id 1. keys_secret counts what each secret still serves (retire). */
	"ALTER TABLE keys ADD COLUMN secret_id INTEGER NOT NULL DEFAULT 1;"
	"CREATE INDEX keys_secret ON keys(secret_id, revoked);",
	/* 6: the key attributes of the apikeyd API: an expiry time (NULL: never),
	 * scopes (space-separated), meta (a JSON object's text, NULL: none), uses
	 * left (NULL: not counted) and a rate limit of rl_limit uses per rl_window
	 * seconds (NULL: none). Keys from before have none of them. */
	"ALTER TABLE keys ADD COLUMN expires_at INTEGER;"
	"ALTER TABLE keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE keys ADD COLUMN meta TEXT;"
	"ALTER TABLE keys ADD COLUMN remaining INTEGER;"
	"ALTER TABLE keys ADD COLUMN rl_limit INTEGER;"
	"ALTER TABLE keys ADD COLUMN rl_window INTEGER;"
	"ALTER TABLE keys ADD COLUMN owner TEXT NOT NULL DEFAULT '';",
};

enum {
	Q_USER_ADD, Q_USER_FIND, Q_KEY_INSERT, Q_AUDIT, Q_GET_UUID, Q_GET_ID, Q_GET_NAME, Q_BY_HASH,
	Q_LIST, Q_COUNT, Q_SET_ACTIVE, Q_REVOKE, Q_DELETE, Q_TOUCH, Q_AUDIT_COUNT, Q_EPOCH, Q_EPOCH_BUMP,
	Q_DATA_VERSION, Q_META_GET, Q_META_SET, Q_KEY_COUNT, Q_PROBE, Q_HASHES, Q_QUOTA, Q_LIST_ALL, Q_COUNT_ALL, Q_PAGE,
	Q_PAGE_ALL, Q_OWNER, Q_DESCENDANTS, Q_REPARENT, Q_USER_LIST, Q_AUDIT_LIST, Q_REHASH, Q_SECRET_COUNTS, Q_UPDATE,
	Q_USE, Q_N
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
                       " parent_id, expires_at, scopes, meta, remaining, rl_limit, rl_window, owner"

static const char *const store_sqlite_sql[Q_N] = {
	[Q_USER_ADD] = "INSERT INTO users(name, created) VALUES (?, ?)",
	[Q_USER_FIND] = "SELECT id FROM users WHERE name = ?",
	[Q_KEY_INSERT] = "INSERT INTO keys(uuid, user_id, family, name, description, role, prefix, tail, hash, created,"
	                 " parent_id, secret_id, expires_at, scopes, meta, remaining, rl_limit, rl_window, owner, active)"
	                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
	[Q_EPOCH] = "SELECT value FROM meta WHERE name = 'epoch'",
	[Q_EPOCH_BUMP] = "UPDATE meta SET value = value + 1 WHERE name = 'epoch'",
	[Q_DATA_VERSION] = "PRAGMA data_version",
	[Q_META_GET] = "SELECT value FROM meta WHERE name = ?",
	[Q_META_SET] = "INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)",
	[Q_KEY_COUNT] = "SELECT count(*) FROM keys",
	[Q_PROBE] = "INSERT OR REPLACE INTO meta(name, value) VALUES ('ready_probe', ?)",
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
	[Q_USER_LIST] = "SELECT u.id, u.name, u.created, (SELECT count(*) FROM keys k WHERE k.user_id = u.id AND"
	                " k.revoked = 0) FROM users u ORDER BY u.id",
	[Q_AUDIT_LIST] = "SELECT id, at, actor, key_id, action, client FROM audit WHERE id > ? AND at >= ? ORDER BY id LIMIT ?",
	[Q_REHASH] = "UPDATE keys SET hash = ?, secret_id = ? WHERE id = ? AND hash = ?",
	[Q_SECRET_COUNTS] = "SELECT secret_id, count(*) FROM keys WHERE revoked = 0 GROUP BY secret_id ORDER BY secret_id",
	/* ?1: the STORE_SET_* fields to write */
	[Q_UPDATE] = "UPDATE keys SET name = CASE WHEN ?1 & 1 THEN ?2 ELSE name END,"
	             " scopes = CASE WHEN ?1 & 2 THEN ?3 ELSE scopes END, role = CASE WHEN ?1 & 2 THEN ?4 ELSE role END,"
	             " meta = CASE WHEN ?1 & 4 THEN ?5 ELSE meta END, active = CASE WHEN ?1 & 8 THEN ?6 ELSE active END,"
	             " expires_at = CASE WHEN ?1 & 16 THEN ?7 ELSE expires_at END,"
	             " remaining = CASE WHEN ?1 & 32 THEN ?8 ELSE remaining END,"
	             " rl_limit = CASE WHEN ?1 & 64 THEN ?9 ELSE rl_limit END,"
	             " rl_window = CASE WHEN ?1 & 64 THEN ?10 ELSE rl_window END,"
	             " owner = CASE WHEN ?1 & 128 THEN ?12 ELSE owner END WHERE id = ?11 AND revoked = 0",
	[Q_USE] = "UPDATE keys SET remaining = remaining - 1 WHERE id = ? AND remaining > 0 RETURNING remaining",
};

/* Read connections: WAL lets readers run beside the writer and each other. */
#define STORE_READERS 8

typedef struct store_sqlite_reader {
	sqlite3 *db;
	sqlite3_stmt *st[Q_N];
	int64_t data_version;     /* PRAGMA data_version when last looked at */
	pthread_mutex_t lock;
} store_sqlite_reader;

typedef struct store_sqlite_job {
	store_key *k;
	const unsigned char *hash;
	const char *client;
	int64_t quota;
	int rc;
	int done;
	int taken;                 /* in a batch under way (under lock): its thread waits for done */
	struct store_sqlite_job *next;
} store_sqlite_job;

/* One last_used write waiting for the next touch commit. */
typedef struct store_sqlite_touch {
	int64_t key_id, when;
	int rc;
	int done;
	struct store_sqlite_touch *next;
} store_sqlite_touch;

typedef struct store_sqlite {
	store base;              /* first: the handle keysvc holds */
	sqlite3 *w;
	sqlite3_stmt *ws[Q_N];
	int memory;
	int group;
	int sync_full;             /* synchronous=FULL (durable commits) */
	pthread_mutex_t lock;      /* queue, writer token */
	pthread_cond_t cond;
	store_sqlite_job *head, *tail;
	store_sqlite_touch *touches;   /* last_used writes waiting for a commit */
	int writing;               /* someone holds the write connection (atomic: store_sqlite_changed reads it) */
	int64_t writing_since;     /* CLOCK_MONOTONIC ns it was taken (under lock) */
	store_sqlite_reader readers[STORE_READERS]; /* file databases */
	store_sqlite_reader memreader;    /* :memory: reads use the write connection */
	unsigned next_reader;
	/* the epoch row as this process last saw it (atomic): a different value
	   in the database is another process's write */
	int64_t seen_epoch;
	int64_t pending_epoch;     /* written by the open write transaction (atomic) */
	int foreign;               /* another process wrote since store_changed (atomic) */
	/* the WAL index header in the -shm file, mapped read-only: its change
	   counter and last frame move with every commit, any process's; while
	   they stand still, store_changed needs no SQL (NULL: always ask SQLite) */
	const unsigned char *shm;
	int shm_fd;                /* kept open until close (store_sqlite_map_shm) */
	uint64_t shm_seen;         /* counter and frame when last checked (atomic) */
	pthread_mutex_t probe_lock;
	time_t probe_at;           /* the last write probe (store_ready), at most one a second */
	int probe_rc;
	char probe_why[256];
	/* the last write the disk refused (full, I/O): readiness reports it for a
	   while even when a probe's small write still fits (a WAL reuses its
	   frames), since the requests' writes do not (under probe_lock) */
	pthread_mutex_t refused_lock;   /* its own: store_sqlite_fail runs under probe_lock too */
	time_t refused_at;
	char refused_why[440];
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

/* The first bytes of the -shm file are the WAL index header (SQLite's
 * walformat.html; a format every SQLite version sharing a live database
 * keeps): iChange, a counter of the transactions, at byte 8 and mxFrame, the
 * last valid frame, at byte 16, in native byte order; the writer updates this
 * first copy of the header last, before its commit returns. */
#define STORE_SHM_MAP 4096
#define STORE_SHM_ICHANGE 8
#define STORE_SHM_MXFRAME 16

/* The descriptor stays open until store_sqlite_close, after SQLite's
   connections are closed: closing any descriptor of a file drops every
   POSIX lock the process holds on it, SQLite's too, and a connection's lock
   on the -shm is how another process learns it is not the first on the
   database; without it, the next process to open the file (a CLI command)
   resets the WAL index under this one, whose next access is SIGBUS. */
static const unsigned char *store_sqlite_map_shm(const char *path, int *fd)
{
	char file[4096];
	void *p;

	snprintf(file, sizeof file, "%s-shm", path);
	*fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0)
		return NULL;
	p = mmap(NULL, STORE_SHM_MAP, PROT_READ, MAP_SHARED, *fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* iChange and mxFrame as one value: a different one means a commit since. */
static uint64_t store_sqlite_shm_now(const unsigned char *shm)
{
	uint32_t change = __atomic_load_n((const uint32_t *)(const void *)(shm + STORE_SHM_ICHANGE), __ATOMIC_ACQUIRE);
	uint32_t frame = __atomic_load_n((const uint32_t *)(const void *)(shm + STORE_SHM_MXFRAME), __ATOMIC_ACQUIRE);

	return (uint64_t)change << 32 | frame;
}

/* The database and its -wal and -shm files hold every key's HMAC: owner
 * only. SQLite creates -wal and -shm with the database file's mode, so the
 * umask at creation and this fix of an older file's mode cover all three. */
static void store_sqlite_fix_modes(store_sqlite *s, const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char file[4096], msg[4200];
	struct stat sb;

	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		snprintf(file, sizeof file, "%s%s", path, suffix[i]);
		if (stat(file, &sb) != 0 || !S_ISREG(sb.st_mode) || !(sb.st_mode & 077))
			continue;
		if (chmod(file, 0600) == 0)
			snprintf(msg, sizeof msg, "%s was readable by others (mode %04o); now 0600", file,
			         (unsigned)(sb.st_mode & 07777));
		else
			snprintf(msg, sizeof msg, "%s is readable by others (mode %04o) and cannot be made 0600: %s", file,
			         (unsigned)(sb.st_mode & 07777), strerror(errno));
		store_report(&s->base, STORE_LOG_WARNING, msg);
	}
}

static int store_sqlite_read_epoch(sqlite3 *db, int64_t *e)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE name = 'epoch'", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		*e = sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

static void store_sqlite_close(store *base);

static int store_sqlite_open(const store_config *cfg, store **out, char *err, size_t errlen)
{
	store_sqlite *s = calloc(1, sizeof *s);
	mode_t mask;
	int rc;

	*out = NULL;
	if (!s)
		return -1;
	s->base.be = &store_sqlite_backend;
	s->base.log = cfg->log;
	s->shm_fd = -1;
	s->memory = strcmp(cfg->path, ":memory:") == 0;
	s->group = cfg->group_commit;
	s->sync_full = cfg->synchronous_full && !s->memory;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_mutex_init(&s->probe_lock, NULL);
	pthread_mutex_init(&s->refused_lock, NULL);
	mask = umask(077);
	rc = store_sqlite_open_db(cfg->path, s->memory, cfg->synchronous_full, &s->w, err, errlen);
	umask(mask);
	if (rc != 0 || store_sqlite_migrate(s->w, err, errlen) != 0 || store_sqlite_prepare_all(s->w, s->ws, err, errlen) != 0)
		goto fail;
	if (store_sqlite_read_epoch(s->w, &s->seen_epoch) != 0) {
		snprintf(err, errlen, "cannot read the store's epoch: %s", sqlite3_errmsg(s->w));
		goto fail;
	}
	if (!s->memory) {
		store_sqlite_fix_modes(s, cfg->path);
		if (sqlite3_db_readonly(s->w, "main") == 1)
			store_report(&s->base, STORE_LOG_WARNING, "the database is read-only: keys authenticate, but "
			             "nothing can be created, changed or removed (/readyz fails)");
	}
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
		s->shm = store_sqlite_map_shm(cfg->path, &s->shm_fd);
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
	pthread_mutex_destroy(&s->probe_lock);
	pthread_mutex_destroy(&s->refused_lock);
	if (s->shm)
		munmap((void *)s->shm, STORE_SHM_MAP);
	if (s->shm_fd >= 0)
		close(s->shm_fd);   /* after every connection: no lock of SQLite's left to drop */
	pthread_cond_destroy(&s->cond);
	free(s);
}

/* ---- the writer token: one thread at a time uses the write connection ----
 *
 * A request's write waits STORE_SQLITE_WAIT_MS at most for the token. The
 * write under way may be stuck in a disk that stopped answering (an NFS
 * server gone, a dying device, a frozen file system), where SQLite's calls
 * wait for ever, and every worker that came for the token waited behind
 * it: with the database's file system frozen (fsfreeze), 8 creates at once
 * left /healthz and every authentication unanswered until it thawed. Past
 * that wait the call fails as unavailable (a 503 with Retry-After), and
 * while the token has been held that long the next ones fail at once. The
 * write stuck in the disk stays stuck, and its own thread with it; the
 * last_used writer (its own thread) and migrations wait as before. */
#define STORE_SQLITE_WAIT_MS 5000

static int64_t store_sqlite_mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Under s->lock: the token is this thread's */
static void store_sqlite_token_take(store_sqlite *s)
{
	__atomic_store_n(&s->writing, 1, __ATOMIC_SEQ_CST);
	s->writing_since = store_sqlite_mono_ns();
}

/* now + ms, for pthread_cond_timedwait (CLOCK_REALTIME) */
static void store_sqlite_deadline(struct timespec *d, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, d);
	d->tv_sec += ms / 1000;
	d->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (d->tv_nsec >= 1000000000L) {
		d->tv_sec++;
		d->tv_nsec -= 1000000000L;
	}
}

/* Under s->lock, the token another's: waits for a change until deadline; 0,
   or -1 when the deadline passed or the token has been held
   STORE_SQLITE_WAIT_MS already (then without waiting) */
static int store_sqlite_token_wait(store_sqlite *s, const struct timespec *deadline)
{
	if (store_sqlite_mono_ns() - s->writing_since >= STORE_SQLITE_WAIT_MS * 1000000LL)
		return -1;
	return pthread_cond_timedwait(&s->cond, &s->lock, deadline) == ETIMEDOUT ? -1 : 0;
}

/* A write given up for the token: reported (rate-limited), unavailable */
static int store_sqlite_stuck(store_sqlite *s, const char *op)
{
	char m[256];

	snprintf(m, sizeof m, "%s: another write has held the database for %d s or more (is its disk answering?); "
	         "not waiting longer", op, STORE_SQLITE_WAIT_MS / 1000);
	store_report(&s->base, STORE_LOG_ERROR, m);
	return STORE_UNAVAILABLE;
}

static void store_sqlite_write_begin(store_sqlite *s)
{
	pthread_mutex_lock(&s->lock);
	while (__atomic_load_n(&s->writing, __ATOMIC_RELAXED))
		pthread_cond_wait(&s->cond, &s->lock);
	store_sqlite_token_take(s);
	pthread_mutex_unlock(&s->lock);
}

/* The writer token, waited for until deadline (CLOCK_REALTIME), and not at
   all once it has been held STORE_SQLITE_WAIT_MS (store_sqlite_token_wait);
   0 or -1. */
static int store_sqlite_write_begin_until(store_sqlite *s, const struct timespec *deadline)
{
	int out = 0;

	pthread_mutex_lock(&s->lock);
	while (__atomic_load_n(&s->writing, __ATOMIC_RELAXED) && !out)
		out = store_sqlite_token_wait(s, deadline) != 0;
	out = __atomic_load_n(&s->writing, __ATOMIC_RELAXED) ? -1 : 0;
	if (out == 0)
		store_sqlite_token_take(s);
	pthread_mutex_unlock(&s->lock);
	return out;
}

/* The token for a request's write, waited for STORE_SQLITE_WAIT_MS at most:
   STORE_OK, or STORE_UNAVAILABLE (reported, for op) */
static int store_sqlite_write_begin_bounded(store_sqlite *s, const char *op)
{
	struct timespec deadline;

	store_sqlite_deadline(&deadline, STORE_SQLITE_WAIT_MS);
	return store_sqlite_write_begin_until(s, &deadline) == 0 ? STORE_OK : store_sqlite_stuck(s, op);
}

static void store_sqlite_write_end(store_sqlite *s)
{
	pthread_mutex_lock(&s->lock);
	__atomic_store_n(&s->writing, 0, __ATOMIC_SEQ_CST);
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

/* A failed SQLite call: reported once with SQLite's own message, and
 * classed: busy, locked or full may pass (STORE_UNAVAILABLE); anything else
 * (I/O error, read-only, corrupt, ...) is STORE_ERROR. */
/* how long readiness reports a write the disk refused */
#define STORE_SQLITE_REFUSED_FOR 10

static int store_sqlite_fail(store_sqlite *s, sqlite3 *db, int rc, const char *op)
{
	char msg[400];
	int prim = rc & 0xff;

	snprintf(msg, sizeof msg, "%s: %s (SQLite %d)", op, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
	store_report(&s->base, STORE_LOG_ERROR, msg);
	if (prim == SQLITE_FULL || prim == SQLITE_IOERR) {
		pthread_mutex_lock(&s->refused_lock);
		s->refused_at = time(NULL);
		snprintf(s->refused_why, sizeof s->refused_why, "a write was refused %s", msg);
		pthread_mutex_unlock(&s->refused_lock);
	}
	return prim == SQLITE_BUSY || prim == SQLITE_LOCKED || prim == SQLITE_FULL ? STORE_UNAVAILABLE : STORE_ERROR;
}

/* sqlite3_exec on the write connection; STORE_OK or the failure, reported. */
static int store_sqlite_wexec(store_sqlite *s, const char *sql, const char *op)
{
	int rc = sqlite3_exec(s->w, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? STORE_OK : store_sqlite_fail(s, s->w, rc, op);
}

static int store_sqlite_step_done(store_sqlite *s, sqlite3_stmt *st, const char *op)
{
	int rc = sqlite3_step(st), out = STORE_OK;

	if (rc == SQLITE_CONSTRAINT)
		out = STORE_CONSTRAINT;
	else if (rc != SQLITE_DONE)
		out = store_sqlite_fail(s, sqlite3_db_handle(st), sqlite3_extended_errcode(sqlite3_db_handle(st)), op);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return out;
}

/* BEGIN IMMEDIATE on the write connection, and the epoch bump every write
 * to the keys makes: reading the epoch first tells whether another process
 * wrote since this one last looked (its caches then drop everything). */
static int store_sqlite_begin(store_sqlite *s, const char *op)
{
	sqlite3_stmt *st = s->ws[Q_EPOCH];
	int rc = store_sqlite_wexec(s, "BEGIN IMMEDIATE", op), r;
	int64_t e = 0;

	if (rc != STORE_OK)
		return rc;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		e = sqlite3_column_int64(st, 0);
	else
		rc = store_sqlite_fail(s, s->w, r, op);
	sqlite3_reset(st);
	if (rc == STORE_OK)
		rc = store_sqlite_step_done(s, s->ws[Q_EPOCH_BUMP], op);
	if (rc != STORE_OK) {
		sqlite3_exec(s->w, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	if (e != __atomic_load_n(&s->seen_epoch, __ATOMIC_SEQ_CST))
		__atomic_store_n(&s->foreign, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&s->pending_epoch, e + 1, __ATOMIC_SEQ_CST);
	return STORE_OK;
}

static int store_sqlite_commit(store_sqlite *s, const char *op)
{
	int rc = store_sqlite_wexec(s, "COMMIT", op);

	if (rc != STORE_OK) {
		sqlite3_exec(s->w, "ROLLBACK", NULL, NULL, NULL);
		/* another process may have committed the epoch this meant to write
		   as soon as the lock was free, and store_sqlite_changed took it for
		   this one's (while writing): caches go, to be safe */
		__atomic_store_n(&s->foreign, 1, __ATOMIC_SEQ_CST);
	} else {
		__atomic_store_n(&s->seen_epoch, __atomic_load_n(&s->pending_epoch, __ATOMIC_SEQ_CST), __ATOMIC_SEQ_CST);
	}
	return rc;
}

static int store_sqlite_audit(store_sqlite *s, int64_t actor, int64_t key_id, const char *action, const char *client)
{
	sqlite3_stmt *st = s->ws[Q_AUDIT];

	sqlite3_bind_int64(st, 1, store_sqlite_now());
	sqlite3_bind_int64(st, 2, actor);
	sqlite3_bind_int64(st, 3, key_id);
	sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, client ? client : "", -1, SQLITE_STATIC);
	return store_sqlite_step_done(s, st, "audit");
}

/* ---- users ---- */

static int store_sqlite_user_add(store *base, const char *name, int64_t *id)
{
	store_sqlite *s = (store_sqlite *)base;
	sqlite3_stmt *st = s->ws[Q_USER_ADD];
	int rc;

	if (store_sqlite_write_begin_bounded(s, "user_add") != STORE_OK)
		return STORE_UNAVAILABLE;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, store_sqlite_now());
	rc = store_sqlite_step_done(s, st, "user_add");
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

	int r;

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		rc = STORE_OK;
	} else if (r != SQLITE_DONE) {
		rc = store_sqlite_fail(s, rd->db, r, "user_find");
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
	k->expires_at = sqlite3_column_type(st, 14) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 14);
	store_sqlite_copy(k->scopes, sizeof k->scopes, sqlite3_column_text(st, 15));
	store_sqlite_copy(k->meta, sizeof k->meta, sqlite3_column_text(st, 16));
	k->has_remaining = sqlite3_column_type(st, 17) != SQLITE_NULL;
	k->remaining = sqlite3_column_int64(st, 17);
	k->rl_limit = sqlite3_column_int64(st, 18);
	k->rl_window = sqlite3_column_int64(st, 19);
	store_sqlite_copy(k->owner, sizeof k->owner, sqlite3_column_text(st, 20));
}

/* The attributes of k as parameters first..first+6 of st (NULL for none). */
static void store_sqlite_bind_attrs(sqlite3_stmt *st, int first, const store_key *k)
{
	if (k->expires_at > 0)
		sqlite3_bind_int64(st, first, k->expires_at);
	sqlite3_bind_text(st, first + 1, k->scopes, -1, SQLITE_STATIC);
	if (k->meta[0])
		sqlite3_bind_text(st, first + 2, k->meta, -1, SQLITE_STATIC);
	if (k->has_remaining)
		sqlite3_bind_int64(st, first + 3, k->remaining);
	if (k->rl_limit > 0) {
		sqlite3_bind_int64(st, first + 4, k->rl_limit);
		sqlite3_bind_int64(st, first + 5, k->rl_window);
	}
	sqlite3_bind_text(st, first + 6, k->owner, -1, SQLITE_STATIC);
}

/* One insert inside the current transaction, under its own savepoint so a
 * constraint failure does not undo the others of the group. */
static int store_sqlite_insert_one(store_sqlite *s, store_sqlite_job *j)
{
	sqlite3_stmt *st = s->ws[Q_KEY_INSERT];
	store_key *k = j->k;
	int rc;

	if ((rc = store_sqlite_wexec(s, "SAVEPOINT one", "key_insert")) != STORE_OK)
		return rc;
	if (j->quota > 0) {
		sqlite3_stmt *q = s->ws[Q_QUOTA];
		int64_t held = -1;
		int r;
		sqlite3_bind_int64(q, 1, k->user_id);
		sqlite3_bind_int64(q, 2, j->quota);
		r = sqlite3_step(q);
		if (r == SQLITE_ROW)
			held = sqlite3_column_int64(q, 0);
		else
			rc = store_sqlite_fail(s, s->w, sqlite3_extended_errcode(s->w), "key_insert");
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		if (held < 0 || held >= j->quota) {
			sqlite3_exec(s->w, "ROLLBACK TO one; RELEASE one", NULL, NULL, NULL);
			return held < 0 ? rc : STORE_QUOTA;
		}
	}
	store_new_uuid(k->uuid);
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
	sqlite3_bind_int64(st, 12, k->secret_id > 0 ? k->secret_id : 1);
	store_sqlite_bind_attrs(st, 13, k);
	sqlite3_bind_int(st, 20, k->active ? 1 : 0);
	rc = store_sqlite_step_done(s, st, "key_insert");
	if (rc == STORE_OK) {
		k->id = sqlite3_last_insert_rowid(s->w);
		rc = store_sqlite_audit(s, k->user_id, k->id, "create", j->client);
	}
	sqlite3_exec(s->w, rc == STORE_OK ? "RELEASE one" : "ROLLBACK TO one; RELEASE one", NULL, NULL, NULL);
	return rc;
}

/* Under s->lock: me out of the queue of inserts not taken yet */
static void store_sqlite_unqueue(store_sqlite *s, store_sqlite_job *me)
{
	store_sqlite_job *prev = NULL;

	for (store_sqlite_job *j = s->head; j != NULL; prev = j, j = j->next) {
		if (j != me)
			continue;
		if (prev != NULL)
			prev->next = me->next;
		else
			s->head = me->next;
		if (s->tail == me)
			s->tail = prev;
		return;
	}
}

static int store_sqlite_key_insert(store *base, store_key *k, const unsigned char hash[STORE_HASH_LEN], const char *client,
                                   int64_t quota)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_job me = { .k = k, .hash = hash, .client = client, .quota = quota };
	struct timespec deadline;

	store_sqlite_deadline(&deadline, STORE_SQLITE_WAIT_MS);
	pthread_mutex_lock(&s->lock);
	if (s->tail)
		s->tail->next = &me;
	else
		s->head = &me;
	s->tail = &me;
	while (!me.done) {
		if (__atomic_load_n(&s->writing, __ATOMIC_RELAXED)) {
			if (me.taken) {   /* in the batch under way: its leader writes into me, and answers */
				pthread_cond_wait(&s->cond, &s->lock);
			} else if (store_sqlite_token_wait(s, &deadline) != 0 && !me.taken && !me.done) {
				store_sqlite_unqueue(s, &me);   /* not begun: given up (store_sqlite_token_wait) */
				pthread_mutex_unlock(&s->lock);
				return store_sqlite_stuck(s, "key_insert");
			}
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
		for (j = batch; j; j = j->next)
			j->taken = 1;
		store_sqlite_token_take(s);
		pthread_mutex_unlock(&s->lock);

		int brc = store_sqlite_begin(s, "key_insert");
		for (j = batch; j; j = j->next)
			j->rc = brc == STORE_OK ? store_sqlite_insert_one(s, j) : brc;
		if (brc == STORE_OK && (brc = store_sqlite_commit(s, "key_insert")) != STORE_OK)
			for (j = batch; j; j = j->next)
				j->rc = brc;

		pthread_mutex_lock(&s->lock);
		unsigned batch_n = 0;
		for (j = batch; j; batch_n++) {
			store_sqlite_job *next = j->next;
			j->done = 1;
			j = next;
		}
		kmetrics_batch(batch_n);   /* /metrics: the group commit's size */
		__atomic_store_n(&s->writing, 0, __ATOMIC_SEQ_CST);
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
		rc = store_sqlite_fail(s, rd->db, r, "key_get");
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
		if (sqlite3_column_bytes(st, 21) == STORE_HASH_LEN)
			memcpy(stored, sqlite3_column_blob(st, 21), STORE_HASH_LEN);
		else
			memset(stored, 0, STORE_HASH_LEN);
		rc = STORE_OK;
	} else if (r != SQLITE_DONE) {
		rc = store_sqlite_fail(s, rd->db, r, "key_by_hash");
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
	if (skip > 0 || limit >= 0) {
		int cr = sqlite3_step(st);
		if (cr == SQLITE_ROW)
			*total = sqlite3_column_int64(st, 0);
		else
			rc = store_sqlite_fail(s, rd->db, cr, "key_list");
	}
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
	int r = SQLITE_DONE;
	while (rc == STORE_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
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
	if (rc == STORE_OK && r != SQLITE_DONE && r != SQLITE_ROW)
		rc = store_sqlite_fail(s, rd->db, r, "key_list");
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
		int rc = store_sqlite_fail(s, rd->db, r, "key_page");
		store_sqlite_read_end(s, rd, st);
		free(v);
		return rc;
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
		rc = store_sqlite_fail(s, rd->db, r, "key_owner");
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
		rc = store_sqlite_fail(s, rd->db, r, "key_descendants");
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

	if (store_sqlite_write_begin_bounded(s, action) != STORE_OK)
		return STORE_UNAVAILABLE;
	if ((rc = store_sqlite_begin(s, action)) != STORE_OK) {
		store_sqlite_write_end(s);
		return rc;
	}
	if (pre >= 0) {
		sqlite3_bind_int64(s->ws[pre], 1, key_id);
		rc = store_sqlite_step_done(s, s->ws[pre], action);
	}
	if (rc == STORE_OK) {
		sqlite3_bind_int64(st, 1, a);
		if (nbind > 1)
			sqlite3_bind_int64(st, 2, b);
		rc = store_sqlite_step_done(s, st, action);
	}
	if (rc == STORE_OK && sqlite3_changes(s->w) == 0)
		rc = STORE_NOT_FOUND;
	if (rc == STORE_OK && action)
		rc = store_sqlite_audit(s, actor, key_id, action, client);
	if (rc == STORE_OK)
		rc = store_sqlite_commit(s, action);
	else
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

/* last_used, group-committed: every touch waiting when the writer token
 * comes free goes into one transaction, so many keys on their first use
 * share a write instead of taking one each. The caller returns once its
 * row is committed (visible to every reader), as before, but the commit
 * does not wait for the disk: synchronous=NORMAL for this transaction
 * only. last_used is bookkeeping; with only 2 worker threads a request
 * waiting on an fsync for it held one of them, and a key's first use cost
 * a durable commit (bench-perf (b): about 1,000 first uses/s). A power
 * loss can lose the last touches (the WAL frames after the last fsync),
 * never a key change: every other write commits with synchronous=FULL,
 * which syncs the frames of earlier touches too. No epoch bump: last_used
 * is not a change other processes must drop their caches for. */
/* mine[0..n-1] linked in at once, so one leader takes them all together:
   the first one's done is all of theirs. */
static void store_sqlite_touch_run(store_sqlite *s, store_sqlite_touch *mine, size_t n)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		mine[i].next = s->touches;
		s->touches = &mine[i];
	}
	while (!mine[0].done) {
		if (__atomic_load_n(&s->writing, __ATOMIC_RELAXED)) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		/* lead: take every waiting touch (this one among them) */
		store_sqlite_touch *batch = s->touches, *t;
		s->touches = NULL;
		store_sqlite_token_take(s);
		pthread_mutex_unlock(&s->lock);

		sqlite3_stmt *st = s->ws[Q_TOUCH];
		int brc = s->sync_full ? store_sqlite_wexec(s, "PRAGMA synchronous = NORMAL", "key_touch") : STORE_OK;
		if (brc == STORE_OK)
			brc = store_sqlite_wexec(s, "BEGIN IMMEDIATE", "key_touch");
		for (t = batch; t; t = t->next) {
			if (brc != STORE_OK) {
				t->rc = brc;
				continue;
			}
			sqlite3_bind_int64(st, 1, t->when);
			sqlite3_bind_int64(st, 2, t->key_id);
			sqlite3_bind_int64(st, 3, t->when);
			t->rc = store_sqlite_step_done(s, st, "key_touch");
		}
		/* a plain COMMIT: store_sqlite_commit records an epoch this wrote none of */
		if (brc == STORE_OK && (brc = store_sqlite_wexec(s, "COMMIT", "key_touch")) != STORE_OK) {
			sqlite3_exec(s->w, "ROLLBACK", NULL, NULL, NULL);
			for (t = batch; t; t = t->next)
				t->rc = brc;
		}
		/* durable again before the token goes to any other write */
		if (s->sync_full && store_sqlite_wexec(s, "PRAGMA synchronous = FULL", "key_touch") != STORE_OK &&
		    store_sqlite_wexec(s, "PRAGMA synchronous = FULL", "key_touch") != STORE_OK)
			store_report(&s->base, STORE_LOG_ERROR, "cannot set synchronous = FULL again after a last_used "
			             "write; key changes may not survive a power loss until restart");

		pthread_mutex_lock(&s->lock);
		for (t = batch; t;) {
			store_sqlite_touch *next = t->next;
			t->done = 1;
			t = next;
		}
		__atomic_store_n(&s->writing, 0, __ATOMIC_SEQ_CST);
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
}

static int store_sqlite_key_touch(store *base, int64_t key_id, int64_t when)
{
	store_sqlite_touch me = { .key_id = key_id, .when = when };

	store_sqlite_touch_run((store_sqlite *)base, &me, 1);
	return me.rc;
}

/* Many keys' last_used in one commit (the key service's touch writer). */
static int store_sqlite_keys_touch(store *base, store_touch *t, size_t n)
{
	store_sqlite_touch *mine;
	int rc = STORE_OK;

	if (n == 0)
		return STORE_OK;
	if ((mine = calloc(n, sizeof *mine)) == NULL) {
		for (size_t i = 0; i < n; i++)
			t[i].rc = STORE_ERROR;
		return STORE_ERROR;
	}
	for (size_t i = 0; i < n; i++) {
		mine[i].key_id = t[i].key_id;
		mine[i].when = t[i].when;
	}
	store_sqlite_touch_run((store_sqlite *)base, mine, n);
	for (size_t i = 0; i < n; i++)
		if ((t[i].rc = mine[i].rc) != STORE_OK && rc == STORE_OK)
			rc = t[i].rc;
	free(mine);
	return rc;
}

static int store_sqlite_key_update(store *base, int64_t key_id, const store_key *k, unsigned fields, int64_t actor,
                                   const char *client)
{
	store_sqlite *s = (store_sqlite *)base;
	sqlite3_stmt *st = s->ws[Q_UPDATE];
	int rc;

	if (store_sqlite_write_begin_bounded(s, "update") != STORE_OK)
		return STORE_UNAVAILABLE;
	if ((rc = store_sqlite_begin(s, "update")) != STORE_OK) {
		store_sqlite_write_end(s);
		return rc;
	}
	sqlite3_bind_int(st, 1, (int)fields);
	sqlite3_bind_text(st, 2, k->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, k->scopes, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, k->role, -1, SQLITE_STATIC);
	if (k->meta[0])
		sqlite3_bind_text(st, 5, k->meta, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, k->active ? 1 : 0);
	if (k->expires_at > 0)
		sqlite3_bind_int64(st, 7, k->expires_at);
	if (k->has_remaining)
		sqlite3_bind_int64(st, 8, k->remaining);
	if (k->rl_limit > 0) {
		sqlite3_bind_int64(st, 9, k->rl_limit);
		sqlite3_bind_int64(st, 10, k->rl_window);
	}
	sqlite3_bind_int64(st, 11, key_id);
	sqlite3_bind_text(st, 12, k->owner, -1, SQLITE_STATIC);
	rc = store_sqlite_step_done(s, st, "update");
	if (rc == STORE_OK && sqlite3_changes(s->w) == 0)
		rc = STORE_NOT_FOUND;
	if (rc == STORE_OK)
		rc = store_sqlite_audit(s, actor, key_id, "update", client);
	if (rc == STORE_OK)
		rc = store_sqlite_commit(s, "update");
	else
		sqlite3_exec(s->w, "ROLLBACK", NULL, NULL, NULL);
	store_sqlite_write_end(s);
	return rc;
}

/* One statement, its own transaction (autocommit): durable at return, and
   exact however many threads or processes use the key at once. */
static int store_sqlite_key_use(store *base, int64_t key_id, int64_t *left)
{
	store_sqlite *s = (store_sqlite *)base;
	sqlite3_stmt *st = s->ws[Q_USE];
	int rc = STORE_QUOTA, r;

	if (store_sqlite_write_begin_bounded(s, "key_use") != STORE_OK)
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(st, 1, key_id);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*left = sqlite3_column_int64(st, 0);
		r = sqlite3_step(st);   /* to the end: the statement commits */
		rc = STORE_OK;
	}
	if (r != SQLITE_DONE)
		rc = store_sqlite_fail(s, s->w, sqlite3_extended_errcode(s->w), "key_use");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	store_sqlite_write_end(s);
	return rc;
}

static int store_sqlite_key_hashes(store *base, int64_t after_id,
                                  int (*fn)(void *ctx, int64_t id, const unsigned char hash[STORE_HASH_LEN]), void *ctx)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd = store_sqlite_read_begin(s);
	sqlite3_stmt *st = rd->st[Q_HASHES];
	int r, rc = STORE_OK;

	sqlite3_bind_int64(st, 1, after_id);
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		if (sqlite3_column_bytes(st, 1) == STORE_HASH_LEN &&
		    fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1)) != 0)
			break;
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = store_sqlite_fail(s, rd->db, r, "key_hashes");
	store_sqlite_read_end(s, rd, st);
	return rc;
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
	if (store_sqlite_write_begin_bounded(s, "reprepares") != STORE_OK)
		return STORE_UNAVAILABLE;
	*n = store_sqlite_stmt_reprepares(s->ws);
	store_sqlite_write_end(s);
	for (int r = 0; !s->memory && r < STORE_READERS; r++) {
		pthread_mutex_lock(&s->readers[r].lock);
		*n += store_sqlite_stmt_reprepares(s->readers[r].st);
		pthread_mutex_unlock(&s->readers[r].lock);
	}
	return STORE_OK;
}

/* ---- the store's own values, readiness, other writers ---- */

static int store_sqlite_meta_get(store *base, const char *name, char *value, size_t len)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd = store_sqlite_read_begin(s);
	sqlite3_stmt *st = rd->st[Q_META_GET];
	int rc = STORE_NOT_FOUND, r;

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		snprintf(value, len, "%s", (const char *)sqlite3_column_text(st, 0));
		rc = STORE_OK;
	} else if (r != SQLITE_ROW && r != SQLITE_DONE) {
		rc = store_sqlite_fail(s, rd->db, r, "meta_get");
	}
	store_sqlite_read_end(s, rd, st);
	return rc;
}

static int store_sqlite_meta_set(store *base, const char *name, const char *value)
{
	store_sqlite *s = (store_sqlite *)base;
	sqlite3_stmt *st = s->ws[Q_META_SET];
	int rc;

	if (store_sqlite_write_begin_bounded(s, "meta_set") != STORE_OK)
		return STORE_UNAVAILABLE;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = store_sqlite_step_done(s, st, "meta_set");
	store_sqlite_write_end(s);
	return rc;
}

static int store_sqlite_key_count(store *base, int64_t *n)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd = store_sqlite_read_begin(s);
	sqlite3_stmt *st = rd->st[Q_KEY_COUNT];
	int rc = STORE_OK, r = sqlite3_step(st);

	if (r == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		rc = store_sqlite_fail(s, rd->db, r, "key_count");
	store_sqlite_read_end(s, rd, st);
	return rc;
}

/* Readable, writable, and a write commits (at most one write probe a
 * second; the others reuse its answer), all within timeout_ms. */
static int store_sqlite_ready(store *base, unsigned timeout_ms, char *why, size_t len)
{
	store_sqlite *s = (store_sqlite *)base;
	struct timespec deadline;
	int rc, r;
	time_t now = time(NULL);

	if (s->memory)
		return STORE_OK;
	if (sqlite3_db_readonly(s->w, "main") == 1) {
		snprintf(why, len, "the database is read-only");
		return STORE_ERROR;
	}
	pthread_mutex_lock(&s->probe_lock);
	pthread_mutex_lock(&s->refused_lock);
	if (s->refused_at && now - s->refused_at < STORE_SQLITE_REFUSED_FOR) {
		snprintf(why, len, "%s, %lld s ago", s->refused_why, (long long)(now - s->refused_at));
		pthread_mutex_unlock(&s->refused_lock);
		pthread_mutex_unlock(&s->probe_lock);
		return STORE_UNAVAILABLE;
	}
	pthread_mutex_unlock(&s->refused_lock);
	if (s->probe_at == now) {
		rc = s->probe_rc;
		snprintf(why, len, "%s", s->probe_why);
		pthread_mutex_unlock(&s->probe_lock);
		return rc;
	}
	store_sqlite_deadline(&deadline, timeout_ms);
	rc = STORE_OK;
	why[0] = '\0';
	if (store_sqlite_write_begin_until(s, &deadline) != 0) {
		snprintf(why, len, "the store's writer stayed busy for %u ms", timeout_ms);
		rc = STORE_UNAVAILABLE;
	} else {
		sqlite3_stmt *st = s->ws[Q_PROBE];
		sqlite3_busy_timeout(s->w, (int)timeout_ms);
		r = sqlite3_exec(s->w, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (r == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, (int64_t)now);
			r = sqlite3_step(st);
			sqlite3_reset(st);
			if (r == SQLITE_DONE)
				r = sqlite3_exec(s->w, "COMMIT", NULL, NULL, NULL);
		}
		if (r != SQLITE_OK && r != SQLITE_DONE) {
			snprintf(why, len, "a write to the database fails: %s", sqlite3_errmsg(s->w));
			rc = store_sqlite_fail(s, s->w, r, "ready");
			sqlite3_exec(s->w, "ROLLBACK", NULL, NULL, NULL);
		}
		sqlite3_busy_timeout(s->w, 10000);
		store_sqlite_write_end(s);
	}
	if (rc == STORE_OK) {
		store_sqlite_reader *rd = store_sqlite_read_begin(s);
		sqlite3_stmt *st = rd->st[Q_EPOCH];
		r = sqlite3_step(st);
		if (r != SQLITE_ROW) {
			snprintf(why, len, "a read of the database fails: %s", sqlite3_errmsg(rd->db));
			rc = store_sqlite_fail(s, rd->db, r, "ready");
		}
		store_sqlite_read_end(s, rd, st);
	}
	s->probe_at = now;
	s->probe_rc = rc;
	snprintf(s->probe_why, sizeof s->probe_why, "%s", why);
	pthread_mutex_unlock(&s->probe_lock);
	return rc;
}

/* 1 once after another process changed the keys. While the WAL index
 * header stands still (two loads from shared memory), nothing committed;
 * else PRAGMA data_version on this thread's read connection and, only when
 * that moved, the epoch row, which tells another process's write from ours.
 * A read that fails says 1 (what changed is unknown: the caches forget, and
 * the requests go to the store) and leaves the header unseen, so the next
 * call reads again: seen, it passed for "nothing committed" until the next
 * commit, while the caches served what another process may have revoked. */
static int store_sqlite_changed(store *base)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd;
	sqlite3_stmt *st;
	int64_t dv;
	uint64_t shm = 0;
	int read_all = 0, r;

	if (s->memory)
		return 0;
	if (s->shm) {
		shm = store_sqlite_shm_now(s->shm);
		if (shm == __atomic_load_n(&s->shm_seen, __ATOMIC_ACQUIRE) && !__atomic_load_n(&s->foreign, __ATOMIC_ACQUIRE))
			return 0;
	}
	rd = store_sqlite_read_begin(s);
	st = rd->st[Q_DATA_VERSION];
	if ((r = sqlite3_step(st)) != SQLITE_ROW) {
		store_sqlite_fail(s, rd->db, r, "checking for other processes' writes");
	} else {
		dv = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		read_all = 1;
		if (dv != rd->data_version) {
			rd->data_version = dv;
			st = rd->st[Q_EPOCH];
			if ((r = sqlite3_step(st)) != SQLITE_ROW) {
				if (r == SQLITE_DONE)
					store_report(&s->base, STORE_LOG_ERROR, "checking for other processes' writes: the epoch "
					             "row is missing from table meta; every request reads the store");
				else
					store_sqlite_fail(s, rd->db, r, "checking for other processes' writes");
				rd->data_version = -1;   /* look again next time */
				read_all = 0;
			} else {
				int64_t e = sqlite3_column_int64(st, 0);
				/* this process's own commit, read between its COMMIT and
				   its recording the epoch (store_sqlite_commit), is not
				   another's: the writer is still at it with that epoch, or
				   has recorded it by the time it is done (in that order) */
				int mine = e != __atomic_load_n(&s->seen_epoch, __ATOMIC_SEQ_CST) &&
				           __atomic_load_n(&s->writing, __ATOMIC_SEQ_CST) &&
				           e == __atomic_load_n(&s->pending_epoch, __ATOMIC_SEQ_CST);
				/* epochs only grow (every write adds one, a restore moves
				   past both): a value below the one recorded is a read this
				   process's later commits overtook, never another's write */
				int64_t cur = __atomic_load_n(&s->seen_epoch, __ATOMIC_SEQ_CST);
				while (!mine && e > cur) {
					if (__atomic_compare_exchange_n(&s->seen_epoch, &cur, e, 0, __ATOMIC_SEQ_CST,
					                                __ATOMIC_SEQ_CST)) {
						__atomic_store_n(&s->foreign, 1, __ATOMIC_SEQ_CST);
						break;
					}
				}
			}
		}
	}
	store_sqlite_read_end(s, rd, st);
	if (!read_all) {
		__atomic_store_n(&s->foreign, 0, __ATOMIC_SEQ_CST);
		return 1;
	}
	if (s->shm)
		__atomic_store_n(&s->shm_seen, shm, __ATOMIC_RELEASE);   /* everything up to it is seen */
	return __atomic_exchange_n(&s->foreign, 0, __ATOMIC_SEQ_CST);
}

/* ---- the CLI's views, the keyring, backup ---- */

static void store_sqlite_user_row(sqlite3_stmt *st, void *row)
{
	store_user *u = row;

	memset(u, 0, sizeof *u);
	u->id = sqlite3_column_int64(st, 0);
	store_sqlite_copy(u->name, sizeof u->name, sqlite3_column_text(st, 1));
	u->created = sqlite3_column_int64(st, 2);
	u->keys = sqlite3_column_int64(st, 3);
}

static void store_sqlite_audit_row(sqlite3_stmt *st, void *row)
{
	store_audit *a = row;

	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(st, 0);
	a->at = sqlite3_column_int64(st, 1);
	a->actor = sqlite3_column_type(st, 2) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 2);
	a->key_id = sqlite3_column_type(st, 3) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 3);
	store_sqlite_copy(a->action, sizeof a->action, sqlite3_column_text(st, 4));
	store_sqlite_copy(a->client, sizeof a->client, sqlite3_column_text(st, 5));
}

static void store_sqlite_count_row(sqlite3_stmt *st, void *row)
{
	store_secret_count *c = row;

	c->secret_id = sqlite3_column_int64(st, 0);
	c->keys = sqlite3_column_int64(st, 1);
}

/* Runs a bound read statement to its end, each row through row() into a
   growing array of size-byte elements; *out malloc'd. */
static int store_sqlite_rows(store_sqlite *s, store_sqlite_reader *rd, sqlite3_stmt *st, size_t size,
                             void (*row)(sqlite3_stmt *, void *), void **out, size_t *n, const char *op)
{
	unsigned char *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = STORE_OK, r;

	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			unsigned char *nv = realloc(v, (cap = cap ? cap * 2 : 16) * size);
			if (!nv) {
				rc = STORE_ERROR;
				break;
			}
			v = nv;
		}
		row(st, v + cnt++ * size);
	}
	if (rc == STORE_OK && r != SQLITE_DONE)
		rc = store_sqlite_fail(s, rd->db, r, op);
	store_sqlite_read_end(s, rd, st);
	if (rc != STORE_OK) {
		free(v);
		v = NULL;
		cnt = 0;
	}
	*out = v;
	*n = cnt;
	return rc;
}

static int store_sqlite_user_list(store *base, store_user **out, size_t *n)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd = store_sqlite_read_begin(s);
	void *v = NULL;
	int rc = store_sqlite_rows(s, rd, rd->st[Q_USER_LIST], sizeof **out, store_sqlite_user_row, &v, n, "user_list");

	*out = v;
	return rc;
}

static int store_sqlite_audit_list(store *base, int64_t since, int64_t after_id, size_t limit, store_audit **out,
                                   size_t *n)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd = store_sqlite_read_begin(s);
	sqlite3_stmt *st = rd->st[Q_AUDIT_LIST];
	void *v = NULL;
	int rc;

	sqlite3_bind_int64(st, 1, after_id);
	sqlite3_bind_int64(st, 2, since);
	sqlite3_bind_int64(st, 3, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	rc = store_sqlite_rows(s, rd, st, sizeof **out, store_sqlite_audit_row, &v, n, "audit_list");
	*out = v;
	return rc;
}

static int store_sqlite_secret_counts(store *base, store_secret_count **out, size_t *n)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd = store_sqlite_read_begin(s);
	void *v = NULL;
	int rc = store_sqlite_rows(s, rd, rd->st[Q_SECRET_COUNTS], sizeof **out, store_sqlite_count_row, &v, n,
	                           "secret_counts");

	*out = v;
	return rc;
}

static int store_sqlite_key_rehash(store *base, int64_t key_id, const unsigned char old_hash[STORE_HASH_LEN],
                                   const unsigned char new_hash[STORE_HASH_LEN], int64_t secret_id)
{
	store_sqlite *s = (store_sqlite *)base;
	sqlite3_stmt *st = s->ws[Q_REHASH];
	int rc;

	if (store_sqlite_write_begin_bounded(s, "rehash") != STORE_OK)
		return STORE_UNAVAILABLE;
	sqlite3_bind_blob(st, 1, new_hash, STORE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, secret_id);
	sqlite3_bind_int64(st, 3, key_id);
	sqlite3_bind_blob(st, 4, old_hash, STORE_HASH_LEN, SQLITE_STATIC);
	rc = store_sqlite_step_done(s, st, "key_rehash");
	if (rc == STORE_OK && sqlite3_changes(s->w) == 0)
		rc = STORE_NOT_FOUND;
	store_sqlite_write_end(s);
	return rc;
}

/* sqlite3_backup_* from src into dst, all pages in one step: the source is
   read in one read transaction (a WAL snapshot), so the copy is one
   consistent state while other connections keep writing. */
static int store_sqlite_copy_db(sqlite3 *dst, sqlite3 *src, char *why, size_t len)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	int r;

	if (!b) {
		snprintf(why, len, "cannot start the backup: %s", sqlite3_errmsg(dst));
		return STORE_ERROR;
	}
	do {
		r = sqlite3_backup_step(b, -1);
		if (r == SQLITE_BUSY || r == SQLITE_LOCKED)
			sqlite3_sleep(50);
	} while (r == SQLITE_OK || r == SQLITE_BUSY || r == SQLITE_LOCKED);
	sqlite3_backup_finish(b);
	if (r != SQLITE_DONE) {
		snprintf(why, len, "the copy failed: %s", sqlite3_errstr(r));
		return r == SQLITE_FULL ? STORE_UNAVAILABLE : STORE_ERROR;
	}
	return STORE_OK;
}

static int store_sqlite_backup(store *base, const char *path, char *why, size_t len)
{
	store_sqlite *s = (store_sqlite *)base;
	store_sqlite_reader *rd;
	sqlite3 *dst = NULL;
	mode_t mask;
	int rc;

	if (s->memory) {
		snprintf(why, len, "an in-memory store has nothing to back up");
		return STORE_NOT_FOUND;
	}
	mask = umask(077);
	rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE, NULL);
	umask(mask);
	if (rc != SQLITE_OK) {
		snprintf(why, len, "%s: %s", path, dst ? sqlite3_errmsg(dst) : "cannot create");
		sqlite3_close(dst);
		return STORE_ERROR;
	}
	rd = store_sqlite_read_begin(s);
	rc = store_sqlite_copy_db(dst, rd->db, why, len);
	pthread_mutex_unlock(&rd->lock);
	/* the copy stands alone: one file, no -wal beside it */
	if (rc == STORE_OK && sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(why, len, "%s: %s", path, sqlite3_errmsg(dst));
		rc = STORE_ERROR;
	}
	if (sqlite3_close(dst) != SQLITE_OK && rc == STORE_OK) {
		snprintf(why, len, "%s: cannot close the copy", path);
		rc = STORE_ERROR;
	}
	return rc;
}

static int store_sqlite_restore(store *base, const char *path, char *why, size_t len)
{
	store_sqlite *s = (store_sqlite *)base;
	sqlite3 *src = NULL;
	int64_t before = 0, after = 0;
	char sql[120];
	int rc;

	if (s->memory) {
		snprintf(why, len, "cannot restore into an in-memory store");
		return STORE_NOT_FOUND;
	}
	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		snprintf(why, len, "%s: %s", path, src ? sqlite3_errmsg(src) : "cannot open");
		sqlite3_close(src);
		return STORE_ERROR;
	}
	store_sqlite_write_begin(s);
	store_sqlite_read_epoch(s->w, &before);
	rc = store_sqlite_copy_db(s->w, src, why, len);
	if (rc == STORE_OK && store_sqlite_migrate(s->w, why, len) != 0)
		rc = STORE_ERROR;
	/* past both epochs: every process on the file drops its caches */
	if (rc == STORE_OK && store_sqlite_read_epoch(s->w, &after) == 0) {
		snprintf(sql, sizeof sql, "UPDATE meta SET value = %lld WHERE name = 'epoch'",
		         (long long)((before > after ? before : after) + 1));
		if (sqlite3_exec(s->w, sql, NULL, NULL, NULL) != SQLITE_OK) {
			snprintf(why, len, "cannot move the epoch: %s", sqlite3_errmsg(s->w));
			rc = STORE_ERROR;
		}
	}
	store_sqlite_write_end(s);
	sqlite3_close(src);
	return rc;
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
	.keys_touch = store_sqlite_keys_touch,
	.key_update = store_sqlite_key_update,
	.key_use = store_sqlite_key_use,
	.key_page = store_sqlite_key_page,
	.key_owner = store_sqlite_key_owner,
	.key_descendants = store_sqlite_key_descendants,
	.key_hashes = store_sqlite_key_hashes,
	.reprepares = store_sqlite_reprepares,
	.audit_count = store_sqlite_audit_count,
	.meta_get = store_sqlite_meta_get,
	.meta_set = store_sqlite_meta_set,
	.key_count = store_sqlite_key_count,
	.ready = store_sqlite_ready,
	.changed = store_sqlite_changed,
	.user_list = store_sqlite_user_list,
	.audit_list = store_sqlite_audit_list,
	.key_rehash = store_sqlite_key_rehash,
	.secret_counts = store_sqlite_secret_counts,
	.backup = store_sqlite_backup,
	.restore = store_sqlite_restore,
};

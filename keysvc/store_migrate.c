/* store_migrate.c — `apikeyd migrate`: a SQLite store copied into an empty
 * PostgreSQL store (store_migrate.h).
 *
 * Source: opened with SQLITE_OPEN_READONLY and read in one read
 * transaction (one snapshot, even if a server still writes to it); its
 * schema must be the SQLite backend's current one (3). An older file is
 * refused rather than migrated here: opening it once with apikeyd brings it
 * up to date, and this command never writes to its source.
 *
 * Target: store_open creates this program's PostgreSQL schema on an empty
 * database (or refuses one newer than it knows); then one transaction takes
 * EXCLUSIVE locks on users, keys, audit and meta (a node started meanwhile
 * waits), refuses a target holding any user, key, audit row or secret check
 * value, copies every row with its id, sets the sequences past the copied
 * ids (keys: past the highest id SQLite ever handed out, AUTOINCREMENT's
 * sqlite_sequence, and every key id the audit names, so a deleted key's
 * NebulaBlock id never comes back), verifies the counts and every hash,
 * and only then commits.
 */
#include "store_migrate.h"
#include "store_backend.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#define MIGRATE_SQLITE_SCHEMA 6   /* store_sqlite.c's STORE_SCHEMA_VERSION this copy reads (4: parent_id, 5: secret_id, 6: key attributes) */
#define MIGRATE_PG_SCHEMA 3       /* store_pg.c's STORE_PG_SCHEMA_VERSION this copy writes (2: secret_id, 3: key attributes) */

typedef struct migrate_ctx {
	sqlite3 *src;
	PGconn *pg;
	char *err;
	size_t errlen;
} migrate_ctx;

static int migrate_fail(migrate_ctx *m, const char *what, const char *why)
{
	snprintf(m->err, m->errlen, "%s: %s", what, why);
	return -1;
}

static int migrate_src_fail(migrate_ctx *m, const char *what)
{
	return migrate_fail(m, what, sqlite3_errmsg(m->src));
}

static int migrate_pg_fail(migrate_ctx *m, const char *what, PGresult *r)
{
	const char *msg = r ? PQresultErrorMessage(r) : NULL;
	char buf[512];

	snprintf(buf, sizeof buf, "%s", msg && *msg ? msg : PQerrorMessage(m->pg));
	buf[strcspn(buf, "\n")] = '\0';
	if (r)
		PQclear(r);
	return migrate_fail(m, what, buf);
}

static int migrate_pg_cmd(migrate_ctx *m, const char *sql, const char *what)
{
	PGresult *r = PQexec(m->pg, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		return migrate_pg_fail(m, what, r);
	PQclear(r);
	return 0;
}

/* One integer from a query of the source (0 rows: 0). */
static int migrate_src_int(migrate_ctx *m, const char *sql, int64_t *v)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*v = 0;
	if (sqlite3_prepare_v2(m->src, sql, -1, &st, NULL) != SQLITE_OK)
		return migrate_src_fail(m, "reading the source");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return migrate_src_fail(m, "reading the source");
	return 0;
}

/* One integer from a query of the target. */
static int migrate_pg_int(migrate_ctx *m, const char *sql, int64_t *v)
{
	PGresult *r = PQexec(m->pg, sql);

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		return migrate_pg_fail(m, "reading the target", r);
	*v = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

/* Read-only, and without a file of its own: a store whose -wal file is gone
 * or empty (its servers stopped) is opened immutable, so SQLite makes no
 * -wal or -shm file beside it (a plain read-only open would, the folder
 * being writable); one with a live WAL is read through it, read-only,
 * leaving the files as they are. Stop the servers first: an immutable file
 * does not see a writer that comes later. */
static int migrate_src_open(migrate_ctx *m, const char *from)
{
	char wal[4200], uri[12600], *o = uri;
	struct stat sb;

	snprintf(wal, sizeof wal, "%s-wal", from);
	if ((stat(wal, &sb) == 0 && sb.st_size > 0) || strlen(from) > 4096)
		return sqlite3_open_v2(from, &m->src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK ? 0 : -1;
	o += sprintf(o, "file:");
	for (const char *p = from; *p; p++) {
		if (*p == '%' || *p == '?' || *p == '#')
			o += sprintf(o, "%%%02X", (unsigned char)*p);
		else
			*o++ = *p;
	}
	sprintf(o, "?immutable=1");
	return sqlite3_open_v2(uri, &m->src, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK
	       ? 0 : -1;
}

static int migrate_open_source(migrate_ctx *m, const char *from)
{
	struct stat sb;
	int64_t version = 0, tables = 0;

	if (stat(from, &sb) != 0)
		return migrate_fail(m, from, "no such file (the SQLite store to copy)");
	if (!S_ISREG(sb.st_mode))
		return migrate_fail(m, from, "not a regular file");
	if (migrate_src_open(m, from) != 0)
		return migrate_src_fail(m, from);
	sqlite3_busy_timeout(m->src, 10000);
	/* one snapshot for the whole copy and its verification */
	if (sqlite3_exec(m->src, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return migrate_src_fail(m, from);
	if (migrate_src_int(m, "PRAGMA user_version", &version) != 0) {
		/* not a database at all (SQLITE_NOTADB) */
		char why[400];
		snprintf(why, sizeof why, "not a SQLite store (%s)", sqlite3_errmsg(m->src));
		return migrate_fail(m, from, why);
	}
	if (migrate_src_int(m, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
	                       " ('users', 'keys', 'audit', 'meta')", &tables) != 0)
		return -1;
	if (version == 0 && tables == 0)
		return migrate_fail(m, from, "not an apikeyd store (no schema)");
	if (version != MIGRATE_SQLITE_SCHEMA) {
		char why[200];
		if (version > MIGRATE_SQLITE_SCHEMA)
			snprintf(why, sizeof why, "schema version %" PRId64 ", newer than this program's %d", version,
			         MIGRATE_SQLITE_SCHEMA);
		else
			snprintf(why, sizeof why, "schema version %" PRId64 ", older than %d: start apikeyd on it once"
			         " (it migrates the file), then migrate", version, MIGRATE_SQLITE_SCHEMA);
		return migrate_fail(m, from, why);
	}
	if (tables != 4)
		return migrate_fail(m, from, "not an apikeyd store (tables missing)");
	return 0;
}

/* Creates the schema on an empty database (or refuses one it does not know)
 * through the backend itself, then connects on its own. */
static int migrate_open_target(migrate_ctx *m, const char *to)
{
	store_config cfg;
	store *s = NULL;
	char why[512];
	int64_t version = 0;

	memset(&cfg, 0, sizeof cfg);
	cfg.path = to;
	cfg.synchronous_full = 1;
	cfg.group_commit = 1;
	if (store_pg_backend.open(&cfg, &s, why, sizeof why) != STORE_OK)
		return migrate_fail(m, "the target PostgreSQL store", why);
	store_pg_backend.close(s);
	m->pg = PQconnectdb(to);
	if (PQstatus(m->pg) != CONNECTION_OK)
		return migrate_pg_fail(m, "connecting to the target", NULL);
	if (migrate_pg_cmd(m, "SET synchronous_commit = on", "the target session") != 0)
		return -1;
	if (migrate_pg_int(m, "SELECT version FROM apikeyd_schema", &version) != 0)
		return -1;
	if (version != MIGRATE_PG_SCHEMA) {
		snprintf(why, sizeof why, "schema version %" PRId64 ", this migration writes %d", version,
		         MIGRATE_PG_SCHEMA);
		return migrate_fail(m, "the target PostgreSQL store", why);
	}
	return 0;
}

static int migrate_check_empty(migrate_ctx *m)
{
	int64_t users = 0, keys = 0, audit = 0, check = 0;
	char why[300];

	if (migrate_pg_cmd(m, "LOCK TABLE users, keys, audit, meta IN EXCLUSIVE MODE", "locking the target") != 0 ||
	    migrate_pg_int(m, "SELECT count(*) FROM users", &users) != 0 ||
	    migrate_pg_int(m, "SELECT count(*) FROM keys", &keys) != 0 ||
	    migrate_pg_int(m, "SELECT count(*) FROM audit", &audit) != 0 ||
	    migrate_pg_int(m, "SELECT count(*) FROM meta WHERE name = 'secret_check'", &check) != 0)
		return -1;
	if (users || keys || audit || check) {
		snprintf(why, sizeof why, "not empty (%" PRId64 " users, %" PRId64 " keys, %" PRId64 " audit rows%s);"
		         " migrate only into an empty store", users, keys, audit, check ? ", a secret check value" : "");
		return migrate_fail(m, "the target PostgreSQL store", why);
	}
	return 0;
}

/* Text of column i of a source row, or NULL (SQL NULL). */
static const char *migrate_col(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : (const char *)sqlite3_column_text(st, i);
}

/* Copies every row of a source query into a target statement with the same
 * columns in the same order (all as text; blob_col, if >= 0, as bytes). */
static int migrate_copy(migrate_ctx *m, const char *what, const char *select, const char *insert, int ncols,
                        int blob_col, int64_t *copied)
{
	sqlite3_stmt *st = NULL;
	PGresult *r;
	const char *vals[24];
	int lens[24], fmts[24];
	int rc = -1, step;
	char name[32];

	*copied = 0;
	snprintf(name, sizeof name, "migrate_%s", what);
	r = PQprepare(m->pg, name, insert, ncols, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return migrate_pg_fail(m, what, r);
	PQclear(r);
	if (sqlite3_prepare_v2(m->src, select, -1, &st, NULL) != SQLITE_OK)
		return migrate_src_fail(m, what);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < ncols; i++) {
			if (i == blob_col) {
				vals[i] = sqlite3_column_blob(st, i);
				lens[i] = sqlite3_column_bytes(st, i);
				fmts[i] = 1;
				if (lens[i] != STORE_HASH_LEN) {
					char why[100];
					snprintf(why, sizeof why, "key %lld has a hash of %d bytes, not %d",
					         (long long)sqlite3_column_int64(st, 0), lens[i], STORE_HASH_LEN);
					migrate_fail(m, "the source", why);
					goto cleanup;
				}
			} else {
				vals[i] = migrate_col(st, i);
				lens[i] = 0;
				fmts[i] = 0;
			}
		}
		r = PQexecPrepared(m->pg, name, ncols, vals, lens, fmts, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			char where[80];
			snprintf(where, sizeof where, "copying %s (row id %lld)", what, (long long)sqlite3_column_int64(st, 0));
			migrate_pg_fail(m, where, r);
			goto cleanup;
		}
		PQclear(r);
		(*copied)++;
	}
	if (step != SQLITE_DONE) {
		migrate_src_fail(m, what);
		goto cleanup;
	}
	rc = 0;
cleanup:
	sqlite3_finalize(st);
	return rc;
}

/* The check values of the keyring's secrets: secret_check (secret 1) and
 * secret_check.N for each secret added by a rotation. */
static int migrate_secret_check(migrate_ctx *m, int *copied)
{
	sqlite3_stmt *st = NULL;
	PGresult *r;
	int step, rc = -1;

	*copied = 0;
	if (sqlite3_prepare_v2(m->src, "SELECT name, value FROM meta WHERE (name = 'secret_check' OR"
	                       " name LIKE 'secret\\_check.%' ESCAPE '\\') AND value IS NOT NULL ORDER BY name",
	                       -1, &st, NULL) != SQLITE_OK)
		return migrate_src_fail(m, "the secret check value");
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *v[2] = { (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1) };
		r = PQexecParams(m->pg, "INSERT INTO meta(name, value) VALUES ($1, $2)", 2, NULL, v, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			migrate_pg_fail(m, "copying the secret check value", r);
			goto cleanup;
		}
		PQclear(r);
		*copied = 1;
	}
	if (step != SQLITE_DONE) {
		migrate_src_fail(m, "the secret check value");
		goto cleanup;
	}
	rc = 0;
cleanup:
	sqlite3_finalize(st);
	return rc;
}

/* The target's sequences continue past every copied id. */
static int migrate_sequences(migrate_ctx *m, store_migrate_stats *stats)
{
	int64_t seq = 0, audit_key = 0, max_key = 0, next;
	char sql[400];

	/* the highest key id SQLite ever handed out (AUTOINCREMENT) and every
	   key id an audit row names, deleted keys included */
	if (migrate_src_int(m, "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'keys'", &seq) != 0 ||
	    migrate_src_int(m, "SELECT coalesce(max(key_id), 0) FROM audit", &audit_key) != 0 ||
	    migrate_src_int(m, "SELECT coalesce(max(id), 0) FROM keys", &max_key) != 0)
		return -1;
	if (audit_key > seq) seq = audit_key;
	if (max_key > seq) seq = max_key;
	/* setval(s, v, true): the next value is v + 1; (s, 1, false): it is 1 */
	snprintf(sql, sizeof sql, "SELECT setval(pg_get_serial_sequence('keys', 'id'), %" PRId64 ", %s)",
	         seq > 0 ? seq : 1, seq > 0 ? "true" : "false");
	if (migrate_pg_cmd(m, sql, "moving the keys' sequence") != 0)
		return -1;
	if (migrate_pg_cmd(m, "SELECT setval(pg_get_serial_sequence('users', 'id'), coalesce(max(id), 1), max(id) IS NOT NULL)"
	                      " FROM users", "moving the users' sequence") != 0 ||
	    migrate_pg_cmd(m, "SELECT setval(pg_get_serial_sequence('audit', 'id'), coalesce(max(id), 1), max(id) IS NOT NULL)"
	                      " FROM audit", "moving the audit's sequence") != 0)
		return -1;
	next = seq + 1;
	stats->next_key_id = next;
	return 0;
}

/* Row counts equal, and every key's hash in the target equals the source's
 * (all compared; the first mismatch reported). */
static int migrate_verify(migrate_ctx *m, store_migrate_stats *stats)
{
	static const char *const tables[] = { "users", "keys", "audit" };
	sqlite3_stmt *st = NULL;
	PGresult *r = NULL;
	char sql[100], why[300], first[200] = "";
	int64_t mismatches = 0, row = 0, n;
	int rc = -1, step;

	for (size_t i = 0; i < 3; i++) {
		int64_t a = 0, b = 0;
		snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
		if (migrate_src_int(m, sql, &a) != 0 || migrate_pg_int(m, sql, &b) != 0)
			return -1;
		if (a != b) {
			snprintf(why, sizeof why, "%s: %" PRId64 " rows in the source, %" PRId64 " in the target", tables[i], a, b);
			return migrate_fail(m, "verification failed", why);
		}
	}
	r = PQexecParams(m->pg, "SELECT id, hash FROM keys ORDER BY id", 0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return migrate_pg_fail(m, "reading the target's hashes", r);
	n = PQntuples(r);
	if (sqlite3_prepare_v2(m->src, "SELECT id, hash FROM keys ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
		migrate_src_fail(m, "reading the source's hashes");
		goto cleanup;
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0), pid = 0;
		const void *h = sqlite3_column_blob(st, 1);
		int hl = sqlite3_column_bytes(st, 1);
		if (row >= n) {
			if (!mismatches++)
				snprintf(first, sizeof first, "key %" PRId64 " is missing from the target", id);
			continue;
		}
		/* binary results: int8 in network byte order, bytea as its bytes */
		{
			const unsigned char *p = (const unsigned char *)PQgetvalue(r, (int)row, 0);
			for (int i = 0; i < 8; i++)
				pid = (int64_t)(((uint64_t)pid << 8) | p[i]);
		}
		if (pid != id) {
			if (!mismatches++)
				snprintf(first, sizeof first, "key %" PRId64 " in the source, %" PRId64 " in the target at the same"
				         " place", id, pid);
		} else if (PQgetlength(r, (int)row, 1) != hl || memcmp(PQgetvalue(r, (int)row, 1), h, (size_t)hl) != 0) {
			if (!mismatches++)
				snprintf(first, sizeof first, "key %" PRId64 ": its hash in the target differs from the source's", id);
		} else {
			stats->hashes_checked++;
		}
		row++;
	}
	if (step != SQLITE_DONE) {
		migrate_src_fail(m, "reading the source's hashes");
		goto cleanup;
	}
	if (row < n && !mismatches++)
		snprintf(first, sizeof first, "the target has %" PRId64 " keys more than the source", n - row);
	if (mismatches) {
		snprintf(why, sizeof why, "%" PRId64 " key(s) differ; the first: %s", mismatches, first);
		migrate_fail(m, "verification failed", why);
		goto cleanup;
	}
	rc = 0;
cleanup:
	sqlite3_finalize(st);
	PQclear(r);
	return rc;
}

int store_migrate(const char *from, const char *to, store_migrate_stats *stats, char *err, size_t errlen)
{
	migrate_ctx m = { .err = err, .errlen = errlen };
	int rc = -1, began = 0, committing = 0;

	memset(stats, 0, sizeof *stats);
	if (!store_pg_backend.accepts(to)) {
		snprintf(err, errlen, "--to: not a PostgreSQL URI (postgresql://...) or conninfo (host=... dbname=...)");
		return -1;
	}
	if (migrate_open_source(&m, from) != 0 || migrate_open_target(&m, to) != 0)
		goto cleanup;
	if (migrate_pg_cmd(&m, "BEGIN", "the target transaction") != 0)
		goto cleanup;
	began = 1;
	if (migrate_check_empty(&m) != 0)
		goto cleanup;
	if (migrate_copy(&m, "users", "SELECT id, name, created FROM users ORDER BY id",
	                 "INSERT INTO users(id, name, created) VALUES ($1, $2, $3)", 3, -1, &stats->users) != 0 ||
	    migrate_copy(&m, "keys",
	                 "SELECT id, uuid, user_id, family, name, description, role, prefix, tail, hash, active, revoked,"
	                 " created, last_used, parent_id, secret_id, expires_at, scopes, meta, remaining, rl_limit, rl_window,"
	                 " owner FROM keys ORDER BY id",
	                 "INSERT INTO keys(id, uuid, user_id, family, name, description, role, prefix, tail, hash, active,"
	                 " revoked, created, last_used, parent_id, secret_id, expires_at, scopes, meta, remaining, rl_limit,"
	                 " rl_window, owner) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,"
	                 " $17, $18, $19, $20, $21, $22, $23)",
	                 23, 9, &stats->keys) != 0 ||
	    migrate_copy(&m, "audit", "SELECT id, at, actor, key_id, action, client FROM audit ORDER BY id",
	                 "INSERT INTO audit(id, at, actor, key_id, action, client) VALUES ($1, $2, $3, $4, $5, $6)", 6, -1,
	                 &stats->audit) != 0 ||
	    migrate_secret_check(&m, &stats->secret_check) != 0 || migrate_sequences(&m, stats) != 0 ||
	    migrate_verify(&m, stats) != 0)
		goto cleanup;
	if (migrate_pg_cmd(&m, "COMMIT", "committing the copy (its outcome is unknown: look at the target)") != 0) {
		began = 0;   /* the transaction is over either way; nothing acknowledged */
		committing = 1;
		goto cleanup;
	}
	began = 0;
	rc = 0;
cleanup:
	if (began)
		PQclear(PQexec(m.pg, "ROLLBACK"));
	if (m.pg)
		PQfinish(m.pg);
	if (m.src) {
		sqlite3_exec(m.src, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(m.src);
	}
	if (rc != 0 && !committing) {
		size_t l = strlen(err);
		snprintf(err + l, errlen - l, "; nothing was copied");
	}
	return rc;
}

/* store_pg.c — the PostgreSQL store backend (libpq), for many nodes over one
 * store.
 *
 * Connections: a small pool, each connection with its own lock and its own
 * prepared statements (prepared again after a reconnect). Every query goes
 * to the server the connection string names; with several hosts and
 * target_session_attrs=read-write, libpq finds the primary, so a key
 * created on one node is found by every other node at its first request.
 *
 * Durability: a write returns STORE_OK only after its COMMIT returned (with
 * synchronous_commit on, the server's default, which this backend sets on
 * every connection). Concurrent inserts are group-committed as in the
 * SQLite backend: one transaction per batch, a savepoint per insert, so a
 * failing insert does not undo its neighbours.
 *
 * Cross-node invalidation: every key write bumps the one-row epoch counter
 * inside its own transaction (the row lock orders epochs as commits), adds a
 * row to apikeyd_changes and NOTIFYs "epoch key_id user_id". A watcher
 * thread per node LISTENs on its own connection; on every (re)connect it
 * LISTENs first, then catches up from apikeyd_changes past the last epoch it
 * saw, and it re-reads the epoch every second, so a lost notification costs
 * at most a second. Each change reaches the key service through
 * store_config.on_change; a gap it cannot fill (the changes were pruned, or
 * this is the first connect after a long outage) forgets everything. The
 * caches trust the watcher only while it keeps up: when its last completed
 * catch-up began more than STORE_PG_TRUST_MS ago (its connection stalled,
 * the database slow to answer it, the thread starved), every request asks
 * the store (store_pg_other_writers), so a revocation committed on any node
 * is refused here within that bound whatever happens to the watcher.
 *
 * Schema: versioned in apikeyd_schema, migrated under an advisory lock so
 * one node migrates while the others wait; a schema newer than this program
 * knows is refused.
 */
#include "kmetrics.h"
#include "store_backend.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <gnutls/crypto.h>
#include <libpq-fe.h>

#define STORE_PG_SCHEMA_VERSION 3
#define STORE_PG_POOL 8
#define STORE_PG_LOCK_ID 7300221   /* pg_advisory_lock key of the migration */
#define STORE_PG_CHANNEL "apikeyd_keys"
#define STORE_PG_KEEP_CHANGES 3600 /* seconds of apikeyd_changes kept */
/* How long after the start of the watcher's last completed catch-up the
   caches are still trusted (then --stale-if-error more). Rounds begin every
   second, so a watcher that keeps up is never more than about 1.2 s behind. */
#define STORE_PG_TRUST_MS 2000
/* A query on the watcher's connection not answered by then: the connection
   is given up and the watcher connects again. */
#define STORE_PG_WATCH_WAIT_MS 3000

static const char *const store_pg_migrations[STORE_PG_SCHEMA_VERSION] = {
	/* 1 */
	"CREATE TABLE users ("
	"  id BIGSERIAL PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  created BIGINT NOT NULL);"
	"CREATE TABLE keys ("
	"  id BIGSERIAL PRIMARY KEY,"
	"  uuid TEXT NOT NULL UNIQUE,"
	"  user_id BIGINT NOT NULL REFERENCES users(id),"
	"  family INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  description TEXT,"
	"  role TEXT NOT NULL DEFAULT '',"
	"  prefix TEXT NOT NULL,"
	"  tail TEXT NOT NULL,"
	"  hash BYTEA NOT NULL,"
	"  active SMALLINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),"   /* 0/1 as in SQLite: one audit query for both */
	"  revoked SMALLINT NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),"
	"  created BIGINT NOT NULL,"
	"  last_used BIGINT,"
	"  parent_id BIGINT);"   /* the key whose holder created this one; NULL: none (the CLI, a JWT) */
	"CREATE UNIQUE INDEX keys_hash ON keys(hash);"
	"CREATE INDEX keys_parent ON keys(parent_id);"
	"CREATE INDEX keys_owner ON keys(user_id, family, id);"
	"CREATE UNIQUE INDEX keys_feldera_name ON keys(user_id, name) WHERE family = 1;"
	"CREATE TABLE audit ("
	"  id BIGSERIAL PRIMARY KEY,"
	"  at BIGINT NOT NULL,"
	"  actor BIGINT,"
	"  key_id BIGINT,"
	"  action TEXT NOT NULL,"
	"  client TEXT);"
	"CREATE INDEX audit_key ON audit(key_id, action);"
	"CREATE TABLE apikeyd_epoch (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), epoch BIGINT NOT NULL);"
	"INSERT INTO apikeyd_epoch(epoch) VALUES (0);"
	"CREATE TABLE apikeyd_changes ("
	"  epoch BIGINT PRIMARY KEY,"
	"  key_id BIGINT NOT NULL,"
	"  user_id BIGINT NOT NULL,"
	"  at BIGINT NOT NULL);"
	/* the store's own named values: the server secret's check value */
	"CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
	/* 2: the HMAC keyring (keysvc.h): the keyring secret a key's hash was
	 * made with; every key before is the one secret of then, id 1 */
	"ALTER TABLE keys ADD COLUMN secret_id BIGINT NOT NULL DEFAULT 1;"
	"CREATE INDEX keys_secret ON keys(secret_id, revoked);",
	/* 3: the key attributes of the apikeyd API (SQLite's schema 6): expiry
	 * (NULL: never), scopes (space-separated), meta (a JSON object's text),
	 * uses left (NULL: not counted), rl_limit uses per rl_window seconds. */
	"ALTER TABLE keys ADD COLUMN expires_at BIGINT;"
	"ALTER TABLE keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE keys ADD COLUMN meta TEXT;"
	"ALTER TABLE keys ADD COLUMN remaining BIGINT;"
	"ALTER TABLE keys ADD COLUMN rl_limit BIGINT;"
	"ALTER TABLE keys ADD COLUMN rl_window BIGINT;"
	"ALTER TABLE keys ADD COLUMN owner TEXT NOT NULL DEFAULT '';",
};

enum {
	P_USER_ADD, P_USER_FIND, P_KEY_INSERT, P_AUDIT, P_GET_UUID, P_GET_ID, P_GET_NAME, P_BY_HASH,
	P_LIST, P_COUNT, P_SET_ACTIVE, P_REVOKE, P_DELETE, P_TOUCH, P_TOUCH_MANY, P_AUDIT_COUNT, P_EPOCH_BUMP, P_CHANGE,
	P_QUOTA_LOCK, P_QUOTA, P_PAGE, P_OWNER, P_DESCENDANTS, P_REPARENT, P_HASHES, P_UPDATE, P_USE, P_N
};

#define STORE_PG_KEY_COLS "id, uuid, user_id, family, name, description, role, prefix, tail, active, revoked, created, last_used, parent_id," \
                          " expires_at, scopes, meta, remaining, rl_limit, rl_window, owner"

static const char *const store_pg_sql[P_N] = {
	[P_USER_ADD] = "INSERT INTO users(name, created) VALUES ($1, $2) RETURNING id",
	[P_USER_FIND] = "SELECT id FROM users WHERE name = $1",
	[P_KEY_INSERT] = "INSERT INTO keys(uuid, user_id, family, name, description, role, prefix, tail, hash, created, parent_id,"
	                 " secret_id, expires_at, scopes, meta, remaining, rl_limit, rl_window, owner, active)"
	                 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
	                 " RETURNING id",
	[P_AUDIT] = "INSERT INTO audit(at, actor, key_id, action, client) VALUES ($1, $2, $3, $4, $5)",
	[P_GET_UUID] = "SELECT " STORE_PG_KEY_COLS " FROM keys WHERE user_id = $1 AND ($2::int < 0 OR family = $2)"
	               " AND uuid = $3",
	[P_GET_ID] = "SELECT " STORE_PG_KEY_COLS " FROM keys WHERE user_id = $1 AND ($2::int < 0 OR family = $2)"
	             " AND id = $3",
	[P_GET_NAME] = "SELECT " STORE_PG_KEY_COLS " FROM keys WHERE user_id = $1 AND ($2::int < 0 OR family = $2)"
	               " AND name = $3 ORDER BY id LIMIT 1",
	[P_BY_HASH] = "SELECT " STORE_PG_KEY_COLS ", hash FROM keys WHERE hash = $1",
	[P_LIST] = "SELECT " STORE_PG_KEY_COLS " FROM keys WHERE user_id = $1 AND ($2::int < 0 OR family = $2)"
	           " AND ($3::text IS NULL OR name = $3) AND ($4::bool OR revoked = 0)"
	           " ORDER BY id DESC LIMIT $5 OFFSET $6",
	[P_COUNT] = "SELECT count(*) FROM keys WHERE user_id = $1 AND ($2::int < 0 OR family = $2)"
	            " AND ($3::text IS NULL OR name = $3) AND ($4::bool OR revoked = 0)",
	[P_SET_ACTIVE] = "UPDATE keys SET active = $1 WHERE id = $2 RETURNING user_id",
	[P_REVOKE] = "UPDATE keys SET active = 0, revoked = 1 WHERE id = $1 AND revoked = 0 RETURNING user_id",
	[P_DELETE] = "DELETE FROM keys WHERE id = $1 RETURNING user_id",
	[P_TOUCH] = "UPDATE keys SET last_used = $1 WHERE id = $2 AND (last_used IS NULL OR last_used < $1)",
	/* the touch writer's batch: ids and times as two arrays, a key named twice
	   at its latest time (UPDATE ... FROM takes one source row per target
	   row, and which one is not said) */
	[P_TOUCH_MANY] = "UPDATE keys SET last_used = v.w FROM (SELECT id, max(w) AS w FROM unnest($1::bigint[], $2::bigint[])"
	                 " AS u(id, w) GROUP BY id) AS v WHERE keys.id = v.id AND (keys.last_used IS NULL OR keys.last_used < v.w)",
	[P_AUDIT_COUNT] = "SELECT count(*) FROM audit WHERE key_id = $1 AND action = $2",
	[P_EPOCH_BUMP] = "UPDATE apikeyd_epoch SET epoch = epoch + 1 RETURNING epoch",
	[P_CHANGE] = "WITH c AS (INSERT INTO apikeyd_changes(epoch, key_id, user_id, at) VALUES ($1, $2, $3, $4))"
	             " SELECT pg_notify('" STORE_PG_CHANNEL "', $5)",
	/* the quota: one owner's inserts in turn on every node, then counted */
	[P_QUOTA_LOCK] = "SELECT pg_advisory_xact_lock(7300222, ($1::bigint % 2147483647)::int)",
	[P_QUOTA] = "SELECT count(*) FROM (SELECT 1 FROM keys WHERE user_id = $1 AND revoked = 0 LIMIT $2) q",
	[P_PAGE] = "SELECT " STORE_PG_KEY_COLS " FROM keys WHERE user_id = $1 AND ($2::int < 0 OR family = $2)"
	           " AND ($3::bool OR revoked = 0) AND ($4::bigint = 0 OR id < $4) ORDER BY id DESC LIMIT $5",
	[P_OWNER] = "SELECT user_id FROM keys WHERE id = $1",
	[P_DESCENDANTS] = "WITH RECURSIVE t(id) AS (SELECT id FROM keys WHERE parent_id = $1"
	                  " UNION SELECT k.id FROM keys k JOIN t ON k.parent_id = t.id)"
	                  " SELECT keys.id FROM keys JOIN t ON keys.id = t.id WHERE keys.revoked = 0",
	[P_REPARENT] = "UPDATE keys SET parent_id = (SELECT parent_id FROM keys WHERE id = $1) WHERE parent_id = $1",
	[P_HASHES] = "SELECT id, hash FROM keys WHERE id > $1 ORDER BY id",
	/* $1: the STORE_SET_* fields to write */
	[P_UPDATE] = "UPDATE keys SET name = CASE WHEN $1::int & 1 <> 0 THEN $2 ELSE name END,"
	             " scopes = CASE WHEN $1::int & 2 <> 0 THEN $3 ELSE scopes END,"
	             " role = CASE WHEN $1::int & 2 <> 0 THEN $4 ELSE role END,"
	             " meta = CASE WHEN $1::int & 4 <> 0 THEN $5 ELSE meta END,"
	             " active = CASE WHEN $1::int & 8 <> 0 THEN $6::smallint ELSE active END,"
	             " expires_at = CASE WHEN $1::int & 16 <> 0 THEN $7::bigint ELSE expires_at END,"
	             " remaining = CASE WHEN $1::int & 32 <> 0 THEN $8::bigint ELSE remaining END,"
	             " rl_limit = CASE WHEN $1::int & 64 <> 0 THEN $9::bigint ELSE rl_limit END,"
	             " rl_window = CASE WHEN $1::int & 64 <> 0 THEN $10::bigint ELSE rl_window END"
	             ", owner = CASE WHEN $1::int & 128 <> 0 THEN $12 ELSE owner END"
	             " WHERE id = $11 AND revoked = 0 RETURNING user_id",
	[P_USE] = "UPDATE keys SET remaining = remaining - 1 WHERE id = $1 AND remaining > 0 RETURNING remaining",
};

typedef struct store_pg_conn {
	PGconn *c;
	int prepared;              /* the statements exist on this session */
	int lazy;                  /* reads and last_used only: commits need not wait for the disk */
	long long retry_at;        /* bad: not connected again before then (store_pg_now_ms) */
	pthread_mutex_t lock;
} store_pg_conn;

typedef struct store_pg_job {
	store_key *k;
	const unsigned char *hash;
	const char *client;
	int64_t quota;             /* > 0: the owner's unrevoked keys allowed */
	int rc;
	int done;
	struct store_pg_job *next;
} store_pg_job;

typedef struct store_pg {
	store base;                /* first: the handle keysvc holds */
	char *conninfo;
	store_pg_conn pool[STORE_PG_POOL];
	store_pg_conn writer;      /* group-committed inserts and state changes */
	/* a statement went unanswered (STORE_PG_WAIT_MS): until then (store_pg_now_ms)
	   every call fails at once; then one call asks again, the others still
	   failing, and an answer on any session clears it (store_pg_result) */
	atomic_llong stalled_until;
	atomic_uint next;
	int group;
	pthread_mutex_t qlock;     /* the insert queue, the writer token */
	pthread_cond_t qcond;
	store_pg_job *head, *tail;
	int writing;
	/* the watcher */
	store_change_fn on_change;
	void *on_change_ctx;
	pthread_t watcher;
	int watching;
	atomic_int stop;
	atomic_llong seen_epoch;   /* the last epoch whose change reached on_change */
	atomic_int listening;      /* 1 while the watcher's connection is up */
	atomic_llong last_ready;   /* the second of the last write probe that committed */
	atomic_llong last_prune;   /* when old change rows were last removed */
	atomic_llong down_since_ms; /* when the watcher lost its connection (0: listening) */
	atomic_llong round_ms;     /* when the last catch-up that completed began: every change
	                              committed before then has reached on_change */
	unsigned stale_if_error;   /* seconds the caches are still trusted after that */
} store_pg;

static int64_t store_pg_now(void)
{
	return (int64_t)time(NULL);
}

static long long store_pg_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- waiting for PostgreSQL ----
 * A server stopped or cut off without closing anything (its processes
 * stopped, a wedged host, a network that drops packets) accepts
 * connections and data and answers nothing: libpq's PQexec waits for it
 * for ever, and every request that needed the store waited with it (65 s
 * in test-pgstall, until the server ran again; a worker thread each, so
 * /healthz too once they all did). Every statement of the pool's sessions
 * and the writer's is waited for STORE_PG_WAIT_MS at most: then the
 * session is shut (its socket; libpq sees it closed and marks it bad) and
 * the call fails as unavailable, a 503 with Retry-After. A bad session is
 * connected again at most once per STORE_PG_RETRY_MS (calls on it fail at
 * once meanwhile), within libpq's connect_timeout, STORE_PG_CONNECT_TIMEOUT
 * unless the URI sets its own. The watcher's statements wait
 * STORE_PG_WATCH_WAIT_MS, its caller dropping the connection. Migrations
 * at the start are not bounded: one may take long on a large table. A
 * COMMIT given up is in doubt, as one cut off by a network failure: the
 * client is told 503 and the server may still commit it. */
#define STORE_PG_WAIT_MS 5000
#define STORE_PG_RETRY_MS 1000
#define STORE_PG_CONNECT_TIMEOUT "3"

static _Thread_local int store_pg_timed_out;   /* the last wait ran out of time */
static _Thread_local int store_pg_answered;    /* the last wait had an answer (an error too) */
static _Thread_local struct store_pg *store_pg_cur;   /* the store of this thread's last store_pg_ready */

/* A new session: connect_timeout first, so that the URI's own (a keyword
   repeated: the last one counts) overrides it. */
static PGconn *store_pg_connect(const char *conninfo)
{
	const char *const kw[] = { "connect_timeout", "dbname", NULL };
	const char *const val[] = { STORE_PG_CONNECT_TIMEOUT, conninfo, NULL };

	return PQconnectdbParams(kw, val, 1);
}

/* The results of what was sent on c, waited for until `until`
   (store_pg_now_ms): the last one, or the first error among them, as
   PQexec keeps; NULL when nothing came in time (store_pg_timed_out) or
   the connection broke, a query perhaps still in flight. */
static PGresult *store_pg_result_until(PGconn *c, long long until)
{
	PGresult *r, *last = NULL;

	store_pg_timed_out = store_pg_answered = 0;
	for (;;) {
		while (!PQisBusy(c)) {
			if ((r = PQgetResult(c)) == NULL)
				return last;
			store_pg_answered = 1;
			if (last != NULL && PQresultStatus(last) == PGRES_FATAL_ERROR) {
				PQclear(r);
			} else {
				PQclear(last);
				last = r;
			}
		}
		long long left = until - store_pg_now_ms();
		struct pollfd p = { .fd = PQsocket(c), .events = POLLIN };
		int ready = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0 || PQconsumeInput(c) == 0) {
			store_pg_timed_out = ready == 0;
			PQclear(last);
			return NULL;
		}
	}
}

/* A request path's wait (STORE_PG_WAIT_MS). Out of time, the session is
   shut, so that it is connected again before its next use, and the store
   is stalled (stalled_until); an answer ends a stall. */
static PGresult *store_pg_result(PGconn *c)
{
	PGresult *r = store_pg_result_until(c, store_pg_now_ms() + STORE_PG_WAIT_MS);

	if (r == NULL && store_pg_timed_out) {
		if (PQsocket(c) >= 0) {
			shutdown(PQsocket(c), SHUT_RDWR);
			(void)PQconsumeInput(c);   /* reads the end: libpq marks the session bad */
		}
		if (store_pg_cur != NULL)
			atomic_store(&store_pg_cur->stalled_until, store_pg_now_ms() + STORE_PG_RETRY_MS);
	} else if (store_pg_answered && store_pg_cur != NULL && atomic_load(&store_pg_cur->stalled_until) != 0) {
		atomic_store(&store_pg_cur->stalled_until, 0);
	}
	return r;
}

/* PQexec, PQexecParams (text parameters and results) and PQexecPrepared,
   each waited for at most STORE_PG_WAIT_MS */
static PGresult *store_pg_q(PGconn *c, const char *sql)
{
	store_pg_timed_out = store_pg_answered = 0;
	return PQsendQuery(c, sql) ? store_pg_result(c) : NULL;
}

static PGresult *store_pg_qparams(PGconn *c, const char *sql, int n, const char *const *v)
{
	store_pg_timed_out = store_pg_answered = 0;
	return PQsendQueryParams(c, sql, n, NULL, v, NULL, NULL, 0) ? store_pg_result(c) : NULL;
}

/* ---- connections ---- */

static int store_pg_prepare(store_pg_conn *pc)
{
	char name[8];

	for (int i = 0; i < P_N; i++) {
		snprintf(name, sizeof name, "q%d", i);
		PGresult *r = PQsendPrepare(pc->c, name, store_pg_sql[i], 0, NULL) ? store_pg_result(pc->c) : NULL;
		int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (!ok)
			return -1;
	}
	pc->prepared = 1;
	return 0;
}

/* A session's settings: synchronous_commit on, so a 2xx follows a durable
   COMMIT; off on the pool sessions, whose only writes are last_used (a
   bookkeeping value: a crash may lose its last second, never a key) and
   which must not wait for a busy disk on the request path. */
static int store_pg_session_for(PGconn *c, int lazy)
{
	PGresult *r = store_pg_q(c, lazy ? "SET synchronous_commit = off; SET client_min_messages = warning"
	                             : "SET synchronous_commit = on; SET client_min_messages = warning");
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	return ok ? 0 : -1;
}

/* A reconnect that failed after waiting (a server that accepts and never
   answers: libpq's connect_timeout) is not tried again for
   STORE_PG_RETRY_MS; one refused at once (a server stopped, its socket
   gone) may be tried by the next call, so that a server back is used at once. */
static void store_pg_failed_since(store_pg_conn *pc, long long t0)
{
	long long now = store_pg_now_ms();

	if (now - t0 >= 500)
		pc->retry_at = now + STORE_PG_RETRY_MS;
}

/* A usable session on pc: reconnects a broken one (once per call; the
   caller's request fails if that does not work) and prepares again. While
   the store is stalled every call fails at once, but for one call at a
   time that asks again. */
static int store_pg_ready(store_pg *s, store_pg_conn *pc)
{
	long long st = atomic_load(&s->stalled_until), t0 = 0;
	int probe = 0;

	store_pg_cur = s;
	if (st != 0) {
		long long now = store_pg_now_ms();
		if (now < st || !atomic_compare_exchange_strong(&s->stalled_until, &st, now + STORE_PG_WAIT_MS + STORE_PG_RETRY_MS))
			return -1;
		probe = 1;
	}
	if (!pc->c || PQstatus(pc->c) != CONNECTION_OK || PQtransactionStatus(pc->c) == PQTRANS_UNKNOWN) {
		if (pc->c && store_pg_now_ms() < pc->retry_at)
			goto fail;   /* shut or failed a moment ago: not again yet (STORE_PG_RETRY_MS) */
		t0 = store_pg_now_ms();
		if (!pc->c)
			pc->c = store_pg_connect(s->conninfo);
		else
			PQreset(pc->c);
		pc->prepared = 0;
		if (PQstatus(pc->c) != CONNECTION_OK) {
			store_pg_failed_since(pc, t0);
			goto fail;
		}
	}
	if (!pc->prepared) {
		if (t0 == 0)
			t0 = store_pg_now_ms();
		if (store_pg_session_for(pc->c, pc->lazy) != 0 || store_pg_prepare(pc) != 0) {
			if (PQstatus(pc->c) != CONNECTION_OK)
				store_pg_failed_since(pc, t0);
			goto fail;
		}
	}
	return 0;
fail:
	/* a probe that had nothing to wait for: another call may ask in a moment */
	if (probe && atomic_load(&s->stalled_until) > store_pg_now_ms() + STORE_PG_RETRY_MS)
		atomic_store(&s->stalled_until, store_pg_now_ms() + STORE_PG_RETRY_MS);
	return -1;
}

static store_pg_conn *store_pg_read_begin(store_pg *s)
{
	unsigned start = atomic_fetch_add(&s->next, 1);

	store_pg_timed_out = store_pg_answered = 0;

	for (unsigned i = 0; i < STORE_PG_POOL; i++) {
		store_pg_conn *pc = &s->pool[(start + i) % STORE_PG_POOL];
		if (pthread_mutex_trylock(&pc->lock) == 0)
			return pc;
	}
	store_pg_conn *pc = &s->pool[start % STORE_PG_POOL];
	pthread_mutex_lock(&pc->lock);
	return pc;
}

static void store_pg_read_end(store_pg_conn *pc)
{
	pthread_mutex_unlock(&pc->lock);
}

/* Runs prepared statement q with text parameters (NULL = SQL NULL); the
   parameter at index `binary` (or -1) is binary of length binlen. */
static int store_pg_cmd(PGconn *c, const char *sql);
static int store_pg_session_for(PGconn *c, int lazy);
static int store_pg_status(const PGresult *r);

/* A session found dead while idle: reconnect and prepare again, once. */
static int store_pg_revive(store_pg_conn *pc)
{
	if (store_pg_timed_out || store_pg_now_ms() < pc->retry_at) {   /* no answer just now: not again yet */
		if (store_pg_timed_out)
			pc->retry_at = store_pg_now_ms() + STORE_PG_RETRY_MS;
		return -1;
	}
	long long t0 = store_pg_now_ms();
	PQreset(pc->c);
	pc->prepared = 0;
	if (PQstatus(pc->c) != CONNECTION_OK || store_pg_session_for(pc->c, pc->lazy) != 0 || store_pg_prepare(pc) != 0) {
		store_pg_failed_since(pc, t0);
		return -1;
	}
	return 0;
}

static PGresult *store_pg_prepared(PGconn *c, const char *name, int n, const char *const *v, const int *lens, const int *fmts)
{
	store_pg_timed_out = store_pg_answered = 0;
	return PQsendQueryPrepared(c, name, n, v, lens, fmts, 0) ? store_pg_result(c) : NULL;
}

static PGresult *store_pg_exec(store_pg_conn *pc, int q, int n, const char *const *v, int binary, int binlen)
{
	char name[8];
	int lens[20] = { 0 }, fmts[20] = { 0 };

	snprintf(name, sizeof name, "q%d", q);
	if (binary >= 0) {
		lens[binary] = binlen;
		fmts[binary] = 1;
	}
	int idle = PQtransactionStatus(pc->c) == PQTRANS_IDLE;
	PGresult *r = store_pg_prepared(pc->c, name, n, v, lens, fmts);
	if (idle && PQresultStatus(r) == PGRES_FATAL_ERROR &&
	    (PQstatus(pc->c) != CONNECTION_OK || store_pg_status(r) == STORE_UNAVAILABLE) && store_pg_revive(pc) == 0) {
		PQclear(r);
		r = store_pg_prepared(pc->c, name, n, v, lens, fmts);
	}
	return r;
}

/* BEGIN, once more on a new session if the old one turned out dead (a
   restarted server: a session learns it only from its next command). */
static int store_pg_begin(store_pg_conn *pc, const char *sql)
{
	PGresult *r = store_pg_q(pc->c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	int dead = !ok && (PQstatus(pc->c) != CONNECTION_OK || store_pg_status(r) == STORE_UNAVAILABLE);

	PQclear(r);
	if (ok)
		return 0;
	return dead && store_pg_revive(pc) == 0 ? store_pg_cmd(pc->c, sql) : -1;
}

static int store_pg_cmd(PGconn *c, const char *sql)
{
	PGresult *r = store_pg_q(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	return ok ? 0 : -1;
}

/* store_pg_cmd for the migrations, waited for as long as they take */
static int store_pg_cmd_long(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	return ok ? 0 : -1;
}

/* A failed statement: a unique violation is STORE_CONSTRAINT. */
static int store_pg_status(const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (state && strcmp(state, "23505") == 0)
		return STORE_CONSTRAINT;
	/* connection (08), resources (53), shutdown (57), serialization or
	   deadlock (40): it may pass */
	if (!state || strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 || strncmp(state, "57", 2) == 0 ||
	    strncmp(state, "40", 2) == 0)
		return STORE_UNAVAILABLE;
	return STORE_ERROR;
}

static void store_pg_i64(char *buf, size_t len, int64_t v)
{
	snprintf(buf, len, "%" PRId64, v);
}

/* ---- schema ---- */

static int store_pg_migrate(PGconn *c, char *err, size_t errlen)
{
	PGresult *r = NULL;
	int version = 0, rc = -1;
	char sql[160];

	store_pg_session_for(c, 0);
	snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%d)", STORE_PG_LOCK_ID);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "cannot take the migration lock: %s", PQerrorMessage(c));
		goto cleanup;
	}
	PQclear(r);
	r = PQexec(c, "CREATE TABLE IF NOT EXISTS apikeyd_schema (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),"
	              " version INTEGER NOT NULL)");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "cannot create the schema table: %s", PQerrorMessage(c));
		goto unlock;
	}
	PQclear(r);
	r = PQexec(c, "SELECT version FROM apikeyd_schema");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "cannot read the schema version: %s", PQerrorMessage(c));
		goto unlock;
	}
	if (PQntuples(r) == 1)
		version = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	r = NULL;
	if (version > STORE_PG_SCHEMA_VERSION) {
		snprintf(err, errlen, "the database has schema version %d, newer than this program's %d", version,
		         STORE_PG_SCHEMA_VERSION);
		goto unlock;
	}
	for (int v = version; v < STORE_PG_SCHEMA_VERSION; v++) {
		if (store_pg_cmd_long(c, "BEGIN") != 0)
			goto failed;
		if (store_pg_cmd_long(c, store_pg_migrations[v]) != 0) {
			snprintf(err, errlen, "migration to schema %d: %s", v + 1, PQerrorMessage(c));
			store_pg_cmd_long(c, "ROLLBACK");
			goto unlock;
		}
		snprintf(sql, sizeof sql,
		         "INSERT INTO apikeyd_schema(version) VALUES (%d) ON CONFLICT (one) DO UPDATE SET version = %d",
		         v + 1, v + 1);
		if (store_pg_cmd_long(c, sql) != 0 || store_pg_cmd_long(c, "COMMIT") != 0) {
			store_pg_cmd_long(c, "ROLLBACK");
			goto failed;
		}
	}
	rc = 0;
	goto unlock;
failed:
	snprintf(err, errlen, "migration: %s", PQerrorMessage(c));
unlock:
	snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%d)", STORE_PG_LOCK_ID);
	PQclear(r);
	r = PQexec(c, sql);
cleanup:
	PQclear(r);
	return rc;
}

/* ---- the watcher ---- */

static void store_pg_applied(store_pg *s, int64_t epoch, int64_t key_id, int64_t user_id)
{
	if (s->on_change)
		s->on_change(s->on_change_ctx, key_id, user_id);
	if (epoch > atomic_load(&s->seen_epoch))
		atomic_store(&s->seen_epoch, epoch);
}

/* One query on the watcher's connection, waited for at most
   STORE_PG_WATCH_WAIT_MS, so that a connection that stays up but no longer
   answers (its backend stopped, a network dropping packets silently) is
   given up instead of holding the watcher for ever. The result (new), or
   NULL when it could not be sent or did not come in time: then a query may
   still be in flight and the caller drops the connection. Notifications
   that arrive meanwhile wait in libpq for store_pg_notified. */
static PGresult *store_pg_watch_exec(PGconn *c, const char *sql, int n, const char *const *v)
{
	if (!PQsendQueryParams(c, sql, n, NULL, v, NULL, NULL, 0))
		return NULL;
	return store_pg_result_until(c, store_pg_now_ms() + STORE_PG_WATCH_WAIT_MS);
}

/* Everything past seen_epoch, from apikeyd_changes; if the oldest kept row
   is past the next epoch we expect, something was pruned: forget all. Once
   done, every change committed before it began has reached on_change: that
   moment becomes round_ms. */
static int store_pg_catch_up(store_pg *s, PGconn *c)
{
	char since[24];
	PGresult *r;
	int64_t seen = atomic_load(&s->seen_epoch);
	long long began = store_pg_now_ms();

	r = store_pg_watch_exec(c, "SELECT epoch, (SELECT coalesce(min(epoch), 0) FROM apikeyd_changes) FROM apikeyd_epoch", 0,
	                        NULL);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		PQclear(r);
		return -1;
	}
	int64_t now = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	int64_t oldest = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	if (now <= seen)
		goto done;
	if (oldest == 0 || oldest > seen + 1) {
		/* the changes between seen and oldest are gone */
		if (s->on_change)
			s->on_change(s->on_change_ctx, -1, -1);
		seen = oldest ? oldest - 1 : now;
		if (oldest == 0) {
			atomic_store(&s->seen_epoch, now);
			goto done;
		}
	}
	const char *v[1] = { since };
	store_pg_i64(since, sizeof since, seen);
	r = store_pg_watch_exec(c, "SELECT epoch, key_id, user_id FROM apikeyd_changes WHERE epoch > $1 ORDER BY epoch", 1, v);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return -1;
	}
	for (int i = 0; i < PQntuples(r); i++)
		store_pg_applied(s, strtoll(PQgetvalue(r, i, 0), NULL, 10), strtoll(PQgetvalue(r, i, 1), NULL, 10),
		                 strtoll(PQgetvalue(r, i, 2), NULL, 10));
	PQclear(r);
	if (now > atomic_load(&s->seen_epoch))
		atomic_store(&s->seen_epoch, now);
done:
	atomic_store(&s->round_ms, began);
	return 0;
}

/* The notifications libpq holds; a gap in their epochs is filled from the
   change table: -1 when that failed (the connection is to be dropped). */
static int store_pg_notified(store_pg *s, PGconn *c)
{
	PGnotify *n;
	int gap = 0;

	while ((n = PQnotifies(c)) != NULL) {
		long long epoch = 0, key_id = 0, user_id = 0;
		if (sscanf(n->extra, "%lld %lld %lld", &epoch, &key_id, &user_id) == 3) {
			if (epoch > atomic_load(&s->seen_epoch) + 1)
				gap = 1;  /* an earlier one is still to come, or was lost */
			if (s->on_change)
				s->on_change(s->on_change_ctx, key_id, user_id);
			if (!gap && epoch > atomic_load(&s->seen_epoch))
				atomic_store(&s->seen_epoch, epoch);
		}
		PQfreemem(n);
	}
	return gap ? store_pg_catch_up(s, c) : 0;
}

/* Old change rows go, at most once a minute, inside a key write's own
   transaction (never on the watcher's connection: a commit there would wait
   for the disk while notifications queue up behind it). */
static void store_pg_prune(store_pg *s, PGconn *c)
{
	char sql[120];
	long long now = (long long)time(NULL), last = atomic_load(&s->last_prune);

	if (now - last < 60 || !atomic_compare_exchange_strong(&s->last_prune, &last, now))
		return;
	/* under its own savepoint: a failed prune never fails the write */
	snprintf(sql, sizeof sql, "SAVEPOINT prune; DELETE FROM apikeyd_changes WHERE at < %" PRId64,
	         store_pg_now() - STORE_PG_KEEP_CHANGES);
	PGresult *r = store_pg_q(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	store_pg_cmd(c, ok ? "RELEASE prune" : "ROLLBACK TO prune; RELEASE prune");
}

static void store_pg_sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
}

static void *store_pg_watch(void *arg)
{
	store_pg *s = arg;
	PGconn *c = NULL;
	long backoff = 50;
	time_t last_check = 0;

	while (!atomic_load(&s->stop)) {
		if (!c || PQstatus(c) != CONNECTION_OK) {
			atomic_store(&s->listening, 0);
			long long zero = 0;
			atomic_compare_exchange_strong(&s->down_since_ms, &zero, store_pg_now_ms());
			PQfinish(c);
			c = store_pg_connect(s->conninfo);
			char appname[64];
			/* named, so an operator (or a test) can tell the watcher in pg_stat_activity */
			snprintf(appname, sizeof appname, "SET application_name = 'apikeyd-watch-%ld'", (long)getpid());
			if (PQstatus(c) != CONNECTION_OK || store_pg_cmd(c, appname) != 0 ||
			    store_pg_cmd(c, "LISTEN " STORE_PG_CHANNEL) != 0 ||
			    store_pg_catch_up(s, c) != 0) {
				/* dropped, even if it is up: it is not listening, or a query is still in flight */
				PQfinish(c);
				c = NULL;
				store_pg_sleep_ms(backoff);
				backoff = backoff < 2000 ? backoff * 2 : 2000;
				continue;
			}
			backoff = 50;
			atomic_store(&s->listening, 1);
			atomic_store(&s->down_since_ms, 0);
			last_check = time(NULL);
		}
		struct pollfd p = { .fd = PQsocket(c), .events = POLLIN };
		int r = poll(&p, 1, 200);
		if (r < 0 && errno != EINTR) {
			PQfinish(c);
			c = NULL;
			continue;
		}
		if (r > 0 && PQconsumeInput(c) == 0) {
			PQfinish(c);
			c = NULL;
			continue;
		}
		int failed = store_pg_notified(s, c) != 0;
		time_t now = time(NULL);
		if (!failed && now != last_check) {
			/* the safety net: a notification lost in transit */
			last_check = now;
			/* and what arrived during it, read by libpq already: the
			   socket has nothing new, so the next poll would sleep its
			   200 ms before they were seen */
			failed = store_pg_catch_up(s, c) != 0 || store_pg_notified(s, c) != 0;
		}
		if (failed) {
			PQfinish(c);
			c = NULL;
		}
	}
	atomic_store(&s->listening, 0);
	PQfinish(c);
	return NULL;
}

/* ---- open, close ---- */

static int store_pg_accepts(const char *path)
{
	return strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0 ||
	       strchr(path, '=') != NULL;
}

static void store_pg_close(store *base)
{
	store_pg *s = (store_pg *)base;

	if (!s)
		return;
	if (s->watching) {
		atomic_store(&s->stop, 1);
		pthread_join(s->watcher, NULL);
	}
	for (int i = 0; i < STORE_PG_POOL; i++) {
		PQfinish(s->pool[i].c);
		pthread_mutex_destroy(&s->pool[i].lock);
	}
	PQfinish(s->writer.c);
	pthread_mutex_destroy(&s->writer.lock);
	pthread_mutex_destroy(&s->qlock);
	pthread_cond_destroy(&s->qcond);
	free(s->conninfo);
	free(s);
}

static int store_pg_open(const store_config *cfg, store **out, char *err, size_t errlen)
{
	store_pg *s = calloc(1, sizeof *s);
	*out = NULL;
	if (!s || !(s->conninfo = strdup(cfg->path))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->base.be = &store_pg_backend;
	s->group = cfg->group_commit;
	s->on_change = cfg->on_change;
	s->on_change_ctx = cfg->on_change_ctx;
	s->stale_if_error = cfg->stale_if_error;
	atomic_store(&s->down_since_ms, store_pg_now_ms());   /* not listening until the watcher is */
	pthread_mutex_init(&s->qlock, NULL);
	pthread_cond_init(&s->qcond, NULL);
	pthread_mutex_init(&s->writer.lock, NULL);
	for (int i = 0; i < STORE_PG_POOL; i++) {
		pthread_mutex_init(&s->pool[i].lock, NULL);
		s->pool[i].lazy = 1;
	}
	s->writer.c = store_pg_connect(s->conninfo);
	if (PQstatus(s->writer.c) != CONNECTION_OK) {
		/* libpq's message names the host and the reason; the URI may hold a password */
		snprintf(err, errlen, "PostgreSQL: %s", PQerrorMessage(s->writer.c));
		goto fail;
	}
	if (store_pg_migrate(s->writer.c, err, errlen) != 0)
		goto fail;
	if (store_pg_ready(s, &s->writer) != 0) {
		snprintf(err, errlen, "PostgreSQL: cannot prepare the store's statements: %s", PQerrorMessage(s->writer.c));
		goto fail;
	}
	for (int i = 0; i < STORE_PG_POOL; i++)
		if (store_pg_ready(s, &s->pool[i]) != 0) {
			snprintf(err, errlen, "PostgreSQL: %s", PQerrorMessage(s->pool[i].c));
			goto fail;
		}
	/* the caches start empty: everything before now is already seen */
	atomic_store(&s->round_ms, store_pg_now_ms());
	PGresult *r = store_pg_q(s->writer.c, "SELECT epoch FROM apikeyd_epoch");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		atomic_store(&s->seen_epoch, strtoll(PQgetvalue(r, 0, 0), NULL, 10));
	PQclear(r);
	if (pthread_create(&s->watcher, NULL, store_pg_watch, s) != 0) {
		snprintf(err, errlen, "cannot start the PostgreSQL change watcher");
		goto fail;
	}
	s->watching = 1;
	*out = &s->base;
	return 0;
fail:
	store_pg_close(&s->base);
	return -1;
}

/* ---- rows ---- */

static void store_pg_copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static void store_pg_row(const PGresult *r, int i, store_key *k)
{
	memset(k, 0, sizeof *k);
	k->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
	store_pg_copy(k->uuid, sizeof k->uuid, PQgetvalue(r, i, 1));
	k->user_id = strtoll(PQgetvalue(r, i, 2), NULL, 10);
	k->family = atoi(PQgetvalue(r, i, 3));
	store_pg_copy(k->name, sizeof k->name, PQgetvalue(r, i, 4));
	k->has_description = !PQgetisnull(r, i, 5);
	store_pg_copy(k->description, sizeof k->description, PQgetvalue(r, i, 5));
	store_pg_copy(k->role, sizeof k->role, PQgetvalue(r, i, 6));
	store_pg_copy(k->prefix, sizeof k->prefix, PQgetvalue(r, i, 7));
	store_pg_copy(k->tail, sizeof k->tail, PQgetvalue(r, i, 8));
	k->active = PQgetvalue(r, i, 9)[0] == '1';
	k->revoked = PQgetvalue(r, i, 10)[0] == '1';
	k->created = strtoll(PQgetvalue(r, i, 11), NULL, 10);
	k->last_used = PQgetisnull(r, i, 12) ? 0 : strtoll(PQgetvalue(r, i, 12), NULL, 10);
	k->parent_id = PQgetisnull(r, i, 13) ? 0 : strtoll(PQgetvalue(r, i, 13), NULL, 10);
	k->expires_at = PQgetisnull(r, i, 14) ? 0 : strtoll(PQgetvalue(r, i, 14), NULL, 10);
	store_pg_copy(k->scopes, sizeof k->scopes, PQgetvalue(r, i, 15));
	store_pg_copy(k->meta, sizeof k->meta, PQgetvalue(r, i, 16));
	k->has_remaining = !PQgetisnull(r, i, 17);
	k->remaining = k->has_remaining ? strtoll(PQgetvalue(r, i, 17), NULL, 10) : 0;
	k->rl_limit = PQgetisnull(r, i, 18) ? 0 : strtoll(PQgetvalue(r, i, 18), NULL, 10);
	k->rl_window = PQgetisnull(r, i, 19) ? 0 : strtoll(PQgetvalue(r, i, 19), NULL, 10);
	store_pg_copy(k->owner, sizeof k->owner, PQgetvalue(r, i, 20));
}

/* The attributes of k as text parameters v[0..6] (NULL for none), in b. */
typedef struct store_pg_attrs {
	char expires[24], remaining[24], limit[24], window[24];
} store_pg_attrs;

static void store_pg_bind_attrs(const store_key *k, store_pg_attrs *b, const char **v)
{
	store_pg_i64(b->expires, sizeof b->expires, k->expires_at);
	store_pg_i64(b->remaining, sizeof b->remaining, k->remaining);
	store_pg_i64(b->limit, sizeof b->limit, k->rl_limit);
	store_pg_i64(b->window, sizeof b->window, k->rl_window);
	v[0] = k->expires_at > 0 ? b->expires : NULL;
	v[1] = k->scopes;
	v[2] = k->meta[0] ? k->meta : NULL;
	v[3] = k->has_remaining ? b->remaining : NULL;
	v[4] = k->rl_limit > 0 ? b->limit : NULL;
	v[5] = k->rl_limit > 0 ? b->window : NULL;
	v[6] = k->owner;
}

/* bytea in text output: "\x" and two hex digits a byte */
static void store_pg_hash(const char *text, unsigned char out[STORE_HASH_LEN])
{
	memset(out, 0, STORE_HASH_LEN);
	if (strlen(text) != 2 + 2 * STORE_HASH_LEN || text[0] != '\\' || text[1] != 'x')
		return;
	for (int i = 0; i < STORE_HASH_LEN; i++) {
		unsigned v;
		if (sscanf(text + 2 + 2 * i, "%2x", &v) != 1)
			return;
		out[i] = (unsigned char)v;
	}
}

/* ---- users ---- */

static int store_pg_user_add(store *base, const char *name, int64_t *id)
{
	store_pg *s = (store_pg *)base;
	char now[24];
	const char *v[2] = { name, now };
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */

	store_pg_i64(now, sizeof now, store_pg_now());
	pthread_mutex_lock(&s->writer.lock);
	if (store_pg_ready(s, &s->writer) == 0) {
		PGresult *r = store_pg_exec(&s->writer, P_USER_ADD, 2, v, -1, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
			*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			rc = STORE_OK;
		} else {
			rc = store_pg_status(r);
		}
		PQclear(r);
	}
	pthread_mutex_unlock(&s->writer.lock);
	return rc;
}

static int store_pg_user_find(store *base, const char *name, int64_t *id)
{
	store_pg *s = (store_pg *)base;
	store_pg_conn *pc = store_pg_read_begin(s);
	const char *v[1] = { name };
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */

	if (store_pg_ready(s, pc) == 0) {
		PGresult *r = store_pg_exec(pc, P_USER_FIND, 1, v, -1, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			rc = PQntuples(r) == 1 ? STORE_OK : STORE_NOT_FOUND;
			if (rc == STORE_OK)
				*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		}
		PQclear(r);
	}
	store_pg_read_end(pc);
	return rc;
}

/* ---- writes ---- */

static int store_pg_audit(store_pg_conn *pc, int64_t actor, int64_t key_id, const char *action, const char *client)
{
	char at[24], a[24], k[24];
	const char *v[5] = { at, a, k, action, client ? client : "" };

	store_pg_i64(at, sizeof at, store_pg_now());
	store_pg_i64(a, sizeof a, actor);
	store_pg_i64(k, sizeof k, key_id);
	PGresult *r = store_pg_exec(pc, P_AUDIT, 5, v, -1, 0);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? STORE_OK : STORE_ERROR;
	PQclear(r);
	return rc;
}

/* The epoch of this transaction's changes (one bump per transaction: the
   row lock is held to COMMIT, so epochs are in commit order), then one
   change row and one notification (sent at COMMIT) per key. */
static int store_pg_bump(store_pg_conn *pc, int64_t *epoch)
{
	PGresult *r = store_pg_exec(pc, P_EPOCH_BUMP, 0, NULL, -1, 0);
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		*epoch = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		rc = STORE_OK;
	}
	PQclear(r);
	return rc;
}

static int store_pg_change_row(store_pg_conn *pc, int64_t epoch, int64_t key_id, int64_t user_id)
{
	char e[24], k[24], u[24], at[24], payload[80];
	const char *v[5] = { e, k, u, at, payload };

	store_pg_i64(e, sizeof e, epoch);
	store_pg_i64(k, sizeof k, key_id);
	store_pg_i64(u, sizeof u, user_id);
	store_pg_i64(at, sizeof at, store_pg_now());
	snprintf(payload, sizeof payload, "%" PRId64 " %" PRId64 " %" PRId64, epoch, key_id, user_id);
	PGresult *r = store_pg_exec(pc, P_CHANGE, 5, v, -1, 0);
	int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? STORE_OK : STORE_ERROR;
	PQclear(r);
	return rc;
}

static int store_pg_insert_one(store_pg_conn *pc, store_pg_job *j, int64_t *epoch)
{
	store_key *k = j->k;
	char user[24], family[8], created[24], parent[24], quota[24], secret[24];
	store_pg_attrs attrs;
	const char *v[20];
	int rc;

	if (store_pg_cmd(pc->c, "SAVEPOINT one") != 0)
		return PQstatus(pc->c) == CONNECTION_OK ? STORE_ERROR : STORE_UNAVAILABLE;
	if (j->quota > 0) {
		/* counted inside this transaction, after every node's insert for
		   this owner that went first has committed (the advisory lock) */
		const char *q[2] = { user, quota };
		int64_t held = -1;
		store_pg_i64(user, sizeof user, k->user_id);
		store_pg_i64(quota, sizeof quota, j->quota);
		PGresult *r = store_pg_exec(pc, P_QUOTA_LOCK, 1, q, -1, 0);
		int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
		rc = ok ? STORE_OK : store_pg_status(r);
		PQclear(r);
		if (ok) {
			r = store_pg_exec(pc, P_QUOTA, 2, q, -1, 0);
			if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
				held = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			else
				rc = store_pg_status(r);
			PQclear(r);
		}
		if (held < 0 || held >= j->quota) {
			store_pg_cmd(pc->c, "ROLLBACK TO one; RELEASE one");
			return held < 0 ? rc : STORE_QUOTA;
		}
	}
	store_new_uuid(k->uuid);
	k->created = store_pg_now();
	store_pg_i64(user, sizeof user, k->user_id);
	snprintf(family, sizeof family, "%d", k->family);
	store_pg_i64(created, sizeof created, k->created);
	v[0] = k->uuid;
	v[1] = user;
	v[2] = family;
	v[3] = k->name;
	v[4] = k->has_description ? k->description : NULL;
	v[5] = k->role;
	v[6] = k->prefix;
	v[7] = k->tail;
	v[8] = (const char *)j->hash;
	v[9] = created;
	store_pg_i64(parent, sizeof parent, k->parent_id);
	v[10] = k->parent_id > 0 ? parent : NULL;
	store_pg_i64(secret, sizeof secret, k->secret_id > 0 ? k->secret_id : 1);
	v[11] = secret;
	store_pg_bind_attrs(k, &attrs, v + 12);
	v[19] = k->active ? "1" : "0";
	PGresult *r = store_pg_exec(pc, P_KEY_INSERT, 20, v, 8, STORE_HASH_LEN);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		k->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		rc = STORE_OK;
	} else {
		rc = store_pg_status(r);
	}
	PQclear(r);
	if (rc == STORE_OK)
		rc = store_pg_audit(pc, k->user_id, k->id, "create", j->client);
	if (rc == STORE_OK && *epoch == 0)
		rc = store_pg_bump(pc, epoch);
	if (rc == STORE_OK)
		rc = store_pg_change_row(pc, *epoch, k->id, k->user_id);
	store_pg_cmd(pc->c, rc == STORE_OK ? "RELEASE one" : "ROLLBACK TO one; RELEASE one");
	return rc;
}

static int store_pg_key_insert(store *base, store_key *k, const unsigned char hash[STORE_HASH_LEN], const char *client,
                               int64_t quota)
{
	store_pg *s = (store_pg *)base;
	store_pg_job me = { .k = k, .hash = hash, .client = client, .quota = quota };

	pthread_mutex_lock(&s->qlock);
	if (s->tail)
		s->tail->next = &me;
	else
		s->head = &me;
	s->tail = &me;
	while (!me.done) {
		if (s->writing) {
			pthread_cond_wait(&s->qcond, &s->qlock);
			continue;
		}
		store_pg_job *batch = s->head, *j;
		if (s->group) {
			s->head = s->tail = NULL;
		} else {
			s->head = batch->next;
			if (!s->head)
				s->tail = NULL;
			batch->next = NULL;
		}
		s->writing = 1;
		pthread_mutex_unlock(&s->qlock);

		pthread_mutex_lock(&s->writer.lock);
		int ok = store_pg_ready(s, &s->writer) == 0 && store_pg_begin(&s->writer, "BEGIN") == 0;
		for (j = batch; j; j = j->next) {
			int64_t epoch = 0;
			j->rc = ok ? store_pg_insert_one(&s->writer, j, &epoch) : STORE_UNAVAILABLE;
		}
		if (ok && store_pg_cmd(s->writer.c, "COMMIT") != 0) {
			/* COMMIT failed or its answer was lost: nothing is acknowledged */
			store_pg_cmd(s->writer.c, "ROLLBACK");
			for (j = batch; j; j = j->next)
				j->rc = PQstatus(s->writer.c) == CONNECTION_OK ? STORE_ERROR : STORE_UNAVAILABLE;
		}
		pthread_mutex_unlock(&s->writer.lock);

		pthread_mutex_lock(&s->qlock);
		unsigned batch_n = 0;
		for (j = batch; j; batch_n++) {
			store_pg_job *next = j->next;
			j->done = 1;
			j = next;
		}
		kmetrics_batch(batch_n);   /* /metrics: the group commit's size */
		s->writing = 0;
		pthread_cond_broadcast(&s->qcond);
	}
	pthread_mutex_unlock(&s->qlock);
	return me.rc;
}

/* One state change of a key, its audit row and its epoch, in one
   transaction. */
static int store_pg_change(store_pg *s, int pre, int q, int n, const char *const *v, int64_t key_id, int64_t actor,
                           const char *action, const char *client)
{
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */
	int64_t epoch = 0, owner = 0;

	pthread_mutex_lock(&s->writer.lock);
	if (store_pg_ready(s, &s->writer) != 0 || store_pg_begin(&s->writer, "BEGIN") != 0)
		goto cleanup;
	if (pre >= 0) {   /* a statement of the same transaction first (a delete re-parents the key's children) */
		PGresult *p = store_pg_exec(&s->writer, pre, n, v, -1, 0);
		int ok = PQresultStatus(p) == PGRES_COMMAND_OK;
		rc = ok ? rc : store_pg_status(p);
		PQclear(p);
		if (!ok) {
			store_pg_cmd(s->writer.c, "ROLLBACK");
			goto cleanup;
		}
	}
	PGresult *r = store_pg_exec(&s->writer, q, n, v, -1, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		rc = PQntuples(r) == 1 ? STORE_OK : STORE_NOT_FOUND;
		if (rc == STORE_OK)
			owner = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	}
	PQclear(r);
	if (rc == STORE_OK)
		rc = store_pg_audit(&s->writer, actor, key_id, action, client);
	if (rc == STORE_OK)
		rc = store_pg_bump(&s->writer, &epoch);
	if (rc == STORE_OK)
		rc = store_pg_change_row(&s->writer, epoch, key_id, owner);
	if (rc == STORE_OK)
		store_pg_prune(s, s->writer.c);
	if (rc == STORE_OK)
		rc = store_pg_cmd(s->writer.c, "COMMIT") == 0 ? STORE_OK
		   : PQstatus(s->writer.c) == CONNECTION_OK ? STORE_ERROR : STORE_UNAVAILABLE;
	if (rc != STORE_OK)
		store_pg_cmd(s->writer.c, "ROLLBACK");
cleanup:
	pthread_mutex_unlock(&s->writer.lock);
	return rc;
}

static int store_pg_key_set_active(store *base, int64_t key_id, int active, int64_t actor, const char *client)
{
	char id[24];
	const char *v[2] = { active ? "1" : "0", id };

	store_pg_i64(id, sizeof id, key_id);
	return store_pg_change((store_pg *)base, -1, P_SET_ACTIVE, 2, v, key_id, actor, active ? "activate" : "deactivate",
	                       client);
}

static int store_pg_key_revoke(store *base, int64_t key_id, int64_t actor, const char *client)
{
	char id[24];
	const char *v[1] = { id };

	store_pg_i64(id, sizeof id, key_id);
	return store_pg_change((store_pg *)base, -1, P_REVOKE, 1, v, key_id, actor, "revoke", client);
}

static int store_pg_key_delete(store *base, int64_t key_id, int64_t actor, const char *client)
{
	char id[24];
	const char *v[1] = { id };

	store_pg_i64(id, sizeof id, key_id);
	return store_pg_change((store_pg *)base, P_REPARENT, P_DELETE, 1, v, key_id, actor, "delete", client);
}

static int store_pg_key_update(store *base, int64_t key_id, const store_key *k, unsigned fields, int64_t actor,
                               const char *client)
{
	char f[16], id[24];
	store_pg_attrs attrs;
	const char *attr[7];
	const char *v[12];

	snprintf(f, sizeof f, "%u", fields);
	store_pg_i64(id, sizeof id, key_id);
	store_pg_bind_attrs(k, &attrs, attr);
	v[0] = f;
	v[1] = k->name;
	v[2] = attr[1];           /* scopes */
	v[3] = k->role;
	v[4] = attr[2];           /* meta */
	v[5] = k->active ? "1" : "0";
	v[6] = attr[0];           /* expires_at */
	v[7] = attr[3];           /* remaining */
	v[8] = attr[4];           /* rl_limit */
	v[9] = attr[5];           /* rl_window */
	v[10] = id;
	v[11] = attr[6];          /* owner */
	return store_pg_change((store_pg *)base, -1, P_UPDATE, 12, v, key_id, actor, "update", client);
}

/* On the writer's session, which commits durably; one statement, so
   exact across every node of the store. No epoch: no cache holds a key
   whose uses are counted (keysvc.c). */
static int store_pg_key_use(store *base, int64_t key_id, int64_t *left)
{
	store_pg *s = (store_pg *)base;
	char id[24];
	const char *v[1] = { id };
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */

	store_pg_i64(id, sizeof id, key_id);
	pthread_mutex_lock(&s->writer.lock);
	if (store_pg_ready(s, &s->writer) == 0) {
		PGresult *r = store_pg_exec(&s->writer, P_USE, 1, v, -1, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			rc = PQntuples(r) == 1 ? STORE_OK : STORE_QUOTA;
			if (rc == STORE_OK)
				*left = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		} else {
			rc = store_pg_status(r);
		}
		PQclear(r);
	}
	pthread_mutex_unlock(&s->writer.lock);
	return rc;
}

/* last_used: not a change other nodes must see at once (lists show it
   within the caches' TTL); no epoch. */
static int store_pg_key_touch(store *base, int64_t key_id, int64_t when)
{
	store_pg *s = (store_pg *)base;
	char w[24], id[24];
	const char *v[2] = { w, id };
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */

	store_pg_i64(w, sizeof w, when);
	store_pg_i64(id, sizeof id, key_id);
	store_pg_conn *pc = store_pg_read_begin(s);
	if (store_pg_ready(s, pc) == 0) {
		PGresult *r = store_pg_exec(pc, P_TOUCH, 2, v, -1, 0);
		rc = PQresultStatus(r) == PGRES_COMMAND_OK ? STORE_OK : STORE_ERROR;
		PQclear(r);
	}
	store_pg_read_end(pc);
	return rc;
}

/* Many keys' last_used in one statement, one round trip and one commit
   (the touch writer's batch; key_touch for each was a round trip and a
   commit per key, which a remote server's latency multiplies). A key that
   is gone, or holds a later time, is left as it is, as key_touch leaves
   it; every t[i].rc is the statement's. */
static int store_pg_keys_touch(store *base, store_touch *t, size_t n)
{
	store_pg *s = (store_pg *)base;
	char *ids, *whens;
	size_t cap = n * 21 + 3, il = 0, wl = 0;
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */

	if (n == 0)
		return STORE_OK;
	ids = malloc(cap);
	whens = malloc(cap);
	if (!ids || !whens) {
		free(ids);
		free(whens);
		for (size_t i = 0; i < n; i++)
			t[i].rc = STORE_ERROR;
		return STORE_ERROR;
	}
	ids[il++] = '{';
	whens[wl++] = '{';
	for (size_t i = 0; i < n; i++) {
		il += (size_t)snprintf(ids + il, cap - il, "%s%lld", i ? "," : "", (long long)t[i].key_id);
		wl += (size_t)snprintf(whens + wl, cap - wl, "%s%lld", i ? "," : "", (long long)t[i].when);
	}
	ids[il++] = '}';
	ids[il] = '\0';
	whens[wl++] = '}';
	whens[wl] = '\0';
	const char *v[2] = { ids, whens };
	store_pg_conn *pc = store_pg_read_begin(s);
	if (store_pg_ready(s, pc) == 0) {
		PGresult *r = store_pg_exec(pc, P_TOUCH_MANY, 2, v, -1, 0);
		rc = PQresultStatus(r) == PGRES_COMMAND_OK ? STORE_OK : store_pg_status(r);
		PQclear(r);
	}
	store_pg_read_end(pc);
	free(ids);
	free(whens);
	for (size_t i = 0; i < n; i++)
		t[i].rc = rc;
	return rc;
}

/* ---- reads ---- */

static int store_pg_get(store_pg *s, int q, int64_t user, int family, const char *text, int64_t num, store_key *out)
{
	char u[24], f[8], n[24];
	const char *v[3] = { u, f, text ? text : n };
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */

	store_pg_i64(u, sizeof u, user);
	snprintf(f, sizeof f, "%d", family);
	store_pg_i64(n, sizeof n, num);
	store_pg_conn *pc = store_pg_read_begin(s);
	if (store_pg_ready(s, pc) == 0) {
		PGresult *r = store_pg_exec(pc, q, 3, v, -1, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			rc = PQntuples(r) == 1 ? STORE_OK : STORE_NOT_FOUND;
			if (rc == STORE_OK)
				store_pg_row(r, 0, out);
		}
		PQclear(r);
	}
	store_pg_read_end(pc);
	return rc;
}

static int store_pg_key_get_uuid(store *base, int64_t user, int family, const char *uuid, store_key *out)
{
	return store_pg_get((store_pg *)base, P_GET_UUID, user, family, uuid, 0, out);
}

static int store_pg_key_get_id(store *base, int64_t user, int family, int64_t id, store_key *out)
{
	return store_pg_get((store_pg *)base, P_GET_ID, user, family, NULL, id, out);
}

static int store_pg_key_get_name(store *base, int64_t user, int family, const char *name, store_key *out)
{
	return store_pg_get((store_pg *)base, P_GET_NAME, user, family, name, 0, out);
}

static int store_pg_key_by_hash(store *base, const unsigned char hash[STORE_HASH_LEN], store_key *out,
                                unsigned char stored[STORE_HASH_LEN])
{
	store_pg *s = (store_pg *)base;
	const char *v[1] = { (const char *)hash };
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */

	store_pg_conn *pc = store_pg_read_begin(s);
	if (store_pg_ready(s, pc) == 0) {
		PGresult *r = store_pg_exec(pc, P_BY_HASH, 1, v, 0, STORE_HASH_LEN);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			rc = PQntuples(r) == 1 ? STORE_OK : STORE_NOT_FOUND;
			if (rc == STORE_OK) {
				store_pg_row(r, 0, out);
				store_pg_hash(PQgetvalue(r, 0, 21), stored);
			}
		}
		PQclear(r);
	}
	store_pg_read_end(pc);
	return rc;
}

static int store_pg_key_list(store *base, int64_t user, int family, const char *name, int include_revoked,
                             int64_t skip, int64_t limit, store_key **out, size_t *n, int64_t *total)
{
	store_pg *s = (store_pg *)base;
	char u[24], f[8], lim[24], off[24];
	const char *v[6] = { u, f, name, include_revoked ? "true" : "false", limit < 0 ? NULL : lim, off };
	store_key *keys = NULL;
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */

	*out = NULL;
	*n = 0;
	*total = 0;
	store_pg_i64(u, sizeof u, user);
	snprintf(f, sizeof f, "%d", family);
	store_pg_i64(lim, sizeof lim, limit);
	store_pg_i64(off, sizeof off, skip > 0 ? skip : 0);
	store_pg_conn *pc = store_pg_read_begin(s);
	if (store_pg_ready(s, pc) != 0)
		goto cleanup;
	/* the count and the page from one snapshot */
	int paged = skip > 0 || limit >= 0;
	if (paged && store_pg_begin(pc, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
		goto cleanup;
	if (paged) {
		PGresult *r = store_pg_exec(pc, P_COUNT, 4, v, -1, 0);
		int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
		if (ok)
			*total = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		if (!ok) {
			store_pg_cmd(pc->c, "ROLLBACK");
			goto cleanup;
		}
	}
	PGresult *r = store_pg_exec(pc, P_LIST, 6, v, -1, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		int rows = PQntuples(r);
		keys = rows ? malloc((size_t)rows * sizeof *keys) : NULL;
		if (rows == 0 || keys) {
			for (int i = 0; i < rows; i++)
				store_pg_row(r, i, &keys[i]);
			*n = (size_t)rows;
			rc = STORE_OK;
		}
	}
	PQclear(r);
	if (paged)
		store_pg_cmd(pc->c, "COMMIT");
	if (rc == STORE_OK && !paged)
		*total = (int64_t)*n;
cleanup:
	store_pg_read_end(pc);
	if (rc == STORE_OK)
		*out = keys;
	else
		free(keys);
	return rc;
}

static int store_pg_reprepares(store *base, int64_t *n)
{
	(void)base;
	*n = 0;  /* named statements are prepared once per session */
	return STORE_OK;
}

static int store_pg_audit_count(store *base, int64_t key_id, const char *action, int64_t *n)
{
	store_pg *s = (store_pg *)base;
	char k[24];
	const char *v[2] = { k, action };
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */

	store_pg_i64(k, sizeof k, key_id);
	store_pg_conn *pc = store_pg_read_begin(s);
	if (store_pg_ready(s, pc) == 0) {
		PGresult *r = store_pg_exec(pc, P_AUDIT_COUNT, 2, v, -1, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
			*n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			rc = STORE_OK;
		}
		PQclear(r);
	}
	store_pg_read_end(pc);
	return rc;
}

static int store_pg_epochs(store *base, int64_t *seen, int64_t *current)
{
	store_pg *s = (store_pg *)base;
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */

	*seen = atomic_load(&s->seen_epoch);
	store_pg_conn *pc = store_pg_read_begin(s);
	if (store_pg_ready(s, pc) == 0) {
		PGresult *r = store_pg_q(pc->c, "SELECT epoch FROM apikeyd_epoch");
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
			*current = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			rc = STORE_OK;
		}
		PQclear(r);
	}
	store_pg_read_end(pc);
	return rc;
}

static int store_pg_key_page(store *base, int64_t user, int family, int include_revoked, int64_t before_id, size_t limit,
                             store_key **out, size_t *n)
{
	store_pg *s = (store_pg *)base;
	char u[24], f[8], b[24], l[24];
	const char *v[5] = { u, f, include_revoked ? "true" : "false", b, l };
	store_key *keys = NULL;
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */

	*out = NULL;
	*n = 0;
	store_pg_i64(u, sizeof u, user);
	snprintf(f, sizeof f, "%d", family);
	store_pg_i64(b, sizeof b, before_id > 0 ? before_id : 0);
	store_pg_i64(l, sizeof l, (int64_t)limit);
	store_pg_conn *pc = store_pg_read_begin(s);
	if (store_pg_ready(s, pc) == 0) {
		PGresult *r = store_pg_exec(pc, P_PAGE, 5, v, -1, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			int rows = PQntuples(r);
			keys = rows ? malloc((size_t)rows * sizeof *keys) : NULL;
			if (rows == 0 || keys) {
				for (int i = 0; i < rows; i++)
					store_pg_row(r, i, &keys[i]);
				*n = (size_t)rows;
				rc = STORE_OK;
			} else {
				rc = STORE_ERROR;
			}
		} else {
			rc = store_pg_status(r);
		}
		PQclear(r);
	}
	store_pg_read_end(pc);
	if (rc == STORE_OK)
		*out = keys;
	else
		free(keys);
	return rc;
}

static int store_pg_key_owner(store *base, int64_t key_id, int64_t *user)
{
	store_pg *s = (store_pg *)base;
	char k[24];
	const char *v[1] = { k };
	int rc = STORE_UNAVAILABLE;

	store_pg_i64(k, sizeof k, key_id);
	store_pg_conn *pc = store_pg_read_begin(s);
	if (store_pg_ready(s, pc) == 0) {
		PGresult *r = store_pg_exec(pc, P_OWNER, 1, v, -1, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			rc = PQntuples(r) == 1 ? STORE_OK : STORE_NOT_FOUND;
			if (rc == STORE_OK)
				*user = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		} else {
			rc = store_pg_status(r);
		}
		PQclear(r);
	}
	store_pg_read_end(pc);
	return rc;
}

static int store_pg_key_descendants(store *base, int64_t key_id, int64_t **ids, size_t *n)
{
	store_pg *s = (store_pg *)base;
	char k[24];
	const char *v[1] = { k };
	int rc = STORE_UNAVAILABLE;

	*ids = NULL;
	*n = 0;
	store_pg_i64(k, sizeof k, key_id);
	store_pg_conn *pc = store_pg_read_begin(s);
	if (store_pg_ready(s, pc) == 0) {
		PGresult *r = store_pg_exec(pc, P_DESCENDANTS, 1, v, -1, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			int rows = PQntuples(r);
			int64_t *out = rows ? malloc((size_t)rows * sizeof *out) : NULL;
			if (rows == 0 || out) {
				for (int i = 0; i < rows; i++)
					out[i] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
				*ids = out;
				*n = (size_t)rows;
				rc = STORE_OK;
			} else {
				rc = STORE_ERROR;
			}
		} else {
			rc = store_pg_status(r);
		}
		PQclear(r);
	}
	store_pg_read_end(pc);
	return rc;
}

static int store_pg_key_hashes(store *base, int64_t after_id,
                               int (*fn)(void *ctx, int64_t id, const unsigned char hash[STORE_HASH_LEN]), void *ctx)
{
	store_pg *s = (store_pg *)base;
	char a[24];
	const char *v[1] = { a };
	int rc = STORE_UNAVAILABLE;

	store_pg_i64(a, sizeof a, after_id);
	store_pg_conn *pc = store_pg_read_begin(s);
	if (store_pg_ready(s, pc) == 0) {
		PGresult *r = store_pg_exec(pc, P_HASHES, 1, v, -1, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			rc = STORE_OK;
			for (int i = 0; i < PQntuples(r); i++) {
				unsigned char h[STORE_HASH_LEN];
				store_pg_hash(PQgetvalue(r, i, 1), h);
				if (fn(ctx, strtoll(PQgetvalue(r, i, 0), NULL, 10), h) != 0)
					break;
			}
		} else {
			rc = store_pg_status(r);
		}
		PQclear(r);
	}
	store_pg_read_end(pc);
	return rc;
}

/* ---- meta, counts, readiness ---- */

static int store_pg_meta_get(store *base, const char *name, char *value, size_t len)
{
	store_pg *s = (store_pg *)base;
	const char *v[1] = { name };
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */

	store_pg_conn *pc = store_pg_read_begin(s);
	if (store_pg_ready(s, pc) == 0) {
		PGresult *r = store_pg_qparams(pc->c, "SELECT value FROM meta WHERE name = $1", 1, v);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			rc = PQntuples(r) == 1 ? STORE_OK : STORE_NOT_FOUND;
			if (rc == STORE_OK)
				snprintf(value, len, "%s", PQgetvalue(r, 0, 0));
		} else {
			rc = store_pg_status(r);
		}
		PQclear(r);
	}
	store_pg_read_end(pc);
	return rc;
}

static int store_pg_meta_set(store *base, const char *name, const char *value)
{
	store_pg *s = (store_pg *)base;
	const char *v[2] = { name, value };
	int rc = STORE_UNAVAILABLE;

	pthread_mutex_lock(&s->writer.lock);
	if (store_pg_ready(s, &s->writer) == 0) {
		PGresult *r = store_pg_qparams(s->writer.c,
		                           "INSERT INTO meta(name, value) VALUES ($1, $2)"
		                           " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value", 2, v);
		rc = PQresultStatus(r) == PGRES_COMMAND_OK ? STORE_OK : store_pg_status(r);
		PQclear(r);
	}
	pthread_mutex_unlock(&s->writer.lock);
	return rc;
}

static int store_pg_key_count(store *base, int64_t *n)
{
	store_pg *s = (store_pg *)base;
	int rc = STORE_UNAVAILABLE;

	store_pg_conn *pc = store_pg_read_begin(s);
	if (store_pg_ready(s, pc) == 0) {
		PGresult *r = store_pg_q(pc->c, "SELECT count(*) FROM keys");
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
			*n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			rc = STORE_OK;
		} else {
			rc = store_pg_status(r);
		}
		PQclear(r);
	}
	store_pg_read_end(pc);
	return rc;
}

/* ---- the CLI's views, the keyring ---- */

/* One read query with text parameters on a pool session; *res: its rows,
   or NULL with the status. */
static int store_pg_query(store_pg *s, const char *sql, int n, const char *const *v, PGresult **res)
{
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */
	store_pg_conn *pc = store_pg_read_begin(s);

	*res = NULL;
	if (store_pg_ready(s, pc) == 0) {
		PGresult *r = store_pg_qparams(pc->c, sql, n, v);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			*res = r;
			rc = STORE_OK;
		} else {
			rc = store_pg_status(r);
			PQclear(r);
		}
	}
	store_pg_read_end(pc);
	return rc;
}

static int store_pg_user_list(store *base, store_user **out, size_t *n)
{
	PGresult *r = NULL;
	store_user *v = NULL;
	int rc = store_pg_query((store_pg *)base,
	                        "SELECT u.id, u.name, u.created, (SELECT count(*) FROM keys k WHERE k.user_id = u.id AND"
	                        " k.revoked = 0) FROM users u ORDER BY u.id", 0, NULL, &r);
	int rows = r ? PQntuples(r) : 0;

	*out = NULL;
	*n = 0;
	if (rc == STORE_OK && rows > 0 && !(v = calloc((size_t)rows, sizeof *v)))
		rc = STORE_ERROR;
	for (int i = 0; rc == STORE_OK && i < rows; i++) {
		v[i].id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		store_pg_copy(v[i].name, sizeof v[i].name, PQgetvalue(r, i, 1));
		v[i].created = strtoll(PQgetvalue(r, i, 2), NULL, 10);
		v[i].keys = strtoll(PQgetvalue(r, i, 3), NULL, 10);
	}
	PQclear(r);
	if (rc == STORE_OK) {
		*out = v;
		*n = (size_t)rows;
	} else {
		free(v);
	}
	return rc;
}

static int store_pg_audit_list(store *base, int64_t since, int64_t after_id, size_t limit, store_audit **out, size_t *n)
{
	char a[24], t[24], l[24];
	const char *p[3] = { a, t, l };
	PGresult *r = NULL;
	store_audit *v = NULL;
	int rc, rows;

	*out = NULL;
	*n = 0;
	store_pg_i64(a, sizeof a, after_id);
	store_pg_i64(t, sizeof t, since);
	store_pg_i64(l, sizeof l, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	rc = store_pg_query((store_pg *)base, "SELECT id, at, coalesce(actor, 0), coalesce(key_id, 0), action,"
	                    " coalesce(client, '') FROM audit WHERE id > $1 AND at >= $2 ORDER BY id LIMIT $3", 3, p, &r);
	rows = r ? PQntuples(r) : 0;
	if (rc == STORE_OK && rows > 0 && !(v = calloc((size_t)rows, sizeof *v)))
		rc = STORE_ERROR;
	for (int i = 0; rc == STORE_OK && i < rows; i++) {
		v[i].id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		v[i].at = strtoll(PQgetvalue(r, i, 1), NULL, 10);
		v[i].actor = strtoll(PQgetvalue(r, i, 2), NULL, 10);
		v[i].key_id = strtoll(PQgetvalue(r, i, 3), NULL, 10);
		store_pg_copy(v[i].action, sizeof v[i].action, PQgetvalue(r, i, 4));
		store_pg_copy(v[i].client, sizeof v[i].client, PQgetvalue(r, i, 5));
	}
	PQclear(r);
	if (rc == STORE_OK) {
		*out = v;
		*n = (size_t)rows;
	} else {
		free(v);
	}
	return rc;
}

static int store_pg_secret_counts(store *base, store_secret_count **out, size_t *n)
{
	PGresult *r = NULL;
	store_secret_count *v = NULL;
	int rc = store_pg_query((store_pg *)base, "SELECT secret_id, count(*) FROM keys WHERE revoked = 0"
	                        " GROUP BY secret_id ORDER BY secret_id", 0, NULL, &r);
	int rows = r ? PQntuples(r) : 0;

	*out = NULL;
	*n = 0;
	if (rc == STORE_OK && rows > 0 && !(v = calloc((size_t)rows, sizeof *v)))
		rc = STORE_ERROR;
	for (int i = 0; rc == STORE_OK && i < rows; i++) {
		v[i].secret_id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		v[i].keys = strtoll(PQgetvalue(r, i, 1), NULL, 10);
	}
	PQclear(r);
	if (rc == STORE_OK) {
		*out = v;
		*n = (size_t)rows;
	} else {
		free(v);
	}
	return rc;
}

static void store_pg_hex(const unsigned char h[STORE_HASH_LEN], char out[2 * STORE_HASH_LEN + 1])
{
	for (int i = 0; i < STORE_HASH_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* On the writer (synchronous_commit on: a re-hash is durable before a
   retire counts on it); it changes no key's state, so no epoch and no
   notification. */
static int store_pg_key_rehash(store *base, int64_t key_id, const unsigned char old_hash[STORE_HASH_LEN],
                               const unsigned char new_hash[STORE_HASH_LEN], int64_t secret_id)
{
	store_pg *s = (store_pg *)base;
	char o[2 * STORE_HASH_LEN + 1], nw[2 * STORE_HASH_LEN + 1], sid[24], id[24];
	const char *v[4] = { nw, sid, id, o };
	int rc = STORE_UNAVAILABLE;   /* until PostgreSQL answers */

	store_pg_hex(old_hash, o);
	store_pg_hex(new_hash, nw);
	store_pg_i64(sid, sizeof sid, secret_id);
	store_pg_i64(id, sizeof id, key_id);
	pthread_mutex_lock(&s->writer.lock);
	if (store_pg_ready(s, &s->writer) == 0) {
		PGresult *r = store_pg_qparams(s->writer.c, "UPDATE keys SET hash = decode($1, 'hex'), secret_id = $2"
		                           " WHERE id = $3 AND hash = decode($4, 'hex')", 4, v);
		if (PQresultStatus(r) == PGRES_COMMAND_OK)
			rc = strcmp(PQcmdTuples(r), "0") == 0 ? STORE_NOT_FOUND : STORE_OK;
		else
			rc = store_pg_status(r);
		PQclear(r);
	}
	pthread_mutex_unlock(&s->writer.lock);
	return rc;
}

/* Ready: a write commits on the primary within timeout_ms (statement_timeout
   bounds it on the server; libpq's own connect_timeout, if the URI sets one,
   bounds a reconnect) and the watcher is listening, so revocations made on
   other nodes reach this one. The write probe runs at most once a second. */
static int store_pg_ready_check(store *base, unsigned timeout_ms, char *why, size_t len)
{
	store_pg *s = (store_pg *)base;
	char sql[200];
	int rc = STORE_UNAVAILABLE;
	time_t now = time(NULL);

	if (!atomic_load(&s->listening)) {
		snprintf(why, len, "the PostgreSQL change listener is not connected: revocations on other nodes may not reach this one");
		return STORE_UNAVAILABLE;
	}
	long long behind = store_pg_now_ms() - atomic_load(&s->round_ms);
	if (behind >= STORE_PG_TRUST_MS) {
		snprintf(why, len, "the PostgreSQL change listener has not caught up for %lld ms: every request asks the store",
		         behind);
		return STORE_UNAVAILABLE;
	}
	if (atomic_load(&s->last_ready) == (long long)now)
		return STORE_OK;
	pthread_mutex_lock(&s->writer.lock);
	if (store_pg_ready(s, &s->writer) != 0) {
		snprintf(why, len, "PostgreSQL: %s", PQerrorMessage(s->writer.c));
		goto cleanup;
	}
	snprintf(sql, sizeof sql,
	         "SET statement_timeout = %u; INSERT INTO meta(name, value) VALUES ('ready_probe', '%lld')"
	         " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value; SET statement_timeout = 0",
	         timeout_ms, (long long)now);
	PGresult *r = store_pg_q(s->writer.c, sql);
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		rc = STORE_OK;
		atomic_store(&s->last_ready, (long long)now);
	} else {
		snprintf(why, len, "PostgreSQL: %s", PQresultErrorMessage(r));
		rc = store_pg_status(r);
		store_pg_cmd(s->writer.c, "SET statement_timeout = 0");
	}
	PQclear(r);
cleanup:
	pthread_mutex_unlock(&s->writer.lock);
	return rc;
}

/* Other nodes' writes arrive through the watcher (store_config.on_change).
   While it cannot hear them, the caches cannot be trusted: its connection
   down (PostgreSQL stopped or unreachable), past --stale-if-error seconds;
   connected but its last completed catch-up begun more than
   STORE_PG_TRUST_MS ago (its backend stalled, the database slow to answer,
   the thread starved: notifications and the catch-up share its fate), past
   that plus --stale-if-error. Then every call says "changed", so every
   request asks the store (which answers 503 while it is down). */
static int store_pg_other_writers(store *base)
{
	store_pg *s = (store_pg *)base;
	long long now = store_pg_now_ms(), grace = (long long)s->stale_if_error * 1000;
	long long down = atomic_load(&s->down_since_ms);

	if (down != 0 && now - down >= grace)
		return 1;
	return now - atomic_load(&s->round_ms) >= STORE_PG_TRUST_MS + grace;
}

const store_backend store_pg_backend = {
	.name = "postgresql",
	.accepts = store_pg_accepts,
	.open = store_pg_open,
	.close = store_pg_close,
	.user_add = store_pg_user_add,
	.user_find = store_pg_user_find,
	.key_insert = store_pg_key_insert,
	.key_get_uuid = store_pg_key_get_uuid,
	.key_get_id = store_pg_key_get_id,
	.key_get_name = store_pg_key_get_name,
	.key_by_hash = store_pg_key_by_hash,
	.key_list = store_pg_key_list,
	.key_page = store_pg_key_page,
	.key_owner = store_pg_key_owner,
	.key_descendants = store_pg_key_descendants,
	.key_hashes = store_pg_key_hashes,
	.key_set_active = store_pg_key_set_active,
	.key_revoke = store_pg_key_revoke,
	.key_delete = store_pg_key_delete,
	.key_touch = store_pg_key_touch,
	.keys_touch = store_pg_keys_touch,
	.key_update = store_pg_key_update,
	.key_use = store_pg_key_use,
	.reprepares = store_pg_reprepares,
	.audit_count = store_pg_audit_count,
	.epochs = store_pg_epochs,
	.meta_get = store_pg_meta_get,
	.meta_set = store_pg_meta_set,
	.key_count = store_pg_key_count,
	.user_list = store_pg_user_list,
	.audit_list = store_pg_audit_list,
	.key_rehash = store_pg_key_rehash,
	.secret_counts = store_pg_secret_counts,
	.ready = store_pg_ready_check,
	.changed = store_pg_other_writers,
};

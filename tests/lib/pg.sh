# pg.sh — a real PostgreSQL server for a test, started and stopped by the
# test itself: a cluster in a temporary folder owned by the postgres user
# (initdb refuses root), listening on a Unix socket in that folder only (no
# TCP port), trust authentication for local connections.
#   pg_start DIR      starts it; sets PG_DIR, PG_SOCK, PG_BIN
#   pg_url DBNAME     prints a libpq URI for a (new) database
#   pg_createdb NAME  creates a database
#   pg_psql DB SQL    runs SQL, prints unaligned tuples
#   pg_stop [MODE]    stops it (fast, or immediate: a crash)
#   pg_db_name PATH   the database a test path maps to
#   pg_restart        starts it again on the same folder

pg_bin_dir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[ -n "$d" ] && [ -x "$d/initdb" ] || { echo "pg.sh: no PostgreSQL server programs (apt-get install postgresql)" >&2; return 1; }
	echo "$d"
}

pg_start() {
	PG_BIN=$(pg_bin_dir) || return 1
	PG_DIR=$1/pg
	PG_SOCK=$1/pgsock
	mkdir -p "$PG_DIR" "$PG_SOCK"
	chown postgres:postgres "$PG_DIR" "$PG_SOCK"
	chmod 700 "$PG_DIR"
	# the folders above it must be traversable by postgres
	chmod o+x "$1"
	runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR" -A trust -U postgres --no-sync >"$1/initdb.log" 2>&1 ||
		{ echo "pg.sh: initdb failed:" >&2; tail -5 "$1/initdb.log" >&2; return 1; }
	pg_restart
}

pg_restart() {
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR" -w -t 30 -l "$PG_DIR/server.log" \
		-o "-c listen_addresses='' -k $PG_SOCK -c fsync=on -c max_connections=200" start >/dev/null ||
		{ echo "pg.sh: pg_ctl start failed:" >&2; tail -5 "$PG_DIR/server.log" >&2; return 1; }
}

pg_stop() {
	[ -n "${PG_DIR:-}" ] || return 0
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR" -m "${1:-fast}" -w -t 30 stop >/dev/null 2>&1 || true
}

pg_url() { echo "postgresql:///$1?host=$PG_SOCK&user=postgres"; }

pg_createdb() { runuser -u postgres -- "$PG_BIN/createdb" -h "$PG_SOCK" -U postgres "$1"; }

pg_psql() { psql -X -q -A -t -h "$PG_SOCK" -U postgres -d "$1" -c "$2"; }

# pg_db_name PATH: the database a suite's SQLite path maps to (store.sh,
# apikeyd-pg): the same path, the same database
pg_db_name() { printf 't_%s' "$(printf '%s' "$1" | sha256sum | cut -c1-16)"; }

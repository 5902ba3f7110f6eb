# store.sh — which key store a suite's apikeyd runs on, so one suite runs
# against both backends. Sourced after the suite has its scratch folder $dir.
#   APIKEYD_STORE=sqlite (default)  --db PATH is an SQLite file, as always
#   APIKEYD_STORE=postgresql        a real PostgreSQL server is started in
#       $dir (tests/lib/pg.sh) and every `apikeyd ... --db PATH` goes through
#       tests/lib/apikeyd-pg, which serves PATH from a database of its own on
#       that server (the same PATH, the same database), with the secret and
#       the certificate in PATH's folder as with SQLite.
# store_setup BIN      call once; sets STORE_APIKEYD, the apikeyd to run (BIN or the wrapper)
# store_teardown       stops what store_setup started
# db_sql PATH SQL      one query on PATH's store ("|"-separated rows)
# db_integrity PATH    prints ok when the store's structures check out
# db_bytes PATH        every byte the store holds on disk (for key-material greps)
# db_rows_mark PATH    changes whenever a key row or an audit row is written
STORE=${APIKEYD_STORE:-sqlite}
_store_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$_store_lib/pg.sh"


store_setup() {
	case $STORE in
	sqlite) STORE_APIKEYD=$1 ;;
	postgresql)
		pg_start "$dir" >&2 || return 1
		echo "store: PostgreSQL ($("$PG_BIN/postgres" --version)), a server of this suite's own"
		export PG_SOCK PG_BIN PG_DIR APIKEYD_REAL=$1
		STORE_APIKEYD=$_store_lib/apikeyd-pg ;;
	*) echo "store.sh: APIKEYD_STORE=$STORE: expected sqlite or postgresql" >&2; return 1 ;;
	esac
}

store_teardown() { [ "$STORE" = postgresql ] && pg_stop immediate; return 0; }

db_sql() {
	if [ "$STORE" = postgresql ]; then pg_psql "$(pg_db_name "$1")" "$2"
	else sqlite3 -batch -noheader "$1" "$2"; fi
}

db_integrity() {
	if [ "$STORE" = postgresql ]; then
		"$PG_BIN/pg_amcheck" -h "$PG_SOCK" -U postgres --install-missing -d "$(pg_db_name "$1")" >/dev/null 2>&1 && echo ok
	else sqlite3 -batch -noheader "$1" 'PRAGMA integrity_check'; fi
}

db_bytes() {
	if [ "$STORE" = postgresql ]; then
		pg_psql postgres CHECKPOINT >/dev/null
		find "$PG_DIR/base" "$PG_DIR/pg_wal" -type f -exec cat {} + 2>/dev/null
	else cat "$1" "$1-wal" 2>/dev/null; fi
}

db_rows_mark() {
	if [ "$STORE" = postgresql ]; then
		pg_psql "$(pg_db_name "$1")" "SELECT (SELECT string_agg(id || ':' || xmin, ',' ORDER BY id) FROM keys), (SELECT count(*) FROM audit)"
	else cat "$1" "$1-wal" 2>/dev/null | sha256sum; fi
}

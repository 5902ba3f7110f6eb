#!/bin/bash
# bench-pg: one apikeyd node on PostgreSQL against one on SQLite, both up at
# once, measured in turn (never both under load at once), three rounds
# each, the median kept:
#   - authenticated requests/s on the key-cache hit path (one key, Heron
#     list, x-api-key, HTTP keep-alive; goal PostgreSQL >= 0.9x SQLite);
#   - the miss path: 10,000 distinct keys, each request the next key
#     (loadgen --header-file, round-robin over every connection). The key
#     cache has 8192 direct-mapped slots and a 5 s lifetime, so most of these
#     requests ask the store; and last_used's once-a-minute table has 4096
#     slots (key id modulo), so with 10,000 keys in turn nearly every request
#     also writes last_used, one durable commit each: this figure is that
#     write path more than the lookup;
#   - durable creates/s with group commit (build/bench_store --store URI,
#     64 threads, through keysvc).
# The keys are made once on SQLite through the HTTP API (curl --parallel,
# 20 users of 500 keys: under any per-user quota) and copied to PostgreSQL
# with `apikeyd migrate`, so both nodes serve the same keys. PostgreSQL is a
# server of this run's own (tests/lib/pg.sh: Unix socket, fsync on).
# Rows go to $BENCH_DIR/bench-pg.tsv (tests/bench_report/lib.sh).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
APIKEYD=${APIKEYD:-$top/build/apikeyd}
LOADGEN=${LOADGEN:-$top/build/tests/server/loadgen}
BENCH_STORE=${BENCH_STORE:-$top/build/bench_store}
SECS=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNS:-64}
NKEYS=${BENCH_PG_KEYS:-10000}
USERS=20
. "$top/tests/bench_report/lib.sh"
. "$top/tests/lib/pg.sh"
W=$(mktemp -d /tmp/apikeyd-bench-pg.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill -KILL $PID 2>/dev/null; pg_stop immediate; [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"' EXIT
fail() { echo "bench-pg: $*" >&2; exit 1; }
port() { while :; do p=$((20000 + RANDOM % 12000)); ss -ltn | grep -q ":$p " || { echo $p; return; }; done; }
(umask 077; head -c 32 /dev/urandom >"$W/secret")
start() { # start DB: one node, plain HTTP; sets PID, PORT
	PORT=$(port)
	local log=$W/server-$PORT.log
	"$APIKEYD" --db "$1" --secret "$W/secret" --state-dir "$W" --listen 127.0.0.1:$PORT --tls-listen off \
		--log-level warning >/dev/null 2>>"$log" &
	PID=$!
	for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0; sleep 0.05; done
	fail "apikeyd on $1 does not start: $(tail -3 "$log")"
}
stop() { kill -TERM $PID; wait $PID 2>/dev/null; PID=; }
rps() { # rps PORT ARGS...: req/s of a loadgen run (0 on failure)
	local out p=$1; shift
	out=$("$LOADGEN" --port "$p" --conns "$CONNS" --seconds "$SECS" --path /heron/api/credentials/keys "$@") ||
		{ echo "bench-pg: loadgen failed: $out" >&2; echo 0; return; }
	echo "${out%% *}"
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ---- the keys, made on SQLite through the API ----
DB=$W/s.db
OWNER=$("$APIKEYD" user add owner --db "$DB" --secret "$W/secret" 2>/dev/null) || fail "user add"
per=$((NKEYS / USERS))
start "$DB"
t0=$(date +%s.%N)
for u in $(seq $USERS); do
	ukey=$("$APIKEYD" user add "u$u" --db "$DB" --secret "$W/secret" 2>/dev/null) || fail "user add u$u"
	{
		for i in $(seq $per); do
			[ $i = 1 ] || echo next
			printf 'url = "http://127.0.0.1:%s/heron/api/credentials/keys"\nheader = "x-api-key: %s"\n' "$PORT" "$ukey"
			printf 'header = "Content-Type: application/json"\ndata = "{\\"name\\":\\"k%s\\"}"\nwrite-out = "\\n"\n' "$i"
		done
	} >"$W/batch.cfg"
	curl -s --parallel --parallel-max 64 -K "$W/batch.cfg" >>"$W/created.json" 2>"$W/curl.err" || fail "creates for u$u"
done
t1=$(date +%s.%N)
jq -r .token "$W/created.json" | grep '^key_' | sed 's/^/x-api-key: /' >"$W/headers"
made=$(sort -u "$W/headers" | wc -l)
[ "$made" = $((per * USERS)) ] || fail "made $made distinct keys of $((per * USERS))"
echo "bench-pg: $made keys through the API in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
stop   # the file quiescent for the copy

# ---- the same keys on PostgreSQL; both nodes up, measured in turn ----
pg_start "$W" >/dev/null || fail "PostgreSQL does not start"
pg_createdb keys
URL=$(pg_url keys)
"$APIKEYD" migrate --from "$DB" --to "$URL" >"$W/migrate.out" 2>&1 || fail "migrate: $(cat "$W/migrate.out")"
start "$DB"; SP=$PORT; SPID=$PID
start "$URL"; PP=$PORT; PPID_=$PID
PID="$SPID $PPID_"
# three rounds, SQLite then PostgreSQL in each, the median of each kept:
# the machine's other load reaches both alike
sh=(); ph=(); sm=(); pm=()
for r in 1 2 3; do
	sh+=("$(rps "$SP" --header "x-api-key: $OWNER")"); ph+=("$(rps "$PP" --header "x-api-key: $OWNER")")
done
for r in 1 2 3; do
	sm+=("$(rps "$SP" --header-file "$W/headers")"); pm+=("$(rps "$PP" --header-file "$W/headers")")
done
s_hit=$(median "${sh[@]}"); p_hit=$(median "${ph[@]}"); s_miss=$(median "${sm[@]}"); p_miss=$(median "${pm[@]}")
echo "bench-pg: hit rounds SQLite ${sh[*]}, PostgreSQL ${ph[*]}; miss rounds SQLite ${sm[*]}, PostgreSQL ${pm[*]}"
stop

# ---- durable creates through keysvc ----
pg_createdb creates
read -r _ s_cr _ p_cr < <("$BENCH_STORE" --store "$(pg_url creates)" 64 6400) || fail "bench_store --store"

echo "bench-pg (one node each, $CONNS connections, ${SECS}s per run, median of 3, $(nproc) cores)"
printf '  cache hit (one key):        SQLite %8s req/s   PostgreSQL %8s req/s   %s\n' "$s_hit" "$p_hit" "$(bench_ratio "$p_hit" "$s_hit")"
printf '  miss path (%s keys):     SQLite %8s req/s   PostgreSQL %8s req/s   %s\n' "$made" "$s_miss" "$p_miss" "$(bench_ratio "$p_miss" "$s_miss")"
printf '  durable creates (64 thr.):  SQLite %8s /s      PostgreSQL %8s /s      %s\n' "$s_cr" "$p_cr" "$(bench_ratio "$p_cr" "$s_cr")"
bench_row bench-pg "authenticated req/s, key-cache hit (Heron list, one key), PostgreSQL" "$p_hit" "SQLite: $s_hit" \
	"$(bench_ratio "$p_hit" "$s_hit")" ">= 0.9x" "$(bench_verdict 'p >= 0.9 * s && s > 0' -v p="$p_hit" -v s="$s_hit")"
bench_row bench-pg "authenticated req/s, $made distinct keys round-robin (cache misses, a last_used write each), PostgreSQL" \
	"$p_miss" "SQLite: $s_miss" "$(bench_ratio "$p_miss" "$s_miss")" "report" "report"
bench_row bench-pg "durable creates/s, group commit (64 threads), PostgreSQL" "${p_cr:-0}/s" "SQLite: ${s_cr:-0}/s" \
	"$(bench_ratio "${p_cr:-0}" "${s_cr:-0}")" "report" "report"
[ "${p_hit:-0}" != 0 ] && [ "${s_hit:-0}" != 0 ] && [ "${p_miss:-0}" != 0 ] && [ "${s_miss:-0}" != 0 ]

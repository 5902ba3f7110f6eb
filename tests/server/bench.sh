#!/bin/bash
# bench-server: throughput of an authenticated API request (Heron list keys,
# x-api-key) against a bare ulfius endpoint returning a small JSON object
# (GET /__test/bare, same process, same listeners, same guard and access
# log), over HTTP keep-alive and over HTTPS, 64 connections, measured in the
# same run with tests/server/loadgen; plus the server's peak resident memory.
set -u
APIKEYD=${APIKEYD:-$(pwd)/build/apikeyd}
LOADGEN=${LOADGEN:-$(pwd)/build/tests/server/loadgen}
SECS=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNS:-64}
WORK=$(mktemp -d /tmp/apikeyd-bench.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill -KILL $PID 2>/dev/null; rm -rf "$WORK"' EXIT
port() { while :; do p=$((20000 + RANDOM % 12000)); ss -ltn | grep -q ":$p " || { echo $p; return; }; done; }
HP=$(port); TP=$(port)
cd "$WORK"
KEY=$("$APIKEYD" user add bench --db var/apikeyd.db 2>/dev/null) || { echo "bench-server: user add failed"; exit 1; }
"$APIKEYD" --listen 127.0.0.1:$HP --tls-listen 127.0.0.1:$TP --test-slow-endpoint >/dev/null 2>"$WORK/log" &
PID=$!
for _ in $(seq 100); do grep -q "apikeyd ready" "$WORK/log" && break; sleep 0.05; done
run() { # run NAME ARGS...: prints req/s
	local out
	out=$("$LOADGEN" --conns "$CONNS" --seconds "$SECS" "$@") || { echo "bench-server: $1 failed: $out" >&2; echo 0; return; }
	echo "${out%% *}"
}
AUTH=(--path /heron/api/credentials/keys --header "x-api-key: $KEY")
BARE=(--path /__test/bare)
h_bare=$(run --port $HP "${BARE[@]}")
h_auth=$(run --port $HP "${AUTH[@]}")
t_bare=$(run --port $TP --tls --ca var/tls-cert.pem "${BARE[@]}")
t_auth=$(run --port $TP --tls --ca var/tls-cert.pem "${AUTH[@]}")
rss=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
kill -TERM $PID; wait $PID; PID=
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f", 100 * a / b; else print 0 }'; }
echo "bench-server ($CONNS connections, ${SECS}s each, $(nproc) cores)"
printf '  HTTP  keep-alive: bare %8s req/s   authenticated %8s req/s   ratio %s%%\n' "$h_bare" "$h_auth" "$(pct "$h_auth" "$h_bare")"
printf '  HTTPS keep-alive: bare %8s req/s   authenticated %8s req/s   ratio %s%%\n' "$t_bare" "$t_auth" "$(pct "$t_auth" "$t_bare")"
printf '  peak resident memory under load: %s KiB (goal < 65536)\n' "$rss"

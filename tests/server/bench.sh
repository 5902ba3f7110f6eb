#!/bin/bash
# bench-server: throughput of an authenticated API request (Heron list keys,
# x-api-key) against a bare ulfius endpoint returning a small JSON object
# (GET /__test/bare, same process, same listeners, same guard and access
# log), over HTTP keep-alive and over HTTPS, 64 connections, measured in the
# same run with tests/server/loadgen; then the latency (p50/p99) of both at
# half the authenticated peak, open loop (loadgen --rate); plus the server's
# resident memory, idle and at its peak. Rows for make bench's closing table
# go to $BENCH_DIR/bench-server.tsv (tests/bench_report/lib.sh).
set -u
APIKEYD=${APIKEYD:-$(pwd)/build/apikeyd}
LOADGEN=${LOADGEN:-$(pwd)/build/tests/server/loadgen}
SECS=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNS:-64}
. "$(dirname "$0")/../bench_report/lib.sh"
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
rss_idle=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
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
# Open-loop latency at half the measured authenticated peak, the bare
# endpoint at the same rate as its baseline (same run, same connections).
lat() { # lat PEAK ARGS...: prints "p50 p99 achieved" in us, us, req/s
	local rate out
	rate=$(awk -v p="$1" 'BEGIN { printf "%d", p / 2 }'); shift
	[ "$rate" -gt 0 ] || { echo "0 0 0"; return; }
	out=$("$LOADGEN" --conns "$CONNS" --seconds "$SECS" --rate "$rate" "$@") || echo "bench-server: latency run failed: $out" >&2
	awk '{ for (i = 1; i < NF; i++) { if ($(i+1) == "us" && $(i-1) == "p50") p50 = $i; if ($(i+1) == "us" && $(i-1) == "p99") p99 = $i } print p50 + 0, p99 + 0, $1 + 0 }' <<<"$out"
}
read -r hl_a50 hl_a99 hl_ar <<<"$(lat "$h_auth" --port $HP "${AUTH[@]}")"
read -r hl_b50 hl_b99 hl_br <<<"$(lat "$h_auth" --port $HP "${BARE[@]}")"
read -r tl_a50 tl_a99 tl_ar <<<"$(lat "$t_auth" --port $TP --tls --ca var/tls-cert.pem "${AUTH[@]}")"
read -r tl_b50 tl_b99 tl_br <<<"$(lat "$t_auth" --port $TP --tls --ca var/tls-cert.pem "${BARE[@]}")"
rss=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
kill -TERM $PID; wait $PID; PID=
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f", 100 * a / b; else print 0 }'; }
echo "bench-server ($CONNS connections, ${SECS}s each, $(nproc) cores)"
printf '  HTTP  keep-alive: bare %8s req/s   authenticated %8s req/s   ratio %s%%\n' "$h_bare" "$h_auth" "$(pct "$h_auth" "$h_bare")"
printf '  HTTPS keep-alive: bare %8s req/s   authenticated %8s req/s   ratio %s%%\n' "$t_bare" "$t_auth" "$(pct "$t_auth" "$t_bare")"
printf '  HTTP  at %s req/s (half the authenticated peak): authenticated p50 %s us p99 %s us; bare p50 %s us p99 %s us\n' "$hl_ar" "$hl_a50" "$hl_a99" "$hl_b50" "$hl_b99"
printf '  HTTPS at %s req/s (half the authenticated peak): authenticated p50 %s us p99 %s us; bare p50 %s us p99 %s us\n' "$tl_ar" "$tl_a50" "$tl_a99" "$tl_b50" "$tl_b99"
printf '  resident memory: %s KiB idle after start, %s KiB peak under load (goal < 65536)\n' "$rss_idle" "$rss"

T=bench-server
for v in HTTP:$h_auth:$h_bare HTTPS:$t_auth:$t_bare; do
	IFS=: read -r proto a b <<<"$v"
	bench_row $T "authenticated request vs bare ulfius endpoint, $proto keep-alive ($CONNS conns, closed loop)" \
		"$a req/s" "bare endpoint: $b req/s" "$(bench_pct "$a" "$b")" ">= 70%" \
		"$(bench_verdict 'a >= 0.7 * b && b > 0' -v a="$a" -v b="$b")"
done
for v in "HTTP:$hl_ar:$hl_a50:$hl_a99:$hl_b50:$hl_b99" "HTTPS:$tl_ar:$tl_a50:$tl_a99:$tl_b50:$tl_b99"; do
	IFS=: read -r proto r a50 a99 b50 b99 <<<"$v"
	bench_row $T "p50 / p99 latency, authenticated, $proto, open loop at $r req/s (half the authenticated peak)" \
		"p50 $a50 us, p99 $a99 us" "bare endpoint at the same rate: p50 $b50 us, p99 $b99 us" \
		"p50 $(bench_ratio "$a50" "$b50" 1), p99 $(bench_ratio "$a99" "$b99" 1)" "report (the issue states no numeric goal)" report
done
bench_row $T "peak resident memory under load (VmHWM, all of the above)" "$(awk -v k="$rss" 'BEGIN { printf "%.1f MiB", k / 1024 }')" \
	"idle after start: $(awk -v k="$rss_idle" 'BEGIN { printf "%.1f MiB", k / 1024 }')" "$(bench_ratio "$rss" "$rss_idle" 1)" "< 64 MiB" \
	"$(bench_verdict 'k > 0 && k < 65536' -v k="$rss")"

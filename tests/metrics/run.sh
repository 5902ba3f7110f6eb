#!/bin/bash
# test-metrics: GET /metrics as a real Prometheus sees it.
#   - Debian's prometheus, started here on a free loopback port with a temp
#     config (storage in the scratch folder, scrape_interval 1s), scrapes
#     apikeyd; after a known set of requests (API calls with a key, without
#     one, with a wrong one, creates, TLS handshakes good and bad), its own
#     HTTP API (/api/v1/query) returns the matching counter values, read from
#     a scrape made after the last request.
#   - promtool check metrics accepts the page (no error, no lint warning).
#   - Where /metrics is served: loopback peers only on the API listeners
#     (403 from another address of this host), a listener of its own with
#     --metrics HOST:PORT (and then not on the API listeners), nowhere with
#     --metrics off; bad --metrics values are usage errors.
set -u
SUITE=metrics
. "$(dirname "$0")/../lib/apikeyd.sh"

command -v prometheus >/dev/null && command -v promtool >/dev/null ||
	{ no "prometheus and promtool installed (scripts/install-deps.sh)"; finish; exit 1; }

db=$dir/var/apikeyd.db
KEY=$(user_add "$db" alice)
[ -n "$KEY" ] || { no "user add"; finish; exit 1; }

# ---- apikeyd with both listeners ----
port=$(free_port); tport=$(free_port)
while [ "$tport" = "$port" ]; do tport=$(free_port); done
"$APIKEYD" --db "$db" --listen "127.0.0.1:$port" --tls-listen "127.0.0.1:$tport" >"$dir/srv.out" 2>"$dir/srv.log" &
SRV_PIDS+=($!)
H="http://127.0.0.1:$port"
for _ in $(seq 200); do curl -s -o /dev/null "$H/healthz" && break; sleep 0.05; done

# ---- the page itself ----
req GET /metrics
expect "GET /metrics from loopback: 200" 200 '^# HELP apikeyd_'
check "Content-Type is the text exposition format 0.0.4" \
	test "$(header Content-Type)" = "text/plain; version=0.0.4; charset=utf-8"
cp "$dir/out" "$dir/page0"
promtool check metrics <"$dir/page0" >"$dir/promtool.out" 2>&1; rc=$?
check "promtool check metrics accepts the page, no warning" test "$rc" = 0 -a ! -s "$dir/promtool.out"
[ "$rc" = 0 ] && [ ! -s "$dir/promtool.out" ] || sed 's/^/      /' "$dir/promtool.out" | head -5
for m in apikeyd_http_requests_total apikeyd_http_request_duration_seconds apikeyd_auth_total \
	apikeyd_cache_requests_total apikeyd_store_duration_seconds apikeyd_store_errors_total \
	apikeyd_store_batch_size apikeyd_last_used_dropped_total apikeyd_log_lines_dropped_total apikeyd_tls_handshakes_total apikeyd_tls_handshake_failures_total \
	apikeyd_build_info; do
	check "the page declares $m" grep -q "^# TYPE $m " "$dir/page0"
done

# ---- Prometheus, scraping it every second ----
pport=$(free_port)
mkdir -p "$dir/prom"
cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: apikeyd
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prom" \
	--web.listen-address="127.0.0.1:$pport" --log.level=warn >"$dir/prom.log" 2>&1 &
SRV_PIDS+=($!)
P="http://127.0.0.1:$pport"
for _ in $(seq 600); do curl -sf -o /dev/null "$P/-/ready" && break; sleep 0.1; done
check "prometheus is ready" curl -sf -o /dev/null "$P/-/ready"

# q EXPR: the value of an instant query (empty when no series)
q() { curl -s "$P/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'; }
# the up series once scraped
for _ in $(seq 300); do [ "$(q 'up{job="apikeyd"}')" = 1 ] && break; sleep 0.1; done
check "prometheus scrapes apikeyd (up == 1)" test "$(q 'up{job="apikeyd"}')" = 1

# ---- a known set of requests ----
for i in 1 2 3 4 5; do req GET /heron/api/credentials/keys "x-api-key: $KEY"; done
expect "list with the key: 200" 200
for i in 1 2 3; do req GET /heron/api/credentials/keys; done
expect "list without a key: 401" 401
for i in 1 2; do req GET /heron/api/credentials/keys "x-api-key: key_notakeynotakeynotakeynotakeyxxxx"; done
expect "list with a wrong key: 401" 401
for i in 1 2 3; do req POST /heron/api/credentials/keys "x-api-key: $KEY" "{\"name\":\"m$i\"}"; done
expect "create: 201" 201
for i in 1 2; do curl -sk -o /dev/null "https://127.0.0.1:$tport/healthz"; done
curl -s -o /dev/null "http://127.0.0.1:$tport/healthz"    # plain HTTP to the TLS port: no handshake
bash -c "exec 3<>/dev/tcp/127.0.0.1/$tport"               # a connection that leaves before its ClientHello
sleep 0.5                                                 # the refused connection is closed
done_at=$(date +%s.%N)

# a scrape that began after the last request
for _ in $(seq 300); do
	t=$(q 'timestamp(up{job="apikeyd"})')
	[ -n "$t" ] && awk -v t="$t" -v d="$done_at" 'BEGIN { exit !(t > d + 0.2) }' && break
	sleep 0.2
done
awk -v t="${t:-0}" -v d="$done_at" 'BEGIN { exit !(t > d) }' && ok "prometheus scraped after the requests" ||
	no "prometheus scraped after the requests (last $t, requests done $done_at)"

# qeq NAME EXPR WANT: Prometheus's value of EXPR is exactly WANT
qeq() { local v; v=$(q "$2"); [ "$v" = "$3" ] && ok "$1 = $3" || no "$1: prometheus says '${v}', want $3"; }
R='apikeyd_http_requests_total{api="heron",operation="list_keys"'
qeq "heron list_keys 200" "$R,status=\"200\"}" 5
qeq "heron list_keys 401" "$R,status=\"401\"}" 5
qeq "heron create_key 201" 'apikeyd_http_requests_total{api="heron",operation="create_key",status="201"}' 3
qeq "latency histogram count (list_keys)" \
	'apikeyd_http_request_duration_seconds_count{api="heron",operation="list_keys"}' 10
qeq "latency histogram +Inf bucket (list_keys)" \
	'apikeyd_http_request_duration_seconds_bucket{api="heron",operation="list_keys",le="+Inf"}' 10
qeq "auth ok" 'apikeyd_auth_total{outcome="ok"}' 8
qeq "auth missing" 'apikeyd_auth_total{outcome="missing"}' 3
qeq "auth rejected" 'apikeyd_auth_total{outcome="rejected"}' 2
qeq "auth rate_limited" 'apikeyd_auth_total{outcome="rate_limited"}' 0
qeq "group-commit batches (3 creates one after another)" 'apikeyd_store_batch_size_count' 3
qeq "group-commit batch items" 'apikeyd_store_batch_size_sum' 3
qeq "TLS handshakes" 'apikeyd_tls_handshakes_total' 2
qeq "TLS handshake failures" 'apikeyd_tls_handshake_failures_total' 2
qeq "store errors (write)" 'apikeyd_store_errors_total{op="write"}' 0
qeq "build info" "apikeyd_build_info{version=\"$("$APIKEYD" --version | awk '{print $2}')\"}" 1
v=$(q 'sum(apikeyd_cache_requests_total{cache="key"})')
awk -v v="${v:-0}" 'BEGIN { exit !(v >= 8) }' && ok "key cache consulted for every key authentication ($v)" ||
	no "key cache look-ups: '$v', want >= 8"
v=$(q 'apikeyd_cache_requests_total{cache="key",result="hit"}')
awk -v v="${v:-0}" 'BEGIN { exit !(v >= 1) }' && ok "key cache hits ($v)" || no "key cache hits: '$v'"
v=$(q 'apikeyd_store_duration_seconds_count{op="write"}')
awk -v v="${v:-0}" 'BEGIN { exit !(v >= 3) }' && ok "store write latency observed ($v calls)" || no "store writes: '$v'"
v=$(q 'apikeyd_http_requests_total{api="apikeyd",operation="metrics",status="200"}')
awk -v v="${v:-0}" 'BEGIN { exit !(v >= 2) }' && ok "the scrapes themselves are counted ($v)" || no "metrics scrapes: '$v'"

# 200 more from 8 clients at once, so from many worker threads (each thread
# counts in its own copy of the counters): the page sums them exactly
seq 200 | xargs -P 8 -I{} curl -s -o /dev/null -H "x-api-key: $KEY" "$H/heron/api/credentials/keys"
curl -s "$H/metrics" >"$dir/page2"
check "200 requests from 8 clients at once: list_keys 200 counted exactly (205)" \
	grep -qx 'apikeyd_http_requests_total{api="heron",operation="list_keys",status="200"} 205' "$dir/page2"
check "and in the latency histogram (210 with the 401s)" \
	grep -qx 'apikeyd_http_request_duration_seconds_count{api="heron",operation="list_keys"} 210' "$dir/page2"
check "and as authentications (208 ok)" grep -qx 'apikeyd_auth_total{outcome="ok"} 208' "$dir/page2"

curl -s "$H/metrics" >"$dir/page1"
promtool check metrics <"$dir/page1" >"$dir/promtool.out" 2>&1; rc=$?
check "promtool check metrics accepts the page after traffic" test "$rc" = 0 -a ! -s "$dir/promtool.out"
check "no key material in the page" bash -c "! grep -qF -- '${KEY:8}' '$dir/page1'"

# ---- where it is served ----
other=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+\.' | grep -v '^127\.' | head -1)
if [ -n "$other" ]; then
	p2=$(free_port)
	"$APIKEYD" --db "$db" --listen "0.0.0.0:$p2" --allow-plain-http --tls-listen off >/dev/null 2>"$dir/any.log" &
	SRV_PIDS+=($!)
	for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$p2/healthz" && break; sleep 0.05; done
	SRV_LOG=$dir/any.log
	if curl -s -o /dev/null "http://127.0.0.1:$p2/healthz"; then
		s=$(curl -s -o "$dir/out" -w '%{http_code}' "http://$other:$p2/metrics")
		[ "$s" = 403 ] && grep -q loopback "$dir/out" && ok "/metrics from a non-loopback peer ($other): 403" ||
			no "/metrics from $other: $s" "$(cat "$dir/out")"
		s=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p2/metrics")
		check "the same server answers loopback: 200" test "$s" = 200
	else no "start on 0.0.0.0" "$(tail -3 "$SRV_LOG")"; fi
else
	echo "skip  /metrics from a non-loopback peer: this host has no other IPv4 address"
fi
mport=$(free_port)
if start_server "$db" --metrics "127.0.0.1:$mport"; then
	s=$(curl -s -o "$dir/out" -w '%{http_code}' "http://127.0.0.1:$mport/metrics")
	[ "$s" = 200 ] && grep -q '^apikeyd_build_info' "$dir/out" && ok "--metrics HOST:PORT serves /metrics there" ||
		no "--metrics listener: $s"
	promtool check metrics <"$dir/out" >/dev/null 2>&1 && ok "promtool accepts the listener's page" || no "promtool on the listener's page"
	req GET /metrics
	expect "--metrics HOST:PORT: not on the API listener (404)" 404
	s=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/other")
	check "the metrics listener: other paths 404" test "$s" = 404
	s=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$mport/metrics")
	check "the metrics listener: POST 405" test "$s" = 405
else no "start with --metrics HOST:PORT" "$(tail -3 "$SRV_LOG")"; fi
if start_server "$db" --metrics off; then
	req GET /metrics
	expect "--metrics off: 404" 404
else no "start with --metrics off" "$(tail -3 "$SRV_LOG")"; fi

usage() { # usage NAME ERE ARGS...: exit 2 with a message matching ERE
	local name=$1 pat=$2; shift 2
	"$APIKEYD" --db "$db" "$@" >/dev/null 2>"$dir/usage.err"; local rc=$?
	[ "$rc" = 2 ] && grep -qE -- "$pat" "$dir/usage.err" && ok "$name" || no "$name (exit $rc)" "$(cat "$dir/usage.err")"
}
usage "--metrics nonsense: usage error" '--metrics: expected loopback, off or HOST:PORT' --metrics nonsense
usage "--metrics on the --listen address: usage error" 'the same address as --listen' \
	--listen 127.0.0.1:$port --metrics 127.0.0.1:$port
p3=$(free_port)
nc_pid=
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$p3)); s.listen(); time.sleep(30)" & nc_pid=$!
sleep 0.3
"$APIKEYD" --db "$db" --listen "127.0.0.1:$(free_port)" --tls-listen off --metrics "127.0.0.1:$p3" \
	>/dev/null 2>"$dir/busy.err" & bp=$!
SRV_PIDS+=($bp)
for _ in $(seq 100); do kill -0 $bp 2>/dev/null || break; sleep 0.05; done
wait $bp; rc=$?
kill $nc_pid 2>/dev/null
[ "$rc" = 1 ] && grep -q -- "--metrics 127.0.0.1:$p3: cannot listen: Address already in use" "$dir/busy.err" &&
	ok "--metrics on a port in use: exit 1 naming it" || no "--metrics port in use (exit $rc)" "$(cat "$dir/busy.err")"

finish

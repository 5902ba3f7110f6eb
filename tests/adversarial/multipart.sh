#!/bin/bash
# multipart: unauthenticated multipart/form-data requests with no boundary or
# a 1-character one (libmicrohttpd cannot make a post processor for them, and
# ulfius then gave no answer and left the request counted in flight).
# 20,000 of them, 8 at a time; asserts each is answered 415 in the API's
# error shape, the server's RSS grows by less than 1 MiB, and SIGTERM right
# after returns at once (nothing stuck in flight).
SUITE=multipart
. "$(dirname "$0")/../lib/apikeyd.sh"
RAW=${ADV_BIN:-$top/build/adversarial}/rawhttp
if ! start_server "$dir/keys.db" --shutdown-timeout 10 --threads 2; then no "server starts" "$(tail -5 "$SRV_LOG")"; finish; exit; fi
PORT=${H##*:}
rss() { awk '/^VmRSS/ {print $2}' /proc/"$SRV_PID"/status; }
mp() { printf 'POST /feldera/v0/api_keys HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data%s\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}' "$1"; }

mp '' | "$RAW" -t 1500 "$PORT" >"$dir/one" 2>/dev/null
check "multipart/form-data without a boundary -> 415" grep -q '^HTTP/1.1 415' "$dir/one"
check "  ... in Feldera's error shape (JSON error_code)" grep -q '"error_code":"UnsupportedMediaType"' "$dir/one"
mp '; boundary=a' | "$RAW" -t 1500 "$PORT" >"$dir/one" 2>/dev/null
check "multipart/form-data; boundary=a (1 character) -> 415" grep -q '^HTTP/1.1 415' "$dir/one"

mp '' | "$RAW" -n 1000 -P 8 -t 1500 "$PORT" >/dev/null    # warm up the allocator
r0=$(rss)
a=$(mp '' | "$RAW" -n 10000 -P 8 -t 1500 "$PORT")
b=$(mp '; boundary=a' | "$RAW" -n 10000 -P 8 -t 1500 "$PORT")
r1=$(rss)
echo "      no boundary: $a"
echo "      boundary=a:  $b"
echo "      RSS ${r0} kB -> ${r1} kB after 20,000 requests"
check "20,000 requests all answered 415" test "$a $b" = "415=10000 none=0 open=0 415=10000 none=0 open=0"
check "RSS grew by less than 1 MiB ($((r1 - r0)) kB)" test $((r1 - r0)) -lt 1024
t0=$(date +%s%N)
kill -TERM "$SRV_PID"; wait "$SRV_PID"; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "SIGTERM afterwards: exit 0 within 2 s, nothing left in flight (${ms} ms)" test "$rc" = 0 -a "$ms" -lt 2000
check "  ... the log says 0 requests in flight" grep -q 'waiting for 0 request(s) in flight' "$SRV_LOG"
finish

#!/bin/bash
# framing: ambiguous HTTP/1.1 message framing as raw bytes on one connection
# (RFC 9112 section 6.3), each followed by a second request that a lenient
# server would parse from the leftover bytes (request smuggling behind a
# proxy). Asserts the status, that the server closes the connection where
# it must, that no second response comes, and that nothing hangs (every read
# ends after 1.5 s). Also: HEAD is answered as GET without the body; what
# libmicrohttpd answers on its own (a Content-Length it cannot parse, 414,
# 431, 505, a malformed line or chunk) is one JSON response, and bare-LF
# line ends are refused (server/mhdfix.h); the same over TLS.
SUITE=framing
. "$(dirname "$0")/../lib/apikeyd.sh"
RAW=${ADV_BIN:-$top/build/adversarial}/rawhttp
if ! start_server "$dir/keys.db" --test-slow-endpoint; then no "server starts" "$(tail -5 "$SRV_LOG")"; finish; exit; fi
PORT=${H##*:}

# send NAME BYTES: one connection; sets OUT (the response bytes), HOW
# ("closed after N ms" / "open after N ms"), NRESP (status lines seen) and
# CODE (the first status).
send() {
	printf '%b' "$2" | "$RAW" ${RAW_TLS:+-s} -t 1500 "${SEND_PORT:-$PORT}" >"$dir/raw.out" 2>"$dir/raw.how"
	OUT=$(tr -d '\r' <"$dir/raw.out")
	HOW=$(cat "$dir/raw.how")
	NRESP=$(grep -o 'HTTP/1\.[01] [0-9][0-9][0-9] ' <<<"$OUT" | wc -l)
	CODE=$(sed -n '1s/^HTTP\/1\.[01] \([0-9]*\).*/\1/p' <<<"$OUT")
}
closed_fast() { [[ "$HOW" == closed* ]] && [ "${HOW//[^0-9]/}" -lt 1000 ]; }
# refused NAME STATUS BYTES: STATUS, exactly one response, connection closed promptly
refused() {
	send "$1" "$3"
	if [ "$CODE" = "$2" ] && [ "$NRESP" = 1 ] && closed_fast; then ok "$1 -> $2, one response, closed"
	else no "$1 -> $2, one response, closed (got ${CODE:-none}, $NRESP response(s), $HOW)" "$OUT"; fi
}
# json_answer NAME CT [ERE]: the last answer is Content-Type CT with a JSON
# body (jq parses it) matching ERE
json_answer() {
	local body; body=$(awk 'f; /^$/ {f=1}' <<<"$OUT")
	if grep -q "^Content-Type: $2\$" <<<"$OUT" && jq -e . >/dev/null 2>&1 <<<"$body" &&
		{ [ -z "${3-}" ] || grep -qE -- "$3" <<<"$body"; }; then ok "$1"
	else no "$1" "$OUT"; fi
}
# refused_json NAME STATUS CT ERE BYTES: refused, and the answer is JSON
refused_json() {
	refused "$1" "$2" "$5"
	json_answer "  ... $3, JSON ($4)" "$3" "$4"
}
SMUGGLED='GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
NEB=/nebulablock/api/v1/api-keys
NEB_SHAPE='"status":"failed"'

refused "two different Content-Length headers" 400 \
	"POST $NEB HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}$SMUGGLED"
check "  ... in the family's error shape (NebulaBlock envelope, JSON, naming the cause)" \
	bash -c "grep -q '^Content-Type: application/json' <<<'$OUT' && grep -q '\"status\":\"failed\"' <<<'$OUT' && grep -q 'more than one Content-Length' <<<'$OUT'"
refused "Content-Length with Transfer-Encoding: chunked" 400 \
	"POST $NEB HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n$SMUGGLED"
refused "Transfer-Encoding: xchunked (unknown coding)" 501 \
	"POST $NEB HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: xchunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n$SMUGGLED"
refused "Transfer-Encoding: chunked, identity" 501 \
	"POST $NEB HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked, identity\r\n\r\n2\r\n{}\r\n0\r\n\r\n$SMUGGLED"
refused "two Transfer-Encoding headers" 501 \
	"POST $NEB HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n$SMUGGLED"
refused "HTTP/1.1 without Host" 400 "GET /healthz HTTP/1.1\r\n\r\n"
check "  ... as problem details outside every API" bash -c "grep -q '^Content-Type: application/problem+json' <<<'$OUT' && grep -q 'Host header' <<<'$OUT'"
refused "HTTP/1.1 with two Host headers" 400 "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"

# what libmicrohttpd 0.9.75 refuses itself, before any callback: one JSON
# answer (it wrote HTML with no Content-Type, and for an unparsable
# Content-Length the head twice), in the family's shape once the path is known
refused_json "Content-Length: -1" 400 application/json "message.*Content-Length.*$NEB_SHAPE" \
	"POST $NEB HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n{}$SMUGGLED"
check "  ... the head once (one Content-Type line)" test "$(grep -c '^Content-Type:' <<<"$OUT")" = 1
check "  ... and the access log records 400 for it (not 499)" grep -q -- "- $NEB 400 " "$SRV_LOG"
nosniff() { check "  ... with nosniff, no-store and Connection: close" bash -c "grep -q '^X-Content-Type-Options: nosniff' <<<'$OUT' && grep -q '^Cache-Control: no-store' <<<'$OUT' && grep -qi '^Connection: close' <<<'$OUT'"; }
nosniff
refused_json "Content-Length: +2" 400 application/problem+json '"status":400' \
	"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}$SMUGGLED"
refused_json "Content-Length: 2, 2" 400 application/problem+json 'Content-Length' \
	"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\n{}$SMUGGLED"
refused_json "Content-Length over 2^64" 413 application/json "$NEB_SHAPE" \
	"POST $NEB HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n{}$SMUGGLED"
long=$(head -c 40000 /dev/zero | tr '\0' 'a')
refused_json "request line over the connection memory" 414 application/problem+json '"status":414' \
	"GET /$long HTTP/1.1\r\nHost: x\r\n\r\n"
refused_json "header field over the connection memory" 431 application/json "$NEB_SHAPE" \
	"GET $NEB HTTP/1.1\r\nHost: x\r\nX-Big: $long\r\n\r\n"
refused_json "chunked trailer section over the connection memory" 431 application/problem+json '"status":431' \
	"POST /__test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: $long\r\n\r\n"
refused_json "HTTP/2.0 request line" 505 application/problem+json '"status":505' "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n"
nosniff
refused_json "HTTP/0.9-style version" 505 application/problem+json '"status":505' "GET /healthz HTTP/0.9\r\nHost: x\r\n\r\n"
refused_json "malformed version" 400 application/problem+json '"status":400' "GET /healthz HTTP/1.x\r\nHost: x\r\n\r\n"
refused_json "header line without a colon" 400 application/json "$NEB_SHAPE" \
	"GET $NEB HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n$SMUGGLED"
refused_json "malformed chunk size" 400 application/problem+json 'chunked' \
	"POST /__test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n$SMUGGLED"

# bare LF line ends (RFC 9112 section 2.2: a server may refuse; a proxy that
# disagrees about where a line ends is a smuggling vector), and what the
# same reading of the head also catches
refused_json "bare LF everywhere" 400 application/problem+json 'bare LF' "GET /healthz HTTP/1.1\nHost: x\n\n$SMUGGLED"
refused_json "bare LF after the request line" 400 application/json "message.*bare LF.*$NEB_SHAPE" \
	"GET $NEB HTTP/1.1\nHost: x\r\n\r\n$SMUGGLED"
refused_json "bare LF after a header" 400 application/problem+json 'bare LF' \
	"GET /healthz HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n$SMUGGLED"
refused_json "bare LF after the last header" 400 application/problem+json 'bare LF' \
	"GET /healthz HTTP/1.1\r\nHost: x\n\r\n$SMUGGLED"
refused_json "bare LF as the empty line" 400 application/problem+json 'bare LF' \
	"GET /healthz HTTP/1.1\r\nHost: x\r\n\n$SMUGGLED"
refused_json "bare LF, HTTP/1.0 without headers" 400 application/problem+json 'bare LF' "GET /healthz HTTP/1.0\n\n"
# a proxy for which LF alone ends no line sees no Content-Length here, and
# the smuggled request as a second one
refused_json "bare LF hiding a Content-Length" 400 application/json "$NEB_SHAPE" \
	"GET $NEB HTTP/1.1\r\nHost: x\r\nX-A: b\nContent-Length: 34\r\n\r\n$SMUGGLED"
refused_json "obs-fold (a header continued on the next line)" 400 application/problem+json 'obs-fold' \
	"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n$SMUGGLED"
refused_json "whitespace before the colon" 400 application/problem+json 'whitespace' \
	"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 2\r\n\r\n{}$SMUGGLED"
refused_json "a NUL in a header value" 400 application/problem+json 'NUL' \
	"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\0c\r\n\r\n$SMUGGLED"
refused_json "a bare CR in a header value" 400 application/problem+json 'bare CR' \
	"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\rc\r\n\r\n$SMUGGLED"
# the request target is visible ASCII (RFC 9112 section 3.2): a control
# byte in it, seen before libmicrohttpd decodes it (a raw CR is not %0D)
refused_json "a bare CR in the request target's query" 400 application/problem+json 'control' \
	"GET /healthz?a=\rb HTTP/1.1\r\nHost: x\r\n\r\n$SMUGGLED"
refused_json "a bare CR in the request target's path" 400 application/json "control.*$NEB_SHAPE" \
	"GET $NEB\r HTTP/1.1\r\nHost: x\r\n\r\n$SMUGGLED"
refused_json "a tab in the request target" 400 application/problem+json 'control' \
	"GET /healthz?a=\tb HTTP/1.1\r\nHost: x\r\n\r\n$SMUGGLED"
refused_json "a DEL in the request target" 400 application/problem+json 'control' \
	"GET /healthz?a=\x7f HTTP/1.1\r\nHost: x\r\n\r\n$SMUGGLED"
send "an encoded CR (%0D) in the query" "GET /healthz?a=%0Db HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
check "an encoded CR (%0D) in the query is served (200)" test "$CODE" = 200

# what must keep working
send "keep-alive: one Content-Length, then a second request" \
	"POST /__test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}$SMUGGLED"
check "a well-framed body and a second request on one connection -> two answers (200, 200)" \
	test "$NRESP $(grep -o 'HTTP/1.1 200 ' <<<"$OUT" | wc -l)" = "2 2"
send "chunked body" \
	"POST /__test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
check "a chunked body alone is accepted (200 {\"bytes\":2})" bash -c "[ '$CODE' = 200 ] && grep -q '{\"bytes\":2}' <<<'$OUT'"
send "HTTP/1.0 without Host" "GET /healthz HTTP/1.0\r\n\r\n"
check "HTTP/1.0 without Host is still served (200)" test "$CODE" = 200

# HEAD is GET without a body
send "HEAD then GET" "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
first=$(awk '/^HTTP\/1.1/ {n++} n == 1' <<<"$OUT")
check "HEAD on a GET route -> 200 (not 405)" test "$CODE" = 200
check "HEAD response has no body (the next response follows its head directly)" \
	bash -c "[ '$CODE' = 200 ] && [ '$NRESP' = 2 ] && ! grep -q 'status' <<<'$first' && [ \"\$(grep -c '{\"status\":\"ok\"}' <<<'$OUT')\" = 1 ]"
req HEAD /heron/api/credentials/keys "x-api-key: key_nope"
check "HEAD on an API list route is authenticated like GET (401, got $STATUS)" test "$STATUS" = 401
send "a well-framed head with blanks, an empty value, a query and a cookie" \
	"GET /healthz?a=1&b=%41 HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Blank: \t \r\nX-Tab:\tv \r\nCookie: a=b; c=d\r\nUser-Agent: t/1\r\nConnection: close\r\n\r\n"
check "  ... is served (200)" test "$CODE" = 200
send "keep-alive: three requests, the second with a body" \
	"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /__test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
check "  ... three answers, all 200" test "$NRESP $(grep -o 'HTTP/1.1 200 ' <<<"$OUT" | wc -l)" = "3 3"
# 50 lines, 10.5 KB: past the read buffer libmicrohttpd starts with, within
# the default --max-header (16 KiB of connection memory, which also holds
# each header's entry: 60 such lines, 12.6 KB, get 431)
h=$(for i in $(seq 50); do printf 'X-H%02d: %0200d\\r\\n' "$i" 0; done)
send "a 10.5 KB head (the read buffer grows)" "GET /healthz HTTP/1.1\r\nHost: x\r\n${h}Connection: close\r\n\r\n"
check "  ... is served (200)" test "$CODE" = 200
check "the server logged no warning about libmicrohttpd's answers" bash -c "! grep -q 'stay HTML\|framing:' '$SRV_LOG'"

# the same over TLS (HSTS on every answer)
TLS_PORT=$(free_port)
mkdir -p "$dir/tls"
( cd "$dir/tls" && exec "$APIKEYD" --db "$dir/tls/keys.db" --listen off --tls-listen "127.0.0.1:$TLS_PORT" \
	--log-level info --test-slow-endpoint ) >"$dir/tls.out" 2>"$dir/tls.log" &
SRV_PIDS+=("$!")
disown "$!"   # the cleanup's kill -KILL, without bash's "Killed" line
for _ in $(seq 200); do grep -q "apikeyd ready" "$dir/tls.log" 2>/dev/null && break; sleep 0.05; done
RAW_TLS=1 SEND_PORT=$TLS_PORT
hsts() { check "  ... with HSTS" bash -c "grep -q '^Strict-Transport-Security: max-age' <<<'$OUT'"; }
send "TLS: a well-framed request" "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
check "TLS: a well-framed request is served (200, got ${CODE:-none}, $HOW)" test "$CODE" = 200
refused_json "TLS: Content-Length: -1" 400 application/json "$NEB_SHAPE" \
	"POST $NEB HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n{}$SMUGGLED"
hsts
refused_json "TLS: HTTP/2.0 request line" 505 application/problem+json '"status":505' "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n"
hsts
refused_json "TLS: header field over the connection memory" 431 application/json "$NEB_SHAPE" \
	"GET $NEB HTTP/1.1\r\nHost: x\r\nX-Big: $long\r\n\r\n"
refused_json "TLS: bare LF" 400 application/problem+json 'bare LF' "GET /healthz HTTP/1.1\nHost: x\n\n$SMUGGLED"
hsts
finish

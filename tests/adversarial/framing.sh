#!/bin/bash
# framing: ambiguous HTTP/1.1 message framing as raw bytes on one connection
# (RFC 9112 section 6.3), each followed by a second request that a lenient
# server would parse from the leftover bytes (request smuggling behind a
# proxy). Asserts the status, that the server closes the connection where
# it must, that no second response comes, and that nothing hangs (every read
# ends after 1.5 s). Also: HEAD is answered as GET without the body.
SUITE=framing
. "$(dirname "$0")/../lib/apikeyd.sh"
RAW=${ADV_BIN:-$top/build/adversarial}/rawhttp
if ! start_server "$dir/keys.db" --test-slow-endpoint; then no "server starts" "$(tail -5 "$SRV_LOG")"; finish; exit; fi
PORT=${H##*:}

# send NAME BYTES: one connection; sets OUT (the response bytes), HOW
# ("closed after N ms" / "open after N ms"), NRESP (status lines seen) and
# CODE (the first status).
send() {
	printf '%b' "$2" | "$RAW" -t 1500 "$PORT" >"$dir/raw.out" 2>"$dir/raw.how"
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
SMUGGLED='GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
NEB=/nebulablock/api/v1/api-keys

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
finish

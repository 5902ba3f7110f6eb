#!/bin/bash
# tests/server: starts the real build/apikeyd on random loopback ports and
# talks to it with real clients (curl, gnutls-cli, openssl s_client).
# Uses the hidden --test-slow-endpoint option, which mounts GET /__test/slow
# (?ms=N) and POST /__test/echo through the APIs table (server/testapi.c).
# Prints "server: N passed, N failed"; exit status 1 when anything failed.
set -u
APIKEYD=${APIKEYD:-$(pwd)/${BUILD:-build}/apikeyd}
WORK=$(mktemp -d /tmp/apikeyd-test.XXXXXX)
PASS=0
FAIL=0
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

ok()   { PASS=$((PASS + 1)); echo "ok      $1"; }
fail() { FAIL=$((FAIL + 1)); echo "FAILED  $1"; [ $# -gt 1 ] && echo "        $2"; }
check() { # check NAME COMMAND...: passes when the command succeeds
	local name=$1; shift
	if "$@"; then ok "$name"; else fail "$name"; fi
}

# Ports below Linux's ephemeral range (32768-60999), so no outgoing
# connection of a client on this machine can hold the one we pick.
# mistype KEY: KEY with its last character changed (to x, or y when it was
# x: a key ending in x, one in 62, stayed valid and flaked the 401 checks)
mistype() { local k=$1; [ "${k: -1}" = x ] && echo "${k%?}y" || echo "${k%?}x"; }
rand_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		ss -ltn 2>/dev/null | grep -q ":$p " || { echo "$p"; return; }
	done
}

# start NAME ARGS...: starts apikeyd in $WORK/NAME (cwd, so var/ lands there),
# log in $WORK/NAME.log; sets SRV_PID. Returns 1 if it did not become ready.
start() {
	local name=$1; shift
	mkdir -p "$WORK/$name"
	(cd "$WORK/$name" && exec "$APIKEYD" "$@") >"$WORK/$name.out" 2>"$WORK/$name.log" &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	for _ in $(seq $((${APIKEYD_TEST_SLOW:-0} ? 2000 : 100))); do
		grep -q "apikeyd ready" "$WORK/$name.log" 2>/dev/null && return 0
		kill -0 "$SRV_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

stop() { # stop PID: SIGTERM and wait; sets STOP_RC to the exit status
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	STOP_RC=$?
}

fingerprint_served() { # fingerprint_served PORT: SHA-256 of the served leaf
	openssl s_client -connect "127.0.0.1:$1" -servername localhost </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//'
}
fingerprint_file() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'; }

[ -x "$APIKEYD" ] || { echo "no $APIKEYD; run make first"; echo "server: 0 passed, 1 failed"; exit 1; }

# ---------------------------------------------------------------- main server
HP=$(rand_port); TP=$(rand_port)
if start main --listen 127.0.0.1:$HP --tls-listen 127.0.0.1:$TP --test-slow-endpoint --threads 2; then
	ok "starts on 127.0.0.1:$HP (http) and 127.0.0.1:$TP (https)"
else
	fail "starts" "$(cat "$WORK/main.log")"
	echo "server: $PASS passed, $FAIL failed"; exit 1
fi
MAIN_PID=$SRV_PID
CA=$WORK/main/var/tls-cert.pem

check "self-signed certificate created beside the database" test -s "$CA" -a -s "$WORK/main/var/tls-key.pem"
check "self-signed key file is mode 0600" test "$(stat -c %a "$WORK/main/var/tls-key.pem")" = 600
check "certificate has SANs localhost, 127.0.0.1, ::1" \
	bash -c "openssl x509 -in '$CA' -noout -ext subjectAltName | tr -d ' \n' | grep -q 'DNS:localhost,IPAddress:127.0.0.1,IPAddress:0:0:0:0:0:0:0:1'"

# the self-signed certificate is a leaf, not a CA (audit issue 10, finding 11)
ext=$(openssl x509 -in "$CA" -noout -ext basicConstraints,keyUsage,extendedKeyUsage 2>/dev/null | tr -d '\n' | tr -s ' ')
check "self-signed certificate: CA:FALSE" bash -c "[[ '$ext' == *'CA:FALSE'* ]]"
check "self-signed certificate: key usage Digital Signature only" \
	bash -c "[[ '$ext' == *'Digital Signature'* && '$ext' != *'Certificate Sign'* ]]"
check "self-signed certificate: extended key usage serverAuth" bash -c "[[ '$ext' == *'TLS Web Server Authentication'* ]]"

# security headers: nosniff and no-store everywhere, HSTS on HTTPS only
hdr() { curl -s -o /dev/null -D - "$@" | tr -d '\r'; }
h_tls=$(hdr --cacert "$CA" "https://localhost:$TP/healthz")
h_plain=$(hdr "http://127.0.0.1:$HP/healthz")
h_err=$(hdr "http://127.0.0.1:$HP/heron/api/credentials/keys")
check "HTTPS response carries Strict-Transport-Security: max-age=31536000" grep -qx 'Strict-Transport-Security: max-age=31536000' <<<"$h_tls"
check "plain HTTP response carries no HSTS" bash -c "! grep -qi '^Strict-Transport-Security' <<<'$h_plain'"
all3="$h_tls"$'\n'"$h_plain"$'\n'"$h_err"
check "X-Content-Type-Options: nosniff on HTTP, HTTPS and an error" test "$(grep -cx 'X-Content-Type-Options: nosniff' <<<"$all3")" = 3
check "Cache-Control: no-store on HTTP, HTTPS and an error" test "$(grep -cx 'Cache-Control: no-store' <<<"$all3")" = 3

body=$(curl -s --cacert "$CA" "https://localhost:$TP/healthz")
check "GET /healthz over HTTPS (curl --cacert, name localhost) -> {\"status\":\"ok\"}" test "$body" = '{"status":"ok"}'
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "https://127.0.0.1:$TP/healthz")
check "GET /healthz over HTTPS by IP 127.0.0.1 -> 200" test "$code" = 200
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/healthz")
check "GET /healthz over plain HTTP -> 200" test "$code" = 200
resp=$(curl -s -w ' %{http_code} %{content_type}' "http://127.0.0.1:$HP/no/such/thing")
check "unknown route -> 404 JSON" bash -c "[[ '$resp' == *'\"status\":404'*' 404 application/problem+json' ]]"

# a port already in use: exit 1 with the reason
out=$(cd "$WORK/main" && "$APIKEYD" --listen 127.0.0.1:$HP --tls-listen off 2>&1); rc=$?
if [ "$rc" = 1 ] && [[ "$out" == *"--listen 127.0.0.1:$HP: cannot listen: Address already in use"* ]]; then
	ok "port in use -> exit 1, \"Address already in use\""
else fail "port in use -> exit 1" "exit $rc: $out"; fi

# TLS versions: 1.0 and 1.1 refused, 1.2 and 1.3 accepted
for v in TLS1.0 TLS1.1 TLS1.2 TLS1.3; do
	{ printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'; sleep 1; } |
		timeout 10 gnutls-cli -p "$TP" 127.0.0.1 --x509cafile "$CA" \
		--priority "NORMAL:-VERS-ALL:+VERS-$v" >"$WORK/gnutls-$v.txt" 2>&1
	if [ "$v" = TLS1.0 ] || [ "$v" = TLS1.1 ]; then
		if grep -q "Handshake was completed" "$WORK/gnutls-$v.txt"; then
			fail "gnutls-cli $v refused" "$(head -20 "$WORK/gnutls-$v.txt")"
		else ok "gnutls-cli $v refused"; fi
	else
		if grep -q "Handshake was completed" "$WORK/gnutls-$v.txt" &&
		   grep -q "Description: ($v-" "$WORK/gnutls-$v.txt" && grep -q '{"status":"ok"}' "$WORK/gnutls-$v.txt"; then
			ok "gnutls-cli $v accepted, certificate verified, healthz answered"
		else fail "gnutls-cli $v accepted" "$(head -20 "$WORK/gnutls-$v.txt")"; fi
	fi
done
# weak suites are gone even within TLS 1.2
printf '' | timeout 10 gnutls-cli -p "$TP" 127.0.0.1 --x509cafile "$CA" \
	--priority "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC" >"$WORK/gnutls-cbc.txt" 2>&1
if grep -q "Handshake was completed" "$WORK/gnutls-cbc.txt"; then fail "TLS 1.2 CBC suites refused"; else ok "TLS 1.2 CBC suites refused"; fi

# body size: 64 KiB accepted whole, one byte more -> 413 (Content-Length and chunked)
head -c 65536 /dev/zero | tr '\0' 'a' >"$WORK/64k"
head -c 66560 /dev/zero | tr '\0' 'a' >"$WORK/65k"
resp=$(curl -s -w ' %{http_code}' --data-binary @"$WORK/64k" -H 'Content-Type: application/octet-stream' "http://127.0.0.1:$HP/__test/echo")
check "64 KiB body accepted whole (no truncation)" test "$resp" = '{"bytes":65536} 200'
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$WORK/65k" -H 'Content-Type: application/octet-stream' "http://127.0.0.1:$HP/__test/echo")
check "65 KiB body -> 413" test "$code" = 413
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$WORK/65k" -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' "http://127.0.0.1:$HP/__test/echo")
check "65 KiB chunked body (no Content-Length) -> 413" test "$code" = 413
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" --data-binary @"$WORK/65k" -H 'Content-Type: application/json' "https://localhost:$TP/healthz")
check "65 KiB body over HTTPS -> 413" test "$code" = 413

# header size limit (per-connection memory, default 16 KiB: what
# libmicrohttpd clears after every request)
mid=$(head -c 12000 /dev/zero | tr '\0' 'h')
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $mid" "http://127.0.0.1:$HP/healthz")
check "12 KB header under the default 16 KiB -> 200 (got $code)" test "$code" = 200
mid=$(head -c 20000 /dev/zero | tr '\0' 'h')
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $mid" "http://127.0.0.1:$HP/healthz")
check "20 KB header over the default 16 KiB -> 431/413 (got $code)" bash -c "[ '$code' = 431 ] || [ '$code' = 413 ]"
big=$(head -c 40000 /dev/zero | tr '\0' 'h')
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "http://127.0.0.1:$HP/healthz")
check "40 KB header -> 431/413 (got $code)" bash -c "[ '$code' = 431 ] || [ '$code' = 413 ]"

# invalid UTF-8 -> 400
raw_request() { # raw_request PORT BYTES: sends BYTES, prints the status line
	exec 3<>"/dev/tcp/127.0.0.1/$1"
	printf '%b' "$2" >&3
	head -1 <&3 | tr -d '\r'
	exec 3<&- 3>&-
}
st=$(raw_request "$HP" 'GET /heal\xff\xfethz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
check "raw invalid UTF-8 bytes in the path -> 400 ($st)" test "$st" = "HTTP/1.1 400 Bad Request"
st=$(raw_request "$HP" 'GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
check "raw valid UTF-8 in the path passes the guard (404, $st)" test "$st" = "HTTP/1.1 404 Not Found"
code=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "http://127.0.0.1:$HP/x%C3%28y")
check "percent-encoded invalid UTF-8 in the path -> 400" test "$code" = 400
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/healthz?name=%ff")
check "invalid UTF-8 in the query -> 400" test "$code" = 400
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/healthz?name=%C3%A9")
check "valid UTF-8 in the query -> 200" test "$code" = 200
code=$(curl -s -o /dev/null -w '%{http_code}' -H $'X-Name: \xed\xa0\x80' "http://127.0.0.1:$HP/healthz")
check "surrogate (CESU) bytes in a header value -> 400" test "$code" = 400
code=$(curl -s -o /dev/null -w '%{http_code}' -H $'Cookie: a=\xc0\xaf' "http://127.0.0.1:$HP/healthz")
check "overlong UTF-8 in a cookie -> 400" test "$code" = 400
resp=$(curl -s --cacert "$CA" -H $'X-Name: \xff' "https://localhost:$TP/healthz")
check "invalid UTF-8 header over HTTPS -> 400 with a clear message" bash -c "[[ '$resp' == *'invalid UTF-8 in the value of header X-Name'* ]]"

# credentials never reach the log
curl -s -o /dev/null -H 'x-api-key: SECRETVALUE123' -H 'Authorization: Bearer SECRETVALUE456' \
	-b 'session=SECRETVALUE789' "http://127.0.0.1:$HP/healthz?api_key=SECRETVALUE000&x=1"
curl -s -o /dev/null --cacert "$CA" -H 'x-api-key: SECRETVALUE123' "https://localhost:$TP/nope?token=SECRETVALUE000"
sleep 0.2
check "request logged: method, path, status, ms, client" grep -qE 'GET /healthz 200 [0-9.]+ms 127\.0\.0\.1$' "$WORK/main.log"
check "no credential in the log (x-api-key, Authorization, cookie, query)" bash -c "! grep -q SECRETVALUE '$WORK/main.log'"
check "query string never logged" bash -c "! grep -qE 'api_key=|token=' '$WORK/main.log'"

# SIGTERM during a slow request: it finishes, new connections are refused, exit 0
curl -s -o "$WORK/slow.body" -w '%{http_code}' --cacert "$CA" "https://localhost:$TP/__test/slow?ms=1500" >"$WORK/slow.code" &
CURL_PID=$!
sleep 0.5
t0=$(date +%s%N)
kill -TERM "$MAIN_PID"
sleep 0.3
curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$HP/healthz"; rc=$?
check "after SIGTERM new connections are refused at once (curl exit $rc = 7)" test "$rc" = 7
curl -s -o /dev/null --max-time 2 --cacert "$CA" "https://localhost:$TP/healthz"; rc=$?
check "after SIGTERM new HTTPS connections are refused at once too (curl exit $rc = 7)" test "$rc" = 7
wait "$CURL_PID"
check "SIGTERM during a slow HTTPS request: it completes with 200" \
	test "$(cat "$WORK/slow.code") $(cat "$WORK/slow.body")" = '200 {"slept_ms":1500}'
wait "$MAIN_PID"; rc=$?
t1=$(date +%s%N)
check "server exits 0 after SIGTERM" test "$rc" = 0
check "shutdown waited for the request (>= 0.9 s after SIGTERM)" test $(( (t1 - t0) / 1000000 )) -ge 900
check "slow request logged as 200 before shutdown finished" grep -q 'GET /__test/slow 200' "$WORK/main.log"
check "log says stopped" grep -q 'apikeyd stopped' "$WORK/main.log"

# restart: the self-signed pair is reused
fp1=$(fingerprint_file "$CA")
if start main --listen off --tls-listen 127.0.0.1:$TP; then
	check "restart reuses the self-signed certificate" test "$(fingerprint_served "$TP")" = "$fp1"
	kill -INT "$SRV_PID"; wait "$SRV_PID"; rc=$?
	check "SIGINT also stops with exit 0" test "$rc" = 0
else fail "restart" "$(cat "$WORK/main.log")"; fi

# IPv6 loopback listeners; the self-signed certificate names ::1
P6=$(rand_port); T6=$(rand_port)
if start main --listen "[::1]:$P6" --tls-listen "[::1]:$T6"; then
	code=$(curl -s -g -o /dev/null -w '%{http_code}' --cacert "$CA" "https://[::1]:$T6/healthz")
	check "HTTPS on [::1] verifies against the self-signed certificate" test "$code" = 200
	code=$(curl -s -g -o /dev/null -w '%{http_code}' "http://[::1]:$P6/healthz")
	check "HTTP on [::1]" test "$code" = 200
	stop "$SRV_PID"
	check "IPv6 client address logged" grep -qE 'GET /healthz 200 [0-9.]+ms ::1$' "$WORK/main.log"
else fail "start on [::1]" "$(tail -3 "$WORK/main.log")"; fi

# ---------------------------------------------------------------- SIGHUP swap
mkcert() { # mkcert DIR NAME: self-signed localhost cert NAME.pem + NAME-key.pem
	certtool --generate-privkey --key-type=ecdsa --outfile "$1/$2-key.pem" >/dev/null 2>&1
	printf 'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\nca\ntls_www_server\nsigning_key\ncert_signing_key\nexpiration_days = 2\n' >"$1/$2.tmpl"
	certtool --generate-self-signed --load-privkey "$1/$2-key.pem" --template "$1/$2.tmpl" --outfile "$1/$2.pem" >/dev/null 2>&1
}
mkdir -p "$WORK/hup"
mkcert "$WORK/hup" a
mkcert "$WORK/hup" b
mkcert_dated() { # mkcert_dated DIR NAME FROM UNTIL: as mkcert, valid FROM to UNTIL
	certtool --generate-privkey --key-type=ecdsa --outfile "$1/$2-key.pem" >/dev/null 2>&1
	printf 'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\ntls_www_server\nsigning_key\nactivation_date = "%s"\nexpiration_date = "%s"\n' "$3" "$4" >"$1/$2.tmpl"
	certtool --generate-self-signed --load-privkey "$1/$2-key.pem" --template "$1/$2.tmpl" --outfile "$1/$2.pem" >/dev/null 2>&1
}
mkcert_dated "$WORK/hup" expired "2020-01-01 00:00:00" "2021-01-01 00:00:00"
mkcert_dated "$WORK/hup" future "2099-01-01 00:00:00" "2100-01-01 00:00:00"
cp "$WORK/hup/a.pem" "$WORK/hup/cert.pem"; cp "$WORK/hup/a-key.pem" "$WORK/hup/key.pem"
TP2=$(rand_port)
if start hup --listen off --tls-listen 127.0.0.1:$TP2 --tls-cert "$WORK/hup/cert.pem" --tls-key "$WORK/hup/key.pem" --test-slow-endpoint; then
	HUP_PID=$SRV_PID
	check "serves the given certificate (A)" test "$(fingerprint_served "$TP2")" = "$(fingerprint_file "$WORK/hup/a.pem")"
	curl -s -o "$WORK/hup.body" -w '%{http_code}' --cacert "$WORK/hup/a.pem" "https://localhost:$TP2/__test/slow?ms=1200" >"$WORK/hup.code" &
	CURL_PID=$!
	sleep 0.4
	cp "$WORK/hup/b.pem" "$WORK/hup/cert.pem"; cp "$WORK/hup/b-key.pem" "$WORK/hup/key.pem"
	kill -HUP "$HUP_PID"
	sleep 0.3
	check "after SIGHUP a new connection sees certificate B" test "$(fingerprint_served "$TP2")" = "$(fingerprint_file "$WORK/hup/b.pem")"
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/hup/b.pem" "https://localhost:$TP2/healthz")
	check "curl trusting only B succeeds after SIGHUP" test "$code" = 200
	wait "$CURL_PID"
	check "a request in flight on certificate A survives the SIGHUP" test "$(cat "$WORK/hup.code")" = 200
	echo "not a certificate" >"$WORK/hup/cert.pem"
	kill -HUP "$HUP_PID"
	sleep 0.3
	check "bad files on SIGHUP: still serving B" test "$(fingerprint_served "$TP2")" = "$(fingerprint_file "$WORK/hup/b.pem")"
	check "bad files on SIGHUP: error logged" grep -q "keeping the current certificate" "$WORK/hup.log"
	cp "$WORK/hup/a.pem" "$WORK/hup/cert.pem"   # key B, certificate A: mismatch
	kill -HUP "$HUP_PID"
	sleep 0.3
	check "mismatched key on SIGHUP: still serving B" test "$(fingerprint_served "$TP2")" = "$(fingerprint_file "$WORK/hup/b.pem")"
	check "mismatched key logged" grep -q "does not hold the key" "$WORK/hup.log"
	# an expired and a not-yet-valid certificate are refused; the old one stays
	for when in expired future; do
		cp "$WORK/hup/$when.pem" "$WORK/hup/cert.pem"; cp "$WORK/hup/$when-key.pem" "$WORK/hup/key.pem"
		kill -HUP "$HUP_PID"
		sleep 0.3
		check "$when certificate on SIGHUP: still serving B" test "$(fingerprint_served "$TP2")" = "$(fingerprint_file "$WORK/hup/b.pem")"
	done
	check "expired certificate refused with a log line" grep -q "keeping the current certificate: .*expired" "$WORK/hup.log"
	check "not-yet-valid certificate refused with a log line" grep -q "keeping the current certificate: .*not valid before" "$WORK/hup.log"
	# a key file others can read: loaded, with a warning
	mkcert "$WORK/hup" c
	cp "$WORK/hup/c.pem" "$WORK/hup/cert.pem"; cp "$WORK/hup/c-key.pem" "$WORK/hup/key.pem"; chmod 0666 "$WORK/hup/key.pem"
	kill -HUP "$HUP_PID"
	sleep 0.3
	check "0666 key on SIGHUP: certificate C loaded" test "$(fingerprint_served "$TP2")" = "$(fingerprint_file "$WORK/hup/c.pem")"
	check "0666 key on SIGHUP: a warning names the mode" grep -q "WARNING: .*key.pem is readable by group or others (mode 0666)" "$WORK/hup.log"
	stop "$HUP_PID"
	check "server alive after bad reloads, exits 0" test "$STOP_RC" = 0
else fail "start with --tls-cert/--tls-key" "$(cat "$WORK/hup.log")"; fi

# ---------------------------------------------------------------- client certificates
mkdir -p "$WORK/mtls"; M=$WORK/mtls
certtool --generate-privkey --key-type=ecdsa --outfile "$M/ca-key.pem" >/dev/null 2>&1
printf 'cn = "test CA"\nca\ncert_signing_key\nexpiration_days = 2\n' >"$M/ca.tmpl"
certtool --generate-self-signed --load-privkey "$M/ca-key.pem" --template "$M/ca.tmpl" --outfile "$M/ca.pem" >/dev/null 2>&1
certtool --generate-privkey --key-type=ecdsa --outfile "$M/cl-key.pem" >/dev/null 2>&1
printf 'cn = "client"\ntls_www_client\nsigning_key\nexpiration_days = 2\n' >"$M/cl.tmpl"
certtool --generate-certificate --load-privkey "$M/cl-key.pem" --load-ca-certificate "$M/ca.pem" \
	--load-ca-privkey "$M/ca-key.pem" --template "$M/cl.tmpl" --outfile "$M/cl.pem" >/dev/null 2>&1
certtool --generate-self-signed --load-privkey "$M/cl-key.pem" --template "$M/cl.tmpl" --outfile "$M/rogue.pem" >/dev/null 2>&1
TP3=$(rand_port)
if start mtls --listen off --tls-listen 127.0.0.1:$TP3 --tls-client-ca "$M/ca.pem"; then
	CA3=$WORK/mtls/var/tls-cert.pem
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA3" "https://localhost:$TP3/healthz")
	check "--tls-client-ca: no client certificate -> refused" test "$code" = 000
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA3" --cert "$M/rogue.pem" --key "$M/cl-key.pem" "https://localhost:$TP3/healthz")
	check "--tls-client-ca: certificate from another issuer -> refused" test "$code" = 000
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA3" --cert "$M/cl.pem" --key "$M/cl-key.pem" "https://localhost:$TP3/healthz")
	check "--tls-client-ca: certificate signed by the CA -> 200" test "$code" = 200
	stop "$SRV_PID"
else fail "start with --tls-client-ca" "$(cat "$WORK/mtls.log")"; fi

# ---------------------------------------------------------------- configuration
usage() { # usage NAME EXPECTED-TEXT ARGS...: exit 2 and the message
	local name=$1 want=$2; shift 2
	local out rc
	out=$(cd "$WORK" && "$APIKEYD" "$@" 2>&1 >/dev/null); rc=$?
	if [ "$rc" = 2 ] && [[ "$out" == *"$want"* ]]; then ok "$name"; else fail "$name" "exit $rc: $out"; fi
}
usage "non-loopback --listen refused without --allow-plain-http" "refusing plain HTTP on a non-loopback address" --listen 0.0.0.0:$(rand_port)
usage "bad --listen value" 'expected HOST:PORT' --listen nonsense
usage "bad port" 'port must be a number from 1 to 65535' --listen 127.0.0.1:70000
usage "--tls-cert without --tls-key" '--tls-cert given without --tls-key' --tls-cert /nonexistent
usage "bad --log-level" 'expected none, error, warning, info or debug' --log-level loud
usage "bad --max-body" '--max-body: "12x"' --max-body 12x
usage "unknown option" '--frobnicate: unknown option' --frobnicate
usage "bad --mount syntax" 'expected API=BASEPATH or API=off' --mount heron
usage "--mount of an unknown API" 'unknown API "nosuch"' --mount nosuch=/x
usage "both listeners off" 'nothing to serve' --listen off --tls-listen off
printf 'listen = 127.0.0.1:80\nbogus = 1\n' >"$WORK/bad.conf"
usage "unknown key in the config file names file:line" "bad.conf:2: unknown setting \"bogus\"" --config "$WORK/bad.conf"
out=$(APIKEYD_LISTEN=xyz "$APIKEYD" --tls-listen off 2>&1); rc=$?
if [ "$rc" = 2 ] && [[ "$out" == *'environment APIKEYD_LISTEN: "xyz"'* ]]; then ok "bad environment value names the variable (exit 2)"
else fail "bad environment value names the variable (exit 2)" "exit $rc: $out"; fi
out=$(APIKEYD_LISTEN=xyz "$APIKEYD" --listen 127.0.0.1:1 --help 2>&1); rc=$?
if [ "$rc" = 0 ] && [[ "$out" == *'command line > environment > config file > built-in defaults'* ]]; then ok "--help exits 0 and states the precedence"
else fail "--help exits 0 and states the precedence" "exit $rc"; fi
check "--version" bash -c "'$APIKEYD' --version | grep -q '^apikeyd '"


# precedence: command line > environment > config file
P1=$(rand_port); P2=$(rand_port); P3=$(rand_port)
printf '# test config\nlisten = 127.0.0.1:%s\ntls-listen = off   # comment\nmount = test=/from-file\ntest-slow-endpoint = true\n' "$P1" >"$WORK/good.conf"
if start conf1 --config "$WORK/good.conf"; then
	check "config file: listen taken from the file" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P1/healthz")" = 200
	check "config file: mount test=/from-file" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P1/from-file/slow?ms=1")" = 200
	stop "$SRV_PID"
else fail "start with --config" "$(cat "$WORK/conf1.log")"; fi
export APIKEYD_LISTEN=127.0.0.1:$P2 APIKEYD_CONFIG=$WORK/good.conf
if start conf2; then
	check "environment beats the config file" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P2/healthz")" = 200
	stop "$SRV_PID"
else fail "start with env + config" "$(cat "$WORK/conf2.log")"; fi
if start conf3 --listen 127.0.0.1:$P3 --mount test=/cli --max-header 32K; then
	mid=$(head -c 20000 /dev/zero | tr '\0' 'h')
	check "--max-header 32K takes a 20 KB header" test "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $mid" "http://127.0.0.1:$P3/healthz")" = 200
	check "command line beats the environment" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P3/healthz")" = 200
	check "--mount test=/cli moves the API" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P3/cli/slow?ms=1")" = 200
	check "--mount: old base path gone" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P3/from-file/slow?ms=1")" = 404
	stop "$SRV_PID"
else fail "start with cli + env + config" "$(cat "$WORK/conf3.log")"; fi
if start conf4 --listen 127.0.0.1:$P3 --mount test=off; then
	check "--mount test=off leaves the API out" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P3/from-file/slow?ms=1")" = 404
	stop "$SRV_PID"
else fail "start with --mount test=off" "$(cat "$WORK/conf4.log")"; fi
unset APIKEYD_LISTEN APIKEYD_CONFIG

# ---------------------------------------------------------------- user add
if [ -f keysvc/keysvc.h ]; then
	D=$WORK/users/var/keys.db
	out=$("$APIKEYD" user add alice --db "$D" 2>"$WORK/useradd.err"); rc=$?
	check "user add: exit 0" test "$rc" = 0
	check "user add: exactly one line on stdout" test "$(printf '%s\n' "$out" | wc -l)" = 1
	check "user add: the line is an API key ($out)" bash -c "[[ '$out' =~ ^[a-z]+_[0-9A-Za-z]{40,}$ ]]"
	"$APIKEYD" user add alice --db "$D" >"$WORK/dup.out" 2>"$WORK/dup.err"; rc=$?
	check "user add: duplicate user -> exit 1, nothing on stdout" bash -c "[ $rc = 1 ] && [ ! -s '$WORK/dup.out' ] && [ -s '$WORK/dup.err' ]"
	# the key authenticates; the log names its id, never the key
	P4=$(rand_port)
	P5=$(rand_port)
	if start users --listen 127.0.0.1:$P4 --tls-listen "[::1]:$P5" --db "$D"; then
		code=$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $out" "http://127.0.0.1:$P4/heron/api/credentials/keys")
		check "the printed key authenticates (Heron list keys -> 200)" test "$code" = 200
		lh=$(curl -s -o /dev/null -D - -H "x-api-key: $out" "http://127.0.0.1:$P4/heron/api/credentials/keys" | tr -d '\r')
		check "an authenticated list of keys carries Cache-Control: no-store" grep -qx 'Cache-Control: no-store' <<<"$lh"
		code=$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $(mistype "$out")" "http://127.0.0.1:$P4/heron/api/credentials/keys")
		check "a mistyped key -> 401" test "$code" = 401
		# ulfius keeps only 16 bytes of an IPv6 client address; the guard
		# restores it (an ASan build of apikeyd shows the over-read otherwise)
		code=$(curl -s -g -o /dev/null -w '%{http_code}' --cacert "$(dirname "$D")/tls-cert.pem" \
			-H "x-api-key: $out" "https://[::1]:$P5/heron/api/credentials/keys")
		check "the key authenticates over HTTPS from ::1" test "$code" = 200
		stop "$SRV_PID"
		check "server with the user's database exits 0" test "$STOP_RC" = 0
		check "access log: authenticated request carries key=<id>" \
			grep -qE 'GET /heron/api/credentials/keys 200 [0-9.]+ms 127\.0\.0\.1 key=[0-9]+$' "$WORK/users.log"
		check "access log: rejected request has no key id" \
			grep -qE 'GET /heron/api/credentials/keys 401 [0-9.]+ms 127\.0\.0\.1$' "$WORK/users.log"
		check "access log: the key itself never appears" bash -c "! grep -qF -- '${out:8}' '$WORK/users.log'"
	else fail "start with the user's database" "$(cat "$WORK/users.log")"; fi
	# the same access log in JSON (--log-format json): one object per line,
	# the key's id, never the key
	P6=$(rand_port)
	if start usersjson --listen 127.0.0.1:$P6 --tls-listen off --db "$D" --log-format json; then
		curl -s -o /dev/null -H "x-api-key: $out" "http://127.0.0.1:$P6/heron/api/credentials/keys"
		curl -s -o /dev/null -H "x-api-key: $(mistype "$out")" -H "Authorization: Bearer $out" -b "session=$out" \
			"http://127.0.0.1:$P6/heron/api/credentials/keys?api_key=$out"
		curl -s -o /dev/null -H 'x-api-key: SECRETVALUE123' -H 'Authorization: Bearer SECRETVALUE456' \
			-b 'session=SECRETVALUE789' "http://127.0.0.1:$P6/healthz?api_key=SECRETVALUE000&x=1"
		stop "$SRV_PID"
		J=$WORK/usersjson.log
		check "JSON access log: every line parses as an object" \
			test "$(jq -c 'select(type == "object")' "$J" 2>/dev/null | wc -l)" = "$(wc -l <"$J")"
		check "JSON access log: authenticated request carries its key_id" \
			bash -c "jq -e -s 'any(.[]; .msg == \"access\" and .status == 200 and .path == \"/heron/api/credentials/keys\" and (.key_id | type) == \"number\")' '$J' >/dev/null"
		check "JSON access log: rejected request has key_id null" \
			bash -c "jq -e -s 'any(.[]; .msg == \"access\" and .status == 401 and .key_id == null)' '$J' >/dev/null"
		check "JSON access log: the key itself never appears" bash -c "! grep -qF -- '${out:8}' '$J'"
		check "JSON access log: no credential (x-api-key, Authorization, cookie, query)" bash -c "! grep -q SECRETVALUE '$J'"
	else fail "start with --log-format json" "$(cat "$WORK/usersjson.log")"; fi
fi

echo "server: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]

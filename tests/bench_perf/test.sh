#!/bin/bash
# test-perf: what bench-perf's fixes must keep true, checked without timing:
# TLS session resumption (a returning client's ticket resumes its session,
# also after a SIGHUP reload of the certificate), every handshake served
# the certificate imported once, and requests still reach their routes
# through the endpoint list cut by first path segment (server/routes.c).
SUITE=perf
. "$(dirname "$0")/../lib/apikeyd.sh"
LOADGEN=${LOADGEN:-$top/${BUILD:-build}/tests/server/loadgen}

db=$dir/a.db
KEY=$(user_add "$db" alice) || { no "user add"; finish; exit 1; }
HP=$(free_port); TP=$(free_port)
"$APIKEYD" --db "$db" --state-dir "$dir" --listen 127.0.0.1:$HP --tls-listen 127.0.0.1:$TP \
	>"$dir/server.out" 2>"$dir/server.log" &
SRV=$!
SRV_PIDS+=("$SRV")
H=http://127.0.0.1:$HP
up=0
for _ in $(seq 200); do curl -s -o /dev/null "$H/healthz" && { up=1; break; }; sleep 0.05; done
[ $up = 1 ] || { no "apikeyd starts" "$(tail -5 "$dir/server.log")"; finish; exit 1; }
CA=$dir/tls-cert.pem

# resume: gnutls-cli connects, then connects again offering the session
resume() { echo | timeout 20 gnutls-cli --resume --x509cafile "$CA" -p "$TP" localhost 2>&1; }
out=$(resume)
if grep -q "This is a resumed session" <<<"$out"; then ok "a second connection resumes the first's session (ticket)"
else no "a second connection resumes the first's session (ticket)" "$(grep -i "resum\|error" <<<"$out")"; fi

# loadgen: each thread's every connection after its first offers the last ticket
l=$("$LOADGEN" --port "$TP" --tls --ca "$CA" --new-conn --resume --conns 2 --seconds 1 --path /heron/api/credentials/keys \
	--header "x-api-key: $KEY" 2>&1)
n=$(awk '{ print $3 }' <<<"$l"); r=$(awk '{ for (i = 1; i < NF; i++) if ($i == "resumed") print $(i + 1) }' <<<"$l")
if [ "${n:-0}" -ge 3 ] && [ "${r:-0}" -ge 1 ] && grep -q " 0 non-2xx 0 errors" <<<"$l"; then
	ok "authenticated requests on resumed connections: $r of $n resumed, all 2xx"
else no "authenticated requests on resumed connections" "$l"; fi
l=$("$LOADGEN" --port "$TP" --tls --ca "$CA" --new-conn --conns 2 --seconds 1 --path /healthz 2>&1)
if grep -q " 0 non-2xx 0 errors.* resumed 0$" <<<"$l" && [ "$(awk '{ print $3 }' <<<"$l")" -ge 2 ]; then
	ok "a client offering no ticket gets full handshakes, every one verifying the certificate"
else no "a client offering no ticket gets full handshakes" "$l"; fi

# SIGHUP reloads the pair (a new ticket key with it): handshakes and resumption go on
kill -HUP "$SRV"
for _ in $(seq 100); do grep -qi "reload" "$dir/server.log" && break; sleep 0.05; done
out=$(resume)
if grep -q "This is a resumed session" <<<"$out"; then ok "after a SIGHUP reload, handshakes work and sessions resume"
else no "after a SIGHUP reload, handshakes work and sessions resume" "$(grep -i "resum\|error" <<<"$out"; tail -3 "$dir/server.log")"; fi

# routes: each family's list, the spec documents, the built-in endpoints
req GET /heron/api/credentials/keys "x-api-key: $KEY"
expect "the Heron list answers through its segment's endpoints" 200 '"keys"'
req GET /heron/openapi.json
expect "GET /heron/openapi.json: the spec route" 200 '"openapi"'
req GET //heron//api/credentials/keys "x-api-key: $KEY"
expect "empty path segments are skipped, as ulfius matches (//heron//api/...)" 200
req GET /healthz
expect "GET /healthz" 200 '"ok"'
req GET /nosuchsegment/x
expect "a path no endpoint begins with: 404 from the fallback" 404
req DELETE /heron/api/credentials/keys "x-api-key: $KEY"
expect "a known path, another method: 405 (Allow from the whole endpoint list)" 405
allow=$(header Allow)
if grep -q "GET" <<<"$allow" && grep -q "POST" <<<"$allow"; then ok "Allow lists GET and POST ($allow)"
else no "Allow lists GET and POST" "$allow"; fi
req GET /heron/api/credentials/keys "x-api-key: key_nope"
expect "an unknown key: 401 through the same route" 401

finish

#!/bin/bash
# tests/verify/run.sh — apikeyd as the key service of other people's APIs
# (issue 13): the apikeyd API at /v1 through the real server over HTTP,
# keys' attributes enforced on all six APIs, verify and /v1/auth. Time is
# the key service's own clock, moved through the test API (POST
# /__test/clock?offset=S, only with --test-slow-endpoint): expiries, grace
# periods and rate-limit windows are crossed without waiting.
SUITE=verify
. "$(dirname "$0")/../lib/apikeyd.sh"

db=$dir/var/apikeyd.db
mkdir -p "$dir/var"
K=$(user_add "$db" alice) || { no "user add"; finish; exit 1; }
KB=$(user_add "$db" bob) || { no "user add bob"; finish; exit 1; }
start_server "$db" --test-slow-endpoint || { no "server start" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }

# at T: the key service's clock stands at unix second T; real: it runs again
at() { curl -s -o /dev/null -w '%{http_code}' -X POST "$H/__test/clock?at=$1" | grep -q 200 || no "clock at $1"; }
real() { curl -s -o /dev/null -w '%{http_code}' -X POST "$H/__test/clock?offset=0" | grep -q 200 || no "clock real"; }
# unix DATE-TIME: seconds of an RFC 3339 time
unix() { date -u -d "$1" +%s; }
# v1 METHOD PATH [BODY] as alice (x-api-key), or as $AS when set
v1() { req "$1" "/v1$2" "x-api-key: ${AS:-$K}" "${3-}"; }
# mk JSON: creates a key as alice, prints its token (and leaves the id in $dir/id)
mk() { v1 POST /keys "$1"; [ "$STATUS" = 201 ] || { no "create $1 (got $STATUS)" "$BODY_OUT"; return 1; }; jb .id >"$dir/id"; jb .key; }
# verdict TOKEN [SCOPES_JSON]: the verify code (as alice, or $AS)
verdict() {
	local body="{\"key\":\"$1\"${2:+,\"scopes\":$2}}"
	v1 POST /verify "$body"
	[ "$STATUS" = 200 ] && jb .code || echo "HTTP$STATUS"
}
# gate TOKEN [SCOPES]: /v1/auth as a gateway (alice's key as the verifier); sets STATUS
gate() {
	local args=(-s -o "$dir/out" -D "$dir/headers" -w '%{http_code}' -H "X-Apikeyd-Verifier: ${GW:-$K}")
	[ -n "$1" ] && args+=(-H "x-api-key: $1")
	[ -n "${2-}" ] && args+=(-H "X-Apikeyd-Scopes: $2")
	STATUS=$(curl "${args[@]}" "$H/v1/auth")
}
# six TOKEN: the status of an authenticated GET on each of the six APIs,
# space-separated; each call from another loopback address, so that its
# refusals stay under the failed-authentication limit of one address.
# (A key with keys:read: Feldera's api_keys list asks write rights, 403.)
echo 1 >"$dir/src"
six() {
	local out="" f src
	src=$(( $(cat "$dir/src") + 1 )); echo "$src" >"$dir/src"
	for f in heron feldera nebula nebula_uuid fastapi; do
		req --from "127.0.1.$src" GET "$(list_path $f)" "$(auth_header $f "$1")"
		out="$out$STATUS "
	done
	req --from "127.0.1.$src" GET /v1/keys "x-api-key: $1"
	echo "$out$STATUS"
}

# ---- create, get, list, update ----
v1 POST /keys '{"name":"acme","owner":"customer-42","scopes":["orders:read","orders:write"],"meta":{"plan":"pro","seats":3},"ratelimit":{"limit":1000,"window":60}}'
expect_json "create: 201 with the key once, its attributes" 201 \
	'(.key|test("^apk_")) and .owner=="customer-42" and .scopes==["orders:read","orders:write"] and .meta.plan=="pro" and .enabled and .expires_at==null and .remaining==null and .ratelimit.limit==1000'
[ "$(header Cache-Control)" = no-store ] && ok "create: Cache-Control no-store" || no "create: Cache-Control $(header Cache-Control)"
A=$(jb .key); AID=$(jb .id)
v1 GET "/keys/$AID"
expect_json "get: the attributes, no key" 200 '.id=="'"$AID"'" and (has("key")|not) and .start==("'"$A"'"|.[0:8]) and .meta.seats==3'
v1 GET /keys
expect_json "list: the key, total" 200 '.total==1 and .items[0].id=="'"$AID"'"'
v1 PATCH "/keys/$AID" '{"meta":{"plan":"enterprise"},"owner":null,"remaining":5}'
expect_json "update: meta, owner cleared, remaining set" 200 '.meta=={"plan":"enterprise"} and .owner==null and .remaining==5 and .name=="acme"'
[ "$(verdict "$A")" = VALID ] && [ "$(jb .remaining)" = 4 ] && [ "$(jb .meta.plan)" = enterprise ] \
	&& ok "verify after update: VALID, the new meta, a use counted (4 left)" || no "verify after update" "$BODY_OUT"
v1 PATCH "/keys/$AID" '{"remaining":null}'
expect_json "update: remaining null stops the count" 200 '.remaining==null'
v1 GET "/keys/00000000-0000-4000-8000-000000000000"
expect_json "get: an unknown id is 404, problem details" 404 '.status==404 and .code=="NOT_FOUND"'
[ "$(header Content-Type)" = "application/problem+json" ] && ok "errors are application/problem+json" || no "error Content-Type: $(header Content-Type)"
AS=$KB v1 GET "/keys/$AID"
expect "get: another user's key is 404" 404
v1 POST /keys '{"name":"x","meta":{"big":"'"$(head -c 1100 /dev/zero | tr '\0' a)"'"}}'
expect_json "create: meta over 1024 bytes is 422" 422 '.status==422'
v1 POST /keys '{"name":"x","scopes":["keys:admin"]}'
expect "create: an unknown keys: scope is 422" 422
v1 POST /keys '{"name":"x","ttl_seconds":10,"expires_at":"2030-01-01T00:00:00+02:00"}'
[ "$STATUS" = 201 ] && [ $(( $(unix "$(jb .expires_at)") - $(date +%s) )) -le 10 ] && ok "create: expires_at and ttl_seconds together: the sooner" || no "create both ($STATUS)" "$BODY_OUT"
v1 POST /keys '{"name":"x","expires_at":"2031-01-01T02:00:00+02:00"}'
expect_json "create: expires_at with an offset, answered in UTC" 201 '.expires_at=="2031-01-01T00:00:00Z"'
v1 POST /keys '{"name":"x","expires_at":"2031-13-01T00:00:00Z"}'
expect "create: a date-time that is none is 422" 422

# ---- verify: fields, another owner, scopes ----
# (this verify is counted in its window: 999 left or fewer; the window is a
# clock minute, so the uses above may lie in the one before)
[ "$(verdict "$A" '["orders:read"]')" = VALID ] && jq -e '.valid and .key_id=="'"$AID"'" and .name=="acme" and .ratelimit.limit==1000 and .ratelimit.remaining<=999 and .ratelimit.reset>='"$(date +%s)"' and .ratelimit.reset<='"$(( $(date +%s) + 61 ))"'' "$dir/out" >/dev/null \
	&& ok "verify: VALID with key_id, name, ratelimit {limit, remaining, reset}" || no "verify fields" "$(cat "$dir/out")"
[ "$(verdict "$A" '["orders:read","billing:read"]')" = INSUFFICIENT_SCOPES ] && [ "$(jb .valid)" = false ] \
	&& ok "verify: a scope the key lacks is INSUFFICIENT_SCOPES, valid false" || no "verify INSUFFICIENT_SCOPES" "$BODY_OUT"
[ "$(AS=$KB verdict "$A")" = NOT_FOUND ] && ok "verify: another user's key is NOT_FOUND to bob" || no "verify across users" "$BODY_OUT"
[ "$(verdict "key_notakeyatall")" = NOT_FOUND ] && [ "$(jb .key_id)" = null ] && ok "verify: garbage is NOT_FOUND, key_id null" || no "verify garbage" "$BODY_OUT"
gate "$A" "orders:read,orders:write"
[ "$STATUS" = 200 ] && [ "$(header X-Apikeyd-Key-Id)" = "$AID" ] && [ "$(header X-Apikeyd-Scopes)" = "orders:read orders:write" ] \
	&& ok "auth: 200 with X-Apikeyd-Key-Id and X-Apikeyd-Scopes" || no "auth valid (got $STATUS)" "$(cat "$dir/headers")"
gate "$A" "orders:read billing:read"
[ "$STATUS" = 403 ] && [ "$(header X-Apikeyd-Code)" = INSUFFICIENT_SCOPES ] && ok "auth: a missing scope is 403" || no "auth scope (got $STATUS)"
gate ""
[ "$STATUS" = 401 ] && ok "auth: no client key is 401" || no "auth no key (got $STATUS)"
GW=key_notakey gate "$A"
[ "$STATUS" = 401 ] && ok "auth: a gateway without a valid verifier key is 401" || no "auth verifier (got $STATUS)"

# ---- scopes are rights ----
R=$(mk '{"name":"reader","scopes":["keys:read"]}')
AS=$R v1 GET /keys; expect "a keys:read key lists" 200
AS=$R v1 POST /keys '{"name":"y"}'; expect "a keys:read key cannot create (403)" 403
AS=$R v1 POST /verify '{"key":"'"$A"'"}'; expect "a keys:read key cannot verify (403)" 403
C=$(mk '{"name":"customer","scopes":["orders:read"]}')
AS=$C v1 GET /keys; expect "a key without keys: scopes cannot list (403)" 403
W=$(mk '{"name":"writer","scopes":["keys:write"]}')
AS=$W v1 POST /keys '{"name":"z","scopes":["keys:verify"]}'; expect "a keys:write key cannot mint keys:verify (more than its own: 403)" 403
AS=$W v1 POST /keys '{"name":"z","scopes":["keys:write","orders:read"]}'; expect "a keys:write key mints keys:write" 201
req POST /feldera/v0/api_keys "Authorization: Bearer $K" '{"name":"fread"}'
FR=$(jb .api_key)
AS=$FR v1 GET /keys; expect "a Feldera read key keeps keys:read" 200
AS=$FR v1 POST /verify '{"key":"'"$A"'"}'; expect "a Feldera read key cannot verify (403)" 403
[ "$(six "$C")" = "401 401 401 401 401 403" ] && ok "a customer key (no keys: scope) is no credential for the five key-management APIs (401), nor for /v1/keys (403)" \
	|| no "customer key on the six: $(six "$C")"
req --from 127.0.2.1 POST "$(create_path heron)" "x-api-key: $R" '{"name":"via-heron"}'
expect "a keys:read key cannot mint on Heron either (403)" 403

# ---- expiry at the boundary, on all six APIs ----
T0=$(date +%s)
at "$T0"
E=$(mk '{"name":"short","scopes":["keys:read"],"ttl_seconds":100}'); EID=$(cat "$dir/id")
[ "$(unix "$(jb .expires_at)")" = $((T0 + 100)) ] && ok "ttl_seconds 100: expires_at is now + 100 s" || no "ttl expires_at $(jb .expires_at)"

six "$E" >"$dir/six"
[ "$(cat "$dir/six")" = "200 403 200 200 200 200" ] && ok "a new keys:read key works on all six APIs (Feldera's list asks write: 403)" || no "six before expiry: $(cat "$dir/six")"
at $((T0 + 99))
[ "$(verdict "$E")" = VALID ] && ok "expiry: VALID one second before expires_at" || no "expiry -1" "$BODY_OUT"
at $((T0 + 100))
[ "$(verdict "$E")" = EXPIRED ] && [ "$(jb .valid)" = false ] && ok "expiry: EXPIRED at expires_at" || no "expiry at" "$BODY_OUT"
[ "$(six "$E")" = "401 401 401 401 401 401" ] && ok "expiry: refused on all six APIs (Heron's list too)" || no "six after expiry: $(six "$E")"
gate "$E"; [ "$STATUS" = 401 ] && [ "$(header X-Apikeyd-Code)" = EXPIRED ] && ok "expiry: auth 401 EXPIRED" || no "auth expired ($STATUS)"
at $((T0 + 50))
[ "$(verdict "$E")" = VALID ] && ok "expiry: the same key before its expiry again (the clock went back): the cache held no verdict" || no "expiry back" "$BODY_OUT"

# ---- rotation with a grace period ----
at "$T0"
O=$(mk '{"name":"rot","owner":"customer-7","scopes":["keys:read","orders:read"],"meta":{"k":1}}'); OID=$(cat "$dir/id")
v1 POST "/keys/$OID/rotate" '{"grace_seconds":600}'
expect_json "rotate: 201, a new key with the old one's attributes" 201 '(.key|test("^apk_")) and .id!="'"$OID"'" and .owner=="customer-7" and .scopes==["keys:read","orders:read"] and .meta.k==1'
N=$(jb .key); NID=$(jb .id)
[ "$(six "$O")" = "200 403 200 200 200 200" ] && [ "$(six "$N")" = "200 403 200 200 200 200" ] \
	&& ok "rotation: both keys work on all six APIs during the grace period" || no "rotation during grace: old $(six "$O") new $(six "$N")"
[ "$(verdict "$O")" = VALID ] && [ "$(verdict "$N")" = VALID ] && ok "rotation: both verify VALID during the grace period" || no "rotation verify"
v1 GET "/keys/$OID"
[ "$(unix "$(jb .expires_at)")" = $((T0 + 600)) ] && ok "rotation: the old key expires at the end of the grace period" || no "rotation expires_at $(jb .expires_at)"
at $((T0 + 599))
[ "$(verdict "$O")" = VALID ] && ok "rotation: the old key still VALID 1 s before the grace period ends" || no "rotation 599" "$BODY_OUT"
at $((T0 + 600))
[ "$(six "$O")" = "401 401 401 401 401 401" ] && ok "rotation: the old key refused on all six APIs after the grace period" || no "rotation after: $(six "$O")"
[ "$(verdict "$O")" = EXPIRED ] && [ "$(verdict "$N")" = VALID ] && ok "rotation: old EXPIRED, new VALID" || no "rotation verdicts"
gate "$O"; [ "$STATUS" = 401 ] && ok "rotation: the gateway refuses the old key (401)" || no "rotation gate ($STATUS)"
gate "$N"; [ "$STATUS" = 200 ] && ok "rotation: the gateway lets the new key through" || no "rotation gate new ($STATUS)"
v1 POST "/keys/$NID/rotate" '{"grace_seconds":0}'
NN=$(jb .key)
[ "$(verdict "$N")" = EXPIRED ] && [ "$(verdict "$NN")" = VALID ] && ok "rotate with grace 0: the old key refused at once" || no "rotate grace 0"
real
v1 POST "/keys/00000000-0000-4000-8000-000000000000/rotate" '{"grace_seconds":0}'
expect "rotate: an unknown id is 404" 404

# ---- remaining uses: exact under concurrency, and across a restart ----
U=$(mk '{"name":"uses","remaining":100}')
# par N TOKEN DIR: N verifies of TOKEN from 16 concurrent clients, each answer in its own file of DIR
par() {
	mkdir -p "$3"
	seq "$1" | xargs -P 16 -I{} curl -s -H "x-api-key: $K" -H 'Content-Type: application/json' \
		--data-binary "{\"key\":\"$2\"}" "$H/v1/verify" -o "$3/{}" 2>/dev/null
}
# count CODE DIR: answers in DIR with that code
count() { cat "$2"/* | grep -o "\"code\":\"$1\"" | wc -l; }
par 160 "$U" "$dir/uses"
valid=$(count VALID "$dir/uses"); used=$(count USAGE_EXCEEDED "$dir/uses")
[ "$valid" = 100 ] && [ "$used" = 60 ] && ok "remaining 100, 160 verifies from 16 concurrent clients: exactly 100 VALID, 60 USAGE_EXCEEDED" \
	|| no "remaining under concurrency: $valid VALID, $used USAGE_EXCEEDED"
U2=$(mk '{"name":"uses2","remaining":20}')
for _ in $(seq 8); do verdict "$U2" >/dev/null; done
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
start_server "$db" --test-slow-endpoint || { no "restart" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
par 30 "$U2" "$dir/uses2"
valid=$(count VALID "$dir/uses2")
[ "$valid" = 12 ] && ok "remaining 20: 8 uses, a restart, then 30 concurrent verifies give exactly 12 VALID" || no "remaining across restart: $valid VALID"
# two nodes on one store (a second process on the same SQLite file, or on
# the same PostgreSQL database with test-verify-pg): still exactly N
U3=$(mk '{"name":"uses3","remaining":50}')
H1=$H; P1=$SRV_PID
start_server "$db" --test-slow-endpoint || { no "second node" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
H2=$H; P2=$SRV_PID
H=$H1 par 60 "$U3" "$dir/uses3a" & bg=$!
H=$H2 par 60 "$U3" "$dir/uses3b"; wait "$bg"
# Which node wins the race for the 50 uses is timing (on a loaded machine one
# node's clients can take all 50 before the other's start), so the check is
# that both nodes answered all 60 with a verdict from the shared count, and
# that the two together let exactly 50 through.
va=$(count VALID "$dir/uses3a"); vb=$(count VALID "$dir/uses3b")
ea=$(count USAGE_EXCEEDED "$dir/uses3a"); eb=$(count USAGE_EXCEEDED "$dir/uses3b")
[ $((va + vb)) = 50 ] && [ $((va + ea)) = 60 ] && [ $((vb + eb)) = 60 ] \
	&& ok "remaining 50, 120 verifies split over two nodes of one store: exactly 50 VALID" \
	|| no "remaining over two nodes: node 1 $va VALID $ea USAGE_EXCEEDED, node 2 $vb VALID $eb USAGE_EXCEEDED" \
		"$(cat "$dir"/uses3a/* "$dir"/uses3b/* | grep -v -e '"code":"VALID"' -e '"code":"USAGE_EXCEEDED"' | head -3)"
kill -TERM "$P2"; wait "$P2" 2>/dev/null
H=$H1; SRV_PID=$P1
H5=$(mk '{"name":"uses-heron","scopes":["keys:read"],"remaining":3}')
codes=""; for _ in 1 2 3 4; do req GET "$(list_path heron)" "x-api-key: $H5"; codes="$codes$STATUS "; done
[ "$codes" = "200 200 200 401 " ] && ok "remaining 3 on Heron's list: three 200, then 401 (cached key, every use counted in the store)" || no "remaining on heron: $codes"

# ---- the rate limit: 429 with Retry-After, then allowed after the window ----
W0=$(( ($(date +%s) / 60 + 1) * 60 + 1 ))   # one second into a window
at "$W0"
L=$(mk '{"name":"limited","ratelimit":{"limit":3,"window":60}}')
codes=""; for _ in 1 2 3 4; do codes="$codes$(verdict "$L") "; done
[ "$codes" = "VALID VALID VALID RATE_LIMITED " ] && [ "$(jb .ratelimit.remaining)" = 0 ] \
	&& ok "rate limit 3/60 s: three VALID, then RATE_LIMITED with ratelimit.remaining 0" || no "rate limit verdicts: $codes" "$BODY_OUT"
gate "$L"; ra=$(header Retry-After)
[ "$STATUS" = 429 ] && [ "$ra" = 59 ] && ok "rate limit: auth answers 429 with Retry-After to the window's end ($ra s)" || no "rate limit auth ($STATUS, Retry-After '$ra')"
[ "$STATUS" = 429 ] && [ "$(header X-Apikeyd-Code)" = RATE_LIMITED ] && ok "rate limit: auth's 429 says X-Apikeyd-Code RATE_LIMITED" \
	|| no "rate limit auth code ($STATUS, X-Apikeyd-Code '$(header X-Apikeyd-Code)')"
req GET "$(list_path heron)" "x-api-key: $L"; ra=$(header Retry-After)
[ "$STATUS" = 429 ] && [ -n "$ra" ] && ok "rate limit: Heron's list answers 429 with Retry-After too" || no "rate limit heron ($STATUS)"
at $((W0 + 58))
[ "$(verdict "$L")" = RATE_LIMITED ] && ok "rate limit: still limited 1 s before the window ends" || no "rate limit W+58" "$BODY_OUT"
at $((W0 + 59))
[ "$(verdict "$L")" = VALID ] && ok "rate limit: allowed again in the next window" || no "rate limit next window" "$BODY_OUT"
real

# ---- disable, revoke, delete: the next verify and the next gateway check fail ----
D=$(mk '{"name":"todisable"}'); DID=$(cat "$dir/id")
[ "$(verdict "$D")" = VALID ] && gate "$D" && [ "$STATUS" = 200 ] && ok "a key verified and let through (cached now)" || no "before disable"
v1 PATCH "/keys/$DID" '{"enabled":false}'; expect_json "update: enabled false" 200 '.enabled==false'
[ "$(verdict "$D")" = DISABLED ] && ok "disabled: the next verify is DISABLED" || no "disable verify" "$BODY_OUT"
gate "$D"; [ "$STATUS" = 401 ] && ok "disabled: the next gateway check is 401" || no "disable gate ($STATUS)"
v1 PATCH "/keys/$DID" '{"enabled":true}'
[ "$(verdict "$D")" = VALID ] && ok "enabled again: VALID" || no "re-enable" "$BODY_OUT"
req DELETE "/fastapi/api/auth/api-keys/$DID" "Authorization: Bearer $K"
expect "revoked through FastAPI's revoke (204)" 204
[ "$(verdict "$D")" = NOT_FOUND ] && ok "revoked: the next verify is NOT_FOUND" || no "revoke verify" "$BODY_OUT"
gate "$D"; [ "$STATUS" = 401 ] && ok "revoked: the next gateway check is 401" || no "revoke gate ($STATUS)"
X=$(mk '{"name":"todelete"}'); XID=$(cat "$dir/id")
gate "$X" >/dev/null
v1 DELETE "/keys/$XID"; expect "delete: 204" 204
gate "$X"; [ "$STATUS" = 401 ] && [ "$(verdict "$X")" = NOT_FOUND ] && ok "deleted: the next gateway check is 401, verify NOT_FOUND" || no "delete ($STATUS)"
v1 DELETE "/keys/$XID"; expect "delete again: 404" 404

# ---- the test clock is not there without --test-slow-endpoint ----
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
start_server "$db" || { no "restart without test endpoints"; finish; exit 1; }
st=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$H/__test/clock?offset=1000")
[ "$st" = 404 ] && ok "no test clock without --test-slow-endpoint (404)" || no "test clock reachable in production ($st)"

finish

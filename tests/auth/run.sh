#!/bin/bash
# test-auth: authentication through the real apikeyd over HTTP on loopback.
#   - JWTs (RS256, made here with openssl from keys generated here) on the
#     families that accept them (Feldera, NebulaBlock, its twin), verified
#     with a PEM public key and with a JWKS file: a good token works as its
#     `sub`; a forged signature, alg none, HS256 keyed with the public key, a
#     changed payload, expired, not yet valid, exp-less and unknown-sub
#     tokens are 401 in each family's error shape; Heron and the FastAPI family refuse JWTs.
#   - Repeated failures from one client address: its next failures 429 with Retry-After on
#     every family (each in its error shape), JWTs included, its valid keys
#     and JWTs still authenticating (only failures are limited), while another
#     client address is unaffected (clients bind 127.0.0.x with --interface;
#     and ::1 over HTTPS against 127.0.0.1 on one server).
#   - A key created through any family authenticates on all five.
#   - last_used: written on first use, then no database write at all across
#     repeated authenticated requests (the database and WAL files unchanged).
#   - The audit table (read with sqlite3): create, activate, deactivate,
#     revoke and delete with who, which key, the client address and when;
#     never key material.
set -u
SUITE=auth
. "$(dirname "$0")/../lib/apikeyd.sh"

db=$dir/var/apikeyd.db
KEY=$(user_add "$db" alice)
BOB=$(user_add "$db" bob)
sq() { db_sql "$db" "$1"; }
ALICE_ID=$(sq "SELECT id FROM users WHERE name = 'alice'")

# ---- JWT material: two RSA keys (ours and a stranger's), tokens ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/jwt.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/other.pem" 2>/dev/null
openssl pkey -in "$dir/jwt.pem" -pubout -out "$dir/jwt.pub.pem"
b64u() { basenc --base64url -w0 | tr -d '='; }
hex2bin() { local h; h=$(cat); printf '%b' "$(sed 's/../\\x&/g' <<<"$h")"; }
# jwt KEYFILE HEADER PAYLOAD: RS256 over base64url(header).base64url(payload)
jwt() {
	local h p
	h=$(printf '%s' "$2" | b64u); p=$(printf '%s' "$3" | b64u)
	printf '%s.%s.%s' "$h" "$p" "$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$1" -binary | b64u)"
}
now=$(date +%s)
RS='{"alg":"RS256","typ":"JWT"}'
claims() { printf '{"sub":"%s","iat":%d,"exp":%d%s}' "$1" "$now" "$2" "${3-}"; }
GOOD=$(jwt "$dir/jwt.pem" "$RS" "$(claims alice $((now + 600)))")
declare -A BAD
BAD[forged signature]=$(jwt "$dir/other.pem" "$RS" "$(claims alice $((now + 600)))")
BAD[alg none]="$(printf '{"alg":"none","typ":"JWT"}' | b64u).$(claims alice $((now + 600)) | b64u)."
pubhex=$(od -An -tx1 -v "$dir/jwt.pub.pem" | tr -d ' \n')
hs_h=$(printf '{"alg":"HS256","typ":"JWT"}' | b64u); hs_p=$(claims alice $((now + 600)) | b64u)
BAD[HS256 keyed with the public key]="$hs_h.$hs_p.$(printf '%s.%s' "$hs_h" "$hs_p" |
	openssl dgst -sha256 -mac HMAC -macopt "hexkey:$pubhex" -binary | b64u)"
BAD[payload changed after signing]="${GOOD%%.*}.$(claims bob $((now + 600)) | b64u).${GOOD##*.}"
BAD[expired]=$(jwt "$dir/jwt.pem" "$RS" "$(claims alice $((now - 3600)))")
BAD[not yet valid (nbf)]=$(jwt "$dir/jwt.pem" "$RS" "$(claims alice $((now + 7200)) ",\"nbf\":$((now + 3600))")")
BAD[unknown sub]=$(jwt "$dir/jwt.pem" "$RS" "$(claims mallory $((now + 600)))")
BAD[no exp]=$(jwt "$dir/jwt.pem" "$RS" "{\"sub\":\"alice\",\"iat\":$now}")

start_server "$db" --jwt-key "$dir/jwt.pub.pem" || { no "apikeyd starts with --jwt-key" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }

# each family's 401 and 429 shape
shape() { # shape FAMILY STATUS -> ERE on the body
	case $1 in
	heron) echo '' ;;   # bare status: checked as an empty body
	feldera) [ "$2" = 401 ] && echo '"error_code":"Unauthorized"' || echo '"error_code":"TooManyRequests"' ;;
	nebula | nebula_uuid) echo '"data":null.*"status":"failed"' ;;
	fastapi) echo "\"status\":$2" ;;
	esac
}
ctype() { # ctype FAMILY -> Content-Type of its errors
	case $1 in heron) echo "" ;; fastapi) echo application/problem+json ;; *) echo application/json ;; esac
}
expect_shape() { # expect_shape NAME FAMILY STATUS
	expect "$1" "$3" "$(shape "$2" "$3")"
	[ "$2" != heron ] || [ ! -s "$dir/out" ] || no "$1: Heron errors have no body" "$BODY_OUT"
	[ "$(header Content-Type)" = "$(ctype "$2")" ] || no "$1: Content-Type \"$(header Content-Type)\""
}

# ---- JWT on the three families that accept them ----
src=10
for f in feldera nebula nebula_uuid; do
	src=$((src + 1)); from=(--from "127.0.0.$src")   # under the failure limit per address
	req "${from[@]}" GET "$(list_path "$f")" "Authorization: Bearer $GOOD"
	expect "$f: a valid JWT (sub alice) authenticates" 200
	req "${from[@]}" POST "$(create_path "$f")" "Authorization: Bearer $GOOD" "{\"name\":\"by-jwt-$f\"}"
	expect "$f: create with a JWT" 201
	req GET "$(list_path "$f")" "Authorization: Bearer $KEY"
	grep -q "\"by-jwt-$f\"" "$dir/out" && ok "$f: the key made with the JWT belongs to alice (sub)" || no "$f: JWT key not alice's" "$BODY_OUT"
	req GET "$(list_path "$f")" "Authorization: Bearer $BOB"
	grep -q "\"by-jwt-$f\"" "$dir/out" && no "$f: bob sees alice's JWT key" || ok "$f: bob does not see it"
	for what in "${!BAD[@]}"; do
		req "${from[@]}" GET "$(list_path "$f")" "Authorization: Bearer ${BAD[$what]}"
		expect_shape "$f: JWT with $what: 401 in the family's shape" "$f" 401
	done
done
for f in heron fastapi; do
	req GET "$(list_path "$f")" "$(auth_header "$f" "$GOOD")"
	expect_shape "$f: does not accept JWTs (401)" "$f" 401
done

# the same token verified through a JWKS file (kid) on a second server
n=$(openssl rsa -pubin -in "$dir/jwt.pub.pem" -noout -modulus | sed 's/^Modulus=//' | hex2bin | b64u)
printf '{"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","n":"%s","e":"AQAB"}]}' "$n" >"$dir/jwks.json"
main_H=$H; main_pid=$SRV_PID
if start_server "$dir/var2/apikeyd.db" --jwt-key "$dir/jwks.json"; then
	"$APIKEYD" user add alice --db "$dir/var2/apikeyd.db" >/dev/null 2>&1
	KID='{"alg":"RS256","typ":"JWT","kid":"k1"}'
	req GET /feldera/v0/api_keys "Authorization: Bearer $(jwt "$dir/jwt.pem" "$KID" "$(claims alice $((now + 600)))")"
	expect "JWKS: a token with kid k1 signed by that key authenticates" 200
	req GET /feldera/v0/api_keys "Authorization: Bearer $(jwt "$dir/other.pem" "$KID" "$(claims alice $((now + 600)))")"
	expect_shape "JWKS: kid k1 but signed by another key: 401" feldera 401
	kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
else
	no "apikeyd starts with a JWKS file" "$(tail -5 "$SRV_LOG")"
fi
H=$main_H; SRV_PID=$main_pid

# ---- repeated failures from one address: 429 with Retry-After ----
blocked=127.0.0.20 other=127.0.0.21
all401=1
for i in $(seq 1 10); do
	req --from $blocked GET /feldera/v0/api_keys "Authorization: Bearer fk_not_a_key_$i"
	[ "$STATUS" = 401 ] || all401=0
done
[ $all401 -eq 1 ] && ok "10 failed authentications from $blocked: each 401" || no "the first 10 failures were not all 401"
for f in $FAMILIES; do
	req --from $blocked GET "$(list_path "$f")" "$(auth_header "$f" "$KEY")"
	expect "$f: a valid key from the blocked address authenticates (only failures are limited)" 200
	req --from $blocked GET "$(list_path "$f")" "$(auth_header "$f" "${KEY}x")"
	expect_shape "$f: a failure from the blocked address gets 429 in the family's shape" "$f" 429
	ra=$(header Retry-After)
	[[ $ra =~ ^[0-9]+$ ]] && [ "$ra" -ge 1 ] && [ "$ra" -le 60 ] && ok "$f: Retry-After: $ra (seconds, 1..60)" || no "$f: Retry-After \"$ra\""
done
req --from $blocked GET /nebulablock/api/v1/api-keys "Authorization: Bearer $GOOD"
expect "a valid JWT from the blocked address authenticates" 200
req --from $blocked GET /nebulablock/api/v1/api-keys "Authorization: Bearer ${BAD[forged signature]}"
expect "a forged JWT from the blocked address: 429" 429
for f in $FAMILIES; do
	req --from $other GET "$(list_path "$f")" "$(auth_header "$f" "$KEY")"
	expect "$f: the same key from $other is unaffected (200)" 200
done
req --from $other GET /heron/api/credentials/keys "x-api-key: key_not_a_key"
expect "a failure from $other is its own first (401, not 429)" 401


# 127.0.0.1 against ::1 on one server: plain HTTP on 127.0.0.1, HTTPS on [::1]
# (its self-signed certificate names ::1); IPv6 client addresses are whole.
db6=$dir/var6/apikeyd.db
K6=$(user_add "$db6" alice)
p6=$(free_port)
main_H=$H; main_pid=$SRV_PID
if start_server "$db6" --tls-listen "[::1]:$p6"; then
	c6() { curl -s -g -o "$dir/out" -D "$dir/headers" -w '%{http_code}' --cacert "$dir/var6/tls-cert.pem" "https://[::1]:$p6$1" -H "$2"; }
	all401=1
	for i in $(seq 1 10); do [ "$(c6 /heron/api/credentials/keys "x-api-key: key_not_a_key_$i")" = 401 ] || all401=0; done
	[ $all401 -eq 1 ] && ok "::1: 10 failed authentications, each 401" || no "::1: the first 10 failures were not all 401"
	[ "$(c6 /fastapi/api/auth/api-keys/ "Authorization: Bearer ${K6}x")" = 429 ] && [ -n "$(header Retry-After)" ] \
		&& ok "::1: then a failure gets 429 with Retry-After" || no "::1: no 429" "$(cat "$dir/headers")"
	[ "$(c6 /fastapi/api/auth/api-keys/ "Authorization: Bearer $K6")" = 200 ] \
		&& ok "::1: a valid key from the blocked ::1 authenticates" || no "::1: valid key refused" "$(cat "$dir/headers")"
	req GET /fastapi/api/auth/api-keys/ "Authorization: Bearer $K6"
	expect "127.0.0.1 on the same server is unaffected (200)" 200
	req GET /feldera/v0/api_keys "Authorization: Bearer $GOOD"
	expect_shape "a server without --jwt-key refuses JWTs (401)" feldera 401
	grep -qE ' 429 [0-9.]+ms ::1( |$)' "$SRV_LOG" && ok "::1: the log names the whole IPv6 client address" || no "::1 in the log" "$(grep 429 "$SRV_LOG" | head -2)"
	kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
else
	no "apikeyd starts with HTTPS on [::1]" "$(tail -5 "$SRV_LOG")"
fi
H=$main_H; SRV_PID=$main_pid
# ---- a key made through any family authenticates on all five ----
declare -A TOK
for f in $FAMILIES; do
	# a Feldera key is read unless asked for write (Feldera's default), and Feldera's
	# api_keys routes need write: ask for it, so it is answered 200 everywhere
	role=; [ "$f" = feldera ] && role=',"role":"write"'
	req POST "$(create_path "$f")" "$(auth_header "$f" "$KEY")" "{\"name\":\"cross-$f\"$role}"
	TOK[$f]=$(jb "$(token_of "$f")")
	expect "$f: create cross-$f" 201
done
for c in $FAMILIES; do
	for f in $FAMILIES; do
		req GET "$(list_path "$f")" "$(auth_header "$f" "${TOK[$c]}")"
		expect "a key created through $c authenticates on $f" 200
	done
done

# ---- last_used: written once, then no write per request ----
req POST /heron/api/credentials/keys "x-api-key: $KEY" '{"name":"last-used"}'
LU=$(jb .token); LU_ID=$(jb .heron_id)
req GET /heron/api/credentials/keys "x-api-key: $KEY"
[ "$(jq -r --arg id "$LU_ID" '.keys[] | select(.heron_id == $id) | .last_used' "$dir/out")" = null ] \
	&& ok "last_used is null before the first use" || no "last_used before use" "$BODY_OUT"
t0=$(date +%s)
req GET /heron/api/credentials/keys "x-api-key: $LU"
t1=$(date +%s)
# the key service's touch writer commits it, not the request: a moment later
for _ in $(seq 40); do
	lu=$(sq "SELECT last_used FROM keys WHERE uuid = '$LU_ID'")
	[ -n "$lu" ] && break
	sleep 0.05
done
[ -n "$lu" ] && [ "$lu" -ge "$t0" ] && [ "$lu" -le "$t1" ] && ok "the first use writes last_used" || no "last_used after use: \"$lu\""
req GET /heron/api/credentials/keys "x-api-key: $KEY"
shown=$(jq -r --arg id "$LU_ID" '.keys[] | select(.heron_id == $id) | .last_used' "$dir/out")
[ "$shown" = "$(date -u -d "@$lu" +%Y-%m-%dT%H:%M:%SZ)" ] && ok "Heron's list shows it ($shown)" || no "Heron list last_used \"$shown\""
before=$(db_rows_mark "$db")
for i in $(seq 1 4); do
	for f in $FAMILIES; do req GET "$(list_path "$f")" "$(auth_header "$f" "$LU")"; [ "$STATUS" = 200 ] || no "request $i on $f"; done
done
after=$(db_rows_mark "$db")
t2=$(date +%s)
if [ $((t2 - lu)) -ge 60 ]; then
	no "last_used: the 20 requests took past the key's minute; cannot tell a write per request from the once-a-minute one"
elif [ "$before" = "$after" ]; then ok "20 more authenticated requests with the key: the database and WAL files are unchanged (no write per request)"
else no "authenticated requests wrote to the database"; fi
[ "$(sq "SELECT last_used FROM keys WHERE uuid = '$LU_ID'")" = "$lu" ] && ok "last_used unchanged within the minute" || no "last_used rewritten"

# ---- the audit table ----
aud=127.0.0.30
ta=$(date +%s)
req --from $aud POST /heron/api/credentials/keys "x-api-key: $KEY" '{"name":"audited"}'
A_TOK=$(jb .token); A_UUID=$(jb .heron_id)
A_ID=$(sq "SELECT id FROM keys WHERE uuid = '$A_UUID'")
req --from $aud PUT "/heron/api/credentials/keys/$A_UUID/deactivate" "x-api-key: $KEY"; expect "heron deactivate (audited)" 200
req --from $aud PUT "/heron/api/credentials/keys/$A_UUID/activate" "x-api-key: $KEY"; expect "heron activate (audited)" 200
req --from $aud DELETE "/heron/api/credentials/keys/$A_UUID" "x-api-key: $KEY"; expect "heron delete (audited)" 204
req --from $aud POST /fastapi/api/auth/api-keys/ "Authorization: Bearer $KEY" '{"name":"audited"}'
F_TOK=$(jb .key); F_UUID=$(jb .id)
F_ID=$(sq "SELECT id FROM keys WHERE uuid = '$F_UUID'")
req --from $aud DELETE "/fastapi/api/auth/api-keys/$F_UUID" "Authorization: Bearer $KEY"; expect "fastapi revoke (audited)" 204
req --from 127.0.0.31 POST /feldera/v0/api_keys "Authorization: Bearer $GOOD" '{"name":"audited-jwt"}'
J_TOK=$(jb .api_key); J_ID=$(sq "SELECT id FROM keys WHERE uuid = '$(jb .id)'")
req --from 127.0.0.31 DELETE /feldera/v0/api_keys/audited-jwt "Authorization: Bearer $GOOD"; expect "feldera delete with a JWT (audited)" 200
tb=$(date +%s)
rows() { sq "SELECT action || ' ' || actor || ' ' || client FROM audit WHERE key_id = $1 ORDER BY id" | tr '\n' ';'; }
want="create $ALICE_ID $aud;deactivate $ALICE_ID $aud;activate $ALICE_ID $aud;delete $ALICE_ID $aud;"
[ "$(rows "$A_ID")" = "$want" ] && ok "audit: create, deactivate, activate, delete with who and client address" || no "audit rows of the heron key" "$(rows "$A_ID")"
want="create $ALICE_ID $aud;revoke $ALICE_ID $aud;"
[ "$(rows "$F_ID")" = "$want" ] && ok "audit: create, revoke (fastapi)" || no "audit rows of the fastapi key" "$(rows "$F_ID")"
want="create $ALICE_ID 127.0.0.31;delete $ALICE_ID 127.0.0.31;"
[ "$(rows "$J_ID")" = "$want" ] && ok "audit: a JWT caller is recorded as its user" || no "audit rows of the JWT-made key" "$(rows "$J_ID")"
late=$(sq "SELECT count(*) FROM audit WHERE key_id IN ($A_ID, $F_ID, $J_ID) AND (at < $ta OR at > $tb)")
[ "$late" = 0 ] && ok "audit: each row says when" || no "audit: $late rows outside the requests' time"
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
leak=0
for t in "$KEY" "$BOB" "$LU" "$A_TOK" "$F_TOK" "$J_TOK" "${TOK[@]}"; do
	b=${t#apikey:}; b=${b#*_}; b=${b:0:43}
	sq "SELECT * FROM audit" | grep -qF "$b" && leak=1
	db_bytes "$db" | grep -aqF "$b" && leak=1
done
[ $leak -eq 0 ] && ok "no key material in the audit table or anywhere in the database file" || no "key material in the database"
cat "$dir"/server-*.log | grep -qF "${GOOD##*.}" && no "a JWT reached the log" || ok "no JWT in the log"
finish

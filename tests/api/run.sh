#!/bin/bash
# The five API families through the real apikeyd over HTTPS on loopback:
# every operation, its documented errors, ownership, revocation taking effect
# at once, checksum refusal without a database lookup, and no key material
# in the database file.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${APIKEYD:-$top/${BUILD:-build}/apikeyd}
dir=$(mktemp -d)
. "$top/tests/lib/store.sh"
store_setup "$bin" || { echo "api: 0 passed, 1 failed"; exit 1; }
bin=$STORE_APIKEYD
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok    $1"; }
no() { fail=$((fail + 1)); echo "FAIL  $1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | head -5 | sed 's/^/      /'; }
pid=
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null; wait 2>/dev/null; store_teardown; rm -rf "$dir"; }
trap cleanup EXIT

db=$dir/var/apikeyd.db
port=$((20000 + RANDOM % 12000)); tport=$((port + 1))
KEY=$("$bin" user add alice --db "$db" 2>"$dir/useradd.err")
[ "$(printf '%s\n' "$KEY" | wc -l)" -eq 1 ] && [[ $KEY == key_* ]] && ok "user add prints one key" || no "user add prints one key" "$KEY"
BOB=$("$bin" user add bob --db "$db" 2>/dev/null)
"$bin" user add alice --db "$db" >/dev/null 2>"$dir/dup.err"; rc=$?
[ $rc -ne 0 ] && grep -q "already exists" "$dir/dup.err" && ok "user add refuses a duplicate user" || no "user add refuses a duplicate user" "$(cat "$dir/dup.err")"

"$bin" --db "$db" --listen "127.0.0.1:$port" --tls-listen "127.0.0.1:$tport" --log-level info --validate-responses >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 1 $((${APIKEYD_TEST_SLOW:-0} ? 1000 : 50))); do curl -s "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
B="https://localhost:$tport"
CA=(--cacert "$dir/var/tls-cert.pem")

# req METHOD PATH AUTH-HEADER [BODY] -> sets STATUS and BODY_OUT
req() {
	local m=$1 p=$2 h=$3 b=${4-}
	local args=(-s -o "$dir/out" -w '%{http_code}' -X "$m" "${CA[@]}" "$B$p")
	[ -n "$h" ] && args+=(-H "$h")
	if [ -n "$b" ]; then args+=(-H 'Content-Type: application/json' --data-binary "$b"); fi
	STATUS=$(curl "${args[@]}" -D "$dir/headers")
	BODY_OUT=$(cat "$dir/out")
}
expect() { # name status [jq-free grep]
	local name=$1 want=$2 pat=${3-}
	if [ "$STATUS" = "$want" ] && { [ -z "$pat" ] || grep -qE -- "$pat" "$dir/out"; }; then ok "$name"; else no "$name (got $STATUS)" "$BODY_OUT"; fi
}
jget() { node -e 'let d=JSON.parse(require("fs").readFileSync(0,"utf8"));for(const k of process.argv[1].split(".")){d=d[k]}process.stdout.write(String(d))' "$1" < "$dir/out"; }

AK="x-api-key: $KEY"
BA="Authorization: Bearer $KEY"
BB="Authorization: Bearer $BOB"

# ---- Heron ----
req POST /heron/api/credentials/keys "$AK" '{"name":"ci"}'
expect "heron create 201" 201 '"token":"key_'
grep -qi '^Cache-Control: no-store' "$dir/headers" && ok "heron create sends Cache-Control: no-store" || no "heron create no-store"
HID=$(jget heron_id); HTOK=$(jget token); HPFX=$(jget token_prefix)
[ "$HPFX" = "${HTOK:0:8}" ] && ok "heron token_prefix is the token's first 8 characters" || no "heron token_prefix" "$HPFX"
req POST /heron/api/credentials/keys "$AK" '{"name":""}'; expect "heron create empty name 400 (bare)" 400
[ -z "$BODY_OUT" ] && ok "heron errors are bare statuses" || no "heron errors are bare" "$BODY_OUT"
req GET /heron/api/credentials/keys "$AK"; expect "heron list 200" 200 "\"heron_id\":\"$HID\""
grep -q "$HTOK" "$dir/out" && no "heron list never shows a token" || ok "heron list never shows a token"
req GET /heron/api/credentials/keys "x-api-key: $HTOK"; expect "new heron key authenticates" 200
req GET /heron/api/credentials/keys "$AK"; expect "heron list before a change" 200 "\"heron_id\":\"$HID\",\"is_active\":true"
req PUT "/heron/api/credentials/keys/$HID/deactivate" "$AK"; expect "heron deactivate 200" 200 '"is_active":false'
req GET /heron/api/credentials/keys "$AK"; expect "heron list shows the deactivation at once" 200 "\"heron_id\":\"$HID\",\"is_active\":false"
req GET /heron/api/credentials/keys "x-api-key: $HTOK"; expect "deactivated key fails at once (401)" 401
req GET /fastapi/api/auth/api-keys/ "Authorization: Bearer $HTOK"; expect "deactivated key fails on another family too" 401
req PUT "/heron/api/credentials/keys/$HID/activate" "$AK"; expect "heron activate 200" 200 '"is_active":true'
req GET /heron/api/credentials/keys "x-api-key: $HTOK"; expect "reactivated key works" 200
req PUT "/heron/api/credentials/keys/$HID/activate" "x-api-key: $BOB"; expect "another user's key: 404, never 200" 404
req DELETE "/heron/api/credentials/keys/$HID" "x-api-key: $BOB"; expect "another user cannot delete it (404)" 404
req DELETE "/heron/api/credentials/keys/$HID" "$AK"; expect "heron delete 204" 204
req GET /heron/api/credentials/keys "$AK"; [ "$STATUS" = 200 ] && ! grep -q "$HID" "$dir/out" && ok "heron list drops a deleted key at once" || no "heron list drops a deleted key at once" "$BODY_OUT"
req DELETE "/heron/api/credentials/keys/$HID" "$AK"; expect "heron delete again 404" 404
req GET /heron/api/credentials/keys "x-api-key: $HTOK"; expect "deleted key fails (401)" 401

# ---- Feldera ----
req POST /feldera/v0/api_keys "$BA" '{"name":"pipe"}'; expect "feldera create 201 (Feldera's key format, apikey:)" 201 '"api_key":"apikey:'
grep -qi "^Location: /feldera/v0/api_keys/pipe" "$dir/headers" && ok "feldera create Location" || no "feldera Location"
FTOK=$(jget api_key)
# 128 characters of two bytes each are a valid name (maxLength counts characters);
# the Location header carries it percent-encoded
LONG=$(printf 'ż%.0s' $(seq 125))
req POST /feldera/v0/api_keys "$BA" "{\"name\":\"a $LONG/\"}"; expect "feldera create 201 with 128 two-byte characters" 201 '"api_key":"apikey:'
grep -qi "^Location: /feldera/v0/api_keys/a%20\(%C5%BC\)\{125\}%2F\s*$" "$dir/headers" && ok "feldera Location percent-encoded" || no "feldera Location percent-encoded" "$(grep -i '^Location' "$dir/headers")"
req POST /feldera/v0/api_keys "$BA" '{"name":"pipe"}'; expect "feldera duplicate name 409 DuplicateName" 409 '"error_code":"DuplicateName"'
req POST /feldera/v0/api_keys "$BB" '{"name":"pipe"}'; expect "names are unique per owner only" 201
req POST /feldera/v0/api_keys "$BA" '{"name":"ro","role":"read"}'; expect "feldera create with role" 201
req GET /feldera/v0/api_keys "$BA"; expect "feldera list 200" 200 '"name":"pipe"'
req GET "/feldera/v0/api_keys?name=pipe" "$BA"; expect "feldera list ?name= filter" 200 '^\[\{"id":"[0-9a-f-]+","name":"pipe"'
req GET "/feldera/v0/api_keys?name=nope" "$BA"; expect "feldera ?name= no match 404" 404 '"error_code":"UnknownApiKey"'
req GET /feldera/v0/api_keys/ro "$BA"; expect "feldera get 200 (read role scopes)" 200 '"scopes":\["Read"\]'
req GET /feldera/v0/api_keys/nope "$BA"; expect "feldera get unknown 404" 404 'UnknownApiKey'
req POST /feldera/v0/api_keys "$BA" '{"name":"x",}'; expect "feldera malformed JSON 400 with position" 400 'line 1, column'
# pipe was made without a role: a read key, as Feldera makes it, which Feldera's api_keys routes answer 403
req GET /feldera/v0/api_keys "Authorization: Bearer $FTOK"; expect "feldera key authenticates before its deletion (403: read role)" 403 '"error_code":"InsufficientPermissions"'
req GET /heron/api/credentials/keys "x-api-key: $FTOK"; expect "... and reads on another family" 200
req DELETE /feldera/v0/api_keys/pipe "$BA"; expect "feldera delete 200" 200
[ -z "$BODY_OUT" ] && ok "feldera delete body is empty" || no "feldera delete body" "$BODY_OUT"
req GET /feldera/v0/api_keys "Authorization: Bearer $FTOK"; expect "deleted feldera key fails (401)" 401 '"error_code":"Unauthorized"'

# ---- NebulaBlock (integer ids) ----
req POST /nebulablock/api/v1/api-keys "$BA" '{"name":"test-api-key","description":"This is a test API key"}'
expect "nebula create 201 envelope" 201 '"status":"success"'
NID=$(jget data.id); NTOK=$(jget data.key)
[[ $NID =~ ^[0-9]+$ ]] && [[ $NTOK == ak_* ]] && ok "nebula id is an integer and the key starts ak_" || no "nebula id/key" "$BODY_OUT"
STATUS=$(curl -s -o "$dir/out" -w '%{http_code}' "${CA[@]}" "$B/nebulablock/api/v1/api-keys" -H "$BA" -d '{
    "name": "test-api-key",
    "description": "This is a test API key",
}'); BODY_OUT=$(cat "$dir/out")
expect "the docs' own curl example: clear 415 in the envelope, not 500" 415 '"status":"failed"'
req POST /nebulablock/api/v1/api-keys "$BA" '{"name": "x",}'
expect "trailing comma with Content-Type: 400 naming line and column" 400 'line 1, column'
req GET /nebulablock/api/v1/api-keys "$BA"; expect "nebula list 200" 200 '"message":"API keys successfully retrieved"'
grep -q "$NTOK" "$dir/out" && no "nebula list hides the key" || ok "nebula list hides the key"
# a list longer than the response writer's 4 KiB stack buffer, every
# description with a quote, a backslash, a newline and a non-ASCII letter
LONG=$(for _ in $(seq 150); do printf '%s' 'a\"\\\n\u00e9'; done)
for i in 1 2 3 4 5; do req POST /nebulablock/api/v1/api-keys "$BB" "{\"name\":\"long$i\",\"description\":\"$LONG\"}"; done
req GET /nebulablock/api/v1/api-keys "$BB"
[ "$STATUS" = 200 ] && [ "$(wc -c < "$dir/out")" -gt 4096 ] &&
	node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8")).data, w="a\"\\\n\u00e9".repeat(150);
	         process.exit(d.filter(k => k.description === w).length === 5 ? 0 : 1)' < "$dir/out" &&
	ok "nebula list over 4 KiB with escaped descriptions" || no "nebula list over 4 KiB with escaped descriptions" "$(head -c 300 "$dir/out")"
req DELETE /nebulablock/api/v1/api-keys/abc "$BA"; expect "nebula non-integer id 400 envelope" 400 '"status":"failed"'
req DELETE "/nebulablock/api/v1/api-keys/$NID" "$BB"; expect "nebula another user's id 404" 404 '"status":"failed"'
req GET /nebulablock/api/v1/api-keys "Authorization: Bearer $NTOK"; expect "nebula key authenticates before its deletion" 200
req DELETE "/nebulablock/api/v1/api-keys/$NID" "$BA"; expect "nebula delete 200" 200 '"message":"API key successfully deleted"'
req GET /nebulablock/api/v1/api-keys "Authorization: Bearer $NTOK"; expect "deleted nebula key fails (401)" 401 '"status":"failed"'

# ---- the uuid twin ----
req POST /nebulablock-uuid/api/v1/api-keys "$BA" '{"name":"twin"}'; expect "twin create 201" 201 '"description":null'
UID_=$(jget data.id); UTOK=$(jget data.key)
[[ $UID_ =~ ^[0-9a-f-]{36}$ ]] && ok "twin id is a uuid" || no "twin id" "$BODY_OUT"
req DELETE /nebulablock-uuid/api/v1/api-keys/not-a-uuid "$BA"; expect "twin bad uuid 400" 400
req GET /nebulablock-uuid/api/v1/api-keys "Authorization: Bearer $UTOK"; expect "twin key authenticates before its deletion" 200
req DELETE "/nebulablock-uuid/api/v1/api-keys/$UID_" "$BB"; expect "twin: another user's delete 404" 404
req GET /heron/api/credentials/keys "x-api-key: $UTOK"; expect "twin key still works after another user's attempt" 200
req DELETE "/nebulablock-uuid/api/v1/api-keys/$UID_" "$BA"; expect "twin delete 200" 200
req GET /nebulablock-uuid/api/v1/api-keys "Authorization: Bearer $UTOK"; expect "deleted twin key fails at once (401)" 401

# ---- FastAPI-style ----
req POST /fastapi/api/auth/api-keys/ "$BA" '{"name":"example"}'; expect "fastapi create 201" 201 '"created_at"'
FID=$(jget id); FTOK2=$(jget key)
req POST /fastapi/api/auth/api-keys/ "$BA" '{"nam":"x"}'; expect "fastapi validation 422 problem" 422 '"status":422'
grep -qi '^Content-Type: application/problem+json' "$dir/headers" && ok "fastapi errors are application/problem+json" || no "fastapi problem+json"
# the list holds every key alice owns, whichever family made it
all=$(db_sql "$db" "SELECT count(*) FROM keys WHERE user_id = (SELECT id FROM users WHERE name = 'alice')")
req GET "/fastapi/api/auth/api-keys/?skip=0&limit=1" "$BA"; expect "fastapi list with paging and total (every key alice owns: $all)" 200 "\"total\":$all}"
[ "$(jget items.length)" = 1 ] && ok "fastapi limit=1: one item" || no "fastapi limit=1 items" "$BODY_OUT"
req GET "/fastapi/api/auth/api-keys/?limit=201" "$BA"; expect "fastapi limit over 200: 422" 422
req DELETE "/fastapi/api/auth/api-keys/$FID" "$BB"; expect "fastapi revoke another user's key 404" 404
req GET /fastapi/api/auth/api-keys/ "Authorization: Bearer $FTOK2"; expect "fastapi key authenticates before its revocation" 200
req DELETE "/fastapi/api/auth/api-keys/$FID" "$BA"; expect "fastapi revoke 204" 204
req GET /fastapi/api/auth/api-keys/ "Authorization: Bearer $FTOK2"; expect "revoked key fails at once (401)" 401
req GET /fastapi/api/auth/api-keys/ "$BA"; expect "revoked key is listed inactive" 200 '"is_active":false'
req DELETE "/fastapi/api/auth/api-keys/$FID" "$BA"; expect "revoking twice 404" 404

# ---- credentials ----
req GET /heron/api/credentials/keys ""; expect "missing credential 401" 401
TAMPER=${KEY:0:${#KEY}-1}$([ "${KEY: -1}" = A ] && echo B || echo A)
req GET /heron/api/credentials/keys "x-api-key: $TAMPER"; expect "tampered checksum 401" 401
grep -q "401" "$dir/out" 2>/dev/null; true
req GET /heron/api/credentials/keys "x-api-key: key_short"; expect "malformed key 401" 401

# ---- at rest ----
kill "$pid"; wait "$pid" 2>/dev/null; pid=
leaked=0
for t in "$KEY" "$BOB" "$HTOK" "$FTOK" "$NTOK" "$UTOK" "$FTOK2"; do
	body=${t#apikey:}; body=${body#*_}; body=${body:0:43}
	db_bytes "$db" | grep -aqF "$body" && leaked=1
done
[ $leaked -eq 0 ] && ok "no key material in the database file" || no "no key material in the database file"
grep -aqF "${KEY#key_}" "$dir/log" && no "no key in the log" || ok "no key in the log"
grep -q "apikeyd stopped" "$dir/log" && ok "SIGTERM stops cleanly" || no "SIGTERM stops cleanly" "$(tail -3 "$dir/log")"
echo "api: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

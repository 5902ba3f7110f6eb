#!/bin/bash
# test-adversarial-roles: a read key may only read, on every family, and no
# key mints a key with more rights than its own (SECURITY-roles.md).
# The matrix role x operation x family, through the real apikeyd on loopback:
#   - a read key (Feldera "role": "read"; also a Feldera key made without a
#     role, which Feldera makes read) against every operation of the five
#     families: every write is 403 in the family's error shape and changes
#     nothing (the target key still authenticates, is still listed, is still
#     deactivated; no key is added; no audit row is written); every read of
#     Heron, NebulaBlock, its twin and the FastAPI family succeeds, and
#     Feldera's list and get are 403 (Feldera's own route table asks write of
#     all four api_keys routes);
#   - a write key and a JWT (the account holder) on every operation: success;
#     the JWT mints read and write keys, each with exactly that role;
#   - keys made before roles were enforced (a fixture store, old fk_
#     format): the one made without a role keeps write, the read one is held
#     to read, both still authenticate.
set -u
SUITE=adversarial-roles
. "$(dirname "$0")/../lib/apikeyd.sh"
fx=$(cd "$(dirname "$0")" && pwd)/fixtures

db=$dir/var/apikeyd.db
W=$(user_add "$db" alice)
BOB=$(user_add "$db" bob)
sq() { sqlite3 -batch -noheader "$1" "$2"; }

# ---- a JWT for alice (RS256, key made here) ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/jwt.pem" 2>/dev/null
openssl pkey -in "$dir/jwt.pem" -pubout -out "$dir/jwt.pub.pem"
b64u() { basenc --base64url -w0 | tr -d '='; }
now=$(date +%s)
jh=$(printf '{"alg":"RS256","typ":"JWT"}' | b64u)
jp=$(printf '{"sub":"alice","iat":%d,"exp":%d}' "$now" $((now + 900)) | b64u)
J="$jh.$jp.$(printf '%s.%s' "$jh" "$jp" | openssl dgst -sha256 -sign "$dir/jwt.pem" -binary | b64u)"

start_server "$db" --validate-responses --jwt-key "$dir/jwt.pub.pem" ||
	{ no "apikeyd starts" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }

BW="Authorization: Bearer $W"
# forbidden NAME FAMILY: the last answer is 403 in the family's error shape
forbidden() {
	local name=$1 f=$2 shape
	case $f in
	heron) shape='' ;;
	feldera) shape='' ;;   # checked below: members and values (the model writes the spec's member order)
	nebula | nebula_uuid) shape='^\{"data":null,"message":"[^"]+","status":"failed"\}$' ;;
	fastapi) shape='"status":403' ;;
	esac
	if [ "$f" = feldera ]; then
		expect_json "$name: 403" 403 'keys == ["details","error_code","message"] and (.message | type == "string") and
			.error_code == "InsufficientPermissions" and .details == {"required": "write", "actual": "read"}'
	else
		expect "$name: 403" 403 "$shape"
	fi
	if [ "$f" = heron ] && [ -s "$dir/out" ]; then no "$name: Heron's 403 is a bare status" "$BODY_OUT"; fi
	if [ "$f" = fastapi ] && [ "$(header Content-Type)" != application/problem+json ]; then
		no "$name: problem+json (got $(header Content-Type))"
	fi
}
# authenticates NAME TOKEN: the key still works (a Heron list, a read)
authenticates() { req GET /heron/api/credentials/keys "x-api-key: $2"; expect "$1" 200; }
# listed NAME FAMILY NEEDLE: alice's write key sees NEEDLE in the family's list
listed() {
	req GET "$(list_path "$2")" "$(auth_header "$2" "$W")"
	[ "$STATUS" = 200 ] && grep -qF -- "$3" "$dir/out" && ok "$1" || no "$1 (got $STATUS)" "$BODY_OUT"
}
nkeys() { sq "$db" "SELECT count(*) FROM keys"; }
naudit() { sq "$db" "SELECT count(*) FROM audit"; }

# ---- the principals ----
req POST /feldera/v0/api_keys "$BW" '{"name":"reader","role":"read"}'
expect "a write key makes a read key (Feldera, role read)" 201
R=$(jb .api_key)
req POST /feldera/v0/api_keys "$BW" '{"name":"default"}'
expect "a write key makes a Feldera key without a role" 201
D=$(jb .api_key)
req POST /feldera/v0/api_keys "$BW" '{"name":"null-role","role":null}'
expect "a write key makes a Feldera key with role null (the document allows it)" 201
req POST /feldera/v0/api_keys "$BW" '{"name":"writer","role":"write"}'
expect "a write key makes a write key (Feldera, role write)" 201
WF=$(jb .api_key)
req GET /feldera/v0/api_keys "$BW"
expect "feldera list by the write key" 200
[ "$(jq -r '[.[] | .name + "=" + .role] | join(",")' "$dir/out")" = "default=read,null-role=read,reader=read,writer=write" ] \
	&& ok "each Feldera key is listed with its role (no role or null: read, as Feldera defaults)" \
	|| no "feldera roles" "$BODY_OUT"
[[ $R == apikey:* && $D == apikey:* && $WF == apikey:* ]] && ok "Feldera issues keys in its own format (apikey:...)" \
	|| no "feldera key format" "$R"

# ---- the targets: one key per family (and one deactivated Heron key), made by the write key ----
mk() { # mk FAMILY NAME -> sets T_TOK, T_ID
	req POST "$(create_path "$1")" "$(auth_header "$1" "$W")" "{\"name\":\"$2\"}"
	T_TOK=$(jb "$(token_of "$1")")
	case $1 in
	heron) T_ID=$(jb .heron_id) ;;
	feldera) T_ID=$2 ;;
	nebula | nebula_uuid) T_ID=$(jb .data.id) ;;
	fastapi) T_ID=$(jb .id) ;;
	esac
	[ "$STATUS" = 201 ] || no "target $1/$2 made (got $STATUS)" "$BODY_OUT"
}
declare -A TT TI
for f in $FAMILIES; do mk "$f" "target-$f"; TT[$f]=$T_TOK; TI[$f]=$T_ID; done
mk heron target-off; OFF_TOK=$T_TOK; OFF_ID=$T_ID
req PUT "/heron/api/credentials/keys/$OFF_ID/deactivate" "x-api-key: $W"; expect "the write key deactivates a Heron key" 200

# write operations of every family as METHOD|PATH|BODY; @ID is the family's target
writes() {
	case $1 in
	heron) printf '%s\n' "POST|/heron/api/credentials/keys|{\"name\":\"minted\"}" \
		"DELETE|/heron/api/credentials/keys/@ID|" "PUT|/heron/api/credentials/keys/@ID/deactivate|" \
		"PUT|/heron/api/credentials/keys/$OFF_ID/activate|" ;;
	feldera) printf '%s\n' "POST|/feldera/v0/api_keys|{\"name\":\"minted\"}" \
		"POST|/feldera/v0/api_keys|{\"name\":\"minted-w\",\"role\":\"write\"}" \
		"POST|/feldera/v0/api_keys|{\"name\":\"minted-r\",\"role\":\"read\"}" "DELETE|/feldera/v0/api_keys/@ID|" ;;
	nebula) printf '%s\n' "POST|/nebulablock/api/v1/api-keys|{\"name\":\"minted\"}" "DELETE|/nebulablock/api/v1/api-keys/@ID|" ;;
	nebula_uuid) printf '%s\n' "POST|/nebulablock-uuid/api/v1/api-keys|{\"name\":\"minted\"}" \
		"DELETE|/nebulablock-uuid/api/v1/api-keys/@ID|" ;;
	fastapi) printf '%s\n' "POST|/fastapi/api/auth/api-keys/|{\"name\":\"minted\"}" "DELETE|/fastapi/api/auth/api-keys/@ID|" ;;
	esac
}
# read operations: METHOD|PATH|STATUS a read key gets (Feldera: write is needed)
reads() {
	case $1 in
	heron) echo "GET|/heron/api/credentials/keys|200" ;;
	feldera) printf '%s\n' "GET|/feldera/v0/api_keys|403" "GET|/feldera/v0/api_keys/@ID|403" "GET|/feldera/v0/api_keys?name=@ID|403" ;;
	nebula) printf '%s\n' "GET|/nebulablock/api/v1/api-keys|200" "GET|/nebulablock/api/v1/api_keys|200" ;;
	nebula_uuid) printf '%s\n' "GET|/nebulablock-uuid/api/v1/api-keys|200" "GET|/nebulablock-uuid/api/v1/api_keys|200" ;;
	fastapi) echo "GET|/fastapi/api/auth/api-keys/?skip=0&limit=50|200" ;;
	esac
}

# ---- a read key (and Feldera's default-role key) against every operation ----
for who in R D; do
	tok=${!who}
	label=$([ $who = R ] && echo "read key" || echo "key made without a role")
	for f in $FAMILIES; do
		while IFS='|' read -r m p b; do
			p=${p//@ID/${TI[$f]}}
			k0=$(nkeys); a0=$(naudit)
			req "$m" "$p" "$(auth_header "$f" "$tok")" "$b"
			forbidden "$label: $f $m $p ${b:+$b}" "$f"
			[ "$(nkeys)" = "$k0" ] && [ "$(naudit)" = "$a0" ] && ok "$label: $f $m $p: no key added or changed, no audit row" \
				|| no "$label: $f $m $p changed the store ($k0 -> $(nkeys) keys, $a0 -> $(naudit) audit rows)"
		done < <(writes "$f")
		while IFS='|' read -r m p want; do
			p=${p//@ID/${TI[$f]}}
			req "$m" "$p" "$(auth_header "$f" "$tok")"
			if [ "$want" = 403 ]; then forbidden "$label: $f $m $p (Feldera asks write)" "$f"
			else expect "$label: $f $m $p: a read succeeds" "$want"; fi
		done < <(reads "$f")
	done
done
# nothing changed: every target still works and is still listed; the deactivated one is still off
for f in $FAMILIES; do
	authenticates "after the read keys: the $f target still authenticates" "${TT[$f]}"
	case $f in
	heron) needle="\"heron_id\":\"${TI[$f]}\",\"is_active\":true" ;;
	feldera) needle="\"name\":\"${TI[$f]}\"" ;;
	nebula) needle="\"id\":${TI[$f]}," ;;
	fastapi) needle="\"id\":\"${TI[$f]}\",\"name\":\"target-fastapi\",\"is_active\":true" ;;
	*) needle="\"id\":\"${TI[$f]}\"" ;;
	esac
	listed "after the read keys: the $f target is still listed" "$f" "$needle"
done
req GET /heron/api/credentials/keys "x-api-key: $OFF_TOK"
expect "after the read keys: the deactivated Heron key is still refused" 401
[ "$(sq "$db" "SELECT count(*) FROM keys WHERE name LIKE 'minted%'")" = 0 ] \
	&& ok "no family minted a key for a read key" || no "a read key minted a key"
# the read key's own state: it cannot delete itself either
req DELETE /feldera/v0/api_keys/reader "Authorization: Bearer $R"; forbidden "a read key cannot delete itself" feldera
authenticates "the read key still works after all that" "$R"

# ---- the write key, a Feldera write key and the JWT: every operation succeeds ----
for who in W WF; do
	tok=${!who}
	for f in $FAMILIES; do
		req POST "$(create_path "$f")" "$(auth_header "$f" "$tok")" "{\"name\":\"by-$who-$f\"}"
		expect "$who: $f create 201" 201
		nt=$(jb "$(token_of "$f")")
		authenticates "$who: the key it made through $f works" "$nt"
		while IFS='|' read -r m p want; do
			p=${p//@ID/${TI[$f]}}
			req "$m" "$p" "$(auth_header "$f" "$tok")"
			expect "$who: $f $m $p" 200
		done < <(reads "$f")
	done
done
req POST /feldera/v0/api_keys "Authorization: Bearer $WF" '{"name":"by-WF-write","role":"write"}'
expect "a Feldera write key mints a write key" 201
req POST /heron/api/credentials/keys "x-api-key: $(jb .api_key)" '{"name":"by-WF-write-heron"}'
expect "... which may write on Heron" 201
# a key a write key makes through a family without roles is a write key
req POST /heron/api/credentials/keys "x-api-key: $W" '{"name":"heron-made"}'; HM=$(jb .token)
req POST /nebulablock/api/v1/api-keys "Authorization: Bearer $HM" '{"name":"by-heron-made"}'
expect "a key made through Heron by a write key may write (NebulaBlock create 201)" 201

BJ="Authorization: Bearer $J"
for f in feldera nebula nebula_uuid; do
	req POST "$(create_path "$f")" "$BJ" "{\"name\":\"by-jwt-$f\"}"; expect "JWT: $f create 201" 201
	while IFS='|' read -r m p want; do
		p=${p//@ID/${TI[$f]}}
		req "$m" "$p" "$BJ"; expect "JWT: $f $m $p" 200
	done < <(reads "$f")
done
req POST /feldera/v0/api_keys "$BJ" '{"name":"jwt-w","role":"write"}'; expect "JWT mints a write key" 201; JW=$(jb .api_key)
req POST /feldera/v0/api_keys "$BJ" '{"name":"jwt-r","role":"read"}'; expect "JWT mints a read key" 201; JR=$(jb .api_key)
req GET /feldera/v0/api_keys/jwt-w "$BJ"; expect "JWT: get jwt-w answers its role" 200 '"role":"write"'
req GET /feldera/v0/api_keys/jwt-r "$BJ"; expect "JWT: get jwt-r answers its role" 200 '"role":"read"'
req POST /nebulablock/api/v1/api-keys "Authorization: Bearer $JW" '{"name":"by-jwt-w"}'; expect "the JWT's write key writes" 201
req POST /nebulablock/api/v1/api-keys "Authorization: Bearer $JR" '{"name":"by-jwt-r"}'; forbidden "the JWT's read key does not" nebula
req POST /feldera/v0/api_keys "$BJ" '{"name":"jwt-admin","role":"admin"}'
expect "no key is minted admin or owner (400: the document allows read and write)" 400
# the write key's and the JWT's writes on the targets
req PUT "/heron/api/credentials/keys/${TI[heron]}/deactivate" "x-api-key: $W"; expect "W: heron deactivate" 200
req PUT "/heron/api/credentials/keys/${TI[heron]}/activate" "x-api-key: $W"; expect "W: heron activate" 200
req DELETE "/heron/api/credentials/keys/${TI[heron]}" "x-api-key: $W"; expect "W: heron delete" 204
req DELETE "/feldera/v0/api_keys/${TI[feldera]}" "$BJ"; expect "JWT: feldera delete" 200
req DELETE "/nebulablock/api/v1/api-keys/${TI[nebula]}" "$BJ"; expect "JWT: nebula delete" 200
req DELETE "/nebulablock-uuid/api/v1/api-keys/${TI[nebula_uuid]}" "Authorization: Bearer $WF"; expect "WF: nebula_uuid delete" 200
req DELETE "/fastapi/api/auth/api-keys/${TI[fastapi]}" "Authorization: Bearer $W"; expect "W: fastapi revoke" 204
# a read key of another user changes nothing of alice's either (403 before any lookup)
req POST /feldera/v0/api_keys "Authorization: Bearer $BOB" '{"name":"bob-r","role":"read"}'; BR=$(jb .api_key)
req DELETE "/heron/api/credentials/keys/$OFF_ID" "x-api-key: $BR"; forbidden "bob's read key on alice's key: 403" heron
authenticates "alice's write key still works" "$W"

# ---- keys made before roles were enforced (fixture store, schema 2, fk_ keys) ----
ldb=$dir/legacy/apikeyd.db
mkdir -p "$dir/legacy"
sqlite3 "$ldb" <"$fx/roles-legacy.sql"
sed 's/../\\x&/g' "$fx/roles-legacy.secret.hex" | xargs -0 printf '%b' >"$dir/legacy/apikeyd.secret"
chmod 600 "$dir/legacy/apikeyd.secret"
LA=$(awk '$1 == "alice" {print $2}' "$fx/roles-legacy.keys")
LF=$(awk '$1 == "legacy-full" {print $2}' "$fx/roles-legacy.keys")
LR=$(awk '$1 == "legacy-read" {print $2}' "$fx/roles-legacy.keys")
main_H=$H
if start_server "$ldb" --validate-responses; then
	authenticates "legacy: the old fk_ key made without a role authenticates" "$LF"
	authenticates "legacy: the old fk_ read key authenticates" "$LR"
	req GET /feldera/v0/api_keys "Authorization: Bearer $LA"
	[ "$(jq -r '[.[] | .name + "=" + .role] | join(",")' "$dir/out")" = "legacy-full=write,legacy-read=read" ] \
		&& ok "legacy: listed with roles (no role then: write, as its scopes were)" || no "legacy roles" "$BODY_OUT"
	[ "$(jq -c '[.[].scopes]' "$dir/out")" = '[["Read","Write"],["Read"]]' ] \
		&& ok "legacy: ... and their scopes, for older clients" || no "legacy scopes" "$BODY_OUT"
	req POST /nebulablock/api/v1/api-keys "Authorization: Bearer $LF" '{"name":"by-legacy-full"}'
	expect "legacy: the old key made without a role keeps write" 201
	req POST /feldera/v0/api_keys "Authorization: Bearer $LR" '{"name":"by-legacy-read","role":"write"}'
	forbidden "legacy: the old read key cannot mint a write key" feldera
	req PUT "/heron/api/credentials/keys/$(sq "$ldb" "SELECT uuid FROM keys WHERE name = 'first key'")/deactivate" "x-api-key: $LR"
	forbidden "legacy: the old read key cannot deactivate a key" heron
	authenticates "legacy: ... which still works" "$LA"
else
	no "apikeyd starts on the legacy store" "$(tail -5 "$SRV_LOG")"
fi
H=$main_H
finish

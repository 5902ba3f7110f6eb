#!/bin/bash
# test-adversarial-names: key names that read as something they are not
# (SECURITY-roles.md), and ids in the case a client chose.
#   - control characters (C0, DEL, C1) and bidirectional controls (U+202A-E,
#     U+2066-9, U+200E/F, U+061C) in a name are refused on every family with
#     400 in the family's error shape, and nothing is stored;
#   - names are stored in Unicode NFC: `café` sent decomposed (NFD) is the
#     same name as `café` composed, so Feldera answers 409 DuplicateName to
#     the second, finds the key by either spelling, and every family answers
#     and lists the composed form;
#   - a Heron id in upper case is the same uuid (RFC 9562 compares them
#     case-insensitively), as the other families already accept.
set -u
SUITE=adversarial-names
. "$(dirname "$0")/../lib/apikeyd.sh"

db=$dir/var/apikeyd.db
W=$(user_add "$db" alice)
start_server "$db" --validate-responses || { no "apikeyd starts" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
sq() { sqlite3 -batch -noheader "$db" "$1"; }
BW="Authorization: Bearer $W"

# bad_request NAME FAMILY: the last answer is 400 in the family's error shape
bad_request() {
	local shape
	case $2 in
	heron) shape='' ;;
	feldera) shape='' ;;   # checked below: members and values (the model writes the spec's member order)
	nebula | nebula_uuid) shape='"data":null,"message":"[^"]+","status":"failed"' ;;
	fastapi) shape='"status":400' ;;
	esac
	if [ "$2" = feldera ]; then
		expect_json "$1: 400" 400 'keys == ["details","error_code","message"] and (.message | type == "string") and
			(.error_code | test("^[A-Za-z]+$"))'
	else
		expect "$1: 400" 400 "$shape"
	fi
	if [ "$2" = heron ] && [ -s "$dir/out" ]; then no "$1: Heron's 400 is a bare status" "$BODY_OUT"; fi
}

# ---- control and bidi characters, as JSON escapes ----
declare -A BAD=(
	[C0 U+0001]='\u0001' [C0 tab]='\t' [C0 newline]='\n' [C0 U+001F]='\u001f' [DEL]='\u007f'
	[C1 U+0085]='\u0085' [C1 U+009F]='\u009f'
	[LRE U+202A]='\u202a' [RLO U+202E]='\u202e' [LRI U+2066]='\u2066' [PDI U+2069]='\u2069'
	[LRM U+200E]='\u200e' [RLM U+200F]='\u200f' [ALM U+061C]='\u061c'
)
for f in $FAMILIES; do
	for what in "${!BAD[@]}"; do
		k0=$(sq "SELECT count(*) FROM keys")
		req POST "$(create_path "$f")" "$(auth_header "$f" "$W")" "{\"name\":\"invoice${BAD[$what]}gpj.exe\"}"
		bad_request "$f: a name with $what" "$f"
		[ "$(sq "SELECT count(*) FROM keys")" = "$k0" ] || no "$f: a name with $what was stored"
	done
	# what stays allowed: spaces, letters of any script, emoji, a zero-width joiner
	req POST "$(create_path "$f")" "$(auth_header "$f" "$W")" '{"name":"ok name é 名前 👩\u200d💻"}'
	expect "$f: a name with spaces, letters of any script and emoji is still accepted" 201
done

# ---- NFC ----
nfc=$(printf 'caf\xc3\xa9')      # café, composed
nfd=$(printf 'cafe\xcc\x81')     # café, e + combining acute
req POST /feldera/v0/api_keys "$BW" "{\"name\":\"$nfc\"}"; expect "feldera: café (NFC) 201" 201
req POST /feldera/v0/api_keys "$BW" "{\"name\":\"$nfd\"}"
expect "feldera: café (NFD) is the same name: 409 DuplicateName" 409 '"error_code":"DuplicateName"'
req GET /feldera/v0/api_keys/cafe%CC%81 "$BW"
expect "feldera: GET by the NFD spelling finds the key" 200 "\"name\":\"$nfc\""
req GET "/feldera/v0/api_keys?name=cafe%CC%81" "$BW"
expect "feldera: ?name= by the NFD spelling finds it" 200 "\"name\":\"$nfc\""
req POST /feldera/v0/api_keys "$BW" '{"name":"noe\u0308l"}'
expect "feldera: noël sent as NFD: 201 answering the NFC name" 201 "\"name\":\"no$(printf '\xc3\xab')l\""
[ "$(header Location)" = "/feldera/v0/api_keys/no%C3%ABl" ] && ok "feldera: ... and its Location names the NFC form" \
	|| no "feldera: Location \"$(header Location)\""
req DELETE /feldera/v0/api_keys/cafe%CC%81 "$BW"; expect "feldera: DELETE by the NFD spelling" 200
req GET /feldera/v0/api_keys/caf%C3%A9 "$BW"; expect "feldera: ... deleted the NFC key" 404
for f in heron nebula nebula_uuid fastapi; do
	req POST "$(create_path "$f")" "$(auth_header "$f" "$W")" "{\"name\":\"$nfd-$f\"}"
	expect "$f: a NFD name is answered in NFC" 201 "\"name\":\"$nfc-$f\""
	req GET "$(list_path "$f")" "$(auth_header "$f" "$W")"
	grep -qF "\"name\":\"$nfc-$f\"" "$dir/out" && ! grep -qF "$nfd" "$dir/out" \
		&& ok "$f: ... and listed in NFC" || no "$f: list" "$BODY_OUT"
done
[ "$(sq "SELECT count(*) FROM keys WHERE name LIKE '%' || char(769) || '%'")" = 0 ] \
	&& ok "the store holds no decomposed name" || no "a decomposed name is stored"

# ---- a Heron id in upper case ----
req POST /heron/api/credentials/keys "x-api-key: $W" '{"name":"upper"}'
id=$(jb .heron_id); tok=$(jb .token); ID=${id^^}
req PUT "/heron/api/credentials/keys/$ID/deactivate" "x-api-key: $W"
expect "heron: deactivate by the upper-case id (its owner)" 200 "\"heron_id\":\"$id\",\"is_active\":false"
req GET /heron/api/credentials/keys "x-api-key: $tok"; expect "heron: ... the key is off" 401
req PUT "/heron/api/credentials/keys/$ID/activate" "x-api-key: $W"
expect "heron: activate by the upper-case id" 200 '"is_active":true'
req DELETE "/heron/api/credentials/keys/$ID" "x-api-key: $W"; expect "heron: delete by the upper-case id" 204
req GET /heron/api/credentials/keys "x-api-key: $tok"; expect "heron: ... the key is gone" 401
finish

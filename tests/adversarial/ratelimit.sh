#!/bin/bash
# test-adversarial-ratelimit: the failed-authentication limiter (issue 10,
# finding 7) against the real apikeyd on loopback.
#   - A blocked address (its failures answered 429) cannot lock out a valid
#     key: the owner's key, and keys never used before (not in the
#     authentication cache), from that address authenticate on all five
#     families, while its next failure is still 429 with Retry-After. The
#     audit's case too: uses of just-revoked keys block the address, the
#     user's valid key from it still works.
#   - Saturation never stops counting: 4,000 addresses each blocked (11 bad
#     keys apiece) overfill the real table (1,024 clients); then each of 300
#     fresh addresses still gets 429 within its limit (at its 11th failure at
#     the latest), and a valid key from a flooded address still works.
#     authflood (tests/adversarial/authflood.c) sends the requests on
#     keep-alive sockets bound to 127.B.C.D.
set -u
SUITE=adversarial-ratelimit
. "$(dirname "$0")/../lib/apikeyd.sh"

db=$dir/var/apikeyd.db
KEY=$(user_add "$db" alice)
start_server "$db" || { no "apikeyd starts" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
port=${H##*:}

# ---- a valid key from a blocked address ----
blocked=127.3.0.1
declare -A TOK
for f in $FAMILIES; do
	# a Feldera key that answers on Feldera's routes needs the write role (Feldera's default is read)
	role=; [ "$f" = feldera ] && role=',"role":"write"'
	req POST "$(create_path "$f")" "$(auth_header "$f" "$KEY")" "{\"name\":\"fresh-$f\"$role}"
	TOK[$f]=$(jb "$(token_of "$f")")
	[ "$STATUS" = 201 ] || no "$f: create fresh-$f ($STATUS)" "$BODY_OUT"
done
for i in $(seq 1 10); do req --from $blocked GET /heron/api/credentials/keys "x-api-key: key_not_a_key_$i"; done
req --from $blocked GET /feldera/v0/api_keys "Authorization: Bearer fk_not_a_key"
expect "the 11th failure from $blocked is 429" 429
for f in $FAMILIES; do
	req --from $blocked GET "$(list_path "$f")" "$(auth_header "$f" "$KEY")"
	expect "$f: the owner's valid key from the blocked address authenticates (200)" 200
	req --from $blocked GET "$(list_path "$f")" "$(auth_header "$f" "${TOK[$f]}")"
	expect "$f: a key never used before (not cached) from the blocked address authenticates (200)" 200
	req --from $blocked GET "$(list_path "$f")" "$(auth_header "$f" "${TOK[$f]}x")"
	expect "$f: a failure from the blocked address is still 429" 429
	ra=$(header Retry-After)
	[[ $ra =~ ^[0-9]+$ ]] && [ "$ra" -ge 1 ] && [ "$ra" -le 60 ] && ok "$f: Retry-After $ra" || no "$f: Retry-After \"$ra\""
done

# the audit's case: just-revoked keys used from the victim's own address
victim=127.3.0.2
REV=()
for i in $(seq 1 11); do
	req POST /fastapi/api/auth/api-keys/ "Authorization: Bearer $KEY" "{\"name\":\"rev-$i\"}"
	REV+=("$(jb .key)"); id=$(jb .id)
	req DELETE "/fastapi/api/auth/api-keys/$id" "Authorization: Bearer $KEY"
done
for t in "${REV[@]}"; do req --from $victim GET /fastapi/api/auth/api-keys/ "Authorization: Bearer $t"; done
expect "11 uses of revoked keys from $victim: the last is 429" 429
for f in $FAMILIES; do
	req --from $victim GET "$(list_path "$f")" "$(auth_header "$f" "$KEY")"
	expect "$f: after the revoked keys, the user's valid key from $victim still works" 200
done

# ---- saturation at the real table size ----
flood() { timeout 180 "$ADV_BIN/authflood" 127.0.0.1 "$port" /heron/api/credentials/keys 'x-api-key: key_flood%u' "$@"; }
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$2"; }
t0=$(date +%s)
out=$(flood 127.4.0.1 4000 11 4)
t1=$(date +%s)
echo "      flood: $out ($((t1 - t0)) s)"
[ "$(field lost "$out")" = 0 ] && [ "$(field requests "$out")" = 44000 ] && ok "4,000 addresses x 11 failures answered" || no "the flood was not answered" "$out"
out=$(flood 127.5.0.1 300 12 4)
echo "      fresh: $out"
n=$(field no429 "$out"); m=$(field first429max "$out")
[ "$n" = 0 ] && ok "with the table full of blocks, every fresh address gets 429" || no "$n of 300 fresh addresses never got a 429 in 12 failures" "$out"
[ -n "$m" ] && [ "$m" -ge 1 ] && [ "$m" -le 11 ] && ok "each within its limit (first 429 at request <= 11; latest $m)" || no "first 429 at request $m"
for f in $FAMILIES; do
	req --from 127.4.0.7 GET "$(list_path "$f")" "$(auth_header "$f" "$KEY")"
	expect "$f: a valid key from a flooded, blocked address still works" 200
done
req --from 127.4.0.7 GET /heron/api/credentials/keys "x-api-key: key_more"
expect "a failure from a flooded address: 429" 429
finish

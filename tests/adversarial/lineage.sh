#!/bin/bash
# test-adversarial-lineage: keys that mint keys (issue 10, finding 8)
# against the real apikeyd on loopback, and its CLI on the same database.
#   - A key of one family mints keys in the others (and a child mints a
#     grandchild): the owner sees every one of them in Heron's and the
#     FastAPI family's lists (whose shapes carry any key: uuid ids,
#     is_active, Heron's token_prefix), and `apikeyd key list --user U`
#     names each key's parent.
#   - With --revoke-cascade, deleting (Heron) or revoking (FastAPI) a key
#     revokes every key it minted, down the tree: each descendant, used a
#     moment before (so in the authentication cache), is refused at the next
#     request on every family. Without the option a child outlives its
#     parent (the vendors' documented one-key semantics); `apikeyd key
#     revoke ID --cascade` revokes the tree from the CLI.
#   - `apikeyd user key NAME` recovers a user whose last key was deleted:
#     a new key, printed once, that authenticates at once; the audit table
#     records it (action create, client cli).
set -u
SUITE=adversarial-lineage
. "$(dirname "$0")/../lib/apikeyd.sh"

db=$dir/var/apikeyd.db
KEY=$(user_add "$db" alice)
BOB=$(user_add "$db" bob)
sq() { sqlite3 -batch -noheader "$db" "$@"; }
cli() { "$APIKEYD" --db "$db" "$@"; }
start_server "$db" --revoke-cascade || { no "apikeyd starts with --revoke-cascade" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }

# mint FAMILY PARENT_TOKEN NAME: creates a key through FAMILY with PARENT's
# credential; sets MINTED (the token). Feldera keys are made with the write
# role (Feldera's default is read, and a read key mints nothing).
mint() {
	local role=; [ "$1" = feldera ] && role=',"role":"write"'
	req POST "$(create_path "$1")" "$(auth_header "$1" "$2")" "{\"name\":\"$3\"$role}"
	[ "$STATUS" = 201 ] || no "$1: create $3 ($STATUS)" "$BODY_OUT"
	MINTED=$(jb "$(token_of "$1")")
}
works() { req GET "$(list_path "$2")" "$(auth_header "$2" "$1")"; [ "$STATUS" = 200 ]; }

# ---- a tree: alice's first key -> one key per family -> a grandchild ----
declare -A CH
for f in feldera nebula nebula_uuid fastapi heron; do mint "$f" "$KEY" "child-$f"; CH[$f]=$MINTED; done
mint fastapi "${CH[feldera]}" grandchild; GRAND=$MINTED

# ---- visibility ----
req GET /heron/api/credentials/keys "x-api-key: $KEY"
for f in "${!CH[@]}"; do
	jq -e --arg p "${CH[$f]:0:8}" '.keys | any(.token_prefix == $p)' "$dir/out" >/dev/null \
		&& ok "heron's list shows the $f child (token_prefix ${CH[$f]:0:8})" || no "heron's list lacks the $f child" "$BODY_OUT"
done
jq -e --arg p "${GRAND:0:8}" '.keys | any(.token_prefix == $p)' "$dir/out" >/dev/null \
	&& ok "heron's list shows the grandchild" || no "heron's list lacks the grandchild" "$BODY_OUT"
req GET "/fastapi/api/auth/api-keys/?limit=200" "Authorization: Bearer $KEY"
for n in child-feldera child-nebula child-nebula_uuid child-heron grandchild "first key"; do
	jq -e --arg n "$n" '.items | any(.name == $n)' "$dir/out" >/dev/null \
		&& ok "fastapi's list shows \"$n\"" || no "fastapi's list lacks \"$n\"" "$BODY_OUT"
done
want=$(sq "SELECT count(*) FROM keys WHERE user_id = (SELECT id FROM users WHERE name = 'alice')")
[ "$(jb .total)" = "$want" ] && ok "fastapi's total counts every key alice owns ($want)" || no "fastapi total $(jb .total), store $want"
req GET /heron/api/credentials/keys "x-api-key: $BOB"
[ "$(jb '.keys | length')" = 1 ] && ok "bob's heron list shows only his own key" || no "bob sees others' keys" "$BODY_OUT"

# the CLI: every key with its parent
# a key by its prefix and its tail: Feldera keys share "apikey:", so the first
# eight characters alone tell apart only 62 of them
KEY_ID=$(sq "SELECT id FROM keys WHERE prefix = '${KEY:0:8}' AND tail = '${KEY: -3}' AND user_id = (SELECT id FROM users WHERE name = 'alice')")
FEL_ID=$(sq "SELECT id FROM keys WHERE prefix = '${CH[feldera]:0:8}' AND tail = '${CH[feldera]: -3}'")
cli key list --user alice >"$dir/list.txt" 2>"$dir/list.err"
rc=$?
[ $rc = 0 ] && ok "apikeyd key list --user alice exits 0" || no "key list exit $rc" "$(cat "$dir/list.err")"
# columns: id uuid family name state parent created
for f in "${!CH[@]}"; do
	id=$(sq "SELECT id FROM keys WHERE prefix = '${CH[$f]:0:8}' AND tail = '${CH[$f]: -3}'")
	awk -F'\t' -v id="$id" -v p="$KEY_ID" -v fam="$f" '$1 == id && $6 == p && $3 == fam { found = 1 } END { exit !found }' "$dir/list.txt" \
		&& ok "key list: the $f child ($id) is $f, parent $KEY_ID" || no "key list: $f child $id" "$(cat "$dir/list.txt")"
done
G_ID=$(sq "SELECT id FROM keys WHERE prefix = '${GRAND:0:8}' AND tail = '${GRAND: -3}'")
awk -F'\t' -v id="$G_ID" -v p="$FEL_ID" '$1 == id && $6 == p { found = 1 } END { exit !found }' "$dir/list.txt" \
	&& ok "key list: the grandchild's parent is the feldera child" || no "key list: grandchild" "$(cat "$dir/list.txt")"
[ "$(wc -l <"$dir/list.txt")" = "$want" ] && ok "key list prints one line per key ($want)" || no "key list lines" "$(cat "$dir/list.txt")"
cli key list --user nobody >/dev/null 2>&1 && no "key list of an unknown user exits 0" || ok "key list of an unknown user fails"

# ---- cascade through the API (--revoke-cascade) ----
for t in "${CH[@]}" "$GRAND"; do works "$t" heron || no "a child works before its parent goes"; done
mint feldera "$KEY" mid; MID=$MINTED
mint nebula "$MID" leaf1; L1=$MINTED
mint heron "$L1" leaf2; L2=$MINTED
for t in "$MID" "$L1" "$L2"; do works "$t" fastapi || no "mid/leaf works before"; done
MID_UUID=$(sq "SELECT uuid FROM keys WHERE prefix = '${MID:0:8}' AND tail = '${MID: -3}'")
req DELETE "/heron/api/credentials/keys/$MID_UUID" "x-api-key: $KEY"
expect "heron deletes the feldera key mid (any of the owner's keys)" 204
for f in $FAMILIES; do
	for t in "$MID" "$L1" "$L2"; do
		works "$t" "$f" && no "$f: ${t:0:8} still works after its ancestor was deleted" || ok "$f: descendant ${t:0:8} refused at the next request"
	done
done
works "$KEY" heron && ok "the deleting key itself still works" || no "alice's key broke"
# FastAPI revoke cascades too
mint heron "$KEY" r-parent; RP=$MINTED
mint fastapi "$RP" r-child; RC=$MINTED
works "$RC" nebula || no "r-child works before"
RP_UUID=$(sq "SELECT uuid FROM keys WHERE prefix = '${RP:0:8}' AND tail = '${RP: -3}'")
req DELETE "/fastapi/api/auth/api-keys/$RP_UUID" "Authorization: Bearer $KEY"
expect "fastapi revokes the heron key r-parent" 204
works "$RC" nebula && no "r-child survives its parent's revocation" || ok "fastapi revoke: r-child refused at the next request"
# the deletion and every descendant's revocation are audited
[ "$(sq "SELECT count(*) FROM audit a WHERE a.action = 'delete' AND a.client = '127.0.0.1' AND NOT EXISTS (SELECT 1 FROM keys WHERE id = a.key_id)")" = 1 ] \
	&& ok "audit: mid's delete" || no "audit: mid's delete" "$(sq "SELECT * FROM audit WHERE action = 'delete'")"
for t in "$L1" "$L2" "$RC"; do
	n=$(sq "SELECT count(*) FROM audit WHERE action = 'revoke' AND key_id = (SELECT id FROM keys WHERE prefix = '${t:0:8}' AND tail = '${t: -3}')")
	[ "$n" = 1 ] && ok "audit: ${t:0:8} revoked once" || no "audit: ${t:0:8} revoke rows $n"
done
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null

# ---- without the option: one key at a time; the CLI cascades on request ----
start_server "$db" || { no "apikeyd restarts" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
mint heron "$KEY" p2; P2=$MINTED
mint feldera "$P2" c2; C2=$MINTED
mint nebula "$C2" g2; G2=$MINTED
P2_UUID=$(sq "SELECT uuid FROM keys WHERE prefix = '${P2:0:8}' AND tail = '${P2: -3}'")
req DELETE "/heron/api/credentials/keys/$P2_UUID" "x-api-key: $KEY"
expect "default: heron deletes p2" 204
works "$C2" heron && ok "default: the child outlives its deleted parent (one-key semantics)" || no "default: child revoked without the option"
C2_ID=$(sq "SELECT id FROM keys WHERE prefix = '${C2:0:8}' AND tail = '${C2: -3}'")
G2_ID=$(sq "SELECT id FROM keys WHERE prefix = '${G2:0:8}' AND tail = '${G2: -3}'")
[ "$(sq "SELECT parent_id FROM keys WHERE id = $G2_ID")" = "$C2_ID" ] && ok "g2's parent is c2" || no "g2 parent"
cli key revoke "$C2_ID" --cascade >"$dir/rev.out" 2>"$dir/rev.err"
rc=$?
[ $rc = 0 ] && ok "apikeyd key revoke $C2_ID --cascade exits 0" || no "key revoke exit $rc" "$(cat "$dir/rev.err")"
[ "$(sq "SELECT revoked FROM keys WHERE id IN ($C2_ID, $G2_ID)" | tr '\n' ' ')" = "1 1 " ] \
	&& ok "the CLI revoked c2 and its child g2 in the store" || no "revoked flags" "$(sq "SELECT id, revoked FROM keys WHERE id IN ($C2_ID, $G2_ID)")"
works "$C2" fastapi && no "c2 works after the CLI cascade" || ok "c2 refused after the CLI cascade"
works "$G2" fastapi && no "g2 works after the CLI cascade" || ok "g2 refused after the CLI cascade"
cli key revoke 999999 >/dev/null 2>&1 && no "revoking an unknown key id exits 0" || ok "revoking an unknown key id fails"

# ---- user key: recovery after the last key is gone ----
req GET /heron/api/credentials/keys "x-api-key: $BOB"
BOB_UUID=$(jb '.keys[0].heron_id')
req DELETE "/heron/api/credentials/keys/$BOB_UUID" "x-api-key: $BOB"
expect "bob deletes his last key" 204
works "$BOB" heron && no "bob's deleted key works" || ok "bob's deleted key is refused"
cli user add bob >/dev/null 2>&1 && no "user add bob again succeeds" || ok "user add refuses an existing name (bob)"
NEW=$(cli user key bob 2>"$dir/ukey.err")
rc=$?
[ $rc = 0 ] && [[ $NEW =~ ^key_[0-9A-Za-z]{49}$ ]] && ok "apikeyd user key bob prints one new key" || no "user key: exit $rc, \"$NEW\"" "$(cat "$dir/ukey.err")"
[ "$(printf '%s\n' "$NEW" | wc -l)" = 1 ] && ok "stdout holds only the key" || no "stdout: $NEW"
works "$NEW" fastapi && ok "bob's new key authenticates at once" || no "bob's new key refused ($STATUS)" "$BODY_OUT"
BOB_ID=$(sq "SELECT id FROM users WHERE name = 'bob'")
[ "$(sq "SELECT count(*) FROM audit a JOIN keys k ON k.id = a.key_id WHERE a.action = 'create' AND a.client = 'cli' AND k.prefix = '${NEW:0:8}' AND tail = '${NEW: -3}' AND a.actor = $BOB_ID")" = 1 ] \
	&& ok "audit: the recovery key's create, by the CLI, for bob" || no "audit of user key" "$(sq "SELECT * FROM audit ORDER BY id DESC LIMIT 3")"
cli user key nobody >/dev/null 2>&1 && no "user key of an unknown user exits 0" || ok "user key of an unknown user fails"
[ -n "$NEW" ] && ! grep -qF "${NEW#key_}" "$dir/ukey.err" && ok "the key is not on stderr" || no "the key reached stderr (or there was none)"
finish

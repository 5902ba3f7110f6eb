#!/bin/bash
# tests/admin/run.sh — the operating commands (server/admin.c) on a running
# server's store (SQLite, or PostgreSQL with APIKEYD_STORE=postgresql):
#   cli       user list, key list, key show and audit agree with what the API
#             shows; a CLI revocation is refused at the server's very next
#             request; bad input gets a precise error and exit status
#   rotation  `secret rotate` twice under create and authentication load:
#             no request of an acknowledged key fails meanwhile, every
#             acknowledged key authenticates after (on a restarted server too,
#             with the first secrets retired), retire is refused while a key
#             still needs the secret
#   backup    `apikeyd backup` under create load, restored into a fresh folder:
#             every key acknowledged before the backup began authenticates on
#             a server started on the copy (SQLite: the online backup API;
#             PostgreSQL: pg_dump, restored into an empty database)
SUITE=admin
. "$(dirname "$0")/../lib/apikeyd.sh"

db=$dir/state/apikeyd.db
cli() { "$APIKEYD" "$@" --db "$db"; }
# auth TOKEN: the status of one authenticated heron request
auth() { curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $1" "$H/heron/api/credentials/keys"; }
# create_key OWNER NAME: prints the new heron key (empty unless 201)
create_key() {
	local out
	out=$(curl -s -w '\n%{http_code}' -H "x-api-key: $1" -H 'Content-Type: application/json' \
		--data-binary "{\"name\":\"$2\"}" "$H/heron/api/credentials/keys")
	[ "$(tail -1 <<<"$out")" = 201 ] && head -1 <<<"$out" | jq -r .token
}

# ---- load: workers that create keys (each acknowledged key to acked.N) and
# authenticate a random acknowledged key between creates (any failure of an
# acknowledged key to authfail.N) until $dir/stop exists
load_worker() {
	local w=$1 owner=$2 i=0 t pick st
	: >"$dir/acked.$w"; : >"$dir/authfail.$w"
	while [ ! -e "$dir/stop" ]; do
		i=$((i + 1))
		t=$(create_key "$owner" "load-$w-$i")
		[ -n "$t" ] && echo "$t" >>"$dir/acked.$w"
		pick=$(shuf -n 1 "$dir/acked.$w" 2>/dev/null)
		if [ -n "$pick" ]; then
			st=$(auth "$pick")
			[ "$st" = 200 ] || echo "$st $pick" >>"$dir/authfail.$w"
		fi
	done
}
LOAD_PIDS=()
load_start() {
	rm -f "$dir/stop" "$dir"/acked.* "$dir"/authfail.*
	LOAD_PIDS=()
	for w in 1 2 3; do load_worker "$w" "$1" & LOAD_PIDS+=($!); done
}
load_stop() { touch "$dir/stop"; wait "${LOAD_PIDS[@]}" 2>/dev/null; }
acked() { cat "$dir"/acked.* 2>/dev/null; }
# wait_keys N: until the workers have N acknowledged keys (at most 60 s)
wait_keys() {
	for _ in $(seq 600); do [ "$(acked | wc -l)" -ge "$1" ] && return 0; sleep 0.1; done
	return 1
}
# all_auth FILE: prints how many keys of FILE do not authenticate
all_auth() {
	local bad=0 t
	while read -r t; do [ "$(auth "$t")" = 200 ] || bad=$((bad + 1)); done <"$1"
	echo "$bad"
}

# =================== cli ===================
ALICE=$(cli user add alice 2>/dev/null)
BOB=$(cli user add bob 2>/dev/null)
check "user add alice and bob" test -n "$ALICE" -a -n "$BOB"
start_server "$db" --key-quota 0 || { no "server start" "$(tail -5 "$SRV_LOG")"; finish; exit; }
H1=$(create_key "$ALICE" "alice-heron-1"); H2=$(create_key "$ALICE" "alice-heron-2")
if [ "$STORE" = sqlite ]; then
	# SQLite tells a process that it is the first on a WAL database (and may
	# reset the WAL index, the -shm file, that the others have mapped: their
	# next access is SIGBUS) by the lock each connection holds on the -shm;
	# a server that dropped it would be crashed by any CLI command
	ino=$(stat -c %i "$db-shm")
	awk -v ino=":$ino" -v pid="$SRV_PID" '$5 == pid && substr($6, length($6) - length(ino) + 1) == ino { f = 1 } END { exit !f }' /proc/locks \
		&& ok "the server holds its lock on the WAL index ($db-shm) while it runs" \
		|| no "the server holds no lock on $db-shm: another process may reset it under the server" "$(cat /proc/locks)"
fi
req POST /feldera/v0/api_keys "Authorization: Bearer $ALICE" '{"name":"alice-feldera"}'
FEL=$(jb .api_key)
check "alice's keys made through the API" test -n "$H1" -a -n "$H2" -a -n "$FEL"

# user list: one line per user, its unrevoked keys counted as heron's list
# (every family's) shows them
cli user list >"$dir/users.txt" 2>"$dir/users.err"
req GET /heron/api/credentials/keys "x-api-key: $ALICE"; n_all=$(jb '.keys | length')
jb '.keys[].heron_id' | sort >"$dir/api-uuids"
req GET /feldera/v0/api_keys "Authorization: Bearer $ALICE"; n_fel=$(jb 'length')
awk -F'\t' -v n="$n_all" '$2 == "alice" && $4 == n { f = 1 } END { exit !f }' "$dir/users.txt" \
	&& ok "user list: alice holds $n_all keys, as heron's list shows them" \
	|| no "user list: alice's keys" "$(cat "$dir/users.txt" "$dir/users.err")"
[ "$(cut -f2 "$dir/users.txt" | tr '\n' ' ')" = "alice bob " ] && ok "user list: alice and bob, by id" \
	|| no "user list names" "$(cat "$dir/users.txt")"
cli user list --json | jq -e -s 'length == 2 and .[1].name == "bob" and .[1].keys == 1' >/dev/null \
	&& ok "user list --json: one object per line" || no "user list --json" "$(cli user list --json)"

# key list --user alice: the same uuids as heron's list
cli key list --user alice >"$dir/keys.txt" 2>"$dir/keys.err"
cut -f2 "$dir/keys.txt" | sort >"$dir/cli-uuids"
cmp -s "$dir/api-uuids" "$dir/cli-uuids" && [ "$n_all" -ge 4 ] \
	&& ok "key list --user alice: heron's list, uuid for uuid ($n_all)" \
	|| no "key list vs the heron API" "$(paste "$dir/api-uuids" "$dir/cli-uuids")"
cli key list --user alice --family heron >"$dir/heron.txt"
[ "$(wc -l <"$dir/heron.txt")" = $((n_all - n_fel)) ] && awk -F'\t' '$3 != "heron" || $8 != "alice" { bad = 1 } END { exit bad }' "$dir/heron.txt" \
	&& ok "key list --family heron: the $((n_all - n_fel)) heron keys, all alice's" || no "key list --family heron" "$(cat "$dir/heron.txt")"
[ "$(cli key list --user alice --family feldera | cut -f4)" = "$(req GET /feldera/v0/api_keys "Authorization: Bearer $ALICE"; jb '.[].name')" ] \
	&& ok "key list --family feldera: feldera's list, by name" || no "key list --family feldera"
[ "$(cli key list | wc -l)" = "$((n_all + 1))" ] && ok "key list: every user's keys ($((n_all + 1)))" \
	|| no "key list without --user" "$(cli key list)"
# never the key itself nor its hash, in any form
cli key list --json >"$dir/all.json"; cli key list >>"$dir/all.txt"
for id in $(cut -f1 "$dir/keys.txt"); do cli key show "$id" >>"$dir/all.txt"; cli key show "$id" --json >>"$dir/all.json"; done
leak=0
for t in "$ALICE" "$BOB" "$H1" "$H2" "$FEL"; do grep -qF "$t" "$dir/all.txt" "$dir/all.json" && leak=1; done
for h in $(db_sql "$db" "SELECT lower(encode(hash, 'hex')) FROM keys" 2>/dev/null || db_sql "$db" "SELECT lower(hex(hash)) FROM keys"); do
	grep -qiF "$h" "$dir/all.txt" "$dir/all.json" && leak=1
done
[ $leak = 0 ] && ok "key list and key show (text and --json): no key, no hash" || no "key material in the CLI output"
jq -e -s 'all(has("token") | not) and all(.prefix | length == 8)' "$dir/all.json" >/dev/null \
	&& ok "key list --json parses line by line, prefix of 8 characters, no token field" || no "key list --json" "$(head -3 "$dir/all.json")"

# key show: the key heron shows, field for field
H1_UUID=$(req GET /heron/api/credentials/keys "x-api-key: $ALICE"; jb '.keys[] | select(.name == "alice-heron-1") | .heron_id')
H1_ID=$(awk -F'\t' -v u="$H1_UUID" '$2 == u { print $1 }' "$dir/keys.txt")
cli key show "$H1_ID" >"$dir/show.txt"
api=$(req GET /heron/api/credentials/keys "x-api-key: $ALICE"
	jb ".keys[] | select(.heron_id == \"$H1_UUID\") | [.heron_id, .name, .token_prefix, (.is_active|tostring), .created] | join(\" \")")
mine=$(awk -F'\t' '{ v[$1] = $2 } END { print v["uuid"], v["name"], v["prefix"], (v["state"] == "active" ? "true" : "false"), v["created"] }' "$dir/show.txt")
[ -n "$H1_ID" ] && [ "$api" = "$mine" ] && ok "key show $H1_ID: uuid, name, prefix, state and created as heron shows them" \
	|| no "key show vs heron" "api:  $api
cli:  $mine"
grep -qx "user	alice" "$dir/show.txt" && ok "key show: the owner by name" || no "key show owner" "$(cat "$dir/show.txt")"

# errors: precise, with the exit status of their kind
out=$(cli key show 999999 2>&1); rc=$?
[ $rc = 1 ] && grep -q "no key has this id" <<<"$out" && ok "key show 999999: exit 1, no key has this id" || no "key show unknown id ($rc)" "$out"
out=$(cli key show abc 2>&1); rc=$?
[ $rc = 2 ] && grep -q "not an id" <<<"$out" && ok "key show abc: exit 2, not an id" || no "key show abc ($rc)" "$out"
out=$(cli key list --family heorn 2>&1); rc=$?
[ $rc = 2 ] && grep -q "no such API; the families are heron, feldera" <<<"$out" && ok "key list --family heorn: exit 2, names the families" \
	|| no "key list --family heorn ($rc)" "$out"
out=$(cli key list --user nobody 2>&1); rc=$?
[ $rc = 1 ] && grep -q "no such user" <<<"$out" && ok "key list --user nobody: exit 1, no such user" || no "key list --user nobody ($rc)" "$out"
out=$(cli key revoke 999999 2>&1); rc=$?
[ $rc = 1 ] && grep -q "no key has this id" <<<"$out" && ok "key revoke 999999: exit 1, no key has this id" || no "key revoke unknown ($rc)" "$out"
out=$(cli audit --since yesterday 2>&1); rc=$?
[ $rc = 2 ] && grep -q "expected unix seconds" <<<"$out" && ok "audit --since yesterday: exit 2, says what it takes" || no "audit --since bad ($rc)" "$out"
out=$(cli key frobnicate 2>&1); rc=$?
[ $rc = 2 ] && grep -q "key show ID" <<<"$out" && ok "key frobnicate: exit 2, lists the key commands" || no "key frobnicate ($rc)" "$out"
for c in "user list" "key list" "key show" "key revoke" "audit" "secret list" "secret rotate" "secret retire" "backup" "restore"; do
	# shellcheck disable=SC2086
	out=$("$APIKEYD" $c --help 2>&1); rc=$?
	[ $rc = 0 ] && grep -q "^Usage: apikeyd $c" <<<"$out" || { no "apikeyd $c --help" "$out"; continue; }
	ok "apikeyd $c --help: its own usage"
done

# revoke from the CLI: the running server's next request is refused
[ "$(auth "$H2")" = 200 ] && [ "$(auth "$H2")" = 200 ] && ok "H2 authenticates (and is in the server's cache)" || no "H2 before revoke"
H2_UUID=$(req GET /heron/api/credentials/keys "x-api-key: $ALICE"; jb '.keys[] | select(.name == "alice-heron-2") | .heron_id')
H2_ID=$(cli key list --user alice | awk -F'\t' -v u="$H2_UUID" '$2 == u { print $1 }')
# audit times are whole seconds: wait for the next one, so no row written
# before this point shares the revoke's second
s0=$(date +%s); while [ "$(date +%s)" = "$s0" ]; do sleep 0.05; done
since=$(date +%s)
cli key revoke "$H2_ID" 2>"$dir/revoke.err" && ok "key revoke $H2_ID: exit 0" || no "key revoke" "$(cat "$dir/revoke.err")"
st=$(auth "$H2")
[ "$st" = 401 ] && ok "the running server refuses the revoked key at its very next request (401)" || no "next request after a CLI revoke: $st"
req GET /heron/api/credentials/keys "x-api-key: $ALICE"
[ "$(jb "[.keys[] | select(.heron_id == \"$H2_UUID\" and .is_active)] | length")" = 0 ] \
	&& ok "heron's list no longer shows it active" || no "heron after the CLI revoke" "$BODY_OUT"
cli key show "$H2_ID" | grep -qx "state	revoked" && ok "key show: revoked" || no "key show after revoke"
out=$(cli key revoke "$H2_ID" 2>&1); rc=$?
[ $rc = 1 ] && grep -q "revoked already" <<<"$out" && ok "revoking it again: exit 1, revoked already" || no "second revoke ($rc)" "$out"

# audit: every key the API created, and the CLI's revoke, as rows
cli audit >"$dir/audit.txt"
db_n=$(db_sql "$db" "SELECT count(*) FROM audit")
[ "$(wc -l <"$dir/audit.txt")" = "$db_n" ] && ok "audit: one line per audit row ($db_n)" || no "audit rows" "$(cat "$dir/audit.txt")"
missing=
for id in $(cli key list | cut -f1); do
	grep -qP "^\d+\t\S+\tcreate\t$id\t" "$dir/audit.txt" || missing="$missing $id"
done
[ -z "$missing" ] && ok "audit: a create row for every key key list shows" || no "audit: no create row for keys$missing" "$(cat "$dir/audit.txt")"
cli audit --since "$since" --json >"$dir/audit.json"
jq -e -s --arg id "$H2_ID" 'length == 1 and .[0].action == "revoke" and (.[0].key_id|tostring) == $id and .[0].client == "cli"' \
	"$dir/audit.json" >/dev/null && ok "audit --since (the revoke's second) --json: the CLI's revoke alone" \
	|| no "audit --since" "$(cat "$dir/audit.json")"
cli audit --since 1h | cmp -s - "$dir/audit.txt" && ok "audit --since 1h: every row of this run" || no "audit --since 1h"
[ -z "$(cli audit --since 2099-01-01T00:00:00Z)" ] && ok "audit --since a future time: none" || no "audit --since future"

# =================== rotation ===================
ring=$dir/state/apikeyd.secret
IDLE=$(cli user add idle 2>/dev/null)        # a key on secret 1, not used until later
OWNER=$(cli user add loader 2>/dev/null)
load_start "$OWNER"
wait_keys 15 || no "load: no keys acknowledged"
# reloaded N: until the server's log says it uses secret N (at most 10 s;
# the load's requests make it look at the file)
reloaded() { for _ in $(seq 100); do grep -q "new keys use secret $1\$" "$SRV_LOG" && return 0; sleep 0.1; done; return 1; }
r1=$(cli secret rotate 2>"$dir/rot1.err")
reloaded 2; wait_keys "$(( $(acked | wc -l) + 15 ))"
r2=$(cli secret rotate 2>"$dir/rot2.err")
reloaded 3; wait_keys "$(( $(acked | wc -l) + 15 ))"
load_stop
[ "$r1" = 2 ] && [ "$r2" = 3 ] && ok "secret rotate twice under load: secrets 2 and 3" || no "rotate ids: $r1 $r2" "$(cat "$dir/rot1.err" "$dir/rot2.err")"
[ "$(stat -c %a "$ring")" = 600 ] && [ "$(head -1 "$ring")" = "apikeyd-keyring 1" ] && [ "$(wc -l <"$ring")" = 4 ] \
	&& ok "the keyring: mode 0600, three secrets" || no "keyring file" "$(stat -c %a "$ring"; head -1 "$ring")"
[ -z "$(ls "$dir/state" | grep '\.tmp')" ] && ok "no temporary keyring file left" || no "tmp files" "$(ls "$dir/state")"
grep -q "reloaded: 3 secret(s), new keys use secret 3" "$SRV_LOG" && ok "the running server read the keyring again (secret 3)" \
	|| no "no reload in the server log" "$(grep -i keyring "$SRV_LOG")"
acked >"$dir/rot-acked"; n_acked=$(wc -l <"$dir/rot-acked")
fails=$(cat "$dir"/authfail.* | wc -l)
[ "$fails" = 0 ] && ok "no request of an acknowledged key failed during the rotations" || no "$fails failed during the rotations" "$(cat "$dir"/authfail.* | head -5)"
[ "$n_acked" -ge 45 ] && ok "load: $n_acked keys acknowledged across the rotations" || no "too little load: $n_acked"
cli secret list >"$dir/secrets.txt"
awk -F'\t' '$1 == 3 && $3 == "current" && $4 > 0 { f = 1 } END { exit !f }' "$dir/secrets.txt" \
	&& ok "secret list: keys made after the rotations use secret 3" || no "secret list" "$(cat "$dir/secrets.txt")"
bad=$(all_auth "$dir/rot-acked")
[ "$bad" = 0 ] && ok "every one of the $n_acked acknowledged keys authenticates after two rotations" || no "$bad of $n_acked keys lost"
# the idle key still needs secret 1
out=$(cli secret retire 1 2>&1); rc=$?
[ $rc = 1 ] && grep -q "unrevoked key(s) were made with it" <<<"$out" && ok "secret retire 1: refused while the idle key needs it" \
	|| no "retire 1 while needed ($rc)" "$out"
out=$(cli secret retire 3 2>&1); rc=$?
[ $rc = 1 ] && grep -q "current secret" <<<"$out" && ok "secret retire 3: refused, the current secret" || no "retire current ($rc)" "$out"
out=$(cli secret retire 9 2>&1); rc=$?
[ $rc = 1 ] && grep -q "no secret with this id" <<<"$out" && ok "secret retire 9: no such secret" || no "retire unknown ($rc)" "$out"
# the keys made before the rotations and unused since: each moves at its first use
olds=0
for t in "$IDLE" "$ALICE" "$BOB" "$H1" "$FEL"; do [ "$(auth "$t")" = 200 ] && olds=$((olds + 1)); done
[ $olds = 5 ] && ok "the 5 keys made with secret 1 and unused since (the idle key among them) authenticate" \
	|| no "keys made with secret 1: $olds of 5 authenticate"
cli secret list | awk -F'\t' '($1 == 1 || $1 == 2) && $4 != 0 { bad = 1 } END { exit bad }' \
	&& ok "secret list: no unrevoked key left on secrets 1 and 2" || no "keys left on old secrets" "$(cli secret list)"
sleep 3   # the settle time after secret 3 became current
cli secret retire 1 2>"$dir/ret.err" && cli secret retire 2 2>>"$dir/ret.err" && ok "secret retire 1, then 2" || no "retire" "$(cat "$dir/ret.err")"
[ "$(wc -l <"$ring")" = 2 ] && ok "the keyring holds secret 3 alone" || no "keyring after retire" "$(cut -d' ' -f1 "$ring")"
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
start_server "$db" --key-quota 0 || no "restart" "$(tail -3 "$SRV_LOG")"
printf '%s\n' "$IDLE" "$ALICE" "$BOB" "$H1" "$FEL" >>"$dir/rot-acked"
bad=$(all_auth "$dir/rot-acked")
[ "$bad" = 0 ] && ok "restarted with secret 3 alone: all $((n_acked + 5)) keys authenticate" || no "$bad keys fail after retire + restart"
if [ "$STORE" = sqlite ]; then
	# a keyring whose secret 3 is not the store's: refused at start, naming it
	mkdir -p "$dir/tamper"; cp "$db" "$dir/tamper/apikeyd.db"
	c=$(sed -n 2p "$ring" | cut -d' ' -f2 | cut -c1); [ "$c" = 0 ] && n=1 || n=0
	sed "2s/ $c/ $n/" "$ring" >"$dir/tamper/apikeyd.secret"; chmod 600 "$dir/tamper/apikeyd.secret"
	"$APIKEYD" --db "$dir/tamper/apikeyd.db" --listen "127.0.0.1:$(free_port)" --tls-listen off >/dev/null 2>"$dir/tamper.log" &
	tp=$!; SRV_PIDS+=("$tp")
	for _ in $(seq 100); do kill -0 "$tp" 2>/dev/null || break; sleep 0.05; done
	! kill -0 "$tp" 2>/dev/null && grep -q "secret 3 is not the one" "$dir/tamper.log" \
		&& ok "a keyring whose secret 3 differs: the server refuses to start, naming secret 3" \
		|| no "tampered keyring" "$(cat "$dir/tamper.log")"
fi

# =================== backup ===================
load_start "$OWNER"
wait_keys 20
acked >"$dir/before-backup"
cli backup "$dir/bk" >/dev/null 2>"$dir/bk.err"; rc=$?
after=$(create_key "$OWNER" "after-backup")
wait_keys "$(( $(wc -l <"$dir/before-backup") + 15 ))"
load_stop
[ $rc = 0 ] && ok "backup under create load: exit 0" || no "backup ($rc)" "$(cat "$dir/bk.err")"
[ "$(stat -c %a "$dir/bk/keyring")" = 600 ] && [ "$(stat -c %a "$dir/bk")" = 700 ] && ok "backup: the keyring 0600, the folder 0700" \
	|| no "backup modes" "$(ls -la "$dir/bk")"
[ "$(jq -r .store.sha256 "$dir/bk/manifest.json")" = "$(sha256sum <"$dir/bk/$(jq -r .store.file "$dir/bk/manifest.json")" | cut -d' ' -f1)" ] &&
	[ "$(jq -r .keyring.sha256 "$dir/bk/manifest.json")" = "$(sha256sum <"$dir/bk/keyring" | cut -d' ' -f1)" ] &&
	[ "$(jq -r .format "$dir/bk/manifest.json")" = "apikeyd-backup 1" ] \
	&& ok "manifest: format and the SHA-256 of the store's copy and the keyring" || no "manifest" "$(cat "$dir/bk/manifest.json")"
if [ "$STORE" = sqlite ]; then
	[ "$(sqlite3 "$dir/bk/store.db" 'PRAGMA integrity_check')" = ok ] && ok "the copy passes integrity_check" || no "copy integrity"
else
	pg_restore --list "$dir/bk/store.pgdump" | grep -q "TABLE DATA public keys" && ok "the copy is a pg_dump archive with the keys" \
		|| no "pg_dump archive" "$(ls -la "$dir/bk")"
fi
out=$(cli backup "$dir/bk" 2>&1); rc=$?
[ $rc = 1 ] && grep -q "not empty" <<<"$out" && ok "backup into a non-empty folder: refused" || no "backup into bk again ($rc)" "$out"
fresh=$dir/fresh/apikeyd.db
# restore_to PATH ARGS...: into PATH's store (PostgreSQL: the database
# apikeyd-pg maps PATH to, created empty; the keyring where it looks)
restore_to() {
	local p=$1; shift
	if [ "$STORE" = postgresql ]; then
		local name; name=$(pg_db_name "$p"); mkdir -p "$(dirname "$p")"
		[ -n "$(pg_psql postgres "SELECT 1 FROM pg_database WHERE datname = '$name'")" ] || pg_createdb "$name"
		"$APIKEYD_REAL" restore "$@" --db "$(pg_url "$name")" --secret "$(dirname "$p")/apikeyd.secret"
	else
		"$APIKEYD" restore "$@" --db "$p"
	fi
}
restore_to "$fresh" "$dir/bk" 2>"$dir/restore.err" && ok "restore into a fresh folder: exit 0" \
	|| no "restore" "$(cat "$dir/restore.err")"
[ "$(stat -c %a "$dir/fresh/apikeyd.secret")" = 600 ] && cmp -s "$dir/fresh/apikeyd.secret" "$dir/bk/keyring" \
	&& ok "restore: the keyring in place, mode 0600" || no "restored keyring"
out=$(restore_to "$fresh" "$dir/bk" 2>&1); rc=$?
[ $rc = 1 ] && grep -q "refusing to overwrite" <<<"$out" && ok "restore onto an existing store without --force: refused" \
	|| no "restore without --force ($rc)" "$out"
cp -r "$dir/bk" "$dir/bk-bad"; printf x >>"$dir/bk-bad/$(jq -r .store.file "$dir/bk/manifest.json")"
out=$(restore_to "$dir/fresh2/apikeyd.db" "$dir/bk-bad" 2>&1); rc=$?
[ $rc = 1 ] && grep -q "SHA-256 differs" <<<"$out" && ok "restore of an altered copy: refused (SHA-256)" || no "altered copy ($rc)" "$out"
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
start_server "$fresh" --key-quota 0 || no "server on the restored copy" "$(tail -3 "$SRV_LOG")"
n_before=$(wc -l <"$dir/before-backup")
bad=$(all_auth "$dir/before-backup")
[ "$bad" = 0 ] && [ "$n_before" -ge 20 ] && ok "on the restored copy: all $n_before keys acknowledged before the backup authenticate" \
	|| no "$bad of $n_before keys fail on the restored copy"
[ -n "$after" ] && [ "$(auth "$after")" = 401 ] && ok "a key made after the backup finished is not in the copy (401)" \
	|| no "post-backup key on the copy"
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
finish

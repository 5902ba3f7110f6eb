#!/bin/bash
# test-pgmigrate: a SQLite store made through the HTTP API (two users, keys
# of all five families, some deactivated, revoked or deleted) copied by
# `apikeyd migrate` into an empty PostgreSQL store; apikeyd on PostgreSQL
# with the same secret file answers every key as before (each that worked
# works, each refused is refused, on its own family), lists the same keys,
# keeps ids, audit rows and hashes, and hands out ids past the old ones.
# Then the refusals: a non-empty target, a missing source, a source or a
# target at a schema it does not know, a URI that is not PostgreSQL, and a
# start with the wrong secret. The source file is never written.
set -u
SUITE=pgmigrate
APIKEYD_STORE=sqlite   # the PostgreSQL server is this suite's own
. "$(dirname "$0")/../lib/apikeyd.sh"
. "$top/tests/lib/pg.sh"

SRC=$dir/src.db
SECRET=$dir/apikeyd.secret
(umask 077; head -c 32 /dev/urandom >"$SECRET")
args=(--secret "$SECRET" --state-dir "$dir")

ALICE=$("$APIKEYD" user add alice --db "$SRC" "${args[@]}" 2>"$dir/ua.err")
BOB=$("$APIKEYD" user add bob --db "$SRC" "${args[@]}" 2>>"$dir/ua.err")
[[ $ALICE == key_* && $BOB == key_* ]] && ok "two users on the SQLite store" || no "user add" "$(cat "$dir/ua.err")"
start_server "$SRC" "${args[@]}" || { no "apikeyd starts on SQLite" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
SRC_PID=$SRV_PID

# TOK[name] the token, FAM[name] its family; keys named <family>-<n>
declare -A TOK FAM BEFORE
create() { # create FAMILY OWNERKEY NAME [ROLE]
	local role=; [ -n "${4:-}" ] && role=",\"role\":\"$4\""
	req POST "$(create_path "$1")" "$(auth_header "$1" "$2")" "{\"name\":\"$3\"$role}"
	TOK[$3]=$(jb "$(token_of "$1")"); FAM[$3]=$1
	[ "$STATUS" = 201 ] || [ "$STATUS" = 200 ] || no "create $3 on $1: $STATUS" "$BODY_OUT"
	cp "$dir/out" "$dir/create-$3.json"
}
for f in $FAMILIES; do
	# a keyring rotation half way: the keys after it are made with secret 2
	# (the server reads the keyring again within a second: its log says so)
	if [ $f = nebula ]; then
		"$APIKEYD" secret rotate --db "$SRC" "${args[@]}" >/dev/null 2>>"$dir/ua.err"
		for _ in $(seq 100); do
			req GET "$(list_path heron)" "x-api-key: $ALICE"
			grep -q "new keys use secret 2" "$SRV_LOG" && break; sleep 0.1
		done
	fi
	# Feldera: the write role its list needs, but feldera-4 read (403 on the list)
	role=; [ $f = feldera ] && role=write
	for n in 1 2 3; do create "$f" "$ALICE" "$f-$n" $role; done
	create "$f" "$ALICE" "$f-4" $([ $f = feldera ] && echo read)
	create "$f" "$BOB" "$f-bob" $role
done
ok "20 keys of alice and 5 of bob over the five families"
# the id each family's mutations take
kid() {
	case ${FAM[$1]} in
	heron) jq -r .heron_id "$dir/create-$1.json" ;;
	feldera) echo "$1" ;;
	nebula | nebula_uuid) jq -r .data.id "$dir/create-$1.json" ;;
	fastapi) jq -r .id "$dir/create-$1.json" ;;
	esac
}
mpath() { case ${FAM[$1]} in fastapi) echo "/fastapi/api/auth/api-keys/$(kid "$1")" ;; *) echo "$(list_path "${FAM[$1]}")/$(kid "$1")" ;; esac; }
muts=0
req PUT "$(mpath heron-2)/deactivate" "x-api-key: $ALICE"; [ "$STATUS" = 200 ] && muts=$((muts + 1))
req PUT "$(mpath heron-3)/deactivate" "x-api-key: $ALICE"; [ "$STATUS" = 200 ] && muts=$((muts + 1))
req PUT "$(mpath heron-3)/activate" "x-api-key: $ALICE"; [ "$STATUS" = 200 ] && muts=$((muts + 1))
for k in heron-4 feldera-2 nebula-2 nebula_uuid-2 fastapi-2 fastapi-3 nebula-bob; do
	o=$ALICE; [ "$k" = nebula-bob ] && o=$BOB
	req DELETE "$(mpath "$k")" "$(auth_header "${FAM[$k]}" "$o")"
	case $STATUS in 200 | 204) muts=$((muts + 1)) ;; *) echo "      DELETE $k: $STATUS $BODY_OUT" ;; esac
done
# the newest key deleted: only the audit and SQLite's sequence remember its id
create heron "$ALICE" last
req DELETE "$(mpath last)" "x-api-key: $ALICE"; [ "$STATUS" = 204 ] && muts=$((muts + 1))
unset "TOK[last]"
[ $muts = 11 ] && ok "deactivated, reactivated, revoked and deleted keys on every family" || no "mutations: $muts of 11 answered 2xx"

# every key's answer on its own family's list, and the owners' lists
probe() { # probe NAME -> the status of the key on its family
	req GET "$(list_path "${FAM[$1]}")" "$(auth_header "${FAM[$1]}" "${TOK[$1]}")"; echo "$STATUS"
}
# a list without what a request may change (last use)
lists() { # lists OUT
	: >"$1"
	for f in $FAMILIES; do
		for o in "$ALICE" "$BOB"; do
			req GET "$(list_path "$f")" "$(auth_header "$f" "$o")"
			echo "$f $STATUS" >>"$1"
			jq -S 'walk(if type == "object" then with_entries(select(.key | test("used|expires_at") | not)) else . end)' \
				"$dir/out" >>"$1"
		done
	done
}
lists "$dir/lists.before"
works=0; refused=0; forbidden=0
for k in "${!TOK[@]}"; do
	BEFORE[$k]=$(probe "$k")
	case ${BEFORE[$k]} in 200) works=$((works + 1)) ;; 401) refused=$((refused + 1)) ;; 403) forbidden=$((forbidden + 1)) ;; esac
done
[ $works = 16 ] && [ $refused = 8 ] && [ $forbidden = 1 ] && ok "before: 16 keys work, 8 are refused (401), one lacks the role (403)" \
	|| no "before: $works work, $refused refused, $forbidden forbidden (want 16, 8, 1)"
max_id=$(sqlite3 -batch -noheader "$SRC" "SELECT max(key_id) FROM audit")
max_row=$(sqlite3 -batch -noheader "$SRC" "SELECT max(id) FROM keys")
[ "$max_id" -gt "$max_row" ] && ok "the highest key id ($max_id) is a deleted key's (highest row: $max_row)" || no "max ids $max_id $max_row"
n_audit=$(sqlite3 -batch -noheader "$SRC" "SELECT count(*) FROM audit")
kill -TERM "$SRC_PID"; wait "$SRC_PID" 2>/dev/null

# the source as it was, byte for byte (and its WAL files, if any)
sum_src() { cat "$SRC" "$SRC-wal" 2>/dev/null | sha256sum; }
src_sum=$(sum_src)
ls "$SRC"* >"$dir/src.files"

pg_start "$dir" >/dev/null || { no "PostgreSQL starts"; finish; exit 1; }
trap 'pg_stop immediate; lib_cleanup' EXIT
pg_createdb keys
URL=$(pg_url keys)

# ---- the copy ----
"$APIKEYD" migrate --from "$SRC" --to "$URL" >"$dir/migrate.out" 2>"$dir/migrate.err"; rc=$?
sed 's/^/      /' "$dir/migrate.out"
[ $rc = 0 ] && ok "migrate exits 0" || no "migrate exits $rc" "$(cat "$dir/migrate.err")"
# the source read without a trace (no -wal or -shm made beside it)
qs() { sqlite3 -batch -noheader -separator "|" "file:$SRC?immutable=1" "$1"; }
n_keys=$(qs "SELECT count(*) FROM keys")
grep -q "verified: row counts equal, $n_keys key hashes equal" "$dir/migrate.out" && ok "migrate verified all $n_keys keys' hashes" \
	|| no "migrate's verification line" "$(cat "$dir/migrate.out")"
[ "$(sum_src)" = "$src_sum" ] && [ "$(ls "$SRC"*)" = "$(cat "$dir/src.files")" ] && ok "the source file is untouched" \
	|| no "the source changed" "$(ls -l "$SRC"*)"

q() { pg_psql keys "$1"; }
cols="id, uuid, user_id, family, name, coalesce(description, '<null>'), role, prefix, tail, hex(hash), active, revoked, created, coalesce(last_used, -1)"
pgcols="id, uuid, user_id, family, name, coalesce(description, '<null>'), role, prefix, tail, upper(encode(hash, 'hex')), active, revoked, created, coalesce(last_used, -1)"
[ "$(qs "SELECT $cols FROM keys ORDER BY id")" = "$(psql -X -q -A -t -F '|' -h "$PG_SOCK" -U postgres -d keys -c "SELECT $pgcols FROM keys ORDER BY id")" ] \
	&& ok "every key row equal in every column (ids, uuids, hashes, states, times)" || no "key rows differ"
[ "$(qs "SELECT id, at, coalesce(actor, -1), coalesce(key_id, -1), action, coalesce(client, '') FROM audit ORDER BY id")" = \
  "$(psql -X -q -A -t -F '|' -h "$PG_SOCK" -U postgres -d keys -c "SELECT id, at, coalesce(actor, -1), coalesce(key_id, -1), action, coalesce(client, '') FROM audit ORDER BY id")" ] \
	&& [ "$(q "SELECT count(*) FROM audit")" = "$n_audit" ] && ok "all $n_audit audit rows equal" || no "audit rows differ"
[ "$(qs "SELECT id, name, created FROM users ORDER BY id")" = "$(psql -X -q -A -t -F '|' -h "$PG_SOCK" -U postgres -d keys -c "SELECT id, name, created FROM users ORDER BY id")" ] \
	&& ok "users equal" || no "users differ"
[ "$(qs "SELECT value FROM meta WHERE name = 'secret_check'")" = "$(q "SELECT value FROM meta WHERE name = 'secret_check'")" ] \
	&& [ -n "$(q "SELECT value FROM meta WHERE name = 'secret_check'")" ] && ok "the secret's check value copied" || no "secret_check"
[ "$(qs "SELECT id, secret_id FROM keys ORDER BY id")" = "$(psql -X -q -A -t -F '|' -h "$PG_SOCK" -U postgres -d keys -c "SELECT id, secret_id FROM keys ORDER BY id")" ] \
	&& [ "$(qs "SELECT count(DISTINCT secret_id) FROM keys")" = 2 ] && ok "each key's keyring secret id copied (secrets 1 and 2)" \
	|| no "secret ids differ" "$(qs "SELECT secret_id, count(*) FROM keys GROUP BY 1")"
[ "$(qs "SELECT value FROM meta WHERE name = 'secret_check.2'")" = "$(q "SELECT value FROM meta WHERE name = 'secret_check.2'")" ] \
	&& [ -n "$(q "SELECT value FROM meta WHERE name = 'secret_check.2'")" ] && ok "the rotated secret's check value copied" || no "secret_check.2"

# ---- apikeyd on the copy, with the same secret ----
start_server "$URL" "${args[@]}" || { no "apikeyd starts on the copy" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
PG_PID=$SRV_PID
lists "$dir/lists.after"
diff "$dir/lists.before" "$dir/lists.after" >"$dir/lists.diff" && ok "every family's list of alice and bob is the same" \
	|| no "lists differ" "$(head -8 "$dir/lists.diff")"
same=0; diffs=""
for k in "${!TOK[@]}"; do
	s=$(probe "$k")
	[ "$s" = "${BEFORE[$k]}" ] && same=$((same + 1)) || diffs="$diffs $k:${BEFORE[$k]}->$s"
done
[ $same = ${#TOK[@]} ] && ok "all ${#TOK[@]} keys answer as before ($works work, $refused refused, $forbidden forbidden) on their families" \
	|| no "keys answering differently:$diffs"
for o in ALICE BOB; do
	req GET /heron/api/credentials/keys "x-api-key: ${!o}"; [ "$STATUS" = 200 ] || no "$o's first key after the copy: $STATUS"
done
req POST /nebulablock/api/v1/api-keys "Authorization: Bearer $ALICE" '{"name":"after"}'
new_neb=$(jb .data.id)
req POST /heron/api/credentials/keys "x-api-key: $ALICE" '{"name":"after"}'
new_tok=$(jb .token)
new_id=$(q "SELECT id FROM keys WHERE name = 'after' AND family = (SELECT family FROM keys WHERE id = $new_neb)")
[ -n "$new_neb" ] && [ "$new_neb" -gt "$max_id" ] && [ "$(q "SELECT min(id) FROM keys WHERE name = 'after'")" -gt "$max_id" ] \
	&& ok "new keys get ids past every old one ($new_neb > $max_id, deleted keys included)" || no "new ids: nebula $new_neb, max old $max_id"
req GET /heron/api/credentials/keys "x-api-key: $new_tok"; expect "a key created after the copy works" 200
[ "$(q "SELECT count(*) FROM users")" = 2 ] && req POST /heron/api/credentials/keys "x-api-key: $BOB" '{"name":"bob-after"}' && \
	[ "$STATUS" = 201 ] && ok "the users' and audit's sequences continue (a create writes its audit row)" || no "create by bob after the copy: $STATUS"
kill -TERM "$PG_PID"; wait "$PG_PID" 2>/dev/null

# ---- refusals ----
"$APIKEYD" migrate --from "$SRC" --to "$URL" >/dev/null 2>"$dir/again.err"; rc=$?
[ $rc != 0 ] && grep -q "not empty" "$dir/again.err" && ok "a non-empty target refused (exit $rc): $(cat "$dir/again.err")" \
	|| no "non-empty target: exit $rc" "$(cat "$dir/again.err")"
pg_createdb fresh
"$APIKEYD" migrate --from "$dir/nosuch.db" --to "$(pg_url fresh)" >/dev/null 2>"$dir/missing.err"; rc=$?
[ $rc != 0 ] && grep -q "no such file" "$dir/missing.err" && [ ! -e "$dir/nosuch.db" ] && ok "a missing source refused, not created (exit $rc)" \
	|| no "missing source: exit $rc" "$(cat "$dir/missing.err")"
cp "$SRC" "$dir/future.db"; sqlite3 "$dir/future.db" "PRAGMA user_version = 99"
"$APIKEYD" migrate --from "$dir/future.db" --to "$(pg_url fresh)" >/dev/null 2>"$dir/future.err"; rc=$?
[ $rc != 0 ] && grep -q "schema version 99" "$dir/future.err" && ok "a source at an unknown schema refused (exit $rc)" \
	|| no "source schema 99: exit $rc" "$(cat "$dir/future.err")"
echo garbage >"$dir/garbage.db"
"$APIKEYD" migrate --from "$dir/garbage.db" --to "$(pg_url fresh)" >/dev/null 2>"$dir/garbage.err"; rc=$?
[ $rc != 0 ] && grep -qi "not a SQLite store\|not an apikeyd" "$dir/garbage.err" && ok "a file that is not a store refused (exit $rc)" \
	|| no "garbage source: exit $rc" "$(cat "$dir/garbage.err")"
[ "$(pg_psql fresh "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0 ] && ok "the refused migrations left the target as it was (no table)" || no "the refused migrations wrote to the target"
pg_createdb future
pg_psql future "CREATE TABLE apikeyd_schema (one BOOLEAN PRIMARY KEY DEFAULT TRUE, version INTEGER NOT NULL); INSERT INTO apikeyd_schema(version) VALUES (7)" >/dev/null
"$APIKEYD" migrate --from "$SRC" --to "$(pg_url future)" >/dev/null 2>"$dir/tfuture.err"; rc=$?
[ $rc != 0 ] && grep -q "schema version 7" "$dir/tfuture.err" && ok "a target at an unknown schema refused (exit $rc)" \
	|| no "target schema 7: exit $rc" "$(cat "$dir/tfuture.err")"
"$APIKEYD" migrate --from "$SRC" --to "$dir/other.db" >/dev/null 2>"$dir/notpg.err"; rc=$?
[ $rc != 0 ] && [ ! -e "$dir/other.db" ] && ok "a target that is not PostgreSQL refused (exit $rc)" || no "sqlite target: exit $rc"
"$APIKEYD" migrate --from "$SRC" >/dev/null 2>"$dir/usage.err"; rc=$?
[ $rc = 2 ] && ok "missing --to is a usage error (exit 2)" || no "missing --to: exit $rc"
# a copy that comes out wrong (a trigger on the target zeroes one key's
# hash as it is inserted): the verification finds it, nothing is committed
pg_createdb bent
start_server "$(pg_url bent)" "${args[@]}" || no "apikeyd makes the schema on bent" "$(tail -3 "$SRV_LOG")"
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
bent_id=$(qs "SELECT id FROM keys ORDER BY id LIMIT 1 OFFSET 5")
pg_psql bent "DELETE FROM meta; CREATE FUNCTION bend() RETURNS trigger AS \$\$ BEGIN IF NEW.id = $bent_id THEN NEW.hash := decode(repeat('00', 32), 'hex'); END IF; RETURN NEW; END \$\$ LANGUAGE plpgsql; CREATE TRIGGER bend BEFORE INSERT ON keys FOR EACH ROW EXECUTE FUNCTION bend()" >/dev/null
"$APIKEYD" migrate --from "$SRC" --to "$(pg_url bent)" >/dev/null 2>"$dir/bent.err"; rc=$?
[ $rc != 0 ] && grep -q "verification failed: 1 key(s) differ; the first: key $bent_id: its hash" "$dir/bent.err" \
	&& [ "$(pg_psql bent "SELECT (SELECT count(*) FROM keys) + (SELECT count(*) FROM users) + (SELECT count(*) FROM audit)")" = 0 ] \
	&& ok "a hash that differs after the copy is found (key $bent_id), nothing committed (exit $rc)" || no "bent copy: exit $rc" "$(cat "$dir/bent.err")"
(umask 077; head -c 32 /dev/urandom >"$dir/wrong.secret")
start_server "$URL" --secret "$dir/wrong.secret" --state-dir "$dir" && { no "apikeyd started on the copy with the wrong secret"; kill -KILL "$SRV_PID"; } \
	|| { grep -q "not the secret the keys in the database were made with" "$SRV_LOG" && ok "the wrong secret at start refused (its check value differs)" || no "wrong secret: no reason logged" "$(tail -3 "$SRV_LOG")"; }
[ "$(sum_src)" = "$src_sum" ] && ok "the source still untouched at the end" || no "the source changed"
finish

#!/bin/bash
# test-crash: a load of concurrent creates through all five families (curl,
# many transfers in parallel over plain HTTP on loopback), `kill -9` of the
# real apikeyd in the middle of it, a restart on the same database.
#
# Every request carries a name no other request uses, so each stored key
# names the request that made it. Each request ends in one of:
#   answered  an HTTP status arrived (before the kill every one must be 201);
#   in flight sent, but the connection died before a status arrived (curl
#             exit 52/55/56...): its create may or may not have committed;
#   not sent  the connection was refused (curl exit 7): the server was gone.
# Each request has its own connection (Connection: close): on a reused
# connection that dies, curl silently resends the request on a new one, and
# a refusal (exit 7) would then hide a request that was sent and committed.
# Asserted after the restart, reading the database file with sqlite3 and
# through HTTP:
#   - every key answered 201 is stored (the same key: its token's first 8
#     characters are the stored prefix) and authenticates, each one checked;
#   - every stored key belongs to an answered-201 or in-flight request, so
#     201s <= stored <= 201s + in flight, and no refused request is stored;
#   - nothing else: the store holds exactly those keys plus the user's first
#     key, each with exactly one "create" audit row; integrity_check is ok;
#   - no key material is in the database file or its WAL.
set -u
SUITE=crash
. "$(dirname "$0")/../lib/apikeyd.sh"

N=${CRASH_REQUESTS:-3000}     # creates in the load
PAR=32                        # transfers in parallel
KILL_AFTER=${CRASH_KILL_AFTER:-300}   # kill -9 once this many 201s arrived
fams=($FAMILIES)
db=$dir/var/apikeyd.db

KEY=$(user_add "$db" alice)
[[ $KEY == key_* ]] || { no "user add" "$KEY"; finish; exit 1; }
start_server "$db" || { no "apikeyd starts" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
first_pid=$SRV_PID

# ---- the load: one curl, N transfers, PAR at a time ----
mkdir -p "$dir/resp"
cfg=$dir/load.cfg
: >"$cfg"
cpath=(); cauth=(); crole=()
# Feldera keys ask for write: one made without a role is read (Feldera's
# default), and Feldera's probe below needs write
for f in $FAMILIES; do cpath+=("$H$(create_path "$f")"); cauth+=("$(auth_header "$f" "$KEY")"); crole+=("$([ "$f" = feldera ] && echo ',\"role\":\"write\"')"); done
for i in $(seq 1 "$N"); do
	f=$((i % 5))
	[ "$i" -gt 1 ] && echo next >>"$cfg"
	cat >>"$cfg" <<-CFG
	url = "${cpath[$f]}"
	header = "${cauth[$f]}"
	header = "Content-Type: application/json"
	header = "Connection: close"
	data = "{\"name\":\"crash-$i\"${crole[$f]}}"
	output = "$dir/resp/$i"
	write-out = "%{http_code} %{exitcode} $i\n"
	CFG
done
curl -s --no-progress-meter -Z --parallel-immediate --parallel-max "$PAR" -K "$cfg" >"$dir/load.out" 2>"$dir/load.err" &
curl_pid=$!
# kill -9 as soon as KILL_AFTER creates were answered (never on a timer)
while kill -0 "$curl_pid" 2>/dev/null && [ "$(grep -c '^201 ' "$dir/load.out")" -lt "$KILL_AFTER" ]; do
	sleep 0.02
done
kill -KILL "$first_pid"
wait "$first_pid" 2>/dev/null
wait "$curl_pid"

lines=$(wc -l <"$dir/load.out")
[ "$lines" -eq "$N" ] && ok "curl reported every one of the $N requests" || no "curl reported $lines of $N requests"
# classify: answered (HTTP status), in flight (no status, not refused), not sent (refused)
awk '$1 != "000" {print $3 > "'"$dir"'/answered"} $1 == "201" {print $3 > "'"$dir"'/got201"}
     $1 == "000" && $2 == 7 {print $3 > "'"$dir"'/notsent"} $1 == "000" && $2 != 7 {print $3 > "'"$dir"'/inflight"}
     $1 != "000" && $1 != "201" {print > "'"$dir"'/other"}' "$dir/load.out"
touch "$dir/answered" "$dir/got201" "$dir/notsent" "$dir/inflight" "$dir/other"
n201=$(wc -l <"$dir/got201"); nin=$(wc -l <"$dir/inflight"); nnot=$(wc -l <"$dir/notsent")
echo "      $n201 answered 201, $nin in flight at the kill, $nnot refused after it"
[ "$n201" -ge "$KILL_AFTER" ] && ok "at least $KILL_AFTER creates answered 201 before the kill" || no "only $n201 creates answered 201"
[ $((nin + nnot)) -gt 0 ] && ok "the kill came in the middle of the load" || no "the load finished before the kill"
# (in flight may exceed PAR: while the killed process is torn down, the kernel
# still accepts connections on its socket, and they are reset unanswered)
odd=$(awk '$1 == "000" && $2 != 7 && $2 != 52 && $2 != 55 && $2 != 56' "$dir/load.out" | wc -l)
[ "$odd" -eq 0 ] && ok "every unanswered request ended in a connection error (curl exit 7, 52, 55 or 56)" \
	|| no "$odd unanswered requests ended otherwise" "$(awk '$1 == "000" && $2 != 7' "$dir/load.out" | head -3)"
[ ! -s "$dir/other" ] && ok "every answered create was a 201" || no "answers other than 201" "$(head -5 "$dir/other")"

# ---- restart on the same database ----
start_server "$db" && ok "apikeyd restarts on the database after kill -9" || { no "restart" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
sq() { db_sql "$db" "$1"; }
[ "$(db_integrity "$db")" = ok ] && ok "integrity_check ok after the crash" || no "integrity_check"

sq "SELECT substr(name, 7) FROM keys WHERE name LIKE 'crash-%'" | sort >"$dir/stored"
sort "$dir/got201" >"$dir/got201.s"; sort "$dir/inflight" >"$dir/inflight.s"; sort "$dir/notsent" >"$dir/notsent.s"
sort -m "$dir/got201.s" "$dir/inflight.s" >"$dir/maybe.s"
nstored=$(wc -l <"$dir/stored")
missing=$(comm -23 "$dir/got201.s" "$dir/stored" | wc -l)
[ "$missing" -eq 0 ] && ok "every one of the $n201 keys answered 201 is stored" \
	|| no "$missing keys answered 201 are missing" "$(comm -23 "$dir/got201.s" "$dir/stored" | head -5)"
unexplained=$(comm -13 "$dir/maybe.s" "$dir/stored" | wc -l)
[ "$unexplained" -eq 0 ] && ok "every stored key belongs to a request answered 201 or in flight" \
	|| no "$unexplained stored keys belong to no such request" "$(comm -13 "$dir/maybe.s" "$dir/stored" | head -5)"
[ "$nstored" -ge "$n201" ] && [ "$nstored" -le $((n201 + nin)) ] \
	&& ok "201s <= stored <= 201s + in flight ($n201 <= $nstored <= $((n201 + nin)))" \
	|| no "stored $nstored outside [$n201, $((n201 + nin))]"
[ -z "$(comm -12 "$dir/notsent.s" "$dir/stored")" ] && ok "no refused request is stored" || no "a refused request is stored"
[ "$(sq 'SELECT count(*) FROM keys')" -eq $((nstored + 1)) ] && ok "nothing else in the store (the first key + the crash keys)" \
	|| no "the store holds $(sq 'SELECT count(*) FROM keys') keys, expected $((nstored + 1))"
[ "$(sq "SELECT count(DISTINCT name) FROM keys WHERE name LIKE 'crash-%'")" -eq "$nstored" ] \
	&& ok "no request made two keys" || no "a name is stored twice"
bad_audit=$(sq "SELECT count(*) FROM keys k WHERE (SELECT count(*) FROM audit a WHERE a.key_id = k.id AND a.action = 'create') != 1")
orphans=$(sq "SELECT count(*) FROM audit a WHERE a.action = 'create' AND NOT EXISTS (SELECT 1 FROM keys k WHERE k.id = a.key_id)")
[ "$bad_audit" -eq 0 ] && [ "$orphans" -eq 0 ] && ok "each stored key has exactly one create audit row, and no audit row lacks its key" \
	|| no "audit: $bad_audit keys without exactly one create row, $orphans create rows without a key"

# ---- the answered keys: the stored ones, and each one authenticates ----
# token of each 201 (one jq over all the answers): "<i> <token>"
(cd "$dir/resp" && xargs -a "$dir/got201.s" jq -r '(input_filename) + " " + (.token // .api_key // .key // .data.key)') \
	| sort >"$dir/tokens"
[ "$(wc -l <"$dir/tokens")" -eq "$n201" ] && ok "every 201 carried its key" || no "$(wc -l <"$dir/tokens") keys in $n201 answers"
sq "SELECT substr(name, 7) || ' ' || prefix FROM keys WHERE name LIKE 'crash-%'" | sort >"$dir/prefixes"
awk '{print $1, substr($2, 1, 8)}' "$dir/tokens" | sort >"$dir/tokprefix"
wrong=$(comm -23 "$dir/tokprefix" "$dir/prefixes" | wc -l)
[ "$wrong" -eq 0 ] && ok "each stored key is the one its 201 returned (token prefix)" || no "$wrong stored keys differ from their 201"

# An authenticated request per key, on a family that varies from key to
# key (mostly not the one that created it), answered by a cheap operation: 404 (no such key) or 200 means
# authenticated, 401 would mean the key was lost.
probe() { # probe FAMILY -> "METHOD PATH EXPECTED"
	case $1 in
	heron) echo "PUT /heron/api/credentials/keys/none/activate 404" ;;
	feldera) echo "GET /feldera/v0/api_keys/none 404" ;;
	nebula) echo "DELETE /nebulablock/api/v1/api-keys/999999999 404" ;;
	nebula_uuid) echo "DELETE /nebulablock-uuid/api/v1/api-keys/00000000-0000-4000-8000-000000000000 404" ;;
	fastapi) echo "GET /fastapi/api/auth/api-keys/?limit=1 200" ;;
	esac
}
acfg=$dir/auth.cfg
: >"$acfg"
first=1
while read -r i tok; do
	f=${fams[$(((i + 1 + i / 5) % 5))]}
	read -r m p want <<<"$(probe "$f")"
	[ $first -eq 1 ] || echo next >>"$acfg"
	first=0
	cat >>"$acfg" <<-CFG
	url = "$H$p"
	request = "$m"
	header = "$(auth_header "$f" "$tok")"
	output = "/dev/null"
	write-out = "%{http_code} $want $i $f\n"
	CFG
done <"$dir/tokens"
curl -s --no-progress-meter -Z --parallel-max 16 -K "$acfg" >"$dir/auth.out" 2>"$dir/auth.err"
authed=$(awk '$1 == $2' "$dir/auth.out" | wc -l)
[ "$authed" -eq "$n201" ] && ok "every one of the $n201 keys answered 201 authenticates after the restart" \
	|| no "$authed of $n201 keys authenticate after the restart" "$(awk '$1 != $2' "$dir/auth.out" | head -5)"
[ "$(cut -d' ' -f4 "$dir/auth.out" | sort -u | wc -l)" -eq 5 ] && ok "checked on all five families" || no "not all families checked"

# ---- at rest ----
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
cut -d' ' -f2 "$dir/tokens" | sed 's/^[a-z]*[_:]//; s/^\(.\{43\}\).*/\1/' >"$dir/bodies"
if db_bytes "$db" | grep -aqFf "$dir/bodies"; then no "key material in the database file"
else ok "no key material in the database file or its WAL"; fi
finish

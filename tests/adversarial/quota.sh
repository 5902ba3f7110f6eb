#!/bin/bash
# test-adversarial-quota: the per-user key quota and bounded lists (issue 10,
# finding 9) against the real apikeyd on loopback.
#   - With --key-quota 20, a user holding 20 unrevoked keys is refused the
#     next create on every family with 403 in the family's error shape
#     (Heron: bare 403; Feldera: error_code KeyQuotaExceeded; NebulaBlock and
#     its twin: the failed envelope; FastAPI: problem details); revoking one
#     makes room for one; another user is unaffected.
#   - At the default quota (1,000), with 999 keys inserted straight into the
#     database: 8 concurrent creates, exactly one 201 and seven 403.
#   - Memory: 8 concurrent Heron lists (8 worker threads) of a tenant at the quota (1,000 keys,
#     128-character names), 5 rounds, the server's RSS sampled every 20 ms:
#     it grows by less than 24 MiB over its RSS before the lists.
#   - A tenant far over the quota (20,000 keys inserted from before it): an
#     unpaged list stops at the quota (the newest 1,000), the FastAPI
#     family's paged list still reaches every key, and 8 concurrent lists
#     grow the RSS by less than 24 MiB.
set -u
SUITE=adversarial-quota
. "$(dirname "$0")/../lib/apikeyd.sh"

db=$dir/var/apikeyd.db
KEY=$(user_add "$db" alice)
BOB=$(user_add "$db" bob)
sq() { sqlite3 -batch -noheader "$1" "$2"; }
start_server "$db" --key-quota 20 || { no "apikeyd starts with --key-quota 20" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }

# ---- a small quota: refused in each family's shape ----
made=0
for i in $(seq 1 19); do
	req POST /heron/api/credentials/keys "x-api-key: $KEY" "{\"name\":\"q$i\"}"
	[ "$STATUS" = 201 ] && made=$((made + 1))
done
[ $made = 19 ] && ok "19 creates under the quota of 20: 201" || no "only $made of 19 creates under the quota"
shape() {
	case $1 in
	heron) echo '' ;;
	feldera) echo '"error_code":"KeyQuotaExceeded"' ;;
	nebula | nebula_uuid) echo '"data":null.*"status":"failed"' ;;
	fastapi) echo '"status":403' ;;
	esac
}
ctype() { case $1 in heron) echo "" ;; fastapi) echo application/problem+json ;; *) echo application/json ;; esac; }
for f in $FAMILIES; do
	req POST "$(create_path "$f")" "$(auth_header "$f" "$KEY")" "{\"name\":\"over-$f\"}"
	expect "$f: the 21st key is refused with 403 in the family's shape" 403 "$(shape "$f")"
	[ "$f" != heron ] || [ ! -s "$dir/out" ] || no "heron: a bare 403 has no body" "$BODY_OUT"
	[ "$(header Content-Type)" = "$(ctype "$f")" ] || no "$f: Content-Type \"$(header Content-Type)\""
done
n=$(sq "$db" "SELECT count(*) FROM keys WHERE user_id = (SELECT id FROM users WHERE name = 'alice')")
[ "$n" = 20 ] && ok "the store holds exactly 20 of alice's keys" || no "alice has $n keys"
req POST /fastapi/api/auth/api-keys/ "Authorization: Bearer $BOB" '{"name":"bob2"}'
expect "bob is not affected by alice's quota" 201
req GET /heron/api/credentials/keys "x-api-key: $KEY"
victim=$(jq -r '.keys[] | select(.name == "q7") | .heron_id' "$dir/out")
req PUT "/heron/api/credentials/keys/$victim/deactivate" "x-api-key: $KEY"
req POST /heron/api/credentials/keys "x-api-key: $KEY" '{"name":"after-deactivate"}'
expect "a deactivated key still counts (it can be activated again): 403" 403
req DELETE "/fastapi/api/auth/api-keys/$victim" "Authorization: Bearer $KEY"
expect "fastapi revokes one of alice's keys" 204
req POST /nebulablock/api/v1/api-keys "Authorization: Bearer $KEY" '{"name":"room"}'
expect "a revoked key makes room for one more" 201
req POST /nebulablock/api/v1/api-keys "Authorization: Bearer $KEY" '{"name":"no-room"}'
expect "and then the quota holds again" 403
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null

# ---- the default quota, concurrent creates at the edge ----
db2=$dir/var2/apikeyd.db
CAROL=$(user_add "$db2" carol)
# bulk N NAMELEN: N Heron keys for carol, straight into the database
bulk() {
	sq "$db2" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1),
	  r(i, h) AS (SELECT i, lower(hex(randomblob(16))) FROM n)
	INSERT INTO keys(uuid, user_id, family, name, role, prefix, tail, hash, created)
	SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-8' || substr(h, 18, 3) || '-' || substr(h, 21, 12),
	  (SELECT id FROM users WHERE name = 'carol'), 0, printf('%0$2d', i), '', 'key_bulk', 'xyz', randomblob(32), strftime('%s', 'now')
	FROM r"
}
bulk 998 128
[ "$(sq "$db2" "SELECT count(*) FROM keys")" = 999 ] && ok "carol holds 999 keys (998 inserted with sqlite3)" || no "bulk insert"
start_server "$db2" --threads 8 || { no "apikeyd starts on the bulk database" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
pids=()
for i in $(seq 1 8); do
	curl -s -o /dev/null -w '%{http_code}\n' "$H/heron/api/credentials/keys" -H "x-api-key: $CAROL" \
		-H 'Content-Type: application/json' -d "{\"name\":\"edge$i\"}" >"$dir/edge.$i" &
	pids+=($!)
done
wait "${pids[@]}"
codes=$(cat "$dir"/edge.* | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
[ "$codes" = "201:1 403:7 " ] && ok "8 concurrent creates at 999 of the default 1,000: one 201, seven 403" || no "concurrent creates at the edge: $codes"
[ "$(sq "$db2" "SELECT count(*) FROM keys")" = 1000 ] && ok "the store holds exactly 1,000" || no "store holds $(sq "$db2" "SELECT count(*) FROM keys")"

# ---- memory: concurrent lists of a tenant at the quota ----
req GET /heron/api/credentials/keys "x-api-key: $CAROL"
[ "$STATUS" = 200 ] && [ "$(jb '.keys | length')" = 1000 ] && ok "heron lists all 1,000 keys ($(wc -c <"$dir/out") bytes)" || no "list of 1,000: $STATUS $(jb '.keys | length')"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$SRV_PID/status"; }
base=$(rss)
( peak=0; while [ ! -e "$dir/lists.done" ]; do r=$(rss); [ "${r:-0}" -gt "$peak" ] && peak=$r; echo "$peak" >"$dir/peak"; sleep 0.02; done ) &
sampler=$!
t0=$(date +%s%N)
for round in 1 2 3 4 5; do
	pids=()
	for i in $(seq 1 8); do
		curl -s -o /dev/null -w '%{http_code}\n' "$H/heron/api/credentials/keys" -H "x-api-key: $CAROL" >>"$dir/lists.codes" &
		pids+=($!)
	done
	wait "${pids[@]}"
done
t1=$(date +%s%N)
touch "$dir/lists.done"; wait "$sampler"
peak=$(cat "$dir/peak")
grow=$(( (peak - base) / 1024 ))
echo "      RSS before ${base} KiB, peak ${peak} KiB during 40 lists (8 at a time) in $(( (t1 - t0) / 1000000 )) ms"
[ "$(grep -c '^200$' "$dir/lists.codes")" = 40 ] && ok "40 lists answered 200" || no "lists: $(sort "$dir/lists.codes" | uniq -c | tr '\n' ' ')"
[ "$grow" -lt 24 ] && ok "RSS grew by $grow MiB (< 24) under 8 concurrent lists at the quota" || no "RSS grew by $grow MiB under 8 concurrent lists at the quota"

# ---- a tenant far over the quota (20,000 keys from before it) ----
sq "$db2" "INSERT INTO users(name, created) VALUES ('dave', 0)"
DAVE=$("$APIKEYD" user key dave --db "$db2" 2>/dev/null)
[ -n "$DAVE" ] || no "user key dave"
sq "$db2" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000),
  r(i, h) AS (SELECT i, lower(hex(randomblob(16))) FROM n)
INSERT INTO keys(uuid, user_id, family, name, role, prefix, tail, hash, created)
SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-8' || substr(h, 18, 3) || '-' || substr(h, 21, 12),
  (SELECT id FROM users WHERE name = 'dave'), 0, printf('%0128d', i), '', 'key_bulk', 'xyz', randomblob(32), strftime('%s', 'now')
FROM r"
req GET /heron/api/credentials/keys "x-api-key: $DAVE"
[ "$STATUS" = 200 ] && [ "$(jb '.keys | length')" = 1000 ] && [ "$(jb '.keys[0].name')" = "$(printf '%0128d' 20000)" ] \
	&& ok "an unpaged list stops at the quota: heron shows the newest 1,000 of dave's 20,001" || no "dave's heron list: $STATUS, $(jb '.keys | length') keys"
req GET "/fastapi/api/auth/api-keys/?skip=20000&limit=1" "Authorization: Bearer $DAVE"
[ "$(jb .total)" = 20001 ] && [ "$(jb '.items | length')" = 1 ] && ok "fastapi's paged list still reaches every one (total 20001, the oldest at skip 20000)" || no "dave's fastapi page" "$BODY_OUT"
base=$(rss); rm -f "$dir/lists.done"
( peak=0; while [ ! -e "$dir/lists.done" ]; do r=$(rss); [ "${r:-0}" -gt "$peak" ] && peak=$r; echo "$peak" >"$dir/peak"; sleep 0.02; done ) &
sampler=$!
pids=()
for i in $(seq 1 8); do
	curl -s -o /dev/null -w '%{http_code}\n' "$H/heron/api/credentials/keys" -H "x-api-key: $DAVE" >>"$dir/dave.codes" &
	pids+=($!)
done
wait "${pids[@]}"
touch "$dir/lists.done"; wait "$sampler"
grow=$(( ($(cat "$dir/peak") - base) / 1024 ))
echo "      dave: RSS before ${base} KiB, peak $(cat "$dir/peak") KiB during 8 concurrent lists"
[ "$(grep -c '^200$' "$dir/dave.codes")" = 8 ] && [ "$grow" -lt 24 ] && ok "8 concurrent lists of the 20,001-key tenant: RSS grew by $grow MiB (< 24)" \
	|| no "8 concurrent lists of the 20,001-key tenant: RSS grew by $grow MiB; $(sort "$dir/dave.codes" | uniq -c | tr '\n' ' ')"
finish

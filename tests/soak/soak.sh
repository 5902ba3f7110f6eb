#!/bin/bash
# soak: one apikeyd on loopback over HTTPS, SOAK_WORKERS concurrent clients
# (curl, a new TLS connection per request) for SOAK_SECONDS, each a bounded
# loop over a fixed mix: creates through all five families, lists,
# authenticated calls with the keys it created, removals (delete; FastAPI
# revoke; Heron deactivate, then delete) each followed at once by a check
# that the key no longer authenticates, and bad requests (invalid bodies, malformed JSON, a
# wrong Content-Type, unknown tokens). Each worker is its own user. Beside
# them, loadgen sends a steady open-loop authenticated GET (SOAK_RATE/s,
# default 500, over 8 keep-alive HTTPS connections) for the whole run.
#
# Then, with the server still up: every removed key must be refused (401);
# after SIGTERM, the SQLite file is read with sqlite3: every key seen in a 201
# is in the store exactly once (by its id) unless it was deleted, and a
# deleted key is gone. Meanwhile the server's RSS is sampled every second;
# the mean of the last third of the samples may exceed the mean of the first
# third by at most SOAK_RSS_TOLERANCE percent (default 25). KEEP=1 keeps the
# scratch folder (rss samples, logs, database).
#
# Verdict: PASS when no request got a 5xx or no answer, every status was the
# one the mix expects, no key was lost, duplicated or resurrected, every
# removed key was refused, and memory stayed within the tolerance.
# Rows for make bench's closing table go to $BENCH_DIR/bench-soak.tsv.
set -u
APIKEYD=${APIKEYD:-$(pwd)/build/apikeyd}
LOADGEN=${LOADGEN:-$(pwd)/build/tests/server/loadgen}
SECS=${SOAK_SECONDS:-30}
WORKERS=${SOAK_WORKERS:-8}
MAX_ITER=${SOAK_MAX_ITERATIONS:-100000}   # per worker: the loop is bounded even if the clock is not
TOL=${SOAK_RSS_TOLERANCE:-25}
. "$(dirname "$0")/../bench_report/lib.sh"
command -v sqlite3 >/dev/null || { echo "soak: sqlite3 is missing (scripts/install-deps.sh installs it)"; exit 1; }
WORK=$(mktemp -d /tmp/apikeyd-soak.XXXXXX)
PID=
SAMPLER=
trap '[ -n "$SAMPLER" ] && kill $SAMPLER 2>/dev/null; [ -n "$PID" ] && kill -KILL $PID 2>/dev/null; [ "${KEEP:-0}" = 1 ] && echo "soak: kept $WORK" >&2 || rm -rf "$WORK"' EXIT
port() { while :; do p=$((20000 + RANDOM % 40000)); ss -ltn | grep -q ":$p " || { echo $p; return; }; done; }
TP=$(port)
cd "$WORK"
DB=$WORK/var/apikeyd.db
for w in $(seq 0 $((WORKERS - 1))); do
	"$APIKEYD" user add "soak$w" --db "$DB" >"user$w.key" 2>/dev/null || { echo "soak: user add failed"; exit 1; }
done
"$APIKEYD" user add soakload --db "$DB" >load.key 2>/dev/null || { echo "soak: user add failed"; exit 1; }
"$APIKEYD" --db "$DB" --listen off --tls-listen 127.0.0.1:$TP --log-level error >/dev/null 2>"$WORK/log" &
PID=$!
up=0
for _ in $(seq 100); do curl -s -o /dev/null --cacert var/tls-cert.pem --resolve localhost:$TP:127.0.0.1 "https://localhost:$TP/heron/openapi.json" && { up=1; break; }; sleep 0.1; done
[ $up = 1 ] || { echo "soak: apikeyd did not start: $(head -3 "$WORK/log")"; exit 1; }
BASE=https://localhost:$TP
CURL=(curl -s -4 --max-time 30 --cacert "$WORK/var/tls-cert.pem" --resolve "localhost:$TP:127.0.0.1")

# RSS sampler: "seconds-since-start KiB" once a second while the server runs
( t=0; while kill -0 $PID 2>/dev/null && [ ! -e "$WORK/stop" ]; do
	awk -v t=$t '/VmRSS/ { print t, $2 }' /proc/$PID/status 2>/dev/null; sleep 1; t=$((t + 1)); done ) >"$WORK/rss" &
SAMPLER=$!

# One worker. Normal traffic comes from 127.0.1.<w+1>; a request that is
# expected to fail authentication comes from an address of its own
# (127.<10+w>.x.y), so the server's per-address failure limit (10 a minute)
# never turns the soak's own checks into 429s.
worker() {
	local w=$1 key deadline i=0 fresh=0 ip k s body
	local -a LF=() LI=() LT=() LN=()
	local fams=(heron feldera nebula nebula_uuid fastapi) bads=(heron feldera nebula nebula_uuid fastapi)
	local ok="$WORK/w$w"
	key=$(cat "user$w.key")
	deadline=$((EPOCHSECONDS + SECS))
	: >"$ok.status"; : >"$ok.created"; : >"$ok.removed"
	req() { # req OP EXPECTED METHOD PATH [-H ...] [-d BODY] [--interface IP]: sets s
		local op=$1 want=$2 m=$3 p=$4; shift 4
		s=$("${CURL[@]}" -o "$ok.body" -w '%{http_code}' -X "$m" "$BASE$p" "$@")
		echo "$op $want $s" >>"$ok.status"
	}
	freship() { fresh=$((fresh + 1)); ip="127.$((10 + w)).$((fresh / 250 % 250)).$((fresh % 250 + 1))"; } # sets ip (no subshell: it counts)
	local me=(--interface "127.0.1.$((w + 1))") J=(-H 'Content-Type: application/json')
	create() {
		local f=$1 n="s$w-$i" id tok
		case $f in
		heron) req create-heron 201 POST /heron/api/credentials/keys "${me[@]}" -H "x-api-key: $key" "${J[@]}" -d "{\"name\":\"$n\"}";;
		feldera) req create-feldera 201 POST /feldera/v0/api_keys "${me[@]}" -H "Authorization: Bearer $key" "${J[@]}" -d "{\"name\":\"$n\"}";;
		nebula) req create-nebula 201 POST /nebulablock/api/v1/api-keys "${me[@]}" -H "Authorization: Bearer $key" "${J[@]}" -d "{\"name\":\"$n\",\"description\":\"soak\"}";;
		nebula_uuid) req create-nebula_uuid 201 POST /nebulablock-uuid/api/v1/api-keys "${me[@]}" -H "Authorization: Bearer $key" "${J[@]}" -d "{\"name\":\"$n\"}";;
		fastapi) req create-fastapi 201 POST /fastapi/api/auth/api-keys/ "${me[@]}" -H "Authorization: Bearer $key" "${J[@]}" -d "{\"name\":\"$n\"}";;
		esac
		[ "$s" = 201 ] || return
		body=$(<"$ok.body")
		case $f in
		heron) id=${body#*\"heron_id\":\"}; id=${id%%\"*}; tok=${body#*\"token\":\"};;
		feldera) id=${body#*\"id\":\"}; id=${id%%\"*}; tok=${body#*\"api_key\":\"};;
		nebula) id=${body#*\"id\":}; id=${id%%,*}; tok=${body#*\"key\":\"};;
		*) id=${body#*\"id\":\"}; id=${id%%\"*}; tok=${body#*\"key\":\"};;
		esac
		tok=${tok%%\"*}
		echo "$f,$id,$tok" >>"$ok.created"
		LF+=("$f"); LI+=("$id"); LT+=("$tok"); LN+=("$n")
	}
	remove() { # the oldest live key; then it must fail at once
		local f=${LF[0]} id=${LI[0]} tok=${LT[0]} n=${LN[0]} how=delete
		LF=("${LF[@]:1}"); LI=("${LI[@]:1}"); LT=("${LT[@]:1}"); LN=("${LN[@]:1}")
		case $f in
		heron) if [ $((i % 2)) = 0 ]; then how=deactivate; req deactivate-heron 200 PUT "/heron/api/credentials/keys/$id/deactivate" "${me[@]}" -H "x-api-key: $key"
		       else req delete-heron 204 DELETE "/heron/api/credentials/keys/$id" "${me[@]}" -H "x-api-key: $key"; fi;;
		feldera) req delete-feldera 200 DELETE "/feldera/v0/api_keys/$n" "${me[@]}" -H "Authorization: Bearer $key";;
		nebula) req delete-nebula 200 DELETE "/nebulablock/api/v1/api-keys/$id" "${me[@]}" -H "Authorization: Bearer $key";;
		nebula_uuid) req delete-nebula_uuid 200 DELETE "/nebulablock-uuid/api/v1/api-keys/$id" "${me[@]}" -H "Authorization: Bearer $key";;
		fastapi) how=revoke; req revoke-fastapi 204 DELETE "/fastapi/api/auth/api-keys/$id" "${me[@]}" -H "Authorization: Bearer $key";;
		esac
		case $s in 2??) ;; *) return;; esac
		freship; req removed-key-refused-at-once 401 GET /feldera/v0/api_keys --interface "$ip" -H "Authorization: Bearer $tok"
		# a deactivated key is then deleted (the whole lifecycle), so the store, the
		# lists and their responses keep one size and the RSS check sees leaks, not
		# a growing workload; FastAPI's revoke is soft, its lists are paged
		if [ "$how" = deactivate ]; then
			req delete-deactivated-heron 204 DELETE "/heron/api/credentials/keys/$id" "${me[@]}" -H "x-api-key: $key"
			case $s in 2??) how=delete;; esac
		fi
		echo "$f,$id,$tok,$how" >>"$ok.removed"
	}
	authcall() { # with a live key of this worker's (the user's own key when none)
		local t=$key
		[ ${#LT[@]} -eq 0 ] || t=${LT[$((i % ${#LT[@]}))]}
		case $((i % 3)) in
		0) req auth-heron 200 GET /heron/api/credentials/keys "${me[@]}" -H "x-api-key: $t";;
		1) req auth-nebula 200 GET /nebulablock/api/v1/api-keys "${me[@]}" -H "Authorization: Bearer $t";;
		2) req auth-fastapi 200 GET "/fastapi/api/auth/api-keys/?limit=10" "${me[@]}" -H "Authorization: Bearer $t";;
		esac
	}
	list() {
		case ${fams[$((i / 10 % 5))]} in
		heron) req list-heron 200 GET /heron/api/credentials/keys "${me[@]}" -H "x-api-key: $key";;
		feldera) req list-feldera 200 GET /feldera/v0/api_keys "${me[@]}" -H "Authorization: Bearer $key";;
		nebula) req list-nebula 200 GET /nebulablock/api/v1/api-keys "${me[@]}" -H "Authorization: Bearer $key";;
		nebula_uuid) req list-nebula_uuid 200 GET /nebulablock-uuid/api/v1/api-keys "${me[@]}" -H "Authorization: Bearer $key";;
		fastapi) req list-fastapi 200 GET "/fastapi/api/auth/api-keys/?skip=0&limit=20" "${me[@]}" -H "Authorization: Bearer $key";;
		esac
	}
	bad() {
		case ${bads[$((i / 10 % 5))]} in
		heron) req bad-heron-empty-name 400 POST /heron/api/credentials/keys "${me[@]}" -H "x-api-key: $key" "${J[@]}" -d '{"name":""}';;
		feldera) req bad-feldera-malformed-json 400 POST /feldera/v0/api_keys "${me[@]}" -H "Authorization: Bearer $key" "${J[@]}" -d '{"name":"x",}';;
		nebula) req bad-nebula-no-content-type 415 POST /nebulablock/api/v1/api-keys "${me[@]}" -H "Authorization: Bearer $key" -H 'Content-Type: text/plain' -d '{"name":"x"}';;
		nebula_uuid) req bad-nebula_uuid-id 400 DELETE /nebulablock-uuid/api/v1/api-keys/not-a-uuid "${me[@]}" -H "Authorization: Bearer $key";;
		fastapi) req bad-fastapi-missing-name 422 POST /fastapi/api/auth/api-keys/ "${me[@]}" -H "Authorization: Bearer $key" "${J[@]}" -d '{"nam":"x"}';;
		esac
	}
	while [ $i -lt "$MAX_ITER" ] && [ "$EPOCHSECONDS" -lt "$deadline" ]; do
		case $((i % 10)) in
		0|5) create "${fams[$((i / 10 % 5))]}";;
		3) create "${fams[$(((i / 10 + 2) % 5))]}";;
		1|6) authcall;;
		2) list;;
		4|8) while [ ${#LT[@]} -gt 3 ]; do remove; done;; # at most 3 live keys: a steady working set
		7) bad;;
		9) freship; req bad-unknown-token 401 GET /heron/api/credentials/keys --interface "$ip" -H "x-api-key: key_notarealkey";;
		esac
		i=$((i + 1))
	done
	for k in "${!LT[@]}"; do echo "${LF[$k]},${LI[$k]},${LT[$k]}" >>"$ok.live"; done
}

# Beside the mix, a steady authenticated load for the whole run (loadgen,
# open loop, SOAK_RATE requests/s over 8 keep-alive HTTPS connections), so
# the memory check sees sustained traffic, not only the mix.
LG_PID=
if [ "${SOAK_RATE:-500}" -gt 0 ]; then
	"$LOADGEN" --port "$TP" --tls --ca "$WORK/var/tls-cert.pem" --conns 8 --seconds "$SECS" --rate "${SOAK_RATE:-500}" \
		--path /heron/api/credentials/keys --header "x-api-key: $(cat load.key)" >"$WORK/loadgen.out" 2>&1 &
	LG_PID=$!
fi
T0=$(date +%s.%N)
WPIDS=()
for w in $(seq 0 $((WORKERS - 1))); do worker "$w" & WPIDS+=($!); done
wait "${WPIDS[@]}"
[ -z "$LG_PID" ] || wait "$LG_PID"
T1=$(date +%s.%N)

# every removed key, again, from an address of its own: refused (401)
cat w*.removed >removed.csv 2>/dev/null
n=0
while IFS=, read -r _ _ tok _; do
	n=$((n + 1))
	echo "127.$((100 + n / 62500 % 100)).$((n / 250 % 250)).$((n % 250 + 1)) $tok"
done <removed.csv | xargs -r -P 4 -n 2 sh -c \
	'curl -s -4 --max-time 30 --cacert "$0" --resolve "$1" -o /dev/null -w "%{http_code}\n" --interface "$3" -H "x-api-key: $4" "$2/heron/api/credentials/keys"' \
	"$WORK/var/tls-cert.pem" "localhost:$TP:127.0.0.1" "$BASE" >final.status
touch "$WORK/stop"
kill -TERM $PID; wait $PID; src=$?; PID=
wait "$SAMPLER" 2>/dev/null; SAMPLER=

# ---- figures ----
cat w*.status >all.status
cat w*.created >created.csv 2>/dev/null
total=$(wc -l <all.status)
dur=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }')
rps=$(awk -v n="$total" -v d="$dur" 'BEGIN { printf "%.0f", (d > 0 ? n / d : 0) }')
s5xx=$(awk '$3 ~ /^5/' all.status | wc -l)
s000=$(awk '$3 == "000"' all.status | wc -l)
unexpected=$(awk '$2 != $3' all.status | wc -l)
# the steady load: "R req/s N requests B non-2xx E errors ..."
read -r lg_rate _ lg_n _ lg_bad _ lg_err _ <<<"$(cat loadgen.out 2>/dev/null)"
lg_n=${lg_n:-0}; lg_bad=${lg_bad:-0}; lg_err=${lg_err:-0}
if [ "${SOAK_RATE:-500}" -gt 0 ] && ! [[ $lg_n =~ ^[0-9]+$ ]]; then echo "soak: loadgen: $(head -2 loadgen.out)"; lg_n=0; lg_err=1; fi
mix_total=$total; total=$((total + lg_n)); unexpected=$((unexpected + lg_bad)); s000=$((s000 + lg_err))
rps=$(awk -v n="$total" -v d="$dur" 'BEGIN { printf "%.0f", (d > 0 ? n / d : 0) }')
created=$(wc -l <created.csv)
removed=$(wc -l <removed.csv)
refused=$(grep -c '^401$' final.status)
not_refused=$((removed - refused))

# the store: each created key by its id (NebulaBlock: the row id; the others: the uuid)
sqlite3 "$DB" >store.out 2>store.err <<SQL
CREATE TEMP TABLE c(fam TEXT, id TEXT, tok TEXT);
CREATE TEMP TABLE r(fam TEXT, id TEXT, tok TEXT, how TEXT);
.mode csv
.import $WORK/created.csv c
.import $WORK/removed.csv r
.mode list
CREATE TEMP TABLE seen AS
  SELECT c.fam, c.id, (SELECT how FROM r WHERE r.fam = c.fam AND r.id = c.id) AS how,
         (SELECT count(*) FROM keys k WHERE (c.fam = 'nebula' AND k.id = CAST(c.id AS INTEGER)) OR (c.fam <> 'nebula' AND k.uuid = c.id)) AS n,
         (SELECT max(revoked) FROM keys k WHERE c.fam <> 'nebula' AND k.uuid = c.id) AS revoked,
         (SELECT min(active) FROM keys k WHERE c.fam <> 'nebula' AND k.uuid = c.id) AS active
  FROM c;
SELECT 'created_ids_distinct', count(DISTINCT fam || ':' || id) FROM c;
SELECT 'lost', count(*) FROM seen WHERE n = 0 AND (how IS NULL OR how <> 'delete');
SELECT 'duplicated', count(*) FROM seen WHERE n > 1;
SELECT 'resurrected', count(*) FROM seen WHERE n > 0 AND how = 'delete';
SELECT 'state_wrong', count(*) FROM seen WHERE (how = 'revoke' AND revoked IS NOT 1) OR (how = 'deactivate' AND active IS NOT 0);
SELECT 'rows_unaccounted', (SELECT count(*) FROM keys) - (SELECT count(*) FROM users) - (SELECT count(*) FROM seen WHERE n > 0);
SQL
sq() { awk -F'|' -v k="$1" '$1 == k { print $2 }' store.out; }
dup_ids=$((created - $(sq created_ids_distinct)))
lost=$(sq lost); dups=$(( $(sq duplicated) + dup_ids )); resurrected=$(sq resurrected); state_wrong=$(sq state_wrong); extra=$(sq rows_unaccounted)
[ -s store.err ] && { echo "soak: sqlite3: $(head -3 store.err)"; lost=${lost:-1}; }

# memory: mean of the first third of the samples vs the last third
read -r nsamp rss_first rss_last rss_max <<<"$(awk '{ v[NR] = $2; if ($2 > m) m = $2 } END {
	t = int(NR / 3); if (t < 1) { print NR, 0, 0, m; exit }
	for (i = 1; i <= t; i++) a += v[i]; for (i = NR - t + 1; i <= NR; i++) b += v[i];
	printf "%d %.0f %.0f %d\n", NR, a / t, b / t, m }' rss)"
mem_ok=$(awk -v a="$rss_first" -v b="$rss_last" -v t="$TOL" 'BEGIN { print (a > 0 && b <= a * (1 + t / 100)) ? 1 : 0 }')
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

verdict=PASS
[ "$s5xx" -eq 0 ] && [ "$s000" -eq 0 ] && [ "$unexpected" -eq 0 ] || verdict=FAIL
[ "${lost:-1}" -eq 0 ] && [ "$dups" -eq 0 ] && [ "${resurrected:-1}" -eq 0 ] && [ "${state_wrong:-1}" -eq 0 ] || verdict=FAIL
[ "$not_refused" -eq 0 ] && [ "$mem_ok" -eq 1 ] && [ "$src" -eq 0 ] || verdict=FAIL
[ "$total" -gt 0 ] && [ "$created" -gt 0 ] || verdict=FAIL

echo "soak ($WORKERS clients over HTTPS, ${dur}s, $(nproc) cores): $verdict"
printf '  requests: %s (%s/s); 5xx: %s; no answer: %s; status other than expected: %s\n' "$total" "$rps" "$s5xx" "$s000" "$unexpected"
printf '  of which: %s in the mix, %s steady authenticated GETs (loadgen at %s/s: %s non-2xx, %s connection errors)\n' "$mix_total" "$lg_n" "${lg_rate:-0}" "$lg_bad" "$lg_err"
awk '{ n[$1]++ } END { for (k in n) printf "%s=%d ", k, n[k]; print "" }' all.status | tr ' ' '\n' | sort | paste -sd' ' | sed 's/^/  mix: /'
[ "$unexpected" -eq 0 ] || { echo "  unexpected (op expected got: count):"; awk '$2 != $3' all.status | sort | uniq -c | sort -rn | head -10 | sed 's/^/    /'; }
printf '  keys: %s created (201), %s removed (%s refused afterwards), lost %s, duplicated %s, deleted-but-present %s, wrong state %s, rows no 201 accounts for %s\n' \
	"$created" "$removed" "$refused" "$lost" "$dups" "$resurrected" "$state_wrong" "$extra"
printf '  RSS: %s samples; mean of the first third %s, of the last third %s (tolerance +%s%%); peak %s\n' \
	"$nsamp" "$(mib "$rss_first")" "$(mib "$rss_last")" "$TOL" "$(mib "$rss_max")"
[ "$src" -eq 0 ] || echo "  apikeyd exited with status $src after SIGTERM"

T=bench-soak
bench_row $T "soak: 5xx or unanswered requests ($WORKERS HTTPS mix clients + steady authenticated load at ${SOAK_RATE:-500}/s, ${dur}s, $total requests at $rps/s; $unexpected with another status than expected)" \
	"$((s5xx + s000))" "all requests: $total" "$(bench_pct $((s5xx + s000)) "$total")" "0" "$(bench_verdict 'n == 0 && u == 0 && t > 0' -v n=$((s5xx + s000)) -v u="$unexpected" -v t="$total")"
bench_row $T "soak: keys lost or duplicated in the store (sqlite3, by id), deleted keys still present" \
	"lost $lost, duplicated $dups, deleted-but-present $resurrected" "keys created (201): $created, removed: $removed" \
	"$(bench_pct $((lost + dups + resurrected)) "$created")" "0 lost, 0 duplicated" \
	"$(bench_verdict 'n == 0 && c > 0 && w == 0' -v n=$((lost + dups + resurrected)) -v c="$created" -v w="$state_wrong")"
bench_row $T "soak: removed (deleted/revoked/deactivated) keys refused afterwards" "$refused of $removed" "removed keys: $removed" \
	"$(bench_pct "$refused" "$removed")" "all (100%)" "$(bench_verdict 'r == n && n > 0' -v r="$refused" -v n="$removed")"
bench_row $T "soak: server RSS, mean of the last third of the run ($nsamp samples, 1/s; peak $(mib "$rss_max"))" "$(mib "$rss_last")" \
	"first third: $(mib "$rss_first")" "$(bench_ratio "$rss_last" "$rss_first" 2)" "bounded: <= +$TOL% (<= $(awk -v t="$TOL" 'BEGIN { printf "%.2f", 1 + t / 100 }')x)" \
	"$( [ "$mem_ok" -eq 1 ] && echo met || echo missed)"
[ "$verdict" = PASS ]

#!/bin/bash
# test-multinode: three apikeyd nodes (A, B, C) on loopback ports over one
# PostgreSQL server that this suite starts and stops (tests/lib/pg.sh).
#   - a key created on one node works on the others at their first request;
#   - B deactivates or deletes a key while A and C verify it in tight loops
#     (build/multinode/prop): time from B's response to the first refusal
#     on A and C, p50/p99/max over the repetitions (goal p99 < 50 ms), and
#     the requests accepted after B's response returned (must be 0);
#   - A's listener connection killed (pg_terminate_backend) just before a
#     revocation: A still refuses the key within 1.5 s;
#   - B killed (kill -9) and PostgreSQL crashed, each under create load:
#     every 201 authenticates on every node; PostgreSQL stopped: 503s, no
#     stale answers by default, recovery;
#   - B and C deactivate 500 keys each at once: A refuses every one, and
#     A's applied epoch equals the database's;
#   - 40 keys' first uses on A: their last_used writes go out as a few
#     statements of many keys (PostgreSQL's own log counts them), and a
#     stored later time is kept.
set -u
SUITE=multinode
APIKEYD_STORE=sqlite   # the nodes get PostgreSQL URIs directly
. "$(dirname "$0")/../lib/apikeyd.sh"
. "$top/tests/lib/pg.sh"
REPS=${MULTINODE_REPS:-60}

pg_start "$dir" >/dev/null || { no "PostgreSQL starts"; finish; exit 1; }
trap 'pg_stop immediate; lib_cleanup' EXIT
pg_createdb keys
URL=$(pg_url keys)
mkdir -p "$dir/shared"
(umask 077; head -c 32 /dev/urandom >"$dir/shared/apikeyd.secret")
# no key quota: one owner makes thousands of keys here. Warnings only: the
# probers send some 10^7 requests a run, whose access lines were 670 MB per
# node, and their writeback stalled PostgreSQL's commits for seconds (6.5 s
# seen) and the nodes' responses with it, beside another suite doing the same
node_args=(--secret "$dir/shared/apikeyd.secret" --key-quota 0 --log-level warning)

OWNER=$("$APIKEYD" user add alice --db "$URL" "${node_args[@]}" 2>"$dir/useradd.err")
[[ $OWNER == key_* ]] && ok "user add on PostgreSQL prints a key" || no "user add on PostgreSQL" "$(cat "$dir/useradd.err")"

declare -A PORT PID LOG
for n in A B C; do
	mkdir -p "$dir/$n"
	start_server "$URL" "${node_args[@]}" --state-dir "$dir/$n" || { no "node $n starts" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
	PORT[$n]=${H##*:}; PID[$n]=$SRV_PID; LOG[$n]=$SRV_LOG
done
ok "three nodes on one PostgreSQL store"

# ---- a key made on one node, at once on the others ----
K=/heron/api/credentials/keys
for from in A B C; do
	H=http://127.0.0.1:${PORT[$from]}
	req POST "$K" "x-api-key: $OWNER" '{"name":"made-on-'$from'"}'
	tok=$(jb .token)
	good=1
	for to in A B C; do
		H=http://127.0.0.1:${PORT[$to]}
		req GET "$K" "x-api-key: $tok"
		[ "$STATUS" = 200 ] || good=0
	done
	[ $good = 1 ] && ok "a key created on $from works on A, B and C at their first request" || no "key made on $from: $STATUS on $to"
done

# ---- last_used of many keys: one statement, not one per key ----
# The touch writer gathers 100 ms of first uses into one store_keys_touch;
# on PostgreSQL that is one UPDATE over arrays of ids and times (one round
# trip and commit, where a statement per key was one each). PostgreSQL
# logs every data-changing statement meanwhile (log_statement = mod), so
# the batches can be counted. A key whose stored last_used is later than
# the use keeps it.
H=http://127.0.0.1:${PORT[A]}
touch_toks=()
for i in $(seq 40); do
	req POST "$K" "x-api-key: $OWNER" '{"name":"touch-'$i'"}'
	touch_toks+=("$(jb .token)")
done
pg_psql keys "UPDATE keys SET last_used = 4000000000 WHERE name = 'touch-7'" >/dev/null
pg_psql postgres "ALTER SYSTEM SET log_statement = 'mod'" >/dev/null && pg_psql postgres "SELECT pg_reload_conf()" >/dev/null
sleep 0.3   # the reload reaches every backend before it runs its next statement
log_from=$(wc -c <"$PG_DIR/server.log")
t0=$(date +%s)
cpids=()
for t in "${touch_toks[@]}"; do curl -s -o /dev/null -H "x-api-key: $t" "$H$K" & cpids+=($!); done
wait "${cpids[@]}"
t1=$(( $(date +%s) + 1 ))
used=0
for _ in $(seq 40); do
	used=$(pg_psql keys "SELECT count(*) FROM keys WHERE name LIKE 'touch-%' AND last_used BETWEEN $t0 AND $t1")
	[ "$used" = 39 ] && break
	sleep 0.1
done
sleep 0.3
pg_psql postgres "ALTER SYSTEM RESET log_statement" >/dev/null && pg_psql postgres "SELECT pg_reload_conf()" >/dev/null
[ "$used" = 39 ] && [ "$(pg_psql keys "SELECT last_used FROM keys WHERE name = 'touch-7'")" = 4000000000 ] \
	&& ok "40 keys' first uses on A: 39 last_used written, the one already later kept" \
	|| no "40 keys' first uses: $used of 39 written, touch-7 at $(pg_psql keys "SELECT last_used FROM keys WHERE name = 'touch-7'")"
# "execute qN: UPDATE keys SET last_used ..." then "DETAIL:  parameters: $1 = '{5,6}', ..."
tail -c +$((log_from + 1)) "$PG_DIR/server.log" >"$dir/touch.log"
single=$(grep -c "SET last_used = \$1 WHERE" "$dir/touch.log")
batches=$(grep -c "SET last_used = v.w" "$dir/touch.log")
most=$(grep -A1 "SET last_used = v.w" "$dir/touch.log" | grep -o "\$1 = '{[0-9,]*}'" |
	awk -F, '{ if (NF > m) m = NF } END { print m + 0 }')
[ "$single" = 0 ] && [ "$batches" -ge 1 ] && [ "$batches" -lt 40 ] && [ "$most" -ge 2 ] \
	&& ok "their writes went out as $batches statements, the largest with $most keys" \
	|| no "last_used statements: $batches batched (largest $most keys), $single one key each"

# ---- propagation of revocations ----
"$PROP" propagate "${PORT[A]}" "${PORT[B]}" "${PORT[C]}" "$OWNER" "$REPS" >"$dir/prop.out" 2>&1
cat "$dir/prop.out" | sed 's/^/      /'
val() { awk -v k="$1" '$1 == k { print $2 }' "$dir/prop.out"; }
[ -n "${KEEP:-}" ] && cp "$dir/prop.out" /tmp/prop.out
rf=$(val revoke-failures); samples=$(val samples); read -r _ p50 p99 pmax < <(grep '^latency-ms' "$dir/prop.out")
[ "${samples:-0}" -ge $(((REPS - ${rf:-0}) * 2)) ] && [ "${samples:-0}" -gt 0 ] && ok "$REPS revocations on B, each measured on A and on C ($samples samples)" \
	|| no "propagation samples: ${samples:-0} of $((REPS * 2))"
[ "$(val first-use-failures)" = 0 ] && ok "each key created on B worked on A and C at its first request" || no "first-use failures: $(val first-use-failures)"
[ "$(val never-refused)" = 0 ] && ok "every revoked key was refused on A and C within 3 s" \
	|| no "never refused: $(val never-refused) (never-detail above)" "$(for n in A C; do
		echo "node $n /readyz: $(curl -s "http://127.0.0.1:${PORT[$n]}/readyz")"; done
		echo "database epoch: $(pg_psql keys "SELECT epoch FROM apikeyd_epoch")")"
[ "$(val revoke-failures)" = 0 ] && ok "every revocation on B answered" || no "$(val revoke-failures) revocations on B got no answer"
# The guarantee is asserted: every node refuses within the safety net's
# bound (the epoch is re-read every second), whatever the load. The figures
# (p50, and p99 against the 50 ms goal; requests still accepted in between)
# are reported here and measured on a quiet machine by make bench.
awk -v p="${pmax:-99999}" 'BEGIN { exit !(p < 1500) }' && ok "every refusal within 1.5 s of B's response (max ${pmax} ms)" \
	|| no "propagation max ${pmax:-?} ms (bound 1.5 s)"
echo "figure: propagation p50 ${p50:-?} ms, p99 ${p99:-?} ms, max ${pmax:-?} ms over ${samples:-0} samples (goal: p99 < 50 ms); $(val accepted-after) requests sent after B's response were still accepted"

# ---- A's listener connection killed just before a revocation ----
H=http://127.0.0.1:${PORT[B]}
req POST "$K" "x-api-key: $OWNER" '{"name":"listener-kill"}'
tok=$(jb .token); kid=$(jb .heron_id)
H=http://127.0.0.1:${PORT[A]}
req GET "$K" "x-api-key: $tok"; [ "$STATUS" = 200 ] || no "listener test key works on A"
killed=$(pg_psql keys "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'apikeyd-watch-${PID[A]}'")
[ "$killed" = 1 ] && ok "A's listener connection terminated (pg_terminate_backend)" || no "terminating A's listener: $killed"
H=http://127.0.0.1:${PORT[B]}
req PUT "$K/$kid/deactivate" "x-api-key: $OWNER"
t0=$(date +%s%N)
H=http://127.0.0.1:${PORT[A]}
refused_ms=
while :; do
	req GET "$K" "x-api-key: $tok"
	el=$((($(date +%s%N) - t0) / 1000000))
	[ "$STATUS" = 401 ] && { refused_ms=$el; break; }
	[ $el -gt 3000 ] && break
	sleep 0.01
done
[ -n "$refused_ms" ] && [ "$refused_ms" -le 1500 ] && ok "A refused the key ${refused_ms} ms after B's deactivation without its listener (goal: 1.5 s)" \
	|| no "A without its listener: refused after ${refused_ms:-never} ms"
sleep 0.3
back=$(pg_psql keys "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'apikeyd-watch-${PID[A]}'")
[ "$back" = 1 ] && ok "A's listener reconnected by itself" || no "A's listener: $back connections"

# ---- A's listener stalled, its connection up, during a revocation ----
# The listener's backend stopped (SIGSTOP): no notification reaches A and
# its once-a-second catch-up, on the same connection, never answers; the
# other connections work. A must stop trusting its cache within the bound
# (STORE_PG_TRUST_MS, 2 s) and ask the store, which says deactivated; and
# give the connection up (STORE_PG_WATCH_WAIT_MS, 3 s) for a new one while
# the old backend is still stopped.
H=http://127.0.0.1:${PORT[B]}
req POST "$K" "x-api-key: $OWNER" '{"name":"listener-stall"}'
tok=$(jb .token); kid=$(jb .heron_id)
H=http://127.0.0.1:${PORT[A]}
req --from 127.7.0.1 GET "$K" "x-api-key: $tok"; [ "$STATUS" = 200 ] || no "stall test key works on A ($STATUS)"
lpid=$(pg_psql keys "SELECT pid FROM pg_stat_activity WHERE application_name = 'apikeyd-watch-${PID[A]}'")
if [ -n "$lpid" ] && kill -STOP "$lpid"; then
	H=http://127.0.0.1:${PORT[B]}
	ts=$(date +%s%N)
	req PUT "$K/$kid/deactivate" "x-api-key: $OWNER"
	t0=$(date +%s%N); put="the deactivation answered $STATUS in $(((t0 - ts) / 1000000)) ms"
	H=http://127.0.0.1:${PORT[A]}
	refused_ms=; refused_st=
	while :; do
		req --from 127.7.0.2 GET "$K" "x-api-key: $tok"
		el=$((($(date +%s%N) - t0) / 1000000))
		[ "$STATUS" != 200 ] && { refused_ms=$el; refused_st=$STATUS; break; }
		[ $el -gt 6000 ] && break
		sleep 0.05
	done
	req GET /readyz; stalled_ready=$STATUS
	back_ms=
	while :; do
		req GET /readyz
		el=$((($(date +%s%N) - t0) / 1000000))
		[ "$STATUS" = 200 ] && { back_ms=$el; break; }
		[ $el -gt 8000 ] && break
		sleep 0.1
	done
	stopped=$(ps -o stat= -p "$lpid" | cut -c1)
	kill -CONT "$lpid"
	[ -n "$refused_ms" ] && [ "$refused_ms" -le 2500 ] && [ "$refused_st" = 401 ] \
		&& ok "A, its listener stalled, refused the key ${refused_ms} ms after B's deactivation (bound 2 s)" \
		|| no "A with a stalled listener: refused after ${refused_ms:-never (6 s)} ms (${refused_st:-200}); $put"
	[ "$stalled_ready" = 503 ] && ok "A's /readyz is 503 while its listener is stalled" || no "A's /readyz with a stalled listener: $stalled_ready"
	[ -n "$back_ms" ] && [ "$stopped" = T ] \
		&& ok "A gave the stalled connection up and listens again (/readyz 200 after ${back_ms} ms, the old backend still stopped)" \
		|| no "A with a stalled listener: /readyz ${STATUS} after 8 s (old backend state ${stopped:-?})"
	H=http://127.0.0.1:${PORT[A]}; req --from 127.7.0.3 GET "$K" "x-api-key: $tok"
	[ "$STATUS" = 401 ] && ok "A, trusting its cache again, still refuses the deactivated key" || no "deactivated key on A after the stall: $STATUS"
else
	no "stopping A's listener backend (pid ${lpid:-none})"
fi

# ---- 500 revocations from each of B and C at once ----
"$PROP" mass "${PORT[A]}" "${PORT[B]}" "${PORT[C]}" "$OWNER" 1000 >"$dir/mass.out" 2>&1
acc=$(awk '$1 == "accepted-on-a" { print $2 }' "$dir/mass.out"); errs=$(awk '$1 == "errors" { print $2 }' "$dir/mass.out")
[ "${acc:-x}" = 0 ] && [ "${errs:-x}" = 0 ] && ok "B and C deactivated 500 keys each at once: A refuses all 1000" \
	|| no "after 1000 concurrent deactivations A accepted ${acc:-?} (errors ${errs:-?})"
sleep 1.2
db_epoch=$(pg_psql keys "SELECT epoch FROM apikeyd_epoch")
H=http://127.0.0.1:${PORT[A]}
req GET /readyz
a_epoch=$(jq -r '.store.epoch_seen // empty' "$dir/out" 2>/dev/null)
[ -n "$a_epoch" ] && [ "$a_epoch" = "$db_epoch" ] && ok "A's applied epoch equals the database's ($db_epoch)" \
	|| no "A's epoch ${a_epoch:-?} vs the database's $db_epoch" "$BODY_OUT"

# Creates under a crash. load_start NAME ADDR: 300 creates on B, one at a
# time from ADDR, in the background; each line of $dir/NAME.out is
# "i status token". load_counts NAME sets n201 and nother. load_check NAME
# ADDR WHAT: every 201 authenticates on A, B and C, and the store holds the
# 201s and some of the unanswered, never a key that was not sent.
load_start() {
	: >"$dir/$1.out"
	(
		for i in $(seq 1 300); do
			code=$(curl -s --interface "$2" -o "$dir/$1.body" -w '%{http_code}' --max-time 20 -X POST \
				-H "x-api-key: $OWNER" -H 'Content-Type: application/json' --data-binary "{\"name\":\"$1-$i\"}" \
				"http://127.0.0.1:${PORT[B]}$K")
			echo "$i $code $(jq -r '.token // empty' "$dir/$1.body" 2>/dev/null)" >>"$dir/$1.out"
		done
	) &
	LOADPID=$!
}
load_201s() { awk '$2 == 201' "$dir/$1.out" | wc -l; }
load_counts() { n201=$(load_201s "$1"); nother=$(awk '$2 != 201' "$dir/$1.out" | wc -l); }
load_check() {
	local lost=0 i code tok n st stored unsent
	while read -r i code tok; do
		[ "$code" = 201 ] || continue
		for n in A B C; do
			st=$(curl -s -o /dev/null -w '%{http_code}' --interface "$2" -H "x-api-key: $tok" "http://127.0.0.1:${PORT[$n]}$K")
			[ "$st" = 200 ] || { lost=$((lost + 1)); echo "      $1-$i: $st on $n"; }
		done
	done <"$dir/$1.out"
	[ "$lost" = 0 ] && ok "every key answered 201 $3 authenticates on A, B and C" || no "$3: $lost (key, node) pairs fail"
	stored=$(pg_psql keys "SELECT count(*) FROM keys WHERE name LIKE '$1-%'")
	unsent=$(comm -23 <(pg_psql keys "SELECT substr(name, ${#1} + 2) FROM keys WHERE name LIKE '$1-%'" | sort) \
		<(awk '{print $1}' "$dir/$1.out" | sort) | wc -l)
	[ "$stored" -ge "$n201" ] && [ "$stored" -le $((n201 + nother)) ] && [ "$unsent" = 0 ] \
		&& ok "$3: stored keys ($stored) are every 201 and some of the unanswered, none never sent" \
		|| no "$3: stored $stored, 201s $n201, others $nother, never sent $unsent"
}

# ---- a node killed (kill -9) under create load ----
load_start kill 127.4.0.3
for _ in $(seq 200); do [ "$(load_201s kill)" -ge 40 ] && break; sleep 0.05; done
kill -KILL "${PID[B]}"
wait "$LOADPID"
load_counts kill
echo "      creates on B around its kill -9: $n201 answered 201, $nother not"
[ "$n201" -ge 40 ] && [ "$nother" -ge 1 ] && ok "B was killed inside the create load ($n201 created, $nother unanswered)" \
	|| no "the kill did not fall inside the load ($n201 / $nother)"
mkdir -p "$dir/B2"
start_server "$URL" "${node_args[@]}" --state-dir "$dir/B2" || no "B restarts"
PORT[B]=${H##*:}; PID[B]=$SRV_PID
load_check kill 127.4.0.4 "before B's kill -9 (B restarted)"

# ---- PostgreSQL crashes under create load (pg_ctl -m immediate) ----
load_start load 127.4.0.2
for _ in $(seq 100); do [ "$(wc -l <"$dir/load.out")" -ge 40 ] && break; sleep 0.05; done
pg_stop immediate
sleep 1
pg_restart >/dev/null || no "PostgreSQL restarts after the crash"
wait "$LOADPID"
load_counts load
echo "      creates during the crash: $n201 answered 201, $nother not"
[ "$n201" -ge 40 ] && [ "$nother" -ge 1 ] && ok "the crash fell inside the create load ($n201 created, $nother refused)" \
	|| no "the crash did not fall inside the load ($n201 / $nother)"
sleep 1.5   # the nodes' listeners reconnect (backoff at most 2 s)
load_check load 127.4.0.1 "before PostgreSQL's crash"

# ---- PostgreSQL stopped: what each node may still say ----
# an owner of its own with few keys: its whole list fits the list cache (64 keys)
OWNER2=$("$APIKEYD" user add carol --db "$URL" "${node_args[@]}" 2>/dev/null)
mkdir -p "$dir/D"
start_server "$URL" "${node_args[@]}" --state-dir "$dir/D" --stale-if-error 30 || no "node D (--stale-if-error 30) starts"
PORT[D]=${H##*:}
H=http://127.0.0.1:${PORT[A]}
req --from 127.6.0.1 POST "$K" "x-api-key: $OWNER2" '{"name":"down-used"}'; KV=$(jb .token)
req --from 127.6.0.1 POST "$K" "x-api-key: $OWNER2" '{"name":"down-unused"}'; KM=$(jb .token)
req --from 127.6.0.1 POST "$K" "x-api-key: $OWNER2" '{"name":"down-revoked"}'; KR=$(jb .token); KRID=$(jb .heron_id)
H=http://127.0.0.1:${PORT[B]}; req --from 127.6.0.1 PUT "$K/$KRID/deactivate" "x-api-key: $OWNER2"
# used last on A and D, after every change of the owner's keys: the key and the owner's list are in their caches
sleep 0.3   # the deactivation's notification has reached them
for n in A D; do H=http://127.0.0.1:${PORT[$n]}; req --from 127.6.0.2 GET "$K" "x-api-key: $KV"; [ "$STATUS" = 200 ] || no "down-used works on $n"; done
pg_stop fast
sleep 0.5
H=http://127.0.0.1:${PORT[A]}
req --from 127.5.0.1 GET "$K" "x-api-key: $KV"
[ "$STATUS" = 503 ] && ok "store down, default --stale-if-error 0: a key A verified a moment ago gets 503, not a stale 200" || no "cached key while down: $STATUS"
req --from 127.5.0.2 GET "$K" "x-api-key: $KM"
[ "$STATUS" = 503 ] && [ -n "$(header Retry-After)" ] && ok "store down: a key A never saw gets 503 with Retry-After, not 401" || no "uncached key while down: $STATUS"
req --from 127.5.0.3 GET "$K" "x-api-key: $KR"
[ "$STATUS" != 200 ] && ok "store down: the deactivated key is refused ($STATUS)" || no "deactivated key accepted while down"
req --from 127.5.0.4 POST "$K" "x-api-key: $OWNER2" '{"name":"while-down"}'
[ "$STATUS" = 503 ] && ok "store down: a create gets 503 and is never acknowledged" || no "create while down: $STATUS"
req GET /readyz
[ "$STATUS" = 503 ] && ok "store down: /readyz is 503 ($(jb .reason | cut -c1-60))" || no "/readyz while down: $STATUS"
H=http://127.0.0.1:${PORT[D]}
req --from 127.5.0.5 GET "$K" "x-api-key: $KV"
[ "$STATUS" = 200 ] && ok "store down, --stale-if-error 30: D still answers the key it verified, from its caches (bounded window)" || no "D cached key while down: $STATUS"
req --from 127.5.0.6 GET "$K" "x-api-key: $KR"
[ "$STATUS" != 200 ] && ok "store down, --stale-if-error 30: D refuses the key deactivated before the outage ($STATUS)" || no "D accepted a deactivated key"
req --from 127.5.0.7 GET "$K" "x-api-key: $KM"
[ "$STATUS" = 503 ] && ok "store down, --stale-if-error 30: a key D never saw gets 503" || no "D uncached key while down: $STATUS"
pg_restart >/dev/null || no "PostgreSQL restarts"
back=
for i in $(seq 60); do
	H=http://127.0.0.1:${PORT[A]}
	req --from 127.5.1.1 GET "$K" "x-api-key: $KV"
	[ "$STATUS" = 200 ] && { back=$i; break; }
	sleep 0.1
done
[ -n "$back" ] && ok "PostgreSQL back: A reconnects by itself and accepts the key again" || no "A after the restart: $STATUS"
req --from 127.6.0.1 POST "$K" "x-api-key: $OWNER2" '{"name":"after-down"}'
[ "$STATUS" = 201 ] && ok "PostgreSQL back: creates succeed" || no "create after the restart: $STATUS"
for _ in $(seq 30); do req GET /readyz; [ "$STATUS" = 200 ] && break; sleep 0.1; done
[ "$STATUS" = 200 ] && ok "PostgreSQL back: /readyz is 200" || no "/readyz after the restart: $STATUS"

# ---- a schema newer than this program: refused, saying so ----
schema_was=$(pg_psql keys "SELECT version FROM apikeyd_schema" | tr -dc 0-9)
pg_psql keys "UPDATE apikeyd_schema SET version = 99" >/dev/null
"$APIKEYD" --db "$URL" "${node_args[@]}" --state-dir "$dir/D" --listen "127.0.0.1:$(free_port)" --tls-listen off \
	>/dev/null 2>"$dir/newer.err" & npid=$!
for _ in $(seq 100); do kill -0 "$npid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$npid" 2>/dev/null; then kill -KILL "$npid"; no "a node starts on a schema newer than it knows"
else grep -q "schema version 99, newer than" "$dir/newer.err" && ok "a node refuses a schema newer than it knows, saying so" \
	|| no "newer schema: $(tail -2 "$dir/newer.err")"; fi
pg_psql keys "UPDATE apikeyd_schema SET version = ${schema_was:-2}" >/dev/null

finish

#!/bin/bash
# test-pgstall: PostgreSQL that stops answering without closing anything:
# its processes stopped (SIGSTOP), as a wedged server or a network that
# drops packets would leave them. The kernel still accepts connections and
# data; nothing comes back.
#   - a request that needs the store (its cache no longer trusted, 2 s after
#     the change listener went quiet) is answered 503 with Retry-After
#     within STORE_PG_WAIT_MS (5 s) and a reconnect's connect_timeout, not
#     held until PostgreSQL comes back;
#   - while it stays stopped, the next ones are answered 503 at once (the
#     session waits STORE_PG_RETRY_MS before it tries again), and /healthz
#     answers 200 throughout, with 16 such requests in flight;
#   - a create on a node that still serves its cached key (--stale-if-error)
#     waits for the writer's session: 503 within the same bound;
#   - once it runs again, keys work again within seconds.
set -u
SUITE=pgstall
APIKEYD_STORE=sqlite   # the node gets a PostgreSQL URI directly
. "$(dirname "$0")/../lib/apikeyd.sh"
. "$top/tests/lib/pg.sh"

pg_start "$dir" >/dev/null || { no "PostgreSQL starts"; finish; exit 1; }
stopped=
trap '[ -n "$stopped" ] && kill -CONT $stopped 2>/dev/null; pg_stop immediate; lib_cleanup' EXIT
pg_createdb keys
URL=$(pg_url keys)
(umask 077; head -c 32 /dev/urandom >"$dir/apikeyd.secret")
args=(--secret "$dir/apikeyd.secret")
KEY=$("$APIKEYD" user add alice --db "$URL" "${args[@]}" 2>"$dir/useradd.err")
[[ $KEY == key_* ]] || { no "user add on PostgreSQL" "$(cat "$dir/useradd.err")"; finish; exit 1; }
start_server "$URL" "${args[@]}" || { no "apikeyd starts on PostgreSQL" "$(tail -3 "$SRV_LOG")"; finish; exit 1; }
L=/heron/api/credentials/keys
req GET "$L" "x-api-key: $KEY"
expect "a key works while PostgreSQL runs" 200
# a second node that serves a cached key through an outage (--stale-if-error):
# its creates get past authentication and wait for the writer's session
HA=$H
start_server "$URL" "${args[@]}" --stale-if-error 60 || { no "a second node starts" "$(tail -3 "$SRV_LOG")"; finish; exit 1; }
HB=$H
H=$HB; req GET "$L" "x-api-key: $KEY"; H=$HA
expect "... and on a node with --stale-if-error 60" 200

ms() { echo $(($(date +%s%N) / 1000000)); }
stopped=$(pgrep -u postgres | tr '\n' ' ')
kill -STOP $stopped
sleep 3   # the change listener's silence: the caches are no longer trusted (STORE_PG_TRUST_MS)
t0=$(ms)
code=$(curl -s -m 30 -o "$dir/out" -D "$dir/headers" -w '%{http_code}' -H "x-api-key: $KEY" "$H$L")
el=$(($(ms) - t0))
check "PostgreSQL stopped: a request that needs it is answered 503, not held ($code in $el ms)" \
	test "$code" = 503 -a "$el" -lt 12000
check "... with Retry-After" test -n "$(header Retry-After)"
# 16 at once, then /healthz beside them
pids=()
for i in $(seq 16); do
	curl -s -m 30 -o /dev/null -w '%{http_code} %{time_total}\n' -H "x-api-key: $KEY" "$H$L" >"$dir/par.$i" &
	pids+=($!)
done
sleep 0.3
t0=$(ms)
hz=$(curl -s -m 30 -o /dev/null -w '%{http_code}' "$H/healthz")
hel=$(($(ms) - t0))
wait "${pids[@]}"
n503=$(cat "$dir"/par.* | awk '$1 == 503' | wc -l)
slow=$(cat "$dir"/par.* | awk '$2 > 2' | wc -l)
check "... 16 more at once: all 503 ($n503), each within 2 s (over: $slow)" test "$n503" = 16 -a "$slow" = 0
check "... and /healthz answers beside them ($hz in $hel ms)" test "$hz" = 200 -a "$hel" -lt 2000
t0=$(ms)
code=$(curl -s -m 30 -o /dev/null -w '%{http_code}' -X POST -H "x-api-key: $KEY" -H 'Content-Type: application/json' \
	--data-binary '{"name":"during the stall"}' "$HB$L")
el=$(($(ms) - t0))
check "a create on the node that still trusts its cached key: 503 from the writer's session, not held ($code in $el ms)" \
	test "$code" = 503 -a "$el" -lt 12000
kill -CONT $stopped
stopped=
ok_at=
for i in $(seq 100); do
	req GET "$L" "x-api-key: $KEY"
	[ "$STATUS" = 200 ] && { ok_at=$i; break; }
	sleep 0.1
done
check "PostgreSQL running again: the key works again (after $((${ok_at:-100} * 100)) ms)" test -n "$ok_at"
finish

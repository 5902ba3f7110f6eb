#!/bin/bash
# test-adversarial-storestate: states of the store that used to pass in
# silence (audit issue 10 finding 10, and two items of 11).
#   1. The HMAC secret file is missing, or another one, while the database
#      holds keys: apikeyd refuses to start and says why (the database keeps
#      a check value of the secret, never the secret), and does not leave a
#      new secret behind; with the right secret it starts and keys work. A
#      database with keys and no check value yet gets one from a start with
#      its secret.
#   2. The database, its -wal and -shm are 0600; an existing 0644 database
#      is made 0600 with a warning.
#   3. Two apikeyd processes on one database file: a key deleted or
#      deactivated through one is refused by the other on the very next
#      request (no cache window), and a key created through one is listed
#      by the other.
#   4. /readyz: 200 on a healthy store; /healthz stays liveness.
set -u
SUITE=adversarial-storestate
. "$(dirname "$0")/../lib/apikeyd.sh"

db=$dir/var/apikeyd.db
sec=$dir/var/apikeyd.secret
KEY=$(user_add "$db" alice)
[ -n "$KEY" ] || { no "user add"; finish; exit 1; }
sq() { sqlite3 -batch -noheader "$db" "$@"; }
status_of() { curl -s -o /dev/null -w '%{http_code}' -H "X-API-KEY: $1" "$H/heron/api/credentials/keys"; }
# starts NAME ARGS...: apikeyd runs to "ready" or exits; sets STARTED (0/1)
try_start() {
	local port; port=$(free_port)
	"$APIKEYD" --db "$db" --listen "127.0.0.1:$port" --tls-listen off --log-level info >/dev/null 2>"$dir/try.log" &
	local pid=$!
	STARTED=0
	for _ in $(seq 100); do
		if ! kill -0 "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null; return; fi
		if curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; then
			STARTED=1; H="http://127.0.0.1:$port"; TRY_PID=$pid; SRV_PIDS+=("$pid"); return
		fi
		sleep 0.05
	done
}
stop_try() { kill -TERM "$TRY_PID" 2>/dev/null; wait "$TRY_PID" 2>/dev/null; }

# ---- 1. the secret ----
check=$(sq "SELECT value FROM meta WHERE name = 'secret_check'" 2>/dev/null)
[[ "$check" =~ ^[0-9a-f]{64}$ ]] && ok "the database holds a check value of the secret" ||
	no "the database holds a check value of the secret (got \"$check\")"
if [ -n "$check" ] && od -An -tx1 -v "$sec" | tr -d ' \n' | grep -q "$check"; then
	no "the check value is not the secret"
else ok "the check value is not the secret"; fi

mv "$sec" "$dir/secret.saved"
try_start
if [ "$STARTED" = 1 ]; then
	s=$(status_of "$KEY")
	no "secret file missing, keys stored: apikeyd refuses to start (it started; the key now gets $s)"
	stop_try
else
	ok "secret file missing, keys stored: apikeyd refuses to start"
	grep -qi "secret" "$dir/try.log" && ok "... saying why" || no "... saying why" "$(tail -3 "$dir/try.log")"
fi
[ ! -e "$sec" ] && ok "... and leaves no new secret behind" || no "... and leaves no new secret behind"
rm -f "$sec"

head -c 32 /dev/urandom >"$sec"; chmod 600 "$sec"
try_start
if [ "$STARTED" = 1 ]; then no "another secret: apikeyd refuses to start"; stop_try
else ok "another secret: apikeyd refuses to start"
	grep -qi "secret" "$dir/try.log" && ok "... saying why" || no "... saying why" "$(tail -3 "$dir/try.log")"
fi

mv "$dir/secret.saved" "$sec"
try_start
if [ "$STARTED" = 1 ]; then
	ok "the right secret: apikeyd starts"
	[ "$(status_of "$KEY")" = 200 ] && ok "... and the key works" || no "... and the key works"
	stop_try
else no "the right secret: apikeyd starts" "$(tail -3 "$dir/try.log")"; fi

# a database from before the check value (keys, no check): the start with its secret writes one
sq "DELETE FROM meta WHERE name = 'secret_check'" 2>/dev/null
try_start
if [ "$STARTED" = 1 ]; then
	stop_try
	[ "$(sq "SELECT value FROM meta WHERE name = 'secret_check'" 2>/dev/null)" = "$check" ] &&
		ok "keys without a check value: the start with the secret writes it" ||
		no "keys without a check value: the start with the secret writes it"
else no "keys without a check value: apikeyd starts with the secret" "$(tail -3 "$dir/try.log")"; fi

# ---- 2. file modes ----
mode() { stat -c %a "$1" 2>/dev/null; }
fresh=$dir/fresh/apikeyd.db
mkdir -p "$dir/fresh"
umask 022   # what a service manager gives: the store must not rely on it
start_server "$fresh" || no "apikeyd starts on a fresh database"
req POST /heron/api/credentials/keys "X-API-KEY: $(user_add "$fresh" bob 2>/dev/null)" '{"name":"m"}'
for f in "$fresh" "$fresh-wal" "$fresh-shm"; do
	[ "$(mode "$f")" = 600 ] && ok "$(basename "$f") is 0600" || no "$(basename "$f") is 0600 (got $(mode "$f"))"
done
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
old=$dir/old/apikeyd.db
mkdir -p "$dir/old"
user_add "$old" carol >/dev/null
chmod 644 "$old"
start_server "$old" || no "apikeyd starts on a 0644 database"
[ "$(mode "$old")" = 600 ] && ok "an existing 0644 database is made 0600" || no "an existing 0644 database is made 0600 (got $(mode "$old"))"
grep -qE "WARNING.*apikeyd.db.*0644" "$SRV_LOG" && ok "... with a warning" || no "... with a warning" "$(tail -3 "$SRV_LOG")"
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null

# ---- 4. /readyz ----
start_server "$db" || { no "apikeyd starts"; finish; exit 1; }
A=$H; A_PID=$SRV_PID
rs=$(curl -s -o "$dir/ready" -w '%{http_code}' "$A/readyz")
[ "$rs" = 200 ] && jq -e '.status == "ready"' "$dir/ready" >/dev/null && ok "/readyz on a healthy store: 200 ready" ||
	no "/readyz on a healthy store: 200 ready (got $rs)" "$(cat "$dir/ready")"

# ---- 3. two processes, one database ----
start_server "$db" || { no "a second apikeyd on the same database starts"; finish; exit 1; }
B=$H
H=$A
mkkey() { # mkkey URL NAME: a Heron key made through URL; sets NT, NI
	curl -s -o "$dir/out" -H "X-API-KEY: $KEY" -H 'Content-Type: application/json' \
		--data-binary "{\"name\":\"$2\"}" "$1/heron/api/credentials/keys"
	NT=$(jq -r .token "$dir/out"); NI=$(jq -r .heron_id "$dir/out")
}
on() { curl -s -o /dev/null -w '%{http_code}' -H "X-API-KEY: $2" "$1/heron/api/credentials/keys"; }
for round in 1 2 3; do
	mkkey "$A" "x$round"
	# cached on both sides
	a1=$(on "$A" "$NT"); b1=$(on "$B" "$NT"); a2=$(on "$A" "$NT")
	[ "$a1$b1$a2" = 200200200 ] || no "round $round: the key works on both processes first ($a1 $b1 $a2)"
	s=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "X-API-KEY: $KEY" "$B/heron/api/credentials/keys/$NI")
	a3=$(on "$A" "$NT")
	[ "$s" = 204 ] && [ "$a3" = 401 ] && ok "round $round: deleted through B, refused by A on the next request" ||
		no "round $round: deleted through B ($s), refused by A on the next request (got $a3)"
done
mkkey "$A" deact
on "$A" "$NT" >/dev/null; on "$A" "$NT" >/dev/null
s=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "X-API-KEY: $KEY" "$B/heron/api/credentials/keys/$NI/deactivate")
a3=$(on "$A" "$NT")
[ "$s" = 200 ] && [ "$a3" = 401 ] && ok "deactivated through B, refused by A on the next request" ||
	no "deactivated through B ($s), refused by A on the next request (got $a3)"
# the list cache: A's cached list sees B's create
curl -s -o /dev/null -H "X-API-KEY: $KEY" "$A/heron/api/credentials/keys"
curl -s -o /dev/null -H "X-API-KEY: $KEY" "$A/heron/api/credentials/keys"
mkkey "$B" listed-by-a
curl -s -o "$dir/out" -H "X-API-KEY: $KEY" "$A/heron/api/credentials/keys"
jq -e --arg id "$NI" '.keys | map(.heron_id) | index($id) != null' "$dir/out" >/dev/null &&
	ok "created through B, listed by A at once" || no "created through B, listed by A at once"
for p in "${SRV_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait 2>/dev/null
finish

#!/bin/bash
# test-logs: --log-format json and request ids, through the real apikeyd.
#   - Every line apikeyd writes in JSON parses with jq, one object per line,
#     with time (to the millisecond), level and msg; access lines add
#     request_id, api, operation, method, path, status, duration_ms, client
#     and key_id (the key's id for an authenticated request, else null).
#   - X-Request-Id: a valid one sent is sent back and is in the request's
#     log line; one too long, with a character outside the safe set, empty,
#     or that is an API key is replaced by one apikeyd makes; with none sent
#     one is made; either way the response's id is the log line's, and
#     problem-details error bodies (FastAPI, the server's own) carry it.
#   - Access lines while another request is in flight (written together,
#     server/log.c): each one still arrives within moments, 300 concurrent
#     requests give 300 whole lines, and they keep their order with the
#     server's other messages and through a stop.
#   - No key material in any format: the key sent in x-api-key, Authorization,
#     a cookie, the query string, the path and as the request id never
#     appears in the JSON log nor in the text log; --log-format and
#     --log-target reject other values.
#   - Standard error a pipe held open and not read: every request answered,
#     and once it is read, a warning of the lines given up that adds up with
#     the lines out (and /metrics says the same); standard error /dev/full (a
#     full disk): every request answered, each line counted lost.
set -u
SUITE=logs
. "$(dirname "$0")/../lib/apikeyd.sh"
. "$(dirname "$0")/../lib/loopfs.sh"

db=$dir/var/apikeyd.db
KEY=$(user_add "$db" alice)
[ -n "$KEY" ] || { no "user add"; finish; exit 1; }
KEY_ID=$(db_sql "$db" "SELECT id FROM keys ORDER BY id LIMIT 1")

start_server "$db" --log-format json || { no "apikeyd starts with --log-format json" "$(tail -3 "$SRV_LOG")"; finish; exit 1; }
JLOG=$SRV_LOG

# rid_req SENT... : a request with these X-Request-Id headers; sets RID (the id sent back)
rid_req() {
	local args=(-s -o "$dir/out" -D "$dir/headers" -w '%{http_code}' -H "x-api-key: $KEY")
	for v in "$@"; do args+=(-H "X-Request-Id: $v"); done
	STATUS=$(curl "${args[@]}" "$H/heron/api/credentials/keys")
	RID=$(header X-Request-Id)
}
# line_of RID: the access line with that request id (compact JSON)
line_of() { jq -c --arg r "$1" 'select(.msg == "access" and .request_id == $r)' "$JLOG" 2>/dev/null | head -1; }
jqt() { jq -e "$@" >/dev/null; }
wait_line() { for _ in $(seq 100); do [ -n "$(line_of "$1")" ] && return 0; sleep 0.05; done; return 1; }

rid_req "test-rid-42.a:b@c+d/e=f_g"
check "a valid X-Request-Id is sent back as it came" test "$RID" = "test-rid-42.a:b@c+d/e=f_g"
wait_line "$RID"
L=$(line_of "$RID")
check "the request's log line carries the id sent" test -n "$L"
check "access line: api, operation, method, path, status" \
	jqt '.api == "heron" and .operation == "list_keys" and .method == "GET" and
	       .path == "/heron/api/credentials/keys" and .status == 200' <<<"$L"
check "access line: the key's id (never the key)" jqt --argjson k "$KEY_ID" '.key_id == $k' <<<"$L"
check "access line: duration_ms a number, client the address" \
	jqt '(.duration_ms | type) == "number" and .duration_ms >= 0 and .client == "127.0.0.1"' <<<"$L"
check "access line: time in milliseconds (UTC), level info" \
	jqt '(.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")) and .level == "info"' <<<"$L"

long=$(printf 'x%.0s' $(seq 129))
for bad in "$long" "has space" "<script>" "semi;colon" "quote\"d" "$KEY"; do
	rid_req "$bad"
	if [ -n "$RID" ] && [ "$RID" != "$bad" ] && [[ "$RID" =~ ^[0-9a-f]{16}-[0-9a-f]{12}$ ]] && wait_line "$RID"; then
		ok "X-Request-Id '${bad:0:20}...' replaced by a made one ($RID), in the log"
	else no "X-Request-Id '${bad:0:20}': got '$RID'"; fi
done
max=$(printf 'y%.0s' $(seq 128))
rid_req "$max"
check "an X-Request-Id of 128 characters is kept" test "$RID" = "$max"
rid_req
r1=$RID
rid_req
check "no X-Request-Id: one is made, different per request" test -n "$r1" -a -n "$RID" -a "$r1" != "$RID"
wait_line "$RID"
check "the made id is in the log line" test -n "$(line_of "$RID")"

# the id on responses apikeyd answers itself: 404, a refused request, health
req GET /nope "X-Request-Id: on-404"
check "the id comes back on a 404" test "$(header X-Request-Id)" = on-404
req GET /healthz "X-Request-Id: on-health"
check "the id comes back on /healthz" test "$(header X-Request-Id)" = on-health
req GET /heron/api/credentials/keys "X-Request-Id: on-401"
check "the id comes back on a 401" test "$(header X-Request-Id)" = on-401
wait_line on-401
check "a 401's line: status 401, key_id null" jqt '.status == 401 and .key_id == null' <<<"$(line_of on-401)"

# error bodies that have room for it carry the id: problem details (FastAPI,
# and the server's own answers outside every API); Heron's errors are bare
req GET /fastapi/api/auth/api-keys/ "X-Request-Id: in-body-401"
check "FastAPI 401 problem details carry request_id" jqt '.status == 401 and .request_id == "in-body-401"' "$dir/out"
req GET /nope "X-Request-Id: in-body-404"
check "a 404 outside every API carries request_id" jqt '.status == 404 and .request_id == "in-body-404"' "$dir/out"
req GET /fastapi/api/auth/api-keys/ "X-Request-Id: $KEY"
check "a request id that was a key: the body's is the made one" jqt --arg r "$(header X-Request-Id)" '.request_id == $r' "$dir/out"
req GET /heron/api/credentials/keys "X-Request-Id: bare"
check "Heron's bare 401: no body, the id in the header" test ! -s "$dir/out" -a "$(header X-Request-Id)" = bare

# every way a credential can be sent, with the key and a marker
secret_requests() { # secret_requests BASE
	curl -s -o /dev/null -H "x-api-key: $KEY" -H "Authorization: Bearer $KEY" -b "session=$KEY" \
		-H "X-Request-Id: $KEY" "$1/heron/api/credentials/keys?api_key=$KEY&x=1"
	curl -s -o /dev/null -H "x-api-key: SECRETVALUE123" -H 'Authorization: Bearer SECRETVALUE456' \
		-b 'session=SECRETVALUE789' "$1/healthz?api_key=SECRETVALUE000&x=1"
	curl -s -o /dev/null -H "x-api-key: $KEY" "$1/feldera/v0/api_keys/$KEY"
	curl -s -o /dev/null "$1/$KEY/nope"
	curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $KEY" "$1/fastapi/api/auth/api-keys/$KEY"
}
secret_requests "$H"
curl -s -o /dev/null -H "X-Request-Id: last-json" "$H/healthz"
wait_line last-json

# every line, one object each
n=$(wc -l <"$JLOG")
parsed=$(jq -c 'select(type == "object" and (.time | type) == "string" and (.level | type) == "string"
                       and (.msg | type) == "string")' "$JLOG" 2>/dev/null | wc -l)
check "every line of the JSON log is one object with time, level, msg ($parsed of $n)" test "$n" -gt 5 -a "$parsed" = "$n"
bad=0
while IFS= read -r line; do jq -e . >/dev/null 2>&1 <<<"$line" || { bad=1; echo "      unparsed: $line"; }; done <"$JLOG"
check "jq parses the log line by line" test "$bad" = 0
acc=$(jq -c 'select(.msg == "access")' "$JLOG" | wc -l)
full=$(jq -c 'select(.msg == "access" and has("request_id") and has("api") and has("operation") and has("method")
                     and has("path") and has("status") and has("duration_ms") and has("client") and has("key_id"))' \
	"$JLOG" | wc -l)
check "every access line has every field ($full of $acc)" test "$acc" -gt 10 -a "$full" = "$acc"
check "JSON log: the key nowhere (headers, cookie, query, path, request id)" bash -c "! grep -qF -- '${KEY:8}' '$JLOG'"
check "JSON log: no SECRETVALUE" bash -c "! grep -q SECRETVALUE '$JLOG'"
check "JSON log: a key in the path is written [key]" grep -qF '"path":"/feldera/v0/api_keys/[key]"' "$JLOG"

# ---- the same in text ----
start_server "$db" --log-format text || { no "apikeyd starts with --log-format text" "$(tail -3 "$SRV_LOG")"; finish; exit 1; }
secret_requests "$H"
curl -s -o /dev/null -H "X-Request-Id: last-text" "$H/healthz"
for _ in $(seq 100); do grep -q 'rid=last-text GET /healthz 200' "$SRV_LOG" && break; sleep 0.05; done
check "text log: the request id leads the access line" grep -qE 'rid=last-text GET /healthz 200 [0-9.]+ms 127\.0\.0\.1$' "$SRV_LOG"
check "text log: the whole access line: time, app, level, rid, method, path, status, one-decimal ms, client" \
	grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z apikeyd INFO: rid=last-text GET /healthz 200 [0-9]+\.[0-9]ms 127\.0\.0\.1$' "$SRV_LOG"
check "text log: an authenticated request's line ends with its key id" \
	grep -qE '^[0-9T:Z-]+ apikeyd INFO: (rid=[^ ]+ )?GET /heron/api/credentials/keys 200 [0-9]+\.[0-9]ms 127\.0\.0\.1 key=[0-9]+$' "$SRV_LOG"
check "text log: every line is one whole line (time, app, level)" \
	bash -c "! grep -vE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z apikeyd (INFO|WARNING|ERROR|DEBUG): ' '$SRV_LOG'"
check "text log: the key nowhere" bash -c "! grep -qF -- '${KEY:8}' '$SRV_LOG'"
check "text log: no SECRETVALUE" bash -c "! grep -q SECRETVALUE '$SRV_LOG'"
check "text log: not JSON" bash -c "! grep -q '^{' '$SRV_LOG'"

# ---- access lines while other requests are in flight: server/log.c keeps
# them to write together, and a line waits a moment at most, not until the
# request in flight ends; under concurrent load every request still has its
# line; a message and a stop write what waits first, so the order holds ----
if start_server "$db" --log-format text --test-slow-endpoint; then
	curl -s -o /dev/null "$H/__test/slow?ms=6000" &
	slow=$!
	for _ in $(seq 100); do grep -q 'GET /healthz' "$SRV_LOG" && break; sleep 0.02; done   # (start_server's own)
	sleep 0.5   # the slow request is in flight
	curl -s -o /dev/null -H "X-Request-Id: batch-probe-1" "$H/healthz"
	found=0
	for _ in $(seq 60); do grep -q 'rid=batch-probe-1 GET /healthz 200' "$SRV_LOG" && { found=1; break; }; sleep 0.05; done
	running=no; kill -0 "$slow" 2>/dev/null && running=yes
	check "an access line is written while another request is still in flight (within 3 s of a 6 s one)" \
		test "$found:$running" = "1:yes"
	seq 300 | xargs -P 8 -I{} curl -s -o /dev/null -H "X-Request-Id: batch-{}" "$H/healthz"
	n=0
	for _ in $(seq 60); do
		n=$(grep -c 'rid=batch-[0-9]* GET /healthz 200' "$SRV_LOG")
		[ "$n" -ge 300 ] && break
		sleep 0.05
	done
	check "300 concurrent requests beside one in flight: 300 access lines ($n)" test "$n" = 300
	check "each line whole, on a line of its own" test "$(grep -c 'apikeyd INFO: rid=batch-[0-9]* GET /healthz 200 [0-9.]*ms 127.0.0.1$' "$SRV_LOG")" = 300
	curl -s -o /dev/null -H "X-Request-Id: batch-last" "$H/healthz"
	kill -TERM "$SRV_PID"
	wait "$slow"
	wait "$SRV_PID" 2>/dev/null
	last=$(grep -n 'rid=batch-last ' "$SRV_LOG" | cut -d: -f1)
	term=$(grep -n 'SIGTERM' "$SRV_LOG" | head -1 | cut -d: -f1)
	check "the line of a request answered before SIGTERM comes before the SIGTERM message (lines $last, $term)" \
		test -n "$last" -a -n "$term" -a "${last:-0}" -lt "${term:-0}"
	check "the slow request's own line is written by the stop" grep -q 'GET /__test/slow 200' "$SRV_LOG"
else no "start with --test-slow-endpoint" "$(tail -3 "$SRV_LOG")"; fi

# ---- below info: no access line ----
if start_server "$db" --log-format text --log-level warning; then
	curl -s -o /dev/null "$H/healthz"
	curl -s -o /dev/null -H "x-api-key: $KEY" "$H/heron/api/credentials/keys"
	sleep 0.2
	check "--log-level warning: no access line" bash -c "! grep -q 'apikeyd INFO:' '$SRV_LOG'"
else no "start with --log-level warning" "$(tail -3 "$SRV_LOG")"; fi

# tally FILE OUTPAT PHRASE: out, FILE's lines holding OUTPAT; given, the
# lines its warnings say were given up ("N log lines given up: PHRASE ...")
tally() {
	out=$(grep -c -- "$2" "$1")
	given=$(sed -n "s/.*[^0-9]\([0-9][0-9]*\) log lines given up: $3.*/\1/p" "$1" | awk '{ s += $1 } END { print s + 0 }')
}
# reader_back BASE RID: 0.5 s for what waited to go out, one request with
# X-Request-Id RID, 0.3 s for its line
reader_back() { sleep 0.5; curl -s -o /dev/null -H "X-Request-Id: $2" "$1/healthz"; sleep 0.3; }
# up BASE: until BASE/healthz answers (10 s at most)
up() { for _ in $(seq 200); do curl -s -o /dev/null "$1/healthz" && return 0; sleep 0.05; done; return 1; }
# healthz_n BASE N SECS [RID]: how many of N requests to BASE/healthz, one
# connection, are answered 200 within SECS
healthz_n() {
	local urls=() rid=()
	for _ in $(seq "$2"); do urls+=("$1/healthz"); done
	[ -n "${4:-}" ] && rid=(-H "X-Request-Id: $4")
	timeout "$3" curl -s -w 'CODE:%{http_code}\n' "${rid[@]}" "${urls[@]}" | grep -o 'CODE:200' | wc -l
}

# ---- syslog and the journal as targets: their own formats, on their sockets ----
# (tests/logs/dgram_sink stands in for the daemon's socket, --log-socket
# names it; a file HOLD keeps it from reading, as a daemon that stalls)
SINK=${DGRAM_SINK:-$top/${BUILD:-build}/tests/logs/dgram_sink}
# eventually CMD...: CMD succeeds within 2 s (the sink writes what it read when idle)
eventually() { for _ in $(seq 40); do "$@" && return 0; sleep 0.05; done; return 1; }
sink_start() { # sink_start PATH OUT [HOLD]: SINK_PID, once bound
	"$SINK" "$@" >"$dir/sink.ready" &
	SINK_PID=$!
	SRV_PIDS+=("$SINK_PID")
	for _ in $(seq 100); do grep -q ready "$dir/sink.ready" 2>/dev/null && return 0; sleep 0.02; done
	return 1
}
sink_stop() { kill -TERM "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; }
sock=$dir/log.sock
: >"$dir/syslog.out"
sink_start "$sock" "$dir/syslog.out"
if start_server "$db" --log-target syslog --log-socket "$sock"; then
	curl -s -o /dev/null -H "X-Request-Id: to-syslog" "$H/healthz"
	sleep 0.2
	check "--log-target syslog: the access line on its socket, in syslog's format (<14>Mmm dd hh:mm:ss apikeyd[PID]: ...)" \
		grep -qE "^<14>[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} apikeyd\[$SRV_PID\]: rid=to-syslog GET /healthz 200 [0-9.]+ms 127\.0\.0\.1$" "$dir/syslog.out"
	check "... its start message too, and nothing on standard error" \
		bash -c "grep -q 'apikeyd\[$SRV_PID\]: apikeyd ready: ' '$dir/syslog.out' && ! grep -q . '$SRV_LOG'"
	kill -TERM "$SRV_PID"; wait "$SRV_PID"
	check "... and its stop: 'apikeyd stopped' is the last line" eventually bash -c "tail -1 '$dir/syslog.out' | grep -q 'apikeyd\[$SRV_PID\]: apikeyd stopped$'"
else no "start with --log-target syslog --log-socket" "$(tail -3 "$SRV_LOG")"; fi
sink_stop

: >"$dir/journal.out"
sink_start "$sock" "$dir/journal.out"
if start_server "$db" --log-target journald --log-socket "$sock" --log-format json; then
	curl -s -o /dev/null -H "X-Request-Id: to-journal" "$H/healthz"
	curl -s -o /dev/null "$H/no-such-path"
	sleep 0.2
	check "--log-target journald: one record a line, in the journal's native fields (PRIORITY, SYSLOG_IDENTIFIER, SYSLOG_PID, MESSAGE)" \
		grep -qE "^PRIORITY=6\|SYSLOG_FACILITY=1\|SYSLOG_IDENTIFIER=apikeyd\|SYSLOG_PID=$SRV_PID\|MESSAGE=\{.*\"request_id\":\"to-journal\".*\}\|$" "$dir/journal.out"
	check "... the message the JSON line (--log-format json), which parses" bash -c \
		"grep 'to-journal' '$dir/journal.out' | sed 's/.*|MESSAGE=//; s/|\$//' | jq -e '.msg == \"access\" and .status == 200' >/dev/null"
else no "start with --log-target journald --log-socket" "$(tail -3 "$SRV_LOG")"; fi
kill -TERM "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null
sink_stop

# a daemon that stops reading: before, glibc's syslog(3) waited with every
# worker that wrote a line (7 of 300 requests answered in 10 s)
: >"$dir/stall.out"
touch "$dir/hold"
sink_start "$sock" "$dir/stall.out" "$dir/hold"
if start_server "$db" --log-target syslog --log-socket "$sock"; then
	codes=$(healthz_n "$H" 3000 60 dstall)
	check "syslog's daemon reads nothing: 3,000 requests all answered ($codes)" test "$codes" = 3000
	rm -f "$dir/hold"   # it reads again
	reader_back "$H" dafter
	tally "$dir/stall.out" "rid=dstall GET /healthz 200 " "syslog took no more"
	check "... once it reads: a warning (<12>, user.warning) of the lines given up ($given), which with the lines out ($out) add up to 3,000" \
		bash -c "[ '$given' -gt 0 ] && [ $((out + given)) = 3000 ] && grep -q '^<12>.* log lines given up: syslog' '$dir/stall.out'"
	check "... and the log goes on" grep -q 'rid=dafter GET /healthz 200' "$dir/stall.out"
	mdrop=$(curl -s "$H/metrics" | awk '$1 == "apikeyd_log_lines_dropped_total" { print $2 }')
	check "... /metrics counts them: apikeyd_log_lines_dropped_total $mdrop" test "$mdrop" = "$given"
	# the daemon gone (a restart: its socket made again)
	sink_stop
	for i in $(seq 50); do curl -s -o /dev/null -H "X-Request-Id: dgone" "$H/healthz"; done
	g0=$(curl -s "$H/metrics" | awk '$1 == "apikeyd_log_lines_dropped_total" { print $2 }')
	check "syslog's daemon gone: requests answered, their lines counted lost ($((g0 - mdrop)) >= 50)" test $((g0 - mdrop)) -ge 50
	sink_start "$sock" "$dir/stall.out"
	sleep 1.2   # apikeyd connects again once a second at most
	curl -s -o /dev/null -H "X-Request-Id: dback" "$H/healthz"
	sleep 0.3
	check "... and back with a new socket: connected again, the log goes on" grep -q 'rid=dback GET /healthz 200' "$dir/stall.out"
	check "... after a warning of the lines lost meanwhile (50 or more)" bash -c \
		"sed -n 's/.*: \([0-9]*\) log lines given up: syslog.*/\1/p' '$dir/stall.out' | tail -1 | awk '{ exit !(\$1 >= 50) }'"
	kill -TERM "$SRV_PID"; wait "$SRV_PID"
	check "... and it stops with its exit status 0" test $? = 0
else no "start with --log-target syslog (a daemon that reads nothing)" "$(tail -3 "$SRV_LOG")"; fi
sink_stop

# the default socket, /dev/log, in a private mount namespace (unshare -m)
# whose /dev is a directory of the usual devices and the sink's socket: the
# same check as above for a server given no --log-socket (the first version
# of this test, run on the yder-based apikeyd: 7 of 1,500 answered in 10 s)
fdev=$dir/dev
mkdir -p "$fdev"
: >"$dir/devlog.out"
touch "$dir/hold"
if sink_start "$fdev/log" "$dir/devlog.out" "$dir/hold"; then
	nport=$(free_port)
	unshare -m --propagation private bash -c 'F=$1; shift
		for n in null zero urandom random full tty; do : >"$F/$n" && mount --bind "/dev/$n" "$F/$n" || exit 97; done
		mount --bind "$F" /dev || exit 97
		exec "$@"' _ "$fdev" "$APIKEYD" --db "$db" --listen "127.0.0.1:$nport" --tls-listen off \
		--log-target syslog >/dev/null 2>"$dir/devlog.err" &
	npid=$!
	SRV_PIDS+=("$npid")
	up "http://127.0.0.1:$nport"
	codes=$(healthz_n "http://127.0.0.1:$nport" 1500 10 devlog)
	check "the default /dev/log held by a daemon that reads nothing: 1,500 requests answered within 10 s ($codes)" test "$codes" = 1500
	rm -f "$dir/hold"
	sleep 0.5
	check "... and once it reads, the lines come through it: a start line, the warning" bash -c \
		"grep -q 'apikeyd\[$npid\]: apikeyd ready: ' '$dir/devlog.out' && grep -q 'apikeyd\[$npid\]: [0-9]* log lines given up: syslog' '$dir/devlog.out'"
	kill -TERM "$npid" 2>/dev/null; wait "$npid"
	check "... and it stops with its exit status 0" test $? = 0
else no "a socket for /dev/log"; fi
sink_stop

# no daemon at all: a clear error at start, not lines lost without a word
"$APIKEYD" --db "$db" --listen "127.0.0.1:$(free_port)" --tls-listen off --log-target syslog \
	--log-socket "$dir/nobody.sock" >/dev/null 2>"$dir/nosock.err"
rc=$?
check "--log-target syslog with no daemon at its socket: exit 1 and why ($(head -c 160 "$dir/nosock.err"))" bash -c \
	"[ $rc = 1 ] && grep -q 'cannot start logging: --log-target syslog: cannot send to $dir/nobody.sock: No such file or directory' '$dir/nosock.err'"

# a stream socket there (syslog-ng's unix-stream()): refused at start, saying so
if sink_start --stream "$dir/stream.sock" "$dir/stream.out"; then
	"$APIKEYD" --db "$db" --listen "127.0.0.1:$(free_port)" --tls-listen off --log-target syslog \
		--log-socket "$dir/stream.sock" >/dev/null 2>"$dir/stream.err"
	rc=$?
	check "--log-socket a stream socket: exit 1, naming it ($(head -c 150 "$dir/stream.err"))" bash -c \
		"[ $rc = 1 ] && grep -q 'cannot send to $dir/stream.sock: it is a stream socket; apikeyd sends datagrams' '$dir/stream.err'"
else no "a stream socket"; fi
sink_stop

# ---- standard error a pipe nobody reads: requests are still answered ----
# (a FIFO held open here and not read, as a stalled journald or a paused
# terminal; the pipe holds 64 KiB, about 800 lines: before, the server
# answered that many requests and then none)
fifo=$dir/stderr.fifo
rm -f "$fifo" && mkfifo "$fifo"
exec 7<>"$fifo"
sport=$(free_port)
"$APIKEYD" --db "$db" --listen "127.0.0.1:$sport" --tls-listen off --log-level info >/dev/null 2>"$fifo" &
spid=$!
SRV_PIDS+=("$spid")
up "http://127.0.0.1:$sport"
codes=$(healthz_n "http://127.0.0.1:$sport" 3000 60 stall)
check "standard error a pipe nobody reads: 3,000 requests all answered ($codes)" test "$codes" = 3000
check "... and /healthz still answers" bash -c "curl -s -m 5 -o /dev/null -w '%{http_code}' 'http://127.0.0.1:$sport/healthz' | grep -q 200"
# the reader comes back
timeout 2 cat <&7 >"$dir/stall.log"
curl -s -o /dev/null -H "X-Request-Id: after-stall" "http://127.0.0.1:$sport/healthz"
timeout 1 cat <&7 >>"$dir/stall.log"
tally "$dir/stall.log" "apikeyd INFO: rid=stall GET /healthz 200 " "standard error took no more (its reader had stopped reading)"
check "once read again: a warning of the lines given up ($given), and they and the lines out ($out) add up to 3,000" \
	test "$given" -gt 0 -a $((out + given)) = 3000
check "... and the log goes on: a request's line after that comes out" grep -q 'rid=after-stall GET /healthz 200' "$dir/stall.log"
mdrop=$(curl -s "http://127.0.0.1:$sport/metrics" | awk '$1 == "apikeyd_log_lines_dropped_total" { print $2 }')
check "... and /metrics counts them: apikeyd_log_lines_dropped_total $mdrop" test "$mdrop" = "$given"
check "... every line whole" bash -c "! grep -v '^[0-9T:Z-]* apikeyd [A-Z]*: ' '$dir/stall.log' | grep -q ."
kill -TERM "$spid"
timeout 1 cat <&7 >/dev/null
wait "$spid"
check "... and it stops with its exit status 0" test $? = 0
exec 7<&-

# ---- standard error a full disk (/dev/full): served, and the lines lost counted ----
fport=$(free_port)
"$APIKEYD" --db "$db" --listen "127.0.0.1:$fport" --tls-listen off --log-level info >/dev/null 2>/dev/full &
fpid=$!
SRV_PIDS+=("$fpid")
up "http://127.0.0.1:$fport"
codes=$(healthz_n "http://127.0.0.1:$fport" 200 60)
check "standard error a full disk (/dev/full): 200 requests all answered ($codes)" test "$codes" = 200
sleep 0.2   # the flusher's turn (20 ms)
fdrop=$(curl -s "http://127.0.0.1:$fport/metrics" | awk '$1 == "apikeyd_log_lines_dropped_total" { print $2 }')
check "... and each of their lines is counted lost: apikeyd_log_lines_dropped_total ${fdrop:-none} >= 200" \
	test "${fdrop:-0}" -ge 200
kill -TERM "$fpid"
wait "$fpid"
check "... and it stops with its exit status 0" test $? = 0


# ---- standard error a file whose disk stops answering (a frozen ext4) ----
# (an ext4 image on a loop device, fsfreeze: a write to it waits until it
# thaws, as on an NFS server gone or a dying device; before, the worker that
# wrote a line waited there, then every worker: 0 of 2,000 answered in 10 s)
fz=$dir/frozen
if loopfs_mount "$fz" 32M; then
	lib_cleanup_frozen() { loopfs_release "$fz"; lib_cleanup; }
	trap lib_cleanup_frozen EXIT
	zport=$(free_port)
	"$APIKEYD" --db "$db" --listen "127.0.0.1:$zport" --tls-listen off --log-level info >/dev/null 2>>"$fz/mnt/apikeyd.log" &
	zpid=$!
	SRV_PIDS+=("$zpid")
	up "http://127.0.0.1:$zport"
	fsfreeze -f "$fz/mnt" || no "fsfreeze -f"
	codes=$(healthz_n "http://127.0.0.1:$zport" 20000 30 frozen)
	check "standard error a file on a frozen disk: 20,000 requests all answered ($codes)" test "$codes" = 20000
	fsfreeze -u "$fz/mnt"
	reader_back "http://127.0.0.1:$zport" thawed
	tally "$fz/mnt/apikeyd.log" "apikeyd INFO: rid=frozen GET /healthz 200 " "standard error took no more (its file's disk had stopped taking writes)"
	check "... thawed: a warning of the lines given up ($given), which with the lines out ($out) add up to 20,000" \
		test "$given" -gt 0 -a $((out + given)) = 20000
	check "... and the log goes on" grep -q 'rid=thawed GET /healthz 200' "$fz/mnt/apikeyd.log"
	kill -TERM "$zpid"; wait "$zpid"
	check "... and it stops with its exit status 0, its last line out" \
		bash -c "[ $? = 0 ] && tail -1 '$fz/mnt/apikeyd.log' | grep -q 'apikeyd stopped'"
	umount "$fz/mnt" || no "umount the frozen disk's file system"
else
	no "an ext4 image on a loop device (needs root, mkfs.ext4 and a loop device)"
fi
usage() { # usage NAME ERE ARGS...
	local name=$1 pat=$2; shift 2
	"$APIKEYD" --db "$db" "$@" >/dev/null 2>"$dir/usage.err"; local rc=$?
	[ "$rc" = 2 ] && grep -qE -- "$pat" "$dir/usage.err" && ok "$name" || no "$name (exit $rc)" "$(cat "$dir/usage.err")"
}
usage "--log-format xml: usage error" '--log-format: "xml": expected text or json' --log-format xml
usage "--log-target file: usage error" '--log-target: "file": expected stderr, syslog or journald' --log-target file
usage "--log-socket without a socket target: usage error" '--log-socket /dev/log: only with --log-target syslog or journald' --log-socket /dev/log
APIKEYD_LOG_FORMAT=yaml usage "APIKEYD_LOG_FORMAT=yaml: usage error" 'environment APIKEYD_LOG_FORMAT: "yaml"'
check "--help names --log-format, --log-target, --log-socket, --metrics" bash -c \
	"'$APIKEYD' --help | grep -q -- '--log-format FORMAT' && '$APIKEYD' --help | grep -q -- '--log-target TARGET' && '$APIKEYD' --help | grep -q -- '--log-socket PATH' && '$APIKEYD' --help | grep -q -- '--metrics WHERE'"

finish

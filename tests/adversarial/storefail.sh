#!/bin/bash
# test-adversarial-storefail: the store fails under a request (audit issue
# 10, findings 2 and 10). A removal, create, list or authentication that
# the store could not carry out is a 500 (a failure) or a 503 with
# Retry-After (busy, locked, disk full) in the family's error shape, with a
# "key store: ..." log line naming the cause; never a 404 (not found), a
# 401 (invalid key), a 2xx or an empty list. Whatever the answer, it is
# the truth: a key whose removal failed still authenticates, a key whose
# removal succeeded is refused.
#   1. Fault injection, per call: $BUILD/apikeyd-faults (store.c built
#      -DSTORE_FAULTS, keysvc/store_fault.c) fails the store calls a control
#      file names; the production binary holds no trace of it.
#   2. A real full disk: the database on a small tmpfs filled to the brim.
#   3. A real read-only database: the same files through a read-only bind
#      mount; readiness (/readyz) fails and the start logs why.
#   4. Store errors are logged, rate-limited: a failing store cannot flood
#      the log.
#   A store failure is not a failed authentication: never counted by the
#   failed-authentication limiter, never a 429 (finding 7's limiter).
set -u
SUITE=adversarial-storefail
. "$(dirname "$0")/../lib/apikeyd.sh"
. "$(dirname "$0")/../lib/loopfs.sh"
FAULTS=${APIKEYD_FAULTS:-$top/${BUILD:-build}/apikeyd-faults}

# ---- 0. the production binary cannot inject faults ----
if grep -q APIKEYD_STORE_FAULT "$APIKEYD" || grep -q store_fault_wrap "$APIKEYD"; then
	no "the production binary holds no fault-injection code"
else ok "the production binary holds no fault-injection code"; fi
grep -q APIKEYD_STORE_FAULT "$FAULTS" && ok "the test binary apikeyd-faults has it" ||
	no "the test binary apikeyd-faults has it"

# bodies of each family's 5xx
shape_ok() { # shape_ok FAMILY STATUS: the last response is FAMILY's error shape
	case $1 in
	heron) [ ! -s "$dir/out" ] ;;
	feldera) jq -e '.error_code and .message and has("details")' "$dir/out" >/dev/null 2>&1 ;;
	nebula | nebula_uuid) jq -e '.status == "failed" and has("data") and .message' "$dir/out" >/dev/null 2>&1 ;;
	fastapi) jq -e --argjson s "$2" '.status == $s and .title' "$dir/out" >/dev/null 2>&1 ;;
	esac
}
BASE_heron=/heron/api/credentials/keys
BASE_feldera=/feldera/v0/api_keys
BASE_nebula=/nebulablock/api/v1/api-keys
BASE_nebula_uuid=/nebulablock-uuid/api/v1/api-keys
BASE_fastapi=/fastapi/api/auth/api-keys/
auth_hdr() { [ "$1" = heron ] && echo "X-API-KEY: $2" || echo "Authorization: Bearer $2"; }
# mk FAMILY NAME: creates a key with $KEY; sets NEWTOK and NEWID (what the
# family's removal takes: heron_id, name, integer id, uuid)
mk() {
	local b=BASE_$1
	# a Feldera key that answers on Feldera's routes needs the write role
	local role=; [ "$1" = feldera ] && role=',"role":"write"'
	req POST "${!b}" "$(auth_hdr "$1" "$KEY")" "{\"name\":\"$2\"$role}"
	case $1 in
	heron) NEWTOK=$(jb .token); NEWID=$(jb .heron_id) ;;
	feldera) NEWTOK=$(jb .api_key); NEWID=$2 ;;
	nebula | nebula_uuid) NEWTOK=$(jb .data.key); NEWID=$(jb .data.id) ;;
	fastapi) NEWTOK=$(jb .key); NEWID=$(jb .id) ;;
	esac
	[ "$STATUS" = 201 ] && [ -n "$NEWTOK" ] && [ "$NEWTOK" != null ]
}
# remove OP ID: one removal; OP is heron-delete, heron-deactivate,
# feldera-delete, nebula-delete, nebula_uuid-delete, fastapi-revoke
remove() {
	local fam=${1%-*}
	case $1 in
	heron-delete) req DELETE "$BASE_heron/$2" "X-API-KEY: $KEY" ;;
	heron-deactivate) req PUT "$BASE_heron/$2/deactivate" "X-API-KEY: $KEY" ;;
	fastapi-revoke) req DELETE "/fastapi/api/auth/api-keys/$2" "Authorization: Bearer $KEY" ;;
	*) local b=BASE_$fam; req DELETE "${!b}/$2" "Authorization: Bearer $KEY" ;;
	esac
}
REMOVALS="heron-delete heron-deactivate feldera-delete nebula-delete nebula_uuid-delete fastapi-revoke"
# authenticates TOKEN: 0 when TOKEN is accepted now (it works on every family)
# (each probe from its own loopback address: probes of refused keys must not
# trip the failed-authentication limit for the requests that follow)
PROBE=0
authenticates() {
	local s
	PROBE=$((PROBE + 1))
	s=$(curl -s -o /dev/null -w '%{http_code}' --interface "127.0.$((PROBE / 200 + 1)).$((PROBE % 200 + 2))" -H "X-API-KEY: $1" "$H$BASE_heron")
	[ "$s" = 200 ]
}
# documented API OPERATION: the last response is what OPERATION's document
# says for its status (the contract checker oapigen generated for API)
CHECKERS=$top/${BUILD:-build}/contract
documented() {
	local ct; ct=$(header Content-Type)
	jq -cn --arg op "$2" --argjson st "$STATUS" --arg ct "$ct" --rawfile b "$dir/out" \
		'{operation: $op, status: $st, content_type: (if $ct == "" then null else $ct end),
		  body: (if $b == "" then null else $b end)}' | "$CHECKERS/check_$1" >"$dir/checked"
	jq -e '.errors | length == 0' "$dir/checked" >/dev/null
}
op_of() { # op_of FAMILY create|list|REMOVAL: the operationId
	case $1:$2 in
	heron:create) echo create_key ;; heron:list) echo list_keys ;;
	heron-delete:*) echo delete_key ;; heron-deactivate:*) echo deactivate_key ;;
	fastapi:create) echo create_my_api_key ;; fastapi:list) echo list_my_api_keys ;;
	fastapi-revoke:*) echo revoke_my_api_key ;;
	*-delete:*) echo delete_api_key ;;
	*:create) echo create_api_key ;; *:list) echo list_api_keys ;;
	esac
}
# a 5xx answer: status, shape, Retry-After (503 only), and the key still works
# (a 503 has Retry-After unless RA=no: an error that will not pass by itself)
expect_fail() { # expect_fail NAME FAMILY WANT_STATUS [TOKEN_THAT_MUST_STILL_WORK]
	local ra; ra=$(header Retry-After)
	if [ "$STATUS" != "$3" ]; then no "$1: $3 (got $STATUS)" "$BODY_OUT"; return; fi
	ok "$1: $3"
	shape_ok "$2" "$3" && ok "$1: in $2's error shape" || no "$1: in $2's error shape" "$BODY_OUT"
	if [ -n "${OP:-}" ]; then
		documented "$2" "$OP" && ok "$1: as $2's document says ($OP $3)" ||
			no "$1: as $2's document says ($OP $3)" "$(cat "$dir/checked")"
	fi
	if [ "$3" = 503 ] && [ "${RA:-yes}" = yes ]; then
		[[ "$ra" =~ ^[1-9][0-9]*$ ]] && ok "$1: Retry-After $ra" || no "$1: Retry-After (got \"$ra\")"
	else
		[ -z "$ra" ] && ok "$1: no Retry-After (not transient)" || no "$1: no Retry-After (got $ra)"
	fi
	if [ -n "${4:-}" ]; then
		authenticates "$4" && ok "$1: the key still authenticates, as answered" ||
			no "$1: the key still authenticates, as answered"
	fi
}
# logged PATTERN: a "key store:" line matching PATTERN is in the server's log
logged() { grep -E "key store: .*$1" "$SRV_LOG" >/dev/null; }
fault() { printf '%s\n' "$*" >"$dir/fault"; }

# ---- 1. fault injection ----
db=$dir/var/apikeyd.db
KEY=$(user_add "$db" alice)
: >"$dir/fault"
APIKEYD_STORE_FAULT=$dir/fault APIKEYD=$FAULTS start_server "$db" ||
	{ no "apikeyd-faults starts" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
grep -q "fault injection is on" "$SRV_LOG" && ok "apikeyd-faults says fault injection is on" ||
	no "apikeyd-faults says fault injection is on"

n=0
for op in $REMOVALS; do
	fam=${op%-*}
	for kind in busy:503 full:503 error:500; do
		n=$((n + 1))
		mk "$fam" "victim$n" || { no "$op: create a victim key" "$BODY_OUT"; continue; }
		authenticates "$NEWTOK" || no "$op: the victim authenticates first"
		fault "key_delete,key_set_active,key_revoke ${kind%:*}"
		remove "$op" "$NEWID"
		OP=$(op_of "$op" x) expect_fail "$op, store ${kind%:*}" "$fam" "${kind#*:}" "$NEWTOK"
		fault ""
		# the lookup before the removal fails: not a 404 either
		fault "key_get ${kind%:*}"
		remove "$op" "$NEWID"
		OP=$(op_of "$op" x) expect_fail "$op, its lookup ${kind%:*}" "$fam" "${kind#*:}" "$NEWTOK"
		fault ""
		# and with the store healthy, the removal is done and the key refused
		remove "$op" "$NEWID"
		[[ "$STATUS" = 2* ]] && ! authenticates "$NEWTOK" && ok "$op, store healthy: done ($STATUS), the key refused" ||
			no "$op, store healthy: done, the key refused (got $STATUS)" "$BODY_OUT"
		# a key that is not there is the one 404
		[ "$op" = heron-deactivate ] || { remove "$op" "$NEWID"; [ "$STATUS" = 404 ] && ok "$op of a removed key: 404" || no "$op of a removed key: 404 (got $STATUS)"; }
	done
done
logged "key_delete: database is locked" && ok "a failed delete is logged with its cause" ||
	no "a failed delete is logged with its cause" "$(grep -i store "$SRV_LOG" | tail -3)"

# creates and lists that fail: 5xx, never 2xx, never an empty list
for fam in heron feldera nebula nebula_uuid fastapi; do
	b=BASE_$fam
	for kind in busy:503 error:500; do
		fault "key_insert ${kind%:*}"
		req POST "${!b}" "$(auth_hdr "$fam" "$KEY")" "{\"name\":\"c-$fam-${kind%:*}\"}"
		OP=$(op_of "$fam" create) expect_fail "$fam create, store ${kind%:*}" "$fam" "${kind#*:}"
		fault "key_list ${kind%:*}"
		req GET "${!b}" "$(auth_hdr "$fam" "$KEY")"
		OP=$(op_of "$fam" list) expect_fail "$fam list, store ${kind%:*}" "$fam" "${kind#*:}"
		fault ""
	done
done

# a key created disabled is one write: the key is stored disabled, not stored
# enabled and then disabled by a second write that may fail (which left an
# enabled key behind a failed create, counting against the quota)
fault "key_set_active error"
req POST /v1/keys "x-api-key: $KEY" '{"name":"born-disabled","enabled":false}'
[ "$STATUS" = 201 ] && [ "$(jb .enabled)" = false ] && ok "apikeyd create enabled:false needs no second write: 201, disabled" ||
	no "apikeyd create enabled:false with key_set_active failing (got $STATUS)" "$BODY_OUT"
fault ""
req GET "/v1/keys?limit=100" "x-api-key: $KEY"
[ "$(jb '[.items[] | select(.name == "born-disabled")] | map(.enabled) | tostring')" = '[false]' ] &&
	ok "apikeyd list: the one key born-disabled, disabled" ||
	no "apikeyd list after a disabled create" "$BODY_OUT"

# authentication that cannot reach the store: 503, not 401 (a key we cannot
# verify is not an invalid key), in every family's shape
for fam in heron feldera nebula nebula_uuid fastapi; do
	mk "$fam" "auth-$fam" || { no "$fam: create a key for the auth case"; continue; }
	b=BASE_$fam
	for kind in busy error; do
		fault "key_by_hash $kind"
		req GET "${!b}" "$(auth_hdr "$fam" "$NEWTOK")"
		OP=$(op_of "$fam" list) RA=$([ $kind = busy ] && echo yes || echo no) expect_fail "$fam authentication, store $kind" "$fam" 503
		fault ""
	done
	req GET "${!b}" "$(auth_hdr "$fam" "$NEWTOK")"
	[ "$STATUS" = 200 ] && ok "$fam authentication, store healthy: 200" || no "$fam authentication, store healthy (got $STATUS)"
done

# a store failure is not a failed authentication (the limiter of finding 7):
# 20 lookups that failed from one address are not counted, so its next real
# failure is a 401, not a 429; and a blocked address's valid key that the
# store cannot check now is a 503, not a 429
mk heron limiter-a || no "create a key for the limiter case"
T_A=$NEWTOK
fault "key_by_hash error"
bad=0
for i in $(seq 20); do
	req --from 127.9.0.1 GET "$BASE_heron" "X-API-KEY: $T_A"
	[ "$STATUS" = 503 ] || bad=$((bad + 1))
done
fault ""
[ $bad = 0 ] && ok "20 authentications the store could not check: 503 each, none 429 or 401" ||
	no "20 authentications the store could not check: 503 each ($bad were not)"
req --from 127.9.0.1 GET "$BASE_heron" "X-API-KEY: ${T_A}x"
[ "$STATUS" = 401 ] && ok "then a real failure from that address: 401 (the store failures were not counted)" ||
	no "then a real failure from that address: 401 (got $STATUS)"
mk heron limiter-b || no "create a second key for the limiter case"
T_B=$NEWTOK
for i in $(seq 11); do req --from 127.9.0.2 GET "$BASE_heron" "X-API-KEY: ${T_B}x"; done
[ "$STATUS" = 429 ] && ok "11 failures block 127.9.0.2 (429)" || no "11 failures block 127.9.0.2 (got $STATUS)"
fault "key_by_hash busy"
req --from 127.9.0.2 GET "$BASE_heron" "X-API-KEY: $T_B"
fault ""
[ "$STATUS" = 503 ] && ok "a blocked address's valid key, store busy: 503 (not 429)" ||
	no "a blocked address's valid key, store busy: 503 (got $STATUS)"
req --from 127.9.0.2 GET "$BASE_heron" "X-API-KEY: $T_B"
[ "$STATUS" = 200 ] && ok "and with the store healthy: 200 from the blocked address" ||
	no "and with the store healthy: 200 from the blocked address (got $STATUS)"
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null

# ---- 4. the log is rate-limited ----
fault ""
APIKEYD_STORE_FAULT=$dir/fault APIKEYD=$FAULTS start_server "$db" || no "apikeyd-faults restarts"
fault "all error"
for i in $(seq 200); do echo "url = \"$H$BASE_heron\""; echo "output = \"/dev/null\""; done >"$dir/many"
curl -s -H "X-API-KEY: $KEY" -K "$dir/many"
lines=$(grep -c "key store: .*injected" "$SRV_LOG")
[ "$lines" -ge 1 ] && [ "$lines" -le 30 ] && ok "200 failing requests: $lines store log lines (rate-limited)" ||
	no "200 failing requests: a bounded number of store log lines (got $lines)"
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null

# ---- 2. a real full disk ----
mnt=$dir/full
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=3m tmpfs "$mnt" 2>/dev/null; then
	no "mount a tmpfs (needs root)"; finish; exit 1
fi
lib_cleanup_mounts() { umount "$dir/ro" 2>/dev/null; umount "$mnt" 2>/dev/null; lib_cleanup; }
trap lib_cleanup_mounts EXIT
db=$mnt/apikeyd.db
KEY=$(user_add "$db" alice)
start_server "$db" || { no "apikeyd starts on the tmpfs" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
declare -A VT VI
for op in $REMOVALS; do
	mk "${op%-*}" "full-$op" || no "$op: create a victim on the tmpfs"
	VT[$op]=$NEWTOK; VI[$op]=$NEWID
	authenticates "$NEWTOK" || no "$op: the victim authenticates first"
done
dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null
dd if=/dev/zero of="$mnt/fill2" bs=512 2>/dev/null
failed=0
for op in $REMOVALS; do
	remove "$op" "${VI[$op]}"
	case $STATUS in
	2*) authenticates "${VT[$op]}" && no "disk full, $op: $STATUS but the key still authenticates" ||
		ok "disk full, $op: $STATUS and the key is refused" ;;
	503) failed=$((failed + 1)); OP=$(op_of "$op" x) expect_fail "disk full, $op" "${op%-*}" 503 "${VT[$op]}" ;;
	*) no "disk full, $op: a 503 or a 2xx (got $STATUS)" "$BODY_OUT"
	   authenticates "${VT[$op]}" && echo "      (and the key still authenticates)" ;;
	esac
done
[ "$failed" -gt 0 ] && ok "disk full: $failed removals failed for real" || no "disk full: the removals met a full disk"
rs=$(curl -s -o "$dir/ready" -w '%{http_code}' "$H/readyz")
[ "$rs" = 503 ] && grep -qi "full" "$dir/ready" && ok "disk full: /readyz 503, saying why" ||
	no "disk full: /readyz 503, saying why (got $rs)" "$(cat "$dir/ready")"
logged "full" && ok "disk full: logged with SQLite's cause" || no "disk full: logged with SQLite's cause" "$(tail -3 "$SRV_LOG")"
FULL_PID=$SRV_PID; FULL_H=$H; FULL_LOG=$SRV_LOG
if start_server "$db"; then
	grep -qE "WARNING.*not ready.*full" "$SRV_LOG" && ok "disk full: a start says the store is not ready, and why" ||
		no "disk full: a start says the store is not ready, and why" "$(tail -3 "$SRV_LOG")"
	kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
else no "disk full: apikeyd still starts (and serves reads)" "$(tail -3 "$SRV_LOG")"; fi
SRV_PID=$FULL_PID; H=$FULL_H; SRV_LOG=$FULL_LOG
rm -f "$mnt/fill" "$mnt/fill2"
remove heron-delete "${VI[heron-delete]}"
[ "$STATUS" = 204 ] && ! authenticates "${VT[heron-delete]}" && ok "disk freed: the delete goes through" ||
	no "disk freed: the delete goes through (got $STATUS)"
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null

# ---- 3. a real read-only database (a read-only bind mount of the same files) ----
KEY=$(user_add "$db" ro-alice)
start_server "$db" || { no "apikeyd restarts on the tmpfs"; finish; exit 1; }
for op in $REMOVALS; do
	mk "${op%-*}" "ro-$op" || no "$op: create a victim for the read-only case"
	VT[$op]=$NEWTOK; VI[$op]=$NEWID
done
# killed, as in a crash: its -wal and -shm stay, which lets SQLite open the
# database read-only (without them a WAL database cannot be opened at all)
kill -KILL "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
mkdir -p "$dir/ro"
mount --bind "$mnt" "$dir/ro" && mount -o remount,bind,ro "$dir/ro" || { no "a read-only bind mount"; finish; exit 1; }
if start_server "$dir/ro/apikeyd.db"; then
	ok "apikeyd starts on a read-only database (and serves reads)"
	grep -qiE "read-only|readonly" "$SRV_LOG" && ok "read-only: the start logs it" || no "read-only: the start logs it" "$(tail -3 "$SRV_LOG")"
	rs=$(curl -s -o "$dir/ready" -w '%{http_code}' "$H/readyz")
	[ "$rs" = 503 ] && grep -qiE "read-only|readonly" "$dir/ready" && ok "read-only: /readyz 503, saying why" ||
		no "read-only: /readyz 503, saying why (got $rs)" "$(cat "$dir/ready")"
	rs=$(curl -s -o /dev/null -w '%{http_code}' "$H/healthz")
	[ "$rs" = 200 ] && ok "read-only: /healthz (liveness) still 200" || no "read-only: /healthz 200 (got $rs)"
	for op in $REMOVALS; do
		remove "$op" "${VI[$op]}"
		case $STATUS in
		500 | 503) OP=$(op_of "$op" x) expect_fail "read-only, $op" "${op%-*}" "$STATUS" "${VT[$op]}" ;;
		*) no "read-only, $op: 500 or 503 (got $STATUS)" "$BODY_OUT"
		   authenticates "${VT[$op]}" && echo "      (and the key still authenticates)" ;;
		esac
	done
	logged "readonly|read-only" && ok "read-only: failures logged with SQLite's cause" ||
		no "read-only: failures logged with SQLite's cause" "$(tail -3 "$SRV_LOG")"
	kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
else
	no "apikeyd starts on a read-only database" "$(tail -5 "$SRV_LOG")"
fi

# ---- 5. a disk that stops answering: the database's file system frozen ----
# (an ext4 image on a loop device, fsfreeze: every write to it waits until
# it thaws, as on an NFS server gone or a dying device). Before, the first
# write's thread waited in SQLite and every other write waited for it,
# each holding a worker: 8 creates at once and /healthz and every
# authentication went unanswered until the thaw.
hd=$dir/hung
if loopfs_mount "$hd" 64M; then
	lib_cleanup_hung() { loopfs_release "$hd"; lib_cleanup_mounts; }
	trap lib_cleanup_hung EXIT
	hdb=$hd/mnt/apikeyd.db
	KEY=$(user_add "$hdb" hung-alice)
	if start_server "$hdb"; then
		hkey=$(auth_hdr heron "$KEY")
		req GET "$BASE_heron" "$hkey"   # the key cached: authentications need no disk
		fsfreeze -f "$hd/mnt" || no "fsfreeze -f"
		cpids=()
		for i in $(seq 8); do
			curl -s -o "$hd/c$i.out" -D "$hd/c$i.h" -m 30 -w '%{http_code} %{time_total}\n' -X POST -H "$hkey" \
				-H 'Content-Type: application/json' -d "{\"name\":\"hung-$i\"}" "$H$BASE_heron" >"$hd/c$i.code" &
			cpids+=($!)
		done
		sleep 1
		st=$(curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}' "$H/healthz")
		check "frozen disk, 8 creates under way: /healthz answers 200 within 6 s ($st)" \
			awk -v s="$st" 'BEGIN { split(s, a, " "); exit !(a[1] == 200 && a[2] < 6) }'
		st=$(curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}' -H "$hkey" "$H$BASE_heron")
		check "... and the key authenticates (its list 200, from the cache) within 6 s ($st)" \
			awk -v s="$st" 'BEGIN { split(s, a, " "); exit !(a[1] == 200 && a[2] < 6) }'
		sleep 6
		n503=0; nretry=0; nclosed=0
		for i in $(seq 8); do
			read -r c t <"$hd/c$i.code" 2>/dev/null
			if [ "${c:-}" = 503 ] && awk -v t="$t" 'BEGIN { exit !(t < 6) }'; then
				n503=$((n503 + 1)); grep -qi '^Retry-After: [0-9]' "$hd/c$i.h" && nretry=$((nretry + 1))
			fi
		done
		# the write under way stays in the disk, its worker thread with it, and
		# the connections that thread had taken wait for it (libmicrohttpd runs a
		# thread's connections one at a time): the request deadline closes them
		# at 10 s, unread and not run; the others are answered
		check "... a create that waits for the one under way is answered 503 within 5 s, with Retry-After ($n503, $nretry with it)" \
			test "$n503" -ge 1 -a "$nretry" = "$n503"
		st=$(curl -s -o /dev/null -D "$hd/late.h" -m 10 -w '%{http_code} %{time_total}' -X POST -H "$hkey" \
			-H 'Content-Type: application/json' -d '{"name":"hung-late"}' "$H$BASE_heron")
		check "... a create after that is 503 at once, not after another 5 s ($st)" \
			awk -v s="$st" 'BEGIN { split(s, a, " "); exit !(a[1] == 503 && a[2] < 1) }'
		logged "another write has held the database for 5 s" && ok "... logged: another write has held the database" ||
			no "... logged: another write has held the database" "$(tail -3 "$SRV_LOG")"
		fsfreeze -u "$hd/mnt"
		wait "${cpids[@]}"
		n201=0; other=0
		for i in $(seq 8); do
			read -r c t <"$hd/c$i.code"
			case $c in
			201) n201=$((n201 + 1)) ;;
			503) awk -v t="$t" 'BEGIN { exit !(t < 6) }' || other=$((other + 1)) ;;
			000) nclosed=$((nclosed + 1)); awk -v t="$t" 'BEGIN { exit !(t < 12) }' || other=$((other + 1)) ;;
			*) other=$((other + 1)) ;;
			esac
		done
		echo "      (creates: $(cat "$hd"/c?.code | tr "\n" " "))"
		check "... each create a 503 within 5 s, a 201, or closed unread by the request deadline within 11 s ($n503, $n201, $nclosed; else $other)" \
			test "$other" = 0
		kept=$(db_sql "$hdb" "SELECT count(*) FROM keys WHERE name LIKE 'hung-%'")
		check "thawed: every answer was the truth: as many keys written as 201s ($kept, $n201), none for a closed one" \
			test "$kept" = "$n201"
		req POST "$BASE_heron" "$hkey" '{"name":"hung-after"}'
		check "... and a create works again (201, got $STATUS)" test "$STATUS" = 201
		kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
	else
		no "apikeyd starts on the loop-mounted ext4" "$(tail -5 "$SRV_LOG")"
	fi
	umount "$hd/mnt" || no "umount the frozen disk's file system"
else
	no "an ext4 image on a loop device (needs root, mkfs.ext4 and a loop device)"
fi
finish

# tests/lib/apikeyd.sh — sourced by the HTTP suites (tests/crash, tests/auth,
# tests/fidelity): a scratch folder, pass/fail counting, the real
# $BUILD/apikeyd on a free loopback port (plain HTTP), curl helpers.
# The suite sets SUITE (its summary word) before sourcing; `finish` prints
# "$SUITE: N passed, N failed" and exits 1 when anything failed. KEEP=1 keeps
# the scratch folder (logs, responses, database); APIKEYD picks the binary
# (e.g. a SANITIZE=address,undefined build).
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
APIKEYD=${APIKEYD:-$top/${BUILD:-build}/apikeyd}
dir=$(mktemp -d "/tmp/apikeyd-$SUITE.XXXXXX")
. "$top/tests/lib/store.sh"
store_setup "$APIKEYD" || { echo "$SUITE: 0 passed, 1 failed"; exit 1; }
APIKEYD=$STORE_APIKEYD
pass=0; fail=0
SRV_PIDS=()
lib_cleanup() {
	for p in "${SRV_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	store_teardown
	[ -n "${KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"
}
trap lib_cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok    $1"; }
no() { fail=$((fail + 1)); echo "FAIL  $1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | head -8 | sed 's/^/      /'; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else no "$name"; fi; }
finish() { echo "$SUITE: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; }

. "$top/tests/lib/port.sh" # free_port

# user_add DB NAME: prints the user's first key (key_...).
user_add() { "$APIKEYD" user add "$2" --db "$1" 2>/dev/null; }

# start_server DB [ARGS...]: apikeyd on a free loopback port, plain HTTP only;
# sets SRV_PID, H (the base URL) and SRV_LOG (its log).
start_server() {
	local db=$1; shift
	local port; port=$(free_port)
	"$APIKEYD" --db "$db" --listen "127.0.0.1:$port" --tls-listen off --log-level info "$@" \
		>"$dir/server-$port.out" 2>"$dir/server-$port.log" &
	SRV_PID=$!
	SRV_PIDS+=("$SRV_PID")
	SRV_LOG=$dir/server-$port.log
	H="http://127.0.0.1:$port"
	for _ in $(seq 200); do
		curl -s -o /dev/null "$H/healthz" 2>/dev/null && return 0
		kill -0 "$SRV_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# req [--from ADDR] METHOD PATH [HEADER [BODY]]: one request; sets STATUS,
# BODY_OUT (also in $dir/out) and the response headers in $dir/headers.
# --from binds the client to another loopback address (127.0.0.0/8), so the
# server sees another client address.
req() {
	local from=()
	if [ "$1" = --from ]; then from=(--interface "$2"); shift 2; fi
	local m=$1 p=$2 h=${3-} b=${4-}
	local args=(-s -o "$dir/out" -D "$dir/headers" -w '%{http_code}' -X "$m" "${from[@]}" "$H$p")
	[ -n "$h" ] && args+=(-H "$h")
	[ -n "$b" ] && args+=(-H 'Content-Type: application/json' --data-binary "$b")
	STATUS=$(curl "${args[@]}")
	BODY_OUT=$(cat "$dir/out")
}
# expect NAME STATUS [ERE on the body]
expect() {
	local name=$1 want=$2 pat=${3-}
	if [ "$STATUS" = "$want" ] && { [ -z "$pat" ] || grep -qE -- "$pat" "$dir/out"; }; then ok "$name"
	else no "$name (got $STATUS)" "$BODY_OUT"; fi
}
# expect_json NAME STATUS FILTER: the last answer has STATUS and a JSON body
# FILTER (jq -e) holds for: members and values, whatever their order.
expect_json() {
	if [ "$STATUS" = "$2" ] && jq -e "$3" "$dir/out" >/dev/null 2>&1; then ok "$1"
	else no "$1 (got $STATUS)" "$BODY_OUT"; fi
}
# header NAME: the value of a response header of the last req (no CR).
header() { grep -i "^$1:" "$dir/headers" | head -1 | sed 's/^[^:]*: *//' | tr -d '\r'; }
# jq over the last response body
jb() { jq -r "$1" "$dir/out"; }

# auth_header FAMILY TOKEN: how a client of that family sends a key.
auth_header() { if [ "$1" = heron ]; then echo "x-api-key: $2"; else echo "Authorization: Bearer $2"; fi; }
# list_path FAMILY: the family's list operation (any authenticated GET).
list_path() {
	case $1 in
	heron) echo /heron/api/credentials/keys ;;
	feldera) echo /feldera/v0/api_keys ;;
	nebula) echo /nebulablock/api/v1/api-keys ;;
	nebula_uuid) echo /nebulablock-uuid/api/v1/api-keys ;;
	fastapi) echo /fastapi/api/auth/api-keys/ ;;
	esac
}
FAMILIES="heron feldera nebula nebula_uuid fastapi"
# create_path FAMILY: the family's create operation (POST {"name": ...}).
create_path() {
	case $1 in
	fastapi) echo /fastapi/api/auth/api-keys/ ;;
	*) list_path "$1" ;;
	esac
}
# token_of FAMILY: the jq path of the new key in the family's create response.
token_of() {
	case $1 in
	heron) echo .token ;;
	feldera) echo .api_key ;;
	nebula | nebula_uuid) echo .data.key ;;
	fastapi) echo .key ;;
	esac
}

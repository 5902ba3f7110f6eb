#!/bin/bash
# Examples: each examples/<name>/ with a Makefile builds against this tree
# (APIKEYD_SRC, its build/oapigen and build/libaprt.a); then the petstore
# server, on a free loopback port, with curl: its routes and security
# (the scopes of each requirement reach its hook), and what the runtime's
# guard answers (405 with Allow, bad UTF-8, unknown routes, long URLs).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/port.sh"
tmp=$(mktemp -d /tmp/examples.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok    $1"; }
no() { fail=$((fail + 1)); echo "FAIL  $1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | head -12 | sed 's/^/      /'; }

for d in "$top"/examples/*/; do
	n=$(basename "$d")
	[ -f "$d/Makefile" ] || continue
	if out=$(make -s -C "$d" APIKEYD_SRC="$top" OAPIGEN="$top/${BUILD:-build}/oapigen" BUILD="$tmp/$n" 2>&1); then
		ok "$n: builds out of tree against the runtime"
	else
		no "$n: builds out of tree against the runtime" "$out"
	fi
done

bin=$tmp/petstore/petstore
if [ ! -x "$bin" ]; then echo "examples: $pass passed, $((fail + 1)) failed"; exit 1; fi
port=$(free_port)
"$bin" "$port" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.1; done
H=http://127.0.0.1:$port/v2

# expect NAME STATUS [grep -E pattern on headers+body] -- curl args
expect() {
	local name=$1 want=$2 pat=$3; shift 4
	local got
	got=$(curl -s -i --max-time 10 "$@" 2>&1 | tr -d '\r')
	local st; st=$(printf '%s\n' "$got" | sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p')
	if [ "$st" = "$want" ] && { [ -z "$pat" ] || printf '%s' "$got" | grep -qE -- "$pat"; }; then
		ok "$name"
	else
		no "$name (status $st, want $want${pat:+, /$pat/})" "$got"
	fi
}

expect "api_key: GET /pet/1 is doggie" 200 '"name": ?"doggie"' -- -H 'api_key: special-key' "$H/pet/1"
expect "api_key: a wrong key is 401" 401 'application/problem\+json' -- -H 'api_key: nope' "$H/pet/1"
expect "api_key: no key is 401" 401 '' -- "$H/pet/1"
expect "api_key: GET /pet/9 is 404" 404 '' -- -H 'api_key: special-key' "$H/pet/9"
expect "api_key: GET /pet/x is 400 (petId is an integer)" 400 'petId' -- -H 'api_key: special-key' "$H/pet/x"
expect "api_key: inventory counts pets by status" 200 '"available": ?2' -- -H 'api_key: special-key' "$H/store/inventory"
# findPetsByStatus requires petstore_auth with [write:pets, read:pets]
expect "scopes: admin-token holds both scopes the requirement lists" 200 'X-Granted-Scopes: read:pets write:pets' -- \
	-H 'Authorization: Bearer admin-token' "$H/pet/findByStatus?status=available"
expect "scopes: the hook got them and refused read-token (403)" 403 'does not grant' -- \
	-H 'Authorization: Bearer read-token' "$H/pet/findByStatus?status=available"
expect "scopes: an unknown token is 401" 401 'WWW-Authenticate: Bearer' -- \
	-H 'Authorization: Bearer other' "$H/pet/findByStatus?status=available"
expect "scopes: findByStatus filters (sold: Jerry)" 200 '"name": ?"Jerry"' -- \
	-H 'Authorization: Bearer admin-token' "$H/pet/findByStatus?status=sold"
# the runtime's guard and not-found answer
expect "405 with Allow for a method the path lacks" 405 '^Allow: GET$' -- -X PATCH -H 'api_key: special-key' "$H/store/inventory"
expect "405 lists every method of the path" 405 '^Allow: (GET, POST, DELETE|GET, DELETE, POST|POST, GET, DELETE|POST, DELETE, GET|DELETE, GET, POST|DELETE, POST, GET)$' -- \
	-X PUT "$H/pet/1"
expect "405 body is problem details" 405 '"status": ?405' -- -X PATCH "$H/store/inventory"
expect "404 problem details for an unknown route" 404 '"title": ?"Not Found"' -- "$H/no/such/thing"
expect "bad UTF-8 in the path is 400" 400 'invalid UTF-8 in the URL path' -- "$H/pet/%C3%28"
expect "bad UTF-8 in the query is 400" 400 'invalid UTF-8' -- -H 'Authorization: Bearer admin-token' "$H/pet/findByStatus?status=%FF"
expect "bad UTF-8 in a header is 400" 400 'invalid UTF-8 in the value of header' -- -H $'X-Bad: \xc3\x28' "$H/pet/1"
long=$(head -c 5000 /dev/zero | tr '\0' a)
expect "a request target over its 4096 bytes is 414" 414 'longer than 4096 bytes' -- "$H/pet/1?x=$long"
expect "operations without a handler answer 501" 501 '' -- -X DELETE -H 'api_key: special-key' "$H/store/order/1"
expect "the spec is served" 200 'Swagger Petstore' -- "$H/openapi.json"
if kill "$pid" 2>/dev/null && wait "$pid"; then ok "petstore exits 0 on SIGTERM"; else no "petstore exits 0 on SIGTERM" "$(cat "$tmp/err")"; fi
pid=
echo "examples: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

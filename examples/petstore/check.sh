#!/bin/sh
# check.sh BIN: starts the petstore on a free loopback port, asks it three
# things with curl (a pet, a 405 with Allow, a bad UTF-8 path), stops it.
# Exit 0 when every answer is right. Used by `make check`.
set -u
bin=$1
out=$(mktemp)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -f "$out"' EXIT
for _try in 1 2 3 4 5 6 7 8; do
	port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000))
	"$bin" "$port" >"$out" 2>&1 &
	pid=$!
	for _ in $(seq 50); do
		grep -q listening "$out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q listening "$out" && break
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
done
[ -n "$pid" ] || { echo "check: the petstore did not start: $(cat "$out")"; exit 1; }
H=http://127.0.0.1:$port/v2
fail=0
got=$(curl -s --max-time 10 -H 'api_key: special-key' "$H/pet/1")
case $got in *doggie*) echo "ok    GET /pet/1 is doggie" ;; *) echo "FAIL  GET /pet/1: $got"; fail=1 ;; esac
got=$(curl -s -i --max-time 10 -X PATCH -H 'api_key: special-key' "$H/store/inventory" | tr -d '\r')
case $got in "HTTP/1.1 405"*"Allow: GET"*) echo "ok    PATCH /store/inventory is 405 with Allow: GET" ;;
	*) echo "FAIL  PATCH /store/inventory: $(printf '%s' "$got" | head -3)"; fail=1 ;; esac
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'api_key: special-key' "$H/pet/%C3%28")
[ "$st" = 400 ] && echo "ok    bad UTF-8 in the path is 400" || { echo "FAIL  bad UTF-8 in the path: $st"; fail=1; }
exit $fail

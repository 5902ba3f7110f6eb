#!/bin/bash
# Contract tests of the five documents against the real apikeyd: HTTPS on a
# random loopback port, --validate-responses on, a fresh database. Every
# response goes through ajv (contract.mjs) and through the checker oapigen
# output is compiled into (build/contract/check_<api>).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$top/build}       # the Makefile passes $(BUILD)
bin=$build/apikeyd
dir=$(mktemp -d)
. "$top/tests/lib/store.sh"
store_setup "$bin" || { echo "contract: 0 passed, 1 failed"; exit 1; }
bin=$STORE_APIKEYD
pid=
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null; wait 2>/dev/null; store_teardown; rm -rf "$dir"; }
trap cleanup EXIT

db=$dir/var/apikeyd.db
KEY=$("$bin" user add contract --db "$db" 2>"$dir/useradd.err") || { cat "$dir/useradd.err"; echo "contract: 0 passed, 1 failed"; exit 1; }
OTHER=$("$bin" user add other --db "$db" 2>>"$dir/useradd.err") || { cat "$dir/useradd.err"; echo "contract: 0 passed, 1 failed"; exit 1; }
for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 12000))
	"$bin" --db "$db" --listen off --tls-listen "127.0.0.1:$port" --log-level warning --validate-responses >"$dir/log" 2>&1 &
	pid=$!
	for _ in $(seq 1 50); do
		curl -s --cacert "$dir/var/tls-cert.pem" "https://localhost:$port/healthz" >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && break
	pid=
done
[ -n "$pid" ] || { cat "$dir/log"; echo "contract: 0 passed, 1 failed"; exit 1; }

pass=0; fail=0
for spec in "$top"/openapi/*.yaml; do
	api=$(basename "$spec" .yaml)
	checker=()
	[ -x "$build/contract/check_$api" ] && checker=(--checker "$build/contract/check_$api")
	node "$top/tests/contract/contract.mjs" --spec "$spec" --url "https://localhost:$port" \
		--cacert "$dir/var/tls-cert.pem" --credential "$KEY" --other-credential "$OTHER" "${checker[@]}" ${CONTRACT_ARGS:-} >"$dir/out" 2>&1
	rc=$?
	cat "$dir/out"
	line=$(grep -E "^$api: [0-9]+/[0-9]+ operations exercised" "$dir/out" | tail -1)
	p=$(sed -nE 's/.*\(([0-9]+) passed, ([0-9]+) failed\).*/\1/p' <<<"$line")
	f=$(sed -nE 's/.*\(([0-9]+) passed, ([0-9]+) failed\).*/\2/p' <<<"$line")
	if [ -z "$p" ]; then p=0; f=1; fi
	[ $rc -eq 0 ] || [ "$f" -gt 0 ] || f=1
	pass=$((pass + p)); fail=$((fail + f))
done
# The runner itself: make contract's path (oapigen on a document, a checker
# compiled from it) against this server, on a copy of heron.yaml whose token
# pattern the server does not follow: both validators must say so, and the
# run must fail. Then the same path on the real heron.yaml must pass.
sed "s/pattern: '\^key_/pattern: '^tok_/" "$top/openapi/heron.yaml" >"$dir/heron_broken.yaml"
if grep -q "'^tok_" "$dir/heron_broken.yaml" && ! "$top/tests/contract/user.sh" "$dir/heron_broken.yaml" "https://localhost:$port" "$KEY" \
		--cacert "$dir/var/tls-cert.pem" --base /heron >"$dir/broken.out" 2>&1 &&
	grep -q "ajv: body violates the document: /token: must match pattern" "$dir/broken.out" &&
	grep -q "oapigen checker: /token: pattern" "$dir/broken.out"; then
	echo "ok    self-check: a server that breaks its document fails the run, by ajv and by the oapigen checker"; pass=$((pass + 1))
else
	echo "FAIL  self-check: a server that breaks its document fails the run, by ajv and by the oapigen checker"; tail -20 "$dir/broken.out" | sed 's/^/      /'; fail=$((fail + 1))
fi
if "$top/tests/contract/user.sh" "$top/openapi/heron.yaml" "https://localhost:$port" "$KEY" --cacert "$dir/var/tls-cert.pem" >"$dir/user.out" 2>&1; then
	echo "ok    self-check: make contract's path (oapigen, checker, runner) on heron.yaml: $(tail -1 "$dir/user.out")"; pass=$((pass + 1))
else
	echo "FAIL  self-check: make contract's path on heron.yaml"; tail -20 "$dir/user.out" | sed 's/^/      /'; fail=$((fail + 1))
fi
# The status rule: on a copy of heron.yaml without create_key's 415, the
# server's 415s are undocumented (a failure) unless --tolerate 415 is given.
sed "/^        '415':$/,+1d" "$top/openapi/heron.yaml" >"$dir/heron_no415.yaml"
run_no415() { node "$top/tests/contract/contract.mjs" --spec "$dir/heron_no415.yaml" --url "https://localhost:$port" \
	--cacert "$dir/var/tls-cert.pem" --credential "$KEY" "$@" >"$dir/no415.out" 2>&1; }
if ! grep -q "'415'" "$dir/heron_no415.yaml" && ! run_no415 && grep -q "status 415 is not documented for create_key" "$dir/no415.out" &&
	run_no415 --tolerate 415; then
	echo "ok    self-check: an undocumented 415 fails the run, and passes with --tolerate 415"; pass=$((pass + 1))
else
	echo "FAIL  self-check: an undocumented 415 fails the run, and passes with --tolerate 415"; tail -20 "$dir/no415.out" | sed 's/^/      /'; fail=$((fail + 1))
fi
if grep -qi "violates the spec" "$dir/log"; then
	echo "FAIL  apikeyd --validate-responses rejected responses:"; grep -i "violates the spec" "$dir/log" | head -5 | sed 's/^/      /'
	fail=$((fail + 1))
fi
echo "contract: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

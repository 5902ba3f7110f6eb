#!/bin/bash
# What `make memcheck` runs: each program below under valgrind memcheck
#   --leak-check=full --errors-for-leak-kinds=definite,indirect
# with one log per process in $LOGS (kept when something fails):
#   - the Check suite of the key service (CK_FORK=no: in one process)
#   - the generated pipeline over real HTTP (tests/pipeline)
#   - every fuzz target replaying its seeds and regression inputs
#   - tests/server/run.sh and tests/api/run.sh with APIKEYD pointing at a
#     wrapper that starts the real apikeyd under valgrind
# Suppressions (apikeyd.supp) cover only third-party internals; each says
# why. Prints "memcheck: N passed, N failed" where each process is one case:
# passed when its log ends with "ERROR SUMMARY: 0 errors". A suite that
# itself fails under valgrind counts as a failure too.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/${BUILD:-build}
LOGS=$(mktemp -d /tmp/apikeyd-memcheck.XXXXXX)
VG=(valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=40
    --suppressions="$top/tests/memcheck/apikeyd.supp" --log-file="$LOGS/%p.vg")
pass=0; fail=0; suites_bad=""
export VALGRIND_OPTS=""

suite() { # suite NAME COMMAND...: runs a suite, notes it when it fails
	local name=$1; shift
	echo "=== $name"
	if ! "$@" >"$LOGS/$name.out" 2>&1; then suites_bad="$suites_bad $name"; tail -15 "$LOGS/$name.out"; fi
	grep -E 'passed, [0-9]+ failed|Checks:' "$LOGS/$name.out" | tail -2
}

cd "$top" || exit 1
suite keysvc env CK_FORK=no CK_DEFAULT_TIMEOUT=600 "${VG[@]}" "$build/test_keysvc"
suite pipeline env CK_FORK=no CK_DEFAULT_TIMEOUT=600 "${VG[@]}" "$build/test_pipeline"
for t in route params token jwt; do
	dirs=()
	for d in "$build/fuzz-seeds/$t" "tests/fuzz/seeds/$t" "tests/fuzz/regress/$t"; do [ ! -d "$d" ] || dirs+=("$d"); done
	suite "fuzz-$t" "${VG[@]}" "$build/fuzz/$t" "${dirs[@]}"
done

# apikeyd under valgrind, for the shell suites
wrap=$LOGS/apikeyd
{
	echo '#!/bin/sh'
	printf 'exec'; printf ' %q' "${VG[@]}" "$build/apikeyd"; echo ' "$@"'
} >"$wrap"
chmod +x "$wrap"
# valgrind starts apikeyd ~20 times slower: the suites wait longer for it
suite server env APIKEYD="$wrap" APIKEYD_TEST_SLOW=1 tests/server/run.sh
suite api env APIKEYD="$wrap" APIKEYD_TEST_SLOW=1 tests/api/run.sh

for log in "$LOGS"/*.vg; do
	if grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
		pass=$((pass + 1))
	elif grep -q 'ERROR SUMMARY' "$log"; then
		fail=$((fail + 1))
		echo "FAILED  $(sed -n 's/.*Command: //p' "$log" | head -1 | cut -c1-120)"
		grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|[0-9,]+ .*(definitely|indirectly) lost|   (at|by) )' \
			"$log" | head -30 | sed 's/^/        /'
	fi # no summary: the process was killed on purpose (SIGKILL tests)
done
for s in $suites_bad; do echo "FAILED  suite $s under valgrind"; fail=$((fail + 1)); done
echo "memcheck: $pass passed, $fail failed"
if [ "$fail" -eq 0 ]; then rm -rf "$LOGS"; else echo "valgrind logs kept in $LOGS"; fi
[ "$fail" -eq 0 ]

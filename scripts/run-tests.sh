#!/bin/sh
# Runs each test suite named on the command line as `make <suite>` and prints
# one closing line for CI: "tests: N passed, N failed", counting test cases.
# A suite reports its cases either as Check does ("Checks: N, Failures: F,
# Errors: E") or as a plain line "<word>: N passed, N failed". A suite that
# exits non-zero counts as at least one failure even if it printed nothing.
set -u
passed=0
failed=0
bad=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for suite in "$@"; do
	echo "=== $suite"
	${MAKE:-make} --no-print-directory "$suite" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=0; f=0
	# Check's summary lines
	for line in $(sed -n 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1:\2:\3/p' "$log"); do
		n=${line%%:*}; rest=${line#*:}; fl=${rest%%:*}; er=${rest#*:}
		p=$((p + n - fl - er)); f=$((f + fl + er))
	done
	# plain summary lines
	for line in $(sed -n 's/^[A-Za-z0-9_-]*:\{0,1\} *\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1:\2/p' "$log"); do
		p=$((p + ${line%%:*})); f=$((f + ${line#*:}))
	done
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	[ "$f" -eq 0 ] || bad="$bad $suite"
	passed=$((passed + p)); failed=$((failed + f))
	echo "--- $suite: $p passed, $f failed (exit $rc)"
done
[ -z "$bad" ] || echo "failing suites:$bad"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/bin/sh
# run.sh BUILD SECONDS TARGET... — what `make fuzz` runs after building:
# each libFuzzer target for SECONDS, its corpus in BUILD/corpus/<target>/
# (kept between runs), seeded from BUILD/fuzz-seeds/<target>/,
# tests/fuzz/seeds/<target>/ and tests/fuzz/regress/<target>/. Prints one
# line per target with its executions per second, and
# "fuzz: N passed, N failed" (a target fails when libFuzzer found a crash,
# a leak or a timeout; the input is saved as BUILD/crash-<target>-*).
set -u
build=$1; seconds=$2; shift 2
pass=0; fail=0
for t in "$@"; do
	corpus=$build/corpus/$t
	mkdir -p "$corpus"
	seeds=""
	for d in "$build/fuzz-seeds/$t" "tests/fuzz/seeds/$t" "tests/fuzz/regress/$t"; do
		[ ! -d "$d" ] || seeds="$seeds $d"
	done
	log=$build/fuzz-$t.log
	# shellcheck disable=SC2086
	"$build/fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$build/crash-$t-" "$corpus" $seeds >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1))
		echo "ok      $t: ${execs:-?} executions in ${seconds} s, ${rate:-?}/s, coverage ${cov:-?}, corpus $(ls "$corpus" | wc -l)"
	else
		fail=$((fail + 1))
		echo "FAILED  $t (exit $rc): see $log"
		grep -E 'ERROR|SUMMARY|fuzz: |Test unit written' "$log" | head -8 | sed 's/^/        /'
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/bin/bash
# bench-gen, part two: the largest public documents, when BIG_CORPUS names a
# folder that holds them (nothing is fetched): Stripe (stripe.json or
# spec3.json), GitHub (github.json or api.github.com.json) and Microsoft
# Graph (graph.json, graph-beta.json). For each, in one run:
#   oapigen --check and oapigen -o (full generation), median of BIG_REPS runs;
#   redocly lint (npm @redocly/cli, tests/lint's pin; "recommended" rules,
#   summary output), a process per run, like oapigen;
#   swagger-parser validate() (in process after a warm-up, as in part one).
# Rows: $BENCH_DIR/bench-gen.tsv, ratios = baseline / oapigen.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/bench_report/lib.sh"
REPS=${BIG_REPS:-3}
LIMIT=${BIG_TIMEOUT:-900}
REDOCLY=$top/tests/lint/node_modules/.bin/redocly
if [ -z "${BIG_CORPUS:-}" ] || [ ! -d "$BIG_CORPUS" ]; then
	echo "bench-gen: BIG_CORPUS is not a folder: skipping Stripe, GitHub and Microsoft Graph" \
	     "(make bench-gen BIG_CORPUS=dir, dir holding stripe.json, github.json, graph.json, graph-beta.json)"
	exit 0
fi
out=$(mktemp -d /tmp/apikeyd-bench-big.XXXXXX)
trap 'rm -rf "$out"' EXIT
printf 'extends:\n  - recommended\n' >"$out/redocly.yaml"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
now() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'; }
# wall N CMD...: median seconds of N runs (exit status ignored: a linter that
# finds problems still did its work); "timeout" past LIMIT
wall() {
	local n=$1; shift
	for _ in $(seq "$n"); do
		t0=$(now)
		timeout "$LIMIT" "$@" >/dev/null 2>&1
		[ $? -eq 124 ] && { echo timeout; return; }
		t1=$(now)
		echo $(((t1 - t0) / 1000000))
	done | awk '{ print $1 / 1000 }' | median
}
found=0
for spec in "stripe stripe.json spec3.json" "github github.json api.github.com.json" \
            "graph graph.json" "graph-beta graph-beta.json"; do
	read -r label names <<<"$spec"
	doc=
	for n in $names; do [ -f "$BIG_CORPUS/$n" ] && { doc=$BIG_CORPUS/$n; break; }; done
	if [ -z "$doc" ]; then
		echo "bench-gen: no $label document in $BIG_CORPUS (looked for: $names): skipped"
		continue
	fi
	found=$((found + 1))
	size=$(($(stat -L -c %s "$doc") / 1048576))
	status=ok
	if ! "$OAPIGEN" --check "$doc" >/dev/null 2>"$out/err"; then
		status="refused: $(head -c 160 "$out/err")"
	fi
	check=$(wall "$REPS" "$OAPIGEN" --check "$doc")
	if [ "$status" = ok ]; then gen=$(wall "$REPS" "$OAPIGEN" -o "$out/c" --name big "$doc"); else gen=n/a; fi
	lint=$(wall 1 "$REDOCLY" lint --config "$out/redocly.yaml" --format=summary --max-problems 1 "$doc")
	sp=$(timeout "$LIMIT" node --max-old-space-size=16384 "$top/tests/bench_tools/swagger_parser.js" 1 "$doc" | cut -f2,3)
	sp_s=$(awk -F'\t' '{ printf "%.2f", $1 / 1000 }' <<<"$sp")
	case $sp in *error*) sp_s="error: $(cut -f2 <<<"$sp" | head -c 120)";; "") sp_s=timeout;; esac
	echo "  $label ($size MB): oapigen check $check s, generation $gen s ($status); redocly lint $lint s; swagger-parser validate $sp_s s"
	goal=report; verdict=report
	if [ "$label" = stripe ]; then
		goal="redocly lint / oapigen check >= 10x"
		verdict=$(bench_verdict 'ok && c > 0 && l >= 10 * c' -v ok="$([ "$status" = ok ] && echo 1 || echo 0)" -v c="$check" -v l="$lint")
	fi
	note=; [ "$status" = ok ] || note=" ($status)"
	bench_row bench-gen "oapigen --check vs redocly lint: $label ($size MB)$note" "$check s" "redocly lint: $lint s" \
		"$(bench_ratio "$lint" "$check" 1)" "$goal" "$verdict"
	bench_row bench-gen "oapigen full generation vs swagger-parser validate: $label ($size MB)$note" "$gen s" \
		"swagger-parser validate: $sp_s s" "$(bench_ratio "$sp_s" "$gen" 1)" "report" "report"
done
[ "$found" -gt 0 ] || echo "bench-gen: BIG_CORPUS=$BIG_CORPUS holds none of the documents: skipped"

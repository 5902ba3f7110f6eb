#!/bin/bash
# bench-gen: oapigen (a process per run: load, resolve, compile every schema,
# write the three C files) against @apidevtools/swagger-parser validate()
# (parse, resolve, validate, dereference; in process, warmed up, so without
# node's start-up) on the same documents: the five in openapi/ and the two
# largest real documents of @readme/oas-examples. GEN_REPS runs each, the median
# wall time per document. Rows: $BENCH_DIR/bench-gen.tsv.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/bench_report/lib.sh"
REPS=${GEN_REPS:-10}
EX=$top/tests/realworld/node_modules/@readme/oas-examples
docs=("$top"/openapi/*.yaml "$EX/3.0/yaml/star-trek.yaml" "$EX/3.1/yaml/readme.yaml")
out=$(mktemp -d /tmp/apikeyd-bench-gen.XXXXXX)
trap 'rm -rf "$out"' EXIT
now() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.3f", v[int((NR + 1) / 2)] }'; }
: >"$out/oapigen"; : >"$out/sp"
# document by document, oapigen then swagger-parser, so a burst of load
# on the shared machine falls on both sides alike; the median of REPS runs
for d in "${docs[@]}"; do
	if ! "$OAPIGEN" -o "$out/c" --name bench "$d" >/dev/null 2>"$out/err"; then
		printf '%s\t0\terror: %s\n' "$d" "$(head -1 "$out/err")" >>"$out/oapigen"
	else
		for _ in $(seq "$REPS"); do
			t0=$(now); "$OAPIGEN" -o "$out/c" --name bench "$d" >/dev/null 2>&1; t1=$(now)
			echo $(((t1 - t0) / 1000))
		done | awk '{ print $1 / 1000 }' | median >"$out/m"
		printf '%s\t%s\tok\n' "$d" "$(cat "$out/m")" >>"$out/oapigen"
	fi
	node "$top/tests/bench_tools/swagger_parser.js" "$REPS" "$d" >>"$out/sp" || { echo "bench-gen: swagger_parser.js failed"; exit 1; }
done

echo "bench-gen (ms per document, median of $REPS runs; speed-up = swagger-parser / oapigen)"
paste "$out/oapigen" "$out/sp" | awk -F'\t' '{ n = $1; sub(/.*\//, "", n); printf "  %-22s oapigen %9s ms %-4s  swagger-parser %9s ms %-4s  %s\n", n, $2, ($3 == "ok" ? "" : $3), $5, ($6 == "ok" ? "" : $6), ($2 > 0 && $5 > 0 ? sprintf("%.1fx", $5 / $2) : "n/a") }'
# the five documents together (sum of the means), then each large document
row() { # LABEL FILTER(awk on the document path)
	read -r o s bad <<<"$(paste "$out/oapigen" "$out/sp" | awk -F'\t' "$2"' { o += $2; s += $5; if ($3 != "ok" || $6 != "ok") bad++ } END { printf "%.3f %.3f %d\n", o, s, bad }')"
	bench_row bench-gen "$1" "$o ms" "swagger-parser validate: $s ms" "$(bench_ratio "$s" "$o" 1)" "report; bar: swagger-parser >= 1x" \
		"$(bench_verdict 's >= o && o > 0 && bad == 0' -v s="$s" -v o="$o" -v bad="$bad")"
}
row "generator vs swagger-parser: the five openapi/ documents, sum of the median wall time per document ($REPS runs each)" '$1 ~ /\/openapi\//'
row "generator vs swagger-parser: star-trek.yaml (3.0, $(($(stat -c %s "$EX/3.0/yaml/star-trek.yaml") / 1024)) KiB, @readme/oas-examples)" '$1 ~ /star-trek/'
row "generator vs swagger-parser: readme.yaml (3.1, $(($(stat -c %s "$EX/3.1/yaml/readme.yaml") / 1024)) KiB, @readme/oas-examples)" '$1 ~ /readme.yaml$/'
# the largest public documents, from BIG_CORPUS when it is given
"$top/tests/bench_tools/bench_big.sh"

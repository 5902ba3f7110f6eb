#!/bin/bash
# bench-validate: validations/s of oapigen-compiled validators (valgen +
# valbench.c, compiled with the project's flags) against ajv + ajv-formats
# (ajv.js) compiled from the same schemas, on the same instances, valid and
# invalid, every error collected on both sides (ajv allErrors: true); see
# validate_cases.json and prep_validate.js. VALIDATE_ROUNDS rounds of
# VALIDATE_SECONDS per case and side, alternating; the best round counts.
# Rows for make bench's closing table: $BENCH_DIR/bench-validate.tsv.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/tests/bench_tools
. "$top/tests/bench_report/lib.sh"
SECS=${VALIDATE_SECONDS:-1}
ROUNDS=${VALIDATE_ROUNDS:-3}
out=$top/build/bench-validate
rm -rf "$out" && mkdir -p "$out"
node "$here/prep_validate.js" "$top" "$out/schemas" || { echo "bench-validate: prep failed"; exit 1; }
files() { node -e 'for (const c of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))) if (c.dialect == process.argv[2]) console.log(c.file)' "$out/schemas/cases.json" "$1"; }
mapfile -t f30 < <(files 30); mapfile -t f31 < <(files 31)
"$VALGEN" b30 30 "${f30[@]}" >"$out/b30.c" && "$VALGEN" b31 31 "${f31[@]}" >"$out/b31.c" || { echo "bench-validate: valgen failed"; exit 1; }
# shellcheck disable=SC2086
$CC $CFLAGS_BENCH -o "$out/valbench" "$here/valbench.c" "$out/b30.c" "$out/b31.c" $LIBS_BENCH || { echo "bench-validate: cannot compile"; exit 1; }
# ROUNDS rounds, alternating the two sides, so a burst of load on the shared
# machine does not fall on one side only; each case keeps its best round.
best() { awk -F'\t' -v OFS='\t' '{ if (!($2 in r)) { o[++n] = $2; l[$2] = $0; r[$2] = 0 } if ($3 + 0 > r[$2]) { r[$2] = $3 + 0; l[$2] = $0 } }
	END { for (i = 1; i <= n; i++) print l[o[i]] }' "$@"; }
for r in $(seq "$ROUNDS"); do
	"$out/valbench" "$out/schemas/cases.json" "$SECS" >"$out/oapigen.$r" || { echo "bench-validate: valbench failed"; exit 1; }
	node "$here/ajv.js" "$out/schemas/cases.json" "$SECS" >"$out/ajv.$r" || { echo "bench-validate: ajv.js failed"; exit 1; }
done
best "$out"/oapigen.[0-9]* >"$out/oapigen.txt"
best "$out"/ajv.[0-9]* >"$out/ajv.txt"

echo "bench-validate (validations/s, all errors collected, best of $ROUNDS rounds of ${SECS}s per case and side)"
paste "$out/oapigen.txt" "$out/ajv.txt" | awk -F'\t' '{ printf "  %-45s oapigen %10s/s (%s errors, %s wrong)   ajv %10s/s (%s errors, %s wrong)   %.2fx\n", $2, $3, $4, $5, $8, $9, $10, ($8 > 0 ? $3 / $8 : 0) }'
# rows: the five request bodies together (geometric mean of the per-case
# ratios, mean rates shown), and the OpenAPI 3.0 schema alone
paste "$out/oapigen.txt" "$out/ajv.txt" | awk -F'\t' -v OFS='\t' '
	{ big = ($2 ~ /^OpenAPI/); g = big ? "big" : "api"; n[g]++; o[g] += $3; a[g] += $8; lr[g] += log($3 / $8)
	  e[g] += $4; ea[g] += $9; w[g] += $5 + $10 }
	END { split("api big", gs, " "); for (i = 1; i <= 2; i++) { g = gs[i]; if (n[g]) print g, n[g], o[g] / n[g], a[g] / n[g], exp(lr[g] / n[g]), e[g], ea[g], w[g] } }' >"$out/rows"
while IFS=$'\t' read -r g n o a r e ea w; do
	if [ "$g" = api ]; then what="validator vs ajv: the five APIs' create request bodies ($n schemas, 10 instances each, 3 valid)"
	else what="validator vs ajv: OpenAPI 3.0 schema (draft-04, ~1,700 lines), 6 documents as instances, each valid and broken 4 ways"; fi
	what="$what; best of $ROUNDS alternating rounds"
	[ "$e" = "$ea" ] || what="$what; errors per pass: oapigen $e, ajv $ea"
	[ "$w" = 0 ] || what="$what; $w verdicts disagree with the expected validity"
	bench_row bench-validate "$what" "$(printf '%.0f' "$o") validations/s" "ajv: $(printf '%.0f' "$a") validations/s" \
		"$(awk -v r="$r" 'BEGIN { printf "%.2fx", r }')" "report; bar: ajv >= 1x" \
		"$(bench_verdict 'r >= 1 && w == 0' -v r="$r" -v w="$w")"
done <"$out/rows"

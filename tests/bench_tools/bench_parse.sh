#!/bin/bash
# bench-parse: bytes to validated value (issue 11, "Typed bodies"). Our side
# (parsebench.c, compiled with the project's flags): the byte parser oapigen
# generates for the schema (gen_parse, from valgen), from the request bytes
# to the validated value: the C model where the body has one (the create
# bodies), else an rt_value tree in the arena (rt_parse_value), with the
# same parser building a json_t reported beside it; before it, json_loadb + the table validator (the
# request path until issue 11, "today"); also rt_jread alone (tokenize and skip every value, no validation: the
# floor a generated parser starts from) and json_loadb alone. Baseline
# (parse_ajv.js): Buffer -> JSON.parse -> an ajv standalone validator
# (allErrors: true), and JSON.parse alone. Same schemas and instances as
# bench-validate (prep_validate.js), as the same bytes (prep_parse.js): the
# five create request bodies and the OpenAPI 3.0 schema with documents as
# bodies, each over its valid bodies and over a mix with invalid and
# malformed ones. PARSE_ROUNDS rounds of PARSE_SECONDS per case and side,
# alternating; the best round counts. Then callgrind: instructions per body
# of our paths (one run, each body dumped on its own).
# Rows for make bench's closing table: $BENCH_DIR/bench-parse.tsv.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/tests/bench_tools
. "$top/tests/bench_report/lib.sh"
SECS=${PARSE_SECONDS:-0.5}
ROUNDS=${PARSE_ROUNDS:-3}
out=$top/build/bench-parse
rm -rf "$out" && mkdir -p "$out/ajv"
node "$here/prep_validate.js" "$top" "$out/schemas" || { echo "bench-parse: prep failed"; exit 1; }
node "$here/prep_parse.js" "$out/schemas/cases.json" "$out/cases.json" || { echo "bench-parse: prep failed"; exit 1; }
files() { node -e 'for (const c of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))) if (c.dialect == process.argv[2]) console.log(c.file)' "$out/schemas/cases.json" "$1"; }
mapfile -t f30 < <(files 30); mapfile -t f31 < <(files 31)
"$VALGEN" b30 30 "${f30[@]}" >"$out/b30.c" && "$VALGEN" b31 31 "${f31[@]}" >"$out/b31.c" || { echo "bench-parse: valgen failed"; exit 1; }
# shellcheck disable=SC2086
$CC $CFLAGS_BENCH -o "$out/parsebench" "$here/parsebench.c" "$here/parse_models.c" "$out/b30.c" "$out/b31.c" $LIBS_BENCH || { echo "bench-parse: cannot compile"; exit 1; }
# the standalone validators require ajv-formats' code from the pinned tools
export NODE_PATH=$here/node_modules
# best round per case and group (columns 4 and 7 are rates; keep each best)
best() { awk -F'\t' -v OFS='\t' '{ k = $2 "\t" $3; if (!(k in l)) { o[++n] = k; l[k] = $0 }
	split(l[k], p, "\t"); for (i = 4; i <= NF; i++) if ((i == 4 || i >= 7) && $i != "-" && $i + 0 > p[i] + 0) p[i] = $i
	s = p[1]; for (i = 2; i <= NF; i++) s = s OFS p[i]; l[k] = s }
	END { for (i = 1; i <= n; i++) print l[o[i]] }' "$@"; }
for r in $(seq "$ROUNDS"); do
	"$out/parsebench" "$out/cases.json" "$SECS" >"$out/oapigen.$r" || { echo "bench-parse: parsebench failed"; exit 1; }
	node "$here/parse_ajv.js" "$out/cases.json" "$SECS" "$out/ajv" >"$out/ajv.$r" || { echo "bench-parse: parse_ajv.js failed"; exit 1; }
done
best "$out"/oapigen.[0-9]* >"$out/oapigen.txt"
best "$out"/ajv.[0-9]* >"$out/ajv.txt"

# callgrind: instructions per body, each body's dump on its own
cg=""
if command -v valgrind >/dev/null; then
	(cd "$out" && valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out/cg.%p" \
		"$out/parsebench" --callgrind "$out/cases.json" >"$out/cg.list" 2>"$out/cg.log") || { echo "bench-parse: callgrind failed"; exit 1; }
	# the dumps, in order, with their totals (a dump's file is cg.<pid>.<n>)
	for i in $(seq 1 "$(wc -l <"$out/cg.list")"); do sed -n 's/^totals: *//p; s/^summary: *//p' "$out"/cg.*.$i | head -1; done >"$out/cg.ir"
	paste "$out/cg.list" "$out/cg.ir" >"$out/cg.txt"
	cg=$out/cg.txt
fi

echo "bench-parse (bytes to validated value, bodies/s, best of $ROUNDS alternating rounds of ${SECS}s per case and side)"
paste "$out/oapigen.txt" "$out/ajv.txt" | awk -F'\t' '{ printf "  %-40s %-5s ours %9s/s (%s errors, %s wrong)  ajv %9s/s (%s errors, %s wrong)  %.2fx | jread %9s/s  loadb %9s/s  JSON.parse %9s/s  floor %.2fx | before: loadb+table %s/s (%.2fx ajv; %s bodies judged differently) | json_t parser %s/s (%.2fx)\n",
	$2, $3, $4, $5, $6, $15, $16, $17, ($15 > 0 ? $4 / $15 : 0), $7, $8, $18, ($18 > 0 ? $7 / $18 : 0), $9, ($15 > 0 ? $9 / $15 : 0), $10, $11, ($15 > 0 ? $11 / $15 : 0) }'
[ -z "$cg" ] || awk -F'\t' '{ k = $4 "\t" $2; s[k] += $7; n[k]++; b[k] += $6 } END { for (k in s) { split(k, p, "\t"); printf "  callgrind %-40s %-9s %8.0f instructions/body (%d bodies, %.0f bytes on average)\n", p[1], p[2], s[k] / n[k], n[k], b[k] / n[k] } }' "$cg" | sort

# rows: the five request bodies (geometric mean of per-case ratios, mean
# rates shown), valid and mix; the OpenAPI document cases; the jread floor
paste "$out/oapigen.txt" "$out/ajv.txt" | awk -F'\t' -v OFS='\t' '
	{ g = ($2 ~ /^OpenAPI/ ? "big" : "api") "-" $3; n[g]++; o[g] += $4; a[g] += $15; lr[g] += log($4 / $15)
	  j[g] += $7; jp[g] += $18; lj[g] += log($7 / $18); w[g] += $6 + $17 }
	END { split("api-valid api-mix big-valid big-mix", gs, " "); for (i = 1; i <= 4; i++) { g = gs[i]; if (n[g])
		print g, n[g], o[g] / n[g], a[g] / n[g], exp(lr[g] / n[g]), j[g] / n[g], jp[g] / n[g], exp(lj[g] / n[g]), w[g] } }' >"$out/rows"
while IFS=$'\t' read -r g n o a r j jp rj w; do
	case $g in
	api-valid) what="bytes to validated value: the five APIs' create request bodies, valid ones ($n schemas, 3 bodies each)";;
	api-mix) what="bytes to validated value: the five create bodies, valid, invalid and malformed mixed ($n schemas, 12 bodies each)";;
	big-valid) what="bytes to validated value: OpenAPI 3.0 schema, 6 documents as bodies";;
	big-mix) what="bytes to validated value: OpenAPI 3.0 schema, the 6 documents valid, broken 4 ways and malformed";;
	esac
	what="$what; ours the generated parser (gen_parse: into the C model where the body has one, the create bodies; else to a validated rt_value tree in the arena), theirs JSON.parse + ajv standalone (allErrors); best of $ROUNDS alternating rounds"
	[ "$w" = 0 ] || what="$what; $w verdicts disagree with the expected validity"
	goal=$(case $g in api-*) echo 5;; *) echo 2;; esac)
	bench_row bench-parse "$what" "$(printf '%.0f' "$o") bodies/s" "JSON.parse + ajv: $(printf '%.0f' "$a") bodies/s" \
		"$(awk -v r="$r" 'BEGIN { printf "%.2fx", r }')" "goal (issue 11): >= ${goal}x ajv" "$(bench_verdict 'r >= goal && w == 0' -v r="$r" -v w="$w" -v goal="$goal")"
	case $g in *-mix) continue;; esac
	what="rt_jread alone (tokenize, skip every value, no validation): the floor for generated parsers, $( [ "$g" = api-valid ] && echo "the five create bodies" || echo "the OpenAPI documents")"
	bench_row bench-parse "$what" "$(printf '%.0f' "$j") bodies/s" "JSON.parse alone: $(printf '%.0f' "$jp") bodies/s" \
		"$(awk -v r="$rj" 'BEGIN { printf "%.2fx", r }')" "report" "report"
done <"$out/rows"
# before and after: json_loadb + rt_schema_validate (the request path until
# the generated parsers) against the same baseline
paste "$out/oapigen.txt" "$out/ajv.txt" | awk -F'\t' -v OFS='\t' '{ print $2, $3, $9, $15, $10, $4 }' >"$out/beforerows"
while IFS=$'\t' read -r name grp t a d o; do
	what="before: json_loadb + rt_schema_validate, $name, $( [ "$grp" = valid ] && echo "valid bodies" || echo "valid, invalid and malformed bodies") (after, the generated parser: $o bodies/s)"
	[ "$d" = 0 ] || what="$what; $d bodies judged differently from the generated parser"
	bench_row bench-parse "$what" "$t bodies/s" "JSON.parse + ajv: $a bodies/s" "$(bench_ratio "$t" "$a")" "report" "report"
done <"$out/beforerows"
# the same generated parser building a json_t (what a handler without a
# model receives) on the cases without a model, against the same baseline
paste "$out/oapigen.txt" "$out/ajv.txt" | awk -F'\t' -v OFS='\t' '$2 ~ /^OpenAPI/ { print $2, $3, $11, $15 }' >"$out/jsonrows"
while IFS=$'\t' read -r name grp jt a; do
	what="the generated parser building a json_t instead of the rt_value tree, $name, $( [ "$grp" = valid ] && echo "valid bodies" || echo "valid, invalid and malformed bodies")"
	bench_row bench-parse "$what" "$jt bodies/s" "JSON.parse + ajv: $a bodies/s" "$(bench_ratio "$jt" "$a")" "report" "report"
done <"$out/jsonrows"
if [ -n "$cg" ]; then
	awk -F'\t' -v OFS='\t' '{ g = ($4 ~ /^OpenAPI/ ? "big" : "api"); s[g, $2] += $7; n[g, $2]++ }
		END { for (gi = 1; gi <= 2; gi++) { g = gi == 1 ? "api" : "big"; if (n[g, "today"]) print g, s[g, "today"] / n[g, "today"], s[g, "jread"] / n[g, "jread"], n[g, "typed"] ? s[g, "typed"] / n[g, "typed"] : s[g, "ours"] / n[g, "ours"] } }' "$cg" >"$out/cgrows"
	while IFS=$'\t' read -r g t j o; do
		set="$( [ "$g" = api ] && echo "the five create bodies, mix" || echo "OpenAPI documents, mix")"
		bench_row bench-parse "callgrind instructions per body, the generated parser ($set; the model parsers for the create bodies); baseline: json_loadb + rt_schema_validate (before) on the same bodies" \
			"$(printf '%.0f' "$o") instructions/body" "before: $(printf '%.0f' "$t") instructions/body" "$(bench_ratio "$t" "$o")" "report (ratio: before / ours)" "report"
		bench_row bench-parse "callgrind instructions per body, the generated byte parser ($set); baseline: rt_jread skipping the same bodies" \
			"$(printf '%.0f' "$o") instructions/body" "rt_jread: $(printf '%.0f' "$j") instructions/body" "$(bench_ratio "$o" "$j")" "report (ratio: ours / floor)" "report"
	done <"$out/cgrows"
fi

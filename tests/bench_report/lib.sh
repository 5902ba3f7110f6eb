# Sourced by the bench scripts: one figure per line of $BENCH_DIR/<target>.tsv,
# tab-separated, rendered by tests/bench_report/render.sh at the end of
# `make bench`:  figure, measured, baseline (same run), ratio, goal, verdict
# (verdict: met, missed, or report when the issue sets no numeric goal).
BENCH_DIR=${BENCH_DIR:-$(pwd)/build/bench}
bench_row() { # FILE FIGURE MEASURED BASELINE RATIO GOAL VERDICT
	mkdir -p "$BENCH_DIR"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$2" "$3" "$4" "$5" "$6" "$7" >>"$BENCH_DIR/$1.tsv"
}
# ratio A B [DIGITS]: A/B, or "n/a" when B is zero or missing
bench_ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (b + 0 > 0) printf "%.*fx", d, a / b; else print "n/a" }'; }
# pct A B: 100*A/B as "NN%"
bench_pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }'; }
# verdict CONDITION-IN-AWK: met when it holds (variables passed as name=value before it)
bench_verdict() { # bench_verdict 'a >= 0.7 * b' a=1 b=2
	local cond=$1; shift
	awk "$@" "BEGIN { print (($cond) ? \"met\" : \"missed\") }" </dev/null
}

#!/bin/bash
# The closing table of `make bench`: every figure from build/bench/<target>.tsv
# (see lib.sh), in BENCH_TARGETS order, to stdout and to build/bench.md.
#   render.sh OUT.md TARGET...      (FAILED="t1 t2" names targets that failed)
set -u
out=$1; shift
dir=${BENCH_DIR:-$(dirname "$out")/bench}
{
	echo "# make bench — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "Each figure is compared with a baseline measured in the same run."
	echo
	echo "| figure | measured | baseline (same run) | ratio | goal | met? |"
	echo "|---|---|---|---|---|---|"
	for t in "$@"; do
		f=$dir/$t.tsv
		if [ -s "$f" ]; then
			awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$f"
		fi
		case " ${FAILED:-} " in *" $t "*) echo "| $t | (target failed; see its output above) | | | | missed |";; esac
		[ -s "$f" ] || case " ${FAILED:-} " in *" $t "*) ;; *) echo "| $t | (wrote no figures) | | | | missed |";; esac
	done
} >"$out"
met=$(grep -c '| met |$' "$out")
missed=$(grep -c '| missed |$' "$out")
printf '\ngoals met: %s, missed: %s; "report" rows have no numeric goal in their issue.\n' "$met" "$missed" >>"$out"
cat "$out"

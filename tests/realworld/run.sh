#!/bin/sh
# Runs oapigen, then `make check-spec`, on OpenAPI documents and tallies the
# outcome of each:
#   generated  oapigen wrote C and it compiled with the project's -Werror flags
#   refused    oapigen exited 1 naming the construct: "file: /pointer: what"
#   FAILED     anything else: a crash, a timeout, C that does not compile or
#              warns, an unclear error
# Prints "realworld: N passed, N failed" where passed = generated + refused,
# and the model coverage of the generated ones: the share of body schemas
# that got a typed C model, and the top reasons the others stay json_t (from
# the "Typed bodies:" line oapigen writes at the top of <api>_api.h).
#
#   run.sh          every Swagger 2.0, OpenAPI 3.0 and 3.1 YAML document of npm
#                   @readme/oas-examples (what `make test-realworld` runs)
#   run.sh DIR...   every OpenAPI or Swagger root document found under DIR
#                   (*.yaml, *.yml, *.json with a top-level "openapi" or
#                   "swagger" key; files a root document $refs are skipped),
#                   each line with the seconds and peak memory of oapigen and
#                   the seconds of check-spec (what `make corpus CORPUS=DIR` runs)
# TIMEOUT (seconds, default 300) bounds oapigen and check-spec each;
# COMPILE=0 skips check-spec (a tally of oapigen alone, for corpora of
# thousands of documents).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
oapigen="$top/${BUILD:-build}/oapigen"
timeout=${TIMEOUT:-300}
[ -x "$oapigen" ] || { echo "realworld: $oapigen is not built" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
list="$out/list"
if [ $# -eq 0 ]; then
	examples="$here/node_modules/@readme/oas-examples"
	[ -d "$examples" ] || { echo "realworld: @readme/oas-examples is not installed" >&2; exit 1; }
	ls "$examples"/2.0/yaml/*.yaml "$examples"/3.0/yaml/*.yaml "$examples"/3.1/yaml/*.yaml >"$list"
	strip="$examples/"
	verbose=0
else
	for d in "$@"; do
		[ -e "$d" ] || { echo "realworld: $d: no such file or folder" >&2; exit 1; }
		find "$d" -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) | LC_ALL=C sort |
		while IFS= read -r f; do
			# a root document names its version at the top level
			case $f in
			*.json) grep -qE '"(openapi|swagger)"[[:space:]]*:[[:space:]]*"[0-9]' "$f" ;;
			*) grep -qE '^("?)(openapi|swagger)("?)[[:space:]]*:' "$f" ;;
			esac && printf '%s\n' "$f"
		done
	done >"$list"
	strip=""
	verbose=1
fi
gen=0; ref=0; bad=0
: >"$out/models"   # per generated document: "bodies typed"
: >"$out/reasons"  # "count<TAB>reason" lines
while IFS= read -r f; do
	name=${f#"$strip"}
	log="$out/log"
	rm -rf "$out/gen"; mkdir -p "$out/gen"
	/usr/bin/time -f '%e %M' -o "$out/time" timeout "$timeout" "$oapigen" -o "$out/gen" "$f" >"$log" 2>&1
	rc=$?
	stats=""
	if [ "$verbose" = 1 ]; then
		set -- $(tail -1 "$out/time" 2>/dev/null) "" ""
		stats=" [$(du -k "$f" | cut -f1) KiB, oapigen ${1}s ${2} KiB"
	fi
	# (a JSON pointer may hold spaces: a property named "a b")
	if [ "$rc" -eq 1 ] && grep -qE "^[^ ]+\.(yaml|yml|json): /.*: .+" "$log"; then
		ref=$((ref + 1))
		[ -z "$stats" ] || stats="$stats]"
		echo "refused    $name$stats: $(grep -E "^[^ ]+\.(yaml|yml|json): /" "$log" | head -1 | sed "s|^$strip||")"
		continue
	fi
	if [ "$rc" -eq 0 ]; then
		cov=$(grep -h -m1 '^/\* Typed bodies: ' "$out"/gen/*_api.h 2>/dev/null | head -1)
		printf '%s\n' "$cov" | sed -n 's|^/\* Typed bodies: \([0-9]*\) of \([0-9]*\) .*|\2 \1|p' >>"$out/models"
		printf '%s\n' "$cov" | sed 's| \*/$||' | tr ';' '\n' |
			sed -n 's|^ json_t (\(.*\)): \([0-9]*\)$|\2	\1|p' >>"$out/reasons"
		if [ "${COMPILE:-1}" = 0 ]; then
			[ -z "$stats" ] || stats="$stats]"
			gen=$((gen + 1)); echo "generated  $name$stats (not compiled: COMPILE=0)"
			continue
		fi
		start=$(date +%s)
		timeout "$timeout" make -s -C "$top" --no-print-directory check-spec SPEC="$f" >"$log" 2>&1
		rc2=$?
		[ -z "$stats" ] || stats="$stats, check-spec $(($(date +%s) - start))s]"
		if [ "$rc2" -eq 0 ]; then
			gen=$((gen + 1)); echo "generated  $name$stats"
			continue
		fi
		why="generated C does not compile or link under -Werror (exit $rc2)"
		[ "$rc2" -eq 124 ] && why="check-spec timed out after ${timeout}s"
	elif [ "$rc" -eq 124 ]; then
		why="oapigen timed out after ${timeout}s"
	elif [ "$rc" -gt 128 ]; then
		why="oapigen crashed (signal $((rc - 128)))"
	else
		why="oapigen exit $rc without a \"file: /pointer: what\" message"
	fi
	[ -z "$stats" ] || stats="$stats]"
	bad=$((bad + 1)); echo "FAILED     $name$stats: $why"; sed 's/^/    /' "$log" | head -20
done <"$list"
echo "realworld tally: $gen generated$([ "${COMPILE:-1}" = 0 ] && echo " (not compiled)" || echo " and compiled"), $ref refused with a clear message, $bad failed"
awk '{ b += $1; t += $2 } END { printf "model coverage: %d of %d body schemas have a typed model (%.1f%%)\n", t, b, b ? 100 * t / b : 0 }' "$out/models"
awk -F '\t' '{ n[$2] += $1 } END { for (r in n) printf "%d\t%s\n", n[r], r }' "$out/reasons" | LC_ALL=C sort -k1,1nr -k2 | head -8 |
	while IFS="$(printf '\t')" read -r n r; do echo "  json_t: $r: $n"; done
echo "realworld: $((gen + ref)) passed, $bad failed"
[ "$bad" -eq 0 ]

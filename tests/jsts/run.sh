#!/bin/sh
# Runs the JSON-Schema-Test-Suite through validators compiled by oapigen's
# schema compiler: one generated C program per suite file.
#   run.sh required   draft4 (as OpenAPI 3.0) and draft2020-12 (as 3.1), the
#                     required files; prints "jsts: N passed, N failed"
#   run.sh optional   the optional/ and optional/format/ files, counted and
#                     reported as "jsts-optional-tally: ..." (informational)
# Files skipped whole, with the reason:
#   refRemote.json    needs a server for remote documents
#   vocabulary.json   custom metaschemas/vocabularies (not part of OpenAPI)
set -u
mode=${1:-required}
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=${JSTS_DIR:-$top/../shared/json-schema-test-suite/tests}
[ -d "$suite" ] || suite=/work/shared/json-schema-test-suite/tests
build=$top/build/jsts
gen=$top/build/jsts_gen
mkdir -p "$build"
CFLAGS_T="-std=c11 -D_GNU_SOURCE -O0 -w $(pkg-config --cflags jansson) -I$top/runtime"
LIBS_T="$top/build/libaprt.a $(pkg-config --libs jansson libpcre2-8) -lpthread -lm"
tp=0; tf=0; ts=0
run_file() { # dialect format_assert file
	f=$3
	base=$(basename "$(dirname "$f")")_$(basename "$f" .json)
	case "$(basename "$f")" in
	refRemote.json) echo "$(basename "$f"): skipped whole: needs a server for remote documents"; return;;
	vocabulary.json) echo "$(basename "$f"): skipped whole: custom vocabularies are not part of OpenAPI"; return;;
	esac
	if ! "$gen" "$1" "$2" "$f" > "$build/$base.c" 2>"$build/$base.err"; then
		echo "$(basename "$f"): generator failed: $(cat "$build/$base.err")"; tf=$((tf + 1)); return
	fi
	if ! cc $CFLAGS_T "$build/$base.c" -o "$build/$base" $LIBS_T 2>"$build/$base.err"; then
		echo "$(basename "$f"): generated C does not compile:"; head -5 "$build/$base.err"; tf=$((tf + 1)); return
	fi
	out=$("$build/$base")
	echo "$out" | sed "s/^\([a-zA-Z0-9_.-]*\.json\): \([0-9]* passed\)/$(basename "$(dirname "$f")")\/\1: \2/" | sed 's/ passed, / ok, /'
	p=$(echo "$out" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed/\1/p')
	fl=$(echo "$out" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed/\2/p')
	s=$(echo "$out" | sed -n 's/.*: \([0-9]*\) skipped.*/\1/p')
	tp=$((tp + ${p:-0})); tf=$((tf + ${fl:-0})); ts=$((ts + ${s:-0}))
}
if [ "$mode" = required ]; then
	for f in "$suite"/draft4/*.json; do run_file 30 1 "$f"; done
	for f in "$suite"/draft2020-12/*.json; do run_file 31 0 "$f"; done
	echo "jsts: $tp passed, $tf failed"
	[ "$ts" -eq 0 ] || echo "(and $ts tests skipped: they refer to remote documents)"
	[ "$tf" -eq 0 ]
else
	for f in "$suite"/draft4/optional/*.json "$suite"/draft4/optional/format/*.json; do run_file 30 1 "$f"; done
	for f in "$suite"/draft2020-12/optional/*.json "$suite"/draft2020-12/optional/format/*.json; do run_file 31 1 "$f"; done
	echo "jsts-optional-tally: $tp ok, $tf not ok, $ts skipped (informational)"
fi

#!/bin/sh
# Runs the JSON-Schema-Test-Suite through validators compiled by oapigen's
# schema compiler: one generated C program per suite file.
#   run.sh required   draft4 (as OpenAPI 3.0) and draft2020-12 (as 3.1), the
#                     required files, and the project's own in extra/ (as
#                     3.0); prints "jsts: N passed, N failed"
#   run.sh optional   the optional/ and optional/format/ files, counted and
#                     reported as "jsts-optional-tally: ..." (informational)
# Not counted as passed or failed, and always printed:
#   refRemote.json    skipped whole: needs a server for remote documents
#   vocabulary.json   skipped whole: custom vocabularies are not part of OpenAPI
#   remote            cases whose $ref names a document on the network
#   refused           cases whose schema uses a keyword oapigen refuses with a
#                     "file: /pointer: ... is not supported" message
set -u
mode=${1:-required}
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=${JSTS_DIR:-$top/../shared/json-schema-test-suite/tests}
[ -d "$suite" ] || suite=/work/shared/json-schema-test-suite/tests
build=$top/${BUILD:-build}/jsts
gen=$top/${BUILD:-build}/jsts_gen
mkdir -p "$build"
CFLAGS_T="-std=c11 -D_GNU_SOURCE -O0 -w $(pkg-config --cflags jansson) -I$top/runtime"
LIBS_T="$top/${BUILD:-build}/libaprt.a $(pkg-config --libs jansson libpcre2-8) -lpthread -lm"
tp=0; tf=0; ts=0; tr=0
count() { # pattern text
	v=$(printf '%s\n' "$2" | sed -n "s/.*: \([0-9]*\) $1.*/\1/p" | head -1)
	echo "${v:-0}"
}
run_file() { # dialect format_assert file
	f=$3
	name=$(basename "$(dirname "$f")")/$(basename "$f")
	base=$(echo "$name" | tr '/.' '__')
	case "$(basename "$f")" in
	refRemote.json) echo "$name: skipped whole: needs a server for remote documents"; return;;
	vocabulary.json) echo "$name: skipped whole: custom vocabularies are not part of OpenAPI"; return;;
	esac
	if ! "$gen" "$1" "$2" "$f" > "$build/$base.c" 2>"$build/$base.err"; then
		echo "$name: generator failed: $(cat "$build/$base.err")"; tf=$((tf + 1)); return
	fi
	if ! cc $CFLAGS_T ${SANITIZE_FLAGS:-} "$build/$base.c" -o "$build/$base" $LIBS_T 2>"$build/$base.err"; then
		echo "$name: generated C does not compile:"; head -5 "$build/$base.err"; tf=$((tf + 1)); return
	fi
	out=$("$build/$base")
	printf '%s\n' "$out" | grep '^FAIL'
	p=$(count passed "$out"); fl=$(count 'passed, [0-9]* failed' "$out")
	fl=$(printf '%s\n' "$out" | sed -n 's/.*: [0-9]* passed, \([0-9]*\) failed.*/\1/p'); fl=${fl:-0}
	s=$(count skipped "$out"); r=$(count refused "$out")
	echo "$name: $p ok, $fl not ok$( [ "$s" -eq 0 ] || echo ", $s skipped (remote)")$( [ "$r" -eq 0 ] || echo ", $r refused (unsupported keyword)")"
	tp=$((tp + p)); tf=$((tf + fl)); ts=$((ts + s)); tr=$((tr + r))
}
if [ "$mode" = required ]; then
	for f in "$suite"/draft4/*.json; do run_file 30 1 "$f"; done
	for f in "$suite"/draft2020-12/*.json; do run_file 31 0 "$f"; done
	# the project's own cases, in the suite's format (tests/jsts/extra/)
	for f in "$top"/tests/jsts/extra/*.json; do run_file 30 1 "$f"; done
	[ "$ts" -eq 0 ] || echo "not run: $ts tests whose schemas refer to remote documents"
	[ "$tr" -eq 0 ] || echo "not run: $tr tests whose schemas use a keyword oapigen refuses"
	echo "jsts: $tp passed, $tf failed"
	[ "$tf" -eq 0 ]
else
	for f in "$suite"/draft4/optional/*.json "$suite"/draft4/optional/format/*.json; do run_file 30 1 "$f"; done
	for f in "$suite"/draft2020-12/optional/*.json "$suite"/draft2020-12/optional/format/*.json; do run_file 31 1 "$f"; done
	echo "jsts-optional-tally: $tp ok, $tf not ok, $ts skipped (remote), $tr refused (informational)"
fi

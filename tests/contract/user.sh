#!/bin/sh
# user.sh SPEC URL [CREDENTIAL] [runner options...] — what `make contract`
# runs: oapigen on SPEC into build/contract/user/<name>/, a checker compiled
# from that output (checker.c + <name>_validate_response + the runtime), then
# contract.mjs against the server at URL with both validators.
# Environment: BUILD_DIR, CC, CFLAGS_ALL, LIBS (from the Makefile).
set -u
[ $# -ge 2 ] || { echo "usage: user.sh SPEC URL [CREDENTIAL] [runner options...]" >&2; exit 2; }
spec=$1; url=$2; cred=${3-}
shift 2; [ $# -gt 0 ] && shift
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$top/build}
[ -f "$spec" ] || { echo "contract: $spec: no such file" >&2; exit 2; }
name=$(basename "$spec"); name=${name%%.*}
name=$(printf '%s' "$name" | tr -c 'A-Za-z0-9_' '_'); case $name in [0-9]*) name=_$name;; esac
out=$build/contract/user/$name
rm -rf "$out"; mkdir -p "$out"
"$build/oapigen" -o "$out" -n "$name" "$spec" || { echo "contract: $spec: oapigen refused it (above); run without --checker: node tests/contract/contract.mjs --help" >&2; exit 1; }
for f in "$out"/*.c "$top/tests/contract/checker.c"; do
	# shellcheck disable=SC2086
	${CC:-cc} ${CFLAGS_ALL:-} -I"$out" -I"$top/runtime" -DCHECK_API="$name" -DCHECK_HEADER="${name}_api.h" \
		-c "$f" -o "$out/$(basename "$f" .c).o" || { echo "contract: the checker for $spec does not compile" >&2; exit 1; }
done
# shellcheck disable=SC2086
${CC:-cc} -o "$out/check_$name" "$out"/*.o ${LIBS:-} || { echo "contract: the checker for $spec does not link" >&2; exit 1; }
set -- --spec "$spec" --url "$url" --checker "$out/check_$name" "$@"
[ -z "$cred" ] || set -- "$@" --credential "$cred"
exec node "$top/tests/contract/contract.mjs" "$@"

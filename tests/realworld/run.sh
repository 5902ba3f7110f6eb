#!/bin/sh
# Runs oapigen, then `make check-spec`, on every OpenAPI 3.0 and 3.1 YAML
# document of npm @readme/oas-examples and tallies the outcome of each:
#   generated  oapigen wrote C and it compiled with the project's -Werror flags
#   refused    oapigen exited 1 naming the construct: "file: /pointer: what"
#   FAILED     anything else: a crash, C that does not compile, an unclear error
# Prints "realworld: N passed, N failed" where passed = generated + refused.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
oapigen="$top/${BUILD:-build}/oapigen"
examples="$here/node_modules/@readme/oas-examples"
[ -d "$examples" ] || { echo "realworld: @readme/oas-examples is not installed" >&2; exit 1; }
[ -x "$oapigen" ] || { echo "realworld: $oapigen is not built" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gen=0; ref=0; bad=0
for f in "$examples"/3.0/yaml/*.yaml "$examples"/3.1/yaml/*.yaml; do
	name=${f#"$examples"/}
	log="$out/log"
	rm -rf "$out/gen"; mkdir -p "$out/gen"
	"$oapigen" -o "$out/gen" "$f" >"$log" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] && grep -qE "^[^ ]+\.(yaml|yml|json): /[^ ]*: .+" "$log"; then
		ref=$((ref + 1))
		echo "refused    $name: $(grep -E "^[^ ]+\.(yaml|yml|json): /" "$log" | head -1 | sed "s|^$examples/||")"
		continue
	fi
	if [ "$rc" -eq 0 ] && make -s -C "$top" --no-print-directory check-spec SPEC="$f" >"$log" 2>&1; then
		gen=$((gen + 1)); echo "generated  $name"
		continue
	fi
	bad=$((bad + 1)); echo "FAILED     $name (oapigen exit $rc)"; sed 's/^/    /' "$log" | head -20
done
echo "realworld tally: $gen generated and compiled, $ref refused with a clear message, $bad failed"
echo "realworld: $((gen + ref)) passed, $bad failed"
[ "$bad" -eq 0 ]

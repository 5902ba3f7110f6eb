#!/bin/sh
# Mutation test: base.json is a valid document oapigen accepts; each line
# of mutations.txt (NAME @@ jq filter @@ text) breaks one OpenAPI rule in it
# and oapigen
# --check must refuse the result, exit 1, with "file: /pointer: ..." that
# contains the line's text.
set -u
cd "$(dirname "$0")/../.."
gen=${BUILD:-build}/oapigen
pass=0; fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { pass=$((pass + 1)); echo "ok    $1"; }
no() { fail=$((fail + 1)); echo "FAIL  $1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/      /' | head -5; }
base=tests/mutation/base.json
if out=$($gen --check "$base" 2>&1); then ok "the base document is accepted"; else no "the base document is accepted" "$out"; fi
while IFS= read -r line; do
	case $line in ''|'#'*) continue ;; esac
	name=${line%% @@ *}
	rest=${line#* @@ }
	filter=${rest% @@ *}
	want=${rest##* @@ }
	f=$tmp/$name.json
	if ! jq "$filter" "$base" >"$f" 2>"$tmp/jq.err"; then no "$name: jq filter" "$(cat "$tmp/jq.err")"; continue; fi
	out=$($gen --check "$f" 2>&1); rc=$?
	if [ "$rc" -eq 1 ] && printf '%s' "$out" | grep -qF -- "$want" && printf '%s' "$out" | grep -q "^$f: /"; then
		ok "refuses $name"
	else
		no "refuses $name (exit $rc, want \"$want\")" "$out"
	fi
done < tests/mutation/mutations.txt
echo "mutation: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/bin/sh
# Generator tests:
#  - every fixture in fixtures/ generates byte for byte what golden/<name>/
#    holds (UPDATE=1 rewrites the goldens), twice the same, and the output
#    compiles with the project's -Werror flags and links with the runtime;
#  - every document in bad/ (.yaml or .json) is refused with exit status 1 and a message
#    that contains bad/<name>.expect ("file: /json/pointer: what");
#  - --check (which skips the typed models and the emitters) prints, and exits
#    with, exactly what generation does, on every fixture and every bad/ document;
#  - load_json_test: whatever load_fast_parse reads (fixtures, seeds and
#    thousands of mutations of them), jansson reads the same way.
set -u
cd "$(dirname "$0")/../.."
gen=${BUILD:-build}/oapigen
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok    $1"; }
no() { fail=$((fail + 1)); echo "FAIL  $1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/      /' | head -20; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in tests/generator/fixtures/*.yaml tests/generator/fixtures/*.json; do
	n=$(basename "$f"); n=${n%.*}
	[ "$n" = common ] && continue
	n=$(printf '%s' "$n" | tr -c 'A-Za-z0-9_' '_')
	if ! out=$($gen -o "$tmp/$n" "$f" 2>&1); then no "$n: generates" "$out"; continue; fi
	ok "$n: generates"
	# --check builds no typed models and writes nothing, yet says all that generation says
	chk=$($gen --check "$f" 2>&1); rc=$?
	if [ "$rc" -eq 0 ] && [ "$chk" = "$out" ]; then ok "$n: --check says what generation says"
	else no "$n: --check says what generation says (exit $rc)" "$(printf 'generation:\n%s\n--check:\n%s' "$out" "$chk")"; fi
	$gen -o "$tmp/$n.again" "$f" >/dev/null 2>&1
	if diff -r "$tmp/$n" "$tmp/$n.again" >/dev/null; then ok "$n: deterministic"; else no "$n: deterministic"; fi
	if [ "${UPDATE:-0}" = 1 ]; then rm -rf "tests/generator/golden/$n"; mkdir -p tests/generator/golden; cp -r "$tmp/$n" "tests/generator/golden/$n"; fi
	if d=$(diff -r "tests/generator/golden/$n" "$tmp/$n" 2>&1); then ok "$n: matches golden"; else no "$n: matches golden" "$d"; fi
	if out=$(make -s --no-print-directory check-spec SPEC="$f" 2>&1); then ok "$n: compiles and links"; else no "$n: compiles and links" "$out"; fi
done
for f in tests/generator/bad/*.yaml tests/generator/bad/*.json; do
	n=$(basename "$f"); n=${n%.*}
	want=$(cat "tests/generator/bad/$n.expect")
	out=$($gen --check "$f" 2>&1); rc=$?
	if [ "$rc" -eq 1 ] && printf '%s' "$out" | grep -qF -- "$want" && printf '%s' "$out" | grep -q "^$f"; then
		ok "refuses $n"
	else
		no "refuses $n (exit $rc)" "$out"
	fi
	gout=$($gen -o "$tmp/bad-$n" "$f" 2>&1); grc=$?
	if [ "$grc" -eq "$rc" ] && [ "$gout" = "$out" ]; then ok "refuses $n: generation says the same"
	else no "refuses $n: generation says the same (exit $grc)" "$gout"; fi
done
# a document without operations generates (an empty API) with a warning
printf 'openapi: 3.0.3\ninfo: {title: t, version: "1"}\npaths: {}\n' >"$tmp/no-operations.yaml"
out=$($gen -o "$tmp/no-operations" "$tmp/no-operations.yaml" 2>&1); rc=$?
if [ "$rc" -eq 0 ] && printf '%s' "$out" | grep -q "no-operations.yaml: /paths: warning: the document has no operations" &&
   [ -f "$tmp/no-operations/no_operations_api.c" ]; then ok "warns on a document without operations"; else no "warns on a document without operations" "$out"; fi
# a response with a JSON media type and an itemSchema one: the builder
# sends JSON, and a warning says the items are not sent
printf '%s\n' 'openapi: 3.2.0' 'info: {title: t, version: "1"}' 'paths:' '  /x:' '    get:' '      responses:' \
	"        '200':" '          description: ok' '          content:' '            application/json: {schema: {type: array}}' \
	'            application/jsonl: {itemSchema: {type: object}}' >"$tmp/two-media.yaml"
out=$($gen -o "$tmp/two-media" "$tmp/two-media.yaml" 2>&1); rc=$?
if [ "$rc" -eq 0 ] && [ "$out" = "$tmp/two-media.yaml: /paths/~1x/get/responses/200/content/application~1jsonl/itemSchema: warning: response 200 is sent as application/json by its builder; the application/jsonl items of this itemSchema are not (one media type a response)" ] &&
   grep -q 'respond_200(rt_ctx \*ctx, const two_media_get_x_200 \*body)' "$tmp/two-media/two_media_api.h"; then ok "warns when a JSON media type leaves a response's itemSchema unsent"
else no "warns when a JSON media type leaves a response's itemSchema unsent" "$out"; fi
# a valid ECMA-262 pattern beyond PCRE2's limits generates: a warning naming
# its pointer and PCRE2's reason, and the pattern left out of the generated code
f=tests/generator/fixtures/pcre-limits.yaml
out=$($gen -o "$tmp/pcre-limits" "$f" 2>&1 >/dev/null); rc=$?
want="$f: /components/schemas/Note/properties/text/pattern: warning: pattern \"^.{0,262144}\$\" is valid ECMA-262 but exceeds a PCRE2 limit (at offset 11): number too big in {} quantifier; the pattern is not enforced"
if [ "$rc" -eq 0 ] && [ "$out" = "$want" ] && ! grep -qF '262144' "$tmp/pcre-limits/pcre_limits_api.c" &&
   grep -qF '{1,2097152}' "$tmp/pcre-limits/pcre_limits_api.c"; then ok "warns on a pattern beyond PCRE2's limits and leaves it out"
else no "warns on a pattern beyond PCRE2's limits and leaves it out" "$out"; fi
# the generator's JSON reader builds what jansson's parser builds, or leaves the text to it
if out=$(${BUILD:-build}/load_json_test 300 tests/generator/fixtures/*.json tests/generator/bad/*.json \
         tests/mutation/base.json tests/fuzz/seeds/jread/*.json 2>&1); then ok "${out#load_json: }"
else no "the JSON reader agrees with jansson" "$out"; fi
# the compiler's string table finds what was put, by a prefix too, and nothing else
if out=$(${BUILD:-build}/strtab_test 20000 2>&1); then ok "${out#strtab: }"
else no "gen_strtab agrees with a plain list" "$out"; fi
# usage errors exit 2 and say why
out=$($gen 2>&1); rc=$?
if [ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q "expected exactly one SPEC"; then ok "usage error"; else no "usage error" "$out"; fi
out=$($gen -o "$tmp/x" no/such/file.yaml 2>&1); rc=$?
if [ "$rc" -eq 1 ] && printf '%s' "$out" | grep -q "no/such/file.yaml"; then ok "missing file"; else no "missing file" "$out"; fi
echo "generator: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/bin/sh
# Typed bodies: the compiler tells you. On copies of openapi/heron.yaml,
# each with one rename, regenerate and rebuild handlers/heron.c:
#   - unchanged: it builds (so a failure below comes from the rename);
#   - a request property renamed (CreateKeySchema.name -> title): the build
#     fails, naming the field `name` of heron_CreateKeySchema;
#   - a required response property renamed (ApiKeyCreatedSchema.token ->
#     secret): the build fails, naming `token` of heron_ApiKeyCreatedSchema;
#   - a parameter renamed (heron_id -> key_id): the build fails, naming
#     `heron_id` of a _params struct (this worked before typed bodies: it
#     tells the cases apart);
#   - and the README's typed petstore handler compiles against
#     tests/typed/petstore.yaml's generated code.
# usage: run.sh CC "CFLAGS (without generated/heron)"
set -u
cd "$(dirname "$0")/../.."
cc=$1; cflags=$2
gen=${BUILD:-build}/oapigen
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok    $1"; }
no() { fail=$((fail + 1)); echo "FAIL  $1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/      /' | head -12; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# rename KEY to NEW inside the components/schemas block SCHEMA (property and required entry)
rename_prop() { # schema key new < in > out
	awk -v s="    $1:" -v k="$2" -v n="$3" '
		/^    [A-Za-z]/ { inside = ($0 == s) }
		inside && $0 == "        " k ":" { $0 = "        " n ":" }
		inside && $0 == "        - " k { $0 = "        - " n }
		{ print }'
}

# build NAME: generate from $tmp/NAME.yaml, compile handlers/heron.c; $out = the compiler's words
build() {
	out=$($gen -o "$tmp/$1" --name heron "$tmp/$1.yaml" 2>&1) || { out="oapigen: $out"; return 2; }
	# shellcheck disable=SC2086
	out=$($cc $cflags -I"$tmp/$1" -c -o "$tmp/$1.o" handlers/heron.c 2>&1)
}

cp openapi/heron.yaml "$tmp/same.yaml"
if build same; then ok "unchanged heron.yaml: handlers/heron.c builds"; else no "unchanged heron.yaml: handlers/heron.c builds" "$out"; fi

# expect NAME WHAT FIELD TYPE: the build fails and the error names FIELD of TYPE
expect_fails() {
	if build "$1"; then
		no "$2: the build must fail, and it succeeded"
	elif [ $? -eq 2 ]; then
		no "$2: oapigen refused the document" "$out"
	elif printf '%s\n' "$out" | grep -E "error: .*$4.* has no member named .$3." >/dev/null; then
		ok "$2: the build fails: $(printf '%s\n' "$out" | grep -E "has no member named .$3." | head -1 | sed 's/.*error: //')"
	else
		no "$2: the build fails, but not naming $3 of $4" "$out"
	fi
}

rename_prop CreateKeySchema name title < openapi/heron.yaml > "$tmp/request.yaml"
if cmp -s openapi/heron.yaml "$tmp/request.yaml"; then no "request rename: the copy is unchanged (heron.yaml moved?)"; fi
expect_fails request "request property CreateKeySchema.name renamed" name heron_CreateKeySchema

rename_prop ApiKeyCreatedSchema token secret < openapi/heron.yaml > "$tmp/response.yaml"
if cmp -s openapi/heron.yaml "$tmp/response.yaml"; then no "response rename: the copy is unchanged (heron.yaml moved?)"; fi
expect_fails response "required response property ApiKeyCreatedSchema.token renamed" token heron_ApiKeyCreatedSchema

sed -e 's/^      name: heron_id$/      name: key_id/' -e 's/{heron_id}/{key_id}/g' openapi/heron.yaml > "$tmp/param.yaml"
if cmp -s openapi/heron.yaml "$tmp/param.yaml"; then no "parameter rename: the copy is unchanged (heron.yaml moved?)"; fi
expect_fails param "path parameter heron_id renamed" heron_id "heron_[a-z_]*_params"

# The README's typed petstore handler: the C block after its marker, compiled
# (with the project's flags) against what oapigen writes from
# tests/typed/petstore.yaml.
awk '/^<!-- tests\/typed\/run.sh compiles the next block -->$/ { want = 1; next }
	want && /^```c$/ { inside = 1; next }
	inside && /^```$/ { exit }
	inside { print }' README.md >"$tmp/readme.c"
if [ ! -s "$tmp/readme.c" ]; then
	no "README: the typed petstore handler block is there (marker and \`\`\`c block)"
elif ! out=$($gen -o "$tmp/petstore" --name petstore tests/typed/petstore.yaml 2>&1); then
	no "README: oapigen generates tests/typed/petstore.yaml" "$out"
	# shellcheck disable=SC2086
elif out=$($cc $cflags -I"$tmp/petstore" -c -o "$tmp/readme.o" "$tmp/readme.c" 2>&1); then
	ok "README: the typed petstore handler ($(wc -l <"$tmp/readme.c") lines) compiles against tests/typed/petstore.yaml"
else
	no "README: the typed petstore handler compiles against tests/typed/petstore.yaml" "$out"
fi

echo "typed: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/bin/bash
# tests/docs: the <base>/docs page (server/docs.h) in a real browser.
# Debian's chromium, driven by playwright-core (browser.js), opens
# /heron/docs and /fastapi/api/docs (the issue's two) and the other three
# APIs' pages on the real apikeyd, then
# /v2/heron/docs with heron moved there by --mount; see browser.js for what
# each page must show. Also: the build without npm (server/swagger-ui/embed.sh
# with no node on PATH) warns and still compiles, with no docs page.
# Screenshots: $BUILD/docs/<api>.png. Prints "docs: N passed, N failed".
SUITE=docs
. "$(dirname "$0")/../lib/apikeyd.sh"
shots=$top/${BUILD:-build}/docs
rm -rf "$shots"

# run_browser ARGS...: browser.js's ok/FAIL lines count as this suite's
run_browser() {
	local out=$dir/browser.out
	node "$top/tests/docs/browser.js" "$@" >"$out" 2>&1
	cat "$out"
	pass=$((pass + $(grep -c '^ok ' "$out")))
	fail=$((fail + $(grep -c '^FAIL ' "$out")))
	[ -s "$out" ] || no "browser.js printed nothing"
}

key=$(user_add "$dir/k.db" alice)
check "apikeyd user add gives a key" test -n "$key"
if start_server "$dir/k.db"; then
	run_browser "$H" "$key" "$shots" heron=/heron=create_key fastapi=/fastapi/api=create_my_api_key \
		feldera=/feldera=create_api_key nebula=/nebulablock/api/v1=create_api_key \
		nebula_uuid=/nebulablock-uuid/api/v1=create_api_key
	# embed.js's escaping: what is served is byte for byte the npm package's file
	dist=$top/server/swagger-ui/node_modules/swagger-ui-dist
	for f in swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE; do
		curl -s -o "$dir/got-$f" "$H/fastapi/api/docs/$f"
		check "docs/$f is served byte for byte as swagger-ui-dist has it" cmp -s "$dir/got-$f" "$dist/$f"
	done
	curl -s -o "$dir/got-docs.js" "$H/heron/docs/docs.js"
	check "docs/docs.js is served byte for byte as server/swagger-ui has it" cmp -s "$dir/got-docs.js" "$top/server/swagger-ui/docs.js"
	req GET /heron/docs/no-such-file.js
	expect "an unknown file under /heron/docs is 404" 404
	req GET /heron/docs/docs.js
	expect "the init script is a file of its own, with the page's CSP" 200 'SwaggerUIBundle'
	check "docs.js carries the CSP header" grep -qi "^Content-Security-Policy: default-src 'none'" "$dir/headers"
	check "the page has no inline script" sh -c "curl -s '$H/heron/docs' | grep -o '<script[^>]*>' | grep -qv ' src=' && exit 1 || exit 0"
	kill "$SRV_PID"
else
	no "apikeyd starts" "$(cat "$SRV_LOG")"
fi
# --mount moves the API: the page, its document and "Try it out" follow it
if start_server "$dir/k.db" --mount heron=/v2/heron; then
	run_browser "$H" "$key" "$shots/mounted" heron=/v2/heron=create_key
	req GET /heron/docs
	expect "no docs page at the old base after --mount" 404
	kill "$SRV_PID"
else
	no "apikeyd --mount heron=/v2/heron starts" "$(cat "$SRV_LOG")"
fi

# A build machine without node/npm: a warning, and a table without files.
bin=$dir/bin; mkdir -p "$bin"
for t in sh cat dirname; do ln -s "$(command -v $t)" "$bin/$t"; done
PATH=$bin "$top/server/swagger-ui/embed.sh" "$dir/stub.c" 2>"$dir/stub.err"
check "embed.sh without npm warns that the build has no docs page" grep -q 'WITHOUT the <base>/docs page: node or npm is not installed' "$dir/stub.err"
check "its table compiles (-Werror) and names no file" sh -c \
	"cc -std=c11 -Wall -Wextra -Werror -c -I'$top/server' $(pkg-config --cflags libulfius) '$dir/stub.c' -o '$dir/stub.o' &&
	 grep -q 'docs_assets\[\] = { { NULL' '$dir/stub.c'"
finish

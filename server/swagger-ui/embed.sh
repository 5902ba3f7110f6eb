#!/bin/sh
# embed.sh OUT.c — the docs page's files as C data (server/docs.h):
# installs npm swagger-ui-dist as pinned in package-lock.json (npm ci, no
# install scripts: the package's only dependency is a telemetry hook) and
# embeds it with embed.js. Without npm, node or the network the build goes on
# without the docs page: OUT.c gets an empty table and a warning says so.
set -u
out=$1
here=$(cd "$(dirname "$0")" && pwd)
dist=$here/node_modules/swagger-ui-dist
why=""
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	why="node or npm is not installed"
elif [ ! -f "$dist/package.json" ] || [ "$here/package-lock.json" -nt "$dist/package.json" ]; then
	if ! (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null); then
		why="npm ci in server/swagger-ui failed (no network?)"
	fi
fi
if [ -z "$why" ]; then
	node "$here/embed.js" "$out" "$dist" && exit 0
	why="embed.js failed"
fi
echo "warning: building apikeyd WITHOUT the <base>/docs page: $why" >&2
cat >"$out" <<STUB
/* Written by server/swagger-ui/embed.sh: swagger-ui-dist was not available
   at build time ($why), so this apikeyd has no docs page. */
#include "docs.h"

const char docs_ui_version[] = "";
const docs_asset docs_assets[] = { { NULL, NULL, NULL, 0 } };
STUB

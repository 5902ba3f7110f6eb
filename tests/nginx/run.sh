#!/bin/bash
# tests/nginx/run.sh — Debian's nginx in front of a small upstream, with
# auth_request /v1/auth asking the real apikeyd about each client's key
# (issue 13). Everything on free loopback ports; nginx's config, pid, logs
# and temporary files in the suite's scratch folder (tests/nginx/nginx.conf.in
# is the config, README.md's "Protect your own API" shows the same).
#   a valid key reaches the upstream, with the owner header;
#   missing, wrong, revoked and expired keys get 401; a missing scope 403;
#   over the key's rate limit 429 with Retry-After.
# nginx is installed through scripts/install-deps.sh when it is missing.
SUITE=nginx
. "$(dirname "$0")/../lib/apikeyd.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
	"$top/scripts/install-deps.sh" >&2 || true
	NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
[ -x "$NGINX" ] || { no "nginx is not installed and scripts/install-deps.sh could not install it"; finish; exit 1; }
"$NGINX" -V 2>&1 | grep -q -- --with-http_auth_request_module || { no "$NGINX lacks the auth_request module"; finish; exit 1; }

db=$dir/var/apikeyd.db
mkdir -p "$dir/var" "$dir/nginx/tmp"
K=$(user_add "$db" alice) || { no "user add"; finish; exit 1; }
start_server "$db" --test-slow-endpoint || { no "apikeyd start" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
APORT=${H##*:}

v1() { req "$1" "/v1$2" "x-api-key: $K" "${3-}"; }
mk() { v1 POST /keys "$1"; [ "$STATUS" = 201 ] || { no "create $1 (got $STATUS)" "$BODY_OUT"; return 1; }; jb .id >"$dir/id"; jb .key; }

# the gateway's own key: it may verify, nothing else
V=$(mk '{"name":"nginx gateway","scopes":["keys:verify"]}')

# nginx_start: nginx.conf.in with this run's ports, folder and verifier key
GPORT=$(free_port); UPORT=$(free_port)
while [ "$UPORT" = "$GPORT" ]; do UPORT=$(free_port); done
user_line=""; [ "$(id -u)" = 0 ] && user_line="user root;"   # workers may then use the scratch folder
sed -e "s|@DIR@|$dir/nginx|g" -e "s|@APIKEYD@|127.0.0.1:$APORT|g" -e "s|@GATEWAY@|127.0.0.1:$GPORT|g" \
	-e "s|@UPSTREAM@|127.0.0.1:$UPORT|g" -e "s|@VERIFIER@|$V|g" -e "s|@USER@|$user_line|g" \
	"$top/tests/nginx/nginx.conf.in" >"$dir/nginx/nginx.conf"
"$NGINX" -t -p "$dir/nginx" -e "$dir/nginx/error.log" -c "$dir/nginx/nginx.conf" >"$dir/nginx/t.out" 2>&1 \
	&& ok "nginx -t accepts the config" || { no "nginx -t" "$(cat "$dir/nginx/t.out")"; finish; exit 1; }
"$NGINX" -p "$dir/nginx" -e "$dir/nginx/error.log" -c "$dir/nginx/nginx.conf" >"$dir/nginx/out" 2>&1 &
NGX_PID=$!
SRV_PIDS+=("$NGX_PID")
G="http://127.0.0.1:$GPORT"
for _ in $(seq 100); do curl -s -o /dev/null "$G/plain/" && break; sleep 0.05; done

# through PATH [HEADER...]: a client's request through nginx; sets STATUS, body in $dir/gout
through() {
	local p=$1; shift
	local args=(-s -o "$dir/gout" -D "$dir/gheaders" -w '%{http_code}')
	for h in "$@"; do args+=(-H "$h"); done
	STATUS=$(curl "${args[@]}" "$G$p")
}
gheader() { grep -i "^$1:" "$dir/gheaders" | head -1 | sed 's/^[^:]*: *//' | tr -d '\r'; }

through /plain/
[ "$STATUS" = 200 ] && ok "nginx serves the upstream (no auth_request on /plain/)" || no "nginx /plain/ ($STATUS)" "$(tail -5 "$dir/nginx/error.log")"

C=$(mk '{"name":"customer one","owner":"customer-1","scopes":["orders:read"]}'); CID=$(cat "$dir/id")
through /orders/1 "x-api-key: $C"
[ "$STATUS" = 200 ] && grep -q "^owner=customer-1 key=$CID scopes=orders:read$" "$dir/gout" \
	&& ok "a valid key reaches the upstream; X-Apikeyd-Owner, -Key-Id and -Scopes arrive there" || no "valid key ($STATUS)" "$(cat "$dir/gout")"
through /orders/1 "Authorization: Bearer $C"
[ "$STATUS" = 200 ] && grep -q "^owner=customer-1 " "$dir/gout" && ok "the key as Authorization: Bearer works too" || no "bearer ($STATUS)"
through /bearer-only/1 "x-api-key: $C"
[ "$STATUS" = 401 ] && ok "credential=bearer: a key in x-api-key is not looked at (401)" || no "bearer-only with x-api-key ($STATUS)"
through /bearer-only/1 "Authorization: Bearer $C"
[ "$STATUS" = 200 ] && ok "credential=bearer: the Bearer key passes" || no "bearer-only ($STATUS)"
through /orders/1
[ "$STATUS" = 401 ] && ok "no key: 401" || no "no key ($STATUS)"
through /orders/1 "x-api-key: apk_thisisnotakeyatall"
[ "$STATUS" = 401 ] && ok "a wrong key: 401" || no "wrong key ($STATUS)"
through /orders/1 "x-api-key: $K"
[ "$STATUS" = 403 ] && ok "a valid key without the location's scope (alice's own Heron key): 403" || no "heron key on /orders ($STATUS)"
through /admin/1 "x-api-key: $C"
[ "$STATUS" = 403 ] && ok "a missing scope (orders:write on /admin/): 403" || no "missing scope ($STATUS)"

# revoked: deleted through the apikeyd API, refused at the very next request
D=$(mk '{"name":"to revoke","owner":"customer-2","scopes":["orders:read"]}'); DID=$(cat "$dir/id")
through /orders/1 "x-api-key: $D"; first=$STATUS
v1 DELETE "/keys/$DID"
through /orders/1 "x-api-key: $D"
[ "$first" = 200 ] && [ "$STATUS" = 401 ] && ok "a revoked key: 401 at the next request (200 just before)" || no "revoked ($first then $STATUS)"
R=$(mk '{"name":"to disable","scopes":["orders:read"]}'); RID=$(cat "$dir/id")
through /orders/1 "x-api-key: $R"; first=$STATUS
v1 PATCH "/keys/$RID" '{"enabled":false}'
through /orders/1 "x-api-key: $R"
[ "$first" = 200 ] && [ "$STATUS" = 401 ] && ok "a disabled key: 401 at the next request" || no "disabled ($first then $STATUS)"

# expired: on the key service's clock, stopped at the key's creation and moved past its expiry
T0=$(date +%s)
curl -s -o /dev/null -X POST "$H/__test/clock?at=$T0"
E=$(mk '{"name":"short-lived","scopes":["orders:read"],"ttl_seconds":30}')
through /orders/1 "x-api-key: $E"; first=$STATUS
curl -s -o /dev/null -X POST "$H/__test/clock?at=$((T0 + 30))"
through /orders/1 "x-api-key: $E"
[ "$first" = 200 ] && [ "$STATUS" = 401 ] && ok "an expired key: 401 (200 before its expiry)" || no "expired ($first then $STATUS)"

# over the limit: 429 with the key's Retry-After, through error_page and a named location
W0=$(( (T0 / 60 + 2) * 60 ))
curl -s -o /dev/null -X POST "$H/__test/clock?at=$W0"
L=$(mk '{"name":"limited","scopes":["orders:read"],"ratelimit":{"limit":2,"window":60}}')
codes=""; for _ in 1 2 3; do through /orders/1 "x-api-key: $L"; codes="$codes$STATUS "; done
ra=$(gheader Retry-After)
[ "$codes" = "200 200 429 " ] && [ "$ra" = 60 ] && ok "over the key's limit (2 per 60 s): 200, 200, then 429 with Retry-After: 60" \
	|| no "rate limit: $codes Retry-After '$ra'" "$(tail -3 "$dir/nginx/error.log")"
curl -s -o /dev/null -X POST "$H/__test/clock?at=$((W0 + 60))"
through /orders/1 "x-api-key: $L"
[ "$STATUS" = 200 ] && ok "the next window: through again" || no "next window ($STATUS)"
curl -s -o /dev/null -X POST "$H/__test/clock?offset=0"

# the gateway's key revoked: every check fails closed (401), none lets a client through
v1 GET /keys
VID=$(jq -r '.items[] | select(.name=="nginx gateway") | .id' "$dir/out")
v1 PATCH "/keys/$VID" '{"enabled":false}'
through /orders/1 "x-api-key: $C"
[ "$STATUS" = 401 ] && ok "the gateway's own key disabled: clients are refused (401), not let through" || no "gateway key disabled ($STATUS)"

kill -TERM "$NGX_PID" 2>/dev/null; wait "$NGX_PID" 2>/dev/null
finish

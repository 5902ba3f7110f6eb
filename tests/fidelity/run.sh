#!/bin/bash
# test-fidelity: a client written against each vendor's docs works
# unchanged. Through the real apikeyd over HTTP (responses validated against
# openapi/ with --validate-responses): the vendors' own example requests, the
# exact envelope and field sets they document, their error shapes on every
# error the server answers itself (unknown route, body too large), and the
# HTTP details clients rely on (header-name and auth-scheme case, a charset
# parameter on Content-Type, WWW-Authenticate, a valid Location).
set -u
SUITE=fidelity
. "$(dirname "$0")/../lib/apikeyd.sh"

db=$dir/var/apikeyd.db
KEY=$(user_add "$db" alice)
start_server "$db" --validate-responses --max-body 2K || { no "apikeyd starts" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
AK="x-api-key: $KEY"
BA="Authorization: Bearer $KEY"
big="{\"name\":\"$(head -c 3000 /dev/zero | tr '\0' a)\"}"
keys_of() { jq -c "$1 | keys" "$dir/out"; }   # sorted member names

# ---- NebulaBlock and its twin (seeds 004, 002; the vendor's List, Delete
# ---- and Authentication pages) ----
for base in /nebulablock/api/v1 /nebulablock-uuid/api/v1; do
	n=${base%/api/v1}; n=${n#/}
	# the Create page's example body, sent properly
	req POST "$base/api-keys" "$BA" '{"name": "test-api-key", "description": "This is a test API key"}'
	expect "$n: create (the docs' example body) 201" 201 '"message":"API key successfully created"'
	[ "$(keys_of .)" = '["data","message","status"]' ] && [ "$(keys_of .data)" = '["description","id","key","name"]' ] \
		&& ok "$n: create answers exactly {data: {id, key, name, description}, message, status}" || no "$n: create members" "$BODY_OUT"
	first=$(jb .data.id)
	req POST "$base/api-keys" "$BA" '{"name": "second"}'
	second=$(jb .data.id)
	# the docs' own curl example: no Content-Type (curl -d sends a form type), a trailing comma
	STATUS=$(curl -s -o "$dir/out" -w '%{http_code}' "$H$base/api-keys" -H "$BA" -d '{
    "name": "test-api-key",
    "description": "This is a test API key",
}'); BODY_OUT=$(cat "$dir/out")
	expect "$n: the docs' curl example: 415 in the envelope naming the Content-Type to send" 415 \
		'"message":"Content-Type .*application/x-www-form-urlencoded.* send application/json","status":"failed"'
	STATUS=$(curl -s -o "$dir/out" -w '%{http_code}' "$H$base/api-keys" -H "$BA" -H 'Content-Type: application/json' -d '{
    "name": "test-api-key",
    "description": "This is a test API key",
}'); BODY_OUT=$(cat "$dir/out")
	expect "$n: ... with Content-Type added: 400 naming line 4, column 1" 400 '"message":"[^"]*line 4, column 1.*"status":"failed"'
	# List: partial_key_data is "the prefix of each API key ... the same across all API keys"
	req GET "$base/api-keys" "$BA"
	expect "$n: list 200" 200 '"message":"API keys successfully retrieved"'
	[ "$(jq -r '[.data[].partial_key_data] | unique | join(",")' "$dir/out")" = "ak_..." ] \
		&& ok "$n: partial_key_data is \"ak_...\" for every key, as the docs show" || no "$n: partial_key_data" "$BODY_OUT"
	[ "$(jq -c '[.data[] | keys]|unique' "$dir/out")" = '[["description","id","name","partial_key_data"]]' ] \
		&& ok "$n: list items are exactly {id, name, description, partial_key_data}" || no "$n: list members" "$BODY_OUT"
	cp "$dir/out" "$dir/list.dash"
	# the newer List page's spelling: GET {API_URL}/api_keys
	req GET "$base/api_keys" "$BA"
	expect "$n: GET /api_keys (the newer List page's path) 200" 200
	cmp -s "$dir/out" "$dir/list.dash" && ok "$n: /api_keys lists the same as /api-keys" || no "$n: /api_keys differs" "$BODY_OUT"
	# Delete: {data: {}, message}
	req DELETE "$base/api-keys/$second" "$BA"
	expect "$n: delete 200" 200
	[ "$(jq -c . "$dir/out")" = '{"data":{},"message":"API key successfully deleted","status":"success"}' ] \
		&& ok "$n: delete answers exactly the documented body" || no "$n: delete body" "$BODY_OUT"
	req POST "$base/api-keys" "$BA" '{"name": "third"}'
	third=$(jb .data.id)
	[ "$third" != "$second" ] && ok "$n: a deleted key's id is never given to a new key" || no "$n: id $second reused"
	# every error in the envelope, the server's own ones included
	req GET "$base/no-such-thing" "$BA"
	expect "$n: unknown route: 404 in the envelope" 404 '^\{"data":null,"message":"[^"]+","status":"failed"\}$'
	[ "$(header Content-Type)" = application/json ] && ok "$n: ... as application/json" || no "$n: 404 Content-Type $(header Content-Type)"
	req PATCH "$base/api-keys" "$BA"
	expect "$n: a method the path lacks: 405 in the envelope" 405 '"status":"failed"'
	[ "$(header Allow)" = "GET, POST" ] && ok "$n: ... with Allow: GET, POST" || no "$n: Allow \"$(header Allow)\""
	req POST "$base/api-keys" "$BA" "$big"
	expect "$n: body over --max-body: 413 in the envelope" 413 '"status":"failed"'
	req DELETE "$base/api-keys/$first" "$BA"
done

# ---- Feldera (seed 001; Feldera's OpenAPI: api_keys) ----
req POST /feldera/v0/api_keys "$BA" '{}'
expect "feldera: the docs' example body {} is refused in the ErrorResponse shape" 400 '"error_code":"[A-Za-z]+"'
[ "$(keys_of .)" = '["details","error_code","message"]' ] && ok "feldera: errors are exactly {message, error_code, details}" || no "feldera: error members" "$BODY_OUT"
req POST /feldera/v0/api_keys "$BA" '{"name":"my key/é"}'
expect "feldera: create 201" 201
[ "$(keys_of .)" = '["api_key","id","name"]' ] && ok "feldera: create answers exactly {api_key, id, name}" || no "feldera: create members" "$BODY_OUT"
loc=$(header Location)
[ "$loc" = "/feldera/v0/api_keys/my%20key%2F%C3%A9" ] && ok "feldera: Location is a valid URL, the name percent-encoded ($loc)" || no "feldera: Location \"$loc\""
[[ $(jb .api_key) =~ ^apikey:[0-9A-Za-z]{49}$ ]] && ok "feldera: the key is in Feldera's format, apikey: and the secret" \
	|| no "feldera: api_key \"$(jb .api_key)\""
FREAD=$(jb .api_key)
req GET "/feldera${loc#/feldera}" "$BA"
expect "feldera: GET Location finds the key" 200 '"name":"my key/é"'
# Feldera's get_api_key answers a one-element array (.json(&[api_key])),
# ApiKeyDescr requires role (read | write; read when none was asked for,
# Feldera's default), and the list and get send Cache-Control: no-cache
[ "$(jq -c 'type, length, (.[0] | keys), .[0].role' "$dir/out" | tr '\n' ' ')" = '"array" 1 ["id","name","role","scopes"] "read" ' ] \
	&& ok "feldera: get answers [ {id, name, role, scopes} ], role read by default" || no "feldera: get shape" "$BODY_OUT"
[ "$(header Cache-Control)" = no-cache ] && ok "feldera: get sends Cache-Control: no-cache" || no "feldera: get Cache-Control \"$(header Cache-Control)\""
req POST /feldera/v0/api_keys "$BA" '{"name":"writer","role":"write"}'
req GET /feldera/v0/api_keys "$BA"
[ "$(jq -c '[.[] | [.name, .role, (.scopes | join("+"))]]' "$dir/out")" = '[["my key/é","read","Read"],["writer","write","Read+Write"]]' ] \
	&& ok "feldera: list items carry role (and the scopes older clients read)" || no "feldera: list roles" "$BODY_OUT"
[ "$(header Cache-Control)" = no-cache ] && ok "feldera: list sends Cache-Control: no-cache" || no "feldera: list Cache-Control \"$(header Cache-Control)\""
# Feldera's route table asks write of every api_keys route: a read key is
# answered 403 InsufficientPermissions, {required, actual} in details
req GET /feldera/v0/api_keys "Authorization: Bearer $FREAD"
expect_json "feldera: a read key listing: 403 InsufficientPermissions" 403 \
	'keys == ["details","error_code","message"] and .error_code == "InsufficientPermissions" and
	 .message == "Insufficient permissions: this action requires the '"'"'write'"'"' role, but the caller has '"'"'read'"'"'" and
	 .details == {"required": "write", "actual": "read"}'
req GET /feldera/v0/no-such-thing "$BA"
expect "feldera: unknown route: 404 as {message, error_code, details}" 404 '"error_code":"NotFound","details":null'
req PUT /feldera/v0/api_keys/x "$BA"
expect "feldera: a method the path lacks: 405 as {message, error_code, details}" 405 '"error_code":"MethodNotAllowed"'
[ "$(header Allow)" = "GET, DELETE" ] && ok "feldera: ... with Allow: GET, DELETE" || no "feldera: Allow \"$(header Allow)\""
req POST /feldera/v0/api_keys "$BA" "$big"
expect "feldera: body over --max-body: 413 as {message, error_code, details}" 413 '"error_code":"PayloadTooLarge"'

# ---- Heron (seed 000; docs.herondata.io credentials pages) ----
req POST /heron/api/credentials/keys "$AK" '{"name":"CI pipeline"}'
[ "$(keys_of .)" = '["created","heron_id","is_active","name","token","token_prefix"]' ] \
	&& ok "heron: create answers exactly the six documented fields" || no "heron: create members" "$BODY_OUT"
req GET /heron/api/credentials/keys "X-API-KEY: $KEY"
expect "heron: the header name in another case (X-API-KEY) works" 200
req GET /heron/api/credentials/no-such-thing "$AK"
expect "heron: unknown route: a bare 404" 404
[ ! -s "$dir/out" ] && ok "heron: ... with no body" || no "heron: 404 body" "$BODY_OUT"
req GET /heron/api/credentials/keys/x "$AK"
expect "heron: a method the path lacks: a bare 405" 405
[ ! -s "$dir/out" ] && [ "$(header Allow)" = DELETE ] && ok "heron: ... with no body and Allow: DELETE" || no "heron: 405" "$(cat "$dir/headers")"
req POST /heron/api/credentials/keys "$AK" "$big"
expect "heron: body over --max-body: a bare 413" 413
[ ! -s "$dir/out" ] && ok "heron: ... with no body" || no "heron: 413 body" "$BODY_OUT"

# ---- FastAPI-style (seed 003) ----
req POST /fastapi/api/auth/api-keys/ "$BA" '{"name":"example"}'
[ "$(keys_of .)" = '["created_at","id","key","name"]' ] && ok "fastapi: create answers exactly {id, key, name, created_at}" || no "fastapi: create members" "$BODY_OUT"
req GET /fastapi/api/auth/api-keys/ "Authorization: bearer $KEY"
expect "fastapi: the auth scheme in lower case (bearer) works" 200
req GET /fastapi/api/no-such-thing "$BA"
expect "fastapi: unknown route: 404 problem details" 404 '"status":404'
[ "$(header Content-Type)" = application/problem+json ] && ok "fastapi: ... as application/problem+json" || no "fastapi: 404 Content-Type"
req PUT /fastapi/api/auth/api-keys/ "$BA" '{"name":"x"}'
expect "fastapi: a method the path lacks: 405 problem details" 405 '"title":"Method Not Allowed","status":405'

# ---- every family ----
for f in $FAMILIES; do
	STATUS=$(curl -s -o "$dir/out" -w '%{http_code}' -D "$dir/headers" "$H$(create_path "$f")" -H "$(auth_header "$f" "$KEY")" \
		-H 'Content-Type: application/json; charset=utf-8' -d "{\"name\":\"charset-$f\"}")
	expect "$f: Content-Type: application/json; charset=utf-8 is accepted" 201
	[ "$(header Content-Type)" = application/json ] && ok "$f: responds application/json" || no "$f: Content-Type $(header Content-Type)"
	[ "$(header Cache-Control)" = no-store ] && ok "$f: the create response (it holds the key) is Cache-Control: no-store" || no "$f: Cache-Control \"$(header Cache-Control)\""
done
src=40
for f in feldera nebula nebula_uuid fastapi; do
	src=$((src + 1))
	req --from "127.0.0.$src" GET "$(list_path "$f")" ""
	expect "$f: no credential: 401" 401
	[ "$(header WWW-Authenticate)" = Bearer ] && ok "$f: ... with WWW-Authenticate: Bearer" || no "$f: WWW-Authenticate \"$(header WWW-Authenticate)\""
done
# uuids compare case-insensitively: the FastAPI seed's own example id is upper
# case, and FastAPI parses a uuid path parameter whatever its case
req POST /fastapi/api/auth/api-keys/ "$BA" '{"name":"upper"}'
up=$(jb .id | tr a-f A-F)
req DELETE "/fastapi/api/auth/api-keys/$up" "$BA"
expect "fastapi: revoke with the id in upper case (204)" 204
req POST /nebulablock-uuid/api/v1/api-keys "$BA" '{"name":"upper"}'
up=$(jb .data.id | tr a-f A-F)
req DELETE "/nebulablock-uuid/api/v1/api-keys/$up" "$BA"
expect "nebulablock-uuid: delete with the id in upper case (200)" 200 '"status":"success"'
# keys go in headers, never in the query string (RFC 6750's access_token included)
req --from 127.0.0.50 GET "/heron/api/credentials/keys?x-api-key=$KEY&api_key=$KEY" ""
expect "heron: a key in the query string is not accepted (401)" 401
req --from 127.0.0.50 GET "/fastapi/api/auth/api-keys/?access_token=$KEY" ""
expect "fastapi: access_token in the query string is not accepted (401)" 401
grep -qF "${KEY#key_}" "$SRV_LOG" && no "a key sent in a query string reached the log" || ok "a key sent in a query string never reaches the log"
grep -q ' 500 ' "$SRV_LOG" && no "a response broke its document (500 in the log)" "$(grep ' 500 ' "$SRV_LOG" | head -3)" \
	|| ok "no response broke its OpenAPI document (--validate-responses)"
finish

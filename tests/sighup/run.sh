#!/bin/bash
# test-sighup: SIGHUP re-reads the settings of a running apikeyd (the same
# command line and environment, the config file read again).
#   - The JWT key file is read again: after it is replaced by another key,
#     tokens of the new key authenticate and the old key's are refused; a
#     file that does not load keeps the keys in force, with an error line.
#   - jwt-issuer changed in the config file applies to the next token.
#   - log-level is applied (warning: access lines stop; info: they resume).
#   - A setting only a restart applies (max-body) is named as such and left
#     as it was; a config file that no longer parses changes nothing.
#   - Every reload logs what it applied and what needs a restart; the server
#     keeps serving throughout and exits 0 on SIGTERM.
set -u
SUITE=sighup
. "$(dirname "$0")/../lib/apikeyd.sh"

db=$dir/var/apikeyd.db
KEY=$(user_add "$db" alice)
[ -n "$KEY" ] || { no "user add"; finish; exit 1; }

for k in a b; do
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/$k.pem" 2>/dev/null
	openssl pkey -in "$dir/$k.pem" -pubout -out "$dir/$k.pub.pem"
done
b64u() { basenc --base64url -w0 | tr -d '='; }
jwt() { # jwt KEYFILE PAYLOAD: RS256
	local h p
	h=$(printf '{"alg":"RS256","typ":"JWT"}' | b64u); p=$(printf '%s' "$2" | b64u)
	printf '%s.%s.%s' "$h" "$p" "$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$1" -binary | b64u)"
}
now=$(date +%s)
TA=$(jwt "$dir/a.pem" "{\"sub\":\"alice\",\"iat\":$now,\"exp\":$((now + 900))}")
TB=$(jwt "$dir/b.pem" "{\"sub\":\"alice\",\"iat\":$now,\"exp\":$((now + 900))}")
TBI=$(jwt "$dir/b.pem" "{\"sub\":\"alice\",\"iss\":\"https://idp.example\",\"iat\":$now,\"exp\":$((now + 900))}")

cp "$dir/a.pub.pem" "$dir/jwt.pem"
conf=$dir/apikeyd.conf
write_conf() { printf 'jwt-key = %s\n%s' "$dir/jwt.pem" "$1" >"$conf"; }
write_conf $'log-level = info\n'
# started by hand: start_server gives --log-level on the command line, which
# beats the config file
port=$(free_port)
LOG=$dir/server.log
"$APIKEYD" --config "$conf" --db "$db" --listen "127.0.0.1:$port" --tls-listen off >"$dir/server.out" 2>"$LOG" &
SRV_PID=$!
SRV_PIDS+=("$SRV_PID")
H="http://127.0.0.1:$port"
for _ in $(seq 200); do curl -s -o /dev/null "$H/healthz" && break; sleep 0.05; done
curl -s -o /dev/null "$H/healthz" || { no "apikeyd starts with --config" "$(tail -3 "$LOG")"; finish; exit 1; }

# hup: SIGHUP, then wait for the reload's line (the n-th "SIGHUP: " summary or error)
hups=0
hup() {
	hups=$((hups + 1))
	kill -HUP "$SRV_PID"
	for _ in $(seq 200); do
		[ "$(grep -cE 'SIGHUP: (settings re-read|the settings do not load)' "$LOG")" -ge "$hups" ] && return 0
		sleep 0.05
	done
	return 1
}
feldera() { req GET /feldera/v0/api_keys "Authorization: Bearer $1"; }

feldera "$TA"; expect "before: key A's JWT authenticates" 200
feldera "$TB"; expect "before: key B's JWT is refused" 401

# the key file replaced under the same name
cp "$dir/b.pub.pem" "$dir/jwt.pem"
check "SIGHUP answered with a reload line" hup
check "the reload names the JWT key file as applied" grep -qE "SIGHUP: settings re-read from $conf: applied: jwt-key $dir/jwt.pem \(re-read\); need a restart: none" "$LOG"
feldera "$TB"; expect "after: key B's JWT authenticates" 200
feldera "$TA"; expect "after: key A's JWT is refused" 401

# a key file that does not load: the keys in force stay
echo "not a key" >"$dir/jwt.pem"
hup
check "a bad JWT key file: an error line, the current keys kept" grep -q "SIGHUP: keeping the current JWT keys and settings: .*jwt.pem" "$LOG"
feldera "$TB"; expect "a bad JWT key file: key B's JWT still authenticates" 200
cp "$dir/b.pub.pem" "$dir/jwt.pem"

# jwt-issuer now required
write_conf $'log-level = info\njwt-issuer = https://idp.example\n'
hup
check "jwt-issuer applied, named in the log" grep -q "applied: jwt-key $dir/jwt.pem (with new jwt-issuer" "$LOG"
feldera "$TB"; expect "jwt-issuer: a token without iss is refused" 401
feldera "$TBI"; expect "jwt-issuer: a token with the issuer authenticates" 200

# log-level warning, and a setting that needs a restart
write_conf $'log-level = warning\njwt-issuer = https://idp.example\nmax-body = 1K\n'
hup
check "log-level change logged (info -> warning)" grep -q "SIGHUP: log-level info -> warning" "$LOG"
check "max-body named as needing a restart" grep -q "SIGHUP: changed settings that only a restart applies: max-body" "$LOG"
before=$(grep -c 'GET /healthz 200' "$LOG")
for i in 1 2 3; do curl -s -o /dev/null "$H/healthz"; done
sleep 0.3
check "log-level warning: no access lines" test "$(grep -c 'GET /healthz 200' "$LOG")" = "$before"
big=$(head -c 2000 /dev/zero | tr '\0' a)
req POST /heron/api/credentials/keys "x-api-key: $KEY" "{\"name\":\"n\",\"pad\":\"$big\"}"
check "max-body not applied before a restart (2 KB body: not 413)" test "$STATUS" != 413

# a config file that no longer parses: nothing changes
write_conf $'log-level = loud\n'
hup
check "a config file that does not load: an error line naming it" \
	grep -q "SIGHUP: the settings do not load, every current one is kept: $conf:2: \"loud\"" "$LOG"
feldera "$TBI"; expect "a config file that does not load: jwt-issuer still in force" 200
feldera "$TB"; expect "a config file that does not load: a token without iss still refused" 401

# back to info: access lines resume
write_conf $'log-level = info\n'
hup
check "log-level change logged (warning -> info)" grep -q "SIGHUP: log-level warning -> info" "$LOG"
curl -s -o /dev/null -H "X-Request-Id: after-hup" "$H/healthz"
for _ in $(seq 100); do grep -q 'rid=after-hup GET /healthz 200' "$LOG" && break; sleep 0.05; done
check "log-level info: access lines again" grep -q 'rid=after-hup GET /healthz 200' "$LOG"
check "the server kept running through every SIGHUP" kill -0 "$SRV_PID"
kill -TERM "$SRV_PID"; wait "$SRV_PID"; rc=$?
check "SIGTERM after the reloads: exit 0" test "$rc" = 0
check "--help says what SIGHUP re-reads" bash -c "'$APIKEYD' --help | grep -q 'SIGHUP re-reads'"

finish

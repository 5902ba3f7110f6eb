#!/bin/bash
# test-adversarial-jwt: JWT headers and claims an attacker controls (issue 10,
# finding 1), against the real apikeyd on loopback with --jwt-key.
#   - No outbound connection and no file open for any header: x5u and jku
#     pointing at a silent listener of ours ($ADV_BIN/sink, http:// and
#     https://), at a FIFO we watch (file://; opening a FIFO for reading
#     blocks until a writer comes, so our writer finishing means the server
#     opened it) and at file:///dev/zero (the server's peak RSS, VmHWM, stays
#     flat; its address space is capped so an unfixed server cannot eat the
#     machine). Each as alg none and as a correctly signed RS256 token; each
#     answered 401 within 2 s; the listener sees zero connections; two such
#     tokens at once leave the two workers free (a valid request right after
#     gets 200).
#   - Tokens carrying an embedded key (jwk, x5c) or a key URL (jku, x5u) are
#     refused even when signed by the configured key; so are an unknown crit,
#     zip, a nested (cty JWT) token, an alg the key does not imply, and a
#     token longer than the bound.
#   - Claims, each in a correctly signed token so that the rule under test is
#     the only reason for the 401: exp, nbf, iat as strings, floats beyond
#     range, negative; iat in the future beyond the leeway; exp - iat beyond
#     the maximum lifetime (24 h default, and --jwt-max-lifetime); iat missing
#     while a maximum lifetime applies; iss and aud missing, wrong, aud an
#     array without ours (issuer from APIKEYD_JWT_ISSUER, audience from the
#     config file). Positive cases pass: the configured iss/aud (aud as a
#     string and as an array), nbf/iat/exp within the leeway.
#   - A refused token's reason is in the log; the token never is.
set -u
SUITE=adversarial-jwt
. "$(dirname "$0")/../lib/apikeyd.sh"
SINK=${ADV_BIN:-$top/${BUILD:-build}/adversarial}/sink
[ -x "$SINK" ] || { no "the sink tool is built ($SINK)"; finish; exit 1; }

db=$dir/var/apikeyd.db
user_add "$db" alice >/dev/null

# ---- key material and tokens (as tests/auth/run.sh makes them) ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/jwt.pem" 2>/dev/null
openssl pkey -in "$dir/jwt.pem" -pubout -out "$dir/jwt.pub.pem"
b64u() { basenc --base64url -w0 | tr -d '='; }
hex2bin() { local h; h=$(cat); printf '%b' "$(sed 's/../\\x&/g' <<<"$h")"; }
# jwt HEADER PAYLOAD: RS256 with our (the configured) key
jwt() {
	local h p
	h=$(printf '%s' "$1" | b64u); p=$(printf '%s' "$2" | b64u)
	printf '%s.%s.%s' "$h" "$p" "$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$dir/jwt.pem" -binary | b64u)"
}
# none HEADER PAYLOAD: unsigned (the header's alg is whatever HEADER says)
none() { printf '%s.%s.' "$(printf '%s' "$1" | b64u)" "$(printf '%s' "$2" | b64u)"; }
now=$(date +%s)
# claims [EXTRA]: alice, issued now, for 10 minutes, plus EXTRA members
claims() { printf '{"sub":"alice","iat":%d,"exp":%d%s}' "$now" $((now + 600)) "${1-}"; }
N=$(openssl rsa -pubin -in "$dir/jwt.pub.pem" -noout -modulus | sed 's/^Modulus=//' | hex2bin | b64u)
JWK="{\"kty\":\"RSA\",\"n\":\"$N\",\"e\":\"AQAB\"}"
X5C=$(openssl req -x509 -key "$dir/jwt.pem" -subj /CN=jwt-test -days 1 -outform DER 2>/dev/null | base64 -w0)
[ -n "$X5C" ] || no "openssl makes a certificate for x5c"

# every request from its own loopback address: the failure limiter (10 a
# minute per address) must not turn the 401s under test into 429s
src=0
# treq TOKEN [MAX_TIME]: GET a Feldera list with the token; sets STATUS, TIME (s)
treq() {
	src=$((src + 1))
	local out
	out=$(curl -s -o "$dir/out" -w '%{http_code} %{time_total}' --max-time "${2:-4}" \
		--interface "127.0.$((40 + src / 200)).$((src % 200 + 20))" \
		-H "Authorization: Bearer $1" "$H/feldera/v0/api_keys")
	STATUS=${out% *}; TIME=${out#* }
	BODY_OUT=$(cat "$dir/out")
}
fast() { awk -v t="$TIME" 'BEGIN { exit !(t < 2.0) }'; }
# refused NAME TOKEN: 401, within 2 s
refused() {
	treq "$2"
	if [ "$STATUS" = 401 ] && fast; then ok "$1: 401 in ${TIME}s"
	else no "$1: got $STATUS in ${TIME}s (want 401 within 2 s)" "$BODY_OUT"; fi
}
accepted() {
	treq "$2"
	[ "$STATUS" = 200 ] && ok "$1: 200" || no "$1: got $STATUS (want 200)" "$BODY_OUT"
}
rss_kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
# cap_as PID: an address-space cap 256 MiB above what the server maps now
# (skipped for a sanitizer build, whose shadow maps terabytes)
cap_as() {
	local vsz; vsz=$(rss_kib "$1" VmSize)
	[ "$vsz" -lt $((8 << 20)) ] && prlimit --pid "$1" --as=$(((vsz + (256 << 10)) << 10)) 2>/dev/null
}

RS='{"alg":"RS256","typ":"JWT"}'
GOOD=$(jwt "$RS" "$(claims)")
SENT=()   # every refused token, to look for in the log at the end

# ============ server A: --jwt-key alone (defaults: 24 h, 60 s) ============
now=$(date +%s)
start_server "$db" --jwt-key "$dir/jwt.pub.pem" --threads 2 --log-level debug ||
	{ no "apikeyd starts with --jwt-key" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
cap_as "$SRV_PID"
accepted "a valid RS256 token (iat now, 10 minutes)" "$GOOD"

# ---- file:// in x5u and jku: a FIFO we watch, and /dev/zero ----
mkfifo "$dir/watch.fifo"
: >"$dir/fifo.opened"
# our writer: each time a reader opens the FIFO, one line in fifo.opened
( while :; do printf 'x\n' >"$dir/watch.fifo" && echo opened >>"$dir/fifo.opened"; done ) &
WRITER=$!
FURL="file://$dir/watch.fifo"
for hk in x5u jku; do
	t=$(none "{\"alg\":\"none\",\"$hk\":\"$FURL\"}" "$(claims)"); SENT+=("$t")
	refused "alg none, $hk $FURL" "$t"
	refused "alg none with a junk signature, $hk $FURL" "${t}c2ln"
	t=$(jwt "{\"alg\":\"RS256\",\"$hk\":\"$FURL\"}" "$(claims)"); SENT+=("$t")
	refused "signed RS256, $hk $FURL" "$t"
done
sleep 0.5
kill "$WRITER" 2>/dev/null; wait "$WRITER" 2>/dev/null
# a reader still blocked on the FIFO (none, if all is well) gets its EOF
timeout 1 sh -c "exec 3>'$dir/watch.fifo'" 2>/dev/null
opened=$(wc -l <"$dir/fifo.opened")
[ "$opened" = 0 ] && ok "the server never opened the FIFO named in x5u/jku" ||
	no "the server opened the FIFO named in x5u/jku $opened times"

hwm0=$(rss_kib "$SRV_PID" VmHWM)
for hk in x5u jku; do
	t=$(none "{\"alg\":\"none\",\"$hk\":\"file:///dev/zero\"}" "$(claims)"); SENT+=("$t")
	refused "alg none, $hk file:///dev/zero" "$t"
	refused "alg none with a junk signature, $hk file:///dev/zero" "${t}c2ln"
	t=$(jwt "{\"alg\":\"RS256\",\"$hk\":\"file:///dev/zero\"}" "$(claims)"); SENT+=("$t")
	refused "signed RS256, $hk file:///dev/zero" "$t"
done
hwm1=$(rss_kib "$SRV_PID" VmHWM)
if kill -0 "$SRV_PID" 2>/dev/null && [ $((hwm1 - hwm0)) -lt 16384 ]; then
	ok "peak RSS flat across the /dev/zero tokens (${hwm0} -> ${hwm1} KiB)"
else
	no "peak RSS grew across the /dev/zero tokens (${hwm0} -> ${hwm1:-?} KiB)"
fi

# ---- embedded keys and key URLs, refused even when signed by our key ----
t=$(jwt "{\"alg\":\"RS256\",\"jwk\":$JWK}" "$(claims)"); SENT+=("$t")
refused "signed RS256 with an embedded jwk (our own public key)" "$t"
t=$(jwt "{\"alg\":\"RS256\",\"x5c\":[\"$X5C\"]}" "$(claims)"); SENT+=("$t")
refused "signed RS256 with x5c (a certificate for our own key)" "$t"
t=$(none "{\"alg\":\"none\",\"jwk\":$JWK}" "$(claims)"); SENT+=("$t")
refused "alg none with an embedded jwk" "$t"

# ---- other headers ----
t=$(jwt '{"alg":"RS256","crit":["exp"],"exp":1}' "$(claims)"); SENT+=("$t")
refused "signed, crit [\"exp\"] (not an extension we understand)" "$t"
t=$(jwt '{"alg":"RS256","crit":["x-unknown"],"x-unknown":true}' "$(claims)"); SENT+=("$t")
refused "signed, crit [\"x-unknown\"]" "$t"
t=$(jwt '{"alg":"RS256","b64":false,"crit":["b64"]}' "$(claims)"); SENT+=("$t")
refused "signed, crit [\"b64\"] with b64 false" "$t"
t=$(jwt '{"alg":"RS256","crit":[]}' "$(claims)"); SENT+=("$t")
refused "signed, crit [] (RFC 7515: must not be empty)" "$t"
t=$(jwt '{"alg":"RS256","zip":"DEF"}' "$(claims)"); SENT+=("$t")
refused "signed, zip DEF (no compression in a JWS)" "$t"
t=$(jwt '{"alg":"RS256","cty":"JWT"}' "$(claims)"); SENT+=("$t")
refused "signed, cty JWT (a nested token)" "$t"
t=$(jwt '{"alg":"RS256","alg":"none"}' "$(claims)"); SENT+=("$t")
refused "signed, alg given twice" "$t"
t=$(jwt '{"typ":"JWT"}' "$(claims)"); SENT+=("$t")
refused "signed, no alg" "$t"
t=$(jwt '{"alg":"RS256","kid":42}' "$(claims)"); SENT+=("$t")
refused "signed, kid not a string" "$t"
# alg confusion: an alg the configured RSA key does not imply, with a
# signature that would verify under that alg if the key were taken as one
pubhex=$(od -An -tx1 -v "$dir/jwt.pub.pem" | tr -d ' \n')
hs_h=$(printf '{"alg":"HS256"}' | b64u); hs_p=$(claims | b64u)
t="$hs_h.$hs_p.$(printf '%s.%s' "$hs_h" "$hs_p" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$pubhex" -binary | b64u)"
SENT+=("$t"); refused "HS256 keyed with the public key (alg confusion)" "$t"
t=$(jwt '{"alg":"ES256"}' "$(claims)"); SENT+=("$t")
refused "alg ES256 with an RSA key configured" "$t"
t=$(none '{"alg":"none"}' "$(claims)"); SENT+=("$t")
refused "alg none" "$t"
t=$(none '{"alg":"NONE"}' "$(claims)"); SENT+=("$t")
refused "alg NONE" "$t"
t=$(jwt "$RS" "$(claims ",\"pad\":\"$(head -c 9000 /dev/zero | tr '\0' a)\"")"); SENT+=("$t")
refused "signed, ${#t} bytes (over the 8 KiB bound)" "$t"

# ---- claims of the wrong type or out of range, each correctly signed ----
cl() { printf '{"sub":"alice"%s}' "$1"; }
declare -A BADC=(
	[exp as a string]=$(cl ",\"iat\":$now,\"exp\":\"$((now + 600))\"")
	[nbf as a string]=$(claims ",\"nbf\":\"$((now - 10))\"")
	[iat as a string]=$(cl ",\"iat\":\"$now\",\"exp\":$((now + 600))")
	[exp a float beyond range]=$(cl ",\"iat\":$now,\"exp\":1e300")
	[nbf a float beyond range]=$(claims ",\"nbf\":-1e300")
	[iat a float beyond range]=$(cl ",\"iat\":1e300,\"exp\":$((now + 600))")
	[exp beyond 64 bits]=$(cl ",\"iat\":$now,\"exp\":99999999999999999999999")
	[exp negative]=$(cl ",\"iat\":$now,\"exp\":-1")
	[nbf negative]=$(claims ",\"nbf\":-5")
	[iat negative]=$(cl ",\"iat\":-5,\"exp\":$((now + 600))")
	[exp true]=$(cl ",\"iat\":$now,\"exp\":true")
	[exp null]=$(cl ",\"iat\":$now,\"exp\":null")
	[sub a number]="{\"sub\":7,\"iat\":$now,\"exp\":$((now + 600))}"
	[exp given twice]=$(cl ",\"iat\":$now,\"exp\":$((now - 7200)),\"exp\":$((now + 600))")
	[iat 5 minutes in the future (leeway 60 s)]=$(cl ",\"iat\":$((now + 300)),\"exp\":$((now + 900))")
	[nbf 5 minutes in the future]=$(claims ",\"nbf\":$((now + 300))")
	[exp 2 minutes ago (leeway 60 s)]=$(cl ",\"iat\":$((now - 600)),\"exp\":$((now - 120))")
	[lifetime exp - iat 25 h (default maximum 24 h)]=$(cl ",\"iat\":$now,\"exp\":$((now + 90000))")
	[no iat while a maximum lifetime applies]=$(cl ",\"exp\":$((now + 600))")
	[claims not an object]='["alice"]'
)
for what in "${!BADC[@]}"; do
	t=$(jwt "$RS" "${BADC[$what]}"); SENT+=("$t")
	refused "signed, $what" "$t"
done
accepted "iat 30 s in the future (within the leeway)" "$(jwt "$RS" "$(cl ",\"iat\":$((now + 30)),\"exp\":$((now + 600))")")"
accepted "exp 30 s ago (within the leeway)" "$(jwt "$RS" "$(cl ",\"iat\":$((now - 600)),\"exp\":$((now - 30))")")"
accepted "nbf 30 s in the future (within the leeway)" "$(jwt "$RS" "$(claims ",\"nbf\":$((now + 30))")")"
accepted "lifetime 23 h" "$(jwt "$RS" "$(cl ",\"iat\":$now,\"exp\":$((now + 82800))")")"
accepted "a typ other than JWT and a string kid (no JWKS: kid is not used)" \
	"$(jwt '{"alg":"RS256","typ":"at+jwt","kid":"whatever"}' "$(claims)")"
accepted "no iss or aud required when none is configured" "$(jwt "$RS" "$(claims ",\"iss\":\"anyone\",\"aud\":[\"x\"]")")"
accepted "a valid token right after all of that" "$GOOD"
kill -0 "$SRV_PID" 2>/dev/null && ok "server A still runs" || no "server A died"
grep -qE "JWT refused.*(x5u|jku)" "$SRV_LOG" && ok "the log gives the reason (x5u/jku) for a refused token" ||
	no "no refusal reason naming x5u/jku in the log" "$(grep -i jwt "$SRV_LOG" | tail -3)"
grep -qE "JWT refused.*crit" "$SRV_LOG" && ok "the log gives the reason (crit)" || no "no refusal reason naming crit in the log"
grep -qE "JWT refused.*lifetime" "$SRV_LOG" && ok "the log gives the reason (lifetime)" || no "no refusal reason naming the lifetime in the log"
kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null

# ============ server B: x5u/jku at a silent listener ============
"$SINK" "$dir/sink.count" >"$dir/sink.port" &
SRV_PIDS+=($!)
for _ in $(seq 100); do [ -s "$dir/sink.port" ] && break; sleep 0.05; done
SPORT=$(cat "$dir/sink.port")
start_server "$db" --jwt-key "$dir/jwt.pub.pem" --threads 2 ||
	{ no "server B starts" "$(tail -5 "$SRV_LOG")"; finish; exit 1; }
for scheme in http https; do
	for hk in x5u jku; do
		u="$scheme://127.0.0.1:$SPORT/$hk"
		t=$(none "{\"alg\":\"none\",\"$hk\":\"$u\"}" "$(claims)"); SENT+=("$t")
		refused "alg none, $hk $u" "$t"
		refused "alg none with a junk signature, $hk $u" "${t}c2ln"
		t=$(jwt "{\"alg\":\"RS256\",\"$hk\":\"$u\"}" "$(claims)"); SENT+=("$t")
		refused "signed RS256, $hk $u" "$t"
	done
done
t=$(jwt "{\"alg\":\"RS256\",\"jku\":\"http://127.0.0.1:$SPORT/a\",\"x5u\":\"https://127.0.0.1:$SPORT/b\",\"jwk\":$JWK,\"x5c\":[\"$X5C\"]}" "$(claims)")
SENT+=("$t"); refused "signed RS256 with jku, x5u, jwk and x5c at once" "$t"
# two at once, then a valid request must be answered (2 worker threads)
ta=$(none "{\"alg\":\"none\",\"x5u\":\"http://127.0.0.1:$SPORT/freeze1\"}" "$(claims)")
tb=$(jwt "{\"alg\":\"RS256\",\"jku\":\"http://127.0.0.1:$SPORT/freeze2\"}" "$(claims)")
SENT+=("$ta" "$tb")
curl -s -o /dev/null --max-time 8 --interface 127.0.60.1 -H "Authorization: Bearer $ta" "$H/feldera/v0/api_keys" &
c1=$!
curl -s -o /dev/null --max-time 8 --interface 127.0.60.2 -H "Authorization: Bearer $tb" "$H/feldera/v0/api_keys" &
c2=$!
sleep 0.5
treq "$GOOD" 3
[ "$STATUS" = 200 ] && ok "two x5u/jku tokens at once do not hold the workers: a valid request right after gets 200 (${TIME}s)" ||
	no "a valid request after two x5u/jku tokens: got $STATUS in ${TIME}s (workers held)"
wait "$c1" "$c2" 2>/dev/null
conns=$(cat "$dir/sink.count")
[ "$conns" = 0 ] && ok "the listener named in x5u/jku got zero connections" ||
	no "the listener named in x5u/jku got $conns connections"
kill -KILL "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null

# ============ server C: iss (environment) and aud (config file) ============
printf '# the audience apikeyd expects in aud\njwt-audience = apikeyd-test\njwt-max-lifetime = 3600\njwt-leeway = 10\n' >"$dir/apikeyd.conf"
export APIKEYD_JWT_ISSUER=https://idp.example
now=$(date +%s)   # the tokens below are made now: the leeway of 10 s is measured from here
if start_server "$db" --jwt-key "$dir/jwt.pub.pem" --config "$dir/apikeyd.conf"; then
	ia() { claims ",\"iss\":\"https://idp.example\",\"aud\":$1${2-}"; }
	accepted "iss and aud (a string) as configured" "$(jwt "$RS" "$(ia '"apikeyd-test"')")"
	accepted "aud an array holding ours" "$(jwt "$RS" "$(ia '["other","apikeyd-test"]')")"
	declare -A BADI=(
		[iss missing]=$(claims ',"aud":"apikeyd-test"')
		[iss wrong]=$(claims ',"iss":"https://evil.example","aud":"apikeyd-test"')
		[iss a prefix of ours]=$(claims ',"iss":"https://idp.exampl","aud":"apikeyd-test"')
		[iss an array]=$(claims ',"iss":["https://idp.example"],"aud":"apikeyd-test"')
		[aud missing]=$(claims ',"iss":"https://idp.example"')
		[aud wrong]=$(ia '"apikeyd-prod"')
		[aud an array without ours]=$(ia '["a","b"]')
		[aud an empty array]=$(ia '[]')
		[aud a number]=$(ia '7')
		[lifetime 2 h over a configured 1 h]=$(cl ",\"iss\":\"https://idp.example\",\"aud\":\"apikeyd-test\",\"iat\":$now,\"exp\":$((now + 7200))")
		[iat 40 s ahead with a configured leeway of 10 s]=$(cl ",\"iss\":\"https://idp.example\",\"aud\":\"apikeyd-test\",\"iat\":$((now + 40)),\"exp\":$((now + 600))")
	)
	for what in "${!BADI[@]}"; do
		t=$(jwt "$RS" "${BADI[$what]}"); SENT+=("$t")
		refused "signed, $what" "$t"
	done
	kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
else
	no "apikeyd starts with APIKEYD_JWT_ISSUER and jwt-audience, jwt-max-lifetime, jwt-leeway in a config file" "$(tail -3 "$SRV_LOG")"
fi
unset APIKEYD_JWT_ISSUER

# ---- the options: in --help, bad values are usage errors naming the option ----
help=$("$APIKEYD" --help)
for o in jwt-issuer jwt-audience jwt-max-lifetime jwt-leeway; do
	grep -q -- "--$o" <<<"$help" && ok "--help shows --$o" || no "--help lacks --$o"
done
for bad in "--jwt-leeway abc" "--jwt-leeway 100000" "--jwt-max-lifetime -5" "--jwt-issuer=" "--jwt-audience="; do
	# shellcheck disable=SC2086
	msg=$("$APIKEYD" $bad user add carol --db "$dir/var/apikeyd.db" 2>&1); rc=$?
	if [ "$rc" = 2 ] && grep -q -- "${bad%%[ =]*}" <<<"$msg" && ! grep -q 'unknown option' <<<"$msg"; then
		ok "$bad: usage error naming the option"
	else no "$bad: exit $rc" "$msg"; fi
done
"$APIKEYD" --jwt-leeway 0 --jwt-max-lifetime 0 --jwt-issuer x --jwt-audience y user add dave --db "$dir/var/apikeyd.db" >/dev/null 2>"$dir/opt.err" &&
	ok "good values of the four options are accepted" || no "good values refused" "$(cat "$dir/opt.err")"

# ---- the log never holds a token ----
leak=0
for t in "${SENT[@]}"; do
	sig=${t##*.}; body=${t#*.}; body=${body%%.*}
	grep -qF -- "${body:0:40}" "$dir"/server-*.log && leak=1
	[ -n "$sig" ] && grep -qF -- "${sig:0:40}" "$dir"/server-*.log && leak=1
done
[ $leak -eq 0 ] && ok "no refused token (payload or signature) in the logs" || no "a token reached the log"
finish

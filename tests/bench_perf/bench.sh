#!/bin/bash
# bench-perf (issue #16): apikeyd's request path against an external bare
# ulfius server (tests/bench_perf/bare_ulfius: a process of its own, ulfius
# only, same libmicrohttpd mode, same TLS priorities and certificate), all
# in one run, for this build ("after") and for the build of the commit in
# tests/bench_perf/before-rev ("before", built once into
# $BUILD/bench-before/REV from git archive; BENCH_PERF_BEFORE=off skips it):
#   (a) one hot key, HTTP and HTTPS keep-alive, closed loop (wrk);
#   (b) 10,000 users with one key each, every request the next key (wrk
#       with keys.lua; the bare server gets the same headers);
#   (c) a new TLS connection per request (loadgen --new-conn; full
#       handshakes; plus, reported, returning clients offering a ticket);
#   (d) open-loop latency (loadgen --rate, measured from each request's
#       scheduled start, after 1 s at the same rate unmeasured: the cache
#       refills after the server's idle turn, see warm), each server at 50%
#       and 80% of its own peak in (b) (the same load relative to what it
#       can do), p50/p99/p99.9, HTTP and HTTPS, the (b) key rotation;
#   (d') the same, every server at one rate, half the lowest of their (d)
#       peaks: at a share of its own peak a server with a higher peak
#       carries more load, and near the highest peaks loadgen on 2 cores
#       cannot keep the rate (its own queue then sets the p99);
#   (e) (b) while tests/bench_perf/churn creates and deletes 50 keys/s,
#       each right after the (b) it is compared with: a minute after the
#       keys' first use their last_used writes come due, and (b) and (e)
#       measured on either side of that would compare the writes, not churn;
#   apikeyd's in-process bare endpoint (/__test/bare), as before;
#   callgrind instructions per request for (a) and (b), HTTP
#   (BENCH_PERF_CALLGRIND=0 skips them).
# The three servers are up together on ports of their own and each workload
# runs on each in turn (bare, before, after) before the next workload, so
# the ratios compare runs seconds apart, under the same load from whatever
# else the machine runs; beside each req/s, the server's own CPU time per
# request (from /proc), the steadier figure on a shared machine, and the
# client's (wrk's), which shares the 2 cores. The keep-alive workloads,
# (c), and (d) with (d') run BENCH_PERF_ROUNDS times (default 3), one round
# after another, and each figure is the median of its rounds: one round's
# ratios moved by 15% between runs minutes apart on this machine, and one
# 3 s window's p99 by 90x.
# Every figure is a ratio to the bare server measured in the same run. Rows
# go to $BENCH_DIR/bench-perf.tsv.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
APIKEYD=${APIKEYD:-$top/$BUILD/apikeyd}
LOADGEN=${LOADGEN:-$top/$BUILD/tests/server/loadgen}
BARE_ULFIUS=${BARE_ULFIUS:-$top/$BUILD/tests/bench_perf/bare_ulfius}
MKUSERS=${MKUSERS:-$top/$BUILD/tests/bench_perf/mkusers}
CHURN=${CHURN:-$top/$BUILD/tests/bench_perf/churn}
SECS=${BENCH_SECONDS:-3}
CONNS=${BENCH_CONNS:-64}
USERS=${BENCH_PERF_USERS:-10000}
CALLGRIND=${BENCH_PERF_CALLGRIND:-1}
ROUNDS=${BENCH_PERF_ROUNDS:-3}
case $ROUNDS in '' | *[!0-9]* | 0) echo "bench-perf: BENCH_PERF_ROUNDS must be a number of rounds, 1 or more" >&2; exit 2 ;; esac
REV=${BENCH_PERF_BEFORE_REV:-$(cat "$top/tests/bench_perf/before-rev")}
. "$top/tests/bench_report/lib.sh"
T=bench-perf
W=$(mktemp -d /tmp/apikeyd-bench-perf.XXXXXX)
trap '[ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"' EXIT
fail() { echo "bench-perf: $*" >&2; exit 1; }
port() { while :; do p=$((20000 + RANDOM % 12000)); ss -ltn | grep -q ":$p " || { echo $p; return; }; done; }
for tool in wrk openssl; do command -v $tool >/dev/null || fail "$tool is missing (scripts/install-deps.sh)"; done
if [ "$CALLGRIND" = 1 ] && ! command -v valgrind >/dev/null; then
	echo "bench-perf: valgrind is missing (scripts/install-deps.sh memcheck): no callgrind figures" >&2
	CALLGRIND=0
fi

# ---- the before build ----
BEFORE_DIR=
if [ "${BENCH_PERF_BEFORE:-on}" != off ]; then
	BEFORE_DIR=$top/$BUILD/bench-before/$REV
	if [ ! -x "$BEFORE_DIR/$BUILD/apikeyd" ] || [ ! -x "$BEFORE_DIR/$BUILD/tests/bench_perf/mkusers" ]; then
		echo "bench-perf: building the before commit ${REV:0:10} into $BEFORE_DIR (once)"
		rm -rf "$BEFORE_DIR" && mkdir -p "$BEFORE_DIR" || fail "cannot make $BEFORE_DIR"
		git -C "$top" archive "$REV" | tar -x -C "$BEFORE_DIR" || fail "git archive $REV failed"
		# the bench's own tools, which that commit may not have
		rm -rf "$BEFORE_DIR/tests/bench_perf" && cp -r "$top/tests/bench_perf" "$BEFORE_DIR/tests/"
		make -C "$BEFORE_DIR" -j2 BUILD="$BUILD" "$BUILD/apikeyd" "$BUILD/tests/bench_perf/mkusers" \
			>"$W/before-build.log" 2>&1 || fail "the before build failed: $(tail -5 "$W/before-build.log")"
	fi
fi

# ---- one certificate for every server (P-256 ECDSA, as apikeyd makes) ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -days 2 -keyout "$W/key.pem" -out "$W/cert.pem" >/dev/null 2>&1 ||
	fail "openssl could not make a certificate"
chmod 600 "$W/key.pem"

# ---- measuring ----
# cpu_ticks: user + system clock ticks of the server under test ($PID)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat" 2>/dev/null || echo 0; }
# children_cpu: CPU seconds (user + system) of this shell's children that
# have finished, in CH_CPU (bash's times, run in this shell: in a subshell
# it would count only the subshell's own children)
children_cpu() {
	times >"$W/times"
	CH_CPU=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] } printf "%.3f", t }' "$W/times")
}
# wrk_run NAME FIGURE URL ARGS...: R_NAME_FIGURE = req/s,
# R_NAME_FIGURE_cpu = the server's CPU time per request in microseconds
# (user + system, from /proc: far steadier than req/s on a machine others
# load too), and R_NAME_FIGURE_ccpu the client's (wrk's): on 2 cores the
# client takes its share of them, and what it spends reading an answer (a
# longer one decrypts and parses longer) is CPU the server does not get.
# Non-2xx responses and socket errors are reported on stderr.
wrk_run() {
	local n=$1 f=$2 url=$3 out t0 t1 c0 reqs; shift 3
	children_cpu; c0=$CH_CPU
	t0=$(cpu_ticks)
	out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" "$url" "$@" 2>&1)
	t1=$(cpu_ticks)
	children_cpu
	if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
		echo "bench-perf: wrk $url: $(grep "Non-2xx\|Socket errors" <<<"$out" | tr '\n' ' ')" >&2
	fi
	put $n $f "$(awk '/^Requests\/sec:/ { printf "%d", $2 }' <<<"$out")"
	reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
	put $n ${f}_cpu "$(awk -v a="$t0" -v b="$t1" -v n="${reqs:-0}" -v h="$(getconf CLK_TCK)" \
		'BEGIN { if (n > 0) printf "%.1f", (b - a) / h * 1e6 / n; else print 0 }')"
	put $n ${f}_ccpu "$(awk -v a="$c0" -v b="$CH_CPU" -v n="${reqs:-0}" \
		'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1e6 / n; else print 0 }')"
}
lg() { # lg ARGS...: loadgen's line (its figures even when it reports failures)
	"$LOADGEN" --seconds "$SECS" "$@" 2>&1 | tail -1
}
field() { # field NAME LINE: the number after NAME in a loadgen line ("p99 512 us",
	# "resumed 3"); "requests" is the number before it ("1000 requests"); 0 if absent
	awk -v n="$1" '{ for (i = 1; i <= NF; i++) if ($i == n) { print (n == "requests" ? $(i - 1) : $(i + 1)) + 0; exit }
	                 print 0 }' <<<"$2"
}
lg_rps() { local l; l=$(lg "$@"); echo "${l%% *}"; }
# warm ARGS...: loadgen for 1 s at the window's own rate, not measured. Each
# server stands idle while the others take their turns, 6-20 s before its
# latency window, and its cache entries that came of age meanwhile (they
# live 30-60 s, keysvc.c) are refilled together at the start of its next
# window, a burst of SQLite reads that bare ulfius, with no cache, never
# has: at 29,000 req/s over 10,000 keys, a 2 s window after a pause had
# 2,532 key refills and a p99 of 283 ms, the windows after it 400-1,000
# refills and p99s of 1-44 ms. The windows measure a server under load.
warm() { "$LOADGEN" --seconds 1 "$@" >/dev/null 2>&1; }
# lg_run NAME FIGURE ARGS...: loadgen's line in LG_LINE, R_NAME_FIGURE its
# req/s and R_NAME_FIGURE_cpu the server's CPU time per request (as wrk_run)
lg_run() {
	local n=$1 f=$2 t0 t1; shift 2
	t0=$(cpu_ticks)
	LG_LINE=$(lg "$@")
	t1=$(cpu_ticks)
	put $n $f "${LG_LINE%% *}"
	put $n ${f}_cpu "$(awk -v a="$t0" -v b="$t1" -v n="$(field requests "$LG_LINE")" -v h="$(getconf CLK_TCK)" \
		'BEGIN { if (n > 0) printf "%.1f", (b - a) / h * 1e6 / n; else print 0 }')"
}

# up_wait PORT: until the plain port answers
up_wait() { for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.05; done; return 1; }

put() { printf -v "R_$1_$2" '%s' "$3"; }
# use NAME: the server NAME's ports, process, keys (HP TP PID KEYS HOT CHURN_KEY PATH_)
use() {
	local x
	for x in HP TP PID KEYS HOT CHURN_KEY; do eval "$x=\${${x}_$1:-}"; done
	PATH_=$AUTH_PATH
	[ "$1" = bare ] && PATH_=/bare
	return 0
}
# step NAME WORKLOAD: one workload against the server NAME; the results in
# R_<NAME>_<workload>. Every workload runs on each server in turn (bare,
# before, after) before the next, so the three share the machine's load of
# the moment: on a machine others load too, minutes apart is another machine.
step() {
	local n=$1 w=$2 h t l cp p peak args
	use "$n"
	h=http://127.0.0.1:$HP$PATH_ t=https://localhost:$TP$PATH_
	local lua=("-s" "$top/tests/bench_perf/keys.lua" "--" "$KEYS") tls=(--port "$TP" --tls --ca "$W/cert.pem")
	case $w in
	a_http) wrk_run $n $w "$h" -H "x-api-key: $HOT" ;;
	a_https) wrk_run $n $w "$t" -H "x-api-key: $HOT" ;;
	# the keys' first use (each key's cache fill and last_used write), then
	# (b) itself: every key used once in the last minute, as a busy service's
	bc_http | b_http) wrk_run $n $w "$h" "${lua[@]}" ;;
	b_https) wrk_run $n $w "$t" "${lua[@]}" ;;
	c) lg_run $n c "${tls[@]}" --new-conn --conns 16 --path "$PATH_" --header "x-api-key: $HOT" ;;
	cr) lg_run $n cr "${tls[@]}" --new-conn --resume --conns 16 --path "$PATH_" --header "x-api-key: $HOT"
		put $n cr_resumed "$(field resumed "$LG_LINE")"; put $n cr_n "$(field requests "$LG_LINE")" ;;
	i_http) wrk_run $n $w "http://127.0.0.1:$HP/__test/bare" ;;
	i_https) wrk_run $n $w "https://localhost:$TP/__test/bare" ;;
	e_http | e_https)
		"$CHURN" --port "$HP" --key "$CHURN_KEY" --rate 50 >"$W/churn-$n-$w.out" 2>&1 &
		cp=$!
		sleep 0.3
		if [ $w = e_http ]; then wrk_run $n $w "$h" "${lua[@]}"; else wrk_run $n $w "$t" "${lua[@]}"; fi
		kill -TERM $cp; wait $cp
		put $n churn_$w "$(cat "$W/churn-$n-$w.out")" ;;
	# (d): at 50% and 80% of this server's own (b) peak, as measured by the
	# same client (loadgen, closed loop): a rate wrk reached would be more
	# than loadgen's 64 threads and the server can do together on this machine
	# (d'): every server at one rate, half the lowest of their (d) peaks
	d_http | d_https | dc_http | dc_https)
		args=(--port "$HP")
		[ "${w#*_}" = https ] && args=("${tls[@]}")
		if [ "${w%_*}" = dc ]; then
			warm "${args[@]}" --conns "$CONNS" --rate "$(v DC_RATE_${w#dc_})" --path "$PATH_" --header-file "$KEYS"
			l=$(lg "${args[@]}" --conns "$CONNS" --rate "$(v DC_RATE_${w#dc_})" --path "$PATH_" --header-file "$KEYS")
			put $n ${w} "$(field p50 "$l") $(field p99 "$l") $(field p999 "$l") ${l%% *}"
			return 0
		fi
		peak=$(lg_rps "${args[@]}" --conns "$CONNS" --path "$PATH_" --header-file "$KEYS")
		put $n dpeak_${w#d_} "$peak"
		for p in 50 80; do
			warm "${args[@]}" --conns "$CONNS" --rate $((peak * p / 100)) --path "$PATH_" --header-file "$KEYS"
			l=$(lg "${args[@]}" --conns "$CONNS" --rate $((peak * p / 100)) --path "$PATH_" --header-file "$KEYS")
			put $n d${p}_${w#d_} "$(field p50 "$l") $(field p99 "$l") $(field p999 "$l") ${l%% *}"
		done ;;
	esac
}
v() { local x="$1"; echo "${!x:-0}"; }

# callgrind_ir NAME CMD...: instructions per request of (a) and (b) over
# HTTP, of (b) over 200 of its keys (bw: each cached, as in (b) outside
# valgrind) and of (c) (a new TLS connection per request), the server under
# callgrind; sets R_<NAME>_ir_a, _ir_b, _ir_bw, _ir_c. R_<NAME>_irm_<w> is the same
# without memset's own instructions: valgrind counts each byte of a rep
# stosb as an instruction, and libmicrohttpd zeroes a connection's whole
# memory pool (apikeyd's 16 KiB, bare ulfius's default 32 KiB) for each
# request: 24,700 of apikeyd's 68,400 instructions a request and 49,300 of
# bare ulfius's 78,600, in real time a few hundred cycles. Under callgrind (b) runs
# slower than its keys come round again: every request is its key's first
# use in this process (a cache fill, a list read, a last_used write).
# memset_less FILE REQUESTS: FILE's instructions per request without those
# of memset itself (its self cost: the cost lines under a __memset
# function's fn=, not the inclusive line after each calls=), an integer
memset_less() {
	awk -v r="$2" '
		function id(s) {
			if (match(s, /^\([0-9]+\)/)) { i = substr(s, 1, RLENGTH); if (length(s) > RLENGTH) nm[i] = substr(s, RLENGTH + 2); return i }
			nm[s] = s; return s
		}
		/^summary:|^totals:/ { if (!tot) tot = $2; next }
		/^fn=/ { cur = id(substr($0, 4)); next }
		/^cfn=/ { id(substr($0, 5)); next }
		/^calls=/ { skip = 1; next }
		/^[0-9+*-]/ { if (skip) { skip = 0; next } self[cur] += $2 }
		END { for (k in self) if (nm[k] ~ /^__memset/) m += self[k]; if (r > 0) printf "%d\n", (tot - m) / r; else print 0 }' "$1"
}
callgrind_ir() {
	local n=$1 path=$PATH_ vp out; shift
	out=$W/cg-$n.out
	valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>"$W/cg-$n.log" &
	vp=$!
	up_wait "$HP" || { echo "bench-perf: $n under callgrind did not start" >&2; kill -KILL $vp; return; }
	head -200 "$KEYS" >"$KEYS.200"
	for w in a b bw c; do
		local args=(--port "$HP" --header "x-api-key: $HOT") l reqs ir
		[ $w = b ] && args=(--port "$HP" --header-file "$KEYS")
		[ $w = bw ] && args=(--port "$HP" --header-file "$KEYS.200")
		[ $w = c ] && args=(--port "$TP" --tls --ca "$W/cert.pem" --new-conn --header "x-api-key: $HOT")
		"$LOADGEN" --conns 4 --seconds 1 --path "$path" "${args[@]}" >/dev/null 2>&1   # warm
		callgrind_control --zero $vp >/dev/null 2>&1
		l=$("$LOADGEN" --conns 4 --seconds 4 --path "$path" "${args[@]}" 2>&1 | tail -1)
		rm -f "$out".*
		callgrind_control --dump $vp >/dev/null 2>&1
		reqs=$(field requests "$l")
		ir=$(awk '/^summary:|^totals:/ { print $2; exit }' "$out".* 2>/dev/null)
		put $n ir_$w "$(awk -v i="${ir:-0}" -v r="${reqs:-0}" 'BEGIN { if (r > 0) printf "%d", i / r; else print 0 }')"
		put $n irm_$w "$(memset_less "$out".* "${reqs:-0}")"
	done
	kill -TERM $vp; wait $vp 2>/dev/null
}

AUTH_PATH=/heron/api/credentials/keys
PIDS=()
trap '[ ${#PIDS[@]} -gt 0 ] && kill -KILL "${PIDS[@]}" 2>/dev/null; [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"' EXIT

# ---- the servers, all up at once (an idle one costs nothing), each with its users ----
sets=bare
[ -n "$BEFORE_DIR" ] && sets="$sets before"
sets="$sets after"
for n in $sets; do
	mkdir -p "$W/$n"
	printf -v "HP_$n" '%s' "$(port)"; printf -v "TP_$n" '%s' "$(port)"
	printf -v "KEYS_$n" '%s' "$W/$n/keys.txt"
	bin=$APIKEYD; mk=$MKUSERS
	[ $n = before ] && { bin=$BEFORE_DIR/$BUILD/apikeyd; mk=$BEFORE_DIR/$BUILD/tests/bench_perf/mkusers; }
	use $n
	"$mk" --db "$W/$n/a.db" --secret "$W/$n/secret" --users "$USERS" --out "$KEYS" || fail "$n: mkusers failed"
	printf -v "HOT_$n" '%s' "$(head -1 "$KEYS" | cut -d' ' -f2)"
	if [ $n = bare ]; then
		srv=("$BARE_ULFIUS" --port "$HP" --tls-port "$TP" --cert "$W/cert.pem" --key "$W/key.pem")
	else
		printf -v "CHURN_KEY_$n" '%s' "$("$bin" user add churn --db "$W/$n/a.db" --secret "$W/$n/secret" 2>/dev/null)" ||
			fail "$n: user add"
		srv=("$bin" --db "$W/$n/a.db" --secret "$W/$n/secret" --state-dir "$W/$n" --listen 127.0.0.1:$HP
		     --tls-listen 127.0.0.1:$TP --tls-cert "$W/cert.pem" --tls-key "$W/key.pem" --test-slow-endpoint)
	fi
	eval "SRV_$n=(\"\${srv[@]}\")"
	# apikeyd's access log on (the default level), to a file, as a service's journal
	"${srv[@]}" >/dev/null 2>"$W/$n/server.log" &
	printf -v "PID_$n" '%s' "$!"
	PIDS+=("$!")
	up_wait "$HP" || fail "$n did not start: $(tail -3 "$W/$n/server.log")"
done

# steps W...: each workload on each server in turn
steps() {
	local w n
	for w in "$@"; do
		for n in $sets; do
			case $n:$w in bare:cr | bare:i_* | bare:e_*) continue ;; esac
			step $n $w
		done
	done
}
# the figures of one round kept (R_x -> R_x__rK), and their medians as R_x
ROUNDED="a_http a_https b_http b_https e_http e_https c i_http i_https"
keep_round() {
	local n w f k=$1
	for n in $sets; do for w in $ROUNDED; do for f in "$w" "${w}_cpu" "${w}_ccpu"; do
		printf -v "R_${n}_${f}__r$k" '%s' "$(v R_${n}_${f})"
	done; done; done
}
# median N...: the median of the numbers (0 when there are none)
median() {
	printf '%s\n' "$@" | grep . | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print 0;
		else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.10g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
median_rounds() {
	local n w f k vals
	for n in $sets; do for w in $ROUNDED; do for f in "$w" "${w}_cpu" "${w}_ccpu"; do
		vals=
		for k in $(seq "$ROUNDS"); do vals="$vals $(v R_${n}_${f}__r$k)"; done
		put "$n" "$f" "$(median $vals)"
		put "$n" "${f}_rounds" "$(echo $vals | tr ' ' '/')"
	done; done; done
}
steps bc_http
for k in $(seq "$ROUNDS"); do
	steps a_http a_https b_http e_http b_https e_https c i_http i_https
	keep_round "$k"
done
median_rounds
# the latency rows in rounds too, each figure the median of its rounds: one
# 3 s window's p99 is whatever stall the machine had in it (bare ulfius's
# own p99 at one rate went from 1.1 to 97 ms between ten windows in a row)
LATENCY="dpeak_http dpeak_https d50_http d50_https d80_http d80_https dc_http dc_https"
keep_latency_round() {
	local n w k=$1
	for n in $sets; do for w in $LATENCY; do printf -v "R_${n}_${w}__r$k" '%s' "$(v R_${n}_${w})"; done; done
}
# median_latency: each of p50, p99, p99.9 and rate of a row is the median
# of the rounds' (R_<server>_<row>_p99s: the rounds' p99s, for the table)
median_latency() {
	local n w k i vals out
	for n in $sets; do for w in $LATENCY; do
		out=
		for i in 1 2 3 4; do
			vals=
			for k in $(seq "$ROUNDS"); do vals="$vals $(awk -v i=$i '{ print $i }' <<<"$(v R_${n}_${w}__r$k)")"; done
			out="$out $(median $vals)"
			[ $i = 2 ] && put "$n" "${w}_p99s" "$(echo $vals | tr ' ' '/')"
			[ "${w#dpeak}" != "$w" ] && break   # a peak is one number
		done
		put "$n" "$w" "${out# }"
	done; done
}
steps cr
for k in $(seq "$ROUNDS"); do
	steps d_http d_https
	# (d'): one rate for every round, from the first round's peaks
	if [ "$k" = 1 ]; then
		for pr in http https; do
			low=
			for n in $sets; do p=$(v R_${n}_dpeak_$pr); [ -z "$low" ] || [ "$p" -lt "$low" ] && low=$p; done
			printf -v "DC_RATE_$pr" '%s' "$(( ${low:-0} / 2 ))"
		done
	fi
	steps dc_http dc_https
	keep_latency_round "$k"
done
median_latency
for n in $sets; do
	use $n
	[ $n != bare ] && put $n rss "$(awk '/VmHWM/ { print $2 }' /proc/$PID/status)"
	kill -TERM "$PID"; wait "$PID" 2>/dev/null
done
PIDS=()

# ---- callgrind, one server at a time ----
if [ "$CALLGRIND" = 1 ]; then
	for n in $sets; do
		use $n
		eval "srv=(\"\${SRV_$n[@]}\")"
		callgrind_ir $n "${srv[@]}"
	done
fi

# ---- the table ----
ratio() { bench_ratio "$1" "$2"; }
row() { # row FIGURE WORKLOAD GOAL-FACTOR UNIT (goal 0: a figure to report)
	local fig=$1 w=$2 goal=$3 unit=$4 b a bf
	b=$(v R_bare_$w); a=$(v R_after_$w); bf=$(v R_before_$w)
	if [ "$goal" = 0 ]; then goal=report; verdict=report
	else verdict=$(bench_verdict 'a >= g * b && b > 0' -v a="$a" -v b="$b" -v g="$goal"); goal=">= ${goal}x"; fi
	local cpu="" ca cb cf
	ca=$(v R_after_${w}_cpu); cb=$(v R_bare_${w}_cpu); cf=$(v R_before_${w}_cpu)
	[ "$ca" != 0 ] && cpu="; server CPU/request: after $ca us ($(ratio "$cb" "$ca") of bare's speed), before $cf us, bare $cb us"
	ca=$(v R_after_${w}_ccpu); cb=$(v R_bare_${w}_ccpu); cf=$(v R_before_${w}_ccpu)
	[ "$ca" != 0 ] && cpu="$cpu; client (wrk) CPU/request: after $ca us, before $cf us, bare $cb us"
	local rounds=""
	[ "$ROUNDS" -gt 1 ] && [ -n "$(v R_after_${w}_rounds)" ] && [ "$(v R_after_${w}_rounds)" != 0 ] &&
		rounds="; median of $ROUNDS rounds: after $(v R_after_${w}_rounds), before $(v R_before_${w}_rounds), bare $(v R_bare_${w}_rounds)"
	bench_row $T "$fig" "$a $unit ($(ratio "$a" "$b")); before: $bf $unit ($(ratio "$bf" "$b"))$cpu$rounds" \
		"bare ulfius: $b $unit" "$(ratio "$a" "$b")" "$goal" "$verdict"
}
row "(a) one hot key, HTTP keep-alive ($CONNS conns, wrk)" a_http 0.85 req/s
row "(a) one hot key, HTTPS keep-alive ($CONNS conns, wrk)" a_https 0.85 req/s
row "(b) first use: the first ${SECS}s on $USERS new users' keys in turn, HTTP (a key's first request fills the caches and writes last_used)" bc_http 0 req/s
row "(b) $USERS users, a key each, rotating, HTTP keep-alive" b_http 0.85 req/s
row "(b) $USERS users, a key each, rotating, HTTPS keep-alive" b_https 0.85 req/s
row "(c) a new TLS connection per request, full handshake (16 clients)" c 0.9 handshakes/s
bench_row $T "(c') a new TLS connection per request, the client offering its last session ticket" \
	"$(v R_after_cr) handshakes/s, $(v R_after_cr_resumed) of $(v R_after_cr_n) resumed, server CPU $(v R_after_cr_cpu) us each (full: $(v R_after_c_cpu) us); before: $(v R_before_cr)/s, $(v R_before_cr_resumed) resumed" \
	"bare ulfius, full handshakes: $(v R_bare_c)/s" "$(ratio "$(v R_after_cr)" "$(v R_bare_c)")" \
	"resumes (libmicrohttpd's bare server has no tickets)" \
	"$(bench_verdict 'r > 0' -v r="$(v R_after_cr_resumed)")"
# latency_row TITLE KEY: an open-loop row from R_<server>_<KEY> ("p50 p99
# p999 rate"), the goal after's p99 at most 2x bare's
latency_row() {
	local b50 b99 b999 brate a50 a99 a999 arate f50 f99 f999 frate
	read -r b50 b99 b999 brate <<<"$(v R_bare_$2)"
	read -r a50 a99 a999 arate <<<"$(v R_after_$2)"
	read -r f50 f99 f999 frate <<<"$(v R_before_$2)"
	local rounds=""
	[ "$ROUNDS" -gt 1 ] && rounds="; medians of $ROUNDS rounds, whose p99s were after $(v R_after_$2_p99s), before $(v R_before_$2_p99s), bare $(v R_bare_$2_p99s) us"
	bench_row $T "$1" \
		"after p50/p99/p99.9 ${a50:-0}/${a99:-0}/${a999:-0} us at ${arate:-0}/s; before ${f50:-0}/${f99:-0}/${f999:-0} us at ${frate:-0}/s$rounds" \
		"bare ulfius: ${b50:-0}/${b99:-0}/${b999:-0} us at ${brate:-0}/s" "p99 $(ratio "${a99:-0}" "${b99:-0}")" \
		"p99 <= 2x" "$(bench_verdict 'a <= 2 * b && b > 0 && a > 0' -v a="${a99:-0}" -v b="${b99:-0}")"
}
for p in 50 80; do
	for pr in http https; do
		latency_row "(d) open-loop latency at ${p}% of each server's (b) peak (loadgen: bare $(v R_bare_dpeak_$pr), after $(v R_after_dpeak_$pr), before $(v R_before_dpeak_$pr) req/s), ${pr^^}, rotating keys ($CONNS conns)" d${p}_$pr
	done
done
# (d') the same comparison at one rate for every server: at a share of its
# own peak, a server with the higher peak carries more load, and on 2 cores
# loadgen cannot pace rates near the highest peaks (its queue, not the
# server's, then sets the p99)
for pr in http https; do
	latency_row "(d') open-loop latency, every server at one rate (half the lowest (d) peak: $(v DC_RATE_$pr) req/s), ${pr^^}, rotating keys ($CONNS conns)" dc_$pr
done
for pr in http https; do
	e=$(v R_after_e_$pr); b=$(v R_after_b_$pr); be=$(v R_before_e_$pr); bb=$(v R_before_b_$pr)
	bench_row $T "(e) (b) over ${pr^^} while 50 keys/s are created and revoked" \
		"$e req/s ($(ratio "$e" "$(v R_bare_b_$pr)") of bare), server CPU $(v R_after_e_${pr}_cpu) us/request against (b)'s $(v R_after_b_${pr}_cpu); before: $be ($(ratio "$be" "$bb") of its (b))" \
		"(b) of the same build: $b req/s" "$(ratio "$e" "$b")" ">= 0.9x (b)" \
		"$(bench_verdict 'e >= 0.9 * b && b > 0' -v e="$e" -v b="$b")"
done
echo "bench-perf: churn during (e) HTTP, HTTPS: after: $(v R_after_churn_e_http); $(v R_after_churn_e_https); before: $(v R_before_churn_e_http); $(v R_before_churn_e_https)"
R_bare_i_http=$(v R_bare_a_http); R_bare_i_https=$(v R_bare_a_https)
R_bare_i_http_cpu=$(v R_bare_a_http_cpu); R_bare_i_https_cpu=$(v R_bare_a_https_cpu)
R_bare_i_http_ccpu=$(v R_bare_a_http_ccpu); R_bare_i_https_ccpu=$(v R_bare_a_https_ccpu)
row "apikeyd's in-process bare endpoint (/__test/bare: guard, access log), HTTP" i_http 0 req/s
row "apikeyd's in-process bare endpoint (/__test/bare: guard, access log), HTTPS" i_https 0 req/s
bench_row $T "apikeyd's peak resident memory over all of the above (VmHWM)" "after $(v R_after_rss) KiB" \
	"before: $(v R_before_rss) KiB" "$(ratio "$(v R_after_rss)" "$(v R_before_rss)")" \
	"report (issue 16 sets none; bench-server's < 64 MiB is for its one-key load)" report
if [ "$CALLGRIND" = 1 ]; then
	for w in a b bw c; do
		b=$(v R_bare_ir_$w); a=$(v R_after_ir_$w); bf=$(v R_before_ir_$w)
		bm=$(v R_bare_irm_$w); am=$(v R_after_irm_$w); bfm=$(v R_before_irm_$w)
		what="($w), HTTP"
		[ $w = b ] && what="(b), HTTP, each key's first use in the process"
		[ $w = bw ] && what="(b) over 200 of its keys, HTTP, each cached: (b)'s steady state"
		[ $w = c ] && what="(c), a new TLS connection per request"
		bench_row $T "callgrind instructions per request, $what (server under valgrind, 4 conns)" \
			"after $a; before $bf ($(ratio "$bf" "$a") of after); without memset's (valgrind counts a rep stosb byte by byte; libmicrohttpd zeroes the connection's pool each request): after $am, before $bfm, bare $bm ($(ratio "$am" "$bm"))" "bare ulfius: $b" "$(ratio "$a" "$b")" \
			"report (fewer is better)" report
	done
fi
awk -F'\t' '{ printf "  %s: %s | %s | %s\n", $1, $2, $3, $6 }' "$BENCH_DIR/$T.tsv"

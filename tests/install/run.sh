#!/bin/bash
# tests/install: `make install` as a packager and a generator user see it.
#   - make install DESTDIR=$tmp PREFIX=/usr: every file in its FHS place,
#     no DESTDIR path written into any file, versions, headers with extern "C"
#   - out-of-tree builds with the installed pkg-config file only
#     (PKG_CONFIG_PATH and PKG_CONFIG_SYSROOT_DIR into $tmp): this folder's
#     greet server (oapigen + apikeyd-rt), started and curled; every
#     examples/*/ with a Makefile, built in a copy outside the tree (and its
#     `make check` run when it has one)
#   - make install PREFIX=$tmp/opt (no DESTDIR): the same build with
#     PKG_CONFIG_PATH alone; systemd-analyze verify and security on that
#     unit (its ExecStart exists there)
#   - the man pages: groff finds nothing to warn about, and every option of
#     --help is in them
#   - sd_notify: the installed apikeyd with NOTIFY_SOCKET sends READY=1 once
#     it answers, RELOADING=1 and READY=1 around SIGHUP, STOPPING=1 on SIGTERM
#   - make uninstall leaves only the config file
# Prints "install: N passed, N failed".
SUITE=install
. "$(dirname "$0")/../lib/apikeyd.sh"
MAKE=${MAKE:-make}
NOTIFY_LISTEN=${NOTIFY_LISTEN:-$top/${BUILD:-build}/tests/install/notify_listen}
version=$(sed -n 's/^#define APIKEYD_VERSION "\(.*\)"/\1/p' "$top/server/version.h")
root=$dir/root
opt=$dir/opt

# ---- make install DESTDIR=$root PREFIX=/usr
if "$MAKE" -C "$top" --no-print-directory install DESTDIR="$root" PREFIX=/usr >"$dir/install.log" 2>&1; then
	ok "make install DESTDIR=\$tmp PREFIX=/usr"
else
	no "make install DESTDIR=\$tmp PREFIX=/usr" "$(tail -5 "$dir/install.log")"
fi
for f in usr/bin/apikeyd usr/bin/oapigen usr/lib/libapikeyd-rt.a usr/lib/pkgconfig/apikeyd-rt.pc \
	usr/include/apikeyd-rt/rt_http.h usr/include/apikeyd-rt/rt_schema_flags.def \
	usr/share/man/man8/apikeyd.8 usr/share/man/man1/oapigen.1 \
	usr/lib/systemd/system/apikeyd.service usr/lib/sysusers.d/apikeyd.conf etc/apikeyd/apikeyd.conf; do
	check "installed /$f" test -s "$root/$f"
done
check "the programs are executable" test -x "$root/usr/bin/apikeyd" -a -x "$root/usr/bin/oapigen"
check "the header rt_pattern.h (the runtime's own) is not installed" test ! -e "$root/usr/include/apikeyd-rt/rt_pattern.h"
check "no installed file names the DESTDIR" sh -c "! grep -rlF '$root' '$root'"
check "the unit starts /usr/bin/apikeyd with /etc/apikeyd/apikeyd.conf" \
	grep -qx 'ExecStart=/usr/bin/apikeyd --config /etc/apikeyd/apikeyd.conf' "$root/usr/lib/systemd/system/apikeyd.service"
check "oapigen --version is the project's ($version)" test "$("$root/usr/bin/oapigen" --version)" = "oapigen $version"
check "apikeyd --version is the project's ($version)" test "$("$root/usr/bin/apikeyd" --version)" = "apikeyd $version"
check "oapigen -V is --version" test "$("$root/usr/bin/oapigen" -V)" = "oapigen $version"
missing=""
for h in "$root"/usr/include/apikeyd-rt/*.h; do grep -q 'extern "C" {' "$h" || missing="$missing $(basename "$h")"; done
check "every installed header has extern \"C\" guards" test -z "$missing"

# pkg-config on the staged tree: the .pc file from $root, paths under $root
pc() { PKG_CONFIG_PATH=$root/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root pkg-config "$@"; }
check "pkg-config --modversion apikeyd-rt is $version" test "$(pc --modversion apikeyd-rt)" = "$version"
check "pkg-config --cflags names the installed headers" sh -c "case '$(pc --cflags apikeyd-rt)' in *'-I$root/usr/include/apikeyd-rt'*) exit 0;; esac; exit 1"
check "pkg-config --libs links the installed archive" sh -c "case '$(pc --libs apikeyd-rt)' in *'-L$root/usr/lib '*-lapikeyd-rt*) exit 0;; esac; exit 1"
if command -v c++ >/dev/null 2>&1; then
	bad=""
	for h in "$root"/usr/include/apikeyd-rt/*.h; do
		# shellcheck disable=SC2046
		printf '#include <%s>\n' "$(basename "$h")" | c++ -std=c++11 -x c++ -fsyntax-only -Wall -Wextra -Werror \
			$(pc --cflags apikeyd-rt) - 2>>"$dir/cxx.log" || bad="$bad $(basename "$h")"
	done
	check "every installed header compiles as C++11" test -z "$bad"
else
	echo "note  no C++ compiler here: the headers' C++ compile is not checked"
fi

# greet_build SRC_COPY PKG_CONFIG_COMMAND OAPIGEN: this folder's server, out of tree
greet_build() {
	rm -rf "$1"; mkdir -p "$1"
	cp "$top/tests/install/Makefile" "$top/tests/install/greet.yaml" "$top/tests/install/main.c" "$1/"
	"$MAKE" -C "$1" --no-print-directory OUT=out PKG_CONFIG="$2" OAPIGEN="$3" >"$1/build.log" 2>&1
}
# greet_check NAME BINARY: start it on a free port and curl it
greet_check() {
	local name=$1 bin=$2 port pid up=0
	port=$(free_port)
	"$bin" "$port" >"$dir/greet-$port.out" 2>&1 &
	pid=$!; SRV_PIDS+=("$pid")
	for _ in $(seq 200); do
		curl -s -o /dev/null "http://127.0.0.1:$port/greet/openapi.json" && { up=1; break; }
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	H="http://127.0.0.1:$port"
	check "$name: the server starts and serves its document" test "$up" = 1
	req GET /greet/hello/ada
	expect "$name: GET /greet/hello/ada is 200 with the greeting" 200 '^\{"greeting":"hello, ada"\}$'
	req POST /greet/echo "" '{"text":"hi"}'
	expect "$name: POST /greet/echo echoes a valid body" 200 '^\{"text":"hi"\}$'
	req POST /greet/echo "" '{"text":""}'
	expect "$name: the runtime refuses a body the schema refuses (400, names /text)" 400 '"/text"'
	req GET /greet/hello/abcdefghijklmnopqrstuvwxyz
	expect "$name: the runtime refuses a path parameter over maxLength" 400
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
}

if greet_build "$dir/greet-staged" "env PKG_CONFIG_PATH=$root/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root pkg-config" \
	"$root/usr/bin/oapigen"; then
	ok "tests/install builds out of tree with pkg-config apikeyd-rt (DESTDIR tree, sysroot)"
	greet_check "greet (DESTDIR tree)" "$dir/greet-staged/out/greet"
else
	no "tests/install builds out of tree with pkg-config apikeyd-rt (DESTDIR tree, sysroot)" "$(tail -8 "$dir/greet-staged/build.log")"
fi
check "the greet build used nothing of the source tree" sh -c "! grep -qF -- '$top/' '$dir/greet-staged/build.log'"

# examples/*/ with a Makefile (issue 15's out-of-tree servers), each in a copy
n_ex=0
for mk in "$top"/examples/*/Makefile; do
	[ -f "$mk" ] || continue
	ex=$(basename "$(dirname "$mk")"); n_ex=$((n_ex + 1))
	rm -rf "$dir/ex/$ex"; mkdir -p "$dir/ex"; cp -r "$(dirname "$mk")" "$dir/ex/$ex"
	rm -rf "$dir/ex/$ex"/build "$dir/ex/$ex"/out "$dir/ex/$ex"/gen
	exenv=(env PATH="$root/usr/bin:$PATH" PKG_CONFIG_PATH="$root/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root")
	if "${exenv[@]}" "$MAKE" -C "$dir/ex/$ex" --no-print-directory OAPIGEN="$root/usr/bin/oapigen" >"$dir/ex-$ex.log" 2>&1; then
		ok "examples/$ex builds out of tree with pkg-config apikeyd-rt only"
		if "${exenv[@]}" "$MAKE" -C "$dir/ex/$ex" -n check >/dev/null 2>&1; then
			if "${exenv[@]}" "$MAKE" -C "$dir/ex/$ex" --no-print-directory OAPIGEN="$root/usr/bin/oapigen" check >"$dir/ex-$ex-check.log" 2>&1; then
				ok "examples/$ex: make check (start it, curl it) passes"
			else
				no "examples/$ex: make check (start it, curl it) passes" "$(tail -8 "$dir/ex-$ex-check.log")"
			fi
		else
			echo "note  examples/$ex has no check target: built, not started"
		fi
	else
		no "examples/$ex builds out of tree with pkg-config apikeyd-rt only" "$(tail -8 "$dir/ex-$ex.log")"
	fi
done
[ "$n_ex" -gt 0 ] || echo "note  no examples/*/Makefile on this branch (issue 15 adds examples/): only tests/install's server was built"

# ---- make install PREFIX=$opt: real paths, PKG_CONFIG_PATH alone
if "$MAKE" -C "$top" --no-print-directory install PREFIX="$opt" >"$dir/install-opt.log" 2>&1; then
	ok "make install PREFIX=\$tmp/opt"
else
	no "make install PREFIX=\$tmp/opt" "$(tail -5 "$dir/install-opt.log")"
fi
check "a non-/usr PREFIX keeps its config in PREFIX/etc" test -s "$opt/etc/apikeyd/apikeyd.conf"
if greet_build "$dir/greet-opt" "env PKG_CONFIG_PATH=$opt/lib/pkgconfig pkg-config" "$opt/bin/oapigen"; then
	ok "tests/install builds with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig alone"
	greet_check "greet (PREFIX tree)" "$dir/greet-opt/out/greet"
else
	no "tests/install builds with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig alone" "$(tail -8 "$dir/greet-opt/build.log")"
fi

# ---- systemd-analyze on the unit whose ExecStart exists ($opt)
unit=$opt/lib/systemd/system/apikeyd.service
if command -v systemd-analyze >/dev/null 2>&1 && systemd-analyze --version >/dev/null 2>&1; then
	MANPATH=$opt/share/man systemd-analyze verify "$unit" >"$dir/verify.out" 2>&1
	rc=$?
	check "systemd-analyze verify accepts apikeyd.service (exit 0, no message)" test "$rc" = 0 -a ! -s "$dir/verify.out"
	[ -s "$dir/verify.out" ] && sed 's/^/      /' "$dir/verify.out" | head -8
	# the check can fail: the same unit with a misspelt type and an unknown key
	sed -e 's/^Type=notify$/Type=notifyy/' -e 's/^\[Service\]$/[Service]\nBogusKey=1/' "$unit" >"$dir/bad.service"
	MANPATH=$opt/share/man systemd-analyze verify "$dir/bad.service" >"$dir/verify-bad.out" 2>&1
	check "systemd-analyze verify reports a broken copy of the unit" grep -q 'BogusKey' "$dir/verify-bad.out"
	if systemd-analyze security --offline=yes --threshold=20 "$unit" >"$dir/security.out" 2>&1; then
		ok "systemd-analyze security: exposure at most 2.0 ($(grep -o 'exposure level.*' "$dir/security.out"))"
	else
		no "systemd-analyze security: exposure at most 2.0" "$(grep -E 'exposure|✗' "$dir/security.out" | head -12)"
	fi
else
	echo "note  systemd-analyze does not run here: the unit is not verified"
fi

# ---- the man pages
for m in "$root/usr/share/man/man8/apikeyd.8" "$root/usr/share/man/man1/oapigen.1"; do
	groff -man -ww -z "$m" >"$dir/groff.out" 2>&1
	check "groff -man -ww: $(basename "$m") has no warning" test ! -s "$dir/groff.out"
	[ -s "$dir/groff.out" ] && head -5 "$dir/groff.out" | sed 's/^/      /'
done
# every --option of --help in the man page (rendered as text)
man_covers() { # man_covers PAGE HELP_TEXT
	local text miss="" o
	text=$(groff -man -Tascii -P-cbou "$1" 2>/dev/null)
	for o in $(printf '%s\n' "$2" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
		printf '%s\n' "$text" | grep -qF -- "$o" || miss="$miss $o"
	done
	[ -z "$miss" ] || { echo "      not in $(basename "$1"):$miss"; return 1; }
}
check "every option of apikeyd --help is in apikeyd.8" man_covers "$root/usr/share/man/man8/apikeyd.8" "$("$root/usr/bin/apikeyd" --help)"
check "every option of oapigen --help is in oapigen.1" man_covers "$root/usr/share/man/man1/oapigen.1" "$("$root/usr/bin/oapigen" --help)"

# ---- sd_notify: the installed apikeyd, a socket of this test's own
sock=$dir/notify.sock
"$NOTIFY_LISTEN" "$sock" 60 >"$dir/notify.out" 2>"$dir/notify.err" &
lpid=$!; SRV_PIDS+=("$lpid")
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
port=$(free_port)
NOTIFY_SOCKET=$sock "$root/usr/bin/apikeyd" --db "$dir/n.db" --listen "127.0.0.1:$port" --tls-listen "127.0.0.1:$(free_port)" \
	--log-level info >"$dir/notify-srv.out" 2>"$dir/notify-srv.log" &
apid=$!; SRV_PIDS+=("$apid")
# wait_line N: until notify.out has N lines (60 s at most)
wait_line() { for _ in $(seq 1200); do [ "$(wc -l <"$dir/notify.out")" -ge "$1" ] && return 0; sleep 0.05; done; return 1; }
if wait_line 1; then
	# READY=1 means the listeners accept: the very next request is answered
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")
	check "READY=1 is the first message" grep -q '^READY=1' <(head -1 "$dir/notify.out")
	check "after READY=1 the server answers at once (/healthz $code)" test "$code" = 200
	kill -HUP "$apid"
	wait_line 3
	check "SIGHUP: RELOADING=1, then READY=1 again" \
		test "$(sed -n 2p "$dir/notify.out" | cut -d' ' -f1)/$(sed -n 3p "$dir/notify.out" | cut -d' ' -f1)" = "RELOADING=1/READY=1"
	check "RELOADING=1 carries MONOTONIC_USEC" grep -q 'RELOADING=1.*MONOTONIC_USEC=[0-9]' "$dir/notify.out"
	kill -TERM "$apid"
	wait_line 4
	check "SIGTERM: STOPPING=1" grep -q '^STOPPING=1' <(sed -n 4p "$dir/notify.out")
	wait "$apid"; rc=$?
	check "apikeyd exits 0 after SIGTERM" test "$rc" = 0
	wait "$lpid"; rc=$?
	check "no message after STOPPING=1, nothing else sent (listener exit $rc)" test "$rc" = 0 -a "$(wc -l <"$dir/notify.out")" = 4
else
	no "apikeyd with NOTIFY_SOCKET sends READY=1" "$(cat "$dir/notify.err" "$dir/notify-srv.log" | tail -8)"
fi
sed 's/^/      notify: /' "$dir/notify.out"

# ---- uninstall, and a reinstall keeps an edited config
echo "# edited" >>"$root/etc/apikeyd/apikeyd.conf"
"$MAKE" -C "$top" --no-print-directory install DESTDIR="$root" PREFIX=/usr >/dev/null 2>&1
check "make install again keeps an edited apikeyd.conf" grep -q '^# edited' "$root/etc/apikeyd/apikeyd.conf"
if "$MAKE" -C "$top" --no-print-directory uninstall DESTDIR="$root" PREFIX=/usr >"$dir/uninstall.log" 2>&1; then
	left=$(cd "$root" && find . -type f | sort | tr '\n' ' ')
	check "make uninstall leaves only the config file ($left)" test "$left" = "./etc/apikeyd/apikeyd.conf "
else
	no "make uninstall" "$(tail -5 "$dir/uninstall.log")"
fi
finish

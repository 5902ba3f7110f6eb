#!/bin/sh
# Installs what the build and the tests need and is not on the machine yet.
# Debian packages through apt-get (we are root on the project's machines);
# nothing is installed when everything is already present.
#   install-deps.sh            the build and `make test`
#   install-deps.sh fuzz       also clang and libFuzzer (`make fuzz`)
#   install-deps.sh memcheck   also valgrind (`make memcheck`)
set -eu
group=${1:-}

# Debian package names: libraries checked through pkg-config, tools through PATH.
PKGS_LIB="libulfius-dev:libulfius liborcania-dev:liborcania libyder-dev:libyder \
libjansson-dev:jansson libgnutls28-dev:gnutls libsqlite3-dev:sqlite3 \
libfyaml-dev:libfyaml libpcre2-dev:libpcre2-8 librhonabwy-dev:librhonabwy \
check:check libmicrohttpd-dev:libmicrohttpd libpq-dev:libpq libsystemd-dev:libsystemd"
# Libraries without a pkg-config file, checked by their header.
PKGS_HDR="libunistring-dev:uninorm.h"
PKGS_BIN="pkg-config:pkg-config curl:curl gnutls-bin:gnutls-cli sqlite3:sqlite3 \
nodejs:node npm:npm jq:jq openssl:openssl chromium:chromium groff-base:groff \
prometheus:prometheus prometheus:promtool postgresql-client:pg_dump wrk:wrk"
case $group in
"") ;;
fuzz) PKGS_BIN="$PKGS_BIN clang:clang" ;;
memcheck) PKGS_BIN="$PKGS_BIN valgrind:valgrind" ;;
*) echo "install-deps: unknown group \"$group\" (fuzz, memcheck)" >&2; exit 2 ;;
esac

missing=""
for pair in $PKGS_LIB; do
	pkg=${pair%%:*}; pc=${pair#*:}
	pkg-config --exists "$pc" 2>/dev/null || missing="$missing $pkg"
done
for pair in $PKGS_HDR; do
	pkg=${pair%%:*}; hdr=${pair#*:}
	printf '#include <%s>\n' "$hdr" | ${CC:-cc} -E -x c - >/dev/null 2>&1 || missing="$missing $pkg"
done
for pair in $PKGS_BIN; do
	pkg=${pair%%:*}; bin=${pair#*:}
	command -v "$bin" >/dev/null 2>&1 || missing="$missing $pkg"
done
# PostgreSQL's server programs (initdb, pg_ctl), which the tests start
# themselves, are not on PATH: Debian keeps them per version.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
# nginx, which tests/nginx starts in front of apikeyd (auth_request), is in
# /usr/sbin, not on every user's PATH.
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing="$missing nginx-light"
# libFuzzer is compiler-rt's, a package of its own beside clang (Debian 12:
# clang 14, libclang-rt-14-dev); it is there when clang finds its archive.
if [ "$group" = fuzz ]; then
	if ! command -v clang >/dev/null 2>&1 ||
	   [ ! -f "$(clang -print-file-name=libclang_rt.fuzzer-$(uname -m).a 2>/dev/null)" ]; then
		missing="$missing libclang-rt-dev"
	fi
fi
# pkg-config itself may be the missing piece; then every library looks missing.
if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing" >&2
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: need root for apt-get; run as root or install:$missing" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

#!/bin/sh
# check-spec.sh SPEC CC CFLAGS LIBS — what `make check-spec` runs: oapigen
# into a temporary folder, every generated file compiled with the project's
# flags, and linked with the runtime into a program that registers the API
# (so every symbol resolves). Exit 0 only if all of that succeeds.
set -u
spec=$1; cc=$2; cflags=$3; libs=$4
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
name=$(basename "$spec"); name=${name%%.*}
name=$(printf '%s' "$name" | tr -c 'A-Za-z0-9_' '_'); case $name in [0-9]*) name=_$name;; esac
"$top/${BUILD:-build}/oapigen" -o "$tmp" -n "$name" "$spec" || exit 1
cat > "$tmp/check_main.c" <<EOC
#include "${name}_api.h"
int main(int argc, char **argv);
int main(int argc, char **argv)
{
	static const ${name}_handlers h;
	static const rt_api_config cfg;
	(void)argv;
	if (argc > 100)
		return ${name}_register(NULL, "", &h, &cfg);
	return 0;
}
EOC
for f in "$tmp"/*.c; do
	# shellcheck disable=SC2086
	$cc $cflags -I"$tmp" -I"$top/runtime" -c "$f" -o "$f.o" || { echo "check-spec: $spec: generated C does not compile" >&2; exit 1; }
done
# shellcheck disable=SC2086
$cc -o "$tmp/check" "$tmp"/*.o $libs || { echo "check-spec: $spec: generated C does not link" >&2; exit 1; }
echo "check-spec: $spec: generated, compiled and linked"

#!/bin/bash
# oapigen-same.sh — runs two oapigen binaries over the same documents and
# reports every document on which they differ: --check's stdout, stderr and
# exit status, and with -g the files of full generation as well. For changes
# to the generator that must not change what it says (speed-ups).
set -u

usage() {
	cat <<'EOF'
usage: scripts/oapigen-same.sh [-g] [-j N] OLD NEW PATH...
  OLD, NEW   two oapigen binaries (say, one built from main and one from your branch)
  PATH       documents (.json .yaml .yml), or folders searched for them
  -g         also generate each document (-o) with both and compare the files
  -j N       documents checked at once (default 1)
Prints each document whose output differs, then "oapigen-same: N documents, N differ";
exits 1 when any differs, 2 on bad usage.
EOF
}

gen=0
jobs=1
while [ $# -gt 0 ]; do
	case $1 in
	-g) gen=1; shift ;;
	-j) [ $# -ge 2 ] || { usage >&2; exit 2; }; jobs=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	-*) echo "oapigen-same: unknown option $1" >&2; usage >&2; exit 2 ;;
	*) break ;;
	esac
done
if [ $# -lt 3 ]; then
	usage >&2
	exit 2
fi
old=$1 new=$2
shift 2
for b in "$old" "$new"; do
	[ -x "$b" ] || { echo "oapigen-same: $b is not an executable" >&2; exit 2; }
done
case $jobs in ''|*[!0-9]*|0) echo "oapigen-same: -j needs a positive number, got \"$jobs\"" >&2; exit 2 ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for p in "$@"; do
	if [ -d "$p" ]; then
		find "$p" -type f \( -name '*.json' -o -name '*.yaml' -o -name '*.yml' \) | sort
	elif [ -f "$p" ]; then
		echo "$p"
	else
		echo "oapigen-same: no such file or folder: $p" >&2
		exit 2
	fi
done > "$work/list" || exit 2

# one document: prints its path when the two binaries differ on it
one() {
	d=$(mktemp -d "$work/doc.XXXXXX")
	for side in old new; do
		if [ $side = old ]; then b=$old; else b=$new; fi
		timeout 600 "$b" --check "$1" > "$d/$side.out" 2> "$d/$side.err"
		echo $? > "$d/$side.rc"
		if [ "$gen" = 1 ]; then
			timeout 600 "$b" -o "$d/$side.gen" -n same "$1" > "$d/$side.gout" 2> "$d/$side.gerr"
			echo $? >> "$d/$side.rc"
		fi
	done
	differs=0
	for f in out err rc; do
		cmp -s "$d/old.$f" "$d/new.$f" || differs=1
	done
	if [ "$gen" = 1 ]; then
		cmp -s "$d/old.gout" "$d/new.gout" || differs=1
		cmp -s "$d/old.gerr" "$d/new.gerr" || differs=1
		if [ -d "$d/old.gen" ] || [ -d "$d/new.gen" ]; then
			diff -r "$d/old.gen" "$d/new.gen" > /dev/null 2>&1 || differs=1
		fi
	fi
	if [ $differs = 1 ]; then
		echo "differs: $1"
	fi
	rm -rf "$d"
}
export old new gen work
export -f one

n=$(wc -l < "$work/list")
tr '\n' '\0' < "$work/list" | xargs -0 -P "$jobs" -I{} bash -c 'one "$1"' _ {} > "$work/diffs"
cat "$work/diffs"
nd=$(wc -l < "$work/diffs")
echo "oapigen-same: $n documents, $nd differ"
[ "$nd" -eq 0 ]

#!/bin/bash
# scripts/measure-lists.sh: the time and memory of one tenant's big key list
# (issue 10, finding 9's before/after figures; not part of make test).
#   APIKEYD=path/to/apikeyd [SERVER_ARGS="--key-quota 0"] scripts/measure-lists.sh [N] [CONCURRENT]
# Makes a fresh database with one user holding N Heron keys (inserted with
# sqlite3: 32-character names, no description), starts that apikeyd with
# --threads CONCURRENT, and prints for GET /heron/api/credentials/keys: the
# body size, the time of one list, the server's RSS before and its peak
# (sampled every 10 ms) during one list and during CONCURRENT lists at once.
set -u
N=${1:-20000}; C=${2:-4}
APIKEYD=${APIKEYD:-build/apikeyd}
dir=$(mktemp -d /tmp/measure-lists.XXXXXX)
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
db=$dir/apikeyd.db
KEY=$("$APIKEYD" user add big --db "$db" 2>/dev/null)
sqlite3 "$db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N),
  r(i, h) AS (SELECT i, lower(hex(randomblob(16))) FROM n)
INSERT INTO keys(uuid, user_id, family, name, role, prefix, tail, hash, created)
SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-8' || substr(h, 18, 3) || '-' || substr(h, 21, 12),
  (SELECT id FROM users WHERE name = 'big'), 0, printf('bulk key %023d', i), '', 'key_bulk', 'xyz', randomblob(32), strftime('%s', 'now')
FROM r"
port=$((20000 + RANDOM % 12000))
"$APIKEYD" --db "$db" --listen "127.0.0.1:$port" --tls-listen off --threads "$C" --log-level error ${SERVER_ARGS:-} >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
sample() { peak=0; while [ ! -e "$dir/done" ]; do r=$(rss); [ "${r:-0}" -gt "$peak" ] && peak=$r; echo "$peak" >"$dir/peak"; sleep 0.01; done; }
list() { curl -s -o "$dir/out.$1" -w '%{http_code} %{time_total} %{size_download}\n' "http://127.0.0.1:$port/heron/api/credentials/keys" -H "x-api-key: $KEY"; }
run() { # run K: K lists at once; prints the peak RSS
	rm -f "$dir/done"; sample & s=$!
	pids=(); for i in $(seq "$1"); do list "$i" >"$dir/res.$i" & pids+=($!); done
	wait "${pids[@]}"; touch "$dir/done"; wait $s; cat "$dir/peak"
}
list warm >/dev/null
base=$(rss)
p1=$(run 1); r1=$(cat "$dir/res.1")
pc=$(run "$C")
keys=$(jq '.keys | length' "$dir/out.1")
echo "apikeyd $APIKEYD; $N keys inserted; list: $keys keys, status/time/bytes: $r1"
echo "RSS before ${base} KiB; peak during 1 list ${p1} KiB (+$(( (p1 - base) / 1024 )) MiB); during $C concurrent lists ${pc} KiB (+$(( (pc - base) / 1024 )) MiB)"
for i in $(seq "$C"); do echo "  list $i: $(cat "$dir/res.$i")"; done

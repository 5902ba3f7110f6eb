# tests/lib/port.sh — free_port, for suites that start servers (sourced by
# tests/lib/apikeyd.sh, and on its own by suites without apikeyd).
# Ports below Linux's ephemeral range (32768-60999), so no outgoing
# connection of a client on this machine can hold the one we pick.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		ss -ltn 2>/dev/null | grep -q ":$p " || { echo "$p"; return; }
	done
}

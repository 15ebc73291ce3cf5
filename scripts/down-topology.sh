#!/usr/bin/env bash
# Stops what scripts/up-topology.sh started (by the pids it recorded): the
# services first, then the NATS servers. The state stays under
# .run/topology; `rm -rf .run/topology` after this starts afresh (new
# streams, new test passwords). The ClickHouse database bndmr_topo stays.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=${BNDMR_RUN_DIR:-$root/.run}/topology

stop() { # name pidfile
	local pid
	[ -s "$2" ] || return 0
	pid=$(cat "$2")
	if kill "$pid" 2>/dev/null; then
		for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
		echo "down-topology: stopped $1 (pid $pid)"
	fi
	rm -f "$2"
}

[ -d "$run/instances" ] || exit 0
for d in "$run"/instances/*/; do stop "$(basename "$d")" "$d/pid"; done
for d in "$run"/nats/*/; do [ -d "$d" ] && stop "$(basename "$d")" "$d/nats.pid"; done
exit 0

#!/usr/bin/env bash
# Stops what scripts/up-cluster.sh started (by the pids it recorded). The state
# stays under .run/cluster; `rm -rf .run/cluster` after this starts afresh.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=${BNDMR_RUN_DIR:-$root/.run}/cluster

stop() { # name pidfile
	local pid
	[ -s "$2" ] || return 0
	pid=$(cat "$2")
	if kill "$pid" 2>/dev/null; then
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
		echo "down-cluster: stopped $1 (pid $pid)"
	fi
	rm -f "$2"
}

for n in 1 2 3 4; do stop "ClickHouse server $n" "$run/ch$n/clickhouse.pid"; done
stop ZooKeeper "$run/zk/zookeeper.pid"

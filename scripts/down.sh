#!/usr/bin/env bash
# Stops the ClickHouse and Dovecot started by up.sh. Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=${BNDMR_RUN_DIR:-$root/.run}

stop_pidfile() { # name pidfile
	local pid
	[ -f "$2" ] || return 0
	pid=$(cat "$2")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
		echo "down: $1 stopped"
	fi
	rm -f "$2"
}

stop_pidfile ClickHouse "$run/clickhouse/clickhouse.pid"
stop_pidfile Dovecot "$run/dovecot/run/master.pid"

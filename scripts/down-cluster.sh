#!/usr/bin/env bash
# Stops what scripts/up-cluster.sh started (by the pids it recorded). The state
# stays under .run/cluster; `rm -rf .run/cluster` after this starts afresh.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=${BNDMR_RUN_DIR:-$root/.run}/cluster

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

stop() { stop_pid down-cluster "$1" "$2" 100; } # name pidfile

for n in 1 2 3 4; do stop "ClickHouse server $n" "$run/ch$n/clickhouse.pid"; done
stop ZooKeeper "$run/zk/zookeeper.pid"

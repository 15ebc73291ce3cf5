#!/usr/bin/env bash
# Stops what scripts/up-topology.sh started (by the pids it recorded): the
# services first, then the NATS servers. The state stays under
# .run/topology; `rm -rf .run/topology` after this starts afresh (new
# streams, new test passwords). The ClickHouse database bndmr_topo stays.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=${BNDMR_RUN_DIR:-$root/.run}/topology

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

stop() { stop_pid down-topology "$1" "$2" 150; } # name pidfile

[ -d "$run/instances" ] || exit 0
for d in "$run"/instances/*/; do stop "$(basename "$d")" "$d/pid"; done
for d in "$run"/nats/*/; do [ -d "$d" ] && stop "$(basename "$d")" "$d/nats.pid"; done
exit 0

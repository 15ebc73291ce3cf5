#!/usr/bin/env bash
# clickhouse-instance.sh DIR TCP_PORT HTTP_PORT: runs one ClickHouse server
# in the foreground, its state under DIR, on loopback ports: for a test that
# kills and restarts its own server without touching the shared ones.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 DIR TCP_PORT HTTP_PORT" >&2; exit 2; }
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
clickhouse_files "$1" "$2" "$3" 268435456 4000000000
exec clickhouse-server --config-file="$1/config.xml"

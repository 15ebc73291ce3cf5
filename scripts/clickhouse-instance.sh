#!/usr/bin/env bash
# clickhouse-instance.sh DIR TCP_PORT HTTP_PORT [CONFIG_XML]: runs one
# ClickHouse server in the foreground, its state under DIR, on loopback
# ports: for a test that kills and restarts its own server without touching
# the shared ones. CONFIG_XML, a file, is merged over the configuration
# (DIR/config.d): e.g. a secure native port, or <tcp_port remove="1"/>.
set -euo pipefail
[ $# -eq 3 ] || [ $# -eq 4 ] || { echo "usage: $0 DIR TCP_PORT HTTP_PORT [CONFIG_XML]" >&2; exit 2; }
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
clickhouse_files "$1" "$2" "$3" 268435456 4000000000
if [ $# -eq 4 ]; then
	mkdir -p "$1/config.d"
	cp "$4" "$1/config.d/extra.xml"
fi
exec clickhouse-server --config-file="$1/config.xml"

#!/usr/bin/env bash
# Renders the indicators dashboard over a synthetic sample (40 establishments)
# in headless Chromium and saves a 1366x900 PNG: scripts/screenshot.sh [FILE]
# (default .run/dashboard.png). Needs ClickHouse (make up) and chromium.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.run/dashboard.png}
mkdir -p "$(dirname "$out")"
case $out in /*) ;; *) out=$PWD/$out ;; esac
export BNDMR_TEST_CLICKHOUSE=${BNDMR_TEST_CLICKHOUSE:-clickhouse://127.0.0.1:19000/default}
cd "$root/pkg"
BNDMR_SCREENSHOT=$out go test -count=1 -run '^TestDashboardScreenshot$' ./indicators/ >/dev/null
echo "dashboard screenshot: $out"

#!/usr/bin/env bash
# Loads a synthetic national year into ClickHouse (2,000,000 document versions
# for 800,000 patients across 150 establishments, written as events.Record
# batches through the loader's insert path) and times the MR.2-by-establishment
# and ORPHA-prevalence queries. Target: each under 1 s.
#   scripts/bench-store.sh [VERSIONS]      (default 2000000)
# The database bench_store_<VERSIONS> is kept: a second run reuses it and
# only times the queries (drop it to measure the load again).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export BNDMR_TEST_CLICKHOUSE=${BNDMR_TEST_CLICKHOUSE:-clickhouse://127.0.0.1:19000/default}
export BNDMR_BENCH_VERSIONS=${1:-2000000}
cd "$root/pkg"
go test -count=1 -run '^$' -bench 'NationalYear' -benchtime 5x -timeout 30m ./indicators/ |
	awk '/^bench-store:/ {print} /^Benchmark/ {printf "%-45s %8.3f s per query\n", $1, $3/1e9}'

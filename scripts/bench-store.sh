#!/usr/bin/env bash
# Loads synthetic national years into ClickHouse through the loader's insert
# path (figures.Keeper Write / WriteReceipts, events.Record batches of
# 50,000) and times the analysts' queries: MR.2 of every establishment for a
# month and for a year, MR.1 for a year, ORPHA prevalence on the current
# state, the epidemiology tables with small counts suppressed, one
# establishment's reception report. Target: each under 1 s.
#   scripts/bench-store.sh [VERSIONS]      (default 2000000: one national year)
# 2,000,000 versions are one year (800,000 patients, 150 establishments);
# 10000000 are five (2022-2026, 4,000,000 patients). A VERSIONS other than
# 2000000 runs 2000000 as well, so that the growth shows.
# Each size is loaded and queried on the single server
# (BNDMR_TEST_CLICKHOUSE, 127.0.0.1:19000) and on the test cluster
# (BENCH_CLUSTER, default bndmr_2x2 over BNDMR_TEST_CH_CLUSTER 19101-19104),
# loaded there through the Distributed tables with insert_distributed_sync
# as the loader does; BENCH_CLUSTER=none skips the cluster.
# It prints the load rate, the bytes on disk per version (system.parts, every
# copy) and each query's median over 5 runs, with the machine's load. The
# queries are timed once the server it talks to merges no part of the
# database (at most 15 min later; the wait is printed).
# Databases: <BENCH_DB_PREFIX>_<VERSIONS> (default bench_store_<VERSIONS>),
# dropped and loaded again at each run unless they already hold the versions
# (BENCH_RELOAD=1 forces the load), and dropped at the end unless
# BENCH_KEEP=1. Disk: about 0.6 kB per version and copy with keys of the
# hub's length (64 hex digits): 10,000,000 versions on one server and on the
# 2x2 cluster, about 20 GB at the peak, 2,000,000 loaded after the larger
# size is dropped. BNDMR_BENCH_YEARS spreads the versions over that many
# years instead of one per 2,000,000 (each loader batch then spans more
# months, so more partitions and parts: the load's rate depends on it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
versions=${1:-2000000}
export BNDMR_TEST_CLICKHOUSE=${BNDMR_TEST_CLICKHOUSE:-clickhouse://127.0.0.1:19000/default}
export BNDMR_TEST_CH_CLUSTER=${BNDMR_TEST_CH_CLUSTER:-clickhouse://127.0.0.1:19101,clickhouse://127.0.0.1:19102,clickhouse://127.0.0.1:19103,clickhouse://127.0.0.1:19104}
cluster=${BENCH_CLUSTER:-bndmr_2x2}
prefix=${BENCH_DB_PREFIX:-bench_store}
sizes=("$versions")
[ "$versions" = 2000000 ] || sizes+=(2000000)
targets=(single)
if [ "$cluster" != none ]; then
	first=${BNDMR_TEST_CH_CLUSTER%%,*}
	first=${first#clickhouse://}
	first=${first%%/*}
	if clickhouse-client --host "${first%:*}" --port "${first##*:}" -q "SELECT 1 FROM system.clusters WHERE cluster = '$cluster' LIMIT 1" 2>/dev/null | grep -q 1; then
		targets+=("$cluster")
	else
		echo "bench-store: cluster $cluster not answering at $first (make up-cluster): single server only"
	fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$root/pkg" && go test -c -o "$tmp/indicators.test" ./indicators/)

hostport() { # clickhouse://host:port[/db] -> host port
	local hp=${1#clickhouse://}
	hp=${hp%%/*}
	echo "${hp%:*} ${hp##*:}"
}
drop() { # database target
	local on="" hp
	if [ "$2" = single ]; then
		read -r -a hp <<<"$(hostport "$BNDMR_TEST_CLICKHOUSE")"
	else
		read -r -a hp <<<"$(hostport "${BNDMR_TEST_CH_CLUSTER%%,*}")"
		on=" ON CLUSTER $2"
	fi
	clickhouse-client --host "${hp[0]}" --port "${hp[1]}" -q "DROP DATABASE IF EXISTS $1$on" >/dev/null
}

printf '%s\n' "bench-store: $(date -u '+%F %T UTC'), $(nproc) cores, $(df -h --output=avail / | tail -1 | tr -d ' ') free on /"
summary=$tmp/summary
for n in "${sizes[@]}"; do
	for target in "${targets[@]}"; do
		db=${prefix}_$n
		[ "${BENCH_RELOAD:-0}" = 1 ] && drop "$db" "$target"
		echo "== $n versions, $target, database $db; load:$(uptime | sed 's/.*load average//')"
		clusterEnv=""
		[ "$target" = single ] || clusterEnv=$target
		(cd "$root/pkg/indicators" && BNDMR_BENCH_VERSIONS=$n BNDMR_BENCH_DB=$db BNDMR_BENCH_CLUSTER=$clusterEnv \
			nice "$tmp/indicators.test" -test.run '^$' -test.bench 'NationalYear' -test.benchtime 5x -test.timeout 180m) |
			awk -v n="$n" -v t="$target" -v sum="$summary" '
				/^bench-store:/ {print; fflush()}
				/^Benchmark/ {
					name=$1; sub(/^BenchmarkNationalYear/, "", name); sub(/-[0-9]+$/, "", name)
					for (i = 2; i < NF; i++) if ($(i+1) == "s/median") med=$i
					printf "%-20s %8.3f s median of 5 (mean %.3f s)\n", name, med, $3/1e9; fflush()
					printf "%s\t%s\t%s\t%.3f\n", n, t, name, med >> sum
				}
				/^(FAIL|panic|---|    )/ {print; fflush(); bad=1}
				END {exit bad}'
		echo "   load after:$(uptime | sed 's/.*load average//')"
		[ "${BENCH_KEEP:-0}" = 1 ] || drop "$db" "$target"
	done
done
echo
echo "== medians (s): versions, topology, query"
sort -k3,3 -k1,1n -k2,2 "$summary" | awk -F'\t' '{printf "%-10s %-12s %-20s %8s\n", $1, $2, $3, $4}'

#!/usr/bin/env bash
# End-to-end throughput of the all-in-one hub (issue 15): N synthetic mails
# (`bndmrctl gen --seed 7`, one SDM-MR document each) go from a Dovecot
# mailbox of their own to ClickHouse through bin/hub. In the same run,
# `bndmrctl validate` checks the same documents (the CDA files the mails
# carry): the ceiling the pipeline is compared with. Prints documents/s of
# both, their ratio (target >= 85 %), the hub's CPU % (utime + stime over
# wall time, of the 100 % x cores available) and its peak RSS (VmHWM), with
# RSS samples at each tenth of the run to show it stays flat.
#   scripts/bench-hub.sh [MAILS]   (default 10000; 100000 possible)
# Settings (environment): BENCH_HUB_SEED (7), BENCH_HUB_PPROF (a loopback
# address: the hub serves pprof there and the script saves CPU, block and
# mutex profiles taken mid-run and a heap profile at each tenth under
# .run/bench-hub/profiles-N/),
# BENCH_HUB_FLAGS (extra flags for bin/hub, e.g. "--validator-workers 3"),
# BENCH_HUB_GOMEMLIMIT (the hub's soft memory limit, e.g. 250MiB),
# BENCH_HUB_FILL (imap, or maildir: copy the mails into the folder's maildir,
# for 100,000 mails).
# Needs `make up` (Dovecot, ClickHouse) and `make build`. It uses its own IMAP
# folders, ClickHouse database and hub data folder, and removes them, and the
# hub it started, when it ends, whatever the ending. The generated mails and
# their documents are kept under .run/bench-hub/ for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
count=${1:-${BENCH_HUB_MAILS:-10000}}
seed=${BENCH_HUB_SEED:-7}
export CISIS_KIT=${CISIS_KIT:-$(cd .. && pwd)/shared/ci-sis}
ch_port=${BNDMR_CH_TCP_PORT:-19000}
imap=127.0.0.1:${BNDMR_IMAP_PORT:-10143}
ch="clickhouse-client --port $ch_port"
ch_http=http://127.0.0.1:${BNDMR_CH_HTTP_PORT:-18123}/
# chq URL QUERY: one query over HTTP. The polls use it: each clickhouse-client
# start costs about 0.17 s of CPU, a third of a core at two polls a second,
# taken from the hub being measured.
chq() { curl -sf --data-binary "$2" "$1"; }
user=hub@bndmr.test
dove="doveadm -c $root/.run/dovecot/dovecot.conf"
hz=$(getconf CLK_TCK)
ncpu=$(nproc)

work=$root/.run/bench-hub
mails=$work/mails-$seed-$count
docs=$work/docs-$seed-$count
run=$work/run-$$
db=bench_hub_$$
folder=bench-hub-$$
mkdir -p "$work" "$run"

hub_pid=
cleanup() {
	if [ -n "$hub_pid" ] && kill -0 "$hub_pid" 2>/dev/null; then
		kill "$hub_pid" 2>/dev/null || true
		wait "$hub_pid" 2>/dev/null || true
	fi
	$ch -q "DROP DATABASE IF EXISTS $db" 2>/dev/null || true
	for f in "$folder" "$folder-done"; do
		$dove mailbox delete -u "$user" "$f" >/dev/null 2>&1 || true
	done
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The mails and their documents, once per (seed, count).
if [ ! -f "$mails/manifest.jsonl" ]; then
	echo "generating $count mails (seed $seed) into $mails (once)"
	rm -rf "$mails.tmp"
	bin/bndmrctl gen --seed "$seed" --count "$count" --out "$mails.tmp" >/dev/null
	mv "$mails.tmp" "$mails"
fi
if [ ! -f "$docs/.done" ]; then
	echo "unpacking their documents into $docs (once)"
	rm -rf "$docs"
	find "$mails" -name '*.eml' -print0 | sort -z | xargs -0 bin/bndmrctl unpack --out "$docs" >/dev/null || true
	touch "$docs/.done"
fi
ndocs=$(find "$docs" -name '*.xml' | wc -l)
expected=$(grep -cvE '"(invalid|hostile)":' "$mails/manifest.jsonl" || true)
if [ "$ndocs" -ne "$expected" ]; then
	echo "bench-hub: $ndocs documents unpacked from $mails, the manifest lists $expected valid ones" >&2
	exit 1
fi

# The ceiling: bndmrctl validate on the same documents, in this run.
tf=$run/validate.time
echo "bndmrctl validate on the $ndocs documents ($ncpu workers)..."
if ! /usr/bin/time -f '%e %U %S %M' -o "$tf" bin/bndmrctl validate --kit "$CISIS_KIT" "$docs" >"$run/validate.out" 2>&1; then
	echo "bench-hub: bndmrctl validate found invalid documents:" >&2
	tail -3 "$run/validate.out" >&2
	exit 1
fi
read -r v_wall v_user v_sys v_rss <"$tf"
v_rate=$(awk -v n="$ndocs" -v w="$v_wall" 'BEGIN{printf "%.1f", n/w}')
v_cpu=$(awk -v n="$ndocs" -v u="$v_user" -v s="$v_sys" 'BEGIN{printf "%.1f", n/(u+s)}')

# fill FOLDER DIR: appends DIR's mails to FOLDER over IMAP, on
# BENCH_HUB_FILL_JOBS (4) connections at once (their order does not matter).
fill() {
	local jobs=${BENCH_HUB_FILL_JOBS:-4} n
	n=$(find "$2" -name '*.eml' | wc -l)
	find "$2" -name '*.eml' -print0 | sort -z | xargs -0 -P "$jobs" -n $(((n + jobs - 1) / jobs)) \
		bin/bndmrctl deliver --imap-addr "$imap" --imap-user "$user" --imap-password secret --folder "$1" >/dev/null
}

# fill_maildir FOLDER DIR: copies DIR's mails straight into FOLDER's maildir
# (new/, owned by Dovecot's mail user), which Dovecot indexes when the hub
# first opens the folder. For 100,000 mails: over IMAP, Dovecot took the
# appends at 55 mails/s, then 24 past 50,000.
fill_maildir() {
	local dir
	dir=$($dove mailbox path -u "$user" "$1" | awk '{print $NF}')
	[ -d "$dir/new" ] || { echo "bench-hub: no maildir for $1 at '$dir'" >&2; exit 1; }
	# A maildir file's name only has to be unique: the mails' own will do.
	find "$2" -name '*.eml' -print0 | xargs -0 cp -t "$dir/new/"
	chown -R dovecot:dovecot "$dir"
}

# A mailbox of its own, filled over IMAP (BENCH_HUB_FILL=maildir: copied
# into its maildir).
$ch -q "CREATE DATABASE $db"
for f in "$folder" "$folder-done"; do $dove mailbox create -u "$user" "$f"; done
fill_start=$(date +%s)
if [ "${BENCH_HUB_FILL:-imap}" = maildir ]; then
	echo "filling $user/$folder by copying into its maildir..."
	fill_maildir "$folder" "$mails"
else
	echo "filling $user/$folder over IMAP..."
	fill "$folder" "$mails"
fi
echo "filled in $(($(date +%s) - fill_start)) s"
bin/bndmrctl keygen --out "$run/key.json" >/dev/null 2>&1

pprof=()
[ -n "${BENCH_HUB_PPROF:-}" ] && pprof=(--pprof-addr "$BENCH_HUB_PPROF")
# shellcheck disable=SC2206
extra=(${BENCH_HUB_FLAGS:-})
# GOMEMLIMIT: the Go runtime's soft memory limit for the hub alone (the GC
# works harder as the heap nears it; docs/performance.md, "What grows").
memlimit=${BENCH_HUB_GOMEMLIMIT:-${GOMEMLIMIT:-}}
echo "bin/hub on $count mails ${extra[*]}${memlimit:+ (GOMEMLIMIT=$memlimit)}"
start=$(date +%s%N)
GOMEMLIMIT=$memlimit bin/hub --data-dir "$run/hub" --nats-port -1 --http-addr 127.0.0.1:0 --indicators-addr 127.0.0.1:0 --auth none \
	--imap-addr "$imap" --imap-tls none --imap-user "$user" --imap-password secret \
	--imap-inbox "$folder" --imap-processed "$folder-done" \
	--pseudo-key-file "$run/key.json" --clickhouse "clickhouse://127.0.0.1:$ch_port/$db" \
	--log-level warn "${pprof[@]}" "${extra[@]}" >"$run/hub.log" 2>&1 &
hub_pid=$!

# The whole machine's busy and total ticks (/proc/stat): whether the hub
# could have had more CPU than it took, or the machine was full.
machine_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
read -r m_busy0 m_total0 < <(machine_ticks)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# tree_ticks PID: the CPU ticks of PID, of its children alive now, and of
# those it has reaped (Dovecot forks an imap process per session).
tree_ticks() {
	local t c
	t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0)
	for c in $(ps -o pid= --ppid "$1"); do t=$((t + $(cpu_ticks "$c" 2>/dev/null || echo 0))); done
	echo "$t"
}
ch_pid=$(cat "$root/.run/clickhouse/clickhouse.pid")
dove_pid=$(cat "$root/.run/dovecot/run/master.pid")
read -r ch0 dove0 < <(echo "$(cpu_ticks "$ch_pid") $(tree_ticks "$dove_pid")")
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
loaded() { chq "$ch_http" "SELECT count() FROM $db.documents" 2>/dev/null || echo 0; }

profiled=
samples=()
next_tenth=1
first_ns=
n=0
while :; do
	sleep 0.5
	if ! kill -0 "$hub_pid" 2>/dev/null; then
		echo "bench-hub: the hub stopped before loading every document; its log:" >&2
		tail -20 "$run/hub.log" >&2
		exit 1
	fi
	n=$(loaded)
	now=$(date +%s%N)
	[ -z "$first_ns" ] && [ "$n" -gt 0 ] && first_ns=$now
	while [ "$n" -ge $((expected * next_tenth / 10)) ] && [ "$next_tenth" -le 10 ]; do
		samples+=("$(printf '%3d%% %7d docs %6.1f s  RSS %4d MiB  mails still in the inbox %6d' $((next_tenth * 10)) "$n" \
			"$(awk -v a="$start" -v b="$now" 'BEGIN{print (b-a)/1e9}')" $(($(status_kb "$hub_pid" VmRSS) / 1024)) \
			"$($dove mailbox status -u "$user" messages "$folder" 2>/dev/null | sed 's/.*=//' || echo -1)")")
		# The heap at each tenth says what grows with the mails handled.
		[ -n "${BENCH_HUB_PPROF:-}" ] && mkdir -p "$work/profiles-$count" &&
			{ curl -sf -o "$work/profiles-$count/heap-$((next_tenth * 10)).pprof" "http://$BENCH_HUB_PPROF/debug/pprof/heap" || true
				# debug=1 ends with the runtime's MemStats: the Go heap next to the RSS
				# (libxml2's memory is C's, outside the Go heap).
				curl -sf "http://$BENCH_HUB_PPROF/debug/pprof/heap?debug=1" | grep '^# ' >"$work/profiles-$count/memstats-$((next_tenth * 10)).txt" || true; }
		next_tenth=$((next_tenth + 1))
	done
	if [ -n "${BENCH_HUB_PPROF:-}" ] && [ -z "$profiled" ] && [ "$n" -ge $((expected / 10)) ]; then
		profiled=1
		prof=$work/profiles-$count
		mkdir -p "$prof"
		echo "profiling 10 s under load into $prof (cpu, block, mutex)"
		curl -sf -o "$prof/cpu.pprof" "http://$BENCH_HUB_PPROF/debug/pprof/profile?seconds=10" || echo "bench-hub: CPU profile failed" >&2
		curl -sf -o "$prof/block.pprof" "http://$BENCH_HUB_PPROF/debug/pprof/block" || true
		curl -sf -o "$prof/mutex.pprof" "http://$BENCH_HUB_PPROF/debug/pprof/mutex" || true
		curl -sf -o "$prof/goroutine.txt" "http://$BENCH_HUB_PPROF/debug/pprof/goroutine?debug=1" || true
	fi
	[ "$n" -ge "$expected" ] && break
done
end=$(date +%s%N)
ticks=$(cpu_ticks "$hub_pid")
read -r m_busy1 m_total1 < <(machine_ticks)
read -r ch1 dove1 < <(echo "$(cpu_ticks "$ch_pid") $(tree_ticks "$dove_pid")")
hwm=$(status_kb "$hub_pid" VmHWM)
kill "$hub_pid"
wait "$hub_pid" 2>/dev/null || true
hub_pid=

distinct=$($ch -q "SELECT uniqExact(set_id, version_number) FROM $db.documents")
wall=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", (b-a)/1e9}')
h_rate=$(awk -v n="$expected" -v w="$wall" 'BEGIN{printf "%.1f", n/w}')
h_cpu=$(awk -v n="$expected" -v t="$ticks" -v hz="$hz" 'BEGIN{printf "%.1f", n/(t/hz)}')
steady=$(awk -v n="$expected" -v a="$first_ns" -v b="$end" 'BEGIN{printf "%.1f", n/((b-a)/1e9)}')
cpu_pct=$(awk -v t="$ticks" -v hz="$hz" -v w="$wall" 'BEGIN{printf "%.0f", 100*(t/hz)/w}')

echo
printf 'documents: %d (mails: %d, seed %d), %d distinct (set, version) in ClickHouse\n' "$expected" "$count" "$seed" "$distinct"
printf '                                        wall time         CPU time\n'
printf 'bin/hub, Dovecot -> ClickHouse:    %9.1f docs/s %9.1f docs/s   (%.2f s; first rows after %.1f s; %.1f docs/s from then)\n' \
	"$h_rate" "$h_cpu" "$wall" "$(awk -v a="$start" -v b="$first_ns" 'BEGIN{print (b-a)/1e9}')" "$steady"
printf 'bndmrctl validate, same documents: %9.1f docs/s %9.1f docs/s   (%.2f s, %d workers, peak RSS %d MiB)\n' \
	"$v_rate" "$v_cpu" "$v_wall" "$ncpu" $((v_rss / 1024))
awk -v h="$h_rate" -v v="$v_rate" -v hc="$h_cpu" -v vc="$v_cpu" 'BEGIN{r=100*h/v;
	printf "ratio hub / validate: %.1f %% in wall time (target >= 85 %%: %s), %.1f %% in CPU time\n", r, (r>=85?"OK":"TOO SLOW"), 100*hc/vc}'
printf 'hub CPU: %s %% (of %d %%), peak RSS (VmHWM): %d MiB\n' "$cpu_pct" $((ncpu * 100)) $((hwm / 1024))
awk -v b=$((m_busy1 - m_busy0)) -v t=$((m_total1 - m_total0)) -v n="$ncpu" -v h="$cpu_pct" 'BEGIN{m=100*n*b/t;
	printf "machine busy during the hub run: %.0f %% (of %d %%): the hub %s %%, everything else (ClickHouse, Dovecot, other processes) %.0f %%\n", m, 100*n, h, m-h}'
awk -v c=$((ch1 - ch0)) -v d=$((dove1 - dove0)) -v hz="$hz" -v w="$wall" -v n="$expected" 'BEGIN{
	printf "  of which ClickHouse %.0f %% (%.2f ms CPU per document), Dovecot %.0f %% (%.2f ms CPU per document)\n",
		100*c/hz/w, 1000*c/hz/n, 100*d/hz/w, 1000*d/hz/n}'
echo "progress and RSS at each tenth:"
printf '  %s\n' "${samples[@]}"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$distinct" -ne "$expected" ]; then
	echo "bench-hub: MISMATCH: $distinct distinct documents in ClickHouse, $expected expected" >&2
	exit 1
fi

# The production topology on this machine, when one runs (the lead starts
# it: `make up-topology`; this script never starts or stops it) and
# BENCH_HUB_TOPOLOGY=1: the same mails, made unique to this run by a header
# (ingest recognises bytes it already took from a mailbox), staged in a
# folder of their own, then moved at once into the folder the topology's
# ingest reads. Documents counted by their arrival time (received_at, the
# IMAP INTERNALDATE of this run's copies); CPU and RSS summed over every
# process of the topology (NATS servers and services). The acknowledgements
# go to the generated senders (mssante.fr), which the loopback Postfix
# refuses: the MDNs are built and submitted, not delivered.
[ "${BENCH_HUB_TOPOLOGY:-}" = 1 ] || exit 0
topo=$root/.run/topology
tinbox=${BNDMR_TOPO_INBOX:-topology}
pids=()
while read -r kind name _; do
	case $kind in
	nats) pf=$topo/nats/$name/nats.pid ;;
	service) pf=$topo/instances/$name/pid ;;
	*) continue ;;
	esac
	if [ ! -f "$pf" ] || ! kill -0 "$(cat "$pf")" 2>/dev/null; then
		echo "bench-hub: the production topology is not running ($name): run make up-topology first" >&2
		exit 1
	fi
	pids+=("$(cat "$pf")")
done <"$topo/processes"
tdb=$(grep -o "^BNDMR_CLICKHOUSE='[^']*'" "$topo/instances/loader-0/env" | sed "s#.*/##; s#[?'].*##")
tch_http=http://127.0.0.1:${BNDMR_TOPO_CH_HTTP_PORT:-18201}/
stage=$folder-topology
$dove mailbox create -u "$user" "$stage"
trap 'cleanup; $dove mailbox delete -u "$user" "$stage" >/dev/null 2>&1 || true' EXIT
copies=$run/topology-mails
mkdir -p "$copies"
find "$mails" -name '*.eml' -print0 | xargs -0 awk -v dir="$copies" -v tag="X-Bench-Run: $$-$(date +%s)" '
	FNR == 1 { if (out) close(out); n = split(FILENAME, p, "/"); out = dir "/" p[n]; cr = ($0 ~ /\r$/) ? "\r" : ""; print tag cr > out }
	{ print > out }'
since=$(date -u '+%Y-%m-%d %H:%M:%S')
sleep 1
echo "filling $user/$stage over IMAP for the topology..."
fill "$stage" "$copies"
tloaded() { chq "$tch_http" "SELECT count() FROM $tdb.documents WHERE received_at >= toDateTime('$since', 'UTC')" 2>/dev/null || echo 0; }
sum_ticks() { local t=0 p; for p in "${pids[@]}"; do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }
sum_rss() { local t=0 p; for p in "${pids[@]}"; do t=$((t + $(status_kb "$p" VmRSS))); done; echo "$t"; }
ticks0=$(sum_ticks)
tstart=$(date +%s%N)
$dove move -u "$user" "$tinbox" mailbox "$stage" ALL
echo "topology ($(wc -l <"$topo/processes") processes) on $count mails"
peak=0
samples=()
next_tenth=1
while :; do
	sleep 0.5
	n=$(tloaded)
	now=$(date +%s%N)
	rss=$(sum_rss)
	[ "$rss" -gt "$peak" ] && peak=$rss
	while [ "$n" -ge $((expected * next_tenth / 10)) ] && [ "$next_tenth" -le 10 ]; do
		samples+=("$(printf '%3d%% %7d docs %6.1f s  RSS of every process %5d MiB' $((next_tenth * 10)) "$n" \
			"$(awk -v a="$tstart" -v b="$now" 'BEGIN{print (b-a)/1e9}')" $((rss / 1024)))")
		next_tenth=$((next_tenth + 1))
	done
	[ "$n" -ge "$expected" ] && break
	if [ $(((now - tstart) / 1000000000)) -gt "${BENCH_HUB_TOPOLOGY_TIMEOUT:-3600}" ]; then
		echo "bench-hub: the topology loaded $n of $expected documents in time; see $topo/instances/*/log" >&2
		exit 1
	fi
done
tend=$(date +%s%N)
tticks=$(($(sum_ticks) - ticks0))
twall=$(awk -v a="$tstart" -v b="$tend" 'BEGIN{printf "%.2f", (b-a)/1e9}')
t_rate=$(awk -v n="$expected" -v w="$twall" 'BEGIN{printf "%.1f", n/w}')
t_cpu=$(awk -v n="$expected" -v t="$tticks" -v hz="$hz" 'BEGIN{printf "%.1f", n/(t/hz)}')
echo
printf 'production topology, Dovecot -> ClickHouse: %9.1f docs/s %9.1f docs/s (CPU)   (%.2f s)\n' "$t_rate" "$t_cpu" "$twall"
awk -v h="$t_rate" -v v="$v_rate" -v hc="$t_cpu" -v vc="$v_cpu" 'BEGIN{r=100*h/v;
	printf "ratio topology / validate: %.1f %% in wall time (target >= 85 %%: %s), %.1f %% in CPU time\n", r, (r>=85?"OK":"TOO SLOW"), 100*hc/vc}'
printf 'topology CPU: %.0f %% (of %d %%), peak of the summed RSS: %d MiB\n' \
	"$(awk -v t="$tticks" -v hz="$hz" -v w="$twall" 'BEGIN{print 100*(t/hz)/w}')" $((ncpu * 100)) $((peak / 1024))
echo "progress and RSS at each tenth:"
printf '  %s\n' "${samples[@]}"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

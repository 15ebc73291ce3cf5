#!/usr/bin/env bash
# Starts, on loopback, what the production overlay runs (issue 11, point 3),
# from the overlay itself: deploy/k8s/cmd/localtopo renders overlays/prod and
# writes the configuration of three NATS JetStream servers (its users and
# permissions as rendered, with test passwords) and the environment of every
# replica of every service, with only addresses, ports and mounted paths
# rewritten. Then: the three NATS servers (nats-server built from the version
# pinned in pkg/go.mod), the Job nats-streams (`bndmrctl streams`, R3), the
# ClickHouse migrations on the 2 × 2 cluster (bndmr_2x2, database bndmr_topo),
# and every service as its own process: 2 ingest on one mailbox (IMAPS,
# client certificate, SASL EXTERNAL), 2 validators, and the others as many as
# the overlay runs; ack submits over implicit TLS with a client certificate.
#
# Needs the servers of `make up` and `make up-cluster`, and `make build`.
# State (configuration, data, logs, pids) under .run/topology. Idempotent: a
# process still running is left alone; scripts/down-topology.sh stops them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runroot=${BNDMR_RUN_DIR:-$root/.run}
run=$runroot/topology
bin=$root/bin
kit=${CISIS_KIT:-$(cd "$root/.." && pwd)/shared/ci-sis}
imap_user=${BNDMR_TOPO_IMAP_USER:-hub@bndmr.test}
inbox=${BNDMR_TOPO_INBOX:-topology}
processed=${BNDMR_TOPO_PROCESSED:-topology-done}
start=$(date +%s.%N)
mkdir -p "$run"

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

say() { echo "up-topology: $*"; }

# What the topology needs from `make up`, `make up-cluster` and `make build`.
for p in 10993:Dovecot-IMAPS 10465:Postfix-TLS 12181:ZooKeeper 19401:ClickHouse-1-TLS 19402:ClickHouse-2-TLS 19403:ClickHouse-3-TLS 19404:ClickHouse-4-TLS; do
	port_open "${p%%:*}" || { echo "up-topology: ${p#*:} does not answer on 127.0.0.1:${p%%:*}: run make up up-cluster" >&2; exit 1; }
done
for s in ingest validator pseudonymisation loader ack indicators bndmrctl; do
	[ -x "$bin/$s" ] || { echo "up-topology: $bin/$s missing: run make build" >&2; exit 1; }
done

# nats-server at the version the hub embeds (pkg/go.mod), from the module cache.
pinned=$(awk '$1 == "github.com/nats-io/nats-server/v2" {print $2}' "$root/pkg/go.mod")
if ! "$bin/nats-server" --version 2>/dev/null | grep -qx "nats-server: $pinned"; then
	say "building nats-server $pinned"
	GOWORK=off go build -C "$root/pkg" -o "$bin/nats-server" github.com/nats-io/nats-server/v2
fi
GOWORK=off go build -C "$root/deploy/k8s" -o "$bin/localtopo" ./cmd/localtopo

# The Secrets, as local folders (one file per key).
sec=$run/secrets
mkdir -p "$sec/ingest-mssante-tls" "$sec/ack-mssante-tls" "$sec/pseudonymisation-key" "$sec/bndmr-clickhouse-users"
cp "$runroot/dovecot/tls/ca.pem" "$sec/ingest-mssante-tls/ca.crt"
cp "$runroot/dovecot/tls/client.pem" "$sec/ingest-mssante-tls/tls.crt"
cp "$runroot/dovecot/tls/client.key" "$sec/ingest-mssante-tls/tls.key"
cp "$runroot/postfix/tls/ca.crt" "$runroot/postfix/tls/client.crt" "$runroot/postfix/tls/client.key" "$sec/ack-mssante-tls/"
mv -f "$sec/ack-mssante-tls/client.crt" "$sec/ack-mssante-tls/tls.crt"
mv -f "$sec/ack-mssante-tls/client.key" "$sec/ack-mssante-tls/tls.key"
mkdir -p "$sec/bndmr-nats-store-key" "$sec/indicators-oidc"
# The indicators run with --auth none on loopback: no provider, empty secrets.
: >"$sec/indicators-oidc/client-secret"
: >"$sec/indicators-oidc/session-secret"
[ -s "$sec/bndmr-nats-store-key/key" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$sec/bndmr-nats-store-key/key"
[ -s "$sec/pseudonymisation-key/key-topo.json" ] || "$bin/bndmrctl" keygen --id topo --out "$sec/pseudonymisation-key/key-topo.json" >/dev/null
# The loopback ClickHouse servers have only the default user, without password.
: >"$sec/bndmr-clickhouse-users/loader"
: >"$sec/bndmr-clickhouse-users/indicators"
chmod 600 "$sec"/*/*

# ClickHouse over TLS as in the overlay: the cluster's secure ports and its
# authority's certificates (scripts/up-cluster.sh) stand for the Secrets
# bndmr-clickhouse-tls and bndmr-clickhouse-client-tls; the distributed
# tables reach the other nodes over TLS too (cluster bndmr_2x2_tls), and
# the replicas fetch parts over HTTPS.
chtls=$runroot/cluster/tls
(cd "$root/deploy/k8s" && "$bin/localtopo" -dir "$run" -kit "$kit" \
	-clickhouse 127.0.0.1:19401,127.0.0.1:19402,127.0.0.1:19403,127.0.0.1:19404 -clickhouse-tls -cluster bndmr_2x2_tls \
	-secret bndmr-clickhouse-tls="$chtls/server" -secret bndmr-clickhouse-client-tls="$chtls/clients" \
	-imap-user "$imap_user" -inbox "$inbox" -processed "$processed" -replicas ingest=2 \
	-secret ingest-mssante-tls="$sec/ingest-mssante-tls" -secret ack-mssante-tls="$sec/ack-mssante-tls" \
	-secret pseudonymisation-key="$sec/pseudonymisation-key" -secret bndmr-clickhouse-users="$sec/bndmr-clickhouse-users" \
	-secret bndmr-nats-store-key="$sec/bndmr-nats-store-key" -secret indicators-oidc="$sec/indicators-oidc")

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() { # pidfile
	local pid
	pid=$(cat "$1")
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
}

# launch NAME ENVFILE LOG PIDFILE COMMAND...: a detached daemon with exactly
# the environment of ENVFILE (plus PATH and HOME). One still running from the
# same binary and environment is left alone; after a rebuild or a change of
# the overlay, it is restarted (the stamp beside the pid file says which).
launch() {
	local name=$1 envfile=$2 log=$3 pidfile=$4; shift 4
	local stamp
	stamp=$(cat "$1" "$envfile" | sha256sum | cut -c1-16)
	if alive "$pidfile"; then
		if [ "$(cat "$pidfile.stamp" 2>/dev/null)" = "$stamp" ]; then say "$name already runs (pid $(cat "$pidfile"))"; return; fi
		say "$name: binary or configuration changed, restarting"
		stop_pid "$pidfile"
	fi
	echo "$stamp" >"$pidfile.stamp"
	# shellcheck disable=SC2016
	nohup env -i PATH="$PATH" HOME="$HOME" bash -c 'set -a; . "$0"; set +a; exec "$@"' "$envfile" "$@" \
		>>"$log" 2>&1 </dev/null &
	echo $! >"$pidfile"
}

# The NATS cluster.
while read -r kind name client monitor conf; do
	[ "$kind" = nats ] || continue
	d=$(dirname "$conf")
	# A running server re-reads its configuration (users, permissions) on SIGHUP.
	if alive "$d/nats.pid"; then kill -HUP "$(cat "$d/nats.pid")"; fi
	launch "$name" "$d/env" "$d/nats.log" "$d/nats.pid" "$bin/nats-server" --config "$conf"
done <"$run/processes"
while read -r kind name client monitor conf; do
	[ "$kind" = nats ] || continue
	wait_for "$name" 60 curl -fsS "http://$monitor/healthz?js-enabled-only=true"
done <"$run/processes"
# Streams of 3 replicas need the meta leader and every peer current.
meta_ready() {
	curl -fsS "http://$1/jsz" | python3 -c 'import json, sys
m = json.load(sys.stdin).get("meta_cluster") or {}
peers = m.get("replicas") or []
sys.exit(0 if m.get("leader") and len(peers) + 1 == m.get("cluster_size", 0) and all(p.get("current") for p in peers) else 1)'
}
# Only the leader sees every peer current (a follower reports the other
# follower as not current): ask each server, one of them is the leader.
meta_ready_any() {
	local m
	for m in $(awk '$1 == "nats" {print $4}' "$run/processes"); do meta_ready "$m" && return 0; done
	return 1
}
wait_for "the NATS meta leader" 60 meta_ready_any
say "NATS cluster of 3 on $(cat "$run/nats-url") in $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s"

# The Job nats-streams: until the cluster has elected its meta leader.
job=$run/instances/nats-streams
ok=
: >"$job/log"
for _ in $(seq 1 30); do
	if env -i PATH="$PATH" HOME="$HOME" bash -c 'set -a; . "$0"; set +a; exec "$@"' "$job/env" \
		"$bin/bndmrctl" $(awk '$1 == "job" {for (i = 4; i <= NF; i++) printf "%s ", $i}' "$run/processes") >>"$job/log" 2>&1; then
		ok=1; break
	fi
	sleep 2
done
[ -n "$ok" ] || { cat "$job/log" >&2; echo "up-topology: the streams could not be created" >&2; exit 1; }
say "streams: $(grep -c '^stream' "$job/log") streams, object store and buckets ($(grep -o "BNDMR_NATS_REPLICAS='[0-9]*'" "$job/env"))"

# The mailbox folders (Dovecot creates none but INBOX and Processed).
for f in "$inbox" "$processed"; do
	doveadm -c "$runroot/dovecot/dovecot.conf" mailbox list -u "$imap_user" | grep -qx "$f" ||
		doveadm -c "$runroot/dovecot/dovecot.conf" mailbox create -u "$imap_user" "$f"
done

# The ClickHouse schema, with the loader's own settings (DSN, cluster). The
# database first: store.Open refuses a DSN whose database does not exist yet,
# before MigrateWith could create it.
db=$(grep -o "^BNDMR_CLICKHOUSE='[^']*'" "$run/instances/loader-0/env" | sed "s#.*/##; s#[?'].*##")
cluster=$(grep -o "^BNDMR_CLICKHOUSE_CLUSTER='[^']*'" "$run/instances/loader-0/env" | cut -d"'" -f2)
clickhouse-client --port 19101 -q "CREATE DATABASE IF NOT EXISTS $db ON CLUSTER $cluster" >/dev/null
env -i PATH="$PATH" HOME="$HOME" bash -c 'set -a; . "$0"; set +a; exec "$@"' "$run/instances/loader-0/env" \
	"$bin/bndmrctl" migrate >"$run/migrate.log" 2>&1 || { cat "$run/migrate.log" >&2; exit 1; }
say "ClickHouse: $(tail -n 1 "$run/migrate.log" | sed 's/^bndmrctl migrate: //') ($(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s)"

# Every service replica.
while read -r kind name service http; do
	[ "$kind" = service ] || continue
	d=$run/instances/$name
	launch "$name" "$d/env" "$d/log" "$d/pid" "$bin/$service"
done <"$run/processes"
while read -r kind name service http; do
	[ "$kind" = service ] || continue
	wait_for "$name" 180 curl -fsS "http://$http/readyz" || { tail -n 20 "$run/instances/$name/log" >&2; exit 1; }
done <"$run/processes"
# Ready once is not enough: a service that cannot create its consumer (a
# permission missing) stops a moment after. Still running a few seconds on?
sleep 3
while read -r kind name service http; do
	[ "$kind" = service ] || continue
	alive "$run/instances/$name/pid" || { tail -n 5 "$run/instances/$name/log" >&2; echo "up-topology: $name stopped" >&2; exit 1; }
done <"$run/processes"
say "$(grep -c '^service' "$run/processes") service processes ready: $(awk '$1 == "service" {printf "%s(%s) ", $2, $4}' "$run/processes")"
say "up in $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s; mailbox $imap_user folder $inbox; logs under $run"

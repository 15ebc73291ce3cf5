#!/usr/bin/env bash
# Ingest throughput and memory (issue 4): a Dovecot mailbox of BENCH_INGEST_MAILS
# generated mails (default 10000) drained by pkg/ingest into JetStream while a
# consumer unpacks every mail (pkg/mssante.Unpack). Prints mails/s (ingest
# alone, and ingest + unpacking) and heap/RSS samples at each tenth of the
# drain: they must stay flat. NATS runs as a separate nats-server (built from
# the module cache) so the RSS is ingest's own. Needs `make up` (Dovecot).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CISIS_KIT=${CISIS_KIT:-$(cd .. && pwd)/shared/ci-sis}
export BNDMR_TEST_IMAP=${BNDMR_TEST_IMAP:-127.0.0.1:10143}
export BNDMR_BENCH_MAILS=${BENCH_INGEST_MAILS:-10000}
export BNDMR_BENCH_DISTINCT=${BENCH_INGEST_DISTINCT:-1000}
port=${BENCH_INGEST_NATS_PORT:-14222}

work=$root/.run/bench-ingest
rm -rf "$work/js"
mkdir -p "$work/js"
(cd pkg && go build -o "$work/nats-server" github.com/nats-io/nats-server/v2)
"$work/nats-server" -js -a 127.0.0.1 -p "$port" -sd "$work/js" >"$work/nats.log" 2>&1 &
nats_pid=$!
trap 'kill "$nats_pid" 2>/dev/null || true; wait "$nats_pid" 2>/dev/null || true; rm -rf "$work/js"' EXIT
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
export BNDMR_BENCH_NATS_URL=nats://127.0.0.1:$port

echo "ingest + unpack of $BNDMR_BENCH_MAILS mails ($BNDMR_BENCH_DISTINCT distinct from pkg/synth) from Dovecot $BNDMR_TEST_IMAP, NATS on :$port"
(cd pkg && go test -run '^$' -bench 'BenchmarkIngestUnpack' -benchtime 1x -timeout 60m ./ingest/)

#!/usr/bin/env bash
# The main job end to end on the embedded defaults: ~200 synthetic hospital
# mails into a Dovecot mailbox, the all-in-one hub reads, validates,
# pseudonymises and loads them into ClickHouse, then the figures.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
run=.run
demo=$run/demo
count=${DEMO_COUNT:-200}
seed=${DEMO_SEED:-2026}
db=bndmr_demo
ch="clickhouse-client --port ${BNDMR_CH_TCP_PORT:-19000}"
imap=127.0.0.1:${BNDMR_IMAP_PORT:-10143}
dove="doveadm -c $run/dovecot/dovecot.conf"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Fresh start: empty demo mailbox, database $db, hub state"
rm -rf "$demo" && mkdir -p "$demo"
$dove expunge -u hub@bndmr.test mailbox INBOX all 2>/dev/null || true
$dove expunge -u hub@bndmr.test mailbox Processed all 2>/dev/null || true
$ch -q "DROP DATABASE IF EXISTS $db"
$ch -q "CREATE DATABASE $db"

say "A pseudonymisation key (kept in $demo/key.json; in production a Kubernetes Secret)"
bin/bndmrctl keygen --out "$demo/key.json"

say "$count synthetic MSSanté mails (SDM-MR 2024.01 in IHE_XDM.zip), seed $seed"
bin/bndmrctl gen --seed "$seed" --count "$count" --out "$demo/mails"

say "Hospitals send them: the mails land in hub@bndmr.test's INBOX on Dovecot ($imap)"
bin/bndmrctl deliver --imap "$imap" --user hub@bndmr.test --password secret "$demo/mails"

say "The hub runs (ingest → validator → pseudonymisation → loader) until the mailbox is drained"
start=$(date +%s%N)
bin/hub --data-dir "$demo/hub" --nats-port -1 --http-addr 127.0.0.1:0 --indicators-addr 127.0.0.1:0 --auth none \
	--imap-addr "$imap" --imap-tls none --imap-user hub@bndmr.test --imap-password secret \
	--key-file "$demo/key.json" --clickhouse "clickhouse://127.0.0.1:${BNDMR_CH_TCP_PORT:-19000}/$db" \
	--exit-when-idle 2s --log-level warn
took_ms=$((($(date +%s%N) - start) / 1000000))

say "Documents received per establishment (from ClickHouse, $db.documents)"
$ch -d "$db" --format PrettyCompact -q "
	SELECT finess AS \`FINESS\`, uniqExact(set_id, version_number) AS \`versions reçues\`,
	       uniqExact(set_id) AS \`dossiers\`, uniqExactIf(patient_traits_pseudonym, patient_traits_pseudonym != '') AS \`patients\`, sum(opposition) AS \`oppositions\`,
	       toString(max(effective_date)) AS \`dernier document\`
	FROM documents GROUP BY finess ORDER BY finess"
loaded=$($ch -d "$db" -q "SELECT uniqExact(set_id, version_number) FROM documents")
generated=$(wc -l <"$demo/mails/manifest.jsonl")
printf '\n%s documents generated, %s loaded; the hub ran %d.%03d s.\n' "$generated" "$loaded" $((took_ms / 1000)) $((took_ms % 1000))
if [ "$loaded" != "$generated" ]; then
	echo "demo: MISMATCH: some documents were not loaded; see the hub's log above" >&2
	exit 1
fi

dsn="clickhouse://127.0.0.1:${BNDMR_CH_TCP_PORT:-19000}/$db"
bin/bndmrctl import establishments --clickhouse "$dsn" "$demo/mails/establishments.csv" >/dev/null
month=$($ch -d "$db" -q "SELECT substring(toString(toStartOfMonth(effective_date)), 1, 7) AS m FROM documents GROUP BY m ORDER BY count() DESC, m DESC LIMIT 1")
say "MR.2 per establishment for $month, the busiest month (versions transmitted ÷ versions updated in the DPI, target 95 %)"
echo "(no DPI counts declared here: the denominator is estimated from the version numbers seen)"
bin/bndmrctl export mr2 --clickhouse "$dsn" --month "$month"

bin/bndmrctl export dashboard --clickhouse "$dsn" --month "$month" --out "$demo/dashboard.html" >/dev/null
say "Dashboard"
cat <<TXT
  A snapshot:  file://$root/$demo/dashboard.html
  Live:        bin/bndmrctl dashboard --clickhouse $dsn --addr 127.0.0.1:8090
               then open http://127.0.0.1:8090/
TXT

cat <<TXT

What to try next:
  - Query the store yourself:   clickhouse-client --port ${BNDMR_CH_TCP_PORT:-19000} -d $db -q 'SELECT * FROM documents LIMIT 3 FORMAT Vertical'
    (no name, INS or address in any column: pseudonyms, year-month of birth, département)
  - Validate a document:        bin/bndmrctl validate ../shared/ci-sis/examples/sdm-mr/SDM-MR_2024.01_nouveau-ne.xml
  - Unpack a mail:              bin/bndmrctl unpack $demo/mails/mail-000001.eml
  - Run it again with more:     DEMO_COUNT=2000 make demo
  - Run the tests:              make test
TXT

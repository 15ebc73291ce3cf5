#!/usr/bin/env bash
# The main job end to end on the embedded defaults: ~200 synthetic hospital
# mails (about 5 % of the documents invalid, a few hostile mails) into a
# Dovecot mailbox; the all-in-one hub reads, validates, pseudonymises and
# loads them into ClickHouse and acknowledges each mail through Postfix to
# the hospital's mailbox; then the figures (MR.1, MR.2) and two
# acknowledgements as the hospital reads them.
# DEMO_DIR, DEMO_DB and DEMO_INBOX let two demos share the servers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$root/scripts/lib.sh"
cd "$root"
run=.run
demo=${DEMO_DIR:-$run/demo}
count=${DEMO_COUNT:-200}
seed=${DEMO_SEED:-2026}
db=${DEMO_DB:-bndmr_demo}
inbox=${DEMO_INBOX:-INBOX}
processed=Processed
[ "$inbox" = INBOX ] || processed=$inbox-done
ch="clickhouse-client --port ${BNDMR_CH_TCP_PORT:-19000}"
imap=127.0.0.1:${BNDMR_IMAP_PORT:-10143}
smtp=127.0.0.1:${BNDMR_SMTP_PORT:-10025}
dove="doveadm -c $run/dovecot/dovecot.conf"
hospital=hospital@chu.test
# This run's mails (and so its acknowledgements) carry the tag in their
# Message-ID: the hospital mailbox also holds other tests' acknowledgements.
tag=demo$(date +%s)


say "Fresh start: empty demo mailbox, database $db, hub state, no acknowledgement of an earlier demo"
rm -rf "$demo" && mkdir -p "$demo"
empty_folders "$dove" hub@bndmr.test "$inbox" "$processed"
bin/bndmrctl mdn --imap-addr "$imap" --imap-user "$hospital" --imap-password secret --delete-matching "<demo"
$ch -q "DROP DATABASE IF EXISTS $db"
$ch -q "CREATE DATABASE $db"

say "A pseudonymisation key (kept in $demo/key.json; in production a Kubernetes Secret)"
bin/bndmrctl keygen --out "$demo/key.json"

say "$count synthetic MSSanté mails (SDM-MR 2024.01 in IHE_XDM.zip), seed $seed: 5 % of the documents invalid, 1.5 % of the mails hostile"
bin/bndmrctl gen --seed "$seed" --count "$count" --out "$demo/mails" \
	--invalid-rate 0.05 --hostile-rate 0.015 --notify-to "$hospital" --message-id-tag "$tag"

say "Hospitals send them: the mails land in hub@bndmr.test's $inbox on Dovecot ($imap)"
bin/bndmrctl deliver --imap-addr "$imap" --imap-user hub@bndmr.test --imap-password secret --folder "$inbox" "$demo/mails"

say "The hub runs (ingest → validator → pseudonymisation → loader, ack → Postfix $smtp → $hospital) until the mailbox is drained"
start=$(date +%s%N)
bin/hub --data-dir "$demo/hub" --nats-port -1 --http-addr 127.0.0.1:0 --indicators-addr 127.0.0.1:0 --auth none \
	--imap-addr "$imap" --imap-tls none --imap-user hub@bndmr.test --imap-password secret \
	--imap-inbox "$inbox" --imap-processed "$processed" \
	--pseudo-key-file "$demo/key.json" --clickhouse "clickhouse://127.0.0.1:${BNDMR_CH_TCP_PORT:-19000}/$db" \
	--smtp-addr "$smtp" --smtp-tls none --hub-address hub@bndmr.test \
	--exit-when-idle 2s --log-level warn
took_ms=$((($(date +%s%N) - start) / 1000000))

say "Documents received per establishment (from ClickHouse, $db.documents)"
$ch -d "$db" --format PrettyCompact -q "
	SELECT finess AS \`FINESS\`, uniqExact(set_id, version_number) AS \`versions reçues\`,
	       uniqExact(set_id) AS \`dossiers\`, uniqExactIf(patient_traits_pseudonym, patient_traits_pseudonym != '') AS \`patients\`, sum(opposition) AS \`oppositions\`,
	       toString(max(effective_date)) AS \`dernier document\`
	FROM documents GROUP BY finess ORDER BY finess"
manifest=$demo/mails/manifest.jsonl
loaded=$($ch -d "$db" -q "SELECT uniqExact(set_id, version_number) FROM documents")
generated=$(wc -l <"$manifest")
expected=$(grep -cvE '"(invalid|hostile)":' "$manifest" || true)
printf '\n%s mails generated, %s documents to accept, %s loaded; the hub ran %d.%03d s.\n' \
	"$generated" "$expected" "$loaded" $((took_ms / 1000)) $((took_ms % 1000))
if [ "$loaded" != "$expected" ]; then
	echo "demo: MISMATCH: the documents loaded are not the valid ones generated; see the hub's log above" >&2
	exit 1
fi

say "What the hub refused (from ClickHouse, $db.receipts), and what the generator broke on purpose"
$ch -d "$db" --format PrettyCompact -q "
	SELECT if(mail_rejection_code != '', concat('courriel entier : ', mail_rejection_code), rejection_code) AS \`motif\`,
	       any(cisis_code) AS \`code CI-SIS\`, uniqExact(mail_id, doc_index) AS \`refus\`
	FROM receipts WHERE accepted = 0 GROUP BY \`motif\` ORDER BY \`motif\`"
echo "generated: $(grep -c '"invalid":"schematron"' "$manifest" || true) schematron, $(grep -c '"invalid":"xsd"' "$manifest" || true) XSD," \
	"$(grep -o '"hostile":"[a-z_]*"' "$manifest" | cut -d'"' -f4 | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}')"

dsn="clickhouse://127.0.0.1:${BNDMR_CH_TCP_PORT:-19000}/$db"
bin/bndmrctl import establishments --clickhouse "$dsn" "$demo/mails/establishments.csv" 2>/dev/null
bin/bndmrctl import centres --clickhouse "$dsn" "$demo/mails/centres.csv" 2>/dev/null
month=$($ch -d "$db" -q "SELECT substring(toString(toStartOfMonth(effective_date)), 1, 7) AS m FROM documents GROUP BY m ORDER BY count() DESC, m DESC LIMIT 1")
first=$($ch -d "$db" -q "SELECT substring(toString(min(effective_date)), 1, 7) FROM documents")
last=$($ch -d "$db" -q "SELECT substring(toString(max(effective_date)), 1, 7) FROM documents")
say "MR.1 per establishment, $first to $last (labelled centres that sent at least one SDM-MR ÷ labelled centres, target 95 %)"
echo "(centres.csv: $(($(wc -l <"$demo/mails/centres.csv") - 1)) labelled centres, $(grep -c '' <<<"$(grep -o '"centre":"[^"]*"' "$manifest" | sort -u)") of them named by a document)"
bin/bndmrctl export mr1 --clickhouse "$dsn" --from "$first" --to "$last"
say "MR.2 per establishment for $month, the busiest month (versions transmitted ÷ versions updated in the DPI, target 95 %)"
echo "(no DPI counts declared here: the denominator is estimated from the version numbers seen)"
bin/bndmrctl export mr2 --clickhouse "$dsn" --month "$month"

say "Acknowledgements as $hospital reads them (RFC 8098 MDN through Postfix $smtp, read back over IMAP)"
ok_id=$(grep -m1 -vE '"(invalid|hostile)":' "$manifest" | grep -o '"message_id":"[^"]*"' | cut -d'"' -f4)
ko_id=$(grep -m1 '"invalid":"schematron"' "$manifest" | grep -o '"message_id":"[^"]*"' | cut -d'"' -f4)
echo "-- a mail integrated:"
bin/bndmrctl mdn --imap-addr "$imap" --imap-user "$hospital" --imap-password secret --wait 60s "$ok_id"
echo
echo "-- a mail refused:"
bin/bndmrctl mdn --imap-addr "$imap" --imap-user "$hospital" --imap-password secret --wait 60s "$ko_id"

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
  - Every acknowledgement:      grep -o '"message_id":"[^"]*"' $manifest | cut -d'"' -f4 | xargs bin/bndmrctl mdn --imap-password secret
  - Run it again with more:     DEMO_COUNT=2000 make demo
  - Run the tests:              make test
TXT

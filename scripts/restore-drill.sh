#!/usr/bin/env bash
# The restore drill (make restore-drill): the all-in-one hub loads a small
# generated mail set while the SMTP relay is unreachable, so the
# acknowledgements stay pending in JetStream; the hub stops; ClickHouse
# (FREEZE, 18.16) and JetStream (stream snapshots, consumers included) are
# backed up, restored into an EMPTY database and an EMPTY NATS store, and the
# figures (documents, MR.1, MR.2, epidemiology) and the messages still to
# handle per stream and consumer are compared. Exit 1 when they differ.
# DRILL_DIR, DRILL_DB, DRILL_COUNT, DRILL_SEED; DRILL_KEEP=1 keeps the
# databases and folders for a look.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$root/scripts/lib.sh"
cd "$root"
dir=${DRILL_DIR:-.run/restore-drill}
db=${DRILL_DB:-bndmr_drill}
restored=${db}_restored
count=${DRILL_COUNT:-40}
seed=${DRILL_SEED:-2121}
inbox=drill
port=${BNDMR_CH_TCP_PORT:-19000}
ch="clickhouse-client --port $port"
imap=127.0.0.1:${BNDMR_IMAP_PORT:-10143}
dove="doveadm -c .run/dovecot/dovecot.conf"
src_dsn="clickhouse://127.0.0.1:$port/$db"
dst_dsn="clickhouse://127.0.0.1:$port/$restored"

cleanup() {
	[ -n "${hub_pid:-}" ] && kill "$hub_pid" 2>/dev/null || true
	if [ "${DRILL_KEEP:-}" != 1 ]; then
		$ch -q "DROP DATABASE IF EXISTS $db" || true
		$ch -q "DROP DATABASE IF EXISTS $restored" || true
	fi
}
trap cleanup EXIT

say "Fresh start: $dir, databases $db and $restored, mailbox folder $inbox"
rm -rf "$dir" && mkdir -p "$dir"
empty_folders "$dove" hub@bndmr.test "$inbox" "$inbox-done"
$ch -q "DROP DATABASE IF EXISTS $db"
$ch -q "DROP DATABASE IF EXISTS $restored"
$ch -q "CREATE DATABASE $db"
bin/bndmrctl keygen --out "$dir/key.json" 2>/dev/null
bin/bndmrctl gen --seed "$seed" --count "$count" --out "$dir/mails" --invalid-rate 0.05 --notify-to hospital@chu.test >/dev/null
bin/bndmrctl deliver --imap-addr "$imap" --imap-user hub@bndmr.test --imap-password secret --folder "$inbox" "$dir/mails" >/dev/null
mails=$(wc -l <"$dir/mails/manifest.jsonl")
expected=$(grep -cvE '"(invalid|hostile)":' "$dir/mails/manifest.jsonl" || true)

say "The hub runs; the SMTP relay is unreachable (127.0.0.1:1), so every acknowledgement stays pending"
bin/hub --data-dir "$dir/hub" --nats-port -1 --http-addr 127.0.0.1:0 --indicators-addr 127.0.0.1:0 --auth none \
	--imap-addr "$imap" --imap-tls none --imap-user hub@bndmr.test --imap-password secret \
	--imap-inbox "$inbox" --imap-processed "$inbox-done" --pseudo-key-file "$dir/key.json" --clickhouse "$src_dsn" \
	--smtp-addr 127.0.0.1:1 --smtp-tls none --hub-address hub@bndmr.test --log-level error 2>"$dir/hub.log" &
hub_pid=$!
for _ in $(seq 1 600); do
	docs=$($ch -d "$db" -q "SELECT uniqExact(set_id, version_number) FROM documents" 2>/dev/null || echo 0)
	receipts=$($ch -d "$db" -q "SELECT uniqExact(mail_id) FROM receipts" 2>/dev/null || echo 0)
	[ "$docs" = "$expected" ] && [ "$receipts" = "$mails" ] && break
	kill -0 "$hub_pid" 2>/dev/null || { echo "restore-drill: the hub stopped early; see $dir/hub.log" >&2; exit 1; }
	sleep 0.5
done
[ "$docs" = "$expected" ] || { echo "restore-drill: the hub loaded $docs of $expected documents in 5 min" >&2; exit 1; }
echo "$mails mails, $docs documents loaded, $receipts receipts; stopping the hub"
kill -TERM "$hub_pid"
wait "$hub_pid" || true
hub_pid=

# Reference data, as an operator imports it: MR.1 counts labelled centres.
bin/bndmrctl import establishments --clickhouse "$src_dsn" "$dir/mails/establishments.csv" 2>/dev/null
bin/bndmrctl import centres --clickhouse "$src_dsn" "$dir/mails/centres.csv" 2>/dev/null

say "State of the source: figures from $db, messages still to handle in the hub's store"
bin/bndmrctl backup state --clickhouse "$src_dsn" --store-dir "$dir/hub" --digest >"$dir/before.txt"
grep -E '^(stream|consumer)' "$dir/before.txt"

say "Backups: JetStream (snapshot of every stream, consumers included) and ClickHouse (FREEZE of every table)"
bin/bndmrctl backup nats --store-dir "$dir/hub" --out "$dir/backup/nats"
bin/bndmrctl backup clickhouse --clickhouse "$src_dsn" --out "$dir/backup/clickhouse"
du -sh "$dir/backup/nats" "$dir/backup/clickhouse"

say "Restores into an EMPTY database ($restored) and an EMPTY NATS store ($dir/restored-nats)"
$ch -q "CREATE DATABASE $restored"
bin/bndmrctl restore clickhouse --clickhouse "$dst_dsn" "$dir/backup/clickhouse"
bin/bndmrctl restore nats --store-dir "$dir/restored-nats" "$dir/backup/nats"

say "State of the restore, compared"
bin/bndmrctl backup state --clickhouse "$dst_dsn" --store-dir "$dir/restored-nats" --digest >"$dir/after.txt"
if ! diff -u "$dir/before.txt" "$dir/after.txt"; then
	echo "restore-drill: FAILED: the restore differs from the source (above; $dir/before.txt, $dir/after.txt)" >&2
	exit 1
fi
unhandled=$(grep -oE 'consumer BNDMR_OUTCOME/ack unhandled=[0-9]+' "$dir/after.txt" | grep -oE '[0-9]+$' || echo 0)
if [ "$unhandled" -eq 0 ] || ! grep -q '"Versions"' "$dir/after.txt"; then
	echo "restore-drill: FAILED: nothing pending or no document: the comparison proves nothing" >&2
	exit 1
fi
grep -E '^(MR.1|MR.2) ' "$dir/after.txt" | cut -c1-240
echo
echo "restore-drill: OK: figures (documents, MR.1, MR.2, epidemiology) and JetStream (messages, digests, consumer positions; $unhandled acknowledgements pending) equal after the restore"

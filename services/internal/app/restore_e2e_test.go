package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/chbackup"
	"github.com/bndmr/hub/pkg/chtest"
	"github.com/bndmr/hub/pkg/drill"
	"github.com/bndmr/hub/pkg/indicators"
	"github.com/bndmr/hub/pkg/jsbackup"
	"github.com/bndmr/hub/pkg/store"
)

// TestRestoreDrill is `make restore-drill` in small: the hub loads a few
// mails while the SMTP relay is unreachable (the acknowledgements stay
// pending), stops; ClickHouse and JetStream are backed up, restored into an
// empty database and an empty NATS store, and the restore shows the same
// figures (documents, MR.1, MR.2, epidemiology) and the same messages still
// to handle, per stream and consumer.
func TestRestoreDrill(t *testing.T) {
	e := newE2E(t, 2121, 6)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The hub runs in this process (no build: the test stays under a
	// minute); it stops on SIGTERM like the binary, through its signal
	// context, which is registered from its start until it returns.
	hubDone := make(chan int, 1)
	go func() {
		// Port 1 on loopback refuses connections: every MDN waits for a retry.
		hubDone <- HubMain(e.args("--smtp-addr", "127.0.0.1:1", "--smtp-tls", "none", "--hub-address", "hub2@bndmr.test"))
	}()
	mails := uint64(6)
	// Until the loader has migrated the database, the tables are missing:
	// 0 so far.
	count := func(q string) uint64 {
		var n uint64
		_ = e.st.Conn().QueryRow(ctx, q).Scan(&n)
		return n
	}
	for {
		docs := count("SELECT uniqExact(set_id, version_number) FROM documents")
		receipts := count("SELECT uniqExact(mail_id) FROM receipts")
		if docs == uint64(len(e.docs)) && receipts == mails {
			break
		}
		select {
		case code := <-hubDone:
			t.Fatalf("the hub stopped early with status %d", code)
		default:
		}
		if ctx.Err() != nil {
			t.Fatalf("the hub loaded %d of %d documents and %d of %d receipts in time", docs, len(e.docs), receipts, mails)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// A stop while the relay is away: status 0, or ExitNotReady when the
	// watcher saw the ack stage not ready.
	if code := <-hubDone; code != 0 && code != ExitNotReady {
		t.Fatalf("hub stopped with status %d", code)
	}

	period, err := indicators.ParsePeriod("2015-01", time.Now().Format("2006-01"))
	if err != nil {
		t.Fatal(err)
	}
	backup := t.TempDir()

	// The source: the hub's store, opened as `bndmrctl backup nats
	// --store-dir` does, and its database.
	key, err := os.ReadFile(filepath.Join(e.dataDir, "store.key"))
	if err != nil {
		t.Fatal(err)
	}
	srcNATS, err := bus.StartEmbedded(bus.EmbeddedConfig{Port: -1, StoreDir: e.dataDir, StoreKey: strings.TrimSpace(string(key))})
	if err != nil {
		t.Fatal(err)
	}
	nc, js, err := bus.Connect(ctx, bus.Config{URL: srcNATS.ClientURL()}, "drill")
	if err != nil {
		t.Fatal(err)
	}
	pendingBefore, err := drill.Pending(ctx, js, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jsbackup.BackupAll(ctx, nc, filepath.Join(backup, "nats")); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	srcNATS.Shutdown()
	figuresBefore, err := drill.Figures(ctx, e.st, period)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chbackup.Freeze(ctx, e.st, filepath.Join(backup, "clickhouse")); err != nil {
		t.Fatal(err)
	}

	// The restore: an empty database, an empty NATS store.
	restoredDSN, _ := chtest.DatabaseOn(t, e.dsn, "e2e_restored")
	dst, err := store.Open(ctx, restoredDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := chbackup.Thaw(ctx, dst, filepath.Join(backup, "clickhouse"), chbackup.ThawOptions{}); err != nil {
		t.Fatal(err)
	}
	dstNATS, err := bus.StartEmbedded(bus.EmbeddedConfig{Port: -1, StoreDir: t.TempDir(), StoreKey: "another-key-for-the-restored-store"})
	if err != nil {
		t.Fatal(err)
	}
	defer dstNATS.Shutdown()
	nc2, js2, err := bus.Connect(ctx, bus.Config{URL: dstNATS.ClientURL()}, "drill")
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	if _, err := jsbackup.RestoreAll(ctx, nc2, filepath.Join(backup, "nats"), jsbackup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	pendingAfter, err := drill.Pending(ctx, js2, true)
	if err != nil {
		t.Fatal(err)
	}
	figuresAfter, err := drill.Figures(ctx, dst, period)
	if err != nil {
		t.Fatal(err)
	}

	if figuresAfter != figuresBefore {
		t.Errorf("figures differ after the restore:\nbefore:\n%s\nafter:\n%s", figuresBefore, figuresAfter)
	}
	if pendingAfter != pendingBefore {
		t.Errorf("JetStream state differs after the restore:\nbefore:\n%s\nafter:\n%s", pendingBefore, pendingAfter)
	}
	t.Logf("restored: %s", drill.Summary(figuresBefore, pendingBefore))
	// Equal and meaningful: documents loaded, and the acknowledgements of
	// all six mails still to send.
	if !strings.Contains(pendingBefore, "consumer BNDMR_OUTCOME/ack unhandled=6 ") {
		t.Errorf("the ack consumer should still hold the 6 outcomes:\n%s", pendingBefore)
	}
	if !strings.Contains(figuresBefore, `"Versions"`) || !strings.Contains(figuresBefore, "MR.2 [{") {
		t.Errorf("figures without documents or MR.2:\n%s", figuresBefore)
	}
}

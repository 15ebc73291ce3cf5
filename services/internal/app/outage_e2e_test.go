package app

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/testsupport"
	"github.com/bndmr/hub/pkg/topology/chinstance"
)

// clickHouse is a ClickHouse server of the test's own
// (scripts/clickhouse-instance.sh), to kill and start again without
// touching the servers other tests use.
type clickHouse struct {
	cfg chinstance.Config
	srv *chinstance.Server
}

func startOwnClickHouse(t *testing.T) *clickHouse {
	t.Helper()
	ch := &clickHouse{cfg: chinstance.Config{Dir: t.TempDir(), TCP: testsupport.FreePort(t), HTTP: testsupport.FreePort(t)}}
	ch.start(t)
	return ch
}

func (ch *clickHouse) dsn() string {
	return fmt.Sprintf("clickhouse://127.0.0.1:%d/default", ch.cfg.TCP)
}

// start starts the server again on its folder and ports.
func (ch *clickHouse) start(t *testing.T) {
	t.Helper()
	ch.srv = chinstance.Start(t, ch.cfg)
}

// kill stops the server with SIGKILL and waits for the process to go.
func (ch *clickHouse) kill(t *testing.T) { ch.srv.Kill() }

// outageDuration: how long ClickHouse stays away; longer than the 100 s
// after which the old 20-delivery limit dropped records for good.
func outageDuration(t *testing.T) time.Duration {
	if v := os.Getenv("BNDMR_TEST_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("BNDMR_TEST_OUTAGE=%q: %v", v, err)
		}
		return d
	}
	return 3 * time.Minute
}

// TestEndToEndClickHouseOutage is the case that lost data before: ClickHouse
// killed while records are pending and away for minutes. The hub must not
// call itself idle while it is away, and once it is back every document and
// every receipt is loaded, exactly once, and the hub exits 0.
func TestEndToEndClickHouseOutage(t *testing.T) {
	ch := startOwnClickHouse(t)
	e := newE2EOn(t, ch.dsn(), 13, 60)
	outage := outageDuration(t)

	done := make(chan int, 1)
	started := time.Now()
	go func() {
		done <- HubMain(e.args("--exit-when-idle", "1500ms", "--loader-flush", "200ms", "--loader-batch", "5"))
	}()
	// Kill it once part of the work is loaded: records are then pending.
	for e.countOr(t, "SELECT count() FROM documents") < 5 {
		select {
		case code := <-done:
			t.Fatalf("hub exited (%d) before ClickHouse could be killed", code)
		default:
		}
		if time.Since(started) > 2*time.Minute {
			t.Fatal("no document loaded within 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ch.kill(t)
	killedAt := time.Now()
	t.Logf("ClickHouse killed after %s; away for %s", killedAt.Sub(started).Round(time.Millisecond), outage)
	select {
	case code := <-done:
		t.Fatalf("hub exited (%d) while ClickHouse was away", code)
	case <-time.After(outage):
	}
	ch.start(t)
	back := time.Now()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("hub exited with %d after the outage", code)
		}
	case <-time.After(5 * time.Minute):
		t.Fatal("hub still running 5 minutes after ClickHouse came back")
	}
	t.Logf("drained %s after ClickHouse came back", time.Since(back).Round(time.Millisecond))
	waitMailboxEmpty(t, e, len(e.docs))
	e.checkLoaded(t)
	if n := e.count(t, "SELECT uniqExact(mail_id) FROM receipts"); n != uint64(len(e.docs)) {
		t.Errorf("receipts for %d mails, want %d", n, len(e.docs))
	}
}

// countOr is count, or 0 while the query fails (tables not made yet).
func (e *e2e) countOr(t *testing.T, query string) uint64 {
	t.Helper()
	var n uint64
	if err := e.st.Conn().QueryRow(context.Background(), query).Scan(&n); err != nil {
		return 0
	}
	return n
}

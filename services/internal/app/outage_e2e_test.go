package app

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/testsupport"
)

// clickHouse is a ClickHouse server of the test's own
// (scripts/clickhouse-instance.sh), to kill and start again without
// touching the servers other tests use.
type clickHouse struct {
	dir       string
	tcp, http int
	cmd       *exec.Cmd
	exited    chan struct{}
}

func startOwnClickHouse(t *testing.T) *clickHouse {
	t.Helper()
	if _, err := exec.LookPath("clickhouse-server"); err != nil {
		t.Fatal("clickhouse-server is not installed: run through `make test` (make deps installs it)")
	}
	ch := &clickHouse{dir: t.TempDir(), tcp: testsupport.FreePort(t), http: testsupport.FreePort(t)}
	ch.start(t)
	t.Cleanup(func() { ch.kill(t) })
	return ch
}

func (ch *clickHouse) dsn() string { return fmt.Sprintf("clickhouse://127.0.0.1:%d/default", ch.tcp) }

func (ch *clickHouse) start(t *testing.T) {
	t.Helper()
	script, err := filepath.Abs("../../../scripts/clickhouse-instance.sh")
	if err != nil {
		t.Fatal(err)
	}
	ch.cmd = exec.Command(script, ch.dir, strconv.Itoa(ch.tcp), strconv.Itoa(ch.http))
	log, err := os.OpenFile(filepath.Join(ch.dir, "console.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ch.cmd.Stdout, ch.cmd.Stderr = log, log
	if err := ch.cmd.Start(); err != nil {
		t.Fatalf("starting ClickHouse: %v", err)
	}
	ch.exited = make(chan struct{})
	go func() { ch.cmd.Wait(); log.Close(); close(ch.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := store.Open(context.Background(), ch.dsn())
		if err == nil {
			st.Close()
			return
		}
		select {
		case <-ch.exited:
			b, _ := os.ReadFile(filepath.Join(ch.dir, "console.log"))
			t.Fatalf("ClickHouse exited at start: %s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClickHouse on port %d did not answer within 60 s: %v", ch.tcp, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kill stops the server with SIGKILL and waits for the process to go.
func (ch *clickHouse) kill(t *testing.T) {
	t.Helper()
	if ch.cmd == nil || ch.cmd.Process == nil {
		return
	}
	select {
	case <-ch.exited:
		return
	default:
	}
	_ = ch.cmd.Process.Kill()
	<-ch.exited
}

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

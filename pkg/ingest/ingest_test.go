package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/mailbox"
	"github.com/bndmr/hub/pkg/mailbox/mailboxtest"
	"github.com/bndmr/hub/pkg/testsupport"
)

// dovecot returns the address of the Dovecot that `make up` started.
func dovecot(t *testing.T) string {
	t.Helper()
	return testsupport.Env(t, "BNDMR_TEST_IMAP", "Dovecot")
}

// natsServer is an embedded JetStream on a fixed port, so that it can be
// stopped and started again under connected clients.
type natsServer struct {
	t     *testing.T
	port  int
	store string
	srv   *server.Server
}

func startNATS(t *testing.T) *natsServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	n := &natsServer{t: t, port: port, store: t.TempDir()}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

func (n *natsServer) start() {
	n.t.Helper()
	s, err := bus.StartEmbedded(bus.EmbeddedConfig{Port: n.port, StoreDir: n.store})
	if err != nil {
		n.t.Fatal(err)
	}
	n.srv = s
}

func (n *natsServer) stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

func connect(t *testing.T, n *natsServer) jetstream.JetStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, js, err := bus.Connect(ctx, bus.Config{URL: n.url()}, "ingest-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		t.Fatal(err)
	}
	return js
}

// testBox is a mailbox of user's own to the test: its inbox and processed
// folders (mailboxtest.Pair) and the reader's configuration of them.
func testBox(t *testing.T, addr, user string) (inbox, processed string, cfg mailbox.Config) {
	t.Helper()
	inbox, processed = mailboxtest.Pair(t, addr, user)
	return inbox, processed, boxConfig(addr, user, inbox, processed)
}

func boxConfig(addr, user, inbox, processed string) mailbox.Config {
	return mailbox.Config{Name: user + "/" + inbox, Addr: addr, TLS: "none", User: user, Password: mailboxtest.Password,
		Inbox: inbox, Processed: processed, PollInterval: 200 * time.Millisecond, Batch: 5, MaxBackoff: 300 * time.Millisecond}
}

func mail(tag string, i, pad int) []byte {
	return []byte(fmt.Sprintf("From: a@chu.test\r\nTo: hub@bndmr.test\r\nSubject: %s %d\r\nMessage-ID: <%d.%s@chu.test>\r\n\r\nbody %d\r\n%s\r\n",
		tag, i, i, tag, i, strings.Repeat("x", pad)))
}

func deliver(t *testing.T, cfg mailbox.Config, mails [][]byte) {
	t.Helper()
	_, err := mailbox.Deliver(context.Background(), cfg, cfg.Inbox, func(yield func([]byte) bool) {
		for _, m := range mails {
			if !yield(m) {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func waiting(t *testing.T, cfg mailbox.Config, folder string) uint32 {
	t.Helper()
	cfg.Inbox = folder
	n, err := mailbox.Waiting(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// published reads every mail.raw event of the stream.
func published(t *testing.T, js jetstream.JetStream) []events.MailRaw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, bus.StreamMail)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.MailRaw
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.MailRaw
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// streamCount is how many mails the stream holds (0 when it cannot say).
func streamCount(t *testing.T, js jetstream.JetStream) uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return streamMsgs(ctx, js)
}

// run starts the ingest service and returns a function that stops it.
func run(t *testing.T, cfg Config, js jetstream.JetStream, reg prometheus.Registerer) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, js, zaptest.NewLogger(t), reg) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ingest.Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestTwoMailboxesAndABrokenOne reads two mailboxes at once while a third
// cannot log in; a large mail goes through the object store.
func TestTwoMailboxesAndABrokenOne(t *testing.T) {
	addr := dovecot(t)
	js := connect(t, startNATS(t))
	in1, done1 := mailboxtest.Pair(t, addr, "hub@bndmr.test")
	in2, done2 := mailboxtest.Pair(t, addr, "hub2@bndmr.test")
	a, b := boxConfig(addr, "hub@bndmr.test", in1, done1), boxConfig(addr, "hub2@bndmr.test", in2, done2)
	broken := boxConfig(addr, "hub@bndmr.test", in1+"-x", done1)
	broken.Name, broken.Password = "broken", "wrong"
	var ma, mb [][]byte
	for i := range 6 {
		ma = append(ma, mail("a", i, 0))
	}
	for i := range 7 {
		mb = append(mb, mail("b", i, 0))
	}
	mb = append(mb, mail("big", 0, 10_000))
	deliver(t, a, ma)
	run(t, Config{Mailboxes: []mailbox.Config{a, broken, b}, MaxInline: 4096, RetryEvery: 200 * time.Millisecond}, js, nil)
	deliver(t, b, mb)

	testsupport.WaitFor(t, "14 mails in the stream", 30*time.Second, func() bool { return streamCount(t, js) == 14 })
	testsupport.WaitFor(t, "empty inboxes", 10*time.Second, func() bool { return waiting(t, a, in1) == 0 && waiting(t, b, in2) == 0 })
	if n := waiting(t, a, done1); n != 6 {
		t.Errorf("%d mails in %s, want 6", n, done1)
	}
	if n := waiting(t, b, done2); n != 8 {
		t.Errorf("%d mails in %s, want 8", n, done2)
	}
	per := map[string]int{}
	for _, ev := range published(t, js) {
		per[ev.Mailbox]++
		if ev.Object == "" {
			continue
		}
		obs, err := js.ObjectStore(context.Background(), bus.ObjectStore)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := obs.GetBytes(context.Background(), ev.Object)
		if err != nil {
			t.Fatalf("large mail %s: %v", ev.Object, err)
		}
		if string(raw) != string(mb[7]) || ev.Size != int64(len(raw)) {
			t.Errorf("object %s holds %d bytes, not the large mail", ev.Object, len(raw))
		}
		per["object"]++
	}
	if per[a.Name] != 6 || per[b.Name] != 8 || per["object"] != 1 {
		t.Errorf("published per mailbox: %v", per)
	}
}

// TestJetStreamAway stops NATS: ingest keeps the mails in the inbox and
// publishes them all once it is back.
func TestJetStreamAway(t *testing.T) {
	addr := dovecot(t)
	n := startNATS(t)
	js := connect(t, n)
	in, done, cfg := testBox(t, addr, "hub@bndmr.test")
	run(t, Config{Mailboxes: []mailbox.Config{cfg}, RetryEvery: 200 * time.Millisecond}, js, nil)
	deliver(t, cfg, [][]byte{mail("before", 0, 0)})
	testsupport.WaitFor(t, "the first mail", 20*time.Second, func() bool { return waiting(t, cfg, done) == 1 })

	n.stop()
	var later [][]byte
	for i := range 5 {
		later = append(later, mail("during", i, 0))
	}
	deliver(t, cfg, later)
	time.Sleep(2 * time.Second)
	if got := waiting(t, cfg, in); got != 5 {
		t.Fatalf("%d mails left in the inbox while JetStream is away, want 5 (nothing moved before its PubAck)", got)
	}
	n.start()
	testsupport.WaitFor(t, "6 mails in the stream", 30*time.Second, func() bool { return streamCount(t, js) == 6 })
	testsupport.WaitFor(t, "an empty inbox", 10*time.Second, func() bool { return waiting(t, cfg, in) == 0 })
}

// TestPublishedButNotMoved: mails published (PubAck) whose move never
// happened, as after a crash, are taken again without a duplicate.
func TestPublishedButNotMoved(t *testing.T) {
	addr := dovecot(t)
	js := connect(t, startNATS(t))
	in, _, cfg := testBox(t, addr, "hub@bndmr.test")
	var mails [][]byte
	for i := range 12 {
		mails = append(mails, mail("crash", i, 0))
	}
	deliver(t, cfg, mails)
	icfg := Config{Mailboxes: []mailbox.Config{cfg}, RetryEvery: 200 * time.Millisecond}.WithDefaults()
	if err := icfg.Validate(); err != nil {
		t.Fatal(err)
	}

	// A first ingest published the first 7 and died before moving them:
	// some with their content key recorded, some without.
	h := newHandoff(js, icfg, zap.NewNop(), newMetrics())
	c := mailboxtest.Login(t, addr, "hub@bndmr.test")
	sel, err := c.Select(in, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	section := &imap.FetchItemBodySection{Peek: true}
	fetched, err := c.Fetch(imap.SeqSetNum(1, 2, 3, 4, 5, 6, 7), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	c.Close()
	if err != nil || len(fetched) != 7 {
		t.Fatalf("fetching 7 mails: %d, %v", len(fetched), err)
	}
	for i, f := range fetched {
		m := mailbox.Message{Mailbox: cfg.Name, UIDValidity: sel.UIDValidity, UID: uint32(f.UID), Raw: f.FindBodySection(section)}
		if i%2 == 0 {
			err = h.sink(context.Background(), m) // published and recorded
		} else {
			sum := sha256.Sum256(m.Raw)
			ev := events.MailRaw{V: events.MailRawV, MailID: m.ID(), Mailbox: m.Mailbox, UIDValidity: m.UIDValidity, UID: m.UID,
				SHA256: hex.EncodeToString(sum[:]), Raw: m.Raw}
			err = h.publish(context.Background(), ev, m.Raw) // published only
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := waiting(t, cfg, in); got != 12 {
		t.Fatalf("%d mails in the inbox after the crash, want 12 (none moved)", got)
	}
	if got := streamCount(t, js); got != 7 {
		t.Fatalf("%d mails published before the crash, want 7", got)
	}

	run(t, icfg, js, nil)
	testsupport.WaitFor(t, "an empty inbox", 20*time.Second, func() bool { return waiting(t, cfg, in) == 0 })
	assertOnce(t, js, 12)
}

// assertOnce checks that the stream holds want mails, each once.
func assertOnce(t *testing.T, js jetstream.JetStream, want int) {
	t.Helper()
	evs := published(t, js)
	content, ids := map[string]int{}, map[string]int{}
	for _, ev := range evs {
		content[ev.Mailbox+"\x00"+ev.SHA256]++
		ids[ev.MailID]++
	}
	if len(evs) != want || len(content) != want || len(ids) != want {
		t.Fatalf("%d events for %d distinct contents and %d distinct MailIDs in the stream, want %d of each", len(evs), len(content), len(ids), want)
	}
}

// TestUIDValidityReset recreates the folder and puts the same mails back:
// the server gives them new UIDs under a new UIDVALIDITY, and nothing is
// published twice.
func TestUIDValidityReset(t *testing.T) {
	addr := dovecot(t)
	js := connect(t, startNATS(t))
	in, _, cfg := testBox(t, addr, "hub@bndmr.test")
	var mails [][]byte
	for i := range 8 {
		mails = append(mails, mail("reset", i, 0))
	}
	deliver(t, cfg, mails)
	icfg := Config{Mailboxes: []mailbox.Config{cfg}, RetryEvery: 200 * time.Millisecond}
	stop := run(t, icfg, js, nil)
	testsupport.WaitFor(t, "8 mails in the stream", 20*time.Second, func() bool { return streamCount(t, js) == 8 })
	testsupport.WaitFor(t, "an empty inbox", 10*time.Second, func() bool { return waiting(t, cfg, in) == 0 })
	stop()

	// The operator's server loses its index: same folder name, new UIDVALIDITY,
	// the same mails again (plus one new one).
	c := mailboxtest.Login(t, addr, "hub@bndmr.test")
	before, err := c.Status(in, &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(in).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(in, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	after, err := c.Status(in, &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if before.UIDValidity == after.UIDValidity {
		t.Fatalf("UIDVALIDITY still %d after recreating the folder", after.UIDValidity)
	}
	deliver(t, cfg, append(mails, mail("reset-new", 0, 0)))

	reg := prometheus.NewRegistry()
	run(t, icfg, js, reg)
	testsupport.WaitFor(t, "an empty inbox", 20*time.Second, func() bool { return waiting(t, cfg, in) == 0 })
	assertOnce(t, js, 9)
	if got := testutil.ToFloat64(newCounterFrom(t, reg, "bndmr_ingest_duplicates_total")); got != 8 {
		t.Errorf("bndmr_ingest_duplicates_total = %v, want 8", got)
	}
	if got, err := testutil.GatherAndCount(reg, "bndmr_ingest_uidvalidity_changes_total"); err != nil || got != 1 {
		t.Errorf("UIDVALIDITY change not reported (%d series, %v)", got, err)
	}
}

// TestSameBytesHandedOffAtOnce: the reader hands off the mails of a batch
// at once; the same bytes several times in one batch are still published
// once, the others counted as duplicates, and every mail leaves the inbox.
func TestSameBytesHandedOffAtOnce(t *testing.T) {
	addr := dovecot(t)
	js := connect(t, startNATS(t))
	in, done, cfg := testBox(t, addr, "hub@bndmr.test")
	cfg.Batch, cfg.HandOffs = 10, 8
	same := mail("same", 0, 2000)
	mails := [][]byte{same, mail("other", 1, 0), same, same, mail("other", 2, 0), same, same, same}
	deliver(t, cfg, mails)
	reg := prometheus.NewRegistry()
	run(t, Config{Mailboxes: []mailbox.Config{cfg}, RetryEvery: 200 * time.Millisecond}, js, reg)
	testsupport.WaitFor(t, "an empty inbox", 20*time.Second, func() bool { return waiting(t, cfg, in) == 0 })
	if got := waiting(t, cfg, done); got != uint32(len(mails)) {
		t.Errorf("%d mails in %s, want %d", got, done, len(mails))
	}
	assertOnce(t, js, 3)
	if got := testutil.ToFloat64(newCounterFrom(t, reg, "bndmr_ingest_duplicates_total")); got != 5 {
		t.Errorf("bndmr_ingest_duplicates_total = %v, want 5", got)
	}
}

// TestKilledMidDrain SIGKILLs an ingest process twice while it drains a
// mailbox, then lets a third one finish: every mail is in the stream once.
func TestKilledMidDrain(t *testing.T) {
	addr := dovecot(t)
	n := startNATS(t)
	js := connect(t, n)
	in, done, cfg := testBox(t, addr, "hub2@bndmr.test")
	cfg.Batch = 3
	var mails [][]byte
	for i := range 150 {
		mails = append(mails, mail("kill", i, 2000))
	}
	deliver(t, cfg, mails)
	child, err := json.Marshal(childConfig{NATS: n.url(), Mailbox: cfg})
	if err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestIngestProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "BNDMR_INGEST_CHILD="+string(child))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	for _, at := range []uint64{10, 40} {
		cmd := start()
		for deadline := time.Now().Add(30 * time.Second); streamCount(t, js) < at; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %d mails published", at)
			}
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		left := waiting(t, cfg, in)
		t.Logf("killed with %d mails published, %d left in the inbox", streamCount(t, js), left)
		if left == 0 {
			t.Fatal("the mailbox was drained before the kill: the test proves nothing")
		}
	}
	cmd := start()
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	testsupport.WaitFor(t, "an empty inbox", 60*time.Second, func() bool { return waiting(t, cfg, in) == 0 })
	assertOnce(t, js, 150)
	if got := waiting(t, cfg, done); got != 150 {
		t.Errorf("%d mails in %s, want 150", got, done)
	}
}

type childConfig struct {
	NATS    string
	Mailbox mailbox.Config
}

// TestIngestProcess is the ingest process TestKilledMidDrain kills; it does
// nothing in a normal run.
func TestIngestProcess(t *testing.T) {
	spec := os.Getenv("BNDMR_INGEST_CHILD")
	if spec == "" {
		return
	}
	var c childConfig
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		t.Fatal(err)
	}
	nc, js, err := bus.Connect(context.Background(), bus.Config{URL: c.NATS}, "ingest-child")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = Run(context.Background(), Config{Mailboxes: []mailbox.Config{c.Mailbox}, RetryEvery: 200 * time.Millisecond}, js, zap.NewNop(), nil)
}

// newCounterFrom returns the value of a gathered counter as a collector.
func newCounterFrom(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name})
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				c.Add(m.GetCounter().GetValue())
			}
		}
	}
	return c
}

func TestKeys(t *testing.T) {
	base := ContentKey("hub", []byte("mail"))
	for _, tc := range []struct {
		name       string
		mailbox    string
		raw        string
		sameAsBase bool
	}{
		{"same mailbox, same bytes", "hub", "mail", true},
		{"other mailbox", "hub2", "mail", false},
		{"other bytes", "hub", "mail ", false},
		{"name and bytes shifted", "hubm", "ail", false},
	} {
		if got := ContentKey(tc.mailbox, []byte(tc.raw)) == base; got != tc.sameAsBase {
			t.Errorf("%s: same key = %v", tc.name, got)
		}
	}
	for _, mb := range []string{"hub@bndmr.test/INBOX", "a b*>.c", "é"} {
		k := UIDValidityKey(mb)
		if !jetstreamKeyOK(k) {
			t.Errorf("UIDValidityKey(%q) = %q is not a valid KV key", mb, k)
		}
	}
}

// jetstreamKeyOK is the KV key grammar of nats.go: [-/_=.a-zA-Z0-9]+, no
// leading or trailing dot.
func jetstreamKeyOK(k string) bool {
	if k == "" || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") {
		return false
	}
	for _, r := range k {
		if !(r == '-' || r == '/' || r == '_' || r == '=' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func TestStatusCheck(t *testing.T) {
	var s Status
	if err := s.Check([]string{"a", "b"}); err == nil || !strings.Contains(err.Error(), "a, b") {
		t.Fatalf("before any session: %v", err)
	}
	s.set("a", true)
	s.set("b", true)
	if err := s.Check([]string{"a", "b"}); err != nil {
		t.Fatalf("both open: %v", err)
	}
	s.set("b", false)
	if err := s.Check([]string{"a", "b"}); err == nil || !strings.Contains(err.Error(), "no IMAP session with b") {
		t.Fatalf("b lost: %v", err)
	}
}

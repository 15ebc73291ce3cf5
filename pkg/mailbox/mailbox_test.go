package mailbox

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bndmr/hub/pkg/mailbox/mailboxtest"
	"github.com/bndmr/hub/pkg/testsupport"
)

// dovecot returns the address of the Dovecot that `make up` started.
func dovecot(t *testing.T) string {
	t.Helper()
	return testsupport.Env(t, "BNDMR_TEST_IMAP", "Dovecot")
}

// testFolders creates a pair of folders of its own for one test.
func testFolders(t *testing.T, addr string) (inbox, processed string) {
	t.Helper()
	return mailboxtest.Pair(t, addr, "hub@bndmr.test")
}

func login(t *testing.T, addr string) *imapclient.Client {
	t.Helper()
	return mailboxtest.Login(t, addr, "hub@bndmr.test")
}

// runReader runs a reader of cfg until the test ends.
func runReader(t *testing.T, cfg Config, sink Sink, log *zap.Logger, stats Stats) {
	t.Helper()
	r, err := NewReader(cfg, sink, log, stats)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func appendMails(t *testing.T, addr, folder string, n int) {
	t.Helper()
	c := login(t, addr)
	defer c.Close()
	for i := 0; i < n; i++ {
		msg := fmt.Sprintf("From: a@chu.test\r\nTo: hub@bndmr.test\r\nSubject: test %d\r\nMessage-ID: <%d.%s@chu.test>\r\n\r\nbody %d\r\n", i, i, folder, i)
		cmd := c.Append(folder, int64(len(msg)), nil)
		if _, err := cmd.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
}

func count(t *testing.T, addr, folder string) uint32 {
	t.Helper()
	c := login(t, addr)
	defer c.Close()
	st, err := c.Status(folder, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return *st.NumMessages
}

type collector struct {
	mu   sync.Mutex
	seen map[string]int
	fail int // fail the next n hand-offs
}

func (c *collector) sink(_ context.Context, m Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail > 0 {
		c.fail--
		return fmt.Errorf("sink unavailable")
	}
	c.seen[m.ID()]++
	return nil
}

func (c *collector) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func TestReaderDrainsThenFollowsNewMail(t *testing.T) {
	addr := dovecot(t)
	for _, tc := range []struct {
		name   string
		noIdle bool
	}{{"idle", false}, {"poll", true}} {
		t.Run(tc.name, func(t *testing.T) {
			inbox, processed := testFolders(t, addr)
			appendMails(t, addr, inbox, 25) // more than one batch
			col := &collector{seen: map[string]int{}, fail: 3}
			runReader(t, Config{Name: "hub", Addr: addr, TLS: "none", User: "hub@bndmr.test", Password: "secret",
				Inbox: inbox, Processed: processed, NoIdle: tc.noIdle, PollInterval: 200 * time.Millisecond,
				Batch: 10, MaxBackoff: 200 * time.Millisecond}, col.sink, zap.NewNop(), nil)

			testsupport.WaitFor(t, "the first 25 mails", 20*time.Second, func() bool { return col.total() == 25 })
			appendMails(t, addr, inbox, 3)
			testsupport.WaitFor(t, "3 more mails", 20*time.Second, func() bool { return col.total() == 28 })
			testsupport.WaitFor(t, "an empty inbox", 10*time.Second, func() bool { return count(t, addr, inbox) == 0 })
			if got := count(t, addr, processed); got != 28 {
				t.Errorf("%d messages in %s, want 28", got, processed)
			}
		})
	}
}

func TestMessageIDDependsOnEveryPart(t *testing.T) {
	base := Message{Mailbox: "a", UIDValidity: 1, UID: 2}
	ids := map[string]bool{base.ID(): true}
	for _, m := range []Message{{Mailbox: "b", UIDValidity: 1, UID: 2}, {Mailbox: "a", UIDValidity: 2, UID: 2}, {Mailbox: "a", UIDValidity: 1, UID: 3}, {Mailbox: "a1", UIDValidity: 1, UID: 2}} {
		if ids[m.ID()] {
			t.Errorf("%+v collides", m)
		}
		ids[m.ID()] = true
	}
	if base.ID() != (Message{Mailbox: "a", UIDValidity: 1, UID: 2, Raw: []byte("x")}).ID() {
		t.Error("the id must not depend on the content")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"minimal", Config{Addr: "h:993", User: "u"}, true},
		{"no address", Config{User: "u"}, false},
		{"bad tls", Config{Addr: "h:1", User: "u", TLS: "ssl3"}, false},
		{"external without cert", Config{Addr: "h:1", Auth: "external"}, false},
		{"login without user", Config{Addr: "h:1", Auth: "login"}, false},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

// session opens an authenticated client with cfg, for test set-up.
func session(t *testing.T, cfg Config) *imapclient.Client {
	t.Helper()
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r := &Reader{cfg: cfg}
	c, err := r.dial(&imapclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.authenticate(c); err != nil {
		c.Close()
		t.Fatal(err)
	}
	return c
}

func deliver(t *testing.T, cfg Config, folder string, from, n int) {
	t.Helper()
	_, err := Deliver(context.Background(), cfg, folder, func(yield func([]byte) bool) {
		for i := from; i < from+n; i++ {
			if !yield([]byte(fmt.Sprintf("From: a@chu.test\r\nSubject: test %d\r\nMessage-ID: <%d.%s@chu.test>\r\n\r\nbody %d\r\n", i, i, folder, i))) {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func waiting(t *testing.T, cfg Config, folder string) uint32 {
	t.Helper()
	cfg.Inbox = folder
	n, err := Waiting(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTLS checks each way of reaching an MSSanté-like server: implicit TLS
// and STARTTLS, server certificate checked against the configured CA, a
// client certificate required (SASL EXTERNAL or PLAIN over it).
func TestTLS(t *testing.T) {
	d := startOwnDovecot(t)
	base := d.config("INBOX", "Processed")
	for _, tc := range []struct {
		name  string
		edit  func(c *Config)
		fails string // part of the expected error; "" when it must work
	}{
		{"implicit TLS, SASL EXTERNAL", func(c *Config) {}, ""},
		{"STARTTLS, SASL EXTERNAL", func(c *Config) { c.Addr, c.TLS = d.imap, "starttls" }, ""},
		{"STARTTLS, PLAIN with the client certificate", func(c *Config) {
			c.Addr, c.TLS, c.Auth, c.User, c.Password = d.imap, "starttls", "plain", "hub@bndmr.test", "secret"
		}, ""},
		{"implicit TLS, LOGIN with the client certificate", func(c *Config) {
			c.Auth, c.User, c.Password = "login", "hub@bndmr.test", "secret"
		}, ""},
		{"CRL of the CA, server not listed", func(c *Config) { c.CRLFile = d.crl }, ""},
		{"server certificate revoked", func(c *Config) { c.CRLFile = d.crlRevoked }, `certificate "localhost" (serial `},
		{"server certificate revoked, STARTTLS", func(c *Config) { c.Addr, c.TLS, c.CRLFile = d.imap, "starttls", d.crlRevoked }, "was revoked by"},
		{"server certificate from another CA", func(c *Config) { c.CAFile = d.otherCA }, "certificate"},
		{"no CA bundle: system roots do not know the test CA", func(c *Config) { c.CAFile = "" }, "certificate"},
		{"no client certificate", func(c *Config) {
			c.Auth, c.User, c.Password, c.CertFile, c.KeyFile = "plain", "hub@bndmr.test", "secret", "", ""
		}, "authenticat"},
		{"plain text on the STARTTLS port", func(c *Config) {
			c.Addr, c.TLS, c.Auth, c.User, c.Password = d.imap, "none", "plain", "hub@bndmr.test", "secret"
		}, "authenticat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := Waiting(ctx, cfg)
			switch {
			case tc.fails == "" && err != nil:
				t.Fatalf("want a session, got %v\n%s", err, d.log())
			case tc.fails != "" && err == nil:
				t.Fatalf("want an error about %q, got a session", tc.fails)
			case tc.fails != "" && !strings.Contains(err.Error(), tc.fails):
				t.Fatalf("want an error about %q, got %v", tc.fails, err)
			}
		})
	}
}

type connStats struct {
	mu    sync.Mutex
	drops int
}

func (s *connStats) HandedOff(string)               {}
func (s *connStats) Waiting(string, int, time.Time) {}
func (s *connStats) Connected(_ string, ok bool) {
	if !ok {
		s.mu.Lock()
		s.drops++
		s.mu.Unlock()
	}
}
func (s *connStats) dropped() int { s.mu.Lock(); defer s.mu.Unlock(); return s.drops }

// TestReconnectAfterServerRestart stops the server under an IDLE session,
// starts it again, and checks that the reader comes back on its own and
// takes the mail delivered after the restart, over TLS with EXTERNAL.
func TestReconnectAfterServerRestart(t *testing.T) {
	d := startOwnDovecot(t)
	cfg := d.config(fmt.Sprintf("t%d", time.Now().UnixNano()), "done")
	c := session(t, cfg)
	for _, f := range []string{cfg.Inbox, cfg.Processed} {
		if err := c.Create(f, nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	col := &collector{seen: map[string]int{}}
	st := &connStats{}
	runReader(t, cfg, col.sink, zaptest.NewLogger(t), st)

	deliver(t, cfg, cfg.Inbox, 0, 3)
	testsupport.WaitFor(t, "3 mails before the restart", 20*time.Second, func() bool { return col.total() == 3 })
	d.stop(t)
	testsupport.WaitFor(t, "the reader to notice the restart", 20*time.Second, func() bool { return st.dropped() > 0 })
	d.start(t)
	deliver(t, cfg, cfg.Inbox, 3, 4)
	testsupport.WaitFor(t, "4 mails after the restart", 30*time.Second, func() bool { return col.total() == 7 })
	testsupport.WaitFor(t, "an empty inbox", 10*time.Second, func() bool { return waiting(t, cfg, cfg.Inbox) == 0 })
	if got := waiting(t, cfg, cfg.Processed); got != 7 {
		t.Errorf("%d mails in %s, want 7", got, cfg.Processed)
	}
}

// silentServer is an IMAP server that answers normally until the command
// named silentAt ("greeting", "SELECT", "FETCH"), then says nothing more
// while keeping the connection open: a hung server or a half-open
// connection. It counts the connections and accepts at most five.
func silentServer(t *testing.T, silentAt string) (addr string, conns *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = &atomic.Int32{}
	go func() {
		for conns.Load() < 5 {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go serveSilent(nc, silentAt)
		}
	}()
	return ln.Addr().String(), conns
}

func serveSilent(nc net.Conn, silentAt string) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second)) // the test's bound, not the client's
	silent := func() { io.Copy(io.Discard, nc) }     // until the client closes
	if silentAt == "greeting" {
		silent()
		return
	}
	fmt.Fprint(nc, "* OK [CAPABILITY IMAP4rev1 IDLE] test server\r\n")
	br := bufio.NewReader(nc)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		tag, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		verb := strings.ToUpper(strings.Fields(rest + " x")[0])
		if verb == "UID" {
			verb = strings.ToUpper(strings.Fields(rest)[1])
		}
		switch {
		case verb == "FETCH" && silentAt == "FETCH":
			// The message starts, then nothing: a literal never completed.
			fmt.Fprint(nc, "* 1 FETCH (UID 5 BODY[] {1000}\r\nFrom: a@b\r\n")
			silent()
			return
		case verb == silentAt:
			silent()
			return
		case verb == "SELECT":
			fmt.Fprintf(nc, "* 1 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n%s OK [READ-WRITE] done\r\n", tag)
		case verb == "SEARCH":
			fmt.Fprintf(nc, "* SEARCH 5\r\n%s OK done\r\n", tag)
		default:
			fmt.Fprintf(nc, "%s OK done\r\n", tag)
		}
	}
}

// TestSilentServer: a server that stops answering ends the session after
// CommandTimeout, with a reason that says so, and the reader connects again.
func TestSilentServer(t *testing.T) {
	for _, at := range []string{"greeting", "SELECT", "FETCH"} {
		t.Run(at, func(t *testing.T) {
			addr, conns := silentServer(t, at)
			core, logs := observer.New(zap.WarnLevel)
			col := &collector{seen: map[string]int{}}
			r, err := NewReader(Config{Name: "hub", Addr: addr, TLS: "none", Auth: "login", User: "u", Password: "p",
				CommandTimeout: 300 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}, col.sink, zap.New(core), nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			done := make(chan struct{})
			go func() { r.Run(ctx); close(done) }()
			testsupport.WaitFor(t, "a second connection", 5*time.Second, func() bool { return conns.Load() >= 2 })
			cancel()
			<-done
			ended := logs.FilterMessage("IMAP session ended; reconnecting").All()
			if len(ended) == 0 {
				t.Fatal("no session end logged")
			}
			if msg := fmt.Sprint(ended[0].ContextMap()["error"]); !strings.Contains(msg, "no answer from the IMAP server within 300ms") {
				t.Errorf("session ended with %q, want the silence named", msg)
			}
			if col.total() != 0 {
				t.Errorf("%d messages handed off from a server that never sent one whole", col.total())
			}
		})
	}
}

func TestConfigJSONDurations(t *testing.T) {
	for _, tc := range []struct {
		json    string
		poll    time.Duration
		timeout time.Duration
		err     string
	}{
		{json: `{"Addr":"a:1","PollInterval":"45s","CommandTimeout":"2m30s"}`, poll: 45 * time.Second, timeout: 150 * time.Second},
		{json: `{"Addr":"a:1","PollInterval":1000000000}`, poll: time.Second},
		{json: `{"Addr":"a:1","PollInterval":null}`},
		{json: `{"Addr":"a:1","CommandTimeout":"soon"}`, err: `duration "soon"`},
		{json: `{"Addr":"a:1","MaxBackoff":true}`, err: "neither"},
	} {
		var c Config
		err := json.Unmarshal([]byte(tc.json), &c)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one with %q", tc.json, err, tc.err)
			}
			continue
		}
		if err != nil || c.Addr != "a:1" || c.PollInterval != tc.poll || c.CommandTimeout != tc.timeout {
			t.Errorf("%s: %+v, %v", tc.json, c, err)
		}
	}
}

type waitStats struct {
	connStats
	mu     sync.Mutex
	n      int
	oldest time.Time
	calls  int
}

func (s *waitStats) Waiting(_ string, n int, oldest time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n, s.oldest, s.calls = n, oldest, s.calls+1
}

func (s *waitStats) get() (int, time.Time, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, s.oldest, s.calls
}

// TestWaitingReported: while the hand-off fails (JetStream away), the reader
// reports how many mails wait and since when; once drained, none.
func TestWaitingReported(t *testing.T) {
	addr := dovecot(t)
	inbox, processed := testFolders(t, addr)
	before := time.Now().Add(-2 * time.Second)
	appendMails(t, addr, inbox, 3)
	col := &collector{seen: map[string]int{}, fail: 1 << 30}
	st := &waitStats{}
	runReader(t, Config{Name: "w", Addr: addr, TLS: "none", User: "hub@bndmr.test", Password: "secret",
		Inbox: inbox, Processed: processed, PollInterval: 200 * time.Millisecond}, col.sink, zaptest.NewLogger(t), st)
	testsupport.WaitFor(t, "a report of the waiting mails", 20*time.Second, func() bool { _, _, c := st.get(); return c > 0 })
	n, oldest, _ := st.get()
	if n != 3 || oldest.Before(before) || oldest.After(time.Now().Add(2*time.Second)) {
		t.Fatalf("waiting %d since %s, want 3 since the append (%s)", n, oldest, before)
	}
	col.mu.Lock()
	col.fail = 0
	col.mu.Unlock()
	testsupport.WaitFor(t, "an empty inbox reported", 30*time.Second, func() bool { n, o, _ := st.get(); return n == 0 && o.IsZero() })
}

package ack

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/testsupport"
)

// harness runs the service against an embedded JetStream and a loopback
// go-smtp server.
type harness struct {
	js     jetstream.JetStream
	smtp   *smtpServer
	reg    *prometheus.Registry
	svc    *Service
	mu     sync.Mutex
	delays []time.Duration
}

// newHarness runs the service with cfg edited by edit; late edits come
// after Validate, for durations it would refuse (time made to pass faster).
func newHarness(t *testing.T, edit func(*Config), late ...func(*Config)) *harness {
	t.Helper()
	h := &harness{js: testBus(t), smtp: startSMTP(t, nil, false), reg: prometheus.NewRegistry()}
	cfg := Config{
		HubAddress:   "hub@bndmr.test",
		Registry:     h.reg,
		SMTP:         SMTPConfig{Addr: h.smtp.addr, Security: "none", Timeout: 5 * time.Second},
		RetryInitial: 10 * time.Millisecond,
		RetryMax:     15 * time.Millisecond,
		AckWait:      10 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, f := range late {
		f(&cfg)
	}
	// Retry delays are recorded, not slept: the test checks the backoff
	// without depending on the clock.
	cfg.sleep = func(ctx context.Context, d time.Duration) error {
		h.mu.Lock()
		h.delays = append(h.delays, d)
		h.mu.Unlock()
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	sender, err := NewSMTPSender(cfg.SMTP)
	if err != nil {
		t.Fatal(err)
	}
	h.svc, err = New(ctx, cfg, h.js, zaptest.NewLogger(t), sender)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = h.svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

func (h *harness) publishMail(t *testing.T, mailID string, raw []byte, object bool) uint64 {
	t.Helper()
	ctx := context.Background()
	mr := events.MailRaw{V: events.MailRawV, MailID: mailID, Mailbox: "INBOX", Size: int64(len(raw)), Raw: raw}
	if object {
		obs, err := h.js.ObjectStore(ctx, bus.ObjectStore)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := obs.PutBytes(ctx, "mail/"+mailID, raw); err != nil {
			t.Fatal(err)
		}
		mr.Raw, mr.Object = nil, "mail/"+mailID
	}
	ack, err := bus.Publish(ctx, h.js, events.SubjectMailRaw, mailID, mr)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

func (h *harness) publishOutcome(t *testing.T, o events.MailOutcome, msgID string) {
	t.Helper()
	if _, err := bus.Publish(context.Background(), h.js, events.SubjectOutcome, msgID, o); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) record(t *testing.T, o events.MailOutcome) (Record, bool) {
	t.Helper()
	recs, err := h.svc.Records(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r, ok := recs[RecordKey(o)]
	return r, ok
}

func (h *harness) waitStatus(t *testing.T, o events.MailOutcome, status string) Record {
	t.Helper()
	var r Record
	testsupport.WaitFor(t, "record "+status, 20*time.Second, func() bool {
		var ok bool
		r, ok = h.record(t, o)
		return ok && r.Status == status
	})
	return r
}

// settled waits until the consumer has acknowledged every message of the
// stream (the pending counts alone once read 0 and 0 too early: pkg/stage's
// settled).
func (h *harness) settled(t *testing.T) *jetstream.ConsumerInfo {
	t.Helper()
	ctx := context.Background()
	s, err := h.js.Stream(ctx, bus.StreamOutcome)
	if err != nil {
		t.Fatal(err)
	}
	var info *jetstream.ConsumerInfo
	testsupport.WaitFor(t, "the consumer to settle", 20*time.Second, func() bool {
		si, err := s.Info(ctx)
		if err != nil {
			return false
		}
		c, err := h.js.Consumer(ctx, bus.StreamOutcome, "ack")
		if err != nil {
			return false
		}
		info, err = c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream >= si.State.LastSeq
	})
	return info
}

func newOutcome(mailID, messageID string, seq uint64, docs ...events.DocumentOutcome) events.MailOutcome {
	o := outcome(docs...)
	o.MailID, o.MessageID, o.MailSeq = mailID, messageID, seq
	return o
}

func TestServiceOneMDNPerOriginal(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	seq := h.publishMail(t, "m1", []byte(rawOriginal), false)
	o := newOutcome("m1", "<orig-7@chu.test>", seq, okDoc("DOC00001.XML"), koDoc("DOC00002.XML", 903, ""))
	h.publishOutcome(t, o, o.MailID)

	r := h.waitStatus(t, o, StatusSent)
	got := h.smtp.messages()
	if len(got) != 1 {
		t.Fatalf("%d MDNs sent, want 1", len(got))
	}
	m := got[0]
	if m.from != "" || len(m.to) != 1 || m.to[0] != "pfi@chu.test" {
		t.Errorf("envelope MAIL FROM:<%s> RCPT %v, want <> and pfi@chu.test", m.from, m.to)
	}
	v := readMDN(t, m.data)
	if v.field("Disposition") != "automatic-action/MDN-sent-automatically; processed/error" || v.field("Error") != "903^INS absent du document^applicationErrorCondition" {
		t.Errorf("Disposition %q, Error %q", v.field("Disposition"), v.field("Error"))
	}
	if v.origType != "message/rfc822" || !bytes.Equal(v.orig, []byte(rawOriginal)) {
		t.Errorf("part 3 is %q and does not hold the original from the mail stream:\n%s", v.origType, v.orig)
	}
	if r.MDNMessageID != v.header.Get("Message-Id") || r.Code != 903 || r.MailID != "m1" || r.Attempts != 1 {
		t.Errorf("record %+v", r)
	}

	// Redelivery of the same outcome, then another mail with the same
	// Message-ID (a forward): no second MDN.
	h.publishOutcome(t, o, "redelivered")
	o2 := newOutcome("m2", "orig-7@chu.test", 0, okDoc("DOC00001.XML"))
	h.publishOutcome(t, o2, o2.MailID)
	// An MDN is never answered.
	o3 := newOutcome("m3", "<mdn-from-elsewhere@chu.test>", 0)
	o3.IsReport = true
	h.publishOutcome(t, o3, o3.MailID)
	testsupport.WaitFor(t, "the repeats to be skipped", 20*time.Second, func() bool {
		return metric(t, h.reg, "bndmr_ack_skipped_total", "reason", skipAlreadyDone) == 2 &&
			metric(t, h.reg, "bndmr_ack_skipped_total", "reason", skipReport) == 1
	})
	h.settled(t)
	if n := len(h.smtp.messages()); n != 1 {
		t.Fatalf("%d MDNs sent, want 1", n)
	}
	if _, ok := h.record(t, o3); ok {
		t.Errorf("a record was written for a report that got no MDN")
	}
	if got := metric(t, h.reg, "bndmr_ack_mdn_sent_total", "code", "903"); got != 1 {
		t.Errorf("bndmr_ack_mdn_sent_total{code=903} = %v", got)
	}
}

func TestServiceQuotesOriginal(t *testing.T) {
	t.Parallel()
	big := []byte(rawOriginal + string(bytes.Repeat([]byte("x"), 2000)) + "\r\n")
	cases := []struct {
		name     string
		raw      []byte
		object   bool
		noSeq    bool
		wrongSeq bool
		wantType string
		missing  float64
	}{
		{name: "inline in the stream", raw: []byte(rawOriginal), wantType: "message/rfc822"},
		{name: "in the object store", raw: []byte(rawOriginal), object: true, wantType: "message/rfc822"},
		{name: "larger than the limit", raw: big, wantType: "text/rfc822-headers"},
		{name: "sequence unknown", raw: []byte(rawOriginal), noSeq: true, wantType: "text/rfc822-headers"},
		{name: "sequence gone from the stream", raw: []byte(rawOriginal), wrongSeq: true, wantType: "text/rfc822-headers", missing: 1},
	}
	h := newHarness(t, func(c *Config) { c.MaxOriginalBytes = 1500 })
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := string(rune('a'+i)) + "-mail"
			seq := h.publishMail(t, id, tc.raw, tc.object)
			switch {
			case tc.noSeq:
				seq = 0
			case tc.wrongSeq:
				seq = 1 << 40
			}
			o := newOutcome(id, "<quote-"+id+"@chu.test>", seq, okDoc("DOC00001.XML"))
			o.Size = int64(len(tc.raw))
			before := len(h.smtp.messages())
			h.publishOutcome(t, o, id)
			h.waitStatus(t, o, StatusSent)
			got := h.smtp.messages()
			if len(got) != before+1 {
				t.Fatalf("%d new MDNs", len(got)-before)
			}
			v := readMDN(t, got[len(got)-1].data)
			if v.origType != tc.wantType {
				t.Fatalf("part 3 is %q, want %q", v.origType, tc.wantType)
			}
			if tc.wantType == "message/rfc822" && !bytes.Equal(v.orig, tc.raw) {
				t.Errorf("quoted original differs from the stored one")
			}
			if tc.wantType == "text/rfc822-headers" && !bytes.Contains(v.orig, []byte("Disposition-Notification-To: pfi@chu.test")) {
				t.Errorf("headers part lacks the original header:\n%s", v.orig)
			}
		})
	}
	if got := metric(t, h.reg, "bndmr_ack_original_missing_total"); got != 1 {
		t.Errorf("bndmr_ack_original_missing_total = %v, want 1", got)
	}
}

func TestServiceCrashBetweenSendAndRecord(t *testing.T) {
	t.Parallel()
	var once sync.Once
	h := newHarness(t, func(c *Config) {
		c.afterSend = func(context.Context, string) error {
			crashed := false
			once.Do(func() { crashed = true })
			if crashed {
				return errors.New("simulated stop between submission and record")
			}
			return nil
		}
	})
	seq := h.publishMail(t, "crash-1", []byte(rawOriginal), false)
	o := newOutcome("crash-1", "<orig-crash@chu.test>", seq, okDoc("DOC00001.XML"))
	h.publishOutcome(t, o, o.MailID)

	h.waitStatus(t, o, StatusSent)
	h.settled(t)
	got := h.smtp.messages()
	if len(got) != 2 {
		t.Fatalf("%d MDNs sent, want the MDN and its resend after the stop", len(got))
	}
	if !bytes.Equal(got[0].data, got[1].data) {
		t.Fatalf("the resend after a stop is not byte-identical:\n%s\n----\n%s", got[0].data, got[1].data)
	}
	first, again := readMDN(t, got[0].data), readMDN(t, got[1].data)
	if id := again.header.Get("Message-Id"); id == "" || id != first.header.Get("Message-Id") {
		t.Errorf("resend has Message-ID %q", id)
	}
	if n := metric(t, h.reg, "bndmr_ack_mdn_resent_total"); n != 1 {
		t.Errorf("bndmr_ack_mdn_resent_total = %v", n)
	}
	if n := metric(t, h.reg, "bndmr_ack_mdn_sent_total", "code", "ok"); n != 1 {
		t.Errorf("bndmr_ack_mdn_sent_total = %v", n)
	}
}

// A bucket that does not answer for a while after the submission (its
// stream leader killed) delays the record; it must not make the MDN go twice.
func TestServiceRecordRetriedNotResent(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	failures := 0
	h := newHarness(t, func(c *Config) {
		c.beforeRecord = func(context.Context, string) error {
			mu.Lock()
			defer mu.Unlock()
			if failures < 3 {
				failures++
				return errors.New("nats: timeout (simulated leader election)")
			}
			return nil
		}
	})
	seq := h.publishMail(t, "record-1", []byte(rawOriginal), false)
	o := newOutcome("record-1", "<orig-record@chu.test>", seq, okDoc("DOC00001.XML"))
	h.publishOutcome(t, o, o.MailID)

	h.waitStatus(t, o, StatusSent)
	h.settled(t)
	if got := h.smtp.messages(); len(got) != 1 {
		t.Fatalf("%d MDNs sent, want one: the record is retried, not the submission", len(got))
	}
	if n := metric(t, h.reg, "bndmr_ack_mdn_resent_total"); n != 0 {
		t.Errorf("bndmr_ack_mdn_resent_total = %v", n)
	}
}

func TestServicePermanentFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.smtp.reply = func(int) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unknown"}
	}
	o := newOutcome("perm-1", "<orig-perm@chu.test>", 0, okDoc("DOC00001.XML"))
	h.publishOutcome(t, o, o.MailID)

	r := h.waitStatus(t, o, StatusRejected)
	info := h.settled(t)
	if r.SMTPReply != "550 5.1.1 mailbox unknown" || r.Attempts != 1 {
		t.Errorf("record %+v", r)
	}
	if h.smtp.attempts() != 1 || info.NumRedelivered != 0 || info.Delivered.Consumer != 1 {
		t.Errorf("%d SMTP attempts, %d redeliveries, %d deliveries; want 1, 0, 1", h.smtp.attempts(), info.NumRedelivered, info.Delivered.Consumer)
	}
	if n := metric(t, h.reg, "bndmr_ack_mdn_rejected_total"); n != 1 {
		t.Errorf("bndmr_ack_mdn_rejected_total = %v", n)
	}
	if n := metric(t, h.reg, "bndmr_ack_smtp_attempts_total", "result", "permanent"); n != 1 {
		t.Errorf("permanent attempts = %v", n)
	}
	// The same outcome again is not retried either.
	h.publishOutcome(t, o, "again")
	testsupport.WaitFor(t, "the repeat to be skipped", 20*time.Second, func() bool {
		return metric(t, h.reg, "bndmr_ack_skipped_total", "reason", skipAlreadyDone) == 1
	})
	if h.smtp.attempts() != 1 {
		t.Errorf("%d SMTP attempts after the repeat", h.smtp.attempts())
	}

	// Once the operator has fixed the cause and forgotten the record, a
	// replayed outcome is answered.
	recs, err := ListRecords(context.Background(), h.js, "")
	if err != nil || recs[RecordKey(o)].Status != StatusRejected {
		t.Fatalf("ListRecords = %v, %v", recs, err)
	}
	h.smtp.mu.Lock()
	h.smtp.reply = nil
	h.smtp.mu.Unlock()
	if err := ForgetRecord(context.Background(), h.js, "", RecordKey(o)); err != nil {
		t.Fatal(err)
	}
	if err := ForgetRecord(context.Background(), h.js, "", RecordKey(o)); err == nil {
		t.Errorf("forgetting a missing record succeeded")
	}
	h.publishOutcome(t, o, "replayed")
	h.waitStatus(t, o, StatusSent)
	if n := len(h.smtp.messages()); n != 1 {
		t.Errorf("%d MDNs after the replay, want 1", n)
	}
}

func TestServiceTemporaryFailureBacksOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.RetryAttempts = 4 })
	h.smtp.reply = func(n int) error {
		if n <= 3 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}
		return nil
	}
	o := newOutcome("temp-1", "<orig-temp@chu.test>", 0, okDoc("DOC00001.XML"))
	h.publishOutcome(t, o, o.MailID)

	r := h.waitStatus(t, o, StatusSent)
	h.settled(t)
	if n := len(h.smtp.messages()); n != 1 || h.smtp.attempts() != 4 || r.Attempts != 4 {
		t.Fatalf("%d MDNs over %d attempts (record %d), want 1 over 4", n, h.smtp.attempts(), r.Attempts)
	}
	h.mu.Lock()
	delays := append([]time.Duration(nil), h.delays...)
	h.mu.Unlock()
	want := []time.Duration{10 * time.Millisecond, 15 * time.Millisecond, 15 * time.Millisecond} // doubled, capped at RetryMax
	if len(delays) != len(want) {
		t.Fatalf("delays %v, want %v", delays, want)
	}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("delays %v, want %v", delays, want)
		}
	}
	if n := metric(t, h.reg, "bndmr_ack_smtp_attempts_total", "result", "temporary"); n != 3 {
		t.Errorf("temporary attempts = %v", n)
	}
}

// Temporary failures are retried by age, not by count: the outcome comes
// back until it is older than GiveUpAfter, and only then is the MDN
// recorded as given up.
func TestServiceGivesUpByAge(t *testing.T) {
	t.Parallel()
	const giveUp = 1500 * time.Millisecond
	h := newHarness(t, func(c *Config) { c.RetryAttempts = 2 }, func(c *Config) { c.GiveUpAfter = giveUp })
	h.smtp.reply = func(int) error { return &smtp.SMTPError{Code: 421, Message: "service not available"} }
	o := newOutcome("late-1", "<orig-late@chu.test>", 0, okDoc("DOC00001.XML"))
	published := time.Now()
	h.publishOutcome(t, o, o.MailID)

	r := h.waitStatus(t, o, StatusGaveUp)
	info := h.settled(t)
	if age := r.At.Sub(published); age < giveUp {
		t.Errorf("gave up %s after publication, before GiveUpAfter (%s)", age, giveUp)
	}
	// Two attempts in process per delivery, deliveries until the age is reached.
	n := int(info.Delivered.Consumer)
	if n < 2 || h.smtp.attempts() != 2*n || r.Attempts != 2*n {
		t.Errorf("%d SMTP attempts, %d deliveries, record %+v; want 2 per delivery, at least 2 deliveries", h.smtp.attempts(), n, r)
	}
	// The later deliveries follow a recorded temporary failure, not a stop.
	if n := metric(t, h.reg, "bndmr_ack_mdn_resent_total"); n != 0 {
		t.Errorf("bndmr_ack_mdn_resent_total = %v after temporary failures", n)
	}
	if n := metric(t, h.reg, "bndmr_ack_mdn_gave_up_total"); n != 1 {
		t.Errorf("bndmr_ack_mdn_gave_up_total = %v", n)
	}
	// Every delivery but the last was handed back for a later attempt.
	if got := metric(t, h.reg, "bndmr_stage_retries_total", "stage", "ack", "cause", "smtp"); int(got) != n-1 {
		t.Errorf("bndmr_stage_retries_total{cause=smtp} = %v for %d deliveries", got, n)
	}
}

func TestServiceRefusesUnknownVersion(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	o := newOutcome("v9", "<orig-v9@chu.test>", 0, okDoc("DOC00001.XML"))
	o.V = 9
	h.publishOutcome(t, o, o.MailID)
	testsupport.WaitFor(t, "the outcome to be quarantined", 20*time.Second, func() bool {
		return metric(t, h.reg, "bndmr_stage_quarantined_total", "stage", "ack", "code", "bad_version") == 1
	})
	h.settled(t)
	if h.smtp.attempts() != 0 {
		t.Errorf("an MDN was sent for an outcome of unknown version")
	}
}

func TestNewTwiceOnOneRegistry(t *testing.T) {
	js := testBus(t)
	reg := prometheus.NewRegistry()
	cfg := Config{HubAddress: "hub@bndmr.test", Registry: reg, SMTP: SMTPConfig{Addr: "127.0.0.1:1", Security: "none"}}.WithDefaults()
	ctx := context.Background()
	if _, err := New(ctx, cfg, js, nil, nil); err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, cfg, js, nil, nil)
	if err != nil {
		t.Fatalf("a restart in the same process cannot register its metrics: %v", err)
	}
	s.m.rejected.Inc()
	if n := metric(t, reg, "bndmr_ack_mdn_rejected_total"); n != 1 {
		t.Fatalf("restarted service counts on a metric the registry does not serve (%v)", n)
	}
	cfg.Registry = nil
	if _, err := New(ctx, cfg, js, nil, nil); err == nil || !strings.Contains(err.Error(), "Registry is required") {
		t.Fatalf("New without a registry: %v", err)
	}
}

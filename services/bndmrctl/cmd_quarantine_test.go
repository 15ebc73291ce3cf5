package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/bus/bustest"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/stage"
	"github.com/bndmr/hub/pkg/topology"
)

// TestQuarantine lists, inspects and replays entries of a real (embedded)
// JetStream quarantine, as the validator writes them.
func TestQuarantine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tb := bustest.Start(t)
	url, js := tb.URL, tb.JS
	inline := []byte("From: a@chu.test\r\nSubject: broken archive\r\n\r\nbody")
	large := []byte("From: b@chu.test\r\nSubject: large\r\n\r\n" + strings.Repeat("y", 5000))
	obs, err := js.ObjectStore(ctx, bus.ObjectStore)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.PutBytes(ctx, "mail-2", large); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, q := range []events.Quarantined{
		{Mail: events.MailRaw{V: events.MailRawV, MailID: "mail-1", Mailbox: "hub", UID: 7, Size: int64(len(inline)), Raw: inline},
			Stage: "validator", Code: "internal", Reason: "libxml2 ran out of memory"},
		{Mail: events.MailRaw{V: events.MailRawV, MailID: "mail-2", Mailbox: "hub", UID: 8, Size: int64(len(large)), Object: "mail-2"},
			Stage: "validator", Code: "internal", Reason: "crashed"},
		{Mail: events.MailRaw{V: events.MailRawV, MailID: "unreadable", Raw: []byte("{not json")},
			Stage: "validator", Code: "bad_event", Reason: "unreadable mail.raw event"},
	} {
		q.V, q.At = events.QuarantineV, now
		if _, err := bus.Publish(ctx, js, events.SubjectQuarantine, strings.Repeat("q", i+1), q); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		name string
		args []string
		want int
		out  []string // substrings of stdout
	}{
		{"no sub-command", nil, 2, nil},
		{"unknown sub-command", []string{"drop", "1"}, 2, nil},
		{"ID not a number", []string{"inspect", "abc"}, 2, nil},
		{"list", []string{"list"}, 0, []string{"internal", "libxml2 ran out of memory", "bad_event", "3 quarantined mails"}},
		{"list the last one", []string{"--limit", "1", "list"}, 0, []string{"bad_event"}},
		{"inspect", []string{"inspect", "1"}, 0, []string{"Subject: broken archive", "mail-1", "UID 7"}},
		{"inspect a mail in the object store", []string{"inspect", "2"}, 0, []string{"object mail-2", "Subject: large"}},
		{"inspect --raw", []string{"inspect", "--raw", "2"}, 0, []string{string(large)}},
		{"inspect a missing entry", []string{"inspect", "99"}, 1, nil},
		{"replay", []string{"replay", "1"}, 0, []string{"mail-1/replay/1"}},
		{"replay twice", []string{"replay", "1"}, 0, []string{"already replayed"}},
		{"replay from the object store", []string{"replay", "2"}, 0, []string{"mail-2/replay/2"}},
		{"replay an unreadable event", []string{"replay", "3"}, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			got := cmdQuarantine(ctx, append([]string{"--nats-url", url}, tc.args...), &out, &errOut)
			if got != tc.want {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", got, tc.want, out.String(), errOut.String())
			}
			for _, s := range tc.out {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
		})
	}

	// The validator sees each replayed mail once, unchanged.
	stream, err := js.Stream(ctx, bus.StreamMail)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("%d mails on %s after replaying two entries (one twice), want 2", info.State.Msgs, events.SubjectMailRaw)
	}
	for seq, want := range map[uint64]string{1: "mail-1/replay/1", 2: "mail-2/replay/2"} {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if id := m.Header.Get(jetstream.MsgIDHeader); id != want {
			t.Errorf("message %d has Nats-Msg-Id %q, want %q", seq, id, want)
		}
	}
}

// TestQuarantineStageEntries: an entry the stage runtime writes for a
// record it can never load is listed, inspected and replayed on its own
// subject, where the stage takes it again; an identified entry, which keeps
// no copy, cannot be replayed from the quarantine.
func TestQuarantineStageEntries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tb := bustest.Start(t)
	url, js := tb.URL, tb.JS
	// The loader refuses the record once (ClickHouse refused its rows),
	// then takes it: the cause was fixed before the replay.
	var calls, loaded atomic.Int32
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go stage.Run(runCtx, js, nil, nil, stage.Spec[events.Record]{
		Consumer: topology.ConsumerOf(topology.DurableRecords), Version: events.RecordV,
		MailID: func(r events.Record) string { return r.MailID },
		HandleOne: func(ctx context.Context, d stage.Delivery[events.Record]) error {
			if calls.Add(1) == 1 {
				return stage.Permanent("clickhouse_refused", errors.New("Type mismatch in column age"))
			}
			loaded.Add(1)
			return nil
		}})
	if _, err := bus.Publish(ctx, js, events.SubjectRecord, "mail-9/0", events.Record{V: events.RecordV, MailID: "mail-9"}); err != nil {
		t.Fatal(err)
	}
	// An identified entry, as pseudonymisation's stage writes it.
	ident := events.Quarantined{V: events.QuarantineV, Stage: "pseudonymisation", Code: "pseudonymisation_failed", Reason: "no key",
		At: time.Now().UTC(), Event: &events.Failed{Stream: bus.StreamIdentified, Subject: events.SubjectExtracted, Seq: 4, MailID: "mail-8"}}
	waitQuarantine(t, ctx, js, 1)
	if _, err := bus.Publish(ctx, js, events.SubjectQuarantine, "ident", ident); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string
		want int
		out  []string
	}{
		{"list", []string{"list"}, 0, []string{"loader", "clickhouse_refused", bus.StreamRecord, "Type mismatch", "pseudonymisation_failed"}},
		{"inspect", []string{"inspect", "1"}, 0, []string{"BNDMR_RECORD sequence 1", "Nats-Msg-Id mail-9/0", "mail-9", "--raw writes them"}},
		{"inspect --raw", []string{"inspect", "--raw", "1"}, 0, []string{`"mail_id":"mail-9"`}},
		{"inspect identified", []string{"inspect", "2"}, 0, []string{"not kept (identified data)"}},
		{"inspect identified --raw", []string{"inspect", "--raw", "2"}, 1, nil},
		{"replay", []string{"replay", "1"}, 0, []string{"mail-9/0/replay/1"}},
		{"replay twice", []string{"replay", "1"}, 0, []string{"already replayed"}},
		{"replay identified", []string{"replay", "2"}, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if got := cmdQuarantine(ctx, append([]string{"--nats-url", url}, tc.args...), &out, &errOut); got != tc.want {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", got, tc.want, out.String(), errOut.String())
			}
			for _, s := range tc.out {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
	deadline := time.Now().Add(20 * time.Second)
	for loaded.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the replayed record was not loaded (%d handler calls)", calls.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if n := loaded.Load(); n != 1 {
		t.Errorf("replayed record loaded %d times", n)
	}
}

func waitQuarantine(t *testing.T, ctx context.Context, js jetstream.JetStream, n uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := js.Stream(ctx, bus.StreamQuarantine)
		if err == nil {
			if info, err := s.Info(ctx); err == nil && info.State.Msgs >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d quarantine entries after 20 s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

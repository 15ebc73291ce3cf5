package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/bus/bustest"
	"github.com/bndmr/hub/pkg/cisis"
	"github.com/bndmr/hub/pkg/cisis/cisistest"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/loader"
	"github.com/bndmr/hub/pkg/stage"
	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/store/storetest"
	"github.com/bndmr/hub/pkg/synth"
	"github.com/bndmr/hub/pkg/topology"
	"github.com/bndmr/hub/pkg/validator"
	"github.com/bndmr/hub/pkg/xmldoc"
	"github.com/bndmr/hub/pseudonymisation"
)

// pipeline runs the hub's stages in the test process over a real embedded
// NATS and a real ClickHouse database, each stage startable and stoppable
// on its own (as an operator redeploys one service).
type pipeline struct {
	t   *testing.T
	ctx context.Context
	bus bustest.Server
	st  *store.Store
	eng *cisis.Engine
	ps  *pseudonymisation.Pseudonymiser
}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	st := storetest.Store(t, "test_reprocess")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	eng := cisistest.Engine(t)
	keyFile := filepath.Join(t.TempDir(), "key.json")
	if err := pseudonymisation.WriteKeyFile(keyFile, "reprocess-key"); err != nil {
		t.Fatal(err)
	}
	keys, err := pseudonymisation.LoadKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &pipeline{t: t, ctx: ctx, bus: bustest.Start(t), st: st, eng: eng, ps: pseudonymisation.New(keys, pseudonymisation.Options{})}
}

// start runs a stage until the returned function stops it (and waits).
func (p *pipeline) start(run func(ctx context.Context, js jetstream.JetStream) error) (stop func()) {
	ctx, cancel := context.WithCancel(p.ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := run(ctx, p.bus.JS); err != nil && ctx.Err() == nil {
			p.t.Errorf("stage stopped: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	p.t.Cleanup(stop)
	return stop
}

func (p *pipeline) validator(cfg validator.Config) func() {
	v := validator.New(cfg, p.eng, zap.NewNop(), nil)
	return p.start(func(ctx context.Context, js jetstream.JetStream) error { return v.Run(ctx, js, nil) })
}

func (p *pipeline) pseudonymisation() func() {
	s := pseudonymisation.NewService(p.ps, zap.NewNop(), nil)
	return p.start(func(ctx context.Context, js jetstream.JetStream) error { return s.Run(ctx, js, nil) })
}

func (p *pipeline) loader() func() {
	l := loader.New(loader.Config{BatchSize: 50, FlushEvery: 100 * time.Millisecond}, p.st, zap.NewNop(), nil)
	return p.start(func(ctx context.Context, js jetstream.JetStream) error { return l.Run(ctx, js, nil) })
}

// send publishes n synthetic mails (one valid document each) as ingest does.
func (p *pipeline) send(seed uint64, n int) {
	p.t.Helper()
	kitDir, _ := kit.Dir()
	g, err := synth.New(synth.Options{Seed: seed, Kit: kitDir, End: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC), Months: 3})
	if err != nil {
		p.t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		raw, _, err := g.Next()
		if err != nil {
			p.t.Fatal(err)
		}
		sum := sha256.Sum256(fmt.Appendf(nil, "reprocess/%d/%d", seed, i))
		raw256 := sha256.Sum256(raw)
		m := events.MailRaw{V: events.MailRawV, MailID: hex.EncodeToString(sum[:]), Mailbox: "hub@bndmr.test", UIDValidity: 1,
			UID: uint32(i + 1), ReceivedAt: time.Now().UTC(), Size: int64(len(raw)), SHA256: hex.EncodeToString(raw256[:]), Raw: raw}
		if _, err := bus.Publish(p.ctx, p.bus.JS, events.SubjectMailRaw, m.MailID, m); err != nil {
			p.t.Fatal(err)
		}
	}
}

// waitFor polls cond until it holds (or the test's deadline).
func (p *pipeline) waitFor(what string, cond func() (bool, string)) {
	p.t.Helper()
	for {
		ok, state := cond()
		if ok {
			return
		}
		select {
		case <-p.ctx.Done():
			p.t.Fatalf("waiting for %s: %s", what, state)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *pipeline) streamMsgs(name string) uint64 {
	s, err := p.bus.JS.Stream(p.ctx, name)
	if err != nil {
		p.t.Fatal(err)
	}
	info, err := s.Info(p.ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	return info.State.Msgs
}

// loaded: distinct versions and rows (FINAL: as merged) in documents.
func (p *pipeline) loaded() (versions, rows uint64) {
	p.t.Helper()
	if err := p.st.Conn().QueryRow(p.ctx, "SELECT toUInt64(uniqExact(set_id, version_number)), toUInt64(count()) FROM documents FINAL").Scan(&versions, &rows); err != nil {
		p.t.Fatal(err)
	}
	return versions, rows
}

func (p *pipeline) waitLoaded(n uint64) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("%d documents in ClickHouse", n), func() (bool, string) {
		v, r := p.loaded()
		return v == n && r == n, fmt.Sprintf("%d versions, %d rows", v, r)
	})
}

// acceptedReceipts: documents whose latest receipt accepts them.
func (p *pipeline) acceptedReceipts() uint64 {
	p.t.Helper()
	var n uint64
	if err := p.st.Conn().QueryRow(p.ctx, "SELECT toUInt64(countIf(accepted = 1)) FROM receipts FINAL").Scan(&n); err != nil {
		p.t.Fatal(err)
	}
	return n
}

func (p *pipeline) ctl(cmd func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) int, want int, args ...string) string {
	p.t.Helper()
	var out, errOut bytes.Buffer
	if got := cmd(p.ctx, append([]string{"--nats-url", p.bus.URL}, args...), &out, &errOut); got != want {
		p.t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, got, want, out.String(), errOut.String())
	}
	return out.String()
}

func reprocessCmd(ctx context.Context, args []string, o, e *bytes.Buffer) int {
	return cmdReprocess(ctx, args, o, e)
}
func quarantineCmd(ctx context.Context, args []string, o, e *bytes.Buffer) int {
	return cmdQuarantine(ctx, args, o, e)
}

// TestReprocessAfterValidatorFix: documents refused by a faulty validator
// (here a nesting limit too low for any SDM-MR, standing for a faulty
// kit: both refuse valid documents with a 906 in the outcome and never
// quarantine them) are loaded once the validator is fixed and `bndmrctl
// reprocess` sends their originals again; the same run again publishes
// nothing, and another run over every mail adds no row.
func TestReprocessAfterValidatorFix(t *testing.T) {
	p := newPipeline(t)
	const mails = 6
	p.pseudonymisation()
	p.loader()
	stopFaulty := p.validator(validator.Config{XML: xmldoc.Limits{MaxBytes: 16 << 20, MaxDepth: 4}})
	p.send(211, mails)
	p.waitFor("the outcomes of the faulty validator", func() (bool, string) {
		n := p.streamMsgs(bus.StreamOutcome)
		return n == mails, fmt.Sprintf("%d outcomes", n)
	})
	if v, _ := p.loaded(); v != 0 {
		t.Fatalf("%d documents loaded by the faulty validator, want none", v)
	}
	if n := p.streamMsgs(bus.StreamQuarantine); n != 0 {
		t.Fatalf("%d quarantine entries: a refusal is an outcome, not a quarantine", n)
	}
	stopFaulty()
	p.validator(validator.Config{})

	out := p.ctl(reprocessCmd, 0, "--since", "2000-01-01", "--run", "kit-fix", "--dry-run")
	if !strings.Contains(out, fmt.Sprintf("%d mails picked, 0 published", mails)) {
		t.Fatalf("dry run:\n%s", out)
	}
	out = p.ctl(reprocessCmd, 0, "--since", "2000-01-01", "--run", "kit-fix")
	if !strings.Contains(out, fmt.Sprintf("%d published", mails)) {
		t.Fatalf("reprocess:\n%s", out)
	}
	p.waitLoaded(mails)
	p.waitFor("the receipts to accept every document", func() (bool, string) {
		n := p.acceptedReceipts()
		return n == mails, fmt.Sprintf("%d accepted", n)
	})

	// The same run again: its ids are taken, nothing is published; the
	// mails now pass, so a run for refusals picks none.
	out = p.ctl(reprocessCmd, 0, "--since", "2000-01-01", "--run", "kit-fix", "--all")
	if !strings.Contains(out, fmt.Sprintf("0 published, %d already published by this run", mails)) {
		t.Fatalf("the same run again:\n%s", out)
	}
	out = p.ctl(reprocessCmd, 0, "--since", "2000-01-01", "--run", "refusals-again")
	if !strings.Contains(out, "0 mails picked") {
		t.Fatalf("a run for refusals after the fix:\n%s", out)
	}
	// A new run over every mail goes through the whole pipeline again and
	// collapses onto the same rows.
	before := p.streamMsgs(bus.StreamRecord)
	out = p.ctl(reprocessCmd, 0, "--since", "2000-01-01", "--run", "everything", "--all")
	if !strings.Contains(out, fmt.Sprintf("%d published", mails)) {
		t.Fatalf("reprocess --all:\n%s", out)
	}
	p.waitFor("the records of the second pass", func() (bool, string) {
		n := p.streamMsgs(bus.StreamRecord)
		return n == before+mails, fmt.Sprintf("%d records, %d before", n, before)
	})
	p.waitLoaded(mails)
	// A window that holds no mail picks nothing; a FINESS no mail names neither.
	out = p.ctl(reprocessCmd, 0, "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "--all")
	if !strings.Contains(out, "0 mails picked") {
		t.Fatalf("empty window:\n%s", out)
	}
	out = p.ctl(reprocessCmd, 0, "--since", "2000-01-01", "--all", "--finess", "000000000")
	if !strings.Contains(out, "0 mails picked") {
		t.Fatalf("unknown FINESS:\n%s", out)
	}
}

// TestReplayIdentifiedEntryFromMail: a document the pseudonymisation stage
// quarantined (its entry keeps no identified data) is replayed from the
// original mail through the whole pipeline and loaded once.
func TestReplayIdentifiedEntryFromMail(t *testing.T) {
	p := newPipeline(t)
	p.validator(validator.Config{})
	p.loader()
	// The pseudonymisation stage refuses every document for good (as a
	// bug would), on the real stage runtime: each goes to the quarantine.
	stopBroken := p.start(func(ctx context.Context, js jetstream.JetStream) error {
		return stage.Run(ctx, js, nil, nil, stage.Spec[events.Extracted]{
			Consumer: topology.ConsumerOf(topology.DurablePseudonymisation), Version: events.ExtractedV, Identified: true,
			MailID:  func(e events.Extracted) string { return e.MailID },
			MailSeq: func(e events.Extracted) uint64 { return e.MailSeq },
			HandleOne: func(context.Context, stage.Delivery[events.Extracted]) error {
				return stage.Permanent("pseudonymisation_failed", errors.New("a bug"))
			}})
	})
	p.send(212, 2)
	p.waitFor("two quarantine entries", func() (bool, string) {
		n := p.streamMsgs(bus.StreamQuarantine)
		return n == 2, fmt.Sprintf("%d entries", n)
	})
	stopBroken()
	p.pseudonymisation()

	out := p.ctl(quarantineCmd, 0, "inspect", "1")
	if !strings.Contains(out, "not kept (identified data)") {
		t.Fatalf("inspect:\n%s", out)
	}
	out = p.ctl(quarantineCmd, 0, "replay", "1")
	if !strings.Contains(out, "replaying from the original mail, BNDMR_MAIL sequence") || !strings.Contains(out, "/replay/1") {
		t.Fatalf("replay:\n%s", out)
	}
	p.waitLoaded(1)
	out = p.ctl(quarantineCmd, 0, "replay", "1")
	if !strings.Contains(out, "already replayed") {
		t.Fatalf("replay again:\n%s", out)
	}
	// The entry without the mail's sequence (an older entry) is found by
	// scanning the mail stream.
	s, _ := p.bus.JS.Stream(p.ctx, bus.StreamQuarantine)
	q, err := getQuarantined(p.ctx, s, 2)
	if err != nil {
		t.Fatal(err)
	}
	q.Event.MailSeq = 0
	if _, err := bus.Publish(p.ctx, p.bus.JS, events.SubjectQuarantine, "older-entry", q); err != nil {
		t.Fatal(err)
	}
	p.ctl(quarantineCmd, 0, "replay", "3")
	p.waitLoaded(2)
	// A mail gone from the stream (retention) cannot be replayed: said, not silent.
	mails, _ := p.bus.JS.Stream(p.ctx, bus.StreamMail)
	if err := mails.Purge(p.ctx); err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	if got := cmdQuarantine(p.ctx, []string{"--nats-url", p.bus.URL, "replay", "2"}, &o, &e); got != 1 || !strings.Contains(e.String(), "is no longer in BNDMR_MAIL") {
		t.Fatalf("replay of a mail gone: exit %d\n%s%s", got, o.String(), e.String())
	}
}

// TestReprocessAfterIdentifiedExpiry: identified documents that expired
// unread (pseudonymisation away longer than BNDMR_IDENTIFIED keeps them;
// here the stream is purged, as MaxAge would) are recovered from the
// originals with `bndmrctl reprocess --all`.
func TestReprocessAfterIdentifiedExpiry(t *testing.T) {
	p := newPipeline(t)
	const mails = 3
	p.validator(validator.Config{})
	p.loader()
	p.send(213, mails)
	p.waitFor("the identified documents", func() (bool, string) {
		n := p.streamMsgs(bus.StreamIdentified)
		return n == mails, fmt.Sprintf("%d identified", n)
	})
	ident, _ := p.bus.JS.Stream(p.ctx, bus.StreamIdentified)
	if err := ident.Purge(p.ctx); err != nil {
		t.Fatal(err)
	}
	p.pseudonymisation()
	out := p.ctl(reprocessCmd, 0, "--since", "2000-01-01", "--run", "identified-expired")
	if !strings.Contains(out, "0 mails picked") {
		t.Fatalf("the outcomes accepted every document: a run for refusals picks none\n%s", out)
	}
	out = p.ctl(reprocessCmd, 0, "--since", "2000-01-01", "--run", "identified-expired", "--all")
	if !strings.Contains(out, fmt.Sprintf("%d published", mails)) {
		t.Fatalf("reprocess --all:\n%s", out)
	}
	p.waitLoaded(mails)
}

package loader

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/bus/bustest"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/indicators"
	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/store/storetest"
	"github.com/bndmr/hub/pkg/topology"
)

func testStore(t *testing.T) *store.Store { return storetest.Store(t, "test_loader") }

// TestLoaderWritesRecordsAndReceipts publishes records and outcomes, some
// twice under different message ids (a republished event JetStream cannot
// deduplicate), and checks every version and every receipt is counted once
// and both durable consumers end with nothing pending.
func TestLoaderWritesRecordsAndReceipts(t *testing.T) {
	st := testStore(t)
	js := bustest.Start(t).JS
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 25
	for i := range n {
		r := events.Record{V: events.RecordV, MailID: fmt.Sprintf("m%d", i), FINESS: "750000010", SetID: fmt.Sprintf("s%d", i%10),
			VersionNumber: i/10 + 1, EffectiveTime: "20261015", ReceivedAt: time.Now(), PatientTraitsPseudonym: "p"}
		o := events.MailOutcome{V: events.OutcomeV, MailID: r.MailID, ReceivedAt: time.Now(),
			Documents: []events.DocumentOutcome{{FINESS: r.FINESS, SetID: r.SetID, VersionNumber: r.VersionNumber, Accepted: true}}}
		if i == 0 { // refused: its failed assertions go to receipts for the reception report
			o.Documents[0].Accepted, o.Documents[0].Rejection = false, &events.Rejection{Code: "schematron", CISIS: 906, Reason: "non conforme"}
			o.Documents[0].Failures = []events.Failure{{Source: "SDM-MR_2024.01", Pattern: "p1", Location: "/a", Text: "règle 1"},
				{Source: "XSD", Text: "règle 2"}}
		}
		for copy := range 1 + i%2 {
			if _, err := bus.Publish(ctx, js, events.SubjectRecord, fmt.Sprintf("r%d-%d", i, copy), r); err != nil {
				t.Fatal(err)
			}
			if _, err := bus.Publish(ctx, js, events.SubjectOutcome, fmt.Sprintf("o%d-%d", i, copy), o); err != nil {
				t.Fatal(err)
			}
		}
	}
	// An unreadable event is terminated, not retried forever.
	if _, err := js.Publish(ctx, events.SubjectRecord, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	// Merges stopped: the republished events stay as duplicate rows, checked below.
	tables := []string{"documents", "patients", "versions", "receipts"}
	for _, table := range tables {
		if err := st.Conn().Exec(ctx, "SYSTEM STOP MERGES "+st.Database()+"."+table); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- New(Config{BatchSize: 7, FlushEvery: 200 * time.Millisecond}, st, zap.NewNop(), nil).Run(runCtx, js, nil)
	}()
	count := func(q string) uint64 {
		var v uint64
		if err := st.Conn().QueryRow(ctx, q).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for ctx.Err() == nil {
		if count("SELECT uniqExact(set_id, version_number) FROM documents") == n &&
			count("SELECT uniqExact(mail_id, doc_index) FROM receipts") == n {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Acks follow the inserts: once the rows are there, nothing stays pending.
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range []struct{ stream, durable string }{{bus.StreamRecord, DurableRecords}, {bus.StreamOutcome, DurableReceipts}} {
		for {
			cons, err := js.Consumer(ctx, c.stream, c.durable)
			if err != nil {
				t.Fatal(err)
			}
			info, err := cons.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.NumPending == 0 && info.NumAckPending == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d pending, %d unacknowledged", c.durable, info.NumPending, info.NumAckPending)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := count("SELECT uniqExact(set_id, version_number) FROM documents"); got != n {
		t.Errorf("%d versions loaded, want %d", got, n)
	}
	if got := count("SELECT uniqExact(mail_id, doc_index) FROM receipts"); got != n {
		t.Errorf("%d receipts, want %d", got, n)
	}
	var failures []string
	if err := st.Conn().QueryRow(ctx, `SELECT any(arrayMap((s, r, l, x) -> concat(s, '|', r, '|', l, '|', x),
		failure_sources, failure_rules, failure_locations, failure_texts)) FROM receipts WHERE mail_id = 'm0'`).Scan(&failures); err != nil {
		t.Fatal(err)
	}
	if want := "SDM-MR_2024.01|p1|/a|règle 1,XSD|||règle 2"; strings.Join(failures, ",") != want {
		t.Errorf("failed assertions of m0 in receipts: %q, want %q", failures, want)
	}
	// Raw rows: each key at least once, the republished ones (every odd
	// i) at least twice until ClickHouse merges; exactly once after.
	// versions holds a row per version and source (document, receipt).
	keys := map[string]uint64{"documents": n, "patients": n, "versions": 2 * n, "receipts": n}
	republished := map[string]uint64{"documents": n / 2, "patients": n / 2, "versions": 2 * (n / 2), "receipts": n / 2}
	for _, merged := range []bool{false, true} {
		for _, table := range tables {
			var part, sorting string
			if err := st.Conn().QueryRow(ctx, "SELECT partition_key, sorting_key FROM system.tables WHERE database = currentDatabase() AND name = ?",
				table).Scan(&part, &sorting); err != nil {
				t.Fatal(err)
			}
			if part != "" {
				sorting = part + ", " + sorting
			}
			rows, distinct := count("SELECT toUInt64(count()) FROM "+table), count("SELECT toUInt64(uniqExact("+sorting+")) FROM "+table)
			switch {
			case distinct != keys[table]:
				t.Errorf("%s (merged %v): %d distinct keys, want %d", table, merged, distinct, keys[table])
			case !merged && rows < keys[table]+republished[table]:
				t.Errorf("%s before merging: %d rows, want the %d keys and the %d republished copies", table, rows, keys[table], republished[table])
			case merged && rows != keys[table]:
				t.Errorf("%s merged: %d rows, want one per key (%d)", table, rows, keys[table])
			}
		}
		for _, table := range tables {
			if merged {
				break
			}
			if err := st.Conn().Exec(ctx, "SYSTEM START MERGES "+st.Database()+"."+table); err != nil {
				t.Fatal(err)
			}
			if err := st.Conn().Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestOneLoaderAtATime runs two loaders on one NATS server and one
// database: one holds the lease and loads the records and the receipts,
// the other loads nothing. The holder's connection to NATS is then cut (a
// crash as NATS sees it): the other takes the lease over once the key
// expires, takes the records' pin at once, and loads what comes next. MR.2
// from the kept figures then equals MR.2 over the history: both streams
// were counted by the keeper of whichever loader held the lease.
func TestOneLoaderAtATime(t *testing.T) {
	st := testStore(t)
	srv := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// A short lease, so that the takeover is quick (the loader reads the
	// bucket's TTL).
	if _, err := srv.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: topology.BucketLeases,
		TTL: 2 * time.Second, History: 1}); err != nil {
		t.Fatal(err)
	}
	type replica struct {
		l    *Loader
		nc   *nats.Conn
		done chan error
	}
	start := func() *replica {
		nc, err := nats.Connect(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		r := &replica{l: New(Config{BatchSize: 5, FlushEvery: 200 * time.Millisecond}, st, zap.NewNop(), nil), nc: nc, done: make(chan error, 1)}
		go func() { r.done <- r.l.Run(ctx, js, nil) }()
		return r
	}
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			// Versions 1 to 4 of five files; every fourth version rejected
			// (a receipt only), so MR.2 needs both streams.
			set, v := fmt.Sprintf("s%d", i%5), i/5+1
			o := events.MailOutcome{V: events.OutcomeV, MailID: fmt.Sprintf("m%d", i), ReceivedAt: time.Now(),
				Documents: []events.DocumentOutcome{{FINESS: "750000010", SetID: set, VersionNumber: v, EffectiveTime: "20261015"}}}
			if i%4 == 3 {
				o.Documents[0].Rejection = &events.Rejection{Code: "schematron", CISIS: 906, Reason: "non conforme"}
			} else {
				o.Documents[0].Accepted = true
				r := events.Record{V: events.RecordV, MailID: o.MailID, FINESS: "750000010", SetID: set, VersionNumber: v,
					EffectiveTime: "20261015", ReceivedAt: time.Now(), PatientTraitsPseudonym: "p"}
				if _, err := bus.Publish(ctx, srv.JS, events.SubjectRecord, "r"+o.MailID, r); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := bus.Publish(ctx, srv.JS, events.SubjectOutcome, "o"+o.MailID, o); err != nil {
				t.Fatal(err)
			}
		}
	}
	// loaded waits until n mails' receipts are in and both consumers
	// have nothing pending.
	loaded := func(n uint64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var got uint64
			if err := st.Conn().QueryRow(ctx, "SELECT uniqExact(mail_id) FROM receipts").Scan(&got); err != nil {
				t.Fatal(err)
			}
			left := ""
			for _, c := range []struct{ stream, durable string }{{bus.StreamRecord, DurableRecords}, {bus.StreamOutcome, DurableReceipts}} {
				cons, err := srv.JS.Consumer(ctx, c.stream, c.durable)
				if err != nil {
					left += fmt.Sprintf(" %s: %v", c.durable, err)
					continue
				}
				if info, err := cons.Info(ctx); err != nil || info.NumPending+uint64(info.NumAckPending) > 0 {
					left += fmt.Sprintf(" %s: %v", c.durable, err)
					if err == nil {
						left += fmt.Sprintf(" %d pending, %d unacknowledged", info.NumPending, info.NumAckPending)
					}
				}
			}
			if got == n && left == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d mails loaded after 30 s;%s", got, n, left)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	written := func(r *replica) float64 {
		return testutil.ToFloat64(r.l.rows.WithLabelValues("record")) + testutil.ToFloat64(r.l.rows.WithLabelValues("outcome"))
	}

	a, b := start(), start()
	publish(0, 10)
	loaded(10)
	holder, standby := a, b
	if testutil.ToFloat64(b.l.held) == 1 {
		holder, standby = b, a
	}
	if testutil.ToFloat64(holder.l.held) != 1 || testutil.ToFloat64(standby.l.held) != 0 {
		t.Fatalf("lease held by a: %v, by b: %v: want exactly one", testutil.ToFloat64(a.l.held), testutil.ToFloat64(b.l.held))
	}
	if w := written(standby); w != 0 {
		t.Errorf("the loader without the lease wrote %v events", w)
	}

	// The holder loses NATS: the other takes over and loads the rest.
	holder.nc.Close()
	publish(10, 20)
	loaded(20)
	if testutil.ToFloat64(standby.l.held) != 1 || written(standby) == 0 {
		t.Errorf("after the holder's crash, the other holds the lease: %v, and wrote %v events", testutil.ToFloat64(standby.l.held), written(standby))
	}
	if testutil.ToFloat64(holder.l.held) != 0 {
		t.Error("the loader cut from NATS still says it holds the lease")
	}

	x := indicators.New(st)
	p, _ := indicators.MonthPeriod("2026-10")
	begun, completed, err := st.FigureGenerations(ctx)
	if err != nil || begun != completed || completed == 0 {
		t.Fatalf("the kept figures are not complete (begun %d, completed %d, %v)", begun, completed, err)
	}
	kept, err := x.MR2(ctx, p, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RequestFiguresRebuild(ctx); err != nil {
		t.Fatal(err)
	}
	history, err := x.MR2(ctx, p, "")
	if err != nil {
		t.Fatal(err)
	}
	k, _ := json.Marshal(kept)
	h, _ := json.Marshal(history)
	if string(k) != string(h) || len(kept) != 1 || kept[0].Seen != 20 || kept[0].Rejected != 5 {
		t.Errorf("MR.2 kept %s, from the history %s; want 20 versions seen, 5 rejected", k, h)
	}
	cancel()
	for _, r := range []*replica{a, b} {
		if err := <-r.done; err != nil {
			t.Error(err)
		}
	}
}

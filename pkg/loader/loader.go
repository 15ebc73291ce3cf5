// Package loader is the loader service: it reads pseudonymised records
// (sdmmr.record) and mail outcomes (mail.outcome) from JetStream and writes
// them to ClickHouse in batches (size or time, whichever comes first),
// acknowledging JetStream only after the insert succeeded. Inserts are keyed
// so that a redelivered batch collapses (ReplacingMergeTree) and never
// changes a count.
package loader

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/store"
)

// Durable consumer names.
const (
	DurableRecords  = "loader"
	DurableReceipts = "loader-receipts"
)

// Config of the loader.
type Config struct {
	BatchSize  int           // rows per INSERT at most; default 1000
	FlushEvery time.Duration // longest wait before a partial batch is written; default 2s
}

// Loader writes records and receipts.
type Loader struct {
	cfg   Config
	st    *store.Store
	log   *zap.Logger
	rows  *prometheus.CounterVec
	flush prometheus.Histogram
	fails prometheus.Counter
}

// New returns a loader writing to st; reg may be nil.
func New(cfg Config, st *store.Store, log *zap.Logger, reg prometheus.Registerer) *Loader {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 2 * time.Second
	}
	l := &Loader{cfg: cfg, st: st, log: log,
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bndmr_loader_rows_total",
			Help: "Events written to ClickHouse, by stream (record, outcome)."}, []string{"event"}),
		flush: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bndmr_loader_batch_seconds",
			Help: "Time of one batch insert.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		fails: prometheus.NewCounter(prometheus.CounterOpts{Name: "bndmr_loader_insert_failures_total", Help: "Batch inserts that failed (retried)."}),
	}
	if reg != nil {
		reg.MustRegister(l.rows, l.flush, l.fails)
	}
	return l
}

// Run consumes sdmmr.record and mail.outcome until ctx ends, each with its
// own durable consumer.
func (l *Loader) Run(ctx context.Context, js jetstream.JetStream) error {
	records, err := bus.EnsureConsumer(ctx, js, bus.ConsumerConfig{Stream: bus.StreamRecord, Durable: DurableRecords,
		Filter: events.SubjectRecord, AckWait: 2 * time.Minute})
	if err != nil {
		return err
	}
	receipts, err := bus.EnsureConsumer(ctx, js, bus.ConsumerConfig{Stream: bus.StreamOutcome, Durable: DurableReceipts,
		Filter: events.SubjectOutcome, AckWait: 2 * time.Minute})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		consume(ctx, l, records, "record", func(r events.Record) bool { return r.V == events.RecordV }, l.st.InsertDocuments)
	}()
	go func() {
		defer wg.Done()
		consume(ctx, l, receipts, "outcome", func(o events.MailOutcome) bool { return o.V == events.OutcomeV }, l.st.InsertReceipts)
	}()
	wg.Wait()
	return nil
}

// consume fetches batches from cons and writes them with insert; ack after
// the insert, nak (redelivery later) when it fails, term what cannot be read.
func consume[T any](ctx context.Context, l *Loader, cons jetstream.Consumer, kind string, known func(T) bool,
	insert func(context.Context, []T) error) {
	for ctx.Err() == nil {
		batch, err := cons.Fetch(l.cfg.BatchSize, jetstream.FetchMaxWait(l.cfg.FlushEvery))
		if err != nil {
			sleep(ctx, time.Second) // NATS away: events wait in the stream
			continue
		}
		var msgs []jetstream.Msg
		var vals []T
		for msg := range batch.Messages() {
			var v T
			if err := json.Unmarshal(msg.Data(), &v); err != nil || !known(v) {
				l.log.Error("unreadable event: terminated", zap.String("event", kind), zap.Error(err))
				_ = msg.TermWithReason("unreadable " + kind)
				continue
			}
			msgs = append(msgs, msg)
			vals = append(vals, v)
		}
		if len(vals) == 0 {
			continue
		}
		start := time.Now()
		if err := insert(ctx, vals); err != nil {
			l.fails.Inc()
			l.log.Warn("batch insert failed; JetStream will redeliver", zap.String("event", kind),
				zap.Int("rows", len(vals)), zap.Error(fmt.Errorf("writing %d %s events: %w", len(vals), kind, err)))
			for _, m := range msgs {
				_ = m.NakWithDelay(5 * time.Second)
			}
			continue
		}
		l.flush.Observe(time.Since(start).Seconds())
		l.rows.WithLabelValues(kind).Add(float64(len(vals)))
		for _, m := range msgs {
			_ = m.Ack()
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

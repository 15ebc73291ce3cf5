// Package loader is the loader service: it reads pseudonymised records from
// JetStream and writes them to ClickHouse in batches (size or time, whichever
// comes first), acknowledging JetStream only after the insert succeeded.
package loader

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/store"
)

// Config of the loader.
type Config struct {
	BatchSize  int           // rows per INSERT at most; default 1000
	FlushEvery time.Duration // longest wait before a partial batch is written; default 2s
}

// Loader writes records.
type Loader struct {
	cfg   Config
	st    *store.Store
	log   *zap.Logger
	rows  prometheus.Counter
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
		rows: prometheus.NewCounter(prometheus.CounterOpts{Name: "bndmr_loader_rows_total", Help: "Records written to ClickHouse."}),
		flush: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bndmr_loader_batch_seconds",
			Help: "Time of one batch insert.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		fails: prometheus.NewCounter(prometheus.CounterOpts{Name: "bndmr_loader_insert_failures_total", Help: "Batch inserts that failed (retried)."}),
	}
	if reg != nil {
		reg.MustRegister(l.rows, l.flush, l.fails)
	}
	return l
}

// Run consumes sdmmr.record until ctx ends.
func (l *Loader) Run(ctx context.Context, js jetstream.JetStream) error {
	cons, err := bus.EnsureConsumer(ctx, js, bus.ConsumerConfig{Stream: bus.StreamRecord, Durable: "loader",
		Filter: events.SubjectRecord, AckWait: 2 * time.Minute})
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(l.cfg.BatchSize, jetstream.FetchMaxWait(l.cfg.FlushEvery))
		if err != nil {
			sleep(ctx, time.Second) // NATS away: records wait in the stream
			continue
		}
		var msgs []jetstream.Msg
		var recs []events.Record
		for msg := range batch.Messages() {
			var r events.Record
			if err := json.Unmarshal(msg.Data(), &r); err != nil || r.V != events.RecordV {
				l.log.Error("unreadable sdmmr.record: terminated", zap.Error(err), zap.Int("v", r.V))
				_ = msg.TermWithReason("unreadable sdmmr.record")
				continue
			}
			msgs = append(msgs, msg)
			recs = append(recs, r)
		}
		if len(recs) == 0 {
			continue
		}
		if err := l.write(ctx, recs); err != nil {
			l.fails.Inc()
			l.log.Warn("batch insert failed; JetStream will redeliver", zap.Int("rows", len(recs)), zap.Error(err))
			for _, m := range msgs {
				_ = m.NakWithDelay(5 * time.Second)
			}
			continue
		}
		for _, m := range msgs {
			_ = m.Ack()
		}
	}
	return nil
}

func (l *Loader) write(ctx context.Context, recs []events.Record) error {
	start := time.Now()
	if err := l.st.InsertDocuments(ctx, recs); err != nil {
		return fmt.Errorf("writing %d records: %w", len(recs), err)
	}
	l.flush.Observe(time.Since(start).Seconds())
	l.rows.Add(float64(len(recs)))
	return nil
}


func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Package loader is the loader service: it reads pseudonymised records
// (sdmmr.record) and mail outcomes (mail.outcome) from JetStream and writes
// them to ClickHouse in batches (size or time, whichever comes first),
// acknowledging JetStream only after the insert succeeded. Inserts are keyed
// so that a redelivered batch collapses (ReplacingMergeTree) and never
// changes a count. The loader also keeps the figures the dashboards read
// (pkg/figures), which need both streams in one process: of several
// replicas, the one holding the loader's lease (pkg/lease, bucket
// BNDMR_LEASES) consumes both; the others wait to take over.
package loader

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"golang.org/x/sync/errgroup"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/figures"
	"github.com/bndmr/hub/pkg/lease"
	"github.com/bndmr/hub/pkg/stage"
	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/topology"
)

// Durable consumer names, as pkg/topology declares them.
const (
	DurableRecords  = topology.DurableRecords
	DurableReceipts = topology.DurableReceipts
)

// Config of the loader.
type Config struct {
	BatchSize  int           // rows per INSERT at most; default 1000
	FlushEvery time.Duration // longest wait before a partial batch is written; default 10s
	Quiet      time.Duration // a partial batch is written once nothing came for this long; default 250ms
}

// Loader writes records and receipts.
type Loader struct {
	cfg   Config
	st    *store.Store
	figs  *figures.Keeper
	log   *zap.Logger
	rows  *prometheus.CounterVec
	flush prometheus.Histogram
	fails prometheus.Counter
	delay prometheus.Gauge
	held  prometheus.Gauge
}

// New returns a loader writing to st; reg may be nil.
func New(cfg Config, st *store.Store, log *zap.Logger, reg prometheus.Registerer) *Loader {
	cfg = cfg.WithDefaults()
	l := &Loader{cfg: cfg, st: st, log: log, figs: figures.NewKeeper(st),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bndmr_loader_rows_total",
			Help: "Events written to ClickHouse, by stream (record, outcome)."}, []string{"event"}),
		flush: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bndmr_loader_batch_seconds",
			Help: "Time of one batch insert.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		fails: prometheus.NewCounter(prometheus.CounterOpts{Name: "bndmr_loader_insert_failures_total", Help: "Batch inserts that failed (retried)."}),
		delay: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bndmr_clickhouse_replica_delay_seconds",
			Help: "How far the most lagging replicated table of the hub's database is behind (system.replicas absolute_delay; 0 on one server)."}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bndmr_loader_lease_held",
			Help: "1 while this loader holds the loader's lease and consumes the records and the receipts; 0 while it waits to take over."}),
	}
	if reg != nil {
		reg.MustRegister(l.rows, l.flush, l.fails, l.delay, l.held)
	}
	return l
}

// Run consumes sdmmr.record and mail.outcome until ctx ends, each with its
// own durable consumer on the stage runtime (set may be nil), while this
// loader holds the loader's lease: the figures need the documents and the
// receipts counted by one keeper. Another replica waits and takes over
// when this one stops (at once) or dies (after the bucket's TTL). The
// lease is not what keeps the figures right, the keeper's generations are
// (pkg/figures): two loaders working at once for a moment count everything
// again, they count nothing wrong.
func (l *Loader) Run(ctx context.Context, js jetstream.JetStream, set *stage.Set) error {
	if set == nil {
		set = stage.NewSet(nil)
	}
	kv, err := js.KeyValue(ctx, topology.BucketLeases)
	if err != nil {
		return fmt.Errorf("opening the key-value bucket %s of the loader's lease (created with the streams): %w", topology.BucketLeases, err)
	}
	status, err := kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("reading the TTL of the key-value bucket %s: %w", topology.BucketLeases, err)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { l.watchReplicas(ctx); return nil })
	g.Go(func() error {
		return lease.Hold(ctx, kv, topology.LeaseLoader, l.figs.Writer(), status.TTL(), func(ctx context.Context) error {
			return l.consume(ctx, js, set)
		}, lease.OnChange(func(held bool) {
			if held {
				l.held.Set(1)
				l.log.Info("loader's lease taken: consuming the records and the receipts")
			} else {
				l.held.Set(0)
				l.log.Info("loader's lease given back or lost: waiting to take it again")
			}
		}), lease.OnError(func(err error) { l.log.Warn("loader's lease", zap.Error(err)) }))
	})
	return g.Wait()
}

// consume runs the two stages until ctx ends.
func (l *Loader) consume(ctx context.Context, js jetstream.JetStream, set *stage.Set) error {
	l.takePin(ctx, js)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return stage.Run(ctx, js, set, l.log, stage.Spec[events.Record]{
			Consumer: topology.ConsumerOf(DurableRecords), Version: events.RecordV,
			Batch: l.cfg.BatchSize, MaxWait: l.cfg.FlushEvery, Quiet: l.cfg.Quiet, Dependency: "clickhouse",
			MailID:      func(r events.Record) string { return r.MailID },
			HandleBatch: batchInsert(l, "record", l.figs.Write),
		})
	})
	g.Go(func() error {
		return stage.Run(ctx, js, set, l.log, stage.Spec[events.MailOutcome]{
			Consumer: topology.ConsumerOf(DurableReceipts), Version: events.OutcomeV,
			Batch: l.cfg.BatchSize, MaxWait: l.cfg.FlushEvery, Quiet: l.cfg.Quiet, Dependency: "clickhouse",
			MailID:      func(o events.MailOutcome) string { return o.MailID },
			HandleBatch: batchInsert(l, "outcome", l.figs.WriteReceipts),
		})
	})
	return g.Wait()
}

// takePin unpins the records' consumer from the client it names, if any:
// this loader holds the lease, so that client is a loader that crashed (or
// one that lost the lease and stops), and the records would otherwise wait
// for the pin's TTL (topology.PinnedTTL, 5 min) instead of the lease's
// (30 s). A failure only leaves that wait.
func (l *Loader) takePin(ctx context.Context, js jetstream.JetStream) {
	pins, err := stage.Unpin(ctx, js, topology.ConsumerOf(DurableRecords), "")
	if err != nil {
		l.log.Warn("the records' consumer may still be pinned to a former loader; the records wait for the pin's TTL", zap.Error(err))
	}
	for _, pin := range pins {
		l.log.Info("the records' consumer unpinned from a former loader", zap.String("pin", pin))
	}
}

// batchInsert writes a batch with insert. ClickHouse refusing the rows
// themselves (a server exception) is permanent: the runtime then inserts
// one at a time and quarantines the one that fails; anything else (server
// away, timeout) is retried.
func batchInsert[T any](l *Loader, kind string, insert func(context.Context, []T) error) func(context.Context, []stage.Delivery[T]) error {
	return func(ctx context.Context, batch []stage.Delivery[T]) error {
		vals := make([]T, len(batch))
		for i, d := range batch {
			vals[i] = d.Event
		}
		start := time.Now()
		if err := insert(ctx, vals); err != nil {
			l.fails.Inc()
			err = fmt.Errorf("writing %d %s events to ClickHouse: %w", len(vals), kind, err)
			if store.Refused(err) {
				return stage.Permanent("clickhouse_refused", err)
			}
			return stage.Transient("clickhouse", err)
		}
		l.flush.Observe(time.Since(start).Seconds())
		l.rows.WithLabelValues(kind).Add(float64(len(vals)))
		return nil
	}
}

// watchReplicas reads the replication delay every 30 s for the metric: a
// replica that falls behind serves stale figures to the analysts.
func (l *Loader) watchReplicas(ctx context.Context) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		if d, err := l.st.ReplicaDelay(ctx); err == nil {
			l.delay.Set(float64(d))
		} else if ctx.Err() == nil {
			l.log.Debug("replication delay not read", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

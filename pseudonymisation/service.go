package pseudonymisation

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/stage"
	"github.com/bndmr/hub/pkg/topology"
)

// Service consumes identified documents and publishes pseudonymised records.
// It is the only service allowed to read the identified stream.
type Service struct {
	p       *Pseudonymiser
	log     *zap.Logger
	records *prometheus.CounterVec
}

// NewService returns the service over p; reg may be nil.
func NewService(p *Pseudonymiser, log *zap.Logger, reg prometheus.Registerer) *Service {
	s := &Service{p: p, log: log, records: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bndmr_pseudonymisation_records_total",
		Help: "Records published, by kind (record, opposition) or refused (error).",
	}, []string{"kind"})}
	if reg != nil {
		reg.MustRegister(s.records)
	}
	return s
}

// Run consumes until ctx ends, on the stage runtime (set may be nil).
func (s *Service) Run(ctx context.Context, js jetstream.JetStream, set *stage.Set) error {
	return stage.Run(ctx, js, set, s.log, stage.Spec[events.Extracted]{
		Consumer: topology.ConsumerOf(topology.DurablePseudonymisation),
		Version:  events.ExtractedV,
		Batch:    20,
		// Each record waits on two round trips to JetStream (its publish,
		// then the acknowledgement of the document): one worker would
		// serialise them, and the pseudonyms themselves cost little CPU.
		Workers:    4,
		Dependency: "nats",
		// The quarantine names the mail, never the identified content.
		Identified: true,
		MailID:     func(e events.Extracted) string { return e.MailID },
		MailSeq:    func(e events.Extracted) uint64 { return e.MailSeq },
		HandleOne: func(ctx context.Context, d stage.Delivery[events.Extracted]) error {
			return s.handle(ctx, js, d.Event, d.MsgID())
		},
	})
}

// handle publishes the record under an id derived from the identified
// message's own (MailID/DocIndex for a mail's first pass; a replay or a
// reprocess of the mail gives new ids all the way down, so JetStream's
// deduplication does not swallow the second pass).
func (s *Service) handle(ctx context.Context, js jetstream.JetStream, ext events.Extracted, msgID string) error {
	rec, err := s.p.Record(ext)
	if err != nil {
		s.records.WithLabelValues("error").Inc()
		return stage.Permanent("pseudonymisation_failed", fmt.Errorf("pseudonymising %s/%d: %w", ext.MailID, ext.DocIndex, err))
	}
	if msgID == "" {
		msgID = fmt.Sprintf("%s/%d", ext.MailID, ext.DocIndex)
	}
	if _, err := bus.Publish(ctx, js, events.SubjectRecord, msgID, rec); err != nil {
		return stage.Transient("nats", err)
	}
	kind := "record"
	if rec.Opposition {
		kind = "opposition"
	}
	s.records.WithLabelValues(kind).Inc()
	return nil
}

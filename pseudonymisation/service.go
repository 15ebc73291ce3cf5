package pseudonymisation

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

// Run consumes until ctx ends.
func (s *Service) Run(ctx context.Context, js jetstream.JetStream) error {
	return bus.Consume(ctx, js, bus.ConsumerConfig{Stream: bus.StreamIdentified, Durable: "pseudonymisation",
		Filter: events.SubjectExtracted, AckWait: time.Minute}, func(ctx context.Context, msg jetstream.Msg) error {
		return s.handle(ctx, js, msg)
	})
}

func (s *Service) handle(ctx context.Context, js jetstream.JetStream, msg jetstream.Msg) error {
	var ext events.Extracted
	if err := json.Unmarshal(msg.Data(), &ext); err != nil || ext.V != events.ExtractedV {
		s.records.WithLabelValues("error").Inc()
		// Never log the payload: it is identified.
		s.log.Error("unreadable sdmmr.extracted event: terminated", zap.Int("v", ext.V))
		return fmt.Errorf("unreadable sdmmr.extracted event: %w", bus.ErrPermanent)
	}
	rec, err := s.p.Record(ext)
	if err != nil {
		s.records.WithLabelValues("error").Inc()
		s.log.Error("document cannot be pseudonymised: quarantined", zap.String("mail_id", ext.MailID), zap.Int("doc_index", ext.DocIndex), zap.Error(err))
		// The quarantine names the mail, never the identified content.
		q := events.Quarantined{V: events.QuarantineV, Mail: events.MailRaw{V: events.MailRawV, MailID: ext.MailID},
			Stage: "pseudonymisation", Code: "pseudonymisation_failed", Reason: err.Error(), At: time.Now().UTC()}
		if _, qerr := bus.Publish(ctx, js, events.SubjectQuarantine, fmt.Sprintf("pseudonymisation/%s/%d", ext.MailID, ext.DocIndex), q); qerr != nil {
			return qerr
		}
		return fmt.Errorf("pseudonymising %s/%d: %v: %w", ext.MailID, ext.DocIndex, err, bus.ErrPermanent)
	}
	if _, err := bus.Publish(ctx, js, events.SubjectRecord, fmt.Sprintf("%s/%d", ext.MailID, ext.DocIndex), rec); err != nil {
		return err
	}
	kind := "record"
	if rec.Opposition {
		kind = "opposition"
	}
	s.records.WithLabelValues(kind).Inc()
	return nil
}

package ack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/mssante"
	"github.com/bndmr/hub/pkg/pause"
	"github.com/bndmr/hub/pkg/stage"
	"github.com/bndmr/hub/pkg/topology"
)

// Status of an MDN in the record bucket.
const (
	StatusSending  = "sending"  // claimed; submitted or about to be
	StatusRetrying = "retrying" // temporary SMTP failure; a later delivery tries again
	StatusSent     = "sent"     // accepted by the SMTP server
	StatusRejected = "rejected" // refused for good (5xx)
	StatusGaveUp   = "gave_up"  // temporary failures until the last delivery
)

// Record is what the bucket keeps per original Message-ID. Only "sending"
// or "retrying" of the same mail let an MDN go out again ("sending" left
// behind means a stop, perhaps after the submission); any other record means
// the original is answered for good.
type Record struct {
	Status            string    `json:"status"`
	MailID            string    `json:"mail_id"`
	OriginalMessageID string    `json:"original_message_id,omitempty"`
	MDNMessageID      string    `json:"mdn_message_id"`
	To                []string  `json:"to"`
	Code              int       `json:"code,omitempty"` // 0: processed
	SHA256            string    `json:"sha256"`         // of the MDN bytes
	Size              int       `json:"size"`
	SMTPReply         string    `json:"smtp_reply,omitempty"`
	Attempts          int       `json:"attempts,omitempty"`
	At                time.Time `json:"at"`
}

// RecordKey is the bucket key for an outcome: the original's Message-ID,
// hashed to fit the key alphabet, or the hub's mail id when it had none.
func RecordKey(o events.MailOutcome) string {
	if id := mssante.AngleID(o.MessageID); id != "" {
		sum := sha256.Sum256([]byte(id))
		return "msgid." + hex.EncodeToString(sum[:])
	}
	sum := sha256.Sum256([]byte(o.MailID))
	return "mail." + hex.EncodeToString(sum[:])
}

// Service answers outcomes. Build it with New, run it with Run.
type Service struct {
	cfg    Config
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	sender Sender
	log    *zap.Logger
	m      *metrics
}

// Run answers every mail.outcome until ctx ends, submitting MDNs with the
// SMTP settings of cfg.
func Run(ctx context.Context, cfg Config, js jetstream.JetStream, log *zap.Logger) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	sender, err := NewSMTPSender(cfg.SMTP)
	if err != nil {
		return err
	}
	s, err := New(ctx, cfg, js, log, sender)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// New prepares the service: metrics and the record bucket. cfg must have
// passed Validate (after WithDefaults).
func New(ctx context.Context, cfg Config, js jetstream.JetStream, log *zap.Logger, sender Sender) (*Service, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.Registry == nil {
		return nil, errors.New("ack: Config.Registry is required (metrics go to the registry the caller serves)")
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	// Bind the bucket the provisioning declared (bndmrctl streams); create
	// it only where this service may (the all-in-one hub, tests).
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      cfg.Bucket,
			Description: "MDNs sent (or refused) per original Message-ID: at most one answer per mail",
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			History:     4,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("opening the MDN record bucket %s: %w", cfg.Bucket, err)
	}
	return &Service{cfg: cfg, js: js, kv: kv, sender: sender, log: log.Named("ack"), m: m}, nil
}

// Run consumes mail.outcome with the durable consumer until ctx ends, on
// the stage runtime: an outcome whose MDN meets a temporary failure comes
// back, with a growing delay, until it is sent, refused (5xx) or older than
// GiveUpAfter.
func (s *Service) Run(ctx context.Context) error {
	cons := topology.ConsumerOf(topology.DurableAck)
	cons.Durable, cons.AckWait = s.cfg.Durable, s.cfg.AckWait
	set := s.cfg.Stages
	if set == nil {
		set = stage.NewSet(s.cfg.Registry)
	}
	return stage.Run(ctx, s.js, set, s.log, stage.Spec[events.MailOutcome]{
		Consumer:   cons,
		Version:    events.OutcomeV,
		Dependency: "smtp",
		// A message waiting in a fetched batch while another one retries
		// its SMTP submission would outlive its AckWait.
		Batch:  4,
		MailID: func(o events.MailOutcome) string { return o.MailID },
		HandleOne: func(ctx context.Context, d stage.Delivery[events.MailOutcome]) error {
			last := time.Since(d.Meta.Timestamp) >= s.cfg.GiveUpAfter
			return s.Answer(ctx, d.Event, d.InProgress, last)
		},
	})
}

// Answer sends the MDN for o unless policy or the record says not to.
// alive is called while retrying, to hold the event; last says the outcome
// is past GiveUpAfter, so a temporary failure is recorded as final.
//
// The record of the original Message-ID in the bucket moves through five
// statuses, one step each: lookUp reads it (a final status, sent, rejected
// or gave_up, ends there); claim writes sending before the submission (or
// finds the sending of an earlier delivery that stopped: this one resends);
// after the submission, recordFailure writes rejected (5xx), gave_up (last
// delivery) or retrying (a later delivery tries again), and recordSent
// writes sent.
func (s *Service) Answer(ctx context.Context, o events.MailOutcome, alive func(), last bool) error {
	log := s.log.With(zap.String("mail_id", o.MailID))
	to, skip := recipients(s.cfg, o)
	if skip != "" {
		s.m.skipped.WithLabelValues(skip).Inc()
		log.Info("no MDN for this mail", zap.String("reason", skip))
		return nil
	}
	key := RecordKey(o)
	log = log.With(zap.String("record", key))
	prev, rev, done, err := s.lookUp(ctx, key, o, log)
	if err != nil || done {
		return err
	}
	original, err := s.original(ctx, o, log)
	if err != nil {
		return err
	}
	mdn, raw, err := buildMDN(s.cfg, o, to, original)
	if err != nil {
		s.m.invalid.Inc()
		log.Error("cannot build the MDN", zap.Error(err))
		return fmt.Errorf("%w: %w", err, stage.ErrPermanent)
	}
	rec := newRecord(o, to, mdn, raw)
	if rev, err = s.claim(ctx, key, rec, prev, rev, log); err != nil {
		return err
	}

	attempts, err := s.sendWithRetry(ctx, to, raw, alive, log)
	rec.Attempts = attempts
	if prev != nil {
		rec.Attempts += prev.Attempts
	}
	if err != nil {
		return s.recordFailure(ctx, key, rec, rev, err, last, log)
	}
	if s.cfg.afterSend != nil {
		if err := s.cfg.afterSend(ctx, key); err != nil {
			return err
		}
	}
	rec.Status, rec.At = StatusSent, time.Now().UTC()
	if err := s.recordSent(ctx, key, rec, rev, alive, log); err != nil {
		// The next delivery finds "sending" and resends the same bytes.
		return stage.Transient("nats", fmt.Errorf("recording the sent MDN %s: %w", key, err))
	}
	code := "ok"
	if rec.Code != 0 {
		code = strconv.Itoa(rec.Code)
	}
	s.m.sent.WithLabelValues(code).Inc()
	log.Info("MDN sent", zap.String("code", code), zap.String("mdn_message_id", mdn.MessageID), zap.Int("bytes", len(raw)))
	return nil
}

// lookUp reads the record of key: none (prev nil), one this delivery takes
// over (sending or retrying, for this mail: prev and its revision), or a
// reason not to answer (done: final, or another mail's answer on its way).
func (s *Service) lookUp(ctx context.Context, key string, o events.MailOutcome, log *zap.Logger) (prev *Record, rev uint64, done bool, err error) {
	entry, err := s.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, 0, false, nil
	case err != nil:
		return nil, 0, false, fmt.Errorf("reading MDN record %s: %w", key, err)
	}
	var r Record
	if err := json.Unmarshal(entry.Value(), &r); err != nil {
		return nil, 0, false, fmt.Errorf("MDN record %s is unreadable (%v): delete it to answer the mail again: %w", key, err, stage.ErrPermanent)
	}
	if r.Status != StatusSending && r.Status != StatusRetrying {
		s.m.skipped.WithLabelValues(skipAlreadyDone).Inc()
		log.Info("MDN already recorded for this Message-ID", zap.String("status", r.Status), zap.String("recorded_for", r.MailID))
		return nil, 0, true, nil
	}
	if r.MailID != o.MailID {
		// Another mail carries the same Message-ID (a forward, a resend):
		// the original gets one answer, and that one is on its way.
		s.m.skipped.WithLabelValues(skipOtherMailBusy).Inc()
		log.Info("another mail with this Message-ID is being answered", zap.String("recorded_for", r.MailID))
		return nil, 0, true, nil
	}
	return &r, entry.Revision(), false, nil
}

// newRecord is the record of the MDN about to be sent (status sending).
func newRecord(o events.MailOutcome, to []string, mdn *mssante.MDN, raw []byte) Record {
	sum := sha256.Sum256(raw)
	rec := Record{
		Status:            StatusSending,
		MailID:            o.MailID,
		OriginalMessageID: mssante.AngleID(o.MessageID),
		MDNMessageID:      mdn.MessageID,
		To:                to,
		SHA256:            hex.EncodeToString(sum[:]),
		Size:              len(raw),
		At:                time.Now().UTC(),
	}
	if mdn.Error != nil {
		rec.Code = mdn.Error.Code
	}
	return rec
}

// claim records rec (sending) before the submission and returns the
// record's revision. With no record, it creates it; over retrying it
// leaves the record to recordFailure or recordSent; over sending (an
// earlier delivery stopped between claim and record) this delivery resends.
func (s *Service) claim(ctx context.Context, key string, rec Record, prev *Record, rev uint64, log *zap.Logger) (uint64, error) {
	if prev == nil {
		rev, err := s.kv.Create(ctx, key, mustJSON(rec))
		if errors.Is(err, jetstream.ErrKeyExists) {
			// Claimed between our read and now: the next delivery reads it.
			return 0, fmt.Errorf("MDN record %s appeared concurrently; will look again", key)
		}
		if err != nil {
			return 0, fmt.Errorf("claiming MDN record %s: %w", key, err)
		}
		return rev, nil
	}
	if prev.Status == StatusSending {
		// A stop between claim and record, perhaps after the submission:
		// this resend is the same bytes, so the hospital sees the same
		// Message-ID twice at worst.
		s.m.resent.Inc()
		if prev.SHA256 != rec.SHA256 {
			log.Warn("MDN resent after a stop differs from the first attempt (original no longer readable or configuration changed)",
				zap.String("first_sha256", prev.SHA256), zap.String("now_sha256", rec.SHA256))
		}
		log.Info("resending the MDN claimed by an earlier delivery", zap.String("mdn_message_id", rec.MDNMessageID))
	}
	return rev, nil
}

// recordFailure records a submission that failed (err): rejected for a
// 5xx, gave_up on the last delivery (both final: nil, the outcome is
// done), retrying otherwise (err: the outcome comes back).
func (s *Service) recordFailure(ctx context.Context, key string, rec Record, rev uint64, err error, last bool, log *zap.Logger) error {
	var perm *PermanentError
	switch {
	case errors.As(err, &perm):
		rec.Status, rec.SMTPReply, rec.At = StatusRejected, strconv.Itoa(perm.Code)+" "+perm.Reply, time.Now().UTC()
		if _, perr := s.kv.Put(ctx, key, mustJSON(rec)); perr != nil {
			return fmt.Errorf("recording the refused MDN %s: %w", key, perr)
		}
		s.m.rejected.Inc()
		log.Error("SMTP server refused the MDN for good; recorded, not retried", zap.Int("smtp_code", perm.Code), zap.String("reply", perm.Reply))
		return nil
	case last && ctx.Err() == nil:
		rec.Status, rec.SMTPReply, rec.At = StatusGaveUp, err.Error(), time.Now().UTC()
		if _, perr := s.kv.Put(ctx, key, mustJSON(rec)); perr != nil {
			return fmt.Errorf("recording the abandoned MDN %s: %w", key, perr)
		}
		s.m.gaveUp.Inc()
		log.Error("MDN abandoned: temporary SMTP failures on every delivery", zap.Error(err))
		return nil
	}
	// Nothing went out: say so, so the next delivery is not taken for a
	// resend after a stop.
	rec.Status, rec.SMTPReply, rec.At = StatusRetrying, err.Error(), time.Now().UTC()
	if _, uerr := s.kv.Update(ctx, key, mustJSON(rec), rev); uerr != nil {
		log.Warn("could not record the temporary failure", zap.Error(uerr))
	}
	return err
}

// recordSent records the MDN as sent. When the bucket's stream loses its
// leader (a NATS server killed), updates time out for the few seconds of an
// election; failing the delivery at once would make the next one resend the
// MDN, and the hospital would get it twice. So the update is retried for up
// to RecordFor, holding the message. An update applied whose reply was lost
// is recognised by reading the record back.
func (s *Service) recordSent(ctx context.Context, key string, rec Record, rev uint64, alive func(), log *zap.Logger) error {
	limit := s.cfg.RecordFor
	if limit <= 0 {
		limit = 90 * time.Second
	}
	deadline := time.Now().Add(limit)
	delay := time.Second
	for {
		var err error
		if s.cfg.beforeRecord != nil {
			err = s.cfg.beforeRecord(ctx, key)
		}
		if err == nil {
			uctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err = s.kv.Update(uctx, key, mustJSON(rec), rev)
			cancel()
			if err == nil {
				return nil
			}
			gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			e, gerr := s.kv.Get(gctx, key)
			cancel()
			if gerr == nil {
				var cur Record
				if json.Unmarshal(e.Value(), &cur) == nil && cur.Status == StatusSent && cur.MDNMessageID == rec.MDNMessageID {
					return nil
				}
			}
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		log.Warn("cannot record the sent MDN yet; retrying, so that it is not sent twice", zap.Duration("delay", delay), zap.Error(err))
		if alive != nil {
			alive()
		}
		if serr := s.sleep(ctx, delay); serr != nil {
			return err
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// sendWithRetry submits raw, retrying temporary failures with a doubling
// delay; it returns at once on a permanent one.
func (s *Service) sendWithRetry(ctx context.Context, to []string, raw []byte, alive func(), log *zap.Logger) (int, error) {
	delay := s.cfg.RetryInitial
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := s.sender.Send(ctx, s.cfg.SMTP.EnvelopeFrom, to, raw)
		s.m.sendTime.Observe(time.Since(start).Seconds())
		var perm *PermanentError
		switch {
		case err == nil:
			s.m.attempts.WithLabelValues("ok").Inc()
			return attempt, nil
		case errors.As(err, &perm):
			s.m.attempts.WithLabelValues("permanent").Inc()
			return attempt, err
		}
		s.m.attempts.WithLabelValues("temporary").Inc()
		log.Warn("temporary SMTP failure", zap.Int("attempt", attempt), zap.Error(err))
		if attempt >= s.cfg.RetryAttempts || ctx.Err() != nil {
			return attempt, fmt.Errorf("submitting the MDN (%d attempts): %w", attempt, err)
		}
		if alive != nil {
			alive()
		}
		if err := s.sleep(ctx, delay); err != nil {
			return attempt, err
		}
		delay = min(2*delay, s.cfg.RetryMax)
	}
}

// original fetches the raw original from the mail stream, or returns nil
// to quote its header only (too large, unknown, or gone from the stream).
func (s *Service) original(ctx context.Context, o events.MailOutcome, log *zap.Logger) ([]byte, error) {
	max := s.cfg.MaxOriginalBytes
	if max < 0 || o.MailSeq == 0 || o.Size > max {
		return nil, nil
	}
	gone := func(why string, err error) ([]byte, error) {
		s.m.unquotable.Inc()
		log.Warn("original not quotable, quoting its header", zap.String("why", why), zap.Error(err))
		return nil, nil
	}
	stream, err := s.js.Stream(ctx, bus.StreamMail)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return gone("no mail stream", err)
	}
	if err != nil {
		return nil, fmt.Errorf("opening stream %s: %w", bus.StreamMail, err)
	}
	m, err := stream.GetMsg(ctx, o.MailSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return gone("raw mail no longer in the stream", err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading raw mail %s at sequence %d: %w", o.MailID, o.MailSeq, err)
	}
	var raw events.MailRaw
	if err := json.Unmarshal(m.Data, &raw); err != nil {
		return gone("raw mail event unreadable", err)
	}
	if raw.MailID != o.MailID {
		return gone("sequence holds another mail", fmt.Errorf("sequence %d is mail %s", o.MailSeq, raw.MailID))
	}
	data := raw.Raw
	if data == nil && raw.Object != "" {
		obs, err := s.js.ObjectStore(ctx, bus.ObjectStore)
		if err != nil {
			if errors.Is(err, jetstream.ErrBucketNotFound) {
				return gone("no object store", err)
			}
			return nil, fmt.Errorf("opening object store %s: %w", bus.ObjectStore, err)
		}
		data, err = obs.GetBytes(ctx, raw.Object)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return gone("raw mail object gone", err)
		}
		if err != nil {
			return nil, fmt.Errorf("reading raw mail object %s: %w", raw.Object, err)
		}
	}
	if data == nil || int64(len(data)) > max {
		return nil, nil
	}
	return data, nil
}

func (s *Service) sleep(ctx context.Context, d time.Duration) error {
	if s.cfg.sleep != nil {
		return s.cfg.sleep(ctx, d)
	}
	return pause.For(ctx, d)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encoding %T: %v", v, err)) // plain structs: cannot fail
	}
	return b
}

// Records lists the bucket, for tests.
func (s *Service) Records(ctx context.Context) (map[string]Record, error) {
	return listRecords(ctx, s.kv)
}

// ListRecords reads every MDN record of bucket (default BNDMR_MDN_SENT),
// for an operator's tool: which originals were answered, refused, given up.
func ListRecords(ctx context.Context, js jetstream.JetStream, bucket string) (map[string]Record, error) {
	if bucket == "" {
		bucket = DefaultBucket
	}
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("opening MDN record bucket %s: %w", bucket, err)
	}
	return listRecords(ctx, kv)
}

// ForgetRecord deletes the record of one original, so that its outcome, if
// delivered again (bndmrctl replay), is answered again: for an MDN refused
// (5xx) or given up once the cause is fixed. key is RecordKey's.
func ForgetRecord(ctx context.Context, js jetstream.JetStream, bucket, key string) error {
	if bucket == "" {
		bucket = DefaultBucket
	}
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return fmt.Errorf("opening MDN record bucket %s: %w", bucket, err)
	}
	if _, err := kv.Get(ctx, key); err != nil {
		return fmt.Errorf("MDN record %s: %w", key, err)
	}
	if err := kv.Delete(ctx, key); err != nil {
		return fmt.Errorf("deleting MDN record %s: %w", key, err)
	}
	return nil
}

func listRecords(ctx context.Context, kv jetstream.KeyValue) (map[string]Record, error) {
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing MDN records: %w", err)
	}
	out := map[string]Record{}
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				continue
			}
			return nil, fmt.Errorf("reading MDN record %s: %w", k, err)
		}
		var r Record
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			return nil, fmt.Errorf("MDN record %s: %w", k, err)
		}
		out[strings.Clone(k)] = r
	}
	return out, nil
}

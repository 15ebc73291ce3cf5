// Package ingest is the ingest service: one IMAP session per mailbox, each
// message published to JetStream (and acknowledged by it) before it leaves
// the inbox.
package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/mailbox"
)

// Config of the ingest service.
type Config struct {
	Mailboxes []mailbox.Config
	// MaxInline is the largest mail carried inside the stream message; a
	// larger one goes to the object store. Keep it under the stream's
	// MaxMsgBytes once JSON (base64) grows it by a third.
	MaxInline int
	// RetryEvery is how long a hand-off waits before trying NATS again.
	RetryEvery time.Duration
}

// Validate checks c.
func (c *Config) Validate() error {
	if len(c.Mailboxes) == 0 {
		return fmt.Errorf("ingest: no mailbox configured")
	}
	names := map[string]bool{}
	for i := range c.Mailboxes {
		if err := c.Mailboxes[i].Validate(); err != nil {
			return err
		}
		if names[c.Mailboxes[i].Name] {
			return fmt.Errorf("ingest: two mailboxes are named %q", c.Mailboxes[i].Name)
		}
		names[c.Mailboxes[i].Name] = true
	}
	if c.MaxInline <= 0 {
		c.MaxInline = 2 << 20
	}
	if c.RetryEvery <= 0 {
		c.RetryEvery = time.Second
	}
	return nil
}

type metrics struct {
	handed    *prometheus.CounterVec
	connected *prometheus.GaugeVec
	objects   prometheus.Counter
	retries   prometheus.Counter
}

func (m *metrics) HandedOff(mb string) { m.handed.WithLabelValues(mb).Inc() }
func (m *metrics) Connected(mb string, ok bool) {
	v := 0.0
	if ok {
		v = 1
	}
	m.connected.WithLabelValues(mb).Set(v)
}

// Run reads every mailbox until ctx ends. A mailbox that fails reconnects on
// its own and does not stop the others.
func Run(ctx context.Context, cfg Config, js jetstream.JetStream, log *zap.Logger, reg prometheus.Registerer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	m := &metrics{
		handed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bndmr_ingest_mails_total",
			Help: "Mails published to JetStream and moved out of the inbox."}, []string{"mailbox"}),
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bndmr_ingest_connected",
			Help: "1 while the IMAP session of the mailbox is open."}, []string{"mailbox"}),
		objects: prometheus.NewCounter(prometheus.CounterOpts{Name: "bndmr_ingest_large_mails_total",
			Help: "Mails too large for a stream message, stored in the object store."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "bndmr_ingest_publish_retries_total",
			Help: "Hand-offs retried because JetStream did not acknowledge."}),
	}
	if reg != nil {
		reg.MustRegister(m.handed, m.connected, m.objects, m.retries)
	}
	h := &handoff{js: js, cfg: cfg, log: log, m: m}
	var wg sync.WaitGroup
	for _, mc := range cfg.Mailboxes {
		r, err := mailbox.NewReader(mc, h.sink, log, m)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Run(ctx)
		}()
	}
	wg.Wait()
	return nil
}

type handoff struct {
	js  jetstream.JetStream
	cfg Config
	log *zap.Logger
	m   *metrics
}

// sink publishes one mail and returns once JetStream stored it. While
// JetStream is away it keeps trying: the message stays in the inbox, and the
// IMAP session is kept (back-pressure instead of loss).
func (h *handoff) sink(ctx context.Context, msg mailbox.Message) error {
	sum := sha256.Sum256(msg.Raw)
	ev := events.MailRaw{V: events.MailRawV, MailID: msg.ID(), Mailbox: msg.Mailbox, UIDValidity: msg.UIDValidity,
		UID: msg.UID, ReceivedAt: msg.Internal.UTC(), Size: int64(len(msg.Raw)), SHA256: hex.EncodeToString(sum[:])}
	if ev.ReceivedAt.IsZero() {
		ev.ReceivedAt = time.Now().UTC()
	}
	for attempt := 1; ; attempt++ {
		err := h.publish(ctx, ev, msg.Raw)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h.m.retries.Inc()
		if attempt == 1 || attempt%30 == 0 {
			h.log.Warn("JetStream did not take the mail; holding it in the inbox and retrying",
				zap.String("mail_id", ev.MailID), zap.Int("attempt", attempt), zap.Error(err))
		}
		t := time.NewTimer(h.cfg.RetryEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (h *handoff) publish(ctx context.Context, ev events.MailRaw, raw []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if len(raw) > h.cfg.MaxInline {
		obs, err := h.js.ObjectStore(ctx, bus.ObjectStore)
		if err != nil {
			return fmt.Errorf("opening object store: %w", err)
		}
		if _, err := obs.PutBytes(ctx, ev.MailID, raw); err != nil {
			return fmt.Errorf("storing a %d-byte mail in the object store: %w", len(raw), err)
		}
		ev.Object = ev.MailID
		h.m.objects.Inc()
	} else {
		ev.Raw = raw
	}
	_, err := bus.Publish(ctx, h.js, events.SubjectMailRaw, ev.MailID, ev)
	return err
}

// Package ingest is the ingest service: one IMAP session per mailbox, each
// message published to JetStream (and acknowledged by it) before it leaves
// the inbox.
package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/mailbox"
	"github.com/bndmr/hub/pkg/pause"
	"github.com/bndmr/hub/pkg/service"
	"github.com/bndmr/hub/pkg/tlsclient"
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
	// Replicas of the BNDMR_INGESTED bucket when ingest has to create it.
	Replicas int
	// IngestedTTL is how long a content key is remembered (default
	// bus.DefaultMailMaxAge, the retention of the mail stream).
	IngestedTTL time.Duration
	// Status, when set, follows the IMAP sessions for a readiness check.
	Status *Status
}

// Status follows whether each mailbox's IMAP session is open.
type Status struct {
	mu        sync.Mutex
	connected map[string]bool
}

func (s *Status) set(mailbox string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connected == nil {
		s.connected = map[string]bool{}
	}
	s.connected[mailbox] = ok
}

// Check fails while a mailbox of mailboxes has no open session (not yet,
// or lost: the server away, a refused certificate or password), naming it.
func (s *Status) Check(mailboxes []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var down []string
	for _, mb := range mailboxes {
		if !s.connected[mb] {
			down = append(down, mb)
		}
	}
	if len(down) > 0 {
		return fmt.Errorf("no IMAP session with %s", strings.Join(down, ", "))
	}
	return nil
}

// Defaults returns the settings ingest starts from (no mailbox).
func Defaults() Config {
	return Config{MaxInline: 2 << 20, RetryEvery: time.Second, Replicas: 1, IngestedTTL: bus.DefaultMailMaxAge}
}

// RegisterFlags declares --PREFIX-max-inline and --PREFIX-bucket-replicas
// with c's values as defaults (the mailboxes have their own flags,
// mailbox.Config.RegisterFlags).
func (c *Config) RegisterFlags(f *service.Flags, prefix string) {
	f.Int(&c.MaxInline, service.Name(prefix, "max-inline"), c.MaxInline,
		"largest mail carried inside the stream message (bytes); larger ones go to the object store. Under 3/4 of --nats-max-msg (base64), checked at start")
	f.Int(&c.Replicas, service.Name(prefix, "bucket-replicas"), c.Replicas, "replicas of the BNDMR_INGESTED bucket when ingest has to create it")
}

// CheckMessageSize tells whether a mail of MaxInline bytes fits in a
// stream message of maxMsg bytes once the event carries it in base64 (4
// bytes for 3) beside its other fields: MaxInline must stay under 3/4 of
// maxMsg, less an allowance for the rest of the event.
func (c Config) CheckMessageSize(maxMsg int) error {
	if limit := (maxMsg - InlineAllowance) / 4 * 3; c.MaxInline > limit {
		return fmt.Errorf("--ingest-max-inline %d is too large for --nats-max-msg %d: a mail inside the stream message is written in base64 (4 bytes for 3) "+
			"beside its envelope, so it must stay at or under %d (3/4 of --nats-max-msg less %d bytes); lower it, or raise --nats-max-msg",
			c.MaxInline, maxMsg, limit, InlineAllowance)
	}
	return nil
}

// InlineAllowance is the room CheckMessageSize keeps in a stream message for
// the fields of the event around the mail (ids, mailbox, dates).
const InlineAllowance = 16 << 10

// WithDefaults gives the fields left zero, and those of each mailbox,
// their Defaults; Run applies it, Validate judges c as it completes it.
func (c Config) WithDefaults() Config {
	d := Defaults()
	if c.MaxInline <= 0 {
		c.MaxInline = d.MaxInline
	}
	if c.RetryEvery <= 0 {
		c.RetryEvery = d.RetryEvery
	}
	if c.Replicas <= 0 {
		c.Replicas = d.Replicas
	}
	if c.IngestedTTL <= 0 {
		c.IngestedTTL = d.IngestedTTL
	}
	mbs := make([]mailbox.Config, len(c.Mailboxes))
	for i, mb := range c.Mailboxes {
		mbs[i] = mb.WithDefaults()
	}
	c.Mailboxes = mbs
	return c
}

// Validate checks c, with its defaults; it changes nothing.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if len(c.Mailboxes) == 0 {
		return fmt.Errorf("ingest: no mailbox configured")
	}
	names := map[string]bool{}
	for _, mb := range c.Mailboxes {
		if err := mb.Validate(); err != nil {
			return err
		}
		if names[mb.Name] {
			return fmt.Errorf("ingest: two mailboxes are named %q", mb.Name)
		}
		names[mb.Name] = true
	}
	return nil
}

// BucketIngested remembers every mail ingest published, by content: key
// ContentKey(mailbox, raw), value the MailID. It is the second key of the
// exactly-once hand-off: after a UIDVALIDITY change the server gives old
// mails new UIDs (so new MailIDs, which JetStream's Nats-Msg-Id window
// cannot recognise), but their bytes are the same. It also keeps the last
// UIDVALIDITY seen per mailbox (key UIDValidityKey), so a change is reported
// across restarts.
const BucketIngested = bus.BucketIngested

// ContentKey is the BNDMR_INGESTED key of a mail: hex SHA-256 of the mailbox
// name, a NUL, and the raw bytes.
func ContentKey(mailbox string, raw []byte) string {
	h := sha256.New()
	h.Write([]byte(mailbox))
	h.Write([]byte{0})
	h.Write(raw)
	return hex.EncodeToString(h.Sum(nil))
}

// UIDValidityKey is the BNDMR_INGESTED key holding the last UIDVALIDITY of a
// mailbox (KV keys cannot hold every character a mailbox name may).
func UIDValidityKey(mailbox string) string {
	sum := sha256.Sum256([]byte(mailbox))
	return "uidvalidity." + hex.EncodeToString(sum[:16])
}

// EnsureBucket creates or updates BNDMR_INGESTED, for ingest when it finds
// the bucket missing (bndmrctl streams provisions it otherwise).
func EnsureBucket(ctx context.Context, js jetstream.JetStream, replicas int, ttl time.Duration) (jetstream.KeyValue, error) {
	return bus.EnsureIngestedBucket(ctx, js, replicas, ttl)
}

type metrics struct {
	handed     *prometheus.CounterVec
	connected  *prometheus.GaugeVec
	objects    prometheus.Counter
	retries    prometheus.Counter
	duplicates *prometheus.CounterVec
	resets     *prometheus.CounterVec
	waiting    *prometheus.GaugeVec
	oldest     *prometheus.GaugeVec
	status     *Status
}

func (m *metrics) Waiting(mb string, n int, oldest time.Time) {
	m.waiting.WithLabelValues(mb).Set(float64(n))
	ts := 0.0
	if n > 0 && !oldest.IsZero() {
		ts = float64(oldest.Unix())
	}
	m.oldest.WithLabelValues(mb).Set(ts)
}

func (m *metrics) HandedOff(mb string) { m.handed.WithLabelValues(mb).Inc() }
func (m *metrics) Connected(mb string, ok bool) {
	if m.status != nil {
		m.status.set(mb, ok)
	}
	v := 0.0
	if ok {
		v = 1
	}
	m.connected.WithLabelValues(mb).Set(v)
}

func newMetrics() *metrics {
	return &metrics{
		handed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bndmr_ingest_mails_total",
			Help: "Mails published to JetStream and moved out of the inbox."}, []string{"mailbox"}),
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bndmr_ingest_connected",
			Help: "1 while the IMAP session of the mailbox is open."}, []string{"mailbox"}),
		objects: prometheus.NewCounter(prometheus.CounterOpts{Name: "bndmr_ingest_large_mails_total",
			Help: "Mails too large for a stream message, stored in the object store."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "bndmr_ingest_publish_retries_total",
			Help: "Hand-offs retried because JetStream did not acknowledge."}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bndmr_ingest_duplicates_total",
			Help: "Mails not published again because the same bytes were already ingested from the mailbox (e.g. after a UIDVALIDITY change)."}, []string{"mailbox"}),
		resets: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bndmr_ingest_uidvalidity_changes_total",
			Help: "UIDVALIDITY changes seen on a mailbox."}, []string{"mailbox"}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bndmr_ingest_mails_waiting",
			Help: "Mails in the inbox when ingest last looked (0 once drained)."}, []string{"mailbox"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bndmr_ingest_oldest_waiting_timestamp_seconds",
			Help: "Arrival (INTERNALDATE, Unix seconds) of the oldest mail waiting in the inbox; 0 when none."}, []string{"mailbox"}),
	}
}

// Run reads every mailbox until ctx ends. A mailbox that fails reconnects on
// its own and does not stop the others.
func Run(ctx context.Context, cfg Config, js jetstream.JetStream, log *zap.Logger, reg prometheus.Registerer) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	m := newMetrics()
	m.status = cfg.Status
	if reg != nil {
		reg.MustRegister(m.handed, m.connected, m.objects, m.retries, m.duplicates, m.resets, m.waiting, m.oldest)
		for _, mc := range cfg.Mailboxes {
			reg.MustRegister(tlsclient.Expiry{Use: "imap:" + mc.Name, Files: mc.TLSFiles()})
		}
	}
	h := newHandoff(js, cfg, log, m)
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

	mu       sync.Mutex
	kv       jetstream.KeyValue
	validity map[string]uint32 // last UIDVALIDITY recorded, per mailbox
	// busy holds the content keys being handed off: the reader hands off
	// several mails at once, and two with the same bytes must not both
	// miss the bucket and both be published.
	busy map[string]chan struct{}
}

func newHandoff(js jetstream.JetStream, cfg Config, log *zap.Logger, m *metrics) *handoff {
	return &handoff{js: js, cfg: cfg, log: log, m: m, validity: map[string]uint32{}, busy: map[string]chan struct{}{}}
}

// lock waits until no other hand-off holds key, then holds it; the
// returned function lets it go.
func (h *handoff) lock(ctx context.Context, key string) (func(), error) {
	for {
		h.mu.Lock()
		held, ok := h.busy[key]
		if !ok {
			ch := make(chan struct{})
			h.busy[key] = ch
			h.mu.Unlock()
			return func() {
				h.mu.Lock()
				delete(h.busy, key)
				h.mu.Unlock()
				close(ch)
			}, nil
		}
		h.mu.Unlock()
		select {
		case <-held:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
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
	key := ContentKey(msg.Mailbox, msg.Raw)
	unlock, err := h.lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	for attempt := 1; ; attempt++ {
		err := h.handOff(ctx, ev, key, msg.Raw)
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
		if err := pause.For(ctx, h.cfg.RetryEvery); err != nil {
			return err
		}
	}
}

// handOff is one attempt: skip a mail whose bytes this mailbox already gave
// (under another UID), else publish it, then remember its content key. A
// crash between publish and remember leaves the same UID in the inbox; its
// MailID (Nats-Msg-Id) then deduplicates the second publish.
func (h *handoff) handOff(ctx context.Context, ev events.MailRaw, key string, raw []byte) error {
	kv, err := h.bucket(ctx)
	if err != nil {
		return err
	}
	if err := h.checkValidity(ctx, kv, ev.Mailbox, ev.UIDValidity); err != nil {
		return err
	}
	switch e, err := kv.Get(ctx, key); {
	case err == nil:
		if first := string(e.Value()); first != ev.MailID {
			h.m.duplicates.WithLabelValues(ev.Mailbox).Inc()
			h.log.Info("mail already ingested under another identity (same bytes, same mailbox): not published again",
				zap.String("mail_id", ev.MailID), zap.String("first_mail_id", first), zap.Uint32("uid", ev.UID))
		}
		return nil
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return fmt.Errorf("looking up content key in %s: %w", BucketIngested, err)
	}
	if err := h.publish(ctx, ev, raw); err != nil {
		return err
	}
	if _, err := kv.Put(ctx, key, []byte(ev.MailID)); err != nil {
		return fmt.Errorf("recording content key in %s: %w", BucketIngested, err)
	}
	return nil
}

// bucket opens BNDMR_INGESTED, creating it where no provisioning job did.
func (h *handoff) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.kv != nil {
		return h.kv, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	kv, err := h.js.KeyValue(ctx, BucketIngested)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = EnsureBucket(ctx, h.js, h.cfg.Replicas, h.cfg.IngestedTTL)
	}
	if err != nil {
		return nil, fmt.Errorf("opening key-value bucket %s: %w", BucketIngested, err)
	}
	h.kv = kv
	return kv, nil
}

// checkValidity records the mailbox's UIDVALIDITY and reports a change
// (the content keys are what prevent duplicates; this makes it visible).
func (h *handoff) checkValidity(ctx context.Context, kv jetstream.KeyValue, mb string, v uint32) error {
	h.mu.Lock()
	known := h.validity[mb] == v
	h.mu.Unlock()
	if known {
		return nil
	}
	key := UIDValidityKey(mb)
	e, err := kv.Get(ctx, key)
	switch {
	case err == nil && len(e.Value()) == 4:
		if was := binary.BigEndian.Uint32(e.Value()); was != v {
			h.m.resets.WithLabelValues(mb).Inc()
			h.log.Warn("UIDVALIDITY of the mailbox changed: mails already published are recognised by content and not published again",
				zap.String("mailbox", mb), zap.Uint32("was", was), zap.Uint32("now", v))
		}
	case err != nil && !errors.Is(err, jetstream.ErrKeyNotFound):
		return fmt.Errorf("reading the last UIDVALIDITY of %s: %w", mb, err)
	}
	if _, err := kv.Put(ctx, key, binary.BigEndian.AppendUint32(nil, v)); err != nil {
		return fmt.Errorf("recording UIDVALIDITY %s of %s: %w", strconv.FormatUint(uint64(v), 10), mb, err)
	}
	h.mu.Lock()
	h.validity[mb] = v
	h.mu.Unlock()
	return nil
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

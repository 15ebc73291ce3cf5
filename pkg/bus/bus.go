// Package bus wraps NATS JetStream for the hub: the streams and their
// subjects, publishing with a deduplication id, and at-least-once consumers
// that acknowledge only after the handler's work is durable.
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/pkg/events"
)

// Stream names. Identified data has a stream of its own so that NATS
// permissions can fence it off.
const (
	StreamMail       = "BNDMR_MAIL"
	StreamOutcome    = "BNDMR_OUTCOME"
	StreamIdentified = "BNDMR_IDENTIFIED"
	StreamRecord     = "BNDMR_RECORD"
	StreamQuarantine = "BNDMR_QUARANTINE"
	// ObjectStore holds mails larger than a stream message.
	ObjectStore = "BNDMR_MAILOBJ"
	// BucketMDNSent records the acknowledgement sent for each original mail.
	BucketMDNSent = "BNDMR_MDN_SENT"
	// BucketIngested records every mail ingest published, by content, so
	// that a UIDVALIDITY change publishes nothing twice.
	BucketIngested = "BNDMR_INGESTED"
)

// Config says how to reach NATS and how to size the streams.
type Config struct {
	URL      string
	User     string
	Password string
	// Replicas of every stream: 1 on a single server, 3 on a cluster.
	Replicas int
	// MaxMsgBytes is the largest stream message; larger mails go to the
	// object store. Leave headroom under the server's max_payload.
	MaxMsgBytes int32
	// DedupWindow is how long JetStream remembers a Nats-Msg-Id. It must
	// cover the longest outage after which ingest may publish a mail again.
	DedupWindow time.Duration
	// Retention of the mail stream: the originals stay for replay and for
	// the acknowledgement's copy of the original.
	MailMaxAge time.Duration
}

// Defaults fill the zero fields of c.
func (c Config) Defaults() Config {
	if c.URL == "" {
		c.URL = nats.DefaultURL
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.MaxMsgBytes == 0 {
		c.MaxMsgBytes = 4 << 20
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = 24 * time.Hour
	}
	if c.MailMaxAge == 0 {
		c.MailMaxAge = 90 * 24 * time.Hour
	}
	return c
}

// Connect opens a NATS connection that reconnects forever: a service waits
// for NATS rather than dying, so nothing is lost while it is away.
func Connect(ctx context.Context, c Config, name string) (*nats.Conn, jetstream.JetStream, error) {
	c = c.Defaults()
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(true),
	}
	if c.User != "" {
		// A per-user inbox prefix lets NATS permissions keep each service
		// from reading the replies (pulled messages) of another.
		opts = append(opts, nats.UserInfo(c.User, c.Password), nats.CustomInboxPrefix("_INBOX_"+c.User))
	}
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to NATS at %s: %w", c.URL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("opening JetStream: %w", err)
	}
	return nc, js, nil
}

// StreamConfigs returns the configuration of every stream of the hub.
func StreamConfigs(c Config) []jetstream.StreamConfig {
	c = c.Defaults()
	base := func(name, desc string, subjects ...string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    subjects,
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			Duplicates:  c.DedupWindow,
			MaxMsgSize:  c.MaxMsgBytes,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      c.MailMaxAge,
		}
	}
	ident := base(StreamIdentified, "identified SDM-MR documents, for the pseudonymisation service only", events.SubjectExtracted)
	// Identified data leaves as soon as it has been pseudonymised.
	ident.Retention = jetstream.WorkQueuePolicy
	ident.MaxAge = 7 * 24 * time.Hour
	return []jetstream.StreamConfig{
		base(StreamMail, "raw MSSanté mails as read from IMAP", events.SubjectMailRaw),
		base(StreamOutcome, "what the hub did with each mail", events.SubjectOutcome),
		ident,
		base(StreamRecord, "pseudonymised SDM-MR records", events.SubjectRecord),
		base(StreamQuarantine, "mails the hub could not handle, with the reason", events.SubjectQuarantine),
	}
}

// EnsureStreams creates or updates every stream and the object store.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, c Config) error {
	c = c.Defaults()
	for _, sc := range StreamConfigs(c) {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("creating stream %s: %w", sc.Name, err)
		}
	}
	_, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      ObjectStore,
		Description: "mails larger than a stream message",
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		TTL:         c.MailMaxAge,
	})
	if err != nil {
		return fmt.Errorf("creating object store %s: %w", ObjectStore, err)
	}
	_, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      BucketMDNSent,
		Description: "MDNs sent (or refused) per original Message-ID: at most one answer per mail",
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		History:     4,
	})
	if err != nil {
		return fmt.Errorf("creating key-value bucket %s: %w", BucketMDNSent, err)
	}
	_, err = EnsureIngestedBucket(ctx, js, c.Replicas, c.MailMaxAge)
	return err
}

// EnsureIngestedBucket creates or updates BucketIngested.
func EnsureIngestedBucket(ctx context.Context, js jetstream.JetStream, replicas int, ttl time.Duration) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      BucketIngested,
		Description: "mails ingest published, by SHA-256 of (mailbox, raw bytes): no duplicate after a UIDVALIDITY change",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		TTL:         ttl,
		History:     1,
	})
	if err != nil {
		return nil, fmt.Errorf("creating key-value bucket %s: %w", BucketIngested, err)
	}
	return kv, nil
}

// Publish sends v as JSON on subject with msgID as Nats-Msg-Id and waits for
// the PubAck: when it returns nil, the event is stored. A duplicate (same id
// within the window) is acknowledged by JetStream without being stored twice.
func Publish(ctx context.Context, js jetstream.JetStream, subject, msgID string, v any) (*jetstream.PubAck, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding event for %s: %w", subject, err)
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("publishing %s (id %s): %w", subject, msgID, err)
	}
	return ack, nil
}

// ErrPermanent marks a handler error that no retry will fix: the message is
// terminated instead of redelivered. Wrap it: fmt.Errorf("...: %w", bus.ErrPermanent).
var ErrPermanent = errors.New("permanent failure")

// Handler processes one message. Returning nil acknowledges it; an error
// wrapping ErrPermanent terminates it; any other error asks for redelivery.
type Handler func(ctx context.Context, msg jetstream.Msg) error

// ConsumerConfig names a durable pull consumer.
type ConsumerConfig struct {
	Stream  string
	Durable string
	Filter  string
	// AckWait is how long a message may take before JetStream redelivers it.
	AckWait time.Duration
	// MaxDeliver bounds redeliveries (0: 20).
	MaxDeliver int
	// Batch is how many messages one fetch asks for.
	Batch int
}

// EnsureConsumer creates or updates the durable consumer described by cc.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, cc ConsumerConfig) (jetstream.Consumer, error) {
	if cc.AckWait == 0 {
		cc.AckWait = 60 * time.Second
	}
	if cc.MaxDeliver == 0 {
		cc.MaxDeliver = 20
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, cc.Stream, jetstream.ConsumerConfig{
		Durable:       cc.Durable,
		FilterSubject: cc.Filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cc.AckWait,
		MaxDeliver:    cc.MaxDeliver,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: 1000,
	})
	if err != nil {
		return nil, fmt.Errorf("creating consumer %s on %s: %w", cc.Durable, cc.Stream, err)
	}
	return cons, nil
}

// Consume runs h on every message of the durable consumer until ctx ends.
func Consume(ctx context.Context, js jetstream.JetStream, cc ConsumerConfig, h Handler) error {
	cons, err := EnsureConsumer(ctx, js, cc)
	if err != nil {
		return err
	}
	batch := cc.Batch
	if batch <= 0 {
		batch = 50
	}
	for ctx.Err() == nil {
		msgs, err := cons.Fetch(batch, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			// NATS away: wait and try again; the messages stay in the stream.
			sleep(ctx, time.Second)
			continue
		}
		for msg := range msgs.Messages() {
			handle(ctx, msg, h)
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			sleep(ctx, 500*time.Millisecond)
		}
	}
	return nil
}

func handle(ctx context.Context, msg jetstream.Msg, h Handler) {
	err := h(ctx, msg)
	switch {
	case err == nil:
		_ = msg.DoubleAck(ctx)
	case errors.Is(err, ErrPermanent):
		_ = msg.TermWithReason(err.Error())
	default:
		md, _ := msg.Metadata()
		delay := time.Second
		if md != nil {
			delay = backoff(md.NumDelivered)
		}
		_ = msg.NakWithDelay(delay)
	}
}

// backoff grows with the number of deliveries, capped at one minute.
func backoff(n uint64) time.Duration {
	d := time.Second << min(n, 6)
	return min(d, time.Minute)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

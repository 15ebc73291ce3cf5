// Package bus wraps NATS JetStream for the hub: the connection, the streams
// as pkg/topology declares them, and publishing with a deduplication id.
// Consumers run on pkg/stage.
package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/pkg/service"
	"github.com/bndmr/hub/pkg/tlsclient"
	"github.com/bndmr/hub/pkg/topology"
)

// Stream, object store and bucket names, as pkg/topology declares them.
const (
	StreamMail       = topology.StreamMail
	StreamOutcome    = topology.StreamOutcome
	StreamIdentified = topology.StreamIdentified
	StreamRecord     = topology.StreamRecord
	StreamQuarantine = topology.StreamQuarantine
	ObjectStore      = topology.ObjectStore
	BucketMDNSent    = topology.BucketMDNSent
	BucketIngested   = topology.BucketIngested
	BucketLeases     = topology.BucketLeases
)

// Config says how to reach NATS and how to size the streams.
type Config struct {
	URL      string
	User     string
	Password string
	// TLS of the connection. CAFile: the roots the servers' certificate
	// must chain to; CertFile and KeyFile: this service's client
	// certificate, which a server with `verify: true` requires before the
	// user even authenticates. Any of them set: TLS is required (a server
	// offering none is refused).
	CAFile, CertFile, KeyFile string
	// Replicas of every stream: 1 on a single server, 3 on a cluster.
	Replicas int
	// MaxMsgBytes is the largest stream message; larger mails go to the
	// object store. Leave headroom under the server's max_payload.
	MaxMsgBytes int
	// DedupWindow is how long JetStream remembers a Nats-Msg-Id. It must
	// cover the longest outage after which ingest may publish a mail again.
	DedupWindow time.Duration
	// MailMaxAge is how long the identified originals (BNDMR_MAIL, the
	// object store of large mails, BNDMR_INGESTED) are kept: long enough to
	// replay a mail after a fix (the quarantine names it) and to quote it in
	// its acknowledgement, whose SMTP retries last 7 days. Default
	// DefaultMailMaxAge.
	MailMaxAge time.Duration
}

// DefaultMailMaxAge keeps an original 30 days: the acknowledgement needs
// it for at most 7 (its SMTP retries), and a quarantined mail is fixed and
// replayed within the monthly review of the quarantine (docs/operations.md).
// Longer only widens what a leak of the store would expose.
const DefaultMailMaxAge = 30 * 24 * time.Hour

// RegisterFlags declares the connection settings, with c's values as
// defaults (start from Defaults()): --PREFIX-url, -user,
// -password and the TLS files -ca, -cert, -key. Every service, the hub
// and the bndmrctl commands that reach NATS declare them here.
func (c *Config) RegisterFlags(f *service.Flags, prefix string) {
	n := func(name string) string { return service.Name(prefix, name) }
	f.String(&c.URL, n("url"), c.URL, "NATS server URL")
	f.String(&c.User, n("user"), c.User, "NATS user of this service or command")
	f.String(&c.Password, n("password"), c.Password, "its NATS password")
	f.String(&c.CAFile, n("ca"), c.CAFile, "CA bundle the NATS servers' certificate chains to (set: TLS required)")
	f.String(&c.CertFile, n("cert"), c.CertFile, "client certificate for NATS (PEM)")
	f.String(&c.KeyFile, n("key"), c.KeyFile, "its key (PEM)")
}

// RegisterStreamFlags declares how the streams are sized, with c's values
// as defaults: --PREFIX-replicas, -max-msg, -mail-max-age (the services,
// the hub and `bndmrctl streams`). Check then tells a bad value.
func (c *Config) RegisterStreamFlags(f *service.Flags, prefix string) {
	n := func(name string) string { return service.Name(prefix, name) }
	f.Int(&c.Replicas, n("replicas"), c.Replicas, "replicas of every JetStream stream, bucket and object store (3 on a NATS cluster)")
	f.Int(&c.MaxMsgBytes, n("max-msg"), c.MaxMsgBytes, "largest stream message in bytes; larger mails go to the object store")
	f.Duration(&c.MailMaxAge, n("mail-max-age"), c.MailMaxAge,
		"how long the identified original mails are kept (BNDMR_MAIL, object store, BNDMR_INGESTED): replay after a fix, quoted in the acknowledgement")
}

// Check tells the sizing settings that cannot work, naming the flags of
// RegisterStreamFlags under prefix.
func (c Config) Check(prefix string) error {
	n := func(name string) string { return "--" + service.Name(prefix, name) }
	if c.Replicas < 1 || c.Replicas > 5 {
		return fmt.Errorf("%s %d: must be between 1 and 5", n("replicas"), c.Replicas)
	}
	if c.MailMaxAge < 8*24*time.Hour {
		// The acknowledgement quotes the original and retries for 7 days.
		return fmt.Errorf("%s %s: must be at least 8 days (the acknowledgement quotes the original for up to 7)", n("mail-max-age"), c.MailMaxAge)
	}
	if c.MaxMsgBytes < 1<<10 || c.MaxMsgBytes > 1<<30 {
		return fmt.Errorf("%s %d: must be between 1 KiB and 1 GiB", n("max-msg"), c.MaxMsgBytes)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return fmt.Errorf("%s and %s go together (got %q and %q)", n("cert"), n("key"), c.CertFile, c.KeyFile)
	}
	return nil
}

// Defaults returns the configuration every flag starts from.
func Defaults() Config { return Config{}.WithDefaults() }

// WithDefaults gives the fields left zero their default (Connect and the
// stream declarations apply it).
func (c Config) WithDefaults() Config {
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
		c.MailMaxAge = DefaultMailMaxAge
	}
	return c
}

// Connect opens a NATS connection that reconnects forever: a service waits
// for NATS rather than dying, so nothing is lost while it is away.
func Connect(ctx context.Context, c Config, name string) (*nats.Conn, jetstream.JetStream, error) {
	c = c.WithDefaults()
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
	if c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" {
		tc, err := tlsclient.Config(tlsclient.Files{CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile}, "")
		if err != nil {
			return nil, nil, fmt.Errorf("TLS settings of the NATS connection: %w", err)
		}
		// The server name checked is each URL's host (nats.go sets it per
		// server when ServerName is empty).
		opts = append(opts, nats.Secure(tc))
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
	c = c.WithDefaults()
	var out []jetstream.StreamConfig
	for _, s := range topology.Streams {
		sc := jetstream.StreamConfig{
			Name:        s.Name,
			Description: s.Description,
			Subjects:    []string{s.Subject},
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			Duplicates:  c.DedupWindow,
			MaxMsgSize:  int32(c.MaxMsgBytes),
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      c.MailMaxAge,
		}
		if s.Retention == topology.WorkQueue {
			sc.Retention = jetstream.WorkQueuePolicy
		}
		if s.MaxAge > 0 {
			sc.MaxAge = s.MaxAge
		}
		out = append(out, sc)
	}
	return out
}

// EnsureStreams creates or updates every stream, the object store and the
// key-value buckets.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, c Config) error {
	c = c.WithDefaults()
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
	_, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      BucketLeases,
		Description: "leases: which replica of a service does a piece of work (pkg/lease)",
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		TTL:         topology.LeaseTTL,
		History:     1,
	})
	if err != nil {
		return fmt.Errorf("creating key-value bucket %s: %w", BucketLeases, err)
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

package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bndmr/hub/pkg/ack"
	"github.com/bndmr/hub/pkg/cisis"
	"github.com/bndmr/hub/pkg/ingest"
	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/loader"
	"github.com/bndmr/hub/pkg/mailbox"
	"github.com/bndmr/hub/pkg/pause"
	"github.com/bndmr/hub/pkg/service"
	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/tlsclient"
	"github.com/bndmr/hub/pkg/validator"
	"github.com/bndmr/hub/pseudonymisation"
)

// Ingest reads the MSSanté mailboxes.
type Ingest struct {
	cfg          ingest.Config
	one          mailbox.Config
	file         string
	passwordFile string
}

func (*Ingest) Name() string { return "ingest" }

func (c *Ingest) Flags(f *service.Flags) {
	f.String(&c.file, "mailboxes-file", "BNDMR_MAILBOXES_FILE", "", "JSON file listing the mailboxes (several applicative mailboxes; durations as \"30s\"); overrides the --imap-* flags")
	f.String(&c.one.Addr, "imap-addr", "BNDMR_IMAP_ADDR", "", "IMAP server host:port of the one mailbox")
	f.String(&c.one.Name, "imap-name", "BNDMR_IMAP_NAME", "", "name of the mailbox in events and metrics (default user@addr)")
	f.String(&c.one.TLS, "imap-tls", "BNDMR_IMAP_TLS", "implicit", "implicit, starttls, or none (loopback tests only)")
	f.String(&c.one.CAFile, "imap-ca", "BNDMR_IMAP_CA", "", "CA bundle the server certificate must chain to")
	f.String(&c.one.CertFile, "imap-cert", "BNDMR_IMAP_CERT", "", "client certificate (PEM)")
	f.String(&c.one.KeyFile, "imap-key", "BNDMR_IMAP_KEY", "", "client certificate key (PEM)")
	f.String(&c.one.CRLFile, "imap-crl", "BNDMR_IMAP_CRL", "", "CRLs (PEM or DER) of the authorities of the server's certificate chain; a revoked or uncovered certificate refuses the connection")
	f.String(&c.one.Auth, "imap-auth", "BNDMR_IMAP_AUTH", "plain", "plain, login or external (SASL EXTERNAL with the client certificate)")
	f.String(&c.one.User, "imap-user", "BNDMR_IMAP_USER", "", "IMAP user")
	f.String(&c.passwordFile, "imap-password-file", "BNDMR_IMAP_PASSWORD_FILE", "", "file holding the IMAP password")
	f.String(&c.one.Password, "imap-password", "BNDMR_IMAP_PASSWORD", "", "IMAP password (prefer --imap-password-file)")
	f.String(&c.one.Inbox, "imap-inbox", "BNDMR_IMAP_INBOX", "INBOX", "folder the hospitals' mails arrive in")
	f.String(&c.one.Processed, "imap-processed", "BNDMR_IMAP_PROCESSED", "Processed", "folder handed-off mails are moved to")
	f.Duration(&c.one.PollInterval, "imap-poll", "BNDMR_IMAP_POLL", 30*time.Second, "polling interval where IDLE is not used")
	f.Bool(&c.one.NoIdle, "imap-no-idle", "BNDMR_IMAP_NO_IDLE", false, "poll even where the server offers IDLE")
	f.Int(&c.one.HandOffs, "imap-handoffs", "BNDMR_IMAP_HANDOFFS", 8, "mails of a batch handed to JetStream at once, each moved out of the inbox after its own PubAck (1: one after the other)")
	f.Duration(&c.one.CommandTimeout, "imap-timeout", "BNDMR_IMAP_TIMEOUT", 2*time.Minute, "longest wait for the server's answer to one command (or one fetched mail) before reconnecting")
	f.Int(&c.cfg.MaxInline, "ingest-max-inline", "BNDMR_INGEST_MAX_INLINE", 2<<20, "largest mail carried inside the stream message (bytes); larger ones go to the object store. Keep it under 3/4 of --nats-max-msg (base64)")
	f.Int(&c.cfg.Replicas, "ingest-bucket-replicas", "BNDMR_INGEST_BUCKET_REPLICAS", 1, "replicas of the BNDMR_INGESTED bucket when ingest has to create it")
}

func (c *Ingest) Check() error {
	if c.file != "" {
		b, err := os.ReadFile(c.file)
		if err != nil {
			return fmt.Errorf("reading --mailboxes-file: %w", err)
		}
		if err := json.Unmarshal(b, &c.cfg.Mailboxes); err != nil {
			return fmt.Errorf("--mailboxes-file %s is not a JSON list of mailboxes: %w", c.file, err)
		}
	} else {
		if c.one.Addr == "" {
			return fmt.Errorf("ingest: give --imap-addr (or --mailboxes-file)")
		}
		if c.passwordFile != "" {
			b, err := os.ReadFile(c.passwordFile)
			if err != nil {
				return fmt.Errorf("reading --imap-password-file: %w", err)
			}
			c.one.Password = strings.TrimSpace(string(b))
		}
		c.cfg.Mailboxes = []mailbox.Config{c.one}
	}
	return c.cfg.Validate()
}

func (c *Ingest) Run(ctx context.Context, env Env) error {
	cfg := c.cfg
	cfg.Status = &ingest.Status{}
	names := make([]string, len(cfg.Mailboxes))
	for i, mb := range cfg.Mailboxes {
		names[i] = mb.Name
	}
	// Not ready while a mailbox cannot be read: the mails wait there.
	env.Ops.Ready("imap", func(context.Context) error { return cfg.Status.Check(names) })
	return ingest.Run(ctx, cfg, env.JS, env.Log, env.Ops.Registry)
}

// Validator checks documents.
type Validator struct {
	cfg validator.Config
	kit string
}

func (*Validator) Name() string { return "validator" }

func (c *Validator) Flags(f *service.Flags) {
	f.String(&c.kit, "kit", kit.EnvVar, "", "CI-SIS kit folder ("+kit.DefaultHelp+")")
	f.Int(&c.cfg.Workers, "workers", "BNDMR_VALIDATOR_WORKERS", 0, "mails validated at once (0: twice the cores available)")
	f.Bool(&c.cfg.RequireINS, "require-ins", "BNDMR_REQUIRE_INS", false, "reject (903) documents whose patient has no INS")
}

func (c *Validator) Check() error {
	if c.kit == "" {
		d, err := kit.Dir()
		if err != nil {
			return err
		}
		c.kit = d
	}
	if _, err := os.Stat(c.kit); err != nil {
		return fmt.Errorf("CI-SIS kit: %w", err)
	}
	return nil
}

func (c *Validator) Run(ctx context.Context, env Env) error {
	start := time.Now()
	eng, err := cisis.Load(ctx, c.kit)
	if err != nil {
		return fmt.Errorf("loading the CI-SIS kit %s: %w", c.kit, err)
	}
	env.Log.Info("CI-SIS profiles compiled", stringsField("profiles", eng.Profiles()), durationField("took", time.Since(start)))
	return validator.New(c.cfg, eng, env.Log, env.Ops.Registry).Run(ctx, env.JS, env.Stages)
}

// Pseudonymisation replaces identities by keyed pseudonyms.
type Pseudonymisation struct {
	keyFile  string
	rotation bool
}

func (*Pseudonymisation) Name() string { return "pseudonymisation" }

func (c *Pseudonymisation) Flags(f *service.Flags) {
	f.String(&c.keyFile, "key-file", "BNDMR_PSEUDO_KEY_FILE", "", "pseudonymisation key file (bndmrctl keygen); a Kubernetes Secret mounted as a file")
	f.Bool(&c.rotation, "key-rotation", "BNDMR_PSEUDO_ROTATION", false, "also compute the pseudonyms of the other keys of the key file")
}

func (c *Pseudonymisation) Check() error {
	if c.keyFile == "" {
		return fmt.Errorf("pseudonymisation: --key-file is required (bndmrctl keygen --out FILE makes one)")
	}
	return nil
}

func (c *Pseudonymisation) Run(ctx context.Context, env Env) error {
	keys, err := pseudonymisation.LoadKeys(c.keyFile)
	if err != nil {
		return err
	}
	if c.rotation && len(keys.Others()) != 1 {
		// The loader keeps the pseudonyms of the first previous key as the
		// warehouse's (pkg/store, rotation.go): one rotation at a time.
		return fmt.Errorf("pseudonymisation: --key-rotation needs exactly two keys in %s (the new one primary, the one the warehouse holds), found %s", c.keyFile, keys)
	}
	p := pseudonymisation.New(keys, pseudonymisation.Options{Rotation: c.rotation})
	return pseudonymisation.NewService(p, env.Log, env.Ops.Registry).Run(ctx, env.JS, env.Stages)
}

// Loader writes ClickHouse.
type Loader struct {
	dsn     string
	tls     tlsclient.Files
	cluster string
	cfg     loader.Config
}

func (*Loader) Name() string { return "loader" }

func (c *Loader) Flags(f *service.Flags) {
	f.String(&c.dsn, "clickhouse", "BNDMR_CLICKHOUSE_DSN", "clickhouse://127.0.0.1:9000/default", "ClickHouse DSN")
	clickhouseTLSFlags(f, &c.tls)
	f.String(&c.cluster, "clickhouse-cluster", store.EnvCluster, "", "ClickHouse cluster (<remote_servers> name) for the replicated, sharded schema; empty: one server")
	f.Int(&c.cfg.BatchSize, "batch", "BNDMR_LOADER_BATCH", 1000, "rows per insert at most")
	f.Duration(&c.cfg.FlushEvery, "flush", "BNDMR_LOADER_FLUSH", 2*time.Second, "longest wait before a partial batch is written")
}

func (c *Loader) Check() error { return nil }

func (c *Loader) Run(ctx context.Context, env Env) error {
	st, err := openStore(ctx, c.dsn, c.tls, env)
	if err != nil {
		return err
	}
	defer st.Close()
	// Two replicas starting at once: one migrates, the other waits for the
	// migration lock (pkg/store/lock.go) and then finds nothing to do.
	applied, err := st.MigrateWith(ctx, store.MigrateOptions{Cluster: c.cluster, Waiting: func(held time.Duration) {
		env.Log.Info("waiting for the ClickHouse migration lock, held by another migrator", durationField("held", held))
	}})
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		env.Log.Info("ClickHouse migrations applied", stringsField("migrations", applied))
	}
	env.Ops.Ready("clickhouse", st.Ping)
	return loader.New(c.cfg, st, env.Log, env.Ops.Registry).Run(ctx, env.JS, env.Stages)
}

// clickhouseTLSFlags declares the TLS files of a ClickHouse connection
// (with a DSN saying secure=true, the native TLS port).
func clickhouseTLSFlags(f *service.Flags, t *tlsclient.Files) {
	f.String(&t.CAFile, "clickhouse-ca", "BNDMR_CLICKHOUSE_CA", "", "CA bundle the ClickHouse servers' certificate chains to (needs secure=true in the DSN)")
	f.String(&t.CertFile, "clickhouse-cert", "BNDMR_CLICKHOUSE_CERT", "", "client certificate for ClickHouse, where the server asks for one (PEM)")
	f.String(&t.KeyFile, "clickhouse-key", "BNDMR_CLICKHOUSE_KEY", "", "its key (PEM)")
}

// openStore waits for ClickHouse: a service started before its database
// waits instead of crashing.
func openStore(ctx context.Context, dsn string, tls tlsclient.Files, env Env) (*store.Store, error) {
	for {
		st, err := store.OpenWith(ctx, dsn, store.Options{TLS: tls})
		if err == nil {
			return st, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		env.Log.Warn("ClickHouse not reachable; retrying", zapError(err))
		_ = pause.For(ctx, 2*time.Second)
	}
}

// Ack answers each hospital with an MDN.
type Ack struct {
	cfg ack.Config
}

func (*Ack) Name() string { return "ack" }

func (c *Ack) Flags(f *service.Flags) {
	f.String(&c.cfg.HubAddress, "hub-address", "BNDMR_HUB_ADDRESS", "", "the hub's applicative mailbox (From of the acknowledgements)")
	f.Bool(&c.cfg.AnswerWithoutRequest, "ack-always", "BNDMR_ACK_ALWAYS", false, "answer mails without Disposition-Notification-To too")
	f.Bool(&c.cfg.AnswerReturnPathMismatch, "ack-return-path-mismatch", "BNDMR_ACK_RETURN_PATH_MISMATCH", false, "answer even when Disposition-Notification-To differs from Return-Path")
	f.Bool(&c.cfg.LegacyErrorSyntax, "ack-legacy-error", "BNDMR_ACK_LEGACY_ERROR", false, "emit the older 'processed/Error: code^label' form")
	f.String(&c.cfg.SMTP.Addr, "smtp-addr", "BNDMR_SMTP_ADDR", "", "SMTP submission server host:port (empty: acknowledgements off)")
	f.String(&c.cfg.SMTP.Security, "smtp-tls", "BNDMR_SMTP_TLS", "starttls", "starttls, tls (implicit) or none (loopback tests only)")
	f.String(&c.cfg.SMTP.CAFile, "smtp-ca", "BNDMR_SMTP_CA", "", "CA bundle of the SMTP server")
	f.String(&c.cfg.SMTP.CRLFile, "smtp-crl", "BNDMR_SMTP_CRL", "", "CRLs (PEM or DER) of the authorities of the SMTP server's certificate chain")
	f.String(&c.cfg.SMTP.CertFile, "smtp-cert", "BNDMR_SMTP_CERT", "", "client certificate (PEM)")
	f.String(&c.cfg.SMTP.KeyFile, "smtp-key", "BNDMR_SMTP_KEY", "", "client certificate key (PEM)")
	f.String(&c.cfg.SMTP.Auth, "smtp-auth", "BNDMR_SMTP_AUTH", "", "'', external, plain or login")
	f.String(&c.cfg.SMTP.Username, "smtp-user", "BNDMR_SMTP_USER", "", "SMTP user")
	f.String(&c.cfg.SMTP.Password, "smtp-password", "BNDMR_SMTP_PASSWORD", "", "SMTP password")
	f.String(&c.cfg.SMTP.EnvelopeFrom, "smtp-envelope-from", "BNDMR_SMTP_ENVELOPE_FROM", "", "SMTP MAIL FROM (empty: the null sender <>)")
}

func (c *Ack) Check() error {
	if c.cfg.SMTP.Addr == "" {
		return nil
	}
	return c.cfg.Validate()
}

func (c *Ack) Run(ctx context.Context, env Env) error {
	if c.cfg.SMTP.Addr == "" {
		env.Log.Warn("no --smtp-addr: acknowledgements are not sent")
		<-ctx.Done()
		return nil
	}
	cfg := c.cfg
	cfg.Registry = env.Ops.Registry
	cfg.Stages = env.Stages
	// Certificate and CRL expiry of the relay connection, for the alerts.
	if err := env.Ops.Registry.Register(tlsclient.Expiry{Use: "smtp", Files: cfg.SMTP.Files()}); err != nil {
		return err
	}
	return ack.Run(ctx, cfg, env.JS, env.Log)
}

// Mailboxes returns the configured mailboxes (after Check).
func (c *Ingest) Mailboxes() []mailbox.Config { return c.cfg.Mailboxes }

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

func (c *Ingest) Flags(f *service.Flags, _ *Shared) {
	f.String(&c.file, "mailboxes-file", "", "JSON file listing the mailboxes (several applicative mailboxes; durations as \"30s\"); overrides the --imap-* flags")
	c.one = mailbox.Defaults()
	c.one.RegisterFlags(f, "imap")
	f.String(&c.passwordFile, "imap-password-file", "", "file holding the IMAP password (rather than --imap-password)")
	c.cfg = ingest.Defaults()
	c.cfg.RegisterFlags(f, "ingest")
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
			if c.one.Password != "" {
				return fmt.Errorf("ingest: --imap-password and --imap-password-file both given: give one of them")
			}
			b, err := os.ReadFile(c.passwordFile)
			if err != nil {
				return fmt.Errorf("reading --imap-password-file: %w", err)
			}
			c.one.Password = strings.TrimSpace(string(b))
		}
		c.cfg.Mailboxes = []mailbox.Config{c.one}
	}
	// The hub's idle check reads the mailboxes with their names.
	c.cfg = c.cfg.WithDefaults()
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
	kit *string
	dir string // the kit's folder, after Check
}

func (*Validator) Name() string { return "validator" }

func (c *Validator) Flags(f *service.Flags, shared *Shared) {
	c.kit = shared.Kit()
	c.cfg = validator.Defaults()
	c.cfg.RegisterFlags(f, "validator")
}

func (c *Validator) Check() error {
	c.dir = *c.kit
	if c.dir == "" {
		d, err := kit.Dir()
		if err != nil {
			return err
		}
		c.dir = d
	}
	if _, err := os.Stat(c.dir); err != nil {
		return fmt.Errorf("CI-SIS kit: %w", err)
	}
	return nil
}

func (c *Validator) Run(ctx context.Context, env Env) error {
	start := time.Now()
	eng, err := cisis.Load(ctx, c.dir)
	if err != nil {
		return fmt.Errorf("loading the CI-SIS kit %s: %w", c.dir, err)
	}
	env.Log.Info("CI-SIS profiles compiled", stringsField("profiles", eng.Profiles()), durationField("took", time.Since(start)))
	return validator.New(c.cfg, eng, env.Log, env.Ops.Registry).Run(ctx, env.JS, env.Stages)
}

// Pseudonymisation replaces identities by keyed pseudonyms.
type Pseudonymisation struct {
	cfg pseudonymisation.Config
}

func (*Pseudonymisation) Name() string { return "pseudonymisation" }

func (c *Pseudonymisation) Flags(f *service.Flags, _ *Shared) {
	c.cfg.RegisterFlags(f, "pseudo")
}

func (c *Pseudonymisation) Check() error {
	if c.cfg.KeyFile == "" {
		return fmt.Errorf("pseudonymisation: --pseudo-key-file is required (bndmrctl keygen --out FILE makes one)")
	}
	return nil
}

func (c *Pseudonymisation) Run(ctx context.Context, env Env) error {
	keys, err := pseudonymisation.LoadKeys(c.cfg.KeyFile)
	if err != nil {
		return err
	}
	if c.cfg.Rotation && len(keys.Others()) != 1 {
		// The loader keeps the pseudonyms of the first previous key as the
		// warehouse's (pkg/store, rotation.go): one rotation at a time.
		return fmt.Errorf("pseudonymisation: --pseudo-rotation needs exactly two keys in %s (the new one primary, the one the warehouse holds), found %s", c.cfg.KeyFile, keys)
	}
	p := pseudonymisation.New(keys, pseudonymisation.Options{Rotation: c.cfg.Rotation})
	return pseudonymisation.NewService(p, env.Log, env.Ops.Registry).Run(ctx, env.JS, env.Stages)
}

// Loader writes ClickHouse.
type Loader struct {
	ch      *store.Config
	migrate store.MigrateOptions
	cfg     loader.Config
}

func (*Loader) Name() string { return "loader" }

func (c *Loader) Flags(f *service.Flags, shared *Shared) {
	c.ch = shared.ClickHouse()
	c.migrate.RegisterFlags(f, "clickhouse")
	c.cfg = loader.Defaults()
	c.cfg.RegisterFlags(f, "loader")
}

func (c *Loader) Check() error { return nil }

func (c *Loader) Run(ctx context.Context, env Env) error {
	st, err := openStore(ctx, *c.ch, env)
	if err != nil {
		return err
	}
	defer st.Close()
	// Two replicas starting at once: one migrates, the other waits for the
	// migration lock (pkg/store/lock.go) and then finds nothing to do.
	opts := c.migrate
	opts.Waiting = func(held time.Duration) {
		env.Log.Info("waiting for the ClickHouse migration lock, held by another migrator", durationField("held", held))
	}
	applied, err := st.MigrateWith(ctx, opts)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		env.Log.Info("ClickHouse migrations applied", stringsField("migrations", applied))
	}
	env.Ops.Ready("clickhouse", st.Ping)
	return loader.New(c.cfg, st, env.Log, env.Ops.Registry).Run(ctx, env.JS, env.Stages)
}

// openStore waits for ClickHouse: a service started before its database
// waits instead of crashing.
func openStore(ctx context.Context, ch store.Config, env Env) (*store.Store, error) {
	for {
		st, err := ch.Open(ctx)
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

func (c *Ack) Flags(f *service.Flags, _ *Shared) {
	c.cfg = ack.Defaults()
	c.cfg.RegisterFlags(f, "ack")
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

package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/bndmr/hub/pkg/access"
	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/mailbox"
	"github.com/bndmr/hub/pkg/service"
	"github.com/bndmr/hub/pkg/store"
)

// The settings a command shares with the services are declared by the
// same registrations (RegisterFlags of each configuration), so they have
// the services' names, defaults and environment variables (pkg/service:
// BNDMR_ and the flag's name). A command's own flags (--out, --from…)
// have no variable.

// natsFlags declares the NATS connection settings of a command: URL, user
// and password, and the TLS files. userHelp says which user the command
// needs.
func natsFlags(fs *flag.FlagSet, c *bus.Config, userHelp string) {
	*c = bus.Defaults()
	c.RegisterFlags(service.On(fs), "nats")
	if u := fs.Lookup("nats-user"); u != nil {
		u.Usage = userHelp + " (env " + service.EnvOf("nats-user") + ")"
	}
}

// clickhouseConn is how a command reaches ClickHouse: the services'
// --clickhouse and its TLS files.
type clickhouseConn struct{ store.Config }

// clickhouseFlag declares --clickhouse and its TLS files.
func clickhouseFlag(fs *flag.FlagSet) *clickhouseConn {
	c := &clickhouseConn{store.Defaults()}
	c.RegisterFlags(service.On(fs), "clickhouse")
	return c
}

func (c *clickhouseConn) open(ctx context.Context) (*store.Store, error) {
	if err := c.Check("clickhouse"); err != nil {
		return nil, err
	}
	return c.Open(ctx)
}

// clusterFlag declares --clickhouse-cluster and --clickhouse-shard-macro, as
// the loader has them.
func clusterFlag(fs *flag.FlagSet) *store.MigrateOptions {
	var o store.MigrateOptions
	o.RegisterFlags(service.On(fs), "clickhouse")
	return &o
}

// imapFlags declares how to reach and log in to an IMAP mailbox (the
// ingest's login flags), with the test and demo servers' defaults.
func imapFlags(fs *flag.FlagSet, user, userHelp string) *mailbox.Config {
	cfg := mailbox.Defaults()
	cfg.Addr, cfg.TLS, cfg.User = "127.0.0.1:10143", "none", user
	cfg.RegisterLoginFlags(service.On(fs), "imap")
	if u := fs.Lookup("imap-user"); u != nil {
		u.Usage = userHelp + " (env " + service.EnvOf("imap-user") + ")"
	}
	return &cfg
}

// kitFlag declares --kit, the CI-SIS kit folder the services read.
func kitFlag(fs *flag.FlagSet, help string) *string {
	dir := new(string)
	service.On(fs).String(dir, "kit", "", help)
	return dir
}

// envFlag declares a command's setting that a Job gives in its
// environment (the variable of the rule).
func envFlag(fs *flag.FlagSet, name, def, help string) *string {
	v := new(string)
	service.On(fs).String(v, name, def, help)
	return v
}

// authFlags declares the sign-in settings of the indicators, from def. A
// variable that does not parse (BNDMR_SESSION_TTL=soon) is said on the
// command's output; the flag keeps its default.
func authFlags(fs *flag.FlagSet, def access.Settings) *access.Settings {
	a := def
	f := service.On(fs)
	a.RegisterFlags(f, "")
	if err := f.Err(); err != nil {
		fmt.Fprintf(fs.Output(), "bndmrctl %s: %v: ignored\n", fs.Name(), err)
	}
	return &a
}

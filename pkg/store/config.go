package store

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/bndmr/hub/pkg/service"
	"github.com/bndmr/hub/pkg/tlsclient"
)

// Config is how a process reaches ClickHouse: the DSN and, for the native
// TLS port (secure=true in the DSN), the CA bundle and client certificate.
type Config struct {
	DSN string
	TLS tlsclient.Files
}

// DefaultDSN is the ClickHouse of a laptop.
const DefaultDSN = "clickhouse://127.0.0.1:9000/default"

// Defaults returns the configuration every flag starts from.
func Defaults() Config { return Config{DSN: DefaultDSN} }

// RegisterFlags declares --PREFIX (the DSN) and its TLS files --PREFIX-ca,
// -cert, -key, with c's values as defaults: the loader, the indicators and
// every bndmrctl command that reads ClickHouse declare them here.
func (c *Config) RegisterFlags(f *service.Flags, prefix string) {
	f.String(&c.DSN, prefix, c.DSN, "ClickHouse DSN (clickhouse://user:password@host:9000/database; secure=true for the TLS port)")
	f.String(&c.TLS.CAFile, service.Name(prefix, "ca"), c.TLS.CAFile, "CA bundle the ClickHouse servers' certificate chains to (needs secure=true in the DSN)")
	f.String(&c.TLS.CertFile, service.Name(prefix, "cert"), c.TLS.CertFile, "client certificate for ClickHouse, where the server asks for one (PEM)")
	f.String(&c.TLS.KeyFile, service.Name(prefix, "key"), c.TLS.KeyFile, "its key (PEM)")
}

// Open connects with c.
func (c Config) Open(ctx context.Context) (*Store, error) {
	return OpenWith(ctx, c.DSN, Options{TLS: c.TLS})
}

// RegisterFlags declares --PREFIX-cluster, the cluster of the schema
// (the loader, `bndmrctl migrate` and `bndmrctl rotation`).
func (o *MigrateOptions) RegisterFlags(f *service.Flags, prefix string) {
	f.String(&o.Cluster, service.Name(prefix, "cluster"), o.Cluster,
		"ClickHouse cluster (<remote_servers> name): the replicated, sharded schema (docs/cluster.md); empty: one server")
	f.String(&o.ShardMacro, service.Name(prefix, "shard-macro"), o.ShardMacro,
		"with a cluster: the macro that names a server's shard in the replicated tables' ZooKeeper paths; empty: {shard} (a test cluster declaring several layouts over the same servers has one per layout, docs/cluster.md)")
}

// Check tells, before anything connects, a DSN that does not parse and TLS
// files given with a DSN in clear (OpenWith refuses both, but a service
// would wait for ClickHouse forever instead of stopping at start), naming
// the flags RegisterFlags declared under prefix.
func (c Config) Check(prefix string) error {
	opts, err := clickhouse.ParseDSN(c.DSN)
	if err != nil {
		return fmt.Errorf("--%s %s: %w", prefix, redact(c.DSN), err)
	}
	if c.TLS != (tlsclient.Files{}) && opts.TLS == nil {
		return fmt.Errorf("--%s-ca, --%s-cert and --%s-key need the TLS port: add secure=true to --%s %s (as written, it would connect in clear)",
			prefix, prefix, prefix, prefix, redact(c.DSN))
	}
	return nil
}

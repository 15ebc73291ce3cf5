package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/tlsclient"
)

// clickhouseConn is how a command reaches ClickHouse: the DSN and, for the
// native TLS port (secure=true), the CA bundle and client certificate.
type clickhouseConn struct {
	dsn string
	tls tlsclient.Files
}

// clickhouseFlag declares --clickhouse and its TLS files with the services'
// environment fallbacks.
func clickhouseFlag(fs *flag.FlagSet) *clickhouseConn {
	c := &clickhouseConn{}
	fs.StringVar(&c.dsn, "clickhouse", envOr("BNDMR_CLICKHOUSE_DSN", "clickhouse://127.0.0.1:9000/default"), "ClickHouse DSN (env BNDMR_CLICKHOUSE_DSN)")
	fs.StringVar(&c.tls.CAFile, "clickhouse-ca", os.Getenv("BNDMR_CLICKHOUSE_CA"), "CA bundle of the ClickHouse servers, with secure=true in the DSN (env BNDMR_CLICKHOUSE_CA)")
	fs.StringVar(&c.tls.CertFile, "clickhouse-cert", os.Getenv("BNDMR_CLICKHOUSE_CERT"), "client certificate for ClickHouse (env BNDMR_CLICKHOUSE_CERT)")
	fs.StringVar(&c.tls.KeyFile, "clickhouse-key", os.Getenv("BNDMR_CLICKHOUSE_KEY"), "its key (env BNDMR_CLICKHOUSE_KEY)")
	return c
}

func (c *clickhouseConn) open(ctx context.Context) (*store.Store, error) {
	return store.OpenWith(ctx, c.dsn, store.Options{TLS: c.tls})
}

// cmdMigrate applies the ClickHouse migrations not yet recorded (the loader
// does the same at start); idempotent.
func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("migrate", "usage: bndmrctl migrate [--clickhouse DSN] [--cluster NAME [--shard-macro MACRO]] [--lock-ttl D] [--list]", stderr)
	dsn := clickhouseFlag(fs)
	list := fs.Bool("list", false, "list the embedded migrations and exit")
	cluster := fs.String("cluster", os.Getenv(store.EnvCluster), "ClickHouse cluster (<remote_servers> name): the replicated, sharded schema, as the loader with the same setting (env "+store.EnvCluster+")")
	shardMacro := fs.String("shard-macro", "", "with --cluster: the macro that names a server's shard in the replicated tables' ZooKeeper paths; default {shard} (a test cluster declaring several layouts over the same servers has one per layout, docs/cluster.md)")
	lockTTL := fs.Duration("lock-ttl", store.DefaultLockTTL, "a migration lock older than this was left by a migrator that died and is taken over")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 || (*shardMacro != "" && *cluster == "") {
		fs.Usage()
		return 2
	}
	if *list {
		ms, err := store.Migrations()
		if err != nil {
			fmt.Fprintf(stderr, "bndmrctl migrate: %v\n", err)
			return 1
		}
		for _, m := range ms {
			fmt.Fprintln(stdout, m.Name)
		}
		return 0
	}
	st, err := dsn.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl migrate: %v\n", err)
		return 1
	}
	defer st.Close()
	applied, err := st.MigrateWith(ctx, store.MigrateOptions{Cluster: *cluster, ShardMacro: *shardMacro, LockTTL: *lockTTL, Waiting: func(held time.Duration) {
		fmt.Fprintf(stderr, "bndmrctl migrate: waiting for the migration lock, held for %v by another migrator (a loader?)\n", held)
	}})
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl migrate: %v\n", err)
		return 1
	}
	if len(applied) == 0 {
		fmt.Fprintln(stderr, "bndmrctl migrate: the schema is up to date")
	} else {
		fmt.Fprintf(stderr, "bndmrctl migrate: applied %s\n", strings.Join(applied, ", "))
	}
	return 0
}

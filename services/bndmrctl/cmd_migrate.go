package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bndmr/hub/pkg/store"
)

// cmdMigrate applies the ClickHouse migrations not yet recorded (the loader
// does the same at start); idempotent.
func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("migrate", "usage: bndmrctl migrate [--clickhouse DSN] [--clickhouse-cluster NAME [--clickhouse-shard-macro MACRO]] [--lock-ttl D] [--list]", stderr)
	dsn := clickhouseFlag(fs)
	list := fs.Bool("list", false, "list the embedded migrations and exit")
	cluster := clusterFlag(fs)
	lockTTL := fs.Duration("lock-ttl", store.DefaultLockTTL, "a migration lock older than this was left by a migrator that died and is taken over")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 || (cluster.ShardMacro != "" && cluster.Cluster == "") {
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
		return fail(stderr, "migrate", err)
	}
	defer st.Close()
	applied, err := st.MigrateWith(ctx, store.MigrateOptions{Cluster: cluster.Cluster, ShardMacro: cluster.ShardMacro, LockTTL: *lockTTL, Waiting: func(held time.Duration) {
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

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bndmr/hub/pkg/store"
)

// cmdMigrate applies the ClickHouse migrations not yet recorded (the loader
// does the same at start); idempotent.
func cmdMigrate(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	dsn := clickhouseFlag(fs)
	list := fs.Bool("list", false, "list the embedded migrations and exit")
	cluster := clusterFlag(fs)
	lockTTL := fs.Duration("lock-ttl", store.DefaultLockTTL, "a migration lock older than this was left by a migrator that died and is taken over")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: bndmrctl migrate [--clickhouse DSN] [--clickhouse-cluster NAME] [--lock-ttl D] [--list]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	if *list {
		ms, err := store.Migrations()
		if err != nil {
			fmt.Fprintf(os.Stderr, "bndmrctl migrate: %v\n", err)
			return 1
		}
		for _, m := range ms {
			fmt.Println(m.Name)
		}
		return 0
	}
	st, err := dsn.open(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bndmrctl migrate: %v\n", err)
		return 1
	}
	defer st.Close()
	applied, err := st.MigrateWith(ctx, store.MigrateOptions{Cluster: *cluster, LockTTL: *lockTTL, Waiting: func(held time.Duration) {
		fmt.Fprintf(os.Stderr, "bndmrctl migrate: waiting for the migration lock, held for %v by another migrator (a loader?)\n", held)
	}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "bndmrctl migrate: %v\n", err)
		return 1
	}
	if len(applied) == 0 {
		fmt.Fprintln(os.Stderr, "bndmrctl migrate: the schema is up to date")
	} else {
		fmt.Fprintf(os.Stderr, "bndmrctl migrate: applied %s\n", strings.Join(applied, ", "))
	}
	return 0
}

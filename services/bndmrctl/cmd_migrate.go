package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/bndmr/hub/pkg/store"
)

// clickhouseFlag declares --clickhouse with the services' environment fallback.
func clickhouseFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("BNDMR_CLICKHOUSE_DSN")
	if def == "" {
		def = "clickhouse://127.0.0.1:9000/default"
	}
	return fs.String("clickhouse", def, "ClickHouse DSN (env BNDMR_CLICKHOUSE_DSN)")
}

// cmdMigrate applies the ClickHouse migrations not yet recorded (the loader
// does the same at start); idempotent.
func cmdMigrate(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	dsn := clickhouseFlag(fs)
	list := fs.Bool("list", false, "list the embedded migrations and exit")
	cluster := fs.String("cluster", os.Getenv(store.EnvCluster), "ClickHouse cluster (<remote_servers> name): the replicated, sharded schema, as the loader with the same setting (env "+store.EnvCluster+")")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: bndmrctl migrate [--clickhouse DSN] [--cluster NAME] [--list]")
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
	st, err := store.Open(ctx, *dsn)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bndmrctl migrate: %v\n", err)
		return 1
	}
	defer st.Close()
	applied, err := st.MigrateWith(ctx, store.MigrateOptions{Cluster: *cluster})
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

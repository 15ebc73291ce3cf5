package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/chbackup"
	"github.com/bndmr/hub/pkg/drill"
	"github.com/bndmr/hub/pkg/indicators"
	"github.com/bndmr/hub/pkg/jsbackup"
)

// natsTarget is how a backup command reaches JetStream: a running server
// (the backup user, docs/operations.md), or a store folder of the all-in-one
// hub opened here with an embedded server on a free loopback port (the hub
// stopped: the restore drill, a laptop).
type natsTarget struct {
	bus      bus.Config
	storeDir string
	keyFile  string
}

func natsTargetFlags(fs *flag.FlagSet) *natsTarget {
	t := &natsTarget{}
	natsFlags(fs, &t.bus, "NATS user allowed to snapshot and restore streams (user backup)")
	fs.StringVar(&t.storeDir, "store-dir", "", "instead of --nats-url: the hub's NATS data folder (--data-dir), opened here while the hub is stopped")
	fs.StringVar(&t.keyFile, "store-key-file", "", "with --store-dir: the key that encrypts that store (default STORE_DIR/store.key; made for an empty folder)")
	return t
}

// connect returns a connection and a function that closes it (and stops
// the embedded server of --store-dir).
func (t *natsTarget) connect(ctx context.Context, create bool) (*nats.Conn, jetstream.JetStream, func(), error) {
	if t.storeDir == "" {
		nc, js, err := bus.Connect(ctx, t.bus, "bndmrctl-backup")
		if err != nil {
			return nil, nil, nil, err
		}
		return nc, js, nc.Close, nil
	}
	if !create {
		if _, err := os.Stat(t.storeDir); err != nil {
			return nil, nil, nil, fmt.Errorf("NATS store folder: %w", err)
		}
	} else if err := os.MkdirAll(t.storeDir, 0o700); err != nil {
		return nil, nil, nil, err
	}
	key, err := t.storeKey(create)
	if err != nil {
		return nil, nil, nil, err
	}
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{Port: server.RANDOM_PORT, StoreDir: t.storeDir, StoreKey: key})
	if err != nil {
		return nil, nil, nil, err
	}
	nc, js, err := bus.Connect(ctx, bus.Config{URL: srv.ClientURL()}, "bndmrctl-backup")
	if err != nil {
		srv.Shutdown()
		return nil, nil, nil, err
	}
	return nc, js, func() { nc.Close(); srv.Shutdown(); srv.WaitForShutdown() }, nil
}

// storeKey reads the store's key as the hub does (services/internal/app),
// and for a new store makes one in the same place and form.
func (t *natsTarget) storeKey(create bool) (string, error) {
	file := t.keyFile
	if file == "" {
		file = filepath.Join(t.storeDir, "store.key")
		if _, err := os.Stat(file); create && errors.Is(err, fs.ErrNotExist) {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return "", err
			}
			if err := os.WriteFile(file, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
				return "", err
			}
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the JetStream store key: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// cmdBackup: bndmrctl backup nats|clickhouse|state.
func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runSubcommand(ctx, "backup", "usage: bndmrctl backup nats|clickhouse --out DIR [flags] | bndmrctl backup state [flags]",
		map[string]runFunc{"nats": backupNATS, "clickhouse": backupClickHouse, "state": backupState}, args, stdout, stderr)
}

// cmdRestore: bndmrctl restore nats|clickhouse DIR.
func cmdRestore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runSubcommand(ctx, "restore", "usage: bndmrctl restore nats|clickhouse [flags] DIR",
		map[string]runFunc{"nats": restoreNATS, "clickhouse": restoreClickHouse}, args, stdout, stderr)
}

func backupNATS(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("backup nats", "usage: bndmrctl backup nats --out DIR [--nats-url URL --nats-user backup … | --store-dir DIR]", stderr)
	t := natsTargetFlags(fs)
	out := fs.String("out", "", "new folder for the snapshots and their manifest")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	nc, _, closeFn, err := t.connect(ctx, false)
	if err != nil {
		return fail(stderr, "backup nats", err)
	}
	defer closeFn()
	start := time.Now()
	man, err := jsbackup.BackupAll(ctx, nc, *out)
	if err != nil {
		return fail(stderr, "backup nats", err)
	}
	var total int64
	for _, s := range man.Streams {
		total += s.Bytes
		fmt.Fprintf(stdout, "%-22s %10d bytes  sha256 %s\n", s.Stream, s.Bytes, s.SHA256[:16])
	}
	fmt.Fprintf(stderr, "bndmrctl backup nats: %d streams, %d bytes in %s (%v)\n", len(man.Streams), total, *out, time.Since(start).Round(time.Millisecond))
	return 0
}

func restoreNATS(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("restore nats", "usage: bndmrctl restore nats [--nats-url URL --nats-user backup … | --store-dir DIR] [--replicas N] BACKUP_DIR", stderr)
	t := natsTargetFlags(fs)
	replicas := fs.Int("replicas", 0, "replicas of every restored stream (0: as backed up); 1 to restore a cluster's backup on a single server")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	nc, _, closeFn, err := t.connect(ctx, true)
	if err != nil {
		return fail(stderr, "restore nats", err)
	}
	defer closeFn()
	start := time.Now()
	man, err := jsbackup.RestoreAll(ctx, nc, fs.Arg(0), jsbackup.RestoreOptions{Replicas: *replicas})
	if err != nil {
		return fail(stderr, "restore nats", err)
	}
	fmt.Fprintf(stderr, "bndmrctl restore nats: %d streams restored from %s (taken %s) in %v\n", len(man.Streams), fs.Arg(0),
		man.Taken.Format(time.RFC3339), time.Since(start).Round(time.Millisecond))
	return 0
}

func backupClickHouse(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("backup clickhouse", "usage: bndmrctl backup clickhouse --out DIR [--clickhouse DSN] [--method freeze | --method backup --server-path PATH]", stderr)
	dsn := clickhouseFlag(fs)
	out := fs.String("out", "", "new folder for the backup (freeze: the parts too; backup: the manifest only)")
	method := fs.String("method", "freeze", "freeze (ClickHouse 18.16: every table frozen and its parts copied, run where the server's data folder is mounted) or backup (22.8+: BACKUP DATABASE … TO File)")
	serverPath := fs.String("server-path", "", "with --method backup: the server's folder to write the backup to (under its <backups><allowed_path>)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() != 0 || (*method == "backup") != (*serverPath != "") {
		fs.Usage()
		return 2
	}
	st, err := dsn.open(ctx)
	if err != nil {
		return fail(stderr, "backup clickhouse", err)
	}
	defer st.Close()
	start := time.Now()
	var man *chbackup.Manifest
	switch *method {
	case "freeze":
		man, err = chbackup.Freeze(ctx, st, *out)
	case "backup":
		man, err = chbackup.Backup(ctx, st, *serverPath, *out)
	default:
		err = fmt.Errorf("--method %q: freeze or backup", *method)
	}
	if err != nil {
		return fail(stderr, "backup clickhouse", err)
	}
	var rows uint64
	for _, t := range man.Tables {
		rows += t.Rows
	}
	fmt.Fprintf(stderr, "bndmrctl backup clickhouse: database %s (ClickHouse %s), %d tables, %d rows, %s, into %s (%v)\n",
		man.Database, man.Version, len(man.Tables), rows, man.Method, *out, time.Since(start).Round(time.Millisecond))
	return 0
}

func restoreClickHouse(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("restore clickhouse", "usage: bndmrctl restore clickhouse [--clickhouse DSN of an empty database] [--existing-schema] BACKUP_DIR", stderr)
	dsn := clickhouseFlag(fs)
	existing := fs.Bool("existing-schema", false, "freeze backups: the tables exist, empty (a cluster's schema from `bndmrctl migrate --clickhouse-cluster`); attach the parts only, on one replica per shard")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	man, err := chbackup.ReadManifest(fs.Arg(0))
	if err != nil {
		return fail(stderr, "restore clickhouse", err)
	}
	st, err := dsn.open(ctx)
	if err != nil {
		return fail(stderr, "restore clickhouse", err)
	}
	defer st.Close()
	start := time.Now()
	if man.Method == "backup" {
		_, err = chbackup.Restore(ctx, st, fs.Arg(0))
	} else {
		_, err = chbackup.Thaw(ctx, st, fs.Arg(0), chbackup.ThawOptions{ExistingSchema: *existing})
	}
	if err != nil {
		return fail(stderr, "restore clickhouse", err)
	}
	fmt.Fprintf(stderr, "bndmrctl restore clickhouse: %d tables of %s (taken %s) restored into %s, row counts checked (%v)\n",
		len(man.Tables), man.Database, man.Taken.Format(time.RFC3339), st.Database(), time.Since(start).Round(time.Millisecond))
	return 0
}

// backupState prints what a restore must give back (pkg/drill): the
// figures of a ClickHouse database and the pending messages of a JetStream.
func backupState(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("backup state", "usage: bndmrctl backup state [--clickhouse DSN] [--nats-url URL … | --store-dir DIR] [--digest] [--from YYYY-MM --to YYYY-MM]", stderr)
	t := natsTargetFlags(fs)
	dsn := clickhouseFlag(fs)
	from := fs.String("from", "2015-01", "first month of the MR.1/MR.2 figures (YYYY-MM)")
	to := fs.String("to", time.Now().Format("2006-01"), "last month")
	digest := fs.Bool("digest", false, "also a digest of every stream's messages (reads them all; needs $JS.API.STREAM.MSG.GET.*)")
	noNATS := fs.Bool("no-nats", false, "ClickHouse figures only")
	noCH := fs.Bool("no-clickhouse", false, "JetStream state only")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	if !*noCH {
		p, err := indicators.ParsePeriod(*from, *to)
		if err != nil {
			return fail(stderr, "backup state", err)
		}
		st, err := dsn.open(ctx)
		if err != nil {
			return fail(stderr, "backup state", err)
		}
		defer st.Close()
		figs, err := drill.Figures(ctx, st, p)
		if err != nil {
			return fail(stderr, "backup state", err)
		}
		fmt.Fprint(stdout, figs)
	}
	if !*noNATS {
		_, js, closeFn, err := t.connect(ctx, false)
		if err != nil {
			return fail(stderr, "backup state", err)
		}
		defer closeFn()
		pending, err := drill.Pending(ctx, js, *digest)
		if err != nil {
			return fail(stderr, "backup state", err)
		}
		fmt.Fprint(stdout, pending)
	}
	return 0
}

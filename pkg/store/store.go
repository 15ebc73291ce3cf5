// Package store writes the hub's analytical tables in ClickHouse: versioned
// migrations, batched idempotent inserts, and the queries the hub itself needs.
package store

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/bndmr/hub/pkg/chddl"
	"github.com/bndmr/hub/pkg/tlsclient"
	"github.com/bndmr/hub/schemas"
)

// Store is a ClickHouse connection with the hub's schema.
type Store struct {
	conn driver.Conn
	db   string
	opts *clickhouse.Options // as opened: other servers of a cluster are reached alike
}

// Open connects to the ClickHouse server named by dsn
// (clickhouse://user:password@host:9000/database) and checks it answers.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return OpenWith(ctx, dsn, Options{})
}

// Options are the connection settings a DSN does not carry.
type Options struct {
	// TLS: the CA bundle the server's certificate must chain to and, for a
	// server that asks for one, the client certificate. They need a DSN
	// with secure=true (the native TLS port, 9440): given with a clear
	// DSN, Open refuses rather than connect in clear.
	TLS tlsclient.Files
}

// OpenWith is Open with the settings of o.
func OpenWith(ctx context.Context, dsn string, o Options) (*Store, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("ClickHouse DSN %q: %w", redact(dsn), err)
	}
	if o.TLS != (tlsclient.Files{}) {
		if opts.TLS == nil {
			return nil, fmt.Errorf("ClickHouse DSN %s: TLS files are given but the DSN lacks secure=true: refusing to connect in clear", redact(dsn))
		}
		if opts.TLS.InsecureSkipVerify {
			return nil, fmt.Errorf("ClickHouse DSN %s: skip_verify=true with a CA bundle: remove skip_verify", redact(dsn))
		}
		tc, err := tlsclient.Config(o.TLS, "")
		if err != nil {
			return nil, fmt.Errorf("TLS settings of the ClickHouse connection: %w", err)
		}
		// ServerName stays empty: the TLS dial checks each DSN host.
		opts.TLS = tc
	}
	opts.DialTimeout = 5 * time.Second
	opts.Settings = clickhouse.Settings{}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("opening ClickHouse at %s: %w", redact(dsn), err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ClickHouse at %s does not answer: %w", redact(dsn), err)
	}
	db := opts.Auth.Database
	if db == "" {
		db = "default"
	}
	return &Store{conn: conn, db: db, opts: opts}, nil
}

// Close closes the connection.
func (s *Store) Close() error { return s.conn.Close() }

// Conn gives the underlying connection, for tests (creating and dropping
// their databases). The hub's own statements go through Query, QueryRow and
// Exec, which take a registered Statement (sql.go).
func (s *Store) Conn() driver.Conn { return s.conn }

// Query runs a registered statement that returns rows.
func (s *Store) Query(ctx context.Context, st Statement, args ...any) (driver.Rows, error) {
	return s.conn.Query(ctx, st.SQL, args...)
}

// Scanner reads the current row of a query into dest.
type Scanner interface{ Scan(dest ...any) error }

// Each runs a registered statement that returns rows and hands each row to
// row, closing them after; the first error ends it, the rows' own included
// (a query cut short on the server shows only in rows.Err).
func (s *Store) Each(ctx context.Context, st Statement, args []any, row func(Scanner) error) error {
	rows, err := s.conn.Query(ctx, st.SQL, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// QueryRow runs a registered statement that returns one row.
func (s *Store) QueryRow(ctx context.Context, st Statement, args ...any) driver.Row {
	return s.conn.QueryRow(ctx, st.SQL, args...)
}

// Exec runs a registered statement that returns no rows.
func (s *Store) Exec(ctx context.Context, st Statement, args ...any) error {
	return s.conn.Exec(ctx, st.SQL, args...)
}

// Database is the database of the connection (the DSN's).
func (s *Store) Database() string { return s.db }

// Ping checks the server answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.conn.Ping(ctx) }

// Migration is one versioned DDL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in order.
func Migrations() ([]Migration, error) {
	return readMigrations(schemas.ClickHouse, "clickhouse")
}

func readMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and '_'", name)
		}
		b, err := fs.ReadFile(fsys, dir+"/"+name)
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", name, err)
		}
		ms = append(ms, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("two migrations have version %d: %s and %s", ms[i].Version, ms[i-1].Name, ms[i].Name)
		}
	}
	return ms, nil
}

// Migrate applies the migrations not yet recorded in schema_migrations. It is
// idempotent: every statement is CREATE … IF NOT EXISTS or guarded, and a
// migration is recorded only after all its statements ran. It holds the
// migration lock (lock.go): of migrators started together (two loader
// replicas), one applies, the others wait and then find nothing to do.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	return s.MigrateWith(ctx, MigrateOptions{})
}

// migrateSingle is Migrate's work, under the lock: the migrations as
// written.
func (s *Store) migrateSingle(ctx context.Context, through int) ([]string, error) {
	return s.applyMigrations(ctx, migrationForm{
		through: through,
		setup:   []string{createMigrations.SQL},
		statements: func(m Migration) ([]string, error) {
			return chddl.SplitStatements(m.SQL), nil
		},
		run: func(ctx context.Context, stmt string) error { return s.conn.Exec(ctx, stmt) },
	})
}

// migrationForm is how one form of the schema (one server, or a cluster)
// is applied.
type migrationForm struct {
	// where names the form in errors: "" for one server, " (cluster c)".
	where string
	// through: the last version applied (MigrateOptions.Through); 0: all.
	through int
	// setup creates schema_migrations.
	setup []string
	// statements gives the statements of a migration. It is called for
	// every migration in order, applied or not (the cluster form learns
	// which tables the earlier ones sharded).
	statements func(Migration) ([]string, error)
	// run runs one statement.
	run func(ctx context.Context, stmt string) error
}

// applyMigrations applies, in form f, the migrations schema_migrations does
// not record, and records each once all its statements ran. It returns the
// names of those it applied, also when it stops on an error.
func (s *Store) applyMigrations(ctx context.Context, f migrationForm) ([]string, error) {
	for _, st := range f.setup {
		if err := f.run(ctx, st); err != nil {
			return nil, fmt.Errorf("creating schema_migrations%s: %w", f.where, err)
		}
	}
	done, err := s.appliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range ms {
		stmts, err := f.statements(m)
		if err != nil {
			return applied, err
		}
		if done[m.Version] || (f.through > 0 && m.Version > f.through) {
			continue
		}
		for i, st := range stmts {
			skip, err := s.renameDone(ctx, st)
			if err != nil {
				return applied, fmt.Errorf("migration %s%s, statement %d: %w", m.Name, f.where, i+1, err)
			}
			if skip {
				continue
			}
			if err := f.run(ctx, st); err != nil {
				return applied, fmt.Errorf("migration %s%s, statement %d: %w", m.Name, f.where, i+1, err)
			}
		}
		if err := s.recordMigration(ctx, m); err != nil {
			return applied, err
		}
		applied = append(applied, m.Name)
	}
	return applied, nil
}

// renameDone: stmt renames tables, and its targets exist. A migration that
// stopped after its RENAME runs again from its first statement, and
// ClickHouse 18.16 has no RENAME … IF EXISTS: a rename whose new names are
// taken already ran. (The migrations rename a table away before creating
// another under its name, never onto a name in use.) Only some of the
// targets there is an error for an operator: not a state a migration
// leaves.
func (s *Store) renameDone(ctx context.Context, stmt string) (bool, error) {
	targets := chddl.RenameTargets(stmt)
	if len(targets) == 0 {
		return false, nil
	}
	var there []string
	for _, t := range targets {
		name := t[strings.LastIndex(t, ".")+1:]
		var n uint64
		if err := s.QueryRow(ctx, localTableExists, name).Scan(&n); err != nil {
			return false, fmt.Errorf("looking for table %s before renaming: %w", name, err)
		}
		if n > 0 {
			there = append(there, name)
		}
	}
	switch len(there) {
	case 0:
		return false, nil
	case len(targets):
		return true, nil
	}
	return false, fmt.Errorf("some of the tables this rename makes exist already (%s), not all: renamed by hand? %s",
		strings.Join(there, ", "), stmt)
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

// recordMigration inserts through a batch: on ClickHouse 18.16 an INSERT with
// inline VALUES sent over the native protocol never completes.
func (s *Store) recordMigration(ctx context.Context, m Migration) error {
	t := newRows(insertMigration)
	t.add(migrationRow{Version: uint32(m.Version), Name: m.Name})
	if err := s.send(ctx, t); err != nil {
		return fmt.Errorf("recording migration %s: %w", m.Name, err)
	}
	return nil
}

// ReplicaDelay returns, in seconds, how far the most lagging replicated
// table of the database is behind its replicas (0 on a single server).
func (s *Store) ReplicaDelay(ctx context.Context) (uint64, error) {
	var d uint64
	if err := s.QueryRow(ctx, replicaDelay).Scan(&d); err != nil {
		return 0, fmt.Errorf("reading the replication delay: %w", err)
	}
	return d, nil
}

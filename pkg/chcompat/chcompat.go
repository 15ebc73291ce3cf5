// Package chcompat checks that the hub's SQL means the same on the two
// ClickHouse versions it is tested on: the 18.16 server of `make up`,
// reached over HTTP, and the engine of the version production runs, chDB, in
// the test process. A Pair holds one database on each, with the same
// migrations and the same rows (copied from the server into chDB through
// the hub's own INSERT statements), and runs a registered statement on both
// with the same arguments; the rows must be identical.
//
// Every statement of the registries (store.Statements,
// indicators.Statements) needs a case here (Args): a statement added
// without one fails the suites (pkg/indicators, services/internal/compat).
package chcompat

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bndmr/hub/pkg/chdb"
	"github.com/bndmr/hub/pkg/chddl"
	"github.com/bndmr/hub/pkg/store"
)

// EnvServerHTTP names the HTTP address of the 18.16 test server (the native
// DSN is BNDMR_TEST_CLICKHOUSE).
const EnvServerHTTP = "BNDMR_TEST_CLICKHOUSE_HTTP"

// Server is a ClickHouse server reached over its HTTP interface, which
// returns a statement's rows as text in the format asked.
type Server struct {
	URL    string // http://host:8123
	Client *http.Client
	// Settings are sent with every query (e.g. readonly=1: as a read-only
	// user would run it).
	Settings map[string]string
}

// ServerFromEnv returns the server of EnvServerHTTP.
func ServerFromEnv() (*Server, error) {
	u := os.Getenv(EnvServerHTTP)
	if u == "" {
		return nil, fmt.Errorf("%s is not set: run the tests through `make test`, which exports it", EnvServerHTTP)
	}
	return &Server{URL: strings.TrimSuffix(u, "/"), Client: &http.Client{Timeout: 2 * time.Minute}}, nil
}

// Query runs sql in database db and returns its output in format.
func (s *Server) Query(ctx context.Context, db, sql, format string) ([]byte, error) {
	q := url.Values{"database": {db}}
	for k, v := range s.Settings {
		q.Set(k, v)
	}
	if format != "" {
		q.Set("default_format", format)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/?"+q.Encode(), strings.NewReader(sql))
	if err != nil {
		return nil, fmt.Errorf("ClickHouse server %s: %w", s.URL, err)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ClickHouse server %s: %w", s.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("ClickHouse server %s: reading the answer: %w", s.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ClickHouse server %s: %s", s.URL, bytes.TrimSpace(body))
	}
	return body, nil
}

// Pair is one database on the server and the same database in chDB.
type Pair struct {
	Server *Server
	Engine *chdb.Engine
	DB     string
}

// Prepare creates the database in chDB and applies every migration there,
// in its single-server form, statement by statement (the server's database
// was migrated by store.Migrate).
func (p *Pair) Prepare(ctx context.Context) error {
	if err := p.Engine.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+p.DB); err != nil {
		return fmt.Errorf("chDB: creating database %s: %w", p.DB, err)
	}
	if err := p.use(ctx); err != nil {
		return err
	}
	ms, err := store.Migrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		for i, st := range chddl.SplitStatements(m.SQL) {
			if err := p.Engine.Exec(ctx, st); err != nil {
				return fmt.Errorf("chDB: migration %s, statement %d: %w", m.Name, i+1, err)
			}
		}
	}
	return nil
}

func (p *Pair) use(ctx context.Context) error {
	if err := p.Engine.Exec(ctx, "USE "+p.DB); err != nil {
		return fmt.Errorf("chDB: USE %s: %w", p.DB, err)
	}
	return nil
}

// Copy copies the rows of the table of an INSERT statement of the registry
// from the server into chDB, through that statement: the server exports the
// statement's columns as TabSeparated, chDB reads them with the statement
// itself. It returns the number of rows copied.
func (p *Pair) Copy(ctx context.Context, insert store.Statement) (int, error) {
	table, cols, ok := store.InsertTable(insert)
	if !ok {
		return 0, fmt.Errorf("%s is not an INSERT INTO t (columns) statement", insert.Name)
	}
	rows, err := p.Server.Query(ctx, p.DB, "SELECT "+cols+" FROM "+table, "TabSeparated")
	if err != nil {
		return 0, fmt.Errorf("exporting %s: %w", table, err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	if err := p.use(ctx); err != nil {
		return 0, err
	}
	// optimize_on_insert = 0: the rows arrive as the server holds them,
	// duplicates included (ClickHouse 20.5+ would merge those of one block).
	if err := p.Engine.Exec(ctx, insert.SQL+" SETTINGS optimize_on_insert = 0 FORMAT TabSeparated\n"+string(rows)); err != nil {
		return 0, fmt.Errorf("%s on chDB: %w", insert.Name, err)
	}
	return bytes.Count(rows, []byte{'\n'}), nil
}

// Merge merges every table of the chDB database (OPTIMIZE … FINAL): the
// duplicates a redelivery leaves collapse, as ClickHouse does in time.
func (p *Pair) Merge(ctx context.Context, tables []string) error {
	if err := p.use(ctx); err != nil {
		return err
	}
	for _, t := range tables {
		if err := p.Engine.Exec(ctx, "OPTIMIZE TABLE "+t+" FINAL"); err != nil {
			return fmt.Errorf("chDB: merging %s: %w", t, err)
		}
	}
	return nil
}

// Result is a statement's output on one engine: its column types and its
// rows (TabSeparated lines), sorted.
type Result struct {
	Types string
	Rows  []string
}

// Run runs a statement with its arguments on both engines.
func (p *Pair) Run(ctx context.Context, st store.Statement, args []any) (server, engine Result, err error) {
	sql, err := Bind(st.SQL, args)
	if err != nil {
		return server, engine, fmt.Errorf("%s: %w", st.Name, err)
	}
	const format = "TabSeparatedWithNamesAndTypes"
	out, err := p.Server.Query(ctx, p.DB, sql, format)
	if err != nil {
		return server, engine, fmt.Errorf("%s on the server: %w", st.Name, err)
	}
	server = parse(out)
	if err := p.use(ctx); err != nil {
		return server, engine, err
	}
	if out, err = p.Engine.Query(ctx, sql, format); err != nil {
		return server, engine, fmt.Errorf("%s on chDB: %w", st.Name, err)
	}
	return server, parse(out), nil
}

// parse drops the names line (an expression's name is spelled differently
// from one version to the next; Go scans by position) and sorts the rows.
func parse(out []byte) Result {
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	var r Result
	if len(lines) >= 2 {
		r.Types = lines[1]
		r.Rows = lines[2:]
	}
	slices.Sort(r.Rows)
	return r
}

// Diff describes how two results differ ("" when they are the same).
func Diff(server, engine Result) string {
	var b strings.Builder
	if server.Types != engine.Types {
		fmt.Fprintf(&b, "column types: server %q, chDB %q\n", server.Types, engine.Types)
	}
	if len(server.Rows) != len(engine.Rows) {
		fmt.Fprintf(&b, "%d rows on the server, %d on chDB\n", len(server.Rows), len(engine.Rows))
	}
	shown := 0
	for i := 0; i < max(len(server.Rows), len(engine.Rows)) && shown < 5; i++ {
		var s, e string
		if i < len(server.Rows) {
			s = server.Rows[i]
		}
		if i < len(engine.Rows) {
			e = engine.Rows[i]
		}
		if s != e {
			fmt.Fprintf(&b, "row %d: server %q, chDB %q\n", i+1, s, e)
			shown++
		}
	}
	return b.String()
}

// Bind replaces each ? of sql, outside quotes, with the next argument as a
// literal, as clickhouse-go binds positional arguments: strings quoted,
// integers as written.
func Bind(sql string, args []any) (string, error) {
	var b strings.Builder
	n := 0
	var quote byte
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case quote != 0:
			if c == '\\' && i+1 < len(sql) {
				b.WriteByte(c)
				i++
				c = sql[i]
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '`' || c == '"':
			quote = c
		case c == '?':
			if n >= len(args) {
				return "", fmt.Errorf("%d arguments for more placeholders", len(args))
			}
			lit, err := literal(args[n])
			if err != nil {
				return "", fmt.Errorf("argument %d: %w", n+1, err)
			}
			b.WriteString(lit)
			n++
			continue
		}
		b.WriteByte(c)
	}
	if n != len(args) {
		return "", fmt.Errorf("%d arguments for %d placeholders", len(args), n)
	}
	return b.String(), nil
}

func literal(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(x) + "'", nil
	case int:
		return strconv.Itoa(x), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case []string:
		lits := make([]string, len(x))
		for i, e := range x {
			lits[i], _ = literal(e)
		}
		return "[" + strings.Join(lits, ", ") + "]", nil
	}
	return "", fmt.Errorf("no literal for %T", v)
}

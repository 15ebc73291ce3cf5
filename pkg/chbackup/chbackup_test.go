package chbackup

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/chcompat"
	"github.com/bndmr/hub/pkg/chdb"
	"github.com/bndmr/hub/pkg/chddl"
	"github.com/bndmr/hub/pkg/chtest"
	"github.com/bndmr/hub/pkg/store"
)

// fill gives a migrated database rows in several parts and partitions:
// documents over five years (yearly partitions) in two inserts, and the
// access journal.
var fill = []string{
	`INSERT INTO documents (finess, set_id, version_number, effective_date, orpha_codes)
		SELECT concat('75', toString(number % 3)), toString(number), 1, toDate('2025-01-10') + number * 200, ['ORPHA:' || toString(number % 5)]
		FROM system.numbers LIMIT 9`,
	`INSERT INTO documents (finess, set_id, version_number, effective_date, orpha_codes)
		SELECT '751', toString(number), 2, toDate('2025-02-01'), ['ORPHA:1'] FROM system.numbers LIMIT 4`,
	`INSERT INTO audit_access (at, subject, route, decision) VALUES ('2025-03-01 10:00:00', 'alice', '/api/mr2', 'allowed')`,
}

// probes are read on the source and on the restore: they must agree.
var probes = []string{
	"SELECT finess, set_id, version_number, effective_date, orpha_codes FROM documents ORDER BY finess, set_id, version_number",
	"SELECT count() FROM documents_current",
	"SELECT subject, route FROM audit_access",
	"SELECT version FROM schema_migrations ORDER BY version",
}

func serverDB(t *testing.T, ctx context.Context, name string) *store.Store {
	t.Helper()
	dsn, _ := chtest.Database(t, name)
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// read runs q in st's database over HTTP (clickhouse-go's Exec waits
// for data on an INSERT … SELECT) and returns its TabSeparated output.
func read(t *testing.T, ctx context.Context, st *store.Store, q string) string {
	t.Helper()
	srv, err := chcompat.ServerFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	out, err := srv.Query(ctx, st.Database(), q, "TabSeparated")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestFreezeThawOn1816: the hub's schema and rows, frozen on the 18.16
// server, come back in an empty database with the same rows, views
// included, and the server's shadow folder is left clean.
func TestFreezeThawOn1816(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := time.Now().UnixNano()
	src := serverDB(t, ctx, fmt.Sprintf("chbackup_src_%d", run))
	if _, err := src.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range fill {
		read(t, ctx, src, q)
	}
	dir := filepath.Join(t.TempDir(), "ch")
	man, err := Freeze(ctx, src, dir)
	if err != nil {
		t.Fatal(err)
	}
	var docs *Table
	for i, tb := range man.Tables {
		if tb.Name == "documents" {
			docs = &man.Tables[i]
		}
	}
	if docs == nil || docs.Rows != 13 || len(docs.Parts) < 3 {
		t.Fatalf("documents in the backup: %+v, want 13 rows in 3 or more parts", docs)
	}
	shadowLeft(t, ctx, src)

	dst := serverDB(t, ctx, fmt.Sprintf("chbackup_dst_%d", run))
	if _, err := Thaw(ctx, dst, dir, ThawOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, q := range probes {
		if a, b := read(t, ctx, src, q), read(t, ctx, dst, q); a != b || a == "" {
			t.Errorf("%s:\nsource:\n%srestored:\n%s", q, a, b)
		}
	}
	// The restored views read the restored tables, not the source's.
	current := read(t, ctx, src, "SELECT count() FROM documents_current")
	read(t, ctx, src, "TRUNCATE TABLE documents")
	if got := read(t, ctx, dst, "SELECT count() FROM documents_current"); got != current {
		t.Errorf("restored view after the source is emptied: %q, want %q", got, current)
	}
	// A second restore into a database that has tables is refused.
	if _, err := Thaw(ctx, dst, dir, ThawOptions{}); err == nil || !strings.Contains(err.Error(), "empty database") {
		t.Errorf("restore over tables: %v", err)
	}
}

// shadowLeft fails when the source's frozen copy is still in shadow/.
func shadowLeft(t *testing.T, ctx context.Context, st *store.Store) {
	t.Helper()
	ts, err := listTables(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range ts {
		if !tb.hasParts() {
			continue
		}
		root, err := serverPath(st.Database(), tb)
		if err != nil {
			t.Fatal(err)
		}
		left, _ := filepath.Glob(filepath.Join(root, "shadow", "*", "data", st.Database()))
		if len(left) > 0 {
			t.Errorf("frozen copies left in %v", left)
		}
		return
	}
}

func TestRenameDatabase(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"CREATE TABLE src.t ( a UInt8) ENGINE = Memory", "CREATE TABLE `dst`.t ( a UInt8) ENGINE = Memory", ""},
		{"CREATE VIEW src.v ( a UInt8) AS SELECT a FROM src.t  WHERE s = 'src.x'", "CREATE VIEW `dst`.v ( a UInt8) AS SELECT a FROM `dst`.t  WHERE s = 'src.x'", ""},
		{"CREATE VIEW src.v AS SELECT a FROM (SELECT a FROM `src`.t)", "CREATE VIEW `dst`.v AS SELECT a FROM (SELECT a FROM `dst`.t)", ""},
		{"CREATE TABLE srcx.t (a UInt8) ENGINE = Memory", "", "does not name"},
	} {
		got, err := renameDatabase(tc.in, "src", "dst")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s:\n got %s (%v)\nwant %s", tc.in, got, err, tc.want)
		}
	}
}

// TestBackupRestoreOnChDB: the statements of current versions (BACKUP
// DATABASE … TO File, RESTORE DATABASE … AS … FROM File) on chDB 26.7, on the
// hub's schema: same rows, and views reading the restored tables.
func TestBackupRestoreOnChDB(t *testing.T) {
	lib, err := chdb.LibFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	backups := filepath.Join(dir, "backups")
	e, err := chdb.Open(lib, "--path="+filepath.Join(dir, "data"), "--backups.allowed_path="+backups)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		q, err := chcompat.Bind(sql, args)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	exec("CREATE DATABASE src")
	exec("USE src")
	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range store.Statements() {
		if s.Name == "store.create_schema_migrations" {
			exec(s.SQL)
		}
	}
	for _, m := range ms {
		for _, s := range chddl.SplitStatements(m.SQL) {
			exec(s)
		}
		exec(fmt.Sprintf("INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')", m.Version, m.Name))
	}
	for _, q := range fill {
		exec(q)
	}
	exec(backupDatabase("src").SQL, filepath.Join(backups, "b1"))
	exec("CREATE DATABASE dst")
	exec(restoreDatabase("src", "dst").SQL, filepath.Join(backups, "b1"))
	for _, q := range probes {
		a, err := e.Query(ctx, strings.Replace(q, " FROM ", " FROM src.", 1), "TabSeparated")
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.Query(ctx, strings.Replace(q, " FROM ", " FROM dst.", 1), "TabSeparated")
		if err != nil {
			t.Fatal(err)
		}
		if string(a) != string(b) || len(a) == 0 {
			t.Errorf("%s:\nsource:\n%srestored:\n%s", q, a, b)
		}
	}
	current, err := e.Query(ctx, "SELECT count() FROM src.documents_current", "TabSeparated")
	if err != nil {
		t.Fatal(err)
	}
	exec("TRUNCATE TABLE src.documents")
	if got, err := e.Query(ctx, "SELECT count() FROM dst.documents_current", "TabSeparated"); err != nil || string(got) != string(current) {
		t.Errorf("restored view after the source is emptied: %q %v, want %q", got, err, current)
	}
}

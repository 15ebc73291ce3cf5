// Package storetest gives a test a fresh, migrated store (pkg/chtest's
// database, opened and migrated by pkg/store). Test support: only _test.go
// files import it.
package storetest

import (
	"context"
	"testing"

	"github.com/bndmr/hub/pkg/chddl"
	"github.com/bndmr/hub/pkg/chtest"
	"github.com/bndmr/hub/pkg/store"
)

// Store opens a fresh database (named after prefix and the test) with the
// migrations applied; it is closed and dropped when the test ends. Without
// BNDMR_TEST_CLICKHOUSE the test is skipped.
func Store(t testing.TB, prefix string) *store.Store {
	t.Helper()
	s, _ := Migrated(t, prefix)
	return s
}

// Migrated is Store and the DSN of its database, for a test that also hands
// the database to a command.
func Migrated(t testing.TB, prefix string) (*store.Store, string) {
	t.Helper()
	s, dsn := open(t, prefix)
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrating the test database: %v", err)
	}
	return s, dsn
}

// Open is Store without the migrations: an empty database.
func Open(t testing.TB, prefix string) *store.Store {
	t.Helper()
	s, _ := open(t, prefix)
	return s
}

func open(t testing.TB, prefix string) (*store.Store, string) {
	t.Helper()
	dsn, _ := chtest.Database(t, prefix)
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("opening the test database: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dsn
}

// Column runs q, a test's own query of one String column, and returns its
// values in the order read.
func Column(t testing.TB, st *store.Store, q string) []string {
	t.Helper()
	rows, err := st.Conn().Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// SetTablesSQL lists, sorted, the tables of the current database whose rows
// belong to a set (a set_id column), views and the sharded tables of the
// cluster form (read through their Distributed tables) left out: the tables
// KeysSQL compares.
const SetTablesSQL = `SELECT table FROM system.columns WHERE database = currentDatabase() AND name = 'set_id'
	AND table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT LIKE '%View')
	AND NOT endsWith(table, '` + chddl.LocalSuffix + `') ORDER BY table`

// KeysSQL selects, sorted, the distinct keys of table's rows that satisfy
// where (a condition; "1" for every row): what two runs of the pipeline are
// compared on. A row is keyed by its set and version; superseded by the
// version it replaces (set, level, index); receipts by what was said of each
// document. receiptsWhere narrows receipts further ("1": no more). GROUP
// BY, not DISTINCT: on ClickHouse 18.16 with two threads, a DISTINCT with
// ORDER BY once gave a row twice in CI.
func KeysSQL(table, where, receiptsWhere string) string {
	switch table {
	case "superseded":
		return "SELECT concat(set_id, '/', toString(level), '/', toString(idx)) AS k FROM superseded WHERE " + where + " GROUP BY k ORDER BY k"
	case "receipts":
		return `SELECT concat(set_id, '/', toString(version_number), '/', toString(doc_index), '/', doc_name, '/', toString(accepted), '/',
			rejection_code, '/', toString(cisis_code), '/', mail_rejection_code) AS k FROM (SELECT mail_id, doc_index, set_id, version_number, doc_name,
			accepted, rejection_code, cisis_code, mail_rejection_code FROM receipts WHERE ` + where + ` AND ` + receiptsWhere + `
			GROUP BY mail_id, doc_index, set_id, version_number, doc_name, accepted, rejection_code, cisis_code, mail_rejection_code) AS r ORDER BY k`
	}
	return "SELECT concat(set_id, '/', toString(version_number)) AS k FROM " + table + " WHERE " + where + " GROUP BY k ORDER BY k"
}

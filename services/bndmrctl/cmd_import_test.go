package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/chtest"
	"github.com/bndmr/hub/pkg/store"
)

// TestImportDPIKeepsHistory imports declared counts twice against the real
// ClickHouse: the second import keeps the values it replaced, with the
// operator named by --author, role operator and source "bndmrctl import",
// and each import is journalled in audit_access as the service journals a
// request. Without a name (--author, and the account is root or unknown) the
// import is refused before anything is written.
func TestImportDPIKeepsHistory(t *testing.T) {
	ctx := context.Background()
	dbDSN, _ := chtest.Database(t, "test_ctl_import")
	ctlCase{args: []string{"migrate", "--clickhouse", dbDSN}, errOut: "bndmrctl migrate: applied 0001_documents"}.run(t, ctx)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := write("first.csv", "finess;mois;nombre\n690000011;2026-10;4\n690000011;2026-11;6\n750000010;2026-10;9\n")
	second := write("second.csv", "finess;mois;nombre\n690000011;2026-10;5\n750000010;2026-10;9\n")
	ctlCase{args: []string{"import", "dpi", "--clickhouse", dbDSN, "--author", "alice.martin", first}, errOut: "bndmrctl import dpi: 3 rows recorded"}.run(t, ctx)
	time.Sleep(1100 * time.Millisecond) // changed_at and declared_at have seconds: the second import is later
	ctlCase{args: []string{"import", "dpi", "--clickhouse", dbDSN, "--author", "bob.durand", second}, errOut: "  690000011 2026-10: 5 (was 4)\nbndmrctl import dpi: 2 rows recorded"}.run(t, ctx)
	if os.Getenv("USER") == "root" || os.Geteuid() == 0 {
		ctlCase{args: []string{"import", "dpi", "--clickhouse", dbDSN, second}, want: 2, errOut: "say who makes the change with --author NAME"}.run(t, ctx)
	}
	st, err := store.Open(ctx, dbDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lines := func(stmt store.Statement) []string {
		t.Helper()
		rows, err := st.Query(ctx, stmt)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	history := lines(store.Statement{Name: "test.history", SQL: `SELECT concat(finess, ' ', toString(month), ' ',
		toString(previous_count), ' ', toString(had_previous), ' ', toString(declared_count), ' ', author, ' ', role, ' ', source)
		FROM dpi_updates_history ORDER BY changed_at, finess, month`})
	want := []string{
		"690000011 2026-10-01 0 0 4 alice.martin operator bndmrctl import",
		"690000011 2026-11-01 0 0 6 alice.martin operator bndmrctl import",
		"750000010 2026-10-01 0 0 9 alice.martin operator bndmrctl import",
		"690000011 2026-10-01 4 1 5 bob.durand operator bndmrctl import",
		"750000010 2026-10-01 9 1 9 bob.durand operator bndmrctl import",
	}
	if strings.Join(history, "\n") != strings.Join(want, "\n") {
		t.Errorf("dpi_updates_history:\n%s\nwant\n%s", strings.Join(history, "\n"), strings.Join(want, "\n"))
	}
	journal := lines(store.Statement{Name: "test.journal", SQL: `SELECT concat(subject, ' ', role, ' ', method, ' ', route, ' ',
		finess, ' ', period, ' ', decision, ' ', via, ' ', if(name = '', 'no-account', 'account'))
		FROM audit_access ORDER BY at, subject, finess`})
	wantJ := []string{
		"alice.martin operator IMPORT bndmrctl import dpi 690000011 2026-10..2026-11 allowed cli account",
		"alice.martin operator IMPORT bndmrctl import dpi 750000010 2026-10 allowed cli account",
		"bob.durand operator IMPORT bndmrctl import dpi 690000011 2026-10 allowed cli account",
		"bob.durand operator IMPORT bndmrctl import dpi 750000010 2026-10 allowed cli account",
	}
	if strings.Join(journal, "\n") != strings.Join(wantJ, "\n") {
		t.Errorf("audit_access:\n%s\nwant\n%s", strings.Join(journal, "\n"), strings.Join(wantJ, "\n"))
	}
	// The import changed the figures: the declared count is the latest.
	declared := lines(store.Statement{Name: "test.declared", SQL: `SELECT concat(finess, ' ', toString(month), ' ',
		toString(argMax(declared_count, declared_at)), ' ', argMax(source, declared_at))
		FROM dpi_updates GROUP BY finess, month ORDER BY finess, month`})
	wantD := "690000011 2026-10-01 5 bndmrctl import|690000011 2026-11-01 6 bndmrctl import|750000010 2026-10-01 9 bndmrctl import"
	if strings.Join(declared, "|") != wantD {
		t.Errorf("dpi_updates: %q, want %q", declared, wantD)
	}
}

// TestOperator: who an import names.
func TestOperator(t *testing.T) {
	for _, c := range []struct {
		author string
		ok     bool
	}{
		{"alice.martin", true},
		{"root", false},
	} {
		op, err := operator(c.author)
		if (err == nil) != c.ok || (c.ok && op.Author != c.author) {
			t.Errorf("operator(%q) = %+v, %v", c.author, op, err)
		}
	}
}

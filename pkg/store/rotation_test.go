package store

import (
	"context"
	"strings"
	"testing"
)

// TestRekeyCoversEveryPatientKey: every table of the schema with a
// patient_key column is re-keyed when a rotation ends; a table added by a
// migration without its rekey statement (sql.go, rekeyClinical) would keep
// the old pseudonyms and split its patients in two.
func TestRekeyCoversEveryPatientKey(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := s.conn.Query(ctx, `SELECT c.table FROM system.columns AS c
		WHERE c.database = currentDatabase() AND c.name = 'patient_key'
		AND c.table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	rekeyed := map[string]bool{}
	for _, st := range append([]Statement{rekeyDocuments, rekeyPatients}, rekeyClinical...) {
		table, _, _ := strings.Cut(strings.TrimPrefix(st.SQL, "ALTER TABLE "), " ")
		rekeyed[table] = true
	}
	n := 0
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			t.Fatal(err)
		}
		n++
		if !rekeyed[table] {
			t.Errorf("table %s has a patient_key that no rekey statement rewrites: add it to rekeyClinical in sql.go (and its chcompat case)", table)
		}
	}
	if n < 12 {
		t.Errorf("only %d tables with a patient_key found", n)
	}
}

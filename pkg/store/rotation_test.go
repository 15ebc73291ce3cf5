package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/chtest"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/sdmmr"
)

// BenchmarkFinishRotation re-keys a warehouse of b.N thousand patients
// (one document each, loaded during a rotation, so every one has a link):
// several batches of mutations at 5,000 pairs. Run:
//
//	go test ./pkg/store -run '^$' -bench FinishRotation -benchtime 20x
//
// It reports the time of FinishRotation per thousand patients.
func BenchmarkFinishRotation(b *testing.B) {
	ctx := context.Background()
	dsn, _ := chtest.Database(b, "test_bench_rotation")
	s, err := Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	n := b.N * 1000
	recs := make([]events.Record, 0, 1000)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%064x", i)
		recs = append(recs, events.Record{V: events.RecordV, MailID: id, FINESS: "750000010", SetID: id, VersionNumber: 1,
			EffectiveTime: "20261015", ReceivedAt: time.Now(), KeyID: "new", DocumentKey: "n" + id[1:],
			PatientINSPseudonym: "i" + id[1:], PatientTraitsPseudonym: "t" + id[1:],
			PreviousKeys: []sdmmr.PseudonymSet{{KeyID: "old", DocumentKey: "N" + id[1:], PatientINSPseudonym: "I" + id[1:],
				PatientTraitsPseudonym: "T" + id[1:]}},
			Diagnoses: []sdmmr.RecordDiagnosis{{Key: "dx"}}})
		if len(recs) == cap(recs) || i == n-1 {
			if err := s.InsertDocuments(ctx, recs); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	b.ResetTimer()
	rep, err := s.FinishRotation(ctx, "old", "new", "")
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if rep.Links[LinkPatient] != n || rep.StillOld != 0 {
		b.Fatalf("%d patients: links %v, %d documents left under the old key", n, rep.Links, rep.StillOld)
	}
	b.ReportMetric(float64(rep.Mutations), "mutations")
	b.Logf("%d patients re-keyed with %d mutations in %s", n, rep.Mutations, rep.FinishedIn)
}

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

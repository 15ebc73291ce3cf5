package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/store/storetest"
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
	s := storetest.Store(b, "test_bench_rotation")
	n := b.N * 1000
	recs := make([]events.Record, 0, 1000)
	for i := 0; i < n; i++ {
		recs = append(recs, rotatedRecord(i))
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
	if rep.Links[store.LinkPatient] != n || rep.StillOld != 0 {
		b.Fatalf("%d patients: links %v, %d documents left under the old key", n, rep.Links, rep.StillOld)
	}
	b.ReportMetric(float64(rep.Mutations), "mutations")
	b.Logf("%d patients re-keyed with %d mutations in %s", n, rep.Mutations, rep.FinishedIn)
}

// rotatedRecord is document i of one patient, loaded during a key rotation:
// pseudonymised under the new key, with its pseudonyms under the old one
// (the link FinishRotation follows).
func rotatedRecord(i int) events.Record {
	id := fmt.Sprintf("%064x", i)
	return events.Record{V: events.RecordV, MailID: id, FINESS: "750000010", SetID: id, VersionNumber: 1,
		EffectiveTime: "20261015", ReceivedAt: time.Now(), KeyID: "new", DocumentKey: "n" + id[1:],
		PatientINSPseudonym: "i" + id[1:], PatientTraitsPseudonym: "t" + id[1:],
		PreviousKeys: []sdmmr.PseudonymSet{{KeyID: "old", DocumentKey: "N" + id[1:], PatientINSPseudonym: "I" + id[1:],
			PatientTraitsPseudonym: "T" + id[1:]}},
		Diagnoses: []sdmmr.RecordDiagnosis{{Key: "dx"}}}
}

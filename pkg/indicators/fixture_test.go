package indicators

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

// testStore opens a fresh, migrated database on the ClickHouse that `make up`
// started (BNDMR_TEST_CLICKHOUSE).
func testStore(t testing.TB) *store.Store { return storetest.Store(t, "test_ind") }

// Establishments of the fixture.
const (
	finA = "750000010" // no declared count, no start date
	finB = "690000011" // declared count for October, start date 2026-09-01
	finC = "130000012" // declared count for October, nothing received
)

// fixture is a small world whose indicators are worked out by hand in the
// tests: versions missing before and between those received, a rejected
// version, an opposition document, a version received twice, a version
// whose effectiveTime is October in UTC but November in Paris, declared
// counts and a start date of transmission.
type fixture struct {
	recs []events.Record
	outs []events.MailOutcome
}

func (f *fixture) doc(finess, set string, v int, ts string, mod func(*events.Record)) {
	r := events.Record{V: events.RecordV, MailID: fmt.Sprintf("mail-%s-%d", set, v), FINESS: finess, SetID: set,
		VersionNumber: v, EffectiveTime: ts, ReceivedAt: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), KeyID: "k",
		DocumentKey: "dk", PatientINSPseudonym: "ins-" + set, PatientTraitsPseudonym: "pat-" + set, Sex: "F",
		BirthYearMonth: "2000-01", ResidenceDepartement: "75"}
	if mod != nil {
		mod(&r)
	}
	f.recs = append(f.recs, r)
	f.outs = append(f.outs, events.MailOutcome{V: events.OutcomeV, MailID: r.MailID, From: "dpi@" + finess + ".mssante.fr",
		ReceivedAt: r.ReceivedAt, Documents: []events.DocumentOutcome{{Name: "doc.xml", FINESS: finess, SetID: set,
			VersionNumber: v, EffectiveTime: ts, Accepted: true}}})
}

func (f *fixture) rejected(finess, set string, v int, ts, code, reason string) {
	f.outs = append(f.outs, events.MailOutcome{V: events.OutcomeV, MailID: fmt.Sprintf("rej-%s-%d", set, v),
		ReceivedAt: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), Documents: []events.DocumentOutcome{{Name: "bad.xml",
			FINESS: finess, SetID: set, VersionNumber: v, EffectiveTime: ts,
			Rejection: &events.Rejection{Code: code, CISIS: 906, Reason: reason}}}})
}

func site(code string) func(*events.Record) {
	return func(r *events.Record) { r.CareEpisodes = []sdmmr.RecordCareEpisode{{Key: "c", SiteCode: code}} }
}

const oct, nov = "20261015120000+0200", "20261110120000+0100"

func newFixture() *fixture {
	f := &fixture{}
	// A, October: a1 v1, v2; a2 first seen at v3 (misses 1, 2); a3 v1 rejected
	// then v2 accepted; a4 v1 opposition. November: a1 v4 (misses 3); a5 v1 at
	// 23:30 UTC on 31 October, which is 1 November in Paris.
	f.doc(finA, "a1", 1, oct, site("S001"))
	f.doc(finA, "a1", 2, oct, site("S001"))
	f.doc(finA, "a2", 3, oct, nil)
	f.rejected(finA, "a3", 1, oct, "schematron", "assertion en échec")
	f.doc(finA, "a3", 2, oct, nil)
	f.doc(finA, "a4", 1, oct, func(r *events.Record) {
		r.Opposition, r.PatientINSPseudonym, r.PatientTraitsPseudonym = true, "", ""
	})
	f.doc(finA, "a1", 4, nov, site("S001"))
	f.doc(finA, "a5", 1, "20261031233000+0000", nil)
	// B, October, start of transmission 2026-09-01: b1 created in 2025, first
	// seen at v5 (its missing 1-4 predate the start: not counted); b2 created
	// 2026-09-15, first seen at v2 (misses 1); b3 v1, received twice.
	f.doc(finB, "b1", 5, oct, func(r *events.Record) {
		r.File = &sdmmr.RecordFile{Created: "20250101"}
		r.Diagnoses = []sdmmr.RecordDiagnosis{{Key: "d", SiteCode: "S010"}}
	})
	f.doc(finB, "b2", 2, oct, func(r *events.Record) { r.File = &sdmmr.RecordFile{Created: "20260915"} })
	f.doc(finB, "b3", 1, oct, nil)
	f.doc(finB, "b3", 1, oct, nil)
	return f
}

func (f *fixture) load(t testing.TB, s *store.Store) {
	t.Helper()
	// Everything twice: a redelivery must not change a figure.
	f.loadTimes(t, s, 2)
}

// loadTimes writes the fixture n times over, every batch in its own insert
// (a redelivery), references included.
func (f *fixture) loadTimes(t testing.TB, s *store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	repeat := func(insert func() error) {
		t.Helper()
		for range n {
			if err := insert(); err != nil {
				t.Fatal(err)
			}
		}
	}
	w := keptWriter(t, s)
	repeat(func() error { return w.Write(ctx, f.recs) })
	repeat(func() error { return w.WriteReceipts(ctx, f.outs) })
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	repeat(func() error {
		return s.InsertEstablishments(ctx, []store.Establishment{{FINESS: finA, Name: "Hôpital A"},
			{FINESS: finB, Name: "Hôpital B", TransmissionStart: day("2026-09-01")}, {FINESS: finC, Name: "Hôpital C"}})
	})
	// B first declares 9, then corrects to 4: the latest declaration wins.
	repeat(func() error {
		return s.InsertDPIUpdates(ctx, "csv", []store.DPIUpdates{{FINESS: finB, Month: day("2026-10-01"), Count: 9}})
	})
	time.Sleep(1100 * time.Millisecond) // declared_at has one-second resolution
	repeat(func() error {
		return s.InsertDPIUpdates(ctx, "http", []store.DPIUpdates{{FINESS: finB, Month: day("2026-10-01"), Count: 4},
			{FINESS: finC, Month: day("2026-10-01"), Count: 10}})
	})
	repeat(func() error {
		return s.InsertCentres(ctx, []store.Centre{
			{FINESS: finA, CentreID: "S001", Filiere: "F1", Type: "coordonnateur", From: day("2020-01-01"), To: day("2030-12-31")},
			{FINESS: finA, CentreID: "S002", Filiere: "F1", Type: "competence", From: day("2020-01-01"), To: day("2030-12-31")},
			{FINESS: finA, CentreID: "S003", Filiere: "F2", Type: "constitutif", From: day("2020-01-01"), To: day("2025-12-31")},
			{FINESS: finB, CentreID: "S010", Filiere: "F2", Type: "coordonnateur", From: day("2020-01-01"), To: day("2030-12-31")},
		})
	})
	// The centres' import asked for a recount: the loader does it before
	// its next batch; the indicators read the history until then.
	if err := w.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
}

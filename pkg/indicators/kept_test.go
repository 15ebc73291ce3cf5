package indicators

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/events"
	figs "github.com/bndmr/hub/pkg/figures"
	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/store"
)

// keptWriter is the loader's insert path on s: a keeper that has counted s
// as it is (empty, in the tests), so that what the test writes next goes
// through the differences, not through a recount.
func keptWriter(t testing.TB, s *store.Store) *figs.Keeper {
	t.Helper()
	k := figs.NewKeeper(s)
	if err := k.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	return k
}

// keptWorld is files of a few patients, at versions 1 to 4 in any order,
// some written twice, some under opposition, some moving to another
// patient, in batches of any size; with ORPHA and CIM-10 diagnoses and their
// ages, care episodes in labelled centres and others, deaths, and a
// patient's sex, département and birth that change with time. What a
// patient's file says on a day depends on the patient and the day only, so
// that a patient's most recent file is one whatever file the history's
// argMax takes among those of that day.
func keptWorld(rng *rand.Rand) [][]events.Record {
	var recs []events.Record
	onDay := func(patient string, day int) *rand.Rand {
		var h int64
		for _, c := range patient {
			h = h*31 + int64(c)
		}
		return rand.New(rand.NewSource(h*1000 + int64(day)))
	}
	age := func(r *rand.Rand) *sdmmr.Quantity {
		if r.Intn(4) == 0 {
			return nil
		}
		return &sdmmr.Quantity{Value: float64(r.Intn(400)) / 8, Unit: "a"}
	}
	for f := range 400 {
		set := fmt.Sprintf("1.2.250.1.999.%d", f)
		fin := []string{finA, finB, finC}[rng.Intn(3)]
		patient := fmt.Sprintf("p%02d", rng.Intn(80))
		for v := 1; v <= 4; v++ {
			if rng.Intn(4) == 0 {
				continue // a version never received
			}
			if rng.Intn(10) == 0 {
				patient = fmt.Sprintf("p%02d", rng.Intn(80)) // the identity corrected
			}
			day := 1 + rng.Intn(6)
			pr := onDay(patient, day)
			r := events.Record{V: events.RecordV, MailID: fmt.Sprintf("m%d-%d", f, v), FINESS: fin, SetID: set, VersionNumber: v,
				EffectiveTime: fmt.Sprintf("202%d%02d10", 4+pr.Intn(3), day), ReceivedAt: time.Now(), PatientTraitsPseudonym: patient,
				Sex: []string{"F", "M", "U"}[pr.Intn(3)], ResidenceDepartement: []string{"75", "69", "2A"}[pr.Intn(3)],
				BirthYearMonth: []string{"", "1950-02", "2010-05", "2021-11"}[pr.Intn(4)]}
			if pr.Intn(5) == 0 {
				d := true
				r.Deceased, r.DeathYearMonth = &d, []string{"", "2025-03", "2026-01"}[pr.Intn(3)]
			}
			for range rng.Intn(3) {
				system := []string{"1.2.250.1.213.2.49.1", "2.16.840.1.113883.6.3", "1.2.250.1.213.2.51"}[rng.Intn(3)]
				r.Diagnoses = append(r.Diagnoses, sdmmr.RecordDiagnosis{
					Disease:  &sdmmr.Code{Code: fmt.Sprint(100 + rng.Intn(8)), System: system},
					OnsetAge: age(rng), ClinicalDiagnosisAge: age(rng), GeneticDiagnosisAge: age(rng)})
			}
			for range rng.Intn(3) {
				r.CareEpisodes = append(r.CareEpisodes, sdmmr.RecordCareEpisode{SiteCode: []string{"", "S001", "S002", "S003", "S009"}[rng.Intn(5)]})
			}
			if rng.Intn(3) == 0 { // the file's creation, around finB's start (2025-03-15)
				r.File = &sdmmr.RecordFile{Created: []string{"20230601", "20250301", "20250420", "20240115"}[rng.Intn(4)]}
			}
			if rng.Intn(12) == 0 {
				r.Opposition, r.PatientTraitsPseudonym, r.Diagnoses, r.CareEpisodes, r.Deceased = true, "", nil, nil, nil
			}
			recs = append(recs, r)
			if rng.Intn(8) == 0 {
				recs = append(recs, r) // redelivered
			}
		}
	}
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	var batches [][]events.Record
	for len(recs) > 0 {
		n := min(len(recs), 1+rng.Intn(80))
		batches = append(batches, recs[:n])
		recs = recs[n:]
	}
	return batches
}

// keptReceipts are the mail outcomes of a batch of keptWorld: most
// records' own receipt (accepted, sometimes dated a day earlier than the
// document, once more than once), versions rejected that no record loads
// (versions 5 to 8, and files of their own), and versions rejected before
// being accepted.
func keptReceipts(rng *rand.Rand, recs []events.Record) []events.MailOutcome {
	var outs []events.MailOutcome
	out := func(mail string, d events.DocumentOutcome) {
		d.Name = "doc.xml"
		if !d.Accepted {
			d.Rejection = &events.Rejection{Code: "schematron", CISIS: 906, Reason: "synthetic"}
		}
		outs = append(outs, events.MailOutcome{V: events.OutcomeV, MailID: mail, ReceivedAt: time.Now(),
			Documents: []events.DocumentOutcome{d}})
	}
	earlier := func(ts string) string { // the 10th of a month: the 9th
		return ts[:6] + "09"
	}
	for i, r := range recs {
		d := events.DocumentOutcome{FINESS: r.FINESS, SetID: r.SetID, VersionNumber: r.VersionNumber, EffectiveTime: r.EffectiveTime}
		switch rng.Intn(6) {
		case 0: // no receipt of its own (written by an earlier hub, say)
		case 1:
			d.EffectiveTime = earlier(d.EffectiveTime)
			fallthrough
		default:
			d.Accepted = true
			out(r.MailID, d)
		}
		if rng.Intn(5) == 0 {
			rej := d
			rej.Accepted, rej.EffectiveTime = false, r.EffectiveTime
			if rng.Intn(2) == 0 {
				rej.VersionNumber += 4 // never loaded
			}
			out(fmt.Sprintf("%s-rej%d", r.MailID, i), rej)
		}
		if rng.Intn(15) == 0 { // a file only ever rejected
			out(fmt.Sprintf("%s-only%d", r.MailID, i), events.DocumentOutcome{FINESS: r.FINESS, SetID: r.SetID + ".r",
				VersionNumber: 1 + rng.Intn(3), EffectiveTime: r.EffectiveTime})
		}
	}
	return outs
}

// keptEstablishments: finB starts on 2025-03-15, finC on 2024-02-01.
func keptEstablishments(bStart string) []store.Establishment {
	b, _ := time.Parse("2006-01-02", bStart)
	return []store.Establishment{{FINESS: finA, Name: "A"}, {FINESS: finB, Name: "B", TransmissionStart: b},
		{FINESS: finC, Name: "C", TransmissionStart: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)}}
}

// keptCentres: S001 and S002 of one filière, S003 of another, S009 none.
func keptCentres() []store.Centre {
	from := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	return []store.Centre{{FINESS: finA, CentreID: "S001", Filiere: "F1", Type: "constitutif", From: from},
		{FINESS: finA, CentreID: "S002", Filiere: "F1", Type: "constitutif", From: from},
		{FINESS: finB, CentreID: "S003", Filiere: "F2", Type: "coordonnateur", From: from}}
}

// rowsOf runs a statement and returns its rows as text.
func rowsOf(t *testing.T, s *store.Store, st store.Statement, args ...any) []string {
	t.Helper()
	rows, err := s.Query(context.Background(), st, args...)
	if err != nil {
		t.Fatalf("%s: %v", st.Name, err)
	}
	defer rows.Close()
	var out []string
	types := rows.ColumnTypes()
	for rows.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatalf("%s: %v", st.Name, err)
		}
		line := ""
		for _, v := range vals {
			line += fmt.Sprintf("%v|", reflect.ValueOf(v).Elem().Interface())
		}
		out = append(out, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", st.Name, err)
	}
	return out
}

// sameAsHistory wants the epidemiology and the top ORPHA codes read from
// the kept figures equal to those read from the history (a rebuild asked
// for makes the indicators read the history until it is done), every
// kept statement's rows equal to its history statement's, and a world
// that fills every table.
func sameAsHistory(t *testing.T, s *store.Store, k *figs.Keeper, when string) {
	t.Helper()
	ctx := context.Background()
	x := New(s)
	all := Period{From: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	read := func() (string, string, string) {
		e, err := x.Epidemiology(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		top, err := x.TopORPHA(ctx, 1000, 1)
		if err != nil {
			t.Fatal(err)
		}
		// MR.2 of every establishment over the whole world, of one
		// month, and of one establishment.
		var mr2 []MR2
		for _, q := range []struct {
			p      Period
			finess string
		}{{all, ""}, {Period{From: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}, ""}, {all, finB}} {
			rows, err := x.MR2(ctx, q.p, q.finess)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) == 0 {
				t.Errorf("%s: MR.2 of %s %s gives no row: the world does not exercise it", when, q.p, q.finess)
			}
			mr2 = append(mr2, rows...)
		}
		b1, _ := json.MarshalIndent(e, "", " ")
		b2, _ := json.Marshal(top)
		b3, _ := json.MarshalIndent(mr2, "", " ")
		return string(b1), string(b2), string(b3)
	}
	if ok, err := x.mr2Kept(ctx); err != nil || !ok {
		t.Fatalf("%s: the kept figures are not read (%v)", when, err)
	}
	keptEpi, keptTop, keptMR2 := read()
	for _, st := range []store.Statement{mr2Kept, mr2OneKept} {
		args := []any{"2024-01-01", "2026-12-01"}
		if st == mr2OneKept {
			args = append([]any{finB}, args...)
		}
		missing := 0
		for _, r := range rowsOf(t, s, st, args...) {
			if !strings.HasSuffix(r, "|0|") {
				missing++
			}
		}
		if missing == 0 {
			t.Errorf("%s: %s counts no version missing: the world does not exercise it", when, st.Name)
		}
	}
	for _, tb := range epiTables {
		if rows := rowsOf(t, s, tb.kept.query); len(rows) == 0 {
			t.Errorf("%s: %s gives no row: the world does not exercise it", when, tb.kept.query.Name)
		}
	}
	if err := s.RequestFiguresRebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := x.kept(ctx); ok {
		t.Fatalf("%s: the kept figures are read while a rebuild is pending", when)
	}
	historyEpi, historyTop, historyMR2 := read()
	if keptMR2 != historyMR2 {
		t.Errorf("%s: MR.2 from the kept figures\n%s\nfrom the history\n%s", when, keptMR2, historyMR2)
	}
	if keptEpi != historyEpi {
		t.Errorf("%s: the epidemiology from the kept figures\n%s\nfrom the history\n%s", when, keptEpi, historyEpi)
	}
	if keptTop != historyTop {
		t.Errorf("%s: the top ORPHA codes from the kept figures\n%s\nfrom the history\n%s", when, keptTop, historyTop)
	}
	// The keeper counts again at its next batch: none here, so now.
	if err := k.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestKeptFiguresMatchHistory: the figures kept batch by batch, counted
// again by a new keeper, and counted again on request give the epidemiology
// and the top ORPHA codes that the statements over the history give.
func TestKeptFiguresMatchHistory(t *testing.T) {
	ctx := context.Background()
	s := testStore(t)
	if err := s.InsertCentres(ctx, keptCentres()); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertEstablishments(ctx, keptEstablishments("2025-03-15")); err != nil {
		t.Fatal(err)
	}
	k := keptWriter(t, s)
	rng := rand.New(rand.NewSource(2026))
	batches := keptWorld(rng)
	receipts := make([][]events.MailOutcome, len(batches))
	for i, b := range batches {
		receipts[i] = keptReceipts(rng, b)
	}
	gen := k.Generation()
	for i, b := range batches[:len(batches)/2] {
		if err := k.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		// The receipts of a batch come before or after its records,
		// some twice.
		for range 1 + rng.Intn(2) {
			if err := k.WriteReceipts(ctx, receipts[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if k.Generation() != gen {
		t.Fatalf("the keeper counted again (generation %d -> %d): the differences were not tested", gen, k.Generation())
	}
	sameAsHistory(t, s, k, "half the batches")

	// A second loader takes over: it counts everything again under a new
	// generation; the first sees it at its next batch and counts again too.
	gen = k.Generation()
	k2 := figs.NewKeeper(s)
	if err := k2.Write(ctx, batches[len(batches)/2]); err != nil {
		t.Fatal(err)
	}
	if k2.Generation() <= gen {
		t.Fatalf("the second keeper writes generation %d, not above %d", k2.Generation(), gen)
	}
	for i, b := range batches[len(batches)/2+1:] {
		if err := k.WriteReceipts(ctx, receipts[len(batches)/2+1+i]); err != nil {
			t.Fatal(err)
		}
		if err := k.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// The second keeper's batch's receipts: through the first keeper, the
	// one writing now.
	if err := k.WriteReceipts(ctx, receipts[len(batches)/2]); err != nil {
		t.Fatal(err)
	}
	if k.Generation() <= k2.Generation() {
		t.Fatalf("the first keeper kept writing generation %d after the second began %d", k.Generation(), k2.Generation())
	}
	sameAsHistory(t, s, k, "every batch")

	// A rebuild asked for (the end of a key rotation) is done at the next
	// batch, written again here.
	before := k.Generation()
	if err := s.RequestFiguresRebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if err := k.Write(ctx, batches[0]); err != nil {
		t.Fatal(err)
	}
	if k.Generation() <= before {
		t.Fatalf("generation %d after a rebuild was asked, was %d", k.Generation(), before)
	}
	sameAsHistory(t, s, k, "after a rebuild asked for")

	// The monthly import of the same centres asks for nothing; a filière
	// changed asks for a recount, after which the figures follow it.
	x := New(s)
	if err := s.InsertCentres(ctx, keptCentres()); err != nil {
		t.Fatal(err)
	}
	if ok, err := x.kept(ctx); err != nil || !ok {
		t.Fatalf("the same centres imported again stopped the kept figures (%v)", err)
	}
	moved := keptCentres()
	moved[1].Filiere = "F2"
	time.Sleep(1100 * time.Millisecond) // imported_at has one-second resolution: the latest import must be later
	if err := s.InsertCentres(ctx, moved); err != nil {
		t.Fatal(err)
	}
	if ok, _ := x.kept(ctx); ok {
		t.Fatal("a centre moved to another filière, and the kept figures are still read")
	}
	if err := k.Write(ctx, batches[1]); err != nil {
		t.Fatal(err)
	}
	sameAsHistory(t, s, k, "after a centre changed filière")

	// The same start dates imported again ask for nothing; a start that
	// moves asks for a recount, after which MR.2 follows it.
	if err := s.InsertEstablishments(ctx, keptEstablishments("2025-03-15")); err != nil {
		t.Fatal(err)
	}
	if ok, err := x.kept(ctx); err != nil || !ok {
		t.Fatalf("the same start dates imported again stopped the kept figures (%v)", err)
	}
	time.Sleep(1100 * time.Millisecond) // updated_at has one-second resolution
	if err := s.InsertEstablishments(ctx, keptEstablishments("2024-05-01")); err != nil {
		t.Fatal(err)
	}
	if ok, _ := x.kept(ctx); ok {
		t.Fatal("an establishment's start of transmission moved, and the kept figures are still read")
	}
	if err := k.WriteReceipts(ctx, receipts[2]); err != nil {
		t.Fatal(err)
	}
	sameAsHistory(t, s, k, "after a start of transmission moved")
}

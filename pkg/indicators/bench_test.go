package indicators

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/store"
)

// The national-year benchmark loads a synthetic year straight as
// events.Record values (no XML) and times the dashboard's two heavy queries.
// Size: BNDMR_BENCH_VERSIONS document versions (default 50,000; `make
// bench` uses 2,000,000 for 800,000 patients across 150 establishments).
// BNDMR_BENCH_DB names a database to reuse (loaded once, kept).

var (
	benchOnce  sync.Once
	benchStore *store.Store
	benchErr   error
)

type benchSize struct{ versions, patients, establishments int }

func benchSizes() benchSize {
	v := 50_000
	if s := os.Getenv("BNDMR_BENCH_VERSIONS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			v = n
		}
	}
	return benchSize{versions: v, patients: v * 2 / 5, establishments: 150}
}

func nationalYear(b *testing.B) *store.Store {
	benchOnce.Do(func() {
		dsn := os.Getenv("BNDMR_TEST_CLICKHOUSE")
		if dsn == "" {
			benchErr = fmt.Errorf("BNDMR_TEST_CLICKHOUSE not set: run through make bench")
			return
		}
		ctx := context.Background()
		admin, err := store.Open(ctx, dsn)
		if err != nil {
			benchErr = err
			return
		}
		defer admin.Close()
		size := benchSizes()
		db := os.Getenv("BNDMR_BENCH_DB")
		if db == "" {
			db = fmt.Sprintf("bench_store_%d", size.versions)
		}
		if err := admin.Conn().Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
			benchErr = err
			return
		}
		st, err := store.Open(ctx, dsn[:len(dsn)-len("default")]+db)
		if err != nil {
			benchErr = err
			return
		}
		if _, err := st.Migrate(ctx); err != nil {
			benchErr = err
			return
		}
		var have uint64
		st.Conn().QueryRow(ctx, "SELECT uniqExact(mail_id, doc_index) FROM receipts").Scan(&have) // every version has one
		if have < uint64(size.versions) {
			if err := st.Conn().Exec(ctx, "TRUNCATE TABLE documents"); err != nil {
				benchErr = err
				return
			}
			for _, t := range []string{"patients", "diagnoses", "care_episodes", "receipts", "versions", "dpi_updates", "establishments", "reference_centres"} {
				st.Conn().Exec(ctx, "TRUNCATE TABLE "+t)
			}
			start := time.Now()
			rows, err := loadNationalYear(ctx, st, size)
			if err != nil {
				benchErr = err
				return
			}
			el := time.Since(start)
			fmt.Printf("bench-store: loaded %d document versions (%d rows in all tables) for %d patients across %d establishments in %s: %.0f versions/s, %.0f rows/s\n",
				size.versions, rows, size.patients, size.establishments, el.Round(time.Millisecond),
				float64(size.versions)/el.Seconds(), float64(rows)/el.Seconds())
		} else {
			fmt.Printf("bench-store: reusing %d document versions in %s\n", have, db)
		}
		benchStore = st
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore
}

// loadNationalYear generates one set per patient with 1 to 4 versions over
// 2026 (about 6 % of versions never sent, 2 % rejected), one diagnosis with
// a skewed ORPHA code, one care episode; declared counts for a third of the
// establishments. It returns the rows written.
func loadNationalYear(ctx context.Context, st *store.Store, size benchSize) (int, error) {
	rng := rand.New(rand.NewPCG(2026, 6))
	paris := store.Paris()
	const batch = 50_000
	type job struct {
		recs []events.Record
		outs []events.MailOutcome
	}
	jobs := make(chan job, 2)
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := st.InsertDocuments(ctx, j.recs); err != nil {
					errc <- err
					return
				}
				if err := st.InsertReceipts(ctx, j.outs); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	rows := 0
	var cur job
	flush := func() bool {
		select {
		case err := <-errc:
			errc <- err
			return false
		case jobs <- cur:
		}
		cur = job{}
		return true
	}
	orpha := make([]string, 3000)
	for i := range orpha {
		orpha[i] = strconv.Itoa(100 + i*7)
	}
	zipf := rand.NewZipf(rng, 1.1, 8, uint64(len(orpha)-1))
	deps := []string{"75", "69", "13", "31", "33", "59", "67", "44", "974", "2A", "06", "35", "34", "38", "76"}
	versions := 0
	yes := true
	// made[establishment][month]: versions updated in the DPI, sent or not,
	// which is what a declaring establishment declares.
	made := make([][12]uint32, size.establishments)
	for p := 0; versions < size.versions; p++ {
		est := p % size.establishments
		finess := fmt.Sprintf("%02d00%05d", 1+est%95, est)
		set := fmt.Sprintf("set-%d", p)
		pk := fmt.Sprintf("patient-%d", p%size.patients)
		code := orpha[zipf.Uint64()]
		n := 1 + rng.IntN(4)
		day := rng.IntN(300)
		for v := 1; v <= n && versions < size.versions; v++ {
			day = min(day+1+rng.IntN(20), 364)
			t := time.Date(2026, 1, 1, 10, 0, 0, 0, paris).AddDate(0, 0, day)
			made[est][t.Month()-1]++
			if rng.IntN(100) < 6 {
				continue // updated in the DPI, never sent
			}
			ts := t.Format("20060102150405-0700")
			mail := fmt.Sprintf("mail-%d-%d", p, v)
			versions++
			if rng.IntN(100) < 2 {
				cur.outs = append(cur.outs, events.MailOutcome{V: events.OutcomeV, MailID: mail, ReceivedAt: t, Documents: []events.DocumentOutcome{{
					Name: "doc.xml", FINESS: finess, SetID: set, VersionNumber: v, EffectiveTime: ts,
					Rejection: &events.Rejection{Code: []string{"schematron", "xsd", "ins_absent"}[rng.IntN(3)], CISIS: 906, Reason: "synthetic"}}}})
				rows += 2 // receipts, versions
				continue
			}
			r := events.Record{V: events.RecordV, MailID: mail, FINESS: finess, SetID: set, VersionNumber: v, EffectiveTime: ts,
				ReceivedAt: t, KeyID: "bench", DocumentKey: mail, PatientTraitsPseudonym: pk, PatientINSPseudonym: "ins-" + pk,
				Sex: []string{"F", "M"}[p%2], BirthYearMonth: fmt.Sprintf("%d-%02d", 1940+p%85, 1+p%12), ResidenceDepartement: deps[p%len(deps)],
				Diagnoses: []sdmmr.RecordDiagnosis{{Key: "d", Disease: &sdmmr.Code{Code: code, System: "1.2.250.1.213.2.49.1"},
					OnsetAge: &sdmmr.Quantity{Value: float64(p % 40), Unit: "a"}, ClinicalDiagnosisAge: &sdmmr.Quantity{Value: float64(p%40 + p%7), Unit: "a"}}},
				CareEpisodes: []sdmmr.RecordCareEpisode{{Key: "c", SiteCode: fmt.Sprintf("S%03d-%d", est, p%3), OutsideLabelling: nil}},
			}
			if p%997 == 0 {
				r.Deceased = &yes
			}
			cur.recs = append(cur.recs, r)
			cur.outs = append(cur.outs, events.MailOutcome{V: events.OutcomeV, MailID: mail, ReceivedAt: t, Documents: []events.DocumentOutcome{{
				Name: "doc.xml", FINESS: finess, SetID: set, VersionNumber: v, EffectiveTime: ts, Accepted: true}}})
			rows += 7 // documents, patients, diagnoses, care_episodes, receipts, versions ×2
			if len(cur.recs) >= batch {
				if !flush() {
					break
				}
			}
		}
	}
	if len(cur.recs)+len(cur.outs) > 0 {
		flush()
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errc:
		return rows, err
	default:
	}
	var decl []store.DPIUpdates
	var ests []store.Establishment
	var centres []store.Centre
	for est := range size.establishments {
		finess := fmt.Sprintf("%02d00%05d", 1+est%95, est)
		ests = append(ests, store.Establishment{FINESS: finess, Name: fmt.Sprintf("Établissement synthétique %d", est)})
		for c := range 3 {
			centres = append(centres, store.Centre{FINESS: finess, CentreID: fmt.Sprintf("S%03d-%d", est, c), Filiere: fmt.Sprintf("F%d", est%23),
				Type: "competence", From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
		}
		if est%3 == 0 {
			for m := 1; m <= 12; m++ {
				decl = append(decl, store.DPIUpdates{FINESS: finess, Month: time.Date(2026, time.Month(m), 1, 0, 0, 0, 0, time.UTC),
					Count: made[est][m-1]})
			}
		}
	}
	if err := st.InsertEstablishments(ctx, ests); err != nil {
		return rows, err
	}
	if err := st.InsertCentres(ctx, centres); err != nil {
		return rows, err
	}
	return rows, st.InsertDPIUpdates(ctx, "csv", decl)
}

// BenchmarkNationalYearMR2 times MR.2 by establishment for one month.
func BenchmarkNationalYearMR2(b *testing.B) {
	x := New(nationalYear(b))
	p, _ := MonthPeriod("2026-10")
	b.ResetTimer()
	for b.Loop() {
		rows, err := x.MR2(context.Background(), p, "")
		if err != nil {
			b.Fatal(err)
		}
		if len(rows) == 0 {
			b.Fatal("no MR.2 row")
		}
	}
}

// BenchmarkNationalYearORPHAPrevalence times patients by ORPHA code on the
// current state of every file.
func BenchmarkNationalYearORPHAPrevalence(b *testing.B) {
	x := New(nationalYear(b))
	b.ResetTimer()
	for b.Loop() {
		top, err := x.TopORPHA(context.Background(), 3000, 10)
		if err != nil {
			b.Fatal(err)
		}
		if len(top) == 0 {
			b.Fatal("no ORPHA code")
		}
	}
}

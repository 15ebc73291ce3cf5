package indicators

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/chcompat"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/store"
)

// Establishments of the boundary fixture.
const (
	finD = "750000020" // start of transmission on the 1st: 2026-09-01
	finE = "750000021" // start of transmission mid-month: 2026-09-15
	finF = "750000022" // 19 of 20 versions accepted, no declaration
	finG = "750000023" // 19 versions accepted, 20 declared
)

// boundaryFixture puts one version on each edge of MR.2 (docs/store.md,
// "MR.2"): a file created on the start date, in its month, the month
// before; no creation date with the first version on the start date, the
// day before; versions on the first and last day of the period; rates of
// exactly 95 %. Period: 2026-09 to 2026-10.
func boundaryFixture() *fixture {
	f := &fixture{}
	created := func(ts string) func(*events.Record) {
		return func(r *events.Record) { r.File = &sdmmr.RecordFile{Created: ts} }
	}
	// D, start 2026-09-01.
	// d1: file created on the start date, first seen at v3 on the last day
	// of the period (Paris): not created before the start, misses 1 and 2.
	f.doc(finD, "d1", 3, "20261031235900+0100", created("20260901"))
	// d2: file created the day before the start, first seen at v3: its
	// missing versions predate the start, not counted.
	f.doc(finD, "d2", 3, "20261015120000+0200", created("20260831"))
	// d3: no creation date, first seen at v4 on the start date, which is the
	// first day of the period: the first version stands for the creation,
	// not before the start, misses 1 to 3 (in September).
	f.doc(finD, "d3", 4, "20260901000100+0200", nil)

	// E, start 2026-09-15; everything in September.
	// e1: no creation date, first seen at v2 the day before the start: 0.
	f.doc(finE, "e1", 2, "20260914120000+0200", nil)
	// e2: no creation date, first seen at v2 on the start date: misses 1.
	f.doc(finE, "e2", 2, "20260915120000+0200", nil)
	// e3: file created 2026-09-10, known to the record as 2026-09 only, the
	// start's month: counts as created after the start (docs/store.md),
	// misses 1 and 2.
	f.doc(finE, "e3", 3, "20260920120000+0200", created("20260910"))
	// e4: file created in August: misses nothing counted.
	f.doc(finE, "e4", 3, "20260920120000+0200", created("20260831"))

	// F: 19 sets accepted and one rejected in October, no declaration: 19/20.
	for i := 1; i <= 19; i++ {
		f.doc(finF, fmt.Sprintf("f%d", i), 1, oct, nil)
	}
	f.rejected(finF, "f20", 1, oct, "xsd", "document invalide")
	// G: 19 sets accepted in October, 20 declared: 19/20.
	for i := 1; i <= 19; i++ {
		f.doc(finG, fmt.Sprintf("g%d", i), 1, oct, nil)
	}
	return f
}

func loadBoundaryFixture(t testing.TB, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	f := boundaryFixture()
	w := keptWriter(t, s)
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	for _, insert := range []func() error{
		func() error { return w.Write(ctx, f.recs) },
		func() error { return w.WriteReceipts(ctx, f.outs) },
		func() error {
			return s.InsertEstablishments(ctx, []store.Establishment{
				{FINESS: finD, Name: "D", TransmissionStart: day("2026-09-01")},
				{FINESS: finE, Name: "E", TransmissionStart: day("2026-09-15")},
				{FINESS: finF, Name: "F"}, {FINESS: finG, Name: "G"}})
		},
		func() error {
			return s.InsertDPIUpdates(ctx, "csv", []store.DPIUpdates{{FINESS: finG, Month: day("2026-10-01"), Count: 20}})
		},
		// The start dates asked for a recount: the loader does it before
		// its next batch, MR.2 reads the history until then.
		func() error { return w.Rebuild(ctx) },
	} {
		if err := insert(); err != nil {
			t.Fatal(err)
		}
	}
}

// MR.2 on its boundaries, on ClickHouse 18.16. Each figure is worked out
// from boundaryFixture's comments.
func TestMR2Boundaries(t *testing.T) {
	s := testStore(t)
	loadBoundaryFixture(t, s)
	p, _ := ParsePeriod("2026-09", "2026-10")
	got, err := New(s).MR2(context.Background(), p, "")
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		transmitted, rejected, missing, estimated, denom uint64
		source                                           string
		rate                                             float64
		below                                            bool
	}
	wants := map[string]want{
		finD + " 2026-09": {1, 0, 3, 4, 4, "estimated", 1.0 / 4, true}, // d3
		finD + " 2026-10": {2, 0, 2, 4, 4, "estimated", 2.0 / 4, true}, // d1 (2), d2 (0)
		finE + " 2026-09": {4, 0, 3, 7, 7, "estimated", 4.0 / 7, true}, // e1 (0), e2 (1), e3 (2), e4 (0)
		finF + " 2026-10": {19, 1, 0, 20, 20, "estimated", 0.95, false},
		finG + " 2026-10": {19, 0, 0, 19, 20, "declared", 0.95, false},
	}
	for _, r := range got {
		k := r.FINESS + " " + r.Month
		w, ok := wants[k]
		if !ok {
			t.Errorf("unexpected row %+v", r)
			continue
		}
		delete(wants, k)
		if r.Transmitted != w.transmitted || r.Rejected != w.rejected || r.Missing != w.missing || r.Estimated != w.estimated ||
			r.Denominator != w.denom || r.DenominatorSource != w.source || r.BelowTarget != w.below ||
			r.Rate == nil || math.Abs(*r.Rate-w.rate) > 1e-12 {
			t.Errorf("%s: got %+v (rate %v), want %+v", k, r, deref(r.Rate), w)
		}
	}
	for k := range wants {
		t.Errorf("no row for %s", k)
	}
}

// The same fixture on ClickHouse 18.16 and chDB: every statement, MR.2
// among them, gives the same rows on both.
func TestMR2BoundariesCompatibility(t *testing.T) {
	s := testStore(t)
	srv, err := chcompat.ServerFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	loadBoundaryFixture(t, s)
	engine := chcompat.OpenEngine(t, srv, "../..")
	p := &chcompat.Pair{Server: srv, Engine: engine, DB: s.Database()}
	w := chcompat.Window{From: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), FINESS: finE}
	chcompat.Check(t, p, w, append(store.Statements(), Statements()...), 5)
}

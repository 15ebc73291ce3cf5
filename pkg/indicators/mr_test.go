package indicators

import (
	"context"
	"encoding/json"
	"math"
	"testing"
)

func TestMR2KnownFigures(t *testing.T) {
	s := testStore(t)
	newFixture().load(t, s)
	p, _ := ParsePeriod("2026-10", "2026-11")
	got, err := New(s).MR2(context.Background(), p, "")
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		transmitted, rejected, missing, estimated, denom uint64
		declared                                         int // -1: none
		source                                           string
		rate                                             float64
		below                                            bool
	}
	wants := map[string]want{
		finA + " 2026-10": {5, 1, 2, 8, 8, -1, "estimated", 5.0 / 8, true},
		finA + " 2026-11": {2, 0, 1, 3, 3, -1, "estimated", 2.0 / 3, true},
		finB + " 2026-10": {3, 0, 1, 4, 4, 4, "declared", 3.0 / 4, true},
		finC + " 2026-10": {0, 0, 0, 0, 10, 10, "declared", 0, true},
	}
	if len(got) != len(wants) {
		t.Fatalf("got %d rows, want %d: %+v", len(got), len(wants), got)
	}
	for _, r := range got {
		w, ok := wants[r.FINESS+" "+r.Month]
		if !ok {
			t.Errorf("unexpected row %+v", r)
			continue
		}
		decl := -1
		if r.Declared != nil {
			decl = int(*r.Declared)
		}
		if r.Transmitted != w.transmitted || r.Rejected != w.rejected || r.Missing != w.missing || r.Estimated != w.estimated ||
			r.Denominator != w.denom || decl != w.declared || r.DenominatorSource != w.source || r.BelowTarget != w.below ||
			r.Rate == nil || math.Abs(*r.Rate-w.rate) > 1e-9 {
			t.Errorf("%s %s: got %+v (rate %v), want %+v", r.FINESS, r.Month, r, deref(r.Rate), w)
		}
	}
	// One establishment's MR.2 (its own statement, reading its granules
	// only) is its rows of everyone's.
	for _, fin := range []string{finA, finB, finC} {
		one, err := New(s).MR2(context.Background(), p, fin)
		if err != nil {
			t.Fatalf("MR.2 of %s: %v", fin, err)
		}
		var all []MR2
		for _, r := range got {
			if r.FINESS == fin {
				all = append(all, r)
			}
		}
		if a, b := mustJSON(t, one), mustJSON(t, all); a != b {
			t.Errorf("MR.2 of %s alone:\n%s\nwant its rows of everyone's:\n%s", fin, a, b)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMR1KnownFigures(t *testing.T) {
	s := testStore(t)
	newFixture().load(t, s)
	p, _ := MonthPeriod("2026-10")
	got, err := New(s).MR1(context.Background(), p, "")
	if err != nil {
		t.Fatal(err)
	}
	// A: S001 and S002 labelled in 2026 (S003 ended in 2025), only S001 sent
	// in October. B: S010 sent (diagnosing site).
	want := map[string][2]uint64{finA: {2, 1}, finB: {1, 1}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for _, r := range got {
		w := want[r.FINESS]
		if r.Labelled != w[0] || r.Sending != w[1] || r.Below != (w[1] < w[0]) {
			t.Errorf("%s: %d/%d centres (below %v), want %d/%d", r.FINESS, r.Sending, r.Labelled, r.Below, w[1], w[0])
		}
	}
	// In December nobody sent.
	p, _ = MonthPeriod("2026-12")
	got, err = New(s).MR1(context.Background(), p, finA)
	if err != nil || len(got) != 1 || got[0].Sending != 0 || *got[0].Rate != 0 {
		t.Errorf("December: %+v, %v", got, err)
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

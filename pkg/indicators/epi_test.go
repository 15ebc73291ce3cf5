package indicators

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/sdmmr"
)

// checkNoLeak asserts that no hidden count can be recovered as a published
// total minus the published cells: in every group with a published total,
// either no cell or at least two are hidden; a hidden group total has no
// visible non-zero cell; and among group totals the same rule holds.
func checkNoLeak(t *testing.T, tab CountTable, threshold uint64) {
	t.Helper()
	hiddenTotals := 0
	for _, g := range tab.Groups {
		hidden := 0
		for _, c := range g.Cells {
			if c.N > 0 && c.N < threshold && !c.Suppressed {
				t.Errorf("%s: small cell %v = %d published", tab.Title, c.Labels, c.N)
			}
			if c.Suppressed {
				hidden++
			}
			if g.Total.Suppressed && c.N > 0 && !c.Suppressed {
				t.Errorf("%s: group %q total hidden but cell %v visible", tab.Title, g.Name, c.Labels)
			}
		}
		if hidden == 1 && !g.Total.Suppressed {
			t.Errorf("%s: group %q has exactly one hidden cell: total − visible cells gives it", tab.Title, g.Name)
		}
		if g.Total.Suppressed {
			hiddenTotals++
		}
	}
	if len(tab.Groups) > 1 && hiddenTotals == 1 && !tab.Total.Suppressed {
		t.Errorf("%s: exactly one group total hidden: the table total gives it", tab.Title)
	}
}

func TestSuppressSecondary(t *testing.T) {
	for _, tc := range []struct {
		name   string
		groups [][]uint64
		hidden [][]bool
	}{
		{"one small cell takes the next smallest with it", [][]uint64{{25, 12, 3}}, [][]bool{{false, true, true}}},
		{"two small cells are enough", [][]uint64{{25, 4, 3}}, [][]bool{{false, true, true}}},
		{"zero is not hidden and not picked", [][]uint64{{25, 0, 3, 40}}, [][]bool{{true, false, true, false}}},
		{"nothing small, nothing hidden", [][]uint64{{25, 10}}, [][]bool{{false, false}}},
		{"a small group total hides another group", [][]uint64{{5, 2}, {30, 20}, {40, 15}},
			[][]bool{{true, true}, {true, true}, {false, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := CountTable{Title: tc.name, Additive: true}
			for i, g := range tc.groups {
				gr := Group{Name: fmt.Sprint(i)}
				for _, n := range g {
					gr.Cells = append(gr.Cells, Count{N: n})
					gr.Total.N += n
				}
				tab.Total.N += gr.Total.N
				tab.Groups = append(tab.Groups, gr)
			}
			tab.Suppress(10)
			for i, g := range tab.Groups {
				for j, c := range g.Cells {
					if c.Suppressed != tc.hidden[i][j] {
						t.Errorf("group %d cell %d (%d): hidden=%v, want %v", i, j, c.N, c.Suppressed, tc.hidden[i][j])
					}
				}
			}
			checkNoLeak(t, tab, 10)
		})
	}
}

// epiWorld: 40 patients, each with one file at version 2 (version 1 carried
// ORPHA 999, which the current state must not count), one more whose latest
// version is an opposition. Expected counts are tallied while generating.
func epiWorld() (recs []events.Record, orpha, depSex map[string]uint64, deaths uint64) {
	orpha, depSex = map[string]uint64{}, map[string]uint64{}
	q := func(v float64) *sdmmr.Quantity { return &sdmmr.Quantity{Value: v, Unit: "a"} }
	for i := range 41 {
		set := fmt.Sprintf("e%02d", i)
		code := map[bool]string{true: "558", false: "166"}[i < 25]
		if i >= 37 {
			code = "98006"
		}
		sex := map[bool]string{true: "M", false: "F"}[i%3 == 0]
		dep := map[bool]string{true: "75", false: "69"}[i < 28]
		for v := 1; v <= 2; v++ {
			r := events.Record{V: events.RecordV, MailID: set, FINESS: finA, SetID: set, VersionNumber: v,
				EffectiveTime: fmt.Sprintf("2026%02d10", 8+v), ReceivedAt: time.Now(), PatientTraitsPseudonym: "p" + set,
				Sex: sex, BirthYearMonth: "2010-05", ResidenceDepartement: dep}
			c := code
			if v == 1 {
				c = "999"
			}
			r.Diagnoses = []sdmmr.RecordDiagnosis{{Disease: &sdmmr.Code{Code: c, System: "1.2.250.1.213.2.49.1"},
				OnsetAge: q(float64(i % 20)), ClinicalDiagnosisAge: q(float64(i%20) + 2)}}
			if i < 4 {
				d := true
				r.Deceased, r.DeathYearMonth = &d, "2026-07"
			}
			if i == 40 && v == 2 {
				r.Opposition, r.PatientTraitsPseudonym, r.Diagnoses, r.Deceased = true, "", nil, nil
			}
			recs = append(recs, r)
		}
		if i == 40 {
			continue
		}
		orpha[code]++
		depSex[dep+"/"+sex]++
		if i < 4 {
			deaths++
		}
	}
	return recs, orpha, depSex, deaths
}

func TestEpidemiologyKnownFiguresAndSuppression(t *testing.T) {
	s := testStore(t)
	recs, orpha, depSex, deaths := epiWorld()
	w := keptWriter(t, s)
	for range 2 { // redelivery
		if err := w.Write(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
	}
	e, err := New(s).Epidemiology(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	byTitle := map[string]CountTable{}
	for _, tab := range e.Tables {
		byTitle[tab.Title] = tab
		checkNoLeak(t, tab, 10)
	}
	check := func(title string, want map[string]uint64, key func(Count) string) {
		t.Helper()
		tab, ok := byTitle[title]
		if !ok {
			t.Fatalf("no table %q", title)
		}
		seen := 0
		for _, g := range tab.Groups {
			for _, c := range g.Cells {
				k := key(c)
				w, ok := want[k]
				if !ok {
					t.Errorf("%s: unexpected cell %s = %d", title, k, c.N)
					continue
				}
				seen++
				if c.N != w {
					t.Errorf("%s: %s = %d, want %d", title, k, c.N, w)
				}
				if (w < 10) && !c.Suppressed {
					t.Errorf("%s: %s = %d is published", title, k, w)
				}
			}
		}
		if seen != len(want) {
			t.Errorf("%s: %d cells, want %d", title, seen, len(want))
		}
		if tab.Total.N != 40 && title != "Décès par année" {
			t.Errorf("%s: total %d, want 40 patients", title, tab.Total.N)
		}
	}
	check("Patients par code ORPHA", orpha, func(c Count) string { return c.Labels[0] })
	check("Patients par département de résidence et sexe", depSex, func(c Count) string { return c.Labels[0] + "/" + c.Labels[1] })
	if d := byTitle["Décès par année"]; d.Total.N != deaths || !d.Total.Suppressed {
		t.Errorf("deaths: %+v, want %d hidden", d.Total, deaths)
	}
	// ORPHA: 98006 (3) is hidden, and 166 (12) with it; 558 (25) stays.
	for _, c := range byTitle["Patients par code ORPHA"].Groups[0].Cells {
		if want := c.Labels[0] != "558"; c.Suppressed != want {
			t.Errorf("ORPHA %s (%d): hidden=%v, want %v", c.Labels[0], c.N, c.Suppressed, want)
		}
	}
	top := e.TopORPHA(5)
	if len(top) != 1 || top[0].Labels[0] != "558" {
		t.Errorf("top ORPHA: %+v", top)
	}
	// Onset ages 0..19 (twice, then 0..0), clinical diagnosis 2 years later.
	for _, st := range e.Stats {
		if st.Title[:4] == "Déla" && (st.N != 40 || st.Median == nil || math.Abs(*st.Median-2) > 1e-9) {
			t.Errorf("diagnostic delay: %+v", st)
		}
		if st.Title == "Âge au diagnostic génétique (années)" && !st.Suppressed {
			t.Errorf("genetic diagnosis age with no data is not hidden: %+v", st)
		}
	}
	// Exports show "<10", never the hidden value.
	var buf = new(bytesBuffer)
	if err := WriteCSV(buf, e.ExportTables()...); err != nil {
		t.Fatal(err)
	}
	if !contains(buf.String(), "98006;<10") || contains(buf.String(), "98006;3") || contains(buf.String(), "166;12") {
		t.Errorf("CSV leaks a hidden count:\n%s", buf.String())
	}
}

type bytesBuffer = bytes.Buffer

func contains(s, sub string) bool { return strings.Contains(s, sub) }

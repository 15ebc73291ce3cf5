package indicators

import (
	"fmt"
	"testing"
)

// TestEpiTableTotals: every exported row, cells, group totals and the table
// total, has one value per column; hidden counts show as Suppressed, and the
// distributions table follows.
func TestEpiTableTotals(t *testing.T) {
	q1, med, q3 := 1.0, 2.0, 3.0
	e := &Epidemiology{
		Tables: []CountTable{
			{Title: "one label", Labels: []string{"Sexe"}, Total: Count{N: 30},
				Groups: []Group{{Name: "", Cells: []Count{{Labels: []string{"F"}, N: 20}, {Labels: []string{"M"}, N: 9, Suppressed: true}}}}},
			{Title: "two labels", Labels: []string{"Région", "Sexe"}, Total: Count{N: 50},
				Groups: []Group{{Name: "IDF", Total: Count{Labels: []string{"IDF", "Total"}, N: 50}, Cells: []Count{{Labels: []string{"IDF", "F"}, N: 50}}}}},
		},
		Stats: []Stat{{Title: "âge", N: 40, Q1: &q1, Median: &med, Q3: &q3}, {Title: "délai", N: 3, Suppressed: true}},
	}
	got := e.ExportTables()
	want := [][][]any{
		{{"F", uint64(20)}, {"M", Suppressed{}}, {"Total", uint64(30)}},
		{{"IDF", "F", uint64(50)}, {"IDF", "Total", uint64(50)}, {"Total", "", uint64(50)}},
		{{"âge", uint64(40), Decimal(1), Decimal(2), Decimal(3)}, {"délai", Suppressed{}, nil, nil, nil}},
	}
	if len(got) != len(want) {
		t.Fatalf("%d tables, want %d", len(got), len(want))
	}
	for i, tab := range got {
		if fmt.Sprint(tab.Rows) != fmt.Sprint(want[i]) {
			t.Errorf("table %q rows %v, want %v", tab.Title, tab.Rows, want[i])
		}
		for _, r := range tab.Rows {
			if len(r) != len(tab.Columns) {
				t.Errorf("table %q: row %v has %d cells for %d columns", tab.Title, r, len(r), len(tab.Columns))
			}
		}
	}
}

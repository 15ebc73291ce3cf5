package indicators

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestWriteXLSXCells: numbers are stored as numbers (counts, percentages
// with the percent format, decimals, optional values), everything else as
// its French text, the header bold.
func TestWriteXLSXCells(t *testing.T) {
	f25 := 2.5
	tab := Table{Title: "T", Columns: []string{"a", "b", "c", "d", "e", "f", "g", "h"},
		Rows: [][]any{{"texte", uint64(42), Percent(0.625), Decimal(1.25), &f25, nil, Suppressed{}, true}}}
	var buf bytes.Buffer
	if err := WriteXLSX(&buf, tab); err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	sheet := x.GetSheetName(0)
	for _, c := range []struct {
		cell, raw string
		number    bool
		numFmt    int
	}{
		{"A1", "a", false, 0}, {"A2", "texte", false, 0}, {"B2", "42", true, 0}, {"C2", "0.625", true, 10},
		{"D2", "1.25", true, 0}, {"E2", "2.5", true, 0}, {"F2", "", false, 0}, {"G2", "<10", false, 0}, {"H2", "oui", false, 0},
	} {
		raw, err := x.GetCellValue(sheet, c.cell, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		typ, err := x.GetCellType(sheet, c.cell)
		if err != nil {
			t.Fatal(err)
		}
		isNumber := raw != "" && (typ == excelize.CellTypeUnset || typ == excelize.CellTypeNumber)
		if raw != c.raw || isNumber != c.number {
			t.Errorf("%s: %q (type %v), want %q, number %v", c.cell, raw, typ, c.raw, c.number)
		}
		id, err := x.GetCellStyle(sheet, c.cell)
		if err != nil {
			t.Fatal(err)
		}
		st, err := x.GetStyle(id)
		if err != nil {
			t.Fatal(err)
		}
		if st.NumFmt != c.numFmt {
			t.Errorf("%s: number format %d, want %d", c.cell, st.NumFmt, c.numFmt)
		}
		if bold := st.Font != nil && st.Font.Bold; bold != (c.cell == "A1") {
			t.Errorf("%s: bold %v", c.cell, bold)
		}
	}
}

// TestMR1Tables: MR.1 has one row per establishment, a missing rate left
// empty, and the centres table one row per labelled centre.
func TestMR1Tables(t *testing.T) {
	rate := 0.5
	rows := []MR1{
		{FINESS: "750000010", Name: "CHU A", Period: "2026", Labelled: 2, Sending: 1, Rate: &rate, Below: true,
			Centres: []CentreSent{{CentreID: "c1", Name: "Centre 1"}, {CentreID: "c2", Name: "Centre 2", Documents: 3}}},
		{FINESS: "750000020", Period: "2026"},
	}
	mr1 := MR1Table(rows)
	want := "[[750000010 CHU A 2026 2 1 0.5 true] [750000020  2026 0 0 <nil> false]]"
	if got := fmt.Sprint(mr1.Rows); got != want {
		t.Errorf("MR.1 rows %s, want %s", got, want)
	}
	if _, ok := mr1.Rows[0][5].(Percent); !ok {
		t.Errorf("MR.1 rate cell %T, want Percent", mr1.Rows[0][5])
	}
	centres := MR1CentresTable(rows)
	if got := fmt.Sprint(centres.Rows); got != "[[750000010 c1 Centre 1   0 false] [750000010 c2 Centre 2   3 true]]" {
		t.Errorf("centre rows %s", got)
	}
}

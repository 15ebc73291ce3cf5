package indicators

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/events"
)

// TestDashboardLatestMonth: without a month the dashboard shows the latest
// month with documents (the fixture's October 2026), as the page does on
// first load.
func TestDashboardLatestMonth(t *testing.T) {
	s := testStore(t)
	newFixture().load(t, s)
	x := New(s)
	latest, err := x.LatestMonth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d, err := x.Dashboard(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if latest == "" || d.Month != latest || len(d.MR2) == 0 {
		t.Errorf("dashboard of month %q with %d MR.2 rows, want the latest month %q", d.Month, len(d.MR2), latest)
	}
}

// TestFailureLines: one line per failed assertion, white space folded,
// where it failed in parentheses, then how many are not listed.
func TestFailureLines(t *testing.T) {
	d := RejectedDoc{FailureCount: 3, Failures: []events.Failure{{Text: "  règle\n  un ", Source: "IHE", Pattern: "p1", Location: "/a"}}}
	got := strings.Join(d.FailureLines(), "|")
	if want := "règle un (" + d.Failures[0].Where() + ")|… et 2 autres"; got != want {
		t.Errorf("FailureLines: %q, want %q", got, want)
	}
	d.FailureCount = 2
	if got := d.FailureLines(); len(got) != 2 || got[1] != "… et 1 autres" {
		t.Errorf("one failure left: %q", got)
	}
	if got := (RejectedDoc{}).FailureLines(); len(got) != 0 {
		t.Errorf("no failure: %q", got)
	}
}

// TestCellTextOptionalNumber: an optional number prints with a decimal
// comma when present, empty when absent.
func TestCellTextOptionalNumber(t *testing.T) {
	f := 2.5
	if got := CellText(&f); got != "2,5" {
		t.Errorf("CellText(&2.5) = %q", got)
	}
	if got := CellText((*float64)(nil)); got != "" {
		t.Errorf("CellText(nil *float64) = %q", got)
	}
}

// TestHbarsScale: the longest bar spans the chart (300 px), also when the
// largest count is 1; the others are in proportion; each count is written
// just right of its bar, not over the labels left of the bars.
func TestHbarsScale(t *testing.T) {
	for _, c := range []struct {
		values []uint64
		widths []string
	}{
		{[]uint64{1}, []string{"300"}},
		{[]uint64{1, 1}, []string{"300", "300"}},
		{[]uint64{4, 1}, []string{"300", "75"}},
		{[]uint64{0}, []string{"1"}}, // an empty bar stays visible
	} {
		out := string(hbars("chart", "test", make([]string, len(c.values)), c.values))
		var got []string
		for _, m := range regexp.MustCompile(`<rect x="190" y="\d+" width="(\d+)"[^>]*/><text x="(\d+)" y="\d+" class="value">`).FindAllStringSubmatch(out, -1) {
			got = append(got, m[1])
			w, _ := strconv.Atoi(m[1])
			if x, _ := strconv.Atoi(m[2]); x <= 190+w || x > 190+w+10 {
				t.Errorf("values %v: the count of a bar of width %d is at x=%s", c.values, w, m[2])
			}
		}
		if strings.Join(got, " ") != strings.Join(c.widths, " ") {
			t.Errorf("values %v: widths %v, want %v", c.values, got, c.widths)
		}
	}
}

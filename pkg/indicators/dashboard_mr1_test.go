package indicators

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDashboardMR1Panel: the dashboard (JSON and HTML) shows MR.1 of its
// month per establishment, worst first, naming the centres that did not send.
func TestDashboardMR1Panel(t *testing.T) {
	s := testStore(t)
	newFixture().load(t, s)
	ctx := context.Background()
	for _, c := range []struct {
		month string
		want  []string // FINESS sending/labelled, worst first
		html  []string
	}{
		// A: S001 sent, S002 did not (S003's labelling ended); B: S010 sent.
		{"2026-10", []string{finA + " 1/2", finB + " 1/1"}, []string{`id="chart-mr1"`, "Hôpital A", "50,0 % (1/2)", "sans SDM-MR : S002",
			"100,0 % (1/1)", "MR.1 par établissement — 2026-10"}},
		// December: labelled, nobody sent (equal rates keep the FINESS order).
		{"2026-12", []string{finB + " 0/1", finA + " 0/2"}, []string{`id="chart-mr1"`, "0,0 % (0/2)", "sans SDM-MR : S001, S002"}},
	} {
		d, err := New(s).Dashboard(ctx, c.month, DefaultThreshold)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range d.MR1 {
			got = append(got, r.FINESS+" "+strconv.FormatUint(r.Sending, 10)+"/"+strconv.FormatUint(r.Labelled, 10))
		}
		if strings.Join(got, ", ") != strings.Join(c.want, ", ") {
			t.Errorf("%s: MR.1 %v, want %v", c.month, got, c.want)
		}
		j, err := json.Marshal(d)
		if err != nil || !bytes.Contains(j, []byte(`"MR1":[{"finess":"`)) {
			t.Errorf("%s: the dashboard's JSON lacks MR.1: %v %.300s", c.month, err, j)
		}
		var b bytes.Buffer
		if err := RenderDashboard(&b, d); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.html {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: the dashboard lacks %q", c.month, w)
			}
		}
		if c.month == "2026-10" {
			// A below the target: one red MR.1 bar; B at 100 %: green.
			panel := b.String()[strings.Index(b.String(), `id="chart-mr1"`):]
			panel = panel[:strings.Index(panel, "</svg>")]
			if n := len(regexp.MustCompile(`<rect[^>]*class="low"`).FindAllString(panel, -1)); n != 1 {
				t.Errorf("%d red MR.1 bars, want 1", n)
			}
		}
	}
}

// TestBarsMR1 needs no server: the panel's drawing alone.
func TestBarsMR1(t *testing.T) {
	half, full := 0.5, 1.0
	for _, c := range []struct {
		name     string
		rows     []MR1
		want     []string
		dontWant []string
	}{
		{"none", nil, []string{`id="chart-mr1"`, "cible 95 %"}, []string{"<rect"}},
		{"one below, one at target", []MR1{
			{FINESS: "1", Name: "Un <b>", Labelled: 2, Sending: 1, Rate: &half, Below: true,
				Centres: []CentreSent{{CentreID: "S1", Documents: 3}, {CentreID: "S2"}}},
			{FINESS: "2", Labelled: 1, Sending: 1, Rate: &full, Centres: []CentreSent{{CentreID: "S3", Documents: 1}}},
		}, []string{"Un &lt;b&gt;", `class="low"`, `class="ok"`, "50,0 % (1/2)", "sans SDM-MR : S2", "100,0 % (1/1)", ">2</text>"},
			[]string{"<b>", "sans SDM-MR : S3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := string(barsMR1(c.rows))
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("lacks %q:\n%s", w, out)
				}
			}
			for _, w := range c.dontWant {
				if strings.Contains(out, w) {
					t.Errorf("holds %q:\n%s", w, out)
				}
			}
		})
	}
}

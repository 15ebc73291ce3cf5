package indicators

import (
	"fmt"
	"html"
	"html/template"
	"sort"
	"strings"
)

// sortMR1 puts the worst establishments first, as the MR.2 panel does.
func sortMR1(rows []MR1) {
	sort.SliceStable(rows, func(i, j int) bool { return rateOf(rows[i].Rate) < rateOf(rows[j].Rate) })
}

// barsMR1 draws MR.1 per establishment as horizontal bars with the 95 %
// line; each bar says how many labelled centres sent, and its tooltip names
// those that did not: whom the establishment has to call.
func barsMR1(rows []MR1) template.HTML {
	const left, width, barH, gap, top = 230, 400, 16, 4, 30
	h := top + len(rows)*(barH+gap) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="chart-mr1" role="img" aria-label="MR.1 par établissement" width="100%%" viewBox="0 0 %d %d" style="max-width:%dpx">`,
		left+width+120, h, left+width+120)
	for _, t := range []float64{0, 0.25, 0.5, 0.75, 1} {
		x := left + int(t*width)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="grid"/><text x="%d" y="14" class="axis" text-anchor="middle">%d %%</text>`,
			x, top-4, x, h-6, x, int(t*100))
	}
	for i, r := range rows {
		y := top + i*(barH+gap)
		v := min(rateOf(r.Rate), 1)
		cls := "ok"
		if r.Below {
			cls = "low"
		}
		label := r.FINESS
		if r.Name != "" {
			label = r.Name
		}
		if len([]rune(label)) > 32 {
			label = string([]rune(label)[:31]) + "…"
		}
		var silent []string
		for _, c := range r.Centres {
			if c.Documents == 0 {
				silent = append(silent, c.CentreID)
			}
		}
		tip := fmt.Sprintf("%s : centres labellisés ayant transmis %d / %d", r.FINESS, r.Sending, r.Labelled)
		if len(silent) > 0 {
			tip += " ; sans SDM-MR : " + strings.Join(silent, ", ")
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="label" text-anchor="end">%s</text>`, left-6, y+barH-4, html.EscapeString(label))
		if v > 0 {
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="%s"><title>%s</title></rect>`,
				left, y, int(v*width), barH, cls, html.EscapeString(tip))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="value">%s (%d/%d)<title>%s</title></text>`, left+int(max(v, 0)*width)+4, y+barH-4,
			pct(r.Rate), r.Sending, r.Labelled, html.EscapeString(tip))
	}
	x := left + int(Target*width)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="target"/><text x="%d" y="%d" class="target-label" text-anchor="start">cible 95 %%</text>`,
		x, top-10, x, h-4, x+4, h-8)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

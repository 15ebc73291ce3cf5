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
	bars := make([]hbar, len(rows))
	for i, r := range rows {
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
		bars[i] = hbar{FINESS: r.FINESS, Name: r.Name, Rate: r.Rate, Below: r.Below, Title: html.EscapeString(tip),
			Value: fmt.Sprintf("%s (%d/%d)<title>%s</title>", pct(r.Rate), r.Sending, r.Labelled, html.EscapeString(tip))}
	}
	return hbarChart("chart-mr1", "MR.1 par établissement", bars)
}

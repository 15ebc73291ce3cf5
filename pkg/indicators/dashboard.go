package indicators

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/store"
)

// Dashboard is what the dashboard page shows.
type Dashboard struct {
	Month       string
	Generated   time.Time
	MR2         []MR2 // of Month, worst first
	MR1         []MR1 // over Month, worst first
	Trend       []TrendPoint
	Rejections  []RejectionReason // over the trend's months
	TopORPHA    []Count
	Threshold   uint64
	Below       int
	Received    uint64
	Rejected    uint64
	NationalMR2 *float64
}

// TrendPoint is the national MR.2 of one month.
type TrendPoint struct {
	Month       string
	Transmitted uint64
	Denominator uint64
	Rate        *float64
}

// LatestMonth is the month of the most recent version seen ("" if none).
func (x *Indicators) LatestMonth(ctx context.Context) (string, error) {
	var m string
	err := x.st.QueryRow(ctx, latestMonth).Scan(&m)
	if err != nil {
		return "", fmt.Errorf("finding the latest month: %w", err)
	}
	return m, nil
}

// Dashboard gathers the page's figures for month (YYYY-MM; "" = latest),
// with a trend over the 12 months ending there.
func (x *Indicators) Dashboard(ctx context.Context, month string, threshold uint64) (*Dashboard, error) {
	if month == "" {
		m, err := x.LatestMonth(ctx)
		if err != nil {
			return nil, err
		}
		if m == "" {
			m = time.Now().In(parisLoc()).Format("2006-01")
		}
		month = m
	}
	p, err := MonthPeriod(month)
	if err != nil {
		return nil, err
	}
	d := &Dashboard{Month: month, Generated: time.Now().UTC(), Threshold: threshold}
	year := Period{From: p.From.AddDate(0, -11, 0), To: p.To}
	all, err := x.MR2(ctx, year, "")
	if err != nil {
		return nil, err
	}
	months := map[string]*TrendPoint{}
	for m := year.From; !m.After(year.To); m = m.AddDate(0, 1, 0) {
		k := m.Format("2006-01")
		months[k] = &TrendPoint{Month: k}
		d.Trend = append(d.Trend, TrendPoint{Month: k})
	}
	for _, r := range all {
		tp := months[r.Month]
		tp.Transmitted += r.Transmitted
		tp.Denominator += r.Denominator
		if r.Month == month {
			d.MR2 = append(d.MR2, r)
			d.Received += r.Seen
			d.Rejected += r.Rejected
			if r.BelowTarget {
				d.Below++
			}
		}
	}
	for i := range d.Trend {
		tp := months[d.Trend[i].Month]
		if tp.Denominator > 0 {
			rate := float64(tp.Transmitted) / float64(tp.Denominator)
			tp.Rate = &rate
		}
		d.Trend[i] = *tp
	}
	d.NationalMR2 = d.Trend[len(d.Trend)-1].Rate
	sort.SliceStable(d.MR2, func(i, j int) bool { return rateOf(d.MR2[i].Rate) < rateOf(d.MR2[j].Rate) })
	if d.MR1, err = x.MR1(ctx, p, ""); err != nil {
		return nil, err
	}
	sortMR1(d.MR1)
	err = x.st.Each(ctx, dashboardRejections, []any{day(year.From), day(year.LastDay())}, func(rows store.Scanner) error {
		var rr RejectionReason
		if err := rows.Scan(&rr.Code, &rr.CISIS, &rr.Reason, &rr.Count); err != nil {
			return err
		}
		d.Rejections = append(d.Rejections, rr)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rejections by reason: %w", err)
	}
	top, err := x.TopORPHA(ctx, 10, threshold)
	if err != nil {
		return nil, err
	}
	d.TopORPHA = top
	return d, nil
}

// Name gives the ORPHA codes of the page their display names from l (the
// CI-SIS kit's value sets); a code l does not know stays alone.
func (d *Dashboard) Name(l Labeller) {
	for i := range d.TopORPHA {
		nameCount(&d.TopORPHA[i], []string{kit.ORPHA}, l)
	}
}

// TopORPHA is the n ORPHA codes with the most patients (current state),
// none below the threshold.
func (x *Indicators) TopORPHA(ctx context.Context, n int, threshold uint64) ([]Count, error) {
	if threshold == 0 {
		threshold = DefaultThreshold
	}
	st := topORPHA
	if kept, err := x.kept(ctx); err != nil {
		return nil, fmt.Errorf("top ORPHA codes: %w", err)
	} else if kept {
		st = topORPHAKept
	}
	var out []Count
	err := x.st.Each(ctx, st, []any{threshold, n}, func(rows store.Scanner) error {
		var c string
		var k uint64
		if err := rows.Scan(&c, &k); err != nil {
			return err
		}
		out = append(out, Count{Labels: []string{c}, N: k})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("top ORPHA codes: %w", err)
	}
	return out, nil
}

func rateOf(r *float64) float64 {
	if r == nil {
		return -1
	}
	return *r
}

func parisLoc() *time.Location {
	l, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		return time.UTC
	}
	return l
}

func pct(r *float64) string {
	if r == nil {
		return "–"
	}
	return frenchNumber(*r*100) + " %"
}

// barsMR2 draws MR.2 per establishment as horizontal bars with the 95 % line.
func barsMR2(rows []MR2) template.HTML {
	bars := make([]hbar, len(rows))
	for i, r := range rows {
		bars[i] = hbar{FINESS: r.FINESS, Name: r.Name, Rate: r.Rate, Below: r.BelowTarget,
			// The name opens the establishment's reception report for the month.
			Href: "report?finess=" + url.QueryEscape(r.FINESS) + "&amp;from=" + r.Month,
			Title: fmt.Sprintf("%s : %s (%d / %d, dénominateur %s)", html.EscapeString(r.FINESS), pct(r.Rate), r.Transmitted, r.Denominator,
				denomLabel(r.DenominatorSource)),
			Value: pct(r.Rate) + map[bool]string{true: " (déclaré)", false: ""}[r.DenominatorSource == "declared"]}
	}
	return hbarChart("chart-mr2", "MR.2 par établissement", bars)
}

// hbar is one bar of an establishment's rate: Title (the bar's tooltip) and
// Value (the text after it) are HTML, escaped by the caller.
type hbar struct {
	FINESS, Name string
	Rate         *float64
	Below        bool
	Href         string // where the label links to; "" for none
	Title, Value string
}

// hbarChart draws rates as horizontal bars, one establishment a line, with
// the 95 % target line; the SVG scales to its column (width 100 %).
func hbarChart(id, aria string, bars []hbar) template.HTML {
	const left, width, barH, gap, top = 230, 400, 16, 4, 30
	h := top + len(bars)*(barH+gap) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="%s" role="img" aria-label="%s" width="100%%" viewBox="0 0 %d %d" style="max-width:%dpx">`,
		id, aria, left+width+120, h, left+width+120)
	for _, t := range []float64{0, 0.25, 0.5, 0.75, 1} {
		x := left + int(t*width)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="grid"/><text x="%d" y="14" class="axis" text-anchor="middle">%d %%</text>`,
			x, top-4, x, h-6, x, int(t*100))
	}
	for i, r := range bars {
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
		text := fmt.Sprintf(`<text x="%d" y="%d" class="label" text-anchor="end">%s</text>`, left-6, y+barH-4, html.EscapeString(label))
		if r.Href != "" {
			text = `<a href="` + r.Href + `">` + text + `</a>`
		}
		b.WriteString(text)
		if v > 0 {
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="%s"><title>%s</title></rect>`,
				left, y, int(v*width), barH, cls, r.Title)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="value">%s</text>`, left+int(max(v, 0)*width)+4, y+barH-4, r.Value)
	}
	x := left + int(Target*width)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="target"/><text x="%d" y="%d" class="target-label" text-anchor="start">cible 95 %%</text>`,
		x, top-10, x, h-4, x+4, h-8)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// lineTrend draws the national monthly MR.2.
func lineTrend(pts []TrendPoint) template.HTML {
	const w, h, left, bottom, top = 560, 220, 44, 30, 12
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="chart-trend" role="img" aria-label="Tendance mensuelle MR.2" width="100%%" viewBox="0 0 %d %d" style="max-width:%dpx">`, w, h, w)
	ph := float64(h - bottom - top)
	y := func(r float64) float64 { return float64(top) + ph*(1-r) }
	for _, t := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="grid"/><text x="%d" y="%.1f" class="axis" text-anchor="end">%d %%</text>`,
			left, y(t), w-10, y(t), left-4, y(t)+4, int(t*100))
	}
	step := float64(w-left-20) / float64(max(len(pts)-1, 1))
	var path []string
	for i, p := range pts {
		x := float64(left) + float64(i)*step
		if (len(pts)-1-i)%2 == 0 {
			anchor := "middle"
			if i == len(pts)-1 {
				anchor = "end"
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="axis" text-anchor="%s">%s</text>`, x+map[bool]float64{true: 6}[anchor == "end"], h-10, anchor, p.Month)
		}
		if p.Rate != nil {
			path = append(path, fmt.Sprintf("%.1f,%.1f", x, y(min(*p.Rate, 1))))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" class="point"><title>%s : %s</title></circle>`, x, y(min(*p.Rate, 1)), p.Month, pct(p.Rate))
		}
	}
	if len(path) > 1 {
		fmt.Fprintf(&b, `<polyline points="%s" class="trend"/>`, strings.Join(path, " "))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="target"/>`, left, y(Target), w-10, y(Target))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// hbars draws labelled counts as horizontal bars.
func hbars(id, aria string, labels []string, values []uint64) template.HTML {
	const left, width, barH, gap = 190, 300, 18, 5
	h := len(labels)*(barH+gap) + 6
	var mx uint64 = 1
	for _, v := range values {
		mx = max(mx, v)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="%s" role="img" aria-label="%s" width="100%%" viewBox="0 0 %d %d" style="max-width:%dpx">`, id, html.EscapeString(aria),
		left+width+70, h, left+width+70)
	for i, l := range labels {
		y := i * (barH + gap)
		bw := int(float64(values[i]) / float64(mx) * width)
		full := l
		if len([]rune(l)) > 30 {
			l = string([]rune(l)[:29]) + "…"
		}
		// The whole label (a code and its name) shows on hover.
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="label" text-anchor="end">%s<title>%s</title></text><rect x="%d" y="%d" width="%d" height="%d" class="bar"/><text x="%d" y="%d" class="value">%d</text>`,
			left-6, y+barH-5, html.EscapeString(l), html.EscapeString(full), left, y, max(bw, 1), barH, left+bw+4, y+barH-5, values[i])
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

var dashboardTmpl = template.Must(template.New("dashboard").Funcs(template.FuncMap{"pct": pct}).Parse(`<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>BNDMR — transmissions SDM-MR {{.D.Month}}</title>
<style>
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:0;color:#1e1e1e;background:#f6f6f6;font-size:14px}
header{background:#000091;color:#fff;padding:12px 24px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;font-size:13px;opacity:.9}
main{display:grid;grid-template-columns:minmax(0,1.25fr) minmax(0,1fr);gap:16px;padding:16px 24px}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px 16px;overflow-x:auto}
section h2{font-size:16px;margin:0 0 8px}
.kpis{grid-column:1/3;display:flex;gap:16px}.kpi{flex:1;background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 16px}
.kpi b{display:block;font-size:24px}.kpi.alert b{color:#c9191e}
svg text{font-size:12px;fill:#1e1e1e}svg .axis{fill:#666;font-size:11px}svg .grid{stroke:#e5e5e5}
svg .ok{fill:#18753c}svg .low{fill:#c9191e}svg .bar{fill:#6a6af4}svg .target{stroke:#000091;stroke-width:2;stroke-dasharray:5 3}
svg .target-label{fill:#000091;font-weight:bold}svg .trend{fill:none;stroke:#000091;stroke-width:2}svg .point{fill:#000091}
.note{color:#555;font-size:12px}form{display:inline}a{color:#000091}
</style></head><body>
<header><h1>BNDMR — transmission des SDM-MR par les établissements</h1>
<p>Mois {{.D.Month}} · indicateurs MR.1 et MR.2 (cible 95 %) · généré le {{.D.Generated.Format "02/01/2006 15:04"}} UTC ·
<form method="get">mois <input name="month" value="{{.D.Month}}" size="7" pattern="[0-9]{4}-[0-9]{2}"> <button>Afficher</button></form> ·
<a style="color:#fff" href="api/dgos?month={{.D.Month}}&amp;format=xlsx">export DGOS (XLSX)</a> ·
<a style="color:#fff" href="api/mr2?from={{.D.Month}}&amp;format=csv">MR.2 (CSV)</a></p></header>
<main>
<div class="kpis">
<div class="kpi"><span>MR.2 national</span><b id="kpi-national">{{pct .D.NationalMR2}}</b></div>
<div class="kpi"><span>Établissements</span><b id="kpi-establishments">{{len .D.MR2}}</b></div>
<div class="kpi alert"><span>Sous la cible de 95 %</span><b id="kpi-below">{{.D.Below}}</b></div>
<div class="kpi"><span>Versions reçues</span><b id="kpi-received">{{.D.Received}}</b></div>
<div class="kpi"><span>Versions rejetées</span><b id="kpi-rejected">{{.D.Rejected}}</b></div>
</div>
<section style="grid-row:span 4"><h2>MR.2 par établissement — {{.D.Month}}</h2>
<p class="note">Versions transmises et acceptées ÷ versions mises à jour dans le DPI (déclarées par l'établissement, sinon estimées
d'après les numéros de version reçus). En rouge : sous la cible de 95 %. Les moins bons d'abord.</p>
{{if .D.MR2}}{{.MR2}}{{else}}<p id="no-data">Aucune donnée pour ce mois.</p>{{end}}</section>
<section><h2>MR.1 par établissement — {{.D.Month}}</h2>
<p class="note">Centres labellisés ayant transmis au moins un SDM-MR dans le mois ÷ centres labellisés (liste de référence importée).</p>
{{if .D.MR1}}{{.MR1}}{{else}}<p id="no-centres">Aucun centre labellisé pour ce mois.</p>{{end}}</section>
<section><h2>Tendance mensuelle (MR.2 national)</h2>{{.Trend}}</section>
<section><h2>Rejets par motif (12 mois)</h2>{{if .D.Rejections}}{{.Rejections}}{{else}}<p>Aucun rejet.</p>{{end}}</section>
<section><h2>Codes ORPHA les plus fréquents (patients)</h2>{{if .D.TopORPHA}}{{.ORPHA}}{{else}}<p>Aucun code au-dessus du seuil.</p>{{end}}
<p class="note">État courant des dossiers ; effectifs inférieurs à {{.D.Threshold}} masqués.</p></section>
</main></body></html>
`))

// RenderDashboard writes the dashboard page: server-rendered HTML with
// inline SVG, no external asset.
func RenderDashboard(w io.Writer, d *Dashboard) error {
	var rl, ol []string
	var rv, ov []uint64
	for _, r := range d.Rejections {
		l := r.Code
		if r.CISIS != 0 {
			l = fmt.Sprintf("%s (%d)", r.Code, r.CISIS)
		}
		rl, rv = append(rl, l), append(rv, r.Count)
	}
	for _, c := range d.TopORPHA {
		l := "ORPHA:" + c.Labels[0]
		if len(c.Names) > 0 && c.Names[0] != "" {
			l += " " + c.Names[0]
		}
		ol, ov = append(ol, l), append(ov, c.N)
	}
	return dashboardTmpl.Execute(w, map[string]any{
		"D": d, "MR2": barsMR2(d.MR2), "MR1": barsMR1(d.MR1), "Trend": lineTrend(d.Trend),
		"Rejections": hbars("chart-rejections", "Rejets par motif", rl, rv),
		"ORPHA":      hbars("chart-orpha", "Codes ORPHA les plus fréquents", ol, ov),
	})
}

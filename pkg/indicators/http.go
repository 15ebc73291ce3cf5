package indicators

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/access"
	"github.com/bndmr/hub/pkg/store"
)

// Server serves the indicators over HTTP.
type Server struct {
	X   *Indicators
	Log *zap.Logger
	// Threshold below which epidemiology counts are hidden (0: 10). It is a
	// server setting on purpose: no query parameter can lower it.
	Threshold uint64
	// Access admits callers route by route and journals them (routes in
	// access.go). Nil serves every route to anyone: tests of the figures
	// only; the services always set it (access.None on loopback demos).
	Access *access.Guard
	// Labels name the codes the epidemiology and the dashboard show (the
	// CI-SIS kit's value sets, kit.Labels); nil shows the codes alone.
	Labels Labeller
}

// Handler returns the routes:
//
//	GET  /                          dashboard (HTML, ?month=YYYY-MM)
//	GET  /api/mr2?from=&to=&finess=&format=json|csv|xlsx
//	GET  /api/mr1?from=&to=&finess=&format=json|csv|xlsx
//	GET  /api/dgos?month=&format=json|csv|xlsx
//	GET  /api/epidemiology?format=json|csv|xlsx
//	GET  /report?finess=&from=&to=&format=html|csv|json
//	POST /api/dpi-updates           declared counts (CSV finess;mois;nombre, or JSON list)
//	GET  /api/documents-per-establishment
//
// and, with Access, the sign-in routes under /auth/. Who may call which
// route: routes (access.go).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		if s.Access == nil {
			mux.HandleFunc(rt.pattern, rt.h)
			continue
		}
		mux.Handle(rt.pattern, s.Access.Route(rt.name, rt.rule, rt.h))
	}
	if s.Access != nil {
		s.Access.Mount(mux)
	}
	return mux
}

func (s *Server) documentsPerEstablishment(w http.ResponseWriter, r *http.Request) {
	rows, err := s.X.st.DocumentsPerEstablishment(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	if rows == nil {
		rows = []store.EstablishmentCount{}
	}
	writeJSON(w, rows)
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	if s.Log != nil {
		s.Log.Error("indicators query", zap.Error(err))
	}
	http.Error(w, "query failed: "+err.Error(), http.StatusBadGateway)
}

func badRequest(w http.ResponseWriter, err error) { http.Error(w, err.Error(), http.StatusBadRequest) }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// period reads from/to; without from, the latest month with data.
func (s *Server) period(r *http.Request) (Period, error) {
	from := r.URL.Query().Get("from")
	if from == "" {
		m, err := s.X.LatestMonth(r.Context())
		if err != nil {
			return Period{}, err
		}
		if m == "" {
			m = time.Now().Format("2006-01")
		}
		from = m
	}
	return ParsePeriod(from, r.URL.Query().Get("to"))
}

// writeTables answers in the requested format; json writes v.
func writeTables(w http.ResponseWriter, r *http.Request, name string, v any, tables ...Table) {
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		writeJSON(w, v)
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		WriteCSV(w, tables...)
	case "xlsx":
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.xlsx"`)
		WriteXLSX(w, tables...)
	default:
		badRequest(w, fmt.Errorf("format %q: expected json, csv or xlsx", f))
	}
}

func (s *Server) mr2(w http.ResponseWriter, r *http.Request) {
	p, err := s.period(r)
	if err != nil {
		badRequest(w, err)
		return
	}
	rows, err := s.X.MR2(r.Context(), p, r.URL.Query().Get("finess"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if rows == nil {
		rows = []MR2{}
	}
	writeTables(w, r, "mr2-"+p.String(), rows, MR2Table(rows))
}

func (s *Server) mr1(w http.ResponseWriter, r *http.Request) {
	p, err := s.period(r)
	if err != nil {
		badRequest(w, err)
		return
	}
	rows, err := s.X.MR1(r.Context(), p, r.URL.Query().Get("finess"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if rows == nil {
		rows = []MR1{}
	}
	writeTables(w, r, "mr1-"+p.String(), rows, MR1Table(rows), MR1CentresTable(rows))
}

func (s *Server) dgos(w http.ResponseWriter, r *http.Request) {
	month := r.URL.Query().Get("month")
	d, err := s.X.DGOS(r.Context(), month)
	if err != nil {
		if _, perr := MonthPeriod(month); perr != nil {
			badRequest(w, perr)
			return
		}
		s.fail(w, err)
		return
	}
	writeTables(w, r, "dgos-"+month, d, d.Table(), MR2Table(d.MR2), MR1Table(d.MR1), MR1CentresTable(d.MR1))
}

func (s *Server) epidemiology(w http.ResponseWriter, r *http.Request) {
	e, err := s.X.Epidemiology(r.Context(), s.Threshold)
	if err != nil {
		s.fail(w, err)
		return
	}
	if s.Labels != nil {
		e.Name(s.Labels)
	}
	writeTables(w, r, "epidemiologie", e, e.ExportTables()...)
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	if c, ok := access.CallerOf(r.Context()); ok && c.Role == access.Establishment {
		// The dashboard shows every establishment: staff see their own report.
		http.Redirect(w, r, "report", http.StatusFound)
		return
	}
	month := r.URL.Query().Get("month")
	if month != "" {
		if _, err := MonthPeriod(month); err != nil {
			badRequest(w, err)
			return
		}
	}
	d, err := s.X.Dashboard(r.Context(), month, s.threshold())
	if err != nil {
		s.fail(w, err)
		return
	}
	if s.Labels != nil {
		d.Name(s.Labels)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	RenderDashboard(w, d)
}

func (s *Server) threshold() uint64 {
	if s.Threshold == 0 {
		return DefaultThreshold
	}
	return s.Threshold
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	finess := r.URL.Query().Get("finess")
	if finess == "" {
		badRequest(w, errors.New("give ?finess= (the establishment's FINESS)"))
		return
	}
	p, err := s.period(r)
	if err != nil {
		badRequest(w, err)
		return
	}
	rep, err := s.X.Reception(r.Context(), finess, p)
	if err != nil {
		s.fail(w, err)
		return
	}
	switch r.URL.Query().Get("format") {
	case "", "html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		RenderReception(w, rep)
	default:
		writeTables(w, r, "reception-"+finess+"-"+p.String(), rep, rep.Tables()...)
	}
}

// dpiUpdates records declared counts: a CSV (finess;mois;nombre) or a JSON
// list of {"finess","month":"YYYY-MM","count"}.
func (s *Server) dpiUpdates(w http.ResponseWriter, r *http.Request) {
	body := http.MaxBytesReader(w, r.Body, 8<<20)
	var ds []store.DPIUpdates
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var in []struct {
			FINESS string `json:"finess"`
			Month  string `json:"month"`
			Count  uint32 `json:"count"`
		}
		if err = json.NewDecoder(body).Decode(&in); err == nil {
			for i, x := range in {
				m, perr := time.Parse("2006-01", x.Month)
				if perr != nil || x.FINESS == "" {
					err = fmt.Errorf("entry %d: finess and month (AAAA-MM) are required", i+1)
					break
				}
				ds = append(ds, store.DPIUpdates{FINESS: x.FINESS, Month: m, Count: x.Count})
			}
		}
	} else {
		ds, err = store.ParseDPIUpdatesCSV(body)
	}
	if err != nil {
		badRequest(w, err)
		return
	}
	// The history keeps who changed what, and the value replaced.
	by := store.Author{Subject: "anonymous", Source: store.SourceHTTP}
	if c, ok := access.CallerOf(r.Context()); ok {
		by.Subject, by.Role = c.Subject, string(c.Role)
	}
	changes, err := s.X.st.ChangeDPIUpdates(r.Context(), by, ds)
	if err != nil {
		s.fail(w, err)
		return
	}
	if changes == nil {
		changes = []store.DPIChange{}
	}
	writeJSON(w, map[string]any{"recorded": len(ds), "changes": changes})
}

var receptionTmpl = template.Must(template.New("reception").Funcs(template.FuncMap{"pct": pct, "paris": ParisTime}).Parse(`<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Réception SDM-MR — {{.FINESS}} — {{.Period}}</title>
<style>body{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px;color:#1e1e1e;font-size:14px}h1{font-size:20px;color:#000091}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#eef}
.low{color:#c9191e;font-weight:bold}td.n{text-align:right}
ul.rules{margin:4px 0 0;padding-left:18px;font-size:12px}</style></head><body>
<h1>Accusé de réception des SDM-MR — {{if .Name}}{{.Name}} ({{.FINESS}}){{else}}FINESS {{.FINESS}}{{end}}</h1>
<p>Période de réception : {{.Period}} · généré le {{paris .Generated}} (heure de Paris) · <a href="?finess={{.FINESS}}&amp;from={{.From}}&amp;to={{.To}}&amp;format=csv">CSV</a></p>
<table id="summary"><tr><th>Courriels</th><th>Documents</th><th>Acceptés</th><th>Rejetés</th></tr>
<tr><td class="n">{{.Mails}}</td><td class="n">{{.Documents}}</td><td class="n">{{.Accepted}}</td><td class="n">{{.Rejected}}</td></tr></table>
<h2 id="mr2-heading">{{.MR2Heading}}</h2>
<p>MR.2 compte les versions par mois de document ; les mois ci-dessus sont ceux des documents reçus sur la période de réception.</p>
<table id="mr2"><tr><th>Mois</th><th>Transmises</th><th>Rejetées</th><th>Dénominateur déclaré</th><th>Dénominateur estimé</th><th>Retenu</th><th>MR.2</th></tr>
{{range .MR2}}<tr><td>{{.Month}}</td><td class="n">{{.Transmitted}}</td><td class="n">{{.Rejected}}</td><td class="n">{{if .Declared}}{{.Declared}}{{else}}–{{end}}</td>
<td class="n">{{.Estimated}}</td><td>{{if eq .DenominatorSource "declared"}}déclaré{{else}}estimé{{end}}</td>
<td class="n{{if .BelowTarget}} low{{end}}">{{pct .Rate}}</td></tr>{{end}}</table>
<h2>Rejets par motif</h2>
{{if .Reasons}}<table id="reasons"><tr><th>Motif</th><th>Code CI-SIS</th><th>Exemple</th><th>Documents</th></tr>
{{range .Reasons}}<tr><td>{{.Code}}</td><td>{{.CISIS}}</td><td>{{.Reason}}</td><td class="n">{{.Count}}</td></tr>{{end}}</table>{{else}}<p>Aucun rejet.</p>{{end}}
{{if .RejectedDocs}}<h2>Documents rejetés</h2><table id="rejected"><tr><th>Reçu le (heure de Paris)</th><th>Fichier</th><th>Dossier (setId)</th><th>Version</th><th>Motif</th><th>Raison et règles non respectées</th></tr>
{{range .RejectedDocs}}<tr><td>{{paris .ReceivedAt}}</td><td>{{.DocName}}</td><td>{{.SetID}}</td><td class="n">{{.VersionNumber}}</td><td>{{.Code}} ({{.CISIS}})</td><td>{{.Reason}}{{with .FailureLines}}
<ul class="rules">{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}</td></tr>{{end}}</table>{{end}}
</body></html>
`))

// RenderReception writes the reception report as HTML.
func RenderReception(w io.Writer, r *Reception) error { return receptionTmpl.Execute(w, r) }

package indicators

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/store"
)

// Reception is the per-hospital reception report: what one establishment
// sent over a period (months of reception, Paris time), what the hub
// accepted and rejected and why, and its MR.2 over the document months
// those mails touched (MR.2 counts by document month, not by reception).
type Reception struct {
	FINESS       string            `json:"finess"`
	Name         string            `json:"name,omitempty"`
	Period       string            `json:"period"`
	From         string            `json:"from"`
	To           string            `json:"to"`
	Mails        uint64            `json:"mails"`
	Documents    uint64            `json:"documents"`
	Accepted     uint64            `json:"accepted"`
	Rejected     uint64            `json:"rejected"`
	Reasons      []RejectionReason `json:"rejections_by_reason"`
	RejectedDocs []RejectedDoc     `json:"rejected_documents"`
	MR2          []MR2             `json:"mr2"`
	// MR2Months are the document months (YYYY-MM) of the documents the
	// period's mails carried: the months of MR2.
	MR2Months []string  `json:"mr2_document_months"`
	Generated time.Time `json:"generated_at"`
}

// RejectionReason counts rejected documents by code.
type RejectionReason struct {
	Code   string `json:"code"`
	CISIS  uint16 `json:"cisis_code"`
	Reason string `json:"reason"` // one example sentence
	Count  uint64 `json:"count"`
}

// RejectedDoc is one rejected document, for the hospital to find and fix.
type RejectedDoc struct {
	ReceivedAt    time.Time `json:"received_at"` // in Paris time
	MailID        string    `json:"mail_id"`
	DocName       string    `json:"doc_name"`
	SetID         string    `json:"set_id"`
	VersionNumber uint32    `json:"version_number"`
	Code          string    `json:"code"`
	CISIS         uint16    `json:"cisis_code"`
	Reason        string    `json:"reason"`
	// The failed assertions, as the MDN names them: at most
	// store.MaxFailuresStored of FailureCount.
	FailureCount uint32           `json:"failure_count"`
	Failures     []events.Failure `json:"failures"`
}

// FailuresLeft is how many failed assertions the report does not list.
func (d RejectedDoc) FailuresLeft() int { return max(0, int(d.FailureCount)-len(d.Failures)) }

// FailureLines are the failed assertions as the MDN writes them, one line
// each: the rule's text, then where it comes from and where it failed.
func (d RejectedDoc) FailureLines() []string {
	out := make([]string, 0, len(d.Failures)+1)
	for _, f := range d.Failures {
		line := strings.Join(strings.Fields(f.Text), " ")
		if where := f.Where(); where != "" {
			line += " (" + where + ")"
		}
		out = append(out, line)
	}
	if n := d.FailuresLeft(); n > 0 {
		out = append(out, fmt.Sprintf("… et %d autres", n))
	}
	return out
}

// Reception builds the report of finess over p.
func (x *Indicators) Reception(ctx context.Context, finess string, p Period) (*Reception, error) {
	r := &Reception{FINESS: finess, Period: p.String(), From: p.From.Format("2006-01"), To: p.To.Format("2006-01"), Generated: time.Now().UTC()}
	args := []any{finess, day(p.From), day(p.LastDay())}
	if err := x.st.QueryRow(ctx, receptionCounts, args...).
		Scan(&r.Mails, &r.Documents, &r.Accepted, &r.Rejected); err != nil {
		return nil, fmt.Errorf("reception report of %s: %w", finess, err)
	}
	err := x.st.Each(ctx, receptionReasons, args, func(rows store.Scanner) error {
		var rr RejectionReason
		if err := rows.Scan(&rr.Code, &rr.CISIS, &rr.Reason, &rr.Count); err != nil {
			return err
		}
		r.Reasons = append(r.Reasons, rr)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reception report of %s, reasons: %w", finess, err)
	}
	err = x.st.Each(ctx, receptionRejected, args, func(rows store.Scanner) error {
		var d RejectedDoc
		var received uint32
		var sources, rules, locations, texts []string
		if err := rows.Scan(&received, &d.MailID, &d.DocName, &d.SetID, &d.VersionNumber, &d.Code, &d.CISIS, &d.Reason,
			&d.FailureCount, &sources, &rules, &locations, &texts); err != nil {
			return err
		}
		d.ReceivedAt = time.Unix(int64(received), 0).In(store.Paris())
		d.Failures = []events.Failure{}
		for i := range texts {
			// The arrays are written together (store.InsertReceipts).
			if i < len(sources) && i < len(rules) && i < len(locations) {
				d.Failures = append(d.Failures, events.Failure{Source: sources[i], Pattern: rules[i], Location: locations[i], Text: texts[i]})
			}
		}
		r.RejectedDocs = append(r.RejectedDocs, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reception report of %s, rejected documents: %w", finess, err)
	}
	if r.MR2Months, r.MR2, err = x.receptionMR2(ctx, finess, args); err != nil {
		return nil, err
	}
	names, err := x.names(ctx)
	if err != nil {
		return nil, err
	}
	r.Name = names[finess]
	return r, nil
}

// receptionMR2 is MR.2 of finess over the document months of the documents
// its mails of the period carried (args: receiptsOf's).
func (x *Indicators) receptionMR2(ctx context.Context, finess string, args []any) ([]string, []MR2, error) {
	var months []time.Time
	err := x.st.Each(ctx, receptionDocumentMonths, args, func(rows store.Scanner) error {
		var m time.Time
		if err := rows.Scan(&m); err != nil {
			return err
		}
		months = append(months, m)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reception report of %s, document months: %w", finess, err)
	}
	names := []string{}
	if len(months) == 0 {
		return names, []MR2{}, nil
	}
	touched := map[string]bool{}
	for _, m := range months {
		names = append(names, m.Format("2006-01"))
		touched[m.Format("2006-01")] = true
	}
	// One query over the first to the last month, the months in between
	// that no mail touched left out.
	all, err := x.MR2(ctx, Period{From: months[0], To: months[len(months)-1]}, finess)
	if err != nil {
		return nil, nil, err
	}
	out := []MR2{}
	for _, m := range all {
		if touched[m.Month] {
			out = append(out, m)
		}
	}
	return names, out, nil
}

// MR2Heading says which months the report's MR.2 covers, and why.
func (r *Reception) MR2Heading() string {
	if len(r.MR2Months) == 0 {
		return "MR.2 — aucun document reçu sur la période"
	}
	return "MR.2 des mois de document (" + strings.Join(r.MR2Months, ", ") + ") des documents reçus sur la période"
}

// Tables is the report as export tables.
func (r *Reception) Tables() []Table {
	sum := Table{Title: "Réception", Columns: []string{"FINESS", "Établissement", "Période", "Courriels", "Documents", "Acceptés", "Rejetés"},
		Rows: [][]any{{r.FINESS, r.Name, r.Period, r.Mails, r.Documents, r.Accepted, r.Rejected}}}
	reasons := Table{Title: "Rejets par motif", Columns: []string{"Motif", "Code CI-SIS", "Exemple de raison", "Documents"}}
	for _, x := range r.Reasons {
		reasons.Rows = append(reasons.Rows, []any{x.Code, x.CISIS, x.Reason, x.Count})
	}
	docs := Table{Title: "Documents rejetés", Columns: []string{"Reçu le (heure de Paris)", "Courriel", "Fichier", "Dossier (setId)", "Version", "Motif", "Code CI-SIS", "Raison", "Règles non respectées"}}
	for _, d := range r.RejectedDocs {
		docs.Rows = append(docs.Rows, []any{ParisTime(d.ReceivedAt), d.MailID, d.DocName, d.SetID, d.VersionNumber, d.Code, d.CISIS, d.Reason, strings.Join(d.FailureLines(), "\n")})
	}
	mr2 := MR2Table(r.MR2)
	mr2.Title = r.MR2Heading()
	return []Table{sum, reasons, docs, mr2}
}

// ParisTime writes t as the report shows it: Paris time, to the minute
// (the zone is named in the column heading, as the MDN names it).
func ParisTime(t time.Time) string { return t.In(store.Paris()).Format("02/01/2006 15:04") }

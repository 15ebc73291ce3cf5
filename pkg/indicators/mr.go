// Package indicators computes the programme's indicators (MR.1, MR.2 per
// establishment), the epidemiology tables and the per-hospital reception
// report from the hub's ClickHouse tables, and writes them as JSON, CSV
// (French spreadsheet conventions), XLSX and HTML.
//
// Definitions (binding, see docs/store.md):
//   - establishment: the custodian FINESS of the document;
//   - a version is a (set_id, version_number) pair; its month is the month
//     of its effectiveTime in Europe/Paris;
//   - transmitted: received and accepted; rejected versions are reported
//     beside; a version received twice counts once;
//   - estimated denominator of a month: versions seen that month (accepted
//     or rejected) + versions missing before them (a set seen at 1 and 4
//     misses 2 and 3, counted in the month of 4); versions missing before
//     the first one seen count the same way unless the set was created
//     before the establishment's start date of transmission.
package indicators

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/bndmr/hub/pkg/store"
)

// Target is the programme's target for MR.1 and MR.2.
const Target = 0.95

// Indicators queries one store.
type Indicators struct {
	st *store.Store
}

// New returns the indicators of st.
func New(st *store.Store) *Indicators { return &Indicators{st: st} }

// Period is a range of months, both ends included (first days of months).
type Period struct {
	From, To time.Time
}

// MonthPeriod is the one month m (YYYY-MM).
func MonthPeriod(m string) (Period, error) {
	t, err := time.Parse("2006-01", m)
	if err != nil {
		return Period{}, fmt.Errorf("month %q: expected AAAA-MM", m)
	}
	return Period{From: t, To: t}, nil
}

// ParsePeriod reads from and to (YYYY-MM); an empty to means from.
func ParsePeriod(from, to string) (Period, error) {
	p, err := MonthPeriod(from)
	if err != nil {
		return p, err
	}
	if to != "" {
		q, err := MonthPeriod(to)
		if err != nil {
			return p, err
		}
		p.To = q.To
	}
	if p.To.Before(p.From) {
		return p, fmt.Errorf("period ends (%s) before it starts (%s)", p.To.Format("2006-01"), p.From.Format("2006-01"))
	}
	return p, nil
}

// LastDay is the last day of the period.
func (p Period) LastDay() time.Time { return p.To.AddDate(0, 1, -1) }

func (p Period) String() string {
	if p.From.Equal(p.To) {
		return p.From.Format("2006-01")
	}
	return p.From.Format("2006-01") + "/" + p.To.Format("2006-01")
}

// MR2 is the MR.2 indicator of one establishment and month.
type MR2 struct {
	FINESS string `json:"finess"`
	Name   string `json:"name,omitempty"`
	Month  string `json:"month"` // YYYY-MM
	// Transmitted: distinct versions received and accepted (numerator).
	Transmitted uint64 `json:"transmitted"`
	// Rejected: distinct versions received but never accepted.
	Rejected uint64 `json:"rejected"`
	// Seen = Transmitted + Rejected; Missing: versions missing before them.
	Seen    uint64 `json:"seen"`
	Missing uint64 `json:"missing"`
	// Estimated = Seen + Missing; Declared: the establishment's count, if any.
	Estimated uint64  `json:"estimated_denominator"`
	Declared  *uint64 `json:"declared_denominator,omitempty"`
	// Denominator used and its source: "declared" or "estimated".
	Denominator       uint64   `json:"denominator"`
	DenominatorSource string   `json:"denominator_source"`
	Rate              *float64 `json:"rate"` // nil when the denominator is 0
	BelowTarget       bool     `json:"below_target"`
}

// MR2 computes MR.2 per establishment and month over p (all establishments
// when finess is empty).
func (x *Indicators) MR2(ctx context.Context, p Period, finess string) ([]MR2, error) {
	rows := mr2Rows{}
	if err := x.mr2Counts(ctx, p, finess, rows); err != nil {
		return nil, err
	}
	if err := x.mr2Declared(ctx, p, finess, rows); err != nil {
		return nil, err
	}
	names, err := x.names(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]MR2, 0, len(rows))
	for _, r := range rows {
		r.Name = names[r.FINESS]
		r.Estimated = r.Seen + r.Missing
		r.Denominator, r.DenominatorSource = r.Estimated, "estimated"
		if r.Declared != nil {
			r.Denominator, r.DenominatorSource = *r.Declared, "declared"
		}
		if r.Denominator > 0 {
			rate := float64(r.Transmitted) / float64(r.Denominator)
			r.Rate = &rate
			r.BelowTarget = rate < Target
		}
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].FINESS != out[j].FINESS {
			return out[i].FINESS < out[j].FINESS
		}
		return out[i].Month < out[j].Month
	})
	return out, nil
}

// mr2Rows are the MR.2 rows being computed, by establishment and month.
type mr2Rows map[[2]string]*MR2

// get returns the row of establishment f and month m, made on first use.
func (rows mr2Rows) get(f string, m time.Time) *MR2 {
	k := [2]string{f, m.Format("2006-01")}
	r := rows[k]
	if r == nil {
		r = &MR2{FINESS: f, Month: k[1]}
		rows[k] = r
	}
	return r
}

// mr2Counts reads the versions seen, transmitted and missing per
// establishment and month (of one establishment when finess is set).
func (x *Indicators) mr2Counts(ctx context.Context, p Period, finess string, rows mr2Rows) error {
	stmt, args := mr2Stmt, []any{day(p.From), day(p.LastDay()), day(p.From), day(p.To)}
	if finess != "" {
		stmt, args = mr2OneStmt, append([]any{finess, finess}, args...)
	}
	kept, err := x.mr2Kept(ctx)
	if err != nil {
		return err
	}
	if kept {
		stmt, args = mr2Kept, []any{day(p.From), day(p.To)}
		if finess != "" {
			stmt, args = mr2OneKept, append([]any{finess}, args...)
		}
	}
	q, err := x.st.Query(ctx, stmt, args...)
	if err != nil {
		return fmt.Errorf("computing MR.2: %w", err)
	}
	defer q.Close()
	for q.Next() {
		var f string
		var m time.Time
		var seen, acc uint64
		var miss int64
		if err := q.Scan(&f, &m, &seen, &acc, &miss); err != nil {
			return fmt.Errorf("reading MR.2: %w", err)
		}
		r := rows.get(f, m)
		r.Seen, r.Transmitted, r.Rejected = seen, acc, seen-acc
		if miss > 0 {
			r.Missing = uint64(miss)
		}
	}
	if err := q.Err(); err != nil {
		return fmt.Errorf("reading MR.2: %w", err)
	}
	return nil
}

// mr2Kept says whether MR.2 can be read from the figures kept as they
// arrive: they can be read (kept), and their generation keeps MR.2.
func (x *Indicators) mr2Kept(ctx context.Context) (bool, error) {
	kept, err := x.kept(ctx)
	if err != nil || !kept {
		return false, err
	}
	var n uint64
	if err := x.st.QueryRow(ctx, mr2KeptReady).Scan(&n); err != nil {
		return false, fmt.Errorf("reading whether the kept figures keep MR.2: %w", err)
	}
	return n > 0, nil
}

// mr2Declared reads the counts the establishments declared updated in
// their DPI (the denominator when there is one).
func (x *Indicators) mr2Declared(ctx context.Context, p Period, finess string, rows mr2Rows) error {
	d, err := x.st.Query(ctx, dpiDeclared, day(p.From), day(p.To))
	if err != nil {
		return fmt.Errorf("reading declared DPI counts: %w", err)
	}
	defer d.Close()
	for d.Next() {
		var f string
		var m time.Time
		var n uint32
		if err := d.Scan(&f, &m, &n); err != nil {
			return fmt.Errorf("reading declared DPI counts: %w", err)
		}
		if finess != "" && f != finess {
			continue
		}
		v := uint64(n)
		rows.get(f, m).Declared = &v
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("reading declared DPI counts: %w", err)
	}
	return nil
}

// names maps FINESS to establishment names (establishments table).
func (x *Indicators) names(ctx context.Context) (map[string]string, error) {
	q, err := x.st.Query(ctx, establishmentNames)
	if err != nil {
		return nil, fmt.Errorf("reading establishment names: %w", err)
	}
	defer q.Close()
	out := map[string]string{}
	for q.Next() {
		var f, n string
		if err := q.Scan(&f, &n); err != nil {
			return nil, fmt.Errorf("reading establishment names: %w", err)
		}
		out[f] = n
	}
	return out, q.Err()
}

// MR1 is the MR.1 indicator of one establishment over a period.
type MR1 struct {
	FINESS   string       `json:"finess"`
	Name     string       `json:"name,omitempty"`
	Period   string       `json:"period"`
	Labelled uint64       `json:"labelled_centres"`
	Sending  uint64       `json:"centres_with_sdmmr"`
	Rate     *float64     `json:"rate"`
	Below    bool         `json:"below_target"`
	Centres  []CentreSent `json:"centres"`
}

// CentreSent is one labelled centre and whether it sent an SDM-MR.
type CentreSent struct {
	CentreID  string `json:"centre_id"`
	Name      string `json:"name,omitempty"`
	Filiere   string `json:"filiere"`
	Type      string `json:"type"`
	Documents uint64 `json:"documents"` // distinct versions naming the centre
}

// MR1 computes MR.1 per establishment over p.
func (x *Indicators) MR1(ctx context.Context, p Period, finess string) ([]MR1, error) {
	from, to := day(p.From), day(p.LastDay())
	q, err := x.st.Query(ctx, mr1Stmt, to, from, from, to, from, to, from, to)
	if err != nil {
		return nil, fmt.Errorf("computing MR.1: %w", err)
	}
	defer q.Close()
	names, err := x.names(ctx)
	if err != nil {
		return nil, err
	}
	var out []MR1
	for q.Next() {
		var f string
		var c CentreSent
		if err := q.Scan(&f, &c.CentreID, &c.Name, &c.Filiere, &c.Type, &c.Documents); err != nil {
			return nil, fmt.Errorf("reading MR.1: %w", err)
		}
		if finess != "" && f != finess {
			continue
		}
		if len(out) == 0 || out[len(out)-1].FINESS != f {
			out = append(out, MR1{FINESS: f, Name: names[f], Period: p.String()})
		}
		m := &out[len(out)-1]
		m.Labelled++
		if c.Documents > 0 {
			m.Sending++
		}
		m.Centres = append(m.Centres, c)
	}
	for i := range out {
		r := float64(out[i].Sending) / float64(out[i].Labelled)
		out[i].Rate = &r
		out[i].Below = r < Target
	}
	return out, q.Err()
}

// day formats a date for toDate(?): clickhouse-go binds time.Time as a
// DateTime, which 18.16 does not compare with a Date column.
func day(t time.Time) string { return t.Format("2006-01-02") }

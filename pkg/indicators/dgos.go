package indicators

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// DGOS is the ministry's monthly export: MR.2 of the month and MR.1 over
// the month, per establishment.
type DGOS struct {
	Month  string  `json:"month"`
	Target float64 `json:"target"`
	MR2    []MR2   `json:"mr2"`
	MR1    []MR1   `json:"mr1"`
}

// DGOS computes the export of month (YYYY-MM).
func (x *Indicators) DGOS(ctx context.Context, month string) (*DGOS, error) {
	p, err := MonthPeriod(month)
	if err != nil {
		return nil, err
	}
	d := &DGOS{Month: month, Target: Target}
	if d.MR2, err = x.MR2(ctx, p, ""); err != nil {
		return nil, err
	}
	if d.MR1, err = x.MR1(ctx, p, ""); err != nil {
		return nil, err
	}
	if d.MR2 == nil {
		d.MR2 = []MR2{}
	}
	if d.MR1 == nil {
		d.MR1 = []MR1{}
	}
	return d, nil
}

// Table is one row per establishment with both indicators.
func (d *DGOS) Table() Table {
	t := Table{Title: "DGOS " + d.Month, Columns: []string{"FINESS", "Établissement", "Mois",
		"MR.2 numérateur (versions transmises)", "MR.2 dénominateur retenu", "Source du dénominateur",
		"Dénominateur déclaré", "Dénominateur estimé", "Versions rejetées", "MR.2 (%)", "MR.2 sous 95 %",
		"MR.1 centres labellisés", "MR.1 centres ayant transmis", "MR.1 (%)", "MR.1 sous 95 %"}}
	type row struct {
		mr2 *MR2
		mr1 *MR1
	}
	byF := map[string]*row{}
	for i := range d.MR2 {
		byF[d.MR2[i].FINESS] = &row{mr2: &d.MR2[i]}
	}
	for i := range d.MR1 {
		r := byF[d.MR1[i].FINESS]
		if r == nil {
			r = &row{}
			byF[d.MR1[i].FINESS] = r
		}
		r.mr1 = &d.MR1[i]
	}
	keys := make([]string, 0, len(byF))
	for k := range byF {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, f := range keys {
		r := byF[f]
		out := []any{f, "", d.Month}
		if m := r.mr2; m != nil {
			out[1] = m.Name
			out = append(out, m.Transmitted, m.Denominator, denomLabel(m.DenominatorSource), optU(m.Declared), m.Estimated,
				m.Rejected, optPct(m.Rate), m.BelowTarget)
		} else {
			out = append(out, nil, nil, nil, nil, nil, nil, nil, nil)
		}
		if m := r.mr1; m != nil {
			out[1] = m.Name
			out = append(out, m.Labelled, m.Sending, optPct(m.Rate), m.Below)
		} else {
			out = append(out, nil, nil, nil, nil)
		}
		t.Rows = append(t.Rows, out)
	}
	return t
}

// Write writes the export as json, csv or xlsx.
func (d *DGOS) Write(w io.Writer, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	case "csv":
		return WriteCSV(w, d.Table())
	case "xlsx":
		return WriteXLSX(w, d.Table(), MR2Table(d.MR2), MR1Table(d.MR1), MR1CentresTable(d.MR1))
	}
	return fmt.Errorf("format %q: expected json, csv or xlsx", format)
}

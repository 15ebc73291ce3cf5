package indicators

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Table is a titled table of cells, the common form of every export.
// A cell is a string, an integer, a Percent, a Decimal, or nil (empty).
type Table struct {
	Title   string
	Columns []string
	Rows    [][]any
}

// Percent is a ratio shown as a percentage (0.625 → 62,5).
type Percent float64

// Decimal is a number with decimals.
type Decimal float64

// Suppressed marks a count hidden because it is below the threshold.
type Suppressed struct{}

// frenchNumber writes f with a decimal comma, at most 1 decimal.
func frenchNumber(f float64) string {
	return strings.Replace(strconv.FormatFloat(f, 'f', 1, 64), ".", ",", 1)
}

// CellText is a cell as French text (decimal comma, "<10" for a hidden count).
func CellText(c any) string {
	switch v := c.(type) {
	case nil:
		return ""
	case Percent:
		return frenchNumber(float64(v) * 100)
	case Decimal:
		return frenchNumber(float64(v))
	case *float64:
		if v == nil {
			return ""
		}
		return frenchNumber(*v)
	case Suppressed:
		return "<10"
	case bool:
		if v {
			return "oui"
		}
		return "non"
	default:
		return fmt.Sprint(v)
	}
}

// WriteCSV writes tables as Excel in France opens them: UTF-8 with BOM, ';'
// separator, decimal comma, CRLF. Several tables are separated by a blank
// line and each starts with its title.
func WriteCSV(w io.Writer, tables ...Table) error {
	var buf bytes.Buffer
	buf.WriteString("\xEF\xBB\xBF")
	cw := csv.NewWriter(&buf)
	cw.Comma = ';'
	cw.UseCRLF = true
	for i, t := range tables {
		if i > 0 {
			cw.Write([]string{})
		}
		if len(tables) > 1 {
			cw.Write([]string{t.Title})
		}
		cw.Write(t.Columns)
		for _, r := range t.Rows {
			rec := make([]string, len(r))
			for j, c := range r {
				rec[j] = CellText(c)
			}
			cw.Write(rec)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing CSV: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteXLSX writes one sheet per table, numbers as numbers (percentages with
// a percent format) so that analysts can compute on them.
func WriteXLSX(w io.Writer, tables ...Table) error {
	f := excelize.NewFile()
	defer f.Close()
	pct, err := f.NewStyle(&excelize.Style{NumFmt: 10}) // 0.00%
	if err != nil {
		return fmt.Errorf("XLSX style: %w", err)
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return fmt.Errorf("XLSX style: %w", err)
	}
	for i, t := range tables {
		name := sheetName(t.Title, i)
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				return fmt.Errorf("XLSX sheet: %w", err)
			}
		} else if _, err := f.NewSheet(name); err != nil {
			return fmt.Errorf("XLSX sheet: %w", err)
		}
		for j, c := range t.Columns {
			cell, _ := excelize.CoordinatesToCellName(j+1, 1)
			f.SetCellValue(name, cell, c)
			f.SetCellStyle(name, cell, cell, bold)
			f.SetColWidth(name, colName(j), colName(j), float64(max(12, min(40, len(c)+2))))
		}
		for r, row := range t.Rows {
			for j, c := range row {
				cell, _ := excelize.CoordinatesToCellName(j+1, r+2)
				switch v := c.(type) {
				case nil:
				case Percent:
					f.SetCellFloat(name, cell, float64(v), -1, 64)
					f.SetCellStyle(name, cell, cell, pct)
				case Decimal:
					f.SetCellFloat(name, cell, float64(v), -1, 64)
				case *float64:
					if v != nil {
						f.SetCellFloat(name, cell, *v, -1, 64)
					}
				default:
					f.SetCellValue(name, cell, CellText(c))
					if isInt(c) {
						f.SetCellValue(name, cell, c)
					}
				}
			}
		}
		f.SetPanes(name, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
	}
	if err := f.Write(w); err != nil {
		return fmt.Errorf("writing XLSX: %w", err)
	}
	return nil
}

func isInt(c any) bool {
	switch c.(type) {
	case int, int64, uint64, uint32, int32:
		return true
	}
	return false
}

func colName(j int) string {
	n, _ := excelize.ColumnNumberToName(j + 1)
	return n
}

// sheetName makes a valid, unique sheet name (31 characters, no []:*?/\).
func sheetName(title string, i int) string {
	s := strings.Map(func(r rune) rune {
		if strings.ContainsRune(`[]:*?/\`, r) {
			return '-'
		}
		return r
	}, title)
	if s == "" {
		s = "Feuille"
	}
	if r := []rune(s); len(r) > 28 {
		s = string(r[:28])
	}
	if i > 0 {
		s = fmt.Sprintf("%s %d", s, i+1)
	}
	return s
}

func denomLabel(src string) string {
	if src == "declared" {
		return "déclaré"
	}
	return "estimé"
}

func optU(p *uint64) any {
	if p == nil {
		return nil
	}
	return *p
}

func optPct(p *float64) any {
	if p == nil {
		return nil
	}
	return Percent(*p)
}

// MR2Table is MR.2 as a table with French headers.
func MR2Table(rows []MR2) Table {
	t := Table{Title: "MR.2", Columns: []string{"FINESS", "Établissement", "Mois", "Versions transmises (numérateur)",
		"Versions rejetées", "Versions manquantes", "Dénominateur estimé", "Dénominateur déclaré", "Dénominateur retenu",
		"Source du dénominateur", "Taux MR.2 (%)", "Sous la cible de 95 %"}}
	for _, r := range rows {
		t.Rows = append(t.Rows, []any{r.FINESS, r.Name, r.Month, r.Transmitted, r.Rejected, r.Missing, r.Estimated,
			optU(r.Declared), r.Denominator, denomLabel(r.DenominatorSource), optPct(r.Rate), r.BelowTarget})
	}
	return t
}

// MR1Table is MR.1 per establishment.
func MR1Table(rows []MR1) Table {
	t := Table{Title: "MR.1", Columns: []string{"FINESS", "Établissement", "Période", "Centres labellisés",
		"Centres ayant transmis un SDM-MR", "Taux MR.1 (%)", "Sous la cible de 95 %"}}
	for _, r := range rows {
		t.Rows = append(t.Rows, []any{r.FINESS, r.Name, r.Period, r.Labelled, r.Sending, optPct(r.Rate), r.Below})
	}
	return t
}

// MR1CentresTable lists every labelled centre and whether it sent.
func MR1CentresTable(rows []MR1) Table {
	t := Table{Title: "MR.1 centres", Columns: []string{"FINESS", "Centre", "Libellé", "Filière", "Type", "Versions SDM-MR", "A transmis"}}
	for _, r := range rows {
		for _, c := range r.Centres {
			t.Rows = append(t.Rows, []any{r.FINESS, c.CentreID, c.Name, c.Filiere, c.Type, c.Documents, c.Documents > 0})
		}
	}
	return t
}

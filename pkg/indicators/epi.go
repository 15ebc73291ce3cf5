package indicators

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/bndmr/hub/pkg/store"
)

// DefaultThreshold: counts below it never leave the analyst's SQL session.
const DefaultThreshold = 10

// Count is one cell of an epidemiology table.
type Count struct {
	Labels []string `json:"labels"`
	// Names: beside each label that is a code, its display name in the
	// CI-SIS kit's value sets ("" when the kit does not name it); absent
	// when no label is named (Epidemiology.Name).
	Names      []string `json:"names,omitempty"`
	N          uint64   `json:"n"`
	Suppressed bool     `json:"suppressed,omitempty"`
}

// Labeller names the codes of a code system (OID): the CI-SIS kit's value
// sets (kit.Labels). "" when it does not know the code.
type Labeller interface {
	Label(system, code string) string
}

// Group is a set of cells published with their total: suppression makes
// sure the total minus the visible cells never gives one hidden cell.
type Group struct {
	Name  string  `json:"name"`
	Total Count   `json:"total"`
	Cells []Count `json:"cells"`
}

// CountTable is an epidemiology table of patient counts.
type CountTable struct {
	Title  string   `json:"title"`
	Labels []string `json:"label_columns"`
	// Systems: the code system (OID) of each label column, "" for a
	// column that is not a code of a value set.
	Systems []string `json:"code_systems,omitempty"`
	// Additive: the cells of a group partition its total (each patient in
	// exactly one cell); otherwise a patient may be in several cells.
	Additive bool    `json:"additive"`
	Groups   []Group `json:"groups"`
	Total    Count   `json:"total"`
}

// Suppress hides, in place, every count in 1…threshold-1 (primary
// suppression), then, in every group whose total is published, one more
// cell wherever exactly one is hidden (secondary suppression: otherwise the
// total minus the visible cells gives it back). Group totals are treated
// the same way against the table's total. Zero is shown: it hides no one.
func (t *CountTable) Suppress(threshold uint64) {
	hideSmall := func(c *Count) {
		if c.N > 0 && c.N < threshold {
			c.Suppressed = true
		}
	}
	hideSmall(&t.Total)
	totals := make([]*Count, len(t.Groups))
	for i := range t.Groups {
		g := &t.Groups[i]
		hideSmall(&g.Total)
		cells := make([]*Count, len(g.Cells))
		for j := range g.Cells {
			hideSmall(&g.Cells[j])
			cells[j] = &g.Cells[j]
		}
		secondary(cells)
		totals[i] = &g.Total
	}
	if len(t.Groups) > 1 {
		secondary(totals)
		// A hidden group total must not come back as the sum of its cells.
		for i := range t.Groups {
			if t.Groups[i].Total.Suppressed {
				for j := range t.Groups[i].Cells {
					if t.Groups[i].Cells[j].N > 0 {
						t.Groups[i].Cells[j].Suppressed = true
					}
				}
			}
		}
	}
}

// secondary hides the smallest visible non-zero cell when exactly one cell
// is hidden, so that no hidden cell can be computed back from the total.
func secondary(cells []*Count) {
	hidden := 0
	for _, c := range cells {
		if c.Suppressed {
			hidden++
		}
	}
	if hidden != 1 {
		return
	}
	var pick *Count
	for _, c := range cells {
		if !c.Suppressed && c.N > 0 && (pick == nil || c.N < pick.N) {
			pick = c
		}
	}
	if pick != nil {
		pick.Suppressed = true
	}
}

// Stat is a distribution summary (years), published only when N reaches the threshold.
type Stat struct {
	Title      string   `json:"title"`
	N          uint64   `json:"n"`
	Q1         *float64 `json:"q1,omitempty"`
	Median     *float64 `json:"median,omitempty"`
	Q3         *float64 `json:"q3,omitempty"`
	Suppressed bool     `json:"suppressed,omitempty"`
}

// Epidemiology is every table of the epidemiology export.
type Epidemiology struct {
	// named: Name gave the codes their display names (the exports then
	// have a column of names beside each coded column).
	named     bool
	Threshold uint64       `json:"threshold"`
	Tables    []CountTable `json:"tables"`
	Stats     []Stat       `json:"stats"`
}

// Epidemiology computes the tables on the current state of every file and
// suppresses small counts (threshold 0: DefaultThreshold).
func (x *Indicators) Epidemiology(ctx context.Context, threshold uint64) (*Epidemiology, error) {
	if threshold == 0 {
		threshold = DefaultThreshold
	}
	e := &Epidemiology{Threshold: threshold}
	kept, err := x.kept(ctx)
	if err != nil {
		return nil, fmt.Errorf("epidemiology: %w", err)
	}
	for _, s := range epiTables {
		if s.kept != nil && kept {
			s.query, s.total = s.kept.query, s.kept.total
		}
		t := CountTable{Title: s.title, Labels: s.labels, Systems: s.systems, Additive: s.additive}
		byGroup := map[string]*Group{}
		var order []string
		err := x.st.Each(ctx, s.query, nil, func(rows store.Scanner) error {
			var g, label string
			var n uint64
			if err := rows.Scan(&g, &label, &n); err != nil {
				return err
			}
			gr := byGroup[g]
			if gr == nil {
				gr = &Group{Name: g}
				byGroup[g] = gr
				order = append(order, g)
			}
			labels := []string{label}
			if len(s.labels) == 2 {
				labels = []string{g, label}
			}
			gr.Cells = append(gr.Cells, Count{Labels: labels, N: n})
			gr.Total.N += n
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("epidemiology %q: %w", s.title, err)
		}
		if s.additive {
			for _, gr := range byGroup {
				t.Total.N += gr.Total.N
			}
		} else if err := x.st.QueryRow(ctx, s.total).Scan(&t.Total.N); err != nil {
			return nil, fmt.Errorf("epidemiology %q, total: %w", s.title, err)
		}
		for _, g := range order {
			gr := byGroup[g]
			if !s.additive || len(order) == 1 {
				gr.Total.N = t.Total.N // a patient may be in several cells
			}
			gr.Total.Labels = []string{g, "Total"}
			t.Groups = append(t.Groups, *gr)
		}
		t.Suppress(threshold)
		e.Tables = append(e.Tables, t)
	}
	for _, st := range epiStats {
		var n uint64
		var qs []float64
		if kept {
			n, qs, err = x.keptQuartiles(ctx, st.kept)
		} else {
			err = x.st.QueryRow(ctx, st.query).Scan(&n, &qs)
		}
		if err != nil {
			return nil, fmt.Errorf("epidemiology %q: %w", st.title, err)
		}
		s := Stat{Title: st.title, N: n}
		if n < threshold {
			s.Suppressed = true
		} else if len(qs) == 3 {
			s.Q1, s.Median, s.Q3 = &qs[0], &qs[1], &qs[2]
		}
		e.Stats = append(e.Stats, s)
	}
	return e, nil
}

// kept says whether the figures kept as they arrive (pkg/figures) can be
// read: a generation is completed and none begun since. While a loader
// counts everything again (it took over, or a rebuild was asked for), the
// statements read the history: slower, as exact.
func (x *Indicators) kept(ctx context.Context) (bool, error) {
	begun, completed, err := x.st.FigureGenerations(ctx)
	return completed > 0 && begun == completed, err
}

// keptQuartiles is a distribution read from the kept figures: its count
// and quartiles, as quantilesExact takes them (the value at rank
// level × count, rounded down, of the sorted values).
func (x *Indicators) keptQuartiles(ctx context.Context, st store.Statement) (uint64, []float64, error) {
	type bin struct {
		v float64
		n uint64
	}
	var bins []bin
	var total uint64
	err := x.st.Each(ctx, st, nil, func(rows store.Scanner) error {
		var text string
		var b bin
		if err := rows.Scan(&text, &b.n); err != nil {
			return err
		}
		v, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return fmt.Errorf("value %q of a kept distribution: %w", text, err)
		}
		b.v = v
		bins = append(bins, b)
		total += b.n
		return nil
	})
	if err != nil || total == 0 {
		return 0, nil, err
	}
	sort.Slice(bins, func(i, j int) bool { return bins[i].v < bins[j].v })
	var qs []float64
	for _, level := range []float64{0.25, 0.5, 0.75} {
		rank, seen := uint64(level*float64(total)), uint64(0)
		for _, b := range bins {
			if seen += b.n; rank < seen {
				qs = append(qs, b.v)
				break
			}
		}
	}
	return total, qs, nil
}

// ExportTables turns the epidemiology into export tables (hidden cells "<10").
func (e *Epidemiology) ExportTables() []Table {
	var out []Table
	for _, t := range e.Tables {
		coded := func(i int) bool { return e.named && i < len(t.Systems) && t.Systems[i] != "" }
		// Each label, and beside a coded one its name (named exports).
		labels := func(c Count) []any {
			var out []any
			for i, l := range c.Labels {
				out = append(out, l)
				if coded(i) {
					name := ""
					if i < len(c.Names) {
						name = c.Names[i]
					}
					out = append(out, name)
				}
			}
			return out
		}
		var cols []string
		for i, l := range t.Labels {
			cols = append(cols, l)
			if coded(i) {
				cols = append(cols, "Libellé ("+l+")")
			}
		}
		cols = append(cols, "Patients")
		tab := Table{Title: t.Title, Columns: cols}
		cell := func(c Count) any {
			if c.Suppressed {
				return Suppressed{}
			}
			return c.N
		}
		for _, g := range t.Groups {
			for _, c := range g.Cells {
				tab.Rows = append(tab.Rows, append(labels(c), cell(c)))
			}
			if len(t.Labels) == 2 {
				tab.Rows = append(tab.Rows, append(labels(g.Total), cell(g.Total)))
			}
		}
		total := []any{"Total"}
		for range len(cols) - 2 {
			total = append(total, "")
		}
		tab.Rows = append(tab.Rows, append(total, cell(t.Total)))
		out = append(out, tab)
	}
	st := Table{Title: "Distributions", Columns: []string{"Mesure", "Effectif", "1er quartile", "Médiane", "3e quartile"}}
	for _, s := range e.Stats {
		if s.Suppressed {
			st.Rows = append(st.Rows, []any{s.Title, Suppressed{}, nil, nil, nil})
			continue
		}
		st.Rows = append(st.Rows, []any{s.Title, s.N, dec(s.Q1), dec(s.Median), dec(s.Q3)})
	}
	return append(out, st)
}

func dec(f *float64) any {
	if f == nil {
		return nil
	}
	return Decimal(*f)
}

// Name gives every coded label of the tables its display name from l (the
// CI-SIS kit's value sets), in Count.Names; the exports then show a column
// of names beside each coded column, empty where l does not know the code.
func (e *Epidemiology) Name(l Labeller) {
	e.named = true
	for ti := range e.Tables {
		t := &e.Tables[ti]
		for gi := range t.Groups {
			g := &t.Groups[gi]
			nameCount(&g.Total, t.Systems, l)
			for ci := range g.Cells {
				nameCount(&g.Cells[ci], t.Systems, l)
			}
		}
	}
}

// nameCount fills c.Names when l names at least one of its coded labels.
func nameCount(c *Count, systems []string, l Labeller) {
	names := make([]string, len(c.Labels))
	known := false
	for i, lab := range c.Labels {
		if i < len(systems) && systems[i] != "" {
			names[i] = l.Label(systems[i], lab)
			known = known || names[i] != ""
		}
	}
	if known {
		c.Names = names
	}
}

// TopORPHA returns the n largest visible ORPHA counts (for the dashboard).
func (e *Epidemiology) TopORPHA(n int) []Count {
	for _, t := range e.Tables {
		if t.Title != "Patients par code ORPHA" {
			continue
		}
		var out []Count
		for _, g := range t.Groups {
			for _, c := range g.Cells {
				if !c.Suppressed {
					out = append(out, c)
				}
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].N > out[j].N })
		if len(out) > n {
			out = out[:n]
		}
		return out
	}
	return nil
}

package chcompat

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/store"
)

// Window is what a suite loaded: its first and last months (first days)
// and one establishment with data in them.
type Window struct {
	From, To time.Time
	FINESS   string
}

func (w Window) from() string    { return w.From.Format("2006-01-02") }
func (w Window) to() string      { return w.To.Format("2006-01-02") }
func (w Window) lastDay() string { return w.To.AddDate(0, 1, -1).Format("2006-01-02") }

// Kind says how the suite checks a statement.
type Kind int

const (
	// Compare: run on both engines with the case's arguments; the rows and
	// their column types must be identical.
	Compare Kind = iota + 1
	// Insert: chDB reads the server's rows of the table through the
	// statement (Pair.Copy); the Compare statements then read them.
	Insert
	// Schema: DDL, run on chDB when the database is prepared.
	Schema
	// Version: the answer differs by design (the version itself); only the
	// column types are compared.
	Version
)

// Case is how one registered statement is checked.
type Case struct {
	Kind Kind
	// Args gives the statement's arguments over a window, in the types the
	// hub passes (Compare and Version only; nil: no argument).
	Args func(Window) []any
}

func period(w Window) []any         { return []any{w.from(), w.lastDay()} }
func establishment(w Window) []any  { return []any{w.FINESS, w.from(), w.lastDay()} }
func months(w Window) []any         { return []any{w.from(), w.to()} }
func mr2Args(w Window) []any        { return []any{w.from(), w.lastDay(), w.from(), w.to()} }
func mr2OneArgs(w Window) []any     { return append([]any{w.FINESS, w.FINESS}, mr2Args(w)...) }
func mr2OneKeptArgs(w Window) []any { return []any{w.FINESS, w.from(), w.to()} }
func mr1Args(w Window) []any {
	return []any{w.lastDay(), w.from(), w.from(), w.lastDay(), w.from(), w.lastDay(), w.from(), w.lastDay()}
}
func topORPHAArgs(Window) []any { return []any{uint64(1), 10} }

// rekeyArgs: the arguments of a rotation's mutation (store.rekey_*), with
// arrays mapping a pseudonym no row holds: it proves the statement on both
// engines and changes nothing.
func rekeyArgs(table string) func(Window) []any {
	from, to := []string{"", "no-such-pseudonym"}, []string{"", "other"}
	return func(Window) []any {
		switch table {
		case "documents":
			return []any{from, to, from, to, from, to, "k-old", from, to, "k-new", "k-old", from, to, from, to, from, to}
		case "patients":
			return []any{from, to, from, to, from, to, from, to, from, to, from, to, from, to, from, to}
		}
		return []any{from, to, from, to}
	}
}

func compare(args func(Window) []any) Case { return Case{Kind: Compare, Args: args} }

// cases holds one case per registered statement, by name.
var cases = map[string]Case{
	"store.create_schema_migrations": {Kind: Schema},
	"store.select_schema_migrations": compare(nil),
	"store.insert_schema_migrations": {Kind: Insert},
	"store.select_version":           {Kind: Version},
	// The migration lock: DDL on a table of its own, run in sequence on
	// chDB (take, break, drop the broken one, release); pkg/store's
	// TestMigrationLock* run them on 18.16. Its age reads system.tables.
	"store.take_migration_lock":         {Kind: Schema},
	"store.break_migration_lock":        {Kind: Schema},
	"store.drop_broken_migration_lock":  {Kind: Schema},
	"store.release_migration_lock":      {Kind: Schema},
	"store.migration_lock_age":          compare(nil),
	"store.replica_delay":               compare(nil),
	"store.cluster_replicas":            compare(func(Window) []any { return []any{"bndmr_no_such_cluster"} }),
	"store.documents_per_establishment": compare(nil),
	"store.insert_documents":            {Kind: Insert},
	"store.insert_patients":             {Kind: Insert},
	"store.insert_diagnoses":            {Kind: Insert},
	"store.insert_activities":           {Kind: Insert},
	"store.insert_care_episodes":        {Kind: Insert},
	"store.insert_family_history":       {Kind: Insert},
	"store.insert_active_problems":      {Kind: Insert},
	"store.insert_functional_status":    {Kind: Insert},
	"store.insert_pregnancies":          {Kind: Insert},
	"store.insert_births":               {Kind: Insert},
	"store.insert_research":             {Kind: Insert},
	"store.insert_treatments":           {Kind: Insert},
	"store.insert_versions":             {Kind: Insert},
	"store.insert_superseded":           {Kind: Insert},
	"store.insert_receipts":             {Kind: Insert},
	"store.insert_reference_centres":    {Kind: Insert},
	"store.insert_dpi_updates":          {Kind: Insert},
	"store.insert_establishments":       {Kind: Insert},
	"store.insert_audit_access":         {Kind: Insert},
	"store.insert_dpi_updates_history":  {Kind: Insert},
	"store.dpi_declared_in_months":      compare(months),
	"store.insert_pseudonym_links":      {Kind: Insert},
	"store.insert_figure_counts":        {Kind: Insert},
	"store.insert_figure_generations":   {Kind: Insert},
	"store.current_files":               compare(nil),
	"store.current_sites":               compare(nil),
	"store.current_diagnoses":           compare(nil),
	"store.current_deaths":              compare(nil),
	"store.centre_filieres":             compare(nil),
	"store.versions_seen":               compare(func(Window) []any { return []any{uint64(1), uint64(0)} }),
	"store.establishment_starts":        compare(nil),
	"store.figure_generations":          {Kind: Version}, // generations are clock readings
	"store.rotation_links":              compare(func(Window) []any { return []any{"k-old", "k-new"} }),
	"store.rotation_keys":               compare(nil),
	"store.forget_links":                compare(func(Window) []any { return []any{"k-old", "k-new"} }),
	// Whether a mutation is still running depends on the engine's pace.
	"store.mutations_running":       {Kind: Version},
	"store.table_exists":            compare(func(Window) []any { return []any{"documents"} }),
	"store.table_columns":           compare(func(Window) []any { return []any{"documents"} }),
	"store.rekey_documents":         compare(rekeyArgs("documents")),
	"store.rekey_patients":          compare(rekeyArgs("patients")),
	"store.rekey_diagnoses":         compare(rekeyArgs("")),
	"store.rekey_activities":        compare(rekeyArgs("")),
	"store.rekey_care_episodes":     compare(rekeyArgs("")),
	"store.rekey_family_history":    compare(rekeyArgs("")),
	"store.rekey_active_problems":   compare(rekeyArgs("")),
	"store.rekey_functional_status": compare(rekeyArgs("")),
	"store.rekey_pregnancies":       compare(rekeyArgs("")),
	"store.rekey_births":            compare(rekeyArgs("")),
	"store.rekey_research":          compare(rekeyArgs("")),
	"store.rekey_treatments":        compare(rekeyArgs("")),

	"store.audit_readers":                       compare(establishment),
	"indicators.mr2":                            compare(mr2Args),
	"indicators.mr2_one":                        compare(mr2OneArgs),
	"indicators.dpi_declared":                   compare(months),
	"indicators.establishment_names":            compare(nil),
	"indicators.mr1":                            compare(mr1Args),
	"indicators.latest_month":                   compare(nil),
	"indicators.dashboard_rejections":           compare(period),
	"indicators.top_orpha":                      compare(topORPHAArgs),
	"indicators.reception_counts":               compare(establishment),
	"indicators.reception_reasons":              compare(establishment),
	"indicators.reception_rejected_documents":   compare(establishment),
	"indicators.reception_document_months":      compare(establishment),
	"indicators.epi_orpha":                      compare(nil),
	"indicators.epi_orpha_total":                compare(nil),
	"indicators.epi_orpha_kept":                 compare(nil),
	"indicators.epi_orpha_total_kept":           compare(nil),
	"indicators.epi_departement_sex_kept":       compare(nil),
	"indicators.epi_sex_age_kept":               compare(nil),
	"indicators.epi_establishment_kept":         compare(nil),
	"indicators.epi_establishment_total_kept":   compare(nil),
	"indicators.epi_site_kept":                  compare(nil),
	"indicators.epi_site_total_kept":            compare(nil),
	"indicators.epi_filiere_kept":               compare(nil),
	"indicators.epi_filiere_total_kept":         compare(nil),
	"indicators.epi_diagnosis_kept":             compare(nil),
	"indicators.epi_deaths_kept":                compare(nil),
	"indicators.epi_stat_onset_age_kept":        compare(nil),
	"indicators.epi_stat_clinical_dx_age_kept":  compare(nil),
	"indicators.epi_stat_genetic_dx_age_kept":   compare(nil),
	"indicators.epi_stat_diagnostic_delay_kept": compare(nil),
	"indicators.top_orpha_kept":                 compare(topORPHAArgs),
	"indicators.mr2_kept":                       compare(months),
	"indicators.mr2_one_kept":                   compare(mr2OneKeptArgs),
	"indicators.mr2_kept_ready":                 compare(nil),
	"indicators.epi_departement_sex":            compare(nil),
	"indicators.epi_sex_age":                    compare(nil),
	"indicators.epi_establishment":              compare(nil),
	"indicators.epi_establishment_total":        compare(nil),
	"indicators.epi_site":                       compare(nil),
	"indicators.epi_site_total":                 compare(nil),
	"indicators.epi_filiere":                    compare(nil),
	"indicators.epi_filiere_total":              compare(nil),
	"indicators.epi_diagnosis":                  compare(nil),
	"indicators.epi_deaths":                     compare(nil),
	"indicators.epi_stat_onset_age":             compare(nil),
	"indicators.epi_stat_clinical_dx_age":       compare(nil),
	"indicators.epi_stat_genetic_dx_age":        compare(nil),
	"indicators.epi_stat_diagnostic_delay":      compare(nil),
}

// Fill gives chDB the server database's schema (migrations, then the Schema
// statements) and rows (through the Insert statements), and returns the
// number of rows copied.
func (p *Pair) Fill(ctx context.Context, statements []store.Statement) (int, error) {
	if err := p.Prepare(ctx); err != nil {
		return 0, err
	}
	for _, st := range statements {
		if cases[st.Name].Kind == Schema {
			if err := p.Engine.Exec(ctx, st.SQL); err != nil {
				return 0, fmt.Errorf("%s on chDB: %w", st.Name, err)
			}
		}
	}
	copied := 0
	for _, st := range statements {
		if cases[st.Name].Kind != Insert {
			continue
		}
		n, err := p.Copy(ctx, st)
		if err != nil {
			return copied, err
		}
		copied += n
	}
	return copied, nil
}

// CaseOf returns the case of a registered statement.
func CaseOf(name string) (Case, bool) {
	c, ok := cases[name]
	return c, ok
}

// Check runs the whole suite on a pair whose server database is loaded:
// every statement has a case and no case is left without its statement;
// chDB gets the schema and the rows; every Compare statement gives the same
// rows on both engines, and at least minRows of them in all (a suite over
// empty tables would prove nothing); then chDB merges its tables and every
// Compare statement must still give the server's rows.
func Check(t *testing.T, p *Pair, w Window, statements []store.Statement, minRows int) {
	t.Helper()
	ctx := context.Background()
	if !checkCases(t, statements) {
		return
	}
	start := time.Now()
	copied, err := p.Fill(ctx, statements)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("chDB: schema and %d rows copied in %v", copied, time.Since(start).Round(time.Millisecond))
	total := compareAll(t, p, w, statements, "", "%s differs between the engines:\n%s")
	t.Logf("%d rows compared in all", total)
	// The hub counts distinct keys, never raw rows: every figure must stay
	// the same once ClickHouse has merged the duplicates of a redelivery.
	var tables []string
	for _, st := range statements {
		if cases[st.Name].Kind == Insert {
			table, _, _ := store.InsertTable(st)
			tables = append(tables, table)
		}
	}
	if err := p.Merge(ctx, tables); err != nil {
		t.Fatal(err)
	}
	compareAll(t, p, w, statements, "merged/", "%s changes once duplicates are merged (server: unmerged, chDB: merged):\n%s")
	if total < minRows {
		t.Errorf("the statements returned %d rows in all, want at least %d: the data does not exercise them", total, minRows)
	}
}

// checkCases: every statement has a case, registered once, and every case
// its statement.
func checkCases(t *testing.T, statements []store.Statement) bool {
	t.Helper()
	seen := map[string]bool{}
	for _, st := range statements {
		if seen[st.Name] {
			t.Errorf("statement %s registered twice", st.Name)
		}
		seen[st.Name] = true
		if _, ok := cases[st.Name]; !ok {
			t.Errorf("statement %s has no compatibility case: add one to pkg/chcompat/cases.go", st.Name)
		}
	}
	for name := range cases {
		if !seen[name] {
			t.Errorf("compatibility case %s has no statement in the registries: remove it", name)
		}
	}
	return !t.Failed()
}

// compareAll runs every Compare statement (and, before the merge, when
// prefix is empty, every Version one) on both engines, each in a subtest
// named prefix+statement, and returns the rows compared. differs is the
// message of a difference (the statement, the diff).
func compareAll(t *testing.T, p *Pair, w Window, statements []store.Statement, prefix, differs string) int {
	t.Helper()
	ctx := context.Background()
	total := 0
	for _, st := range statements {
		c := cases[st.Name]
		if c.Kind != Compare && (c.Kind != Version || prefix != "") {
			continue
		}
		t.Run(prefix+st.Name, func(t *testing.T) {
			var args []any
			if c.Args != nil {
				args = c.Args(w)
			}
			server, engine, err := p.Run(ctx, st, args)
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind == Version {
				if server.Types != engine.Types {
					t.Errorf("column types: server %q, chDB %q", server.Types, engine.Types)
				}
				return
			}
			if d := Diff(server, engine); d != "" {
				t.Errorf(differs, st.Name, d)
			}
			if prefix == "" {
				t.Logf("%d rows, types %s", len(server.Rows), server.Types)
			}
			total += len(server.Rows)
		})
	}
	return total
}

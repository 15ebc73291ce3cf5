package indicators

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/chcompat"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/store"
)

// Every figure the hub publishes must be computed on distinct keys, never on
// raw rows of a ReplacingMergeTree table: until ClickHouse merges, a
// redelivered batch is there twice (and 18.16 merges whenever it likes). The
// tests here load the same world once and twice over with merges stopped,
// and want the same figures from both, then again once the doubled tables
// are merged (OPTIMIZE … FINAL).

// figureMethods lists the exported methods of *Indicators and whether
// figures (below) publishes what they compute. A method added to
// Indicators fails TestFiguresCoverEveryMethod until it is listed here, and
// a figure it publishes is added to figures.
var figureMethods = map[string]bool{
	"MR2": true, "MR1": true, "Epidemiology": true, "Reception": true, "Dashboard": true,
	"TopORPHA": true, "LatestMonth": true, "DGOS": true,
}

func TestFiguresCoverEveryMethod(t *testing.T) {
	typ := reflect.TypeOf(&Indicators{})
	for i := range typ.NumMethod() {
		name := typ.Method(i).Name
		if _, ok := figureMethods[name]; !ok {
			t.Errorf("(*Indicators).%s is not in figureMethods: if it publishes a figure, add what it returns to figures "+
				"(distinct_test.go), so that TestFiguresIgnoreDuplicates compares it", name)
		}
	}
}

// nearThreshold is one patient short of the suppression threshold: nine
// patients of B with ORPHA 777, each one diagnosis with onset, clinical and
// genetic ages, an activity declaring S002, a care episode at S010 and a
// death, so that every table the figures read has rows.
func nearThreshold() []events.Record {
	q := func(v float64) *sdmmr.Quantity { return &sdmmr.Quantity{Value: v, Unit: "a"} }
	var recs []events.Record
	for i := range DefaultThreshold - 1 {
		set := fmt.Sprintf("n%02d", i)
		dead := true
		recs = append(recs, events.Record{V: events.RecordV, MailID: "m-" + set, FINESS: finB, SetID: set, VersionNumber: 1,
			EffectiveTime: oct, ReceivedAt: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), KeyID: "k", DocumentKey: "dk",
			PatientTraitsPseudonym: "p" + set, Sex: "M", BirthYearMonth: "1990-02", ResidenceDepartement: "13",
			Deceased: &dead, DeathYearMonth: "2026-10",
			Diagnoses: []sdmmr.RecordDiagnosis{{Key: "d", Disease: &sdmmr.Code{Code: "777", System: "1.2.250.1.213.2.49.1"},
				OnsetAge: q(float64(i)), ClinicalDiagnosisAge: q(float64(i + 1)), GeneticDiagnosisAge: q(float64(i + 3))}},
			Activities:   []sdmmr.RecordActivity{{Key: "a", DeclaringSiteCode: "S002"}},
			CareEpisodes: []sdmmr.RecordCareEpisode{{Key: "c", SiteCode: "S010"}},
		})
	}
	return recs
}

// duplicatesWorld is the indicator fixture, the epidemiology world and the
// group just under the threshold.
func duplicatesWorld() *fixture {
	f := newFixture()
	recs, _, _, _ := epiWorld()
	f.recs = append(append(f.recs, recs...), nearThreshold()...)
	return f
}

// serverTables are the tables the hub writes (its INSERT statements),
// schema_migrations aside (Migrate writes it once per database).
func serverTables(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, st := range store.Statements() {
		// The journals are append-only: each row is an event of its own.
		if table, _, ok := store.InsertTable(st); ok && table != "schema_migrations" && !store.Journal(table) {
			out = append(out, table)
		}
	}
	if len(out) < 10 {
		t.Fatalf("found %d tables in the store's INSERT statements", len(out))
	}
	return out
}

func serverExec(t *testing.T, srv *chcompat.Server, db, sql string) string {
	t.Helper()
	out, err := srv.Query(context.Background(), db, sql, "TabSeparated")
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return strings.TrimSpace(string(out))
}

// stopMerges stops the background merges of each table (never the whole
// server's: other tests share it); dropping the database ends it.
func stopMerges(t *testing.T, srv *chcompat.Server, db string, tables []string) {
	t.Helper()
	for _, table := range tables {
		serverExec(t, srv, db, "SYSTEM STOP MERGES "+db+"."+table)
	}
}

// mergeAll starts the merges again and merges every table to one part per
// partition, duplicates collapsed.
func mergeAll(t *testing.T, srv *chcompat.Server, db string, tables []string) {
	t.Helper()
	for _, table := range tables {
		serverExec(t, srv, db, "SYSTEM START MERGES "+db+"."+table)
		serverExec(t, srv, db, "OPTIMIZE TABLE "+db+"."+table+" FINAL")
	}
}

func rowCount(t *testing.T, srv *chcompat.Server, db, table, final string) string {
	t.Helper()
	return serverExec(t, srv, db, "SELECT count() FROM "+db+"."+table+final)
}

// figures is every figure the hub publishes from the store, as the
// documents it exports (JSON, CSV, the dashboard's HTML), by name; the time
// a document was generated at is left out.
func figures(t *testing.T, s *store.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	x := New(s)
	out := map[string]string{}
	put := func(name string, v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = string(b)
	}
	csv := func(name string, tabs ...Table) {
		t.Helper()
		var b bytes.Buffer
		if err := WriteCSV(&b, tabs...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name+" (CSV)"] = b.String()
	}
	months := []string{"2026-08", "2026-09", "2026-10", "2026-11", "2026-12"}
	whole, _ := ParsePeriod(months[0], months[len(months)-1])
	for _, p := range []Period{whole, mustMonth(t, "2026-10")} {
		for _, fin := range []string{"", finA, finB, finC} {
			mr2, err := x.MR2(ctx, p, fin)
			put("MR.2 "+p.String()+" "+fin, mr2, err)
			csv("MR.2 "+p.String()+" "+fin, MR2Table(mr2))
			mr1, err := x.MR1(ctx, p, fin)
			put("MR.1 "+p.String()+" "+fin, mr1, err)
			csv("MR.1 "+p.String()+" "+fin, MR1Table(mr1), MR1CentresTable(mr1))
		}
		for _, fin := range []string{finA, finB, finC} {
			r, err := x.Reception(ctx, fin, p)
			if r != nil {
				r.Generated = time.Time{}
			}
			put("reception "+fin+" "+p.String(), r, err)
			if r != nil {
				csv("reception "+fin+" "+p.String(), r.Tables()...)
			}
		}
	}
	for _, m := range months {
		d, err := x.DGOS(ctx, m)
		put("DGOS "+m, d, err)
		var b bytes.Buffer
		if err := d.Write(&b, "csv"); err != nil {
			t.Fatal(err)
		}
		out["DGOS "+m+" (CSV)"] = b.String()
		csv("DGOS "+m+" sheets", d.Table(), MR2Table(d.MR2), MR1Table(d.MR1), MR1CentresTable(d.MR1))
	}
	for _, m := range append([]string{""}, months...) {
		for _, threshold := range []uint64{1, DefaultThreshold} {
			name := fmt.Sprintf("dashboard %q threshold %d", m, threshold)
			d, err := x.Dashboard(ctx, m, threshold)
			if d != nil {
				d.Generated = time.Time{}
			}
			put(name, d, err)
			var b bytes.Buffer
			if err := RenderDashboard(&b, d); err != nil {
				t.Fatal(err)
			}
			out[name+" (HTML)"] = b.String()
		}
	}
	for _, threshold := range []uint64{1, 3, DefaultThreshold} {
		e, err := x.Epidemiology(ctx, threshold)
		put(fmt.Sprintf("epidemiology threshold %d", threshold), e, err)
		csv(fmt.Sprintf("epidemiology threshold %d", threshold), e.ExportTables()...)
		top, err := x.TopORPHA(ctx, 10, threshold)
		put(fmt.Sprintf("top ORPHA threshold %d", threshold), top, err)
		put(fmt.Sprintf("top ORPHA of the epidemiology, threshold %d", threshold), e.TopORPHA(10), nil)
	}
	m, err := x.LatestMonth(ctx)
	put("latest month", m, err)
	docs, err := s.DocumentsPerEstablishment(ctx)
	put("documents per establishment", docs, err)
	return out
}

func mustMonth(t *testing.T, m string) Period {
	t.Helper()
	p, err := MonthPeriod(m)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// compareFigures wants every figure of got equal to want's.
func compareFigures(t *testing.T, stage string, want, got map[string]string) {
	t.Helper()
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(got) != len(want) {
		t.Errorf("%s: %d figures, want %d", stage, len(got), len(want))
	}
	for _, n := range names {
		if got[n] != want[n] {
			t.Errorf("%s: %s differs from the single load:\n%s", stage, n, lineDiff(want[n], got[n]))
		}
	}
}

// lineDiff shows the first lines that differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 6; i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "  line %d: single %q, doubled %q\n", i+1, a, c)
			shown++
		}
	}
	return b.String()
}

// statementWindows are the arguments every registered statement runs with.
var statementWindows = []chcompat.Window{
	{From: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), FINESS: finA},
	{From: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), FINESS: finB},
}

// statementRows runs every registered statement that reads (its case in
// pkg/chcompat is Compare) on db, over each window, and returns its sorted
// rows by statement; a statement without a case fails, so that no
// statement escapes the comparison.
func statementRows(t *testing.T, srv *chcompat.Server, db string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, st := range append(store.Statements(), Statements()...) {
		c, ok := chcompat.CaseOf(st.Name)
		if !ok {
			t.Errorf("statement %s has no case in pkg/chcompat/cases.go", st.Name)
			continue
		}
		if c.Kind != chcompat.Compare {
			continue // inserts, DDL, version()
		}
		if strings.HasPrefix(st.SQL, "ALTER TABLE ") {
			continue // a rotation's mutation: it rewrites rows, it reads none
		}
		for i, w := range statementWindows {
			var args []any
			if c.Args != nil {
				args = c.Args(w)
			}
			sql, err := chcompat.Bind(st.SQL, args)
			if err != nil {
				t.Fatalf("%s: %v", st.Name, err)
			}
			res, err := srv.Query(context.Background(), db, sql, "TabSeparatedWithNamesAndTypes")
			if err != nil {
				t.Fatalf("%s: %v", st.Name, err)
			}
			lines := strings.Split(strings.TrimSuffix(string(res), "\n"), "\n")
			if len(lines) < 2 {
				t.Fatalf("%s: no header in %q", st.Name, res)
			}
			rows := lines[2:]
			slices.Sort(rows)
			out[fmt.Sprintf("statement %s, window %d", st.Name, i)] = lines[1] + "\n" + strings.Join(rows, "\n")
		}
	}
	return out
}

// TestFiguresIgnoreDuplicates loads the world once in one database and
// twice over (every batch in two inserts) in another, merges stopped in
// both, and wants every figure and every registered statement's rows
// identical; then merges the doubled tables and wants them identical again.
func TestFiguresIgnoreDuplicates(t *testing.T) {
	srv, err := chcompat.ServerFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	once, twice := testStore(t), testStore(t)
	tables := serverTables(t)
	stopMerges(t, srv, once.Database(), tables)
	stopMerges(t, srv, twice.Database(), tables)
	w := duplicatesWorld()
	w.loadTimes(t, once, 1)
	w.loadTimes(t, twice, 2)

	// The duplicates are there: every table holds twice the rows, and
	// every table a statement reads has rows.
	var read strings.Builder
	for _, st := range Statements() {
		read.WriteString(st.SQL + "\n")
	}
	for _, table := range tables {
		n1, n2 := rowCount(t, srv, once.Database(), table, ""), rowCount(t, srv, twice.Database(), table, "")
		if fmt.Sprint(2*atoi(t, n1)) != n2 {
			t.Errorf("%s: %s rows loaded twice, %s once: merges were not stopped", table, n2, n1)
		}
		if n1 == "0" && regexp.MustCompile(`\bFROM\s+`+table+`\b`).MatchString(read.String()) {
			t.Errorf("%s: empty, yet the indicators read it: the world does not exercise it", table)
		}
	}

	want, wantRows := figures(t, once), statementRows(t, srv, once.Database())
	compareFigures(t, "loaded twice, unmerged", want, figures(t, twice))
	compareFigures(t, "loaded twice, unmerged", wantRows, statementRows(t, srv, twice.Database()))

	mergeAll(t, srv, twice.Database(), tables)
	for _, table := range tables {
		if got, distinct := rowCount(t, srv, twice.Database(), table, ""), rowCount(t, srv, once.Database(), table, " FINAL"); got != distinct {
			t.Errorf("%s: %s rows once merged, want %s (the distinct keys)", table, got, distinct)
		}
	}
	compareFigures(t, "loaded twice, merged", want, figures(t, twice))
	compareFigures(t, "loaded twice, merged", wantRows, statementRows(t, srv, twice.Database()))
	t.Logf("%d figures and %d statement results compared", len(want), len(wantRows))
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

// TestSuppressionOnDistinctCounts: nine patients, one diagnosis each, every
// row there three times (twice in one insert, once more in another) with
// merges stopped. Every count and distribution stays at nine at most, so
// under the threshold and hidden: duplicates never lift a group over it.
func TestSuppressionOnDistinctCounts(t *testing.T) {
	srv, err := chcompat.ServerFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	s := testStore(t)
	stopMerges(t, srv, s.Database(), serverTables(t))
	ctx := context.Background()
	recs := nearThreshold()
	w := keptWriter(t, s)
	if err := w.Write(ctx, append(append([]events.Record{}, recs...), recs...)); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, srv, s.Database(), "diagnoses", ""); n != fmt.Sprint(3*len(recs)) {
		t.Fatalf("diagnoses holds %s rows, want %d: the duplicates are not there", n, 3*len(recs))
	}
	e, err := New(s).Epidemiology(ctx, DefaultThreshold)
	if err != nil {
		t.Fatal(err)
	}
	max9 := func(what string, c Count) {
		t.Helper()
		if c.N > uint64(len(recs)) {
			t.Errorf("%s %v: %d, more than the %d patients", what, c.Labels, c.N, len(recs))
		}
		if c.N > 0 && !c.Suppressed {
			t.Errorf("%s %v: %d published", what, c.Labels, c.N)
		}
	}
	cells := 0
	for _, tab := range e.Tables {
		max9(tab.Title+", total", tab.Total)
		for _, g := range tab.Groups {
			max9(tab.Title+", group total", g.Total)
			for _, c := range g.Cells {
				max9(tab.Title, c)
				if c.N == uint64(len(recs)) {
					cells++
				}
			}
		}
		checkNoLeak(t, tab, DefaultThreshold)
	}
	if cells < 6 {
		t.Errorf("%d cells count the nine patients, want one per table at least", cells)
	}
	for _, st := range e.Stats {
		if st.N != uint64(len(recs)) || !st.Suppressed || st.Median != nil {
			t.Errorf("%s: N = %d (want %d diagnoses), suppressed %v, median %v", st.Title, st.N, len(recs), st.Suppressed, deref(st.Median))
		}
	}
	if top, err := New(s).TopORPHA(ctx, 10, DefaultThreshold); err != nil || len(top) != 0 {
		t.Errorf("top ORPHA codes: %+v, %v, want none", top, err)
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, e.ExportTables()...); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "777;<10") || strings.Contains(b.String(), ";9\n") || strings.Contains(b.String(), ";18\n") ||
		strings.Contains(b.String(), ";27\n") {
		t.Errorf("the export shows a hidden count:\n%s", b.String())
	}
}

// TestMR1LabellingPeriodAtItsLatestImport: the centre list is imported
// again with S002's labelling ended in 2025 (same key: finess, centre,
// start). Before ClickHouse merges, both imports are there; MR.1 reads the
// latest, as it will after the merge.
func TestMR1LabellingPeriodAtItsLatestImport(t *testing.T) {
	srv, err := chcompat.ServerFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	s := testStore(t)
	tables := serverTables(t)
	stopMerges(t, srv, s.Database(), tables)
	newFixture().loadTimes(t, s, 1)
	time.Sleep(1100 * time.Millisecond) // imported_at has one-second resolution
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	if err := s.InsertCentres(context.Background(), []store.Centre{{FINESS: finA, CentreID: "S002", Filiere: "F1",
		Type: "competence", From: day("2020-01-01"), To: day("2025-12-31")}}); err != nil {
		t.Fatal(err)
	}
	p := mustMonth(t, "2026-10")
	for _, stage := range []string{"unmerged", "merged"} {
		if stage == "merged" {
			mergeAll(t, srv, s.Database(), tables)
		}
		got, err := New(s).MR1(context.Background(), p, finA)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Labelled != 1 || got[0].Sending != 1 || len(got[0].Centres) != 1 || got[0].Centres[0].CentreID != "S001" {
			t.Errorf("%s: MR.1 of A in October: %+v, want S001 alone labelled", stage, got)
		}
	}
}

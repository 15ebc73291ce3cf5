package compat

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/chcompat"
	"github.com/bndmr/hub/pkg/indicators"
	"github.com/bndmr/hub/pkg/store"
)

// analystsPage is the analysts' guide, whose queries this test runs as
// written: the SQL lives in the page, not here (TestSQLOnlyInRegistries
// scans Go files only; these queries are the analysts', the hub never
// sends them).
const analystsPage = "../../../docs/analysts.md"

// docQuery is one worked query of the page: its heading and its SQL.
type docQuery struct {
	title, sql string
}

var (
	headingRe  = regexp.MustCompile(`(?m)^### (.+)$`)
	sqlBlockRe = regexp.MustCompile("(?s)```sql\n(.*?)```")
)

// docQueries reads the ```sql blocks of the page under "## Worked queries",
// each with the ### heading above it.
func docQueries(t *testing.T, path string) []docQuery {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	start := strings.Index(page, "\n## Worked queries")
	if start < 0 {
		t.Fatalf("%s has no \"## Worked queries\" section", path)
	}
	page = page[start:]
	var out []docQuery
	for _, loc := range sqlBlockRe.FindAllStringSubmatchIndex(page, -1) {
		title := "?"
		if hs := headingRe.FindAllStringSubmatch(page[:loc[0]], -1); len(hs) > 0 {
			title = hs[len(hs)-1][1]
		}
		out = append(out, docQuery{title: title, sql: strings.TrimSpace(page[loc[2]:loc[3]])})
	}
	return out
}

// rows splits a result's TabSeparated lines into fields.
func rows(r chcompat.Result) [][]string {
	out := make([][]string, 0, len(r.Rows))
	for _, l := range r.Rows {
		out = append(out, strings.Split(l, "\t"))
	}
	return out
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q is not a number: %v", s, err)
	}
	return f
}

// facts are the hub's own figures on the same data, which the analysts'
// queries must agree with.
type facts struct {
	epi *indicators.Epidemiology
	mr2 []indicators.MR2
	// Counted directly on the server.
	versions, files, refused, refusedWithRules, currentDiagnoses uint64
}

func (f facts) table(t *testing.T, title string) indicators.CountTable {
	t.Helper()
	for _, tb := range f.epi.Tables {
		if tb.Title == title {
			return tb
		}
	}
	t.Fatalf("the epidemiology has no table %q", title)
	return indicators.CountTable{}
}

func (f facts) stat(t *testing.T, title string) uint64 {
	t.Helper()
	for _, s := range f.epi.Stats {
		if s.Title == title {
			return s.N
		}
	}
	t.Fatalf("the epidemiology has no distribution %q", title)
	return 0
}

// cells sums a table's cells by their last label.
func cells(tb indicators.CountTable) map[string]uint64 {
	out := map[string]uint64{}
	for _, g := range tb.Groups {
		for _, c := range g.Cells {
			out[c.Labels[len(c.Labels)-1]] += c.N
		}
	}
	return out
}

// sumBy adds column val of the rows, by column key (-1: one sum).
func sumBy(t *testing.T, rs [][]string, key, val int) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, r := range rs {
		k := ""
		if key >= 0 {
			k = r[key]
		}
		out[k] += num(t, r[val])
	}
	return out
}

// analystChecks: what each worked query must give, in the page's order.
// A query added to the page fails the test until it has its check here.
var analystChecks = []struct {
	title string // the start of the heading
	check func(t *testing.T, f facts, rs [][]string)
}{
	{"1. Prevalence by ORPHA code and département", func(t *testing.T, f facts, rs [][]string) {
		f.samePerORPHA(t, sumBy(t, rs, 0, 2), "over the départements")
	}},
	{"2. Patients by sex and age band", func(t *testing.T, f facts, rs [][]string) {
		tb := f.table(t, "Patients par sexe et classe d'âge")
		want := tb.Total.N - cells(tb)["inconnu"]
		if got := sumBy(t, rs, -1, 2)[""]; got != float64(want) {
			t.Errorf("%v patients by sex and age, the epidemiology has %d with a known birth", got, want)
		}
		for _, r := range rs {
			if a := num(t, r[1]); a < 0 || a > 120 {
				t.Errorf("age band %v", a)
			}
		}
	}},
	{"3. Age at clinical diagnosis", func(t *testing.T, f facts, rs [][]string) {
		want := f.stat(t, "Âge au diagnostic clinique (années)")
		if got := sumBy(t, rs, -1, 2)[""]; got != float64(want) || want == 0 {
			t.Errorf("%v diagnoses, the epidemiology's distribution has %d", got, want)
		}
		for _, r := range rs {
			if q1, med, q3 := num(t, r[3]), num(t, r[4]), num(t, r[5]); q1 > med || med > q3 || q1 < 0 {
				t.Errorf("%s %s: quartiles %v %v %v", r[0], r[1], q1, med, q3)
			}
		}
	}},
	{"4. Diagnostic delay", func(t *testing.T, f facts, rs [][]string) {
		want := f.stat(t, "Délai diagnostique (années, diagnostic clinique − premiers signes)")
		if got := sumBy(t, rs, -1, 1)[""]; got != float64(want) || want == 0 {
			t.Errorf("%v diagnoses in the bands, the epidemiology's distribution has %d", got, want)
		}
	}},
	{"5. Time between two versions", func(t *testing.T, f facts, rs [][]string) {
		want := f.versions - f.files
		if got := sumBy(t, rs, -1, 1)[""]; got != float64(want) || want == 0 {
			t.Errorf("%v intervals, want %d (versions %d − files %d)", got, want, f.versions, f.files)
		}
		for _, r := range rs {
			if mean, med, mx := num(t, r[2]), num(t, r[3]), num(t, r[4]); mean < 0 || med < 0 || mx < med {
				t.Errorf("%s: mean %v, median %v, max %v days", r[0], mean, med, mx)
			}
		}
	}},
	{"6. MR.2 national trend", func(t *testing.T, f facts, rs [][]string) {
		transmitted, estimated := map[string]uint64{}, map[string]uint64{}
		for _, m := range f.mr2 {
			transmitted[m.Month] += m.Transmitted
			estimated[m.Month] += m.Estimated
		}
		if len(rs) != len(transmitted) {
			t.Errorf("%d months, MR.2 has %d", len(rs), len(transmitted))
		}
		for _, r := range rs {
			month := r[0][:7]
			if num(t, r[1]) != float64(transmitted[month]) || num(t, r[2]) != float64(estimated[month]) {
				t.Errorf("%s: %s transmitted / %s expected, MR.2 has %d / %d", month, r[1], r[2], transmitted[month], estimated[month])
			}
			if p := num(t, r[3]); p < 0 || p > 100 {
				t.Errorf("%s: MR.2 %v %%", month, p)
			}
		}
	}},
	{"7. Refusals by rule", func(t *testing.T, f facts, rs [][]string) {
		if f.refusedWithRules == 0 {
			t.Fatal("no refused document names a rule: the load does not exercise the query")
		}
		total := 0.0
		for _, r := range rs {
			n := num(t, r[1])
			if n < 1 || n > float64(f.refusedWithRules) || !strings.Contains(r[0], ":") {
				t.Errorf("rule %q: %v documents of %d refused with rules", r[0], n, f.refusedWithRules)
			}
			total += n
		}
		if total < float64(f.refusedWithRules) {
			t.Errorf("%v documents over the rules, %d refused with rules", total, f.refusedWithRules)
		}
	}},
	{"8. Refusals by reason and month", func(t *testing.T, f facts, rs [][]string) {
		if got := sumBy(t, rs, -1, 3)[""]; got != float64(f.refused) || f.refused == 0 {
			t.Errorf("%v refused documents, the receipts have %d", got, f.refused)
		}
	}},
	{"9. Patients followed by several establishments", func(t *testing.T, f facts, rs [][]string) {
		want := f.table(t, "Patients par département de résidence et sexe").Total.N
		if got := sumBy(t, rs, -1, 1)[""]; got != float64(want) {
			t.Errorf("%v patients, the epidemiology has %d", got, want)
		}
	}},
	{"10. Diagnostic status", func(t *testing.T, f facts, rs [][]string) {
		if got := sumBy(t, rs, -1, 2)[""]; got != float64(f.currentDiagnoses) || f.currentDiagnoses == 0 {
			t.Errorf("%v diagnoses, the current versions have %d", got, f.currentDiagnoses)
		}
	}},
	{"11. Rare-disease sites and filières", func(t *testing.T, f facts, rs [][]string) {
		got := sumBy(t, rs, 0, 2)
		want := cells(f.table(t, "Patients par site maladie rare"))
		if len(got) != len(want) {
			t.Errorf("%d sites, the epidemiology has %d", len(got), len(want))
		}
		for site, n := range want {
			if got[site] != float64(n) {
				t.Errorf("site %s: %v patients, the epidemiology counts %d", site, got[site], n)
			}
		}
	}},
	{"12. The counts the dashboards read", func(t *testing.T, f facts, rs [][]string) {
		f.samePerORPHA(t, sumBy(t, rs, 0, 1), "kept")
	}},
}

// samePerORPHA wants got, patients per ORPHA code, to be the epidemiology's.
func (f facts) samePerORPHA(t *testing.T, got map[string]float64, how string) {
	t.Helper()
	want := cells(f.table(t, "Patients par code ORPHA"))
	if len(got) != len(want) {
		t.Errorf("%d codes, the epidemiology has %d", len(got), len(want))
	}
	for code, n := range want {
		if got[code] != float64(n) {
			t.Errorf("ORPHA %s: %v patients %s, the epidemiology counts %d", code, got[code], how, n)
		}
	}
}

// TestAnalystQueries runs every worked query of docs/analysts.md on the
// hub's pipeline data, on ClickHouse 18.16 and on chDB 26.7, both read-only
// as the analyst user is, and wants the same rows from both, rows at all,
// and figures that agree with the hub's own (epidemiology, MR.2).
func TestAnalystQueries(t *testing.T) {
	s := testStore(t)
	srv, err := chcompat.ServerFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	load(t, s)
	e := chcompat.OpenEngine(t, srv, "../../..")
	p := &chcompat.Pair{Server: srv, Engine: e, DB: s.Database()}
	copied, err := p.Fill(ctx, append(store.Statements(), indicators.Statements()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("chDB: %d rows copied", copied)

	// The hub's figures, before the engines turn read-only.
	x := indicators.New(s)
	var f facts
	if f.epi, err = x.Epidemiology(ctx, 1); err != nil { // threshold 1: nothing hidden
		t.Fatal(err)
	}
	all, err := indicators.ParsePeriod("2000-01", "2030-12")
	if err != nil {
		t.Fatal(err)
	}
	if f.mr2, err = x.MR2(ctx, all, ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		into *uint64
		sql  string
	}{
		{&f.versions, `SELECT uniqExact(finess, set_id, version_number) FROM documents`},
		{&f.files, `SELECT uniqExact(finess, set_id) FROM documents`},
		{&f.refused, `SELECT uniqExact(mail_id, doc_index) FROM receipts WHERE accepted = 0`},
		{&f.refusedWithRules, `SELECT uniqExact(mail_id, doc_index) FROM receipts WHERE accepted = 0 AND notEmpty(failure_patterns)`},
		{&f.currentDiagnoses, `SELECT uniqExact(finess, set_id, version_number, ordinal) FROM diagnoses_current WHERE patient_key != ''`},
	} {
		out, err := srv.Query(ctx, s.Database(), c.sql, "TabSeparated")
		if err != nil {
			t.Fatal(err)
		}
		if *c.into, err = strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64); err != nil {
			t.Fatal(err)
		}
	}

	// The analyst's profile (deploy/k8s/base/clickhouse/bndmr-users.xml):
	// readonly = 1, on 18.16 for every query of this test's connection to
	// it, on chDB for the rest of the session; 26.7 refuses what 18.16
	// refuses.
	ro := *srv
	ro.Settings = map[string]string{"readonly": "1"}
	p.Server = &ro
	if err := e.Exec(ctx, "SET readonly = 1"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"INSERT INTO " + s.Database() + ".establishments (finess, name) VALUES ('x', 'y')",
		"SET max_result_rows = 5",
		"SELECT 1 SETTINGS max_block_size = 77",
		"CREATE TABLE " + s.Database() + ".mine (x UInt8) ENGINE = Memory",
	} {
		if err := e.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "readonly") {
			t.Errorf("chDB read-only: %s: %v, want a refusal in readonly mode", q, err)
		}
	}

	queries := docQueries(t, analystsPage)
	if len(queries) < 10 {
		t.Fatalf("%s has %d worked queries, want 10 or more", analystsPage, len(queries))
	}
	if len(queries) != len(analystChecks) {
		t.Errorf("%s has %d worked queries, the test checks %d: give each its check", analystsPage, len(queries), len(analystChecks))
	}
	total := 0
	for i, q := range queries {
		t.Run(q.title, func(t *testing.T) {
			server, engine, err := p.Run(ctx, store.Statement{Name: q.title, SQL: q.sql}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := chcompat.Diff(server, engine); d != "" {
				t.Errorf("ClickHouse 18.16 and 26.7 differ:\n%s", d)
			}
			if len(server.Rows) == 0 {
				t.Fatal("no row")
			}
			total += len(server.Rows)
			t.Logf("%d rows, types %s", len(server.Rows), server.Types)
			if i >= len(analystChecks) || !strings.HasPrefix(q.title, analystChecks[i].title) {
				t.Fatalf("no check for %q at position %d", q.title, i+1)
			}
			analystChecks[i].check(t, f, rows(server))
		})
	}
	t.Logf("%d queries of %s, %d rows in all, the same on both engines", len(queries), analystsPage, total)
}

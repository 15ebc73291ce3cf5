package main

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/chtest"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/indicators"
	"github.com/bndmr/hub/pkg/store"
)

// TestMigrateImportExport runs the three commands against a fresh database:
// migrate twice, import the reference CSVs, load two establishments' versions
// and export MR.2 (text, CSV) and the DGOS file (XLSX).
func TestMigrateImportExport(t *testing.T) {
	ctx := context.Background()
	dbDSN, _ := chtest.Database(t, "test_ctl")
	ctlCase{args: []string{"migrate", "--clickhouse", dbDSN}, errOut: "bndmrctl migrate: applied 0001_documents, 0002_clinical"}.run(t, ctx)
	ctlCase{args: []string{"migrate", "--clickhouse", dbDSN}, errOut: "bndmrctl migrate: the schema is up to date"}.run(t, ctx)
	dir := t.TempDir()
	files := map[string]string{
		"centres":        "\xEF\xBB\xBFfiness;centre_id;filiere;type;debut;fin\n750000010;S001;FAVA;coordonnateur;01/01/2023;\n",
		"dpi":            "finess;mois;nombre\n690000011;2026-10;4\n",
		"establishments": "finess;nom;debut_transmission\n750000010;CHU A;\n690000011;CHU B;2026-01-01\n",
	}
	for kind, body := range files {
		p := filepath.Join(dir, kind+".csv")
		os.WriteFile(p, []byte(body), 0o600)
		ctlCase{args: []string{"import", kind, "--clickhouse", dbDSN, "--author", "test-operator", p}, errOut: "bndmrctl import " + kind + ": "}.run(t, ctx)
	}
	st, err := store.Open(ctx, dbDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var recs []events.Record
	for i, v := range []struct {
		finess, set string
		version     int
	}{{"750000010", "a", 1}, {"750000010", "a", 3}, {"690000011", "b", 1}, {"690000011", "c", 1}} {
		recs = append(recs, events.Record{V: events.RecordV, MailID: fmt.Sprint(i), FINESS: v.finess, SetID: v.set,
			VersionNumber: v.version, EffectiveTime: "20261012", ReceivedAt: time.Now(), PatientTraitsPseudonym: "p" + v.set})
	}
	if err := st.InsertDocuments(ctx, recs); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "mr2.txt")
	ctlCase{args: []string{"export", "mr2", "--clickhouse", dbDSN, "--from", "2026-10", "--out", out}}.run(t, ctx)
	text, _ := os.ReadFile(out)
	// Without --out, the same table on stdout.
	if stdout, _ := (ctlCase{args: []string{"export", "mr2", "--clickhouse", dbDSN, "--from", "2026-10"}}).run(t, ctx); stdout != string(text) {
		t.Errorf("export mr2 printed\n%s\nwhile --out wrote\n%s", stdout, text)
	}
	// A: 2 transmitted of 3 (version 2 missing), estimated; B: 2 of 4 declared.
	for _, want := range []string{"CHU A", "66,7", "estimé", "CHU B", "50,0", "déclaré"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("MR.2 table lacks %q:\n%s", want, text)
		}
	}
	csv := filepath.Join(dir, "mr2.csv")
	ctlCase{args: []string{"export", "mr2", "--clickhouse", dbDSN, "--from", "2026-10", "--format", "csv", "--out", csv}, want: 0}.run(t, ctx)
	if b, _ := os.ReadFile(csv); !strings.HasPrefix(string(b), "\xEF\xBB\xBFFINESS;") || !strings.Contains(string(b), ";66,7;") {
		t.Errorf("MR.2 CSV:\n%s", b)
	}
	xlsx := filepath.Join(dir, "dgos.xlsx")
	ctlCase{args: []string{"export", "dgos", "--clickhouse", dbDSN, "--month", "2026-10", "--format", "xlsx", "--out", xlsx}, want: 0}.run(t, ctx)
	z, err := zip.OpenReader(xlsx)
	if err != nil {
		t.Fatalf("the DGOS workbook is not an XLSX (zip) file: %v", err)
	}
	sheets := 0
	for _, f := range z.File {
		if strings.HasPrefix(f.Name, "xl/worksheets/sheet") {
			sheets++
		}
	}
	z.Close()
	if sheets != 4 {
		t.Errorf("DGOS workbook has %d sheets, want 4", sheets)
	}
	page := filepath.Join(dir, "dashboard.html")
	ctlCase{args: []string{"export", "dashboard", "--clickhouse", dbDSN, "--month", "2026-10", "--out", page}, want: 0}.run(t, ctx)
	if b, _ := os.ReadFile(page); !strings.Contains(string(b), `id="chart-mr2"`) || !strings.Contains(string(b), "CHU B") {
		t.Errorf("dashboard page:\n%.500s", b)
	}
	// The served dashboard answers, then stops with its context.
	sctx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	var served strings.Builder
	go func() {
		done <- run(sctx, []string{"dashboard", "--clickhouse", dbDSN, "--addr", "127.0.0.1:18791"}, io.Discard, &served)
	}()
	var resp *http.Response
	for range 50 {
		if resp, err = http.Get("http://127.0.0.1:18791/api/mr2?from=2026-10"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("served dashboard: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	stop()
	if code := <-done; code != 0 || !strings.Contains(served.String(), "bndmrctl dashboard: http://127.0.0.1:18791/") {
		t.Errorf("dashboard exit %d, printed %q", code, served.String())
	}
	ctlCase{args: []string{"export", "dgos", "--clickhouse", dbDSN, "--month", "octobre"}, want: 1, errOut: `bndmrctl export dgos: month "octobre": expected AAAA-MM`}.run(t, ctx)
}

// TestExportReportHTML: `export report --format html` writes the page the
// indicators service serves for the same establishment and period (but for
// the instant it was generated).
func TestExportReportHTML(t *testing.T) {
	ctx := context.Background()
	dbDSN, _ := chtest.Database(t, "test_ctl_html")
	ctlCase{args: []string{"migrate", "--clickhouse", dbDSN}, errOut: "bndmrctl migrate: applied 0001_documents"}.run(t, ctx)
	st, err := store.Open(ctx, dbDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	received := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	if err := st.InsertReceipts(ctx, []events.MailOutcome{{V: events.OutcomeV, MailID: "m1", ReceivedAt: received,
		Documents: []events.DocumentOutcome{
			{Name: "ok.xml", FINESS: "750000010", SetID: "a", VersionNumber: 1, EffectiveTime: "20261012", Accepted: true},
			{Name: "bad.xml", FINESS: "750000010", SetID: "b", VersionNumber: 2, EffectiveTime: "20261012",
				Rejection: &events.Rejection{Code: "schematron", CISIS: 906, Reason: "document non conforme au profil SDM-MR_2024.01 (1 erreur(s))"},
				Failures:  []events.Failure{{Source: "SDM-MR_2024.01", Pattern: "p-sexe", Location: "/ClinicalDocument/recordTarget", Text: "Le sexe doit être codé"}}},
		}}}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "report.html")
	ctlCase{args: []string{"export", "report", "--clickhouse", dbDSN, "--finess", "750000010", "--from", "2026-11", "--format", "html", "--out", out}, want: 0}.run(t, ctx)
	cli, _ := os.ReadFile(out)
	srv := httptest.NewServer((&indicators.Server{X: indicators.New(st)}).Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/report?finess=750000010&from=2026-11")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	generated := regexp.MustCompile(`généré le [0-9/: ]+`)
	if a, b := generated.ReplaceAllString(string(cli), ""), generated.ReplaceAllString(string(served), ""); a != b {
		t.Errorf("the CLI's page differs from the service's:\n--- CLI\n%s\n--- service\n%s", a, b)
	}
	for _, want := range []string{"<!DOCTYPE html>", "Le sexe doit être codé (source : SDM-MR_2024.01, règle p-sexe ; emplacement : /ClinicalDocument/recordTarget)",
		"20/11/2026 11:00", "MR.2 des mois de document (2026-10)"} {
		if !strings.Contains(string(cli), want) {
			t.Errorf("the CLI's page lacks %q", want)
		}
	}
	ctlCase{args: []string{"export", "mr2", "--clickhouse", dbDSN, "--from", "2026-10", "--format", "html"}, want: 2, errOut: "--format html is for report"}.run(t, ctx)
}

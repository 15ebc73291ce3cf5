package indicators

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/ack"
	"github.com/bndmr/hub/pkg/chtest"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/testsupport"
	"github.com/bndmr/hub/pkg/topology/chinstance"
)

// TestReceptionTimesInParis: the report writes the reception instant in
// Paris time and says so, whatever the ClickHouse server's time zone. The
// shared server runs in Europe/Paris; a second one, started here, in UTC.
func TestReceptionTimesInParis(t *testing.T) {
	utc := startClickHouseIn(t, "UTC")
	for _, tc := range []struct {
		name string
		st   *store.Store
	}{{"server in Europe/Paris", testStore(t)}, {"server in UTC", migratedOn(t, utc)}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			var zone string
			if err := tc.st.Conn().QueryRow(ctx, "SELECT timezone()").Scan(&zone); err != nil {
				t.Fatal(err)
			}
			t.Logf("server time zone %s", zone)
			// 10:00 UTC on 20 November is 11:00 in Paris; 23:30 UTC on
			// 31 October is 00:30 on 1 November in Paris, so in November.
			outs := []events.MailOutcome{
				{V: events.OutcomeV, MailID: "m1", ReceivedAt: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
					Documents: []events.DocumentOutcome{{Name: "a.xml", FINESS: finA, SetID: "s1", VersionNumber: 1,
						EffectiveTime: oct, Rejection: &events.Rejection{Code: "schematron", CISIS: 906, Reason: "non conforme"}}}},
				{V: events.OutcomeV, MailID: "m2", ReceivedAt: time.Date(2026, 10, 31, 23, 30, 0, 0, time.UTC),
					Documents: []events.DocumentOutcome{{Name: "b.xml", FINESS: finA, SetID: "s2", VersionNumber: 1,
						EffectiveTime: oct, Rejection: &events.Rejection{Code: "schematron", CISIS: 906, Reason: "non conforme"}}}},
			}
			if err := tc.st.InsertReceipts(ctx, outs); err != nil {
				t.Fatal(err)
			}
			r, err := New(tc.st).Reception(ctx, finA, mustMonth(t, "2026-11"))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range r.RejectedDocs {
				got = append(got, d.MailID+" "+ParisTime(d.ReceivedAt))
			}
			if want := []string{"m1 20/11/2026 11:00", "m2 01/11/2026 00:30"}; strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("rejected documents received at %q, want %q", got, want)
			}
			var b bytes.Buffer
			if err := RenderReception(&b, r); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"<th>Reçu le (heure de Paris)</th>", "<td>20/11/2026 11:00</td>", "<td>01/11/2026 00:30</td>"} {
				if !strings.Contains(b.String(), want) {
					t.Errorf("the page lacks %q", want)
				}
			}
			if strings.Contains(b.String(), "UTC") {
				t.Error("the page still names UTC")
			}
		})
	}
}

// TestReceptionNamesFailedRules: a refused document's failed assertions are
// in the report as the MDN of the same outcome writes them (pkg/ack builds
// it), the rule, its source and its location, up to the same limit.
func TestReceptionNamesFailedRules(t *testing.T) {
	st := testStore(t)
	ctx := context.Background()
	var fs []events.Failure
	for i := range store.MaxFailuresStored + 2 {
		fs = append(fs, events.Failure{Source: "SDM-MR_2024.01", Pattern: fmt.Sprintf("p-sexe-%d", i),
			Location: fmt.Sprintf("/ClinicalDocument/recordTarget[%d]/patientRole", i+1),
			Text:     fmt.Sprintf("Le sexe administratif  doit être codé\n (cas %d)", i)})
	}
	fs[1] = events.Failure{Source: "XSD", Text: "élément inattendu"} // no rule, no location
	o := events.MailOutcome{V: events.OutcomeV, MailID: "m1", MessageID: "<m1@chu.fr>", ReceivedAt: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
		Documents: []events.DocumentOutcome{{Name: "a.xml", FINESS: finA, SetID: "s1", VersionNumber: 1, EffectiveTime: nov,
			Rejection: &events.Rejection{Code: "schematron", CISIS: 906,
				Reason: fmt.Sprintf("document non conforme au profil SDM-MR_2024.01 (%d erreur(s))", len(fs))}, Failures: fs}}}
	for range 2 { // a redelivery changes nothing
		if err := st.InsertReceipts(ctx, []events.MailOutcome{o}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := New(st).Reception(ctx, finA, mustMonth(t, "2026-11"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.RejectedDocs) != 1 {
		t.Fatalf("rejected documents: %+v", r.RejectedDocs)
	}
	d := r.RejectedDocs[0]
	if d.FailureCount != uint32(len(fs)) || len(d.Failures) != store.MaxFailuresStored {
		t.Fatalf("%d failures of %d listed, want %d of %d", len(d.Failures), d.FailureCount, store.MaxFailuresStored, len(fs))
	}
	// The MDN's lines for the document's rules: "* text" then "(where)".
	mdn := ack.Text(o)
	var want []string
	lines := strings.Split(mdn, "\n")
	for i, l := range lines {
		if text, ok := strings.CutPrefix(l, "      * "); ok {
			if where, ok := strings.CutPrefix(lines[i+1], "        ("); ok {
				text += " (" + where
			}
			want = append(want, text)
		}
		if more, ok := strings.CutPrefix(l, "      … et "); ok {
			want = append(want, "… et "+more)
		}
	}
	got := d.FailureLines()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("report lists\n%s\nMDN lists\n%s\n(MDN text:\n%s)", strings.Join(got, "\n"), strings.Join(want, "\n"), mdn)
	}
	var b bytes.Buffer
	if err := RenderReception(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, w := range []string{"<li>Le sexe administratif doit être codé (cas 0) (source : SDM-MR_2024.01, règle p-sexe-0 ; emplacement : /ClinicalDocument/recordTarget[1]/patientRole)</li>",
		"<li>élément inattendu (source : XSD)</li>", "<li>… et 2 autres</li>"} {
		if !strings.Contains(page, w) {
			t.Errorf("the page lacks %q", w)
		}
	}
	var csv bytes.Buffer
	if err := WriteCSV(&csv, r.Tables()...); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), "règle p-sexe-29 ; emplacement") || !strings.Contains(csv.String(), "… et 2 autres") {
		t.Errorf("CSV lacks the rules:\n%s", csv.String())
	}
}

// TestReceptionMR2ByDocumentMonth: the fixture's mails all arrived on
// 20 November and carried documents of October and November. A November
// report shows MR.2 of both document months and says so; an October report
// (no mail received) shows none, whatever October's documents.
func TestReceptionMR2ByDocumentMonth(t *testing.T) {
	st := testStore(t)
	newFixture().load(t, st)
	x := New(st)
	ctx := context.Background()
	for _, tc := range []struct {
		finess, month string
		months        []string
		rates         []string // month: transmitted/estimated
		heading       string
	}{
		{finA, "2026-11", []string{"2026-10", "2026-11"}, []string{"2026-10 5/8", "2026-11 2/3"},
			"MR.2 des mois de document (2026-10, 2026-11) des documents reçus sur la période"},
		{finB, "2026-11", []string{"2026-10"}, []string{"2026-10 3/4"},
			"MR.2 des mois de document (2026-10) des documents reçus sur la période"},
		{finA, "2026-10", []string{}, nil, "MR.2 — aucun document reçu sur la période"},
		{finC, "2026-11", []string{}, nil, "MR.2 — aucun document reçu sur la période"},
	} {
		r, err := x.Reception(ctx, tc.finess, mustMonth(t, tc.month))
		if err != nil {
			t.Fatal(err)
		}
		var rates []string
		for _, m := range r.MR2 {
			rates = append(rates, fmt.Sprintf("%s %d/%d", m.Month, m.Transmitted, m.Denominator))
		}
		if strings.Join(r.MR2Months, ",") != strings.Join(tc.months, ",") || strings.Join(rates, ",") != strings.Join(tc.rates, ",") {
			t.Errorf("%s received %s: MR.2 of %q: %q, want of %q: %q", tc.finess, tc.month, r.MR2Months, rates, tc.months, tc.rates)
		}
		var b bytes.Buffer
		if err := RenderReception(&b, r); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), `<h2 id="mr2-heading">`+tc.heading+`</h2>`) {
			t.Errorf("%s received %s: the page lacks the heading %q", tc.finess, tc.month, tc.heading)
		}
	}
}

// startClickHouseIn starts a ClickHouse server of its own whose time zone
// is zone (scripts/clickhouse-instance.sh), stopped at the end of the test,
// and returns its DSN.
func startClickHouseIn(t *testing.T, zone string) string {
	t.Helper()
	chtest.DSN(t) // skips the test outside `make test`, as the others
	dir := t.TempDir()
	extra := filepath.Join(dir, "timezone.xml")
	if err := os.WriteFile(extra, []byte("<yandex><timezone>"+zone+"</timezone></yandex>\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tcp := testsupport.FreePort(t)
	chinstance.Start(t, chinstance.Config{Dir: filepath.Join(dir, "ch"), TCP: tcp, HTTP: testsupport.FreePort(t), Extra: extra})
	return fmt.Sprintf("clickhouse://127.0.0.1:%d/default", tcp)
}

// migratedOn opens dsn's server and migrates its default database.
func migratedOn(t *testing.T, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReceptionScreenshot renders finA's November reception report (the
// fixture and a refused document with its failed assertions) in headless
// Chromium and saves a screenshot to $BNDMR_SCREENSHOT (a temporary file
// otherwise), for a person to look at.
func TestReceptionScreenshot(t *testing.T) {
	st := testStore(t)
	newFixture().load(t, st)
	fs := []events.Failure{
		{Source: "SDM-MR_2024.01", Pattern: "p-patient-sexe", Location: "/ClinicalDocument/recordTarget/patientRole/patient/administrativeGenderCode",
			Text: "Le sexe administratif du patient doit être codé dans le jeu de valeurs JDV_HL7_AdministrativeGender-CISIS."},
		{Source: "XSD", Location: "ligne 42, colonne 7", Text: "Élément 'effectiveTime' inattendu : 'code' attendu."},
	}
	if err := st.InsertReceipts(context.Background(), []events.MailOutcome{{V: events.OutcomeV, MailID: "rej-a6-1",
		ReceivedAt: time.Date(2026, 11, 21, 16, 45, 0, 0, time.UTC), Documents: []events.DocumentOutcome{{Name: "IHE_XDM/SUBSET01/DOC0001.XML",
			FINESS: finA, SetID: "a6", VersionNumber: 1, EffectiveTime: nov, Failures: fs,
			Rejection: &events.Rejection{Code: "schematron", CISIS: 906, Reason: "document non conforme au profil SDM-MR_2024.01 (2 erreur(s))"}}}}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&Server{X: New(st)}).Handler())
	defer srv.Close()
	out := os.Getenv("BNDMR_SCREENSHOT")
	if out == "" {
		out = filepath.Join(t.TempDir(), "reception.png")
	}
	chromium(t, "--screenshot="+out, "--window-size=1200,1600", "--hide-scrollbars", srv.URL+"/report?finess="+finA+"&from=2026-11")
	if st, err := os.Stat(out); err != nil || st.Size() < 20_000 {
		t.Fatalf("screenshot %s: %v %v", out, st, err)
	}
	t.Logf("reception report screenshot: %s", out)
}

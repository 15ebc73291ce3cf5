package indicators

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/kit"
)

// kitConcept reads the displayName of a code from a file of the kit (a
// value set or an example): what the exports must show beside the code.
func kitConcept(t *testing.T, path, code string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\bcode="` + regexp.QuoteMeta(code) + `"[^>]*?displayName="([^"]*)"`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s names no code %s", path, code)
	}
	return string(m[1])
}

func kitLabels(t *testing.T, dir string) *kit.Labels {
	t.Helper()
	l, err := kit.LoadLabels(dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The epidemiology exports (JSON, CSV) show, beside a code, the name the
// kit's value sets give it (the patients' sex: JDV_HL7_AdministrativeGender),
// and the code alone where the kit names none (the ORPHA codes: the kit
// ships no ORPHA value set); without the kit, the exports are as before.
func TestEpidemiologyCodeNames(t *testing.T) {
	dir, err := kit.Dir()
	if err != nil {
		t.Fatal(err)
	}
	female := kitConcept(t, filepath.Join(dir, "kit-3.0", "jeuxDeValeurs", "JDV_HL7_AdministrativeGender_CISIS.xml"), "F")
	s := testStore(t)
	recs, _, _, _ := epiWorld()
	if err := keptWriter(t, s).Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	e, err := New(s).Epidemiology(context.Background(), DefaultThreshold)
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	if err := WriteCSV(&plain, e.ExportTables()...); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "Libellé") {
		t.Error("the export without names has a column of names")
	}

	e.Name(kitLabels(t, dir))
	js, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var back Epidemiology
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	namedF, orpha := 0, 0
	for _, tb := range back.Tables {
		for _, g := range tb.Groups {
			for _, c := range g.Cells {
				switch tb.Title {
				case "Patients par département de résidence et sexe":
					if c.Labels[1] == "F" {
						if len(c.Names) != 2 || c.Names[1] != female || c.Names[0] != "" {
							t.Errorf("%v: names %q, want the kit's %q beside F", c.Labels, c.Names, female)
						}
						namedF++
					}
				case "Patients par code ORPHA":
					if c.Names != nil {
						t.Errorf("ORPHA %s: names %q, the kit names none", c.Labels[0], c.Names)
					}
					orpha++
				}
			}
		}
	}
	if namedF == 0 || orpha == 0 {
		t.Fatalf("%d cells of sex F, %d ORPHA cells: the world does not exercise the names", namedF, orpha)
	}

	var named bytes.Buffer
	if err := WriteCSV(&named, e.ExportTables()...); err != nil {
		t.Fatal(err)
	}
	out := named.String()
	for _, want := range []string{"Département;Sexe;Libellé (Sexe);Patients", "Code ORPHA;Libellé (Code ORPHA);Patients",
		";F;" + female + ";", "\r\n558;;"} {
		if !strings.Contains(out, want) {
			t.Errorf("the named CSV has no %q:\n%s", want, out)
		}
	}
}

// The dashboard's ORPHA codes carry the name of the ORPHA value set when
// the operator adds one to the kit (JDV_Orpha_Maladies, from the ANS), and
// stay alone otherwise. The value set here names ORPHA 513 as the kit's
// official example does.
func TestDashboardCodeNames(t *testing.T) {
	dir, err := kit.Dir()
	if err != nil {
		t.Fatal(err)
	}
	name := kitConcept(t, filepath.Join(dir, "examples", "sdm-mr", "SDM-MR_2024.01_nouveau-ne.xml"), "513")
	withOrpha := t.TempDir()
	if err := os.Symlink(filepath.Join(dir, "kit-3.0"), filepath.Join(withOrpha, "kit-3.0")); err != nil {
		t.Fatal(err)
	}
	vs := filepath.Join(withOrpha, "kit-3.1", "jeuxDeValeurs")
	if err := os.MkdirAll(vs, 0o755); err != nil {
		t.Fatal(err)
	}
	svs := `<?xml version="1.0" encoding="UTF-8"?>
<RetrieveValueSetResponse xmlns="urn:ihe:iti:svs:2008"><ValueSet id="1.2.250.1.213.1.1.5.999" displayName="JDV_Orpha_Maladies">
<ConceptList><Concept code="513" codeSystem="` + kit.ORPHA + `" displayName="` + html.EscapeString(name) + `"/></ConceptList>
</ValueSet></RetrieveValueSetResponse>`
	if err := os.WriteFile(filepath.Join(vs, "JDV_Orpha_Maladies.xml"), []byte(svs), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kit       string
		want, not []string
	}{
		{withOrpha, []string{"<title>ORPHA:513 " + html.EscapeString(name) + "</title>", "<title>ORPHA:999999</title>"}, nil},
		{dir, []string{"<title>ORPHA:513</title>", "<title>ORPHA:999999</title>"}, []string{name}},
	} {
		d := &Dashboard{Month: "2026-10", Threshold: DefaultThreshold,
			TopORPHA: []Count{{Labels: []string{"513"}, N: 12}, {Labels: []string{"999999"}, N: 11}}}
		d.Name(kitLabels(t, tc.kit))
		var page bytes.Buffer
		if err := RenderDashboard(&page, d); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(page.String(), w) {
				t.Errorf("kit %s: the dashboard has no %q", tc.kit, w)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(page.String(), w) {
				t.Errorf("kit %s: the dashboard shows %q", tc.kit, w)
			}
		}
	}
}

package pseudonymisation

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/cda"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/testsupport"
	"github.com/bndmr/hub/pkg/xmldoc"
)

const (
	exNewborn  = "SDM-MR_2024.01_nouveau-ne.xml"
	exPregnant = "SDM-MR_2024.01_patiente-enceinte.xml"
	exPost     = "SDM-MR_2024.01_patiente-post-grossesse.xml"
)

// readExample returns an official example (read from the kit, never
// copied into the repository).
func readExample(tb testing.TB, name string) string {
	tb.Helper()
	dir, err := kit.Dir()
	if err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "examples", "sdm-mr", name))
	if err != nil {
		tb.Fatal(err)
	}
	return string(data)
}

// extract parses and extracts one document as the validator does.
func extract(tb testing.TB, src string, index int) events.Extracted {
	tb.Helper()
	doc, err := xmldoc.Parse([]byte(src), xmldoc.DefaultLimits)
	if err != nil {
		tb.Fatal(err)
	}
	defer doc.Free()
	d, err := cda.Extract(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return events.Extracted{V: events.ExtractedV, MailID: "m", DocIndex: index, Header: d.Header, Document: d}
}

// withoutOpposition turns the examples' GEN-315 (they all carry it) into
// GEN-317, so that their clinical content reaches the record.
func withoutOpposition(tb testing.TB, src string) string {
	tb.Helper()
	if strings.Count(src, `code="GEN-315"`) != 1 {
		tb.Fatal("the example does not carry GEN-315 once")
	}
	return strings.Replace(src, `code="GEN-315"`, `code="GEN-317"`, 1)
}

// The official examples: the mother's record links to her children through
// the fetus and newborn pseudonyms, which equal the IPP keys of the
// newborn's own document.
func TestExamplesLinkMotherAndChild(t *testing.T) {
	p := testPseudonymiser(t, Options{})
	rec := func(name string) events.Record {
		r, err := p.Record(extract(t, withoutOpposition(t, readExample(t, name)), 0))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	newborn, pregnant, post := rec(exNewborn), rec(exPregnant), rec(exPost)
	if pregnant.PatientINSPseudonym == "" || pregnant.PatientINSPseudonym != post.PatientINSPseudonym ||
		pregnant.PatientTraitsPseudonym == "" || pregnant.PatientTraitsPseudonym != post.PatientTraitsPseudonym {
		t.Error("the mother's two documents do not link")
	}
	if newborn.PatientINSPseudonym == post.PatientINSPseudonym {
		t.Error("the newborn has its mother's pseudonym")
	}
	has := func(keys []string, k string) bool {
		for _, x := range keys {
			if x == k {
				return true
			}
		}
		return false
	}
	if len(post.Pregnancies) != 1 || len(post.Pregnancies[0].Births) != 2 {
		t.Fatalf("post-pregnancy record: %+v", post.Pregnancies)
	}
	born := post.Pregnancies[0].Births[0].Subject
	if born == nil || !has(newborn.IPPKeys, born.Pseudonym) || !has(newborn.IPPKeys, born.NewbornPseudonym) || born.Pseudonym == born.NewbornPseudonym {
		t.Errorf("born child %+v does not link to the newborn's IPP keys %v", born, newborn.IPPKeys)
	}
	if born.BirthYearMonth != "2024-02" || born.Sex != "F" {
		t.Errorf("born child %+v", born)
	}
	lost := post.Pregnancies[0].Births[1].Subject
	if lost == nil || lost.Pseudonym == "" || lost.Pseudonym == born.Pseudonym || lost.NewbornPseudonym != "" {
		t.Errorf("second fetus %+v", lost)
	}
	// The fetus followed during the pregnancy is the same child.
	var fetus string
	for _, a := range pregnant.Activities {
		if a.Fetus != nil {
			fetus = a.Fetus.Pseudonym
		}
	}
	if fetus == "" || fetus != born.Pseudonym {
		t.Errorf("activity fetus %q, born child %q", fetus, born.Pseudonym)
	}
	if post.DeathYearMonth != "2024-02" || post.Deceased == nil || !*post.Deceased || post.DeathDueToRD == nil || post.DeathDueToRD.YearMonth != "2024-02" {
		t.Errorf("death: %v %v %+v", post.DeathYearMonth, post.Deceased, post.DeathDueToRD)
	}
	if post.ResidenceDepartement != "75" || post.BirthplaceDepartement != "75" || post.BirthYearMonth != "1977-07" {
		t.Errorf("generalised identity: %q %q %q", post.ResidenceDepartement, post.BirthplaceDepartement, post.BirthYearMonth)
	}
	if len(post.Diagnoses) != 1 || post.Diagnoses[0].Disease == nil || post.Diagnoses[0].Disease.Code != "513" {
		t.Errorf("diagnoses %+v", post.Diagnoses)
	}
	if len(post.Activities) != 2 || post.Activities[0].ConsultationDepartement != "75" {
		t.Errorf("activities %+v", post.Activities)
	}
}

// As published, the official examples (which all carry GEN-315) are
// opposition records.
func TestExamplesOpposition(t *testing.T) {
	p := testPseudonymiser(t, Options{})
	for _, name := range []string{exNewborn, exPregnant, exPost} {
		r, err := p.Record(extract(t, readExample(t, name), 0))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r)
		if !r.Opposition || r.PatientINSPseudonym != "" || len(r.Diagnoses) != 0 || strings.Contains(string(b), "diagnoses") {
			t.Errorf("%s: %s", name, b)
		}
	}
}

func BenchmarkPseudonymise(b *testing.B) {
	var exts []events.Extracted
	for _, n := range []string{exNewborn, exPregnant, exPost} {
		exts = append(exts, extract(b, withoutOpposition(b, readExample(b, n)), 0))
	}
	k, err := NewKey("bench", testSecret(3), true)
	if err != nil {
		b.Fatal(err)
	}
	kr, err := NewKeyring(k)
	if err != nil {
		b.Fatal(err)
	}
	p := New(kr, Options{})
	b.ReportAllocs()
	i := 0
	cpu0 := testsupport.CPUTime()
	for b.Loop() {
		r, err := p.Record(exts[i%len(exts)])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(r); err != nil {
			b.Fatal(err)
		}
		i++
	}
	// CPU time per record: on a shared machine wall time measures the
	// neighbours as much as the code.
	b.ReportMetric(float64(testsupport.CPUTime()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

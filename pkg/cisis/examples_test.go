package cisis

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/cda"
	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/schematron"
	"github.com/bndmr/hub/pkg/xmldoc"
)

// TestLoadReportsCompileErrors: every rule of the routed profiles compiles
// (kit-2.41's broken IHE.sch is not part of any profile); each error names
// its schematron, pattern and rule.
func TestLoadReportsCompileErrors(t *testing.T) {
	e := testEngine(t)
	for _, err := range e.CompileErrors {
		t.Errorf("compile error: %v", err)
	}
	for _, m := range e.MissingValueSets {
		t.Logf("value set named but absent from the kit: %s (absent from the official kit too: %v)", m, MissingFromOfficialKit(m))
	}
	if !slices.IsSorted(e.MissingValueSets) || len(slices.Compact(slices.Clone(e.MissingValueSets))) != len(e.MissingValueSets) {
		t.Errorf("MissingValueSets is not a sorted list of distinct files: %q", e.MissingValueSets)
	}
	if !slices.ContainsFunc(e.MissingValueSets, MissingFromOfficialKit) {
		t.Errorf("JDV_ClinicalStatusCodes_CISIS.xml, absent from the official kit, is not reported: %q", e.MissingValueSets)
	}
}

// TestBrokenKitRuleIsReported loads kit-2.41's IHE.sch, which has a genuine
// XPath syntax error: it must be reported by name and the others compiled.
func TestBrokenKitRuleIsReported(t *testing.T) {
	dir, err := kit.Dir()
	if err != nil {
		t.Fatal(err)
	}
	s, err := schematron.Compile("IHE", filepath.Join(dir, "kit-2.41/schematrons/profils/IHE.sch"), schematron.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.CompileErrors) == 0 {
		t.Fatal("kit-2.41 IHE.sch compiled without error, but it holds an XPath syntax error")
	}
	for _, err := range s.CompileErrors {
		if !strings.Contains(err.Error(), "pattern ") {
			t.Errorf("compile error does not name its pattern: %v", err)
		}
		t.Logf("reported: %v", err)
	}
	if s.Rules() < 100 {
		t.Errorf("only %d rules compiled: one broken rule must not stop the others", s.Rules())
	}
}

func TestOfficialExamplesValid(t *testing.T) {
	e := testEngine(t)
	dir, _ := kit.Dir()
	paths, _ := filepath.Glob(filepath.Join(dir, "examples/sdm-mr/*.xml"))
	if len(paths) < 6 {
		t.Fatalf("found %d official examples, want 6", len(paths))
	}
	for _, p := range paths {
		rep, err := validateFile(t, e, p)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		if !rep.Valid {
			t.Errorf("%s (profile %s) invalid: %v", filepath.Base(p), rep.Profile, rep.Failures())
		}
		if want := "SDM-MR_" + profileVersionOfName(filepath.Base(p)); rep.Profile != want {
			t.Errorf("%s: profile %s, want %s", filepath.Base(p), rep.Profile, want)
		}
	}
}

// validateFile validates the document of the file at path with e's
// automatic profile choice; a file it cannot read or parse fails the test.
func validateFile(t *testing.T, e *Engine, path string) (*Report, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := xmldoc.Parse(data, xmldoc.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Free()
	return e.Validate(context.Background(), doc, Options{})
}

func profileVersionOfName(n string) string {
	if strings.Contains(n, "2017") {
		return "2017"
	}
	return n[len("SDM-MR_"):len("SDM-MR_2024.01")]
}

func TestOtherCDARejected(t *testing.T) {
	e := testEngine(t)
	dir, _ := kit.Dir()
	paths, _ := filepath.Glob(filepath.Join(dir, "examples/other-cda/*.xml"))
	if len(paths) != 4 {
		t.Fatalf("found %d other-cda documents, want 4", len(paths))
	}
	for _, p := range paths {
		_, err := validateFile(t, e, p)
		if !errors.Is(err, cda.ErrNotSDMMR) {
			t.Errorf("%s: error %v, want cda.ErrNotSDMMR", filepath.Base(p), err)
		}
	}
}

func TestUnknownVersionRejected(t *testing.T) {
	e := testEngine(t)
	dir, _ := kit.Dir()
	data, err := os.ReadFile(filepath.Join(dir, "examples/sdm-mr/SDM-MR_2024.01_nouveau-ne.xml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"2099.01", "2023.01"} {
		mut := strings.Replace(string(data), `extension="2024.01"`, `extension="`+v+`"`, 1)
		doc, err := xmldoc.Parse([]byte(mut), xmldoc.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Validate(context.Background(), doc, Options{})
		doc.Free()
		if !errors.Is(err, ErrUnknownVersion) || !strings.Contains(err.Error(), v) {
			t.Errorf("version %s: error %v, want ErrUnknownVersion naming it", v, err)
		}
	}
	if _, err := e.Profile("SDM-MR_1999"); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("forced unknown profile: %v", err)
	}
}

// TestLoadClose loads and frees a second engine: nothing is shared between
// engines, so freeing one leaves the other working.
func TestLoadClose(t *testing.T) {
	dir, err := kit.Dir()
	if err != nil {
		t.Fatal(err)
	}
	e2, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	e2.Close()
	e := testEngine(t)
	if rep, err := validateFile(t, e, filepath.Join(dir, "examples/sdm-mr/SDM-MR_2022.01.xml")); err != nil || !rep.Valid {
		t.Fatalf("after closing another engine: %v %v", err, rep)
	}
}

package kit

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// The names come from the kit's value set files: the test reads the file
// itself for the name it expects.
func TestLoadLabels(t *testing.T) {
	dir, err := Dir()
	if err != nil {
		t.Skipf("no CI-SIS kit: %v", err)
	}
	l, err := LoadLabels(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d codes named by %d value sets", l.Len(), l.Files())
	for _, tc := range []struct{ file, system, code string }{
		{"JDV_StatutActuelDiagnostic_CISIS.xml", "2.16.840.1.113883.6.96", "255545003"},
		{"JDV_HL7_AdministrativeGender_CISIS.xml", AdministrativeGender, "F"},
		{"JDV_IssueGrossesse_CISIS.xml", CIM10, "O04"},
	} {
		want := conceptName(t, filepath.Join(dir, "kit-3.0", "jeuxDeValeurs", tc.file), tc.code)
		if got := l.Label(tc.system, tc.code); got != want || want == "" {
			t.Errorf("%s %s: %q, the kit's %s says %q", tc.system, tc.code, got, tc.file, want)
		}
	}
	for _, tc := range []struct{ system, code string }{
		{ORPHA, "999999999"},                // no such code
		{"1.2.250.1.213.2.49.9", "F"},       // a known code of another system
		{AdministrativeGender, "255545003"}, // a known code in another system
	} {
		if got := l.Label(tc.system, tc.code); got != "" {
			t.Errorf("%s %s: %q, want no name", tc.system, tc.code, got)
		}
	}
	var none *Labels
	if none.Label(AdministrativeGender, "F") != "" {
		t.Error("a nil Labels names a code")
	}
}

// conceptName reads the displayName of code from a value set file.
func conceptName(t *testing.T, path, code string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?s)<Concept\s[^>]*?code="` + regexp.QuoteMeta(code) + `"[^>]*?displayName="([^"]*)"`)
	m := re.FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s has no concept %s", path, code)
	}
	return string(m[1])
}

func TestKitVersionOrder(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"x/kit-2.41/jeuxDeValeurs", "x/kit-3.0/jeuxDeValeurs", true},
		{"x/kit-2.22/jeuxDeValeurs", "x/kit-2.41/jeuxDeValeurs", true},
		{"x/kit-3.0/jeuxDeValeurs", "x/kit-2.41/jeuxDeValeurs", false},
	} {
		if got := kitVersionLess(tc.a, tc.b); got != tc.less {
			t.Errorf("%s < %s: %v", tc.a, tc.b, got)
		}
	}
}

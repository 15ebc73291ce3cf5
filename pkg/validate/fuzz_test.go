package validate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bndmr/hub/pkg/cda"
	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/xmldoc"
)

// FuzzValidate feeds untrusted bytes through the whole entry point: parse,
// profile choice, XSD and every schematron of the forced 2024.01 profile.
// Nothing may crash, and the verdict must be coherent.
func FuzzValidate(f *testing.F) {
	e := testEngine(f)
	dir, err := kit.Dir()
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"sdm-mr/SDM-MR_2024.01_nouveau-ne.xml", "other-cda/VAC_2023.01.xml"} {
		data, err := os.ReadFile(filepath.Join(dir, "examples", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><templateId root="1.2.250.1.213.1.1.1.30" extension="2024.01"/><component><structuredBody><component><section><templateId root="1.3.6.1.4.1.19376.1.5.3.1.1.5.3.4"/><entry><organizer/></entry></section></component></structuredBody></component></ClinicalDocument>`))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := xmldoc.Parse(data, xmldoc.DefaultLimits)
		if err != nil {
			return
		}
		defer doc.Free()
		if _, err := e.Validate(ctx, doc, Options{}); err != nil &&
			!errors.Is(err, cda.ErrNotSDMMR) && !errors.Is(err, ErrUnknownVersion) {
			t.Fatalf("unexpected error choosing the profile: %v", err)
		}
		rep, err := e.Validate(ctx, doc, Options{Profile: "SDM-MR_2024.01"})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Valid && (!rep.XSDValid || len(rep.XSDErrors) > 0) {
			t.Fatal("valid although the XSD failed")
		}
		for _, s := range rep.Schematrons {
			for _, x := range s.Failures {
				if x.Kind == "assert" && rep.Valid {
					t.Fatal("valid with a failed assert")
				}
				if x.Location == "" || x.Pattern == "" {
					t.Fatalf("failure without location or pattern: %+v", x)
				}
			}
		}
	})
}

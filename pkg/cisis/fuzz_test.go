package cisis

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
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
	// Small seeds, so that a few seconds of fuzzing get past them: the
	// newborn example's header with an empty body, as each model version
	// (templateId extension), and with each body section of it alone.
	full, err := os.ReadFile(filepath.Join(dir, "examples", "sdm-mr", "SDM-MR_2024.01_nouveau-ne.xml"))
	if err != nil {
		f.Fatal(err)
	}
	body := bytes.Index(full, []byte("<structuredBody"))
	bodyEnd := bytes.LastIndex(full, []byte("</structuredBody>"))
	if body < 0 || bodyEnd < 0 {
		f.Fatal("the newborn example has no structuredBody")
	}
	head := string(full[:body])
	empty := head + "<structuredBody/></component></ClinicalDocument>\n"
	const tpl = `<templateId root="1.2.250.1.213.1.1.1.30" extension="2024.01"/>`
	if !strings.Contains(empty, tpl) {
		f.Fatal("the newborn example's SDM-MR templateId changed")
	}
	for _, ext := range []string{`extension="2024.01"`, `extension="2022.01"`, `extension="2021.01"`, ``, `extension="2099.01"`} {
		f.Add([]byte(strings.Replace(empty, tpl, `<templateId root="1.2.250.1.213.1.1.1.30" `+ext+`/>`, 1)))
	}
	// Top-level sections: each <component> directly under structuredBody.
	inner := string(full[bytes.IndexByte(full[body:], '>')+body+1 : bodyEnd])
	for depth, start, i := 0, -1, 0; i < len(inner); i++ {
		switch {
		case strings.HasPrefix(inner[i:], "<component"):
			if depth == 0 {
				start = i
			}
			depth++
		case strings.HasPrefix(inner[i:], "</component>"):
			depth--
			if depth == 0 && start >= 0 {
				end := i + len("</component>")
				f.Add([]byte(head + "<structuredBody>" + inner[start:end] + "</structuredBody></component></ClinicalDocument>\n"))
			}
		}
	}
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

package cda

import (
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lestrrat-go/libxml2/types"

	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/testsupport"
	"github.com/bndmr/hub/pkg/xmldoc"
)

// Every official example, every field.
func TestExtractExamples(t *testing.T) {
	for _, name := range allExamples {
		t.Run(name, func(t *testing.T) {
			want, ok := expectedExtraction[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			var wantDoc sdmmr.Document
			dec := json.NewDecoder(strings.NewReader(want))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&wantDoc); err != nil {
				t.Fatalf("expectation does not fit sdmmr.Document: %v", err)
			}
			got, err := Extract(example(t, name))
			if err != nil {
				t.Fatal(err)
			}
			assertJSON(t, name, got, &wantDoc)
			// ExtractHeader gives the same header, minus the body consents
			// (≤2021) that only a full extraction sees.
			h, err := ExtractHeader(example(t, name))
			if err != nil {
				t.Fatal(err)
			}
			wantH := wantDoc.Header
			var keep []sdmmr.Consent
			for _, c := range wantH.Consents {
				if c.Source == "header" {
					keep = append(keep, c)
				}
			}
			wantH.Consents = keep
			assertJSON(t, name+" header", h, &wantH)
		})
	}
}

// rawExample returns an official example's bytes.
func rawExample(t *testing.T, name string) string {
	t.Helper()
	dir, err := kit.Dir()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "examples", "sdm-mr", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func parse(t *testing.T, s string) types.Document {
	t.Helper()
	doc, err := xmldoc.Parse([]byte(s), xmldoc.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(doc.Free)
	return doc
}

// replaceOnce replaces the single occurrence of old, failing when the
// example does not hold it exactly once (so the test cannot silently pass).
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("%q occurs %d times in the example, want 1", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

// A code outside its value set, or in an unexpected code system, is kept as
// sent and flagged; the 2021 model (other terminologies) is not flagged.
func TestExtractFlagsOutOfValueSet(t *testing.T) {
	src := rawExample(t, exPost)
	src = replaceOnce(t, src, `code="385651009"`, `code="999999999"`) // MED-072 status
	src = strings.Replace(src, `code="ORG-047"`, `code="ORG-999"`, 1) // first objective
	src = replaceOnce(t, src, `codeSystem="2.16.840.1.113883.4.642.2.468"`, `codeSystem="9.9.9"`)
	d, err := Extract(parse(t, src))
	if err != nil {
		t.Fatal(err)
	}
	dg := d.Body.Diagnoses[0]
	if s := dg.Status; s == nil || s.Code != "999999999" || s.System != "2.16.840.1.113883.6.96" || !s.OutOfValueSet || s.ValueSet != vsStatutActuelDiagnostic.oid {
		t.Errorf("status %+v: want the code kept and flagged against %s", s, vsStatutActuelDiagnostic.oid)
	}
	if g := dg.Genes[0]; !g.OutOfValueSet || g.System != "9.9.9" || g.ValueSet != "HGNC" {
		t.Errorf("gene %+v: want flagged (code system)", g)
	}
	flagged := 0
	for _, a := range d.Body.Activities {
		for _, o := range a.Objectives {
			if o.OutOfValueSet {
				flagged++
				if o.Code != "ORG-999" {
					t.Errorf("flagged objective %+v", o)
				}
			}
		}
	}
	if flagged != 1 {
		t.Errorf("%d objectives flagged, want 1", flagged)
	}
	if dg.Disease.OutOfValueSet || dg.SporadicFamilial.OutOfValueSet || dg.OnsetAgeClass.OutOfValueSet {
		t.Error("codes inside their value sets flagged")
	}

	old, err := Extract(example(t, ex2021))
	if err != nil {
		t.Fatal(err)
	}
	if s := old.Body.Diagnoses[0].Status; s == nil || s.OutOfValueSet {
		t.Errorf("2021 status %+v: SNOMED 3.5 / older TA_ASIP codes must not be checked against the kit-3.0 sets", s)
	}
}

// Optional data that is missing stays absent.
func TestExtractMissingStaysAbsent(t *testing.T) {
	src := rawExample(t, exPost)
	// Drop the research section, the onset age and the deceased indicator.
	start := strings.Index(src, `<templateId root="1.2.250.1.213.1.1.2.250"/>`)
	sec := strings.LastIndex(src[:start], "<component>")
	end := strings.Index(src[start:], "</component>") + start + len("</component>")
	src = src[:sec] + src[end:]
	src = replaceOnce(t, src, `<sdtc:deceasedInd value="true"/>`, ``)
	src = replaceOnce(t, src, `<value xsi:type="PQ" value="5" unit="mo"/>`, ``)
	d, err := Extract(parse(t, src))
	if err != nil {
		t.Fatal(err)
	}
	if d.Body.Research != nil {
		t.Errorf("research %+v from a document without the section", d.Body.Research)
	}
	if d.Header.Patient.Deceased != nil {
		t.Error("deceased indicator invented")
	}
	if d.Header.Patient.DeceasedTime == "" {
		t.Error("deceased time lost")
	}
	if d.Body.Diagnoses[0].OnsetAge != nil {
		t.Errorf("onset age %+v from an observation without a value", d.Body.Diagnoses[0].OnsetAge)
	}
}

// The nested (2024) and flat (≤2022) placements of the diagnosis details
// give the same facts: move the 2024 details out of the FR-Probleme.
func TestExtractNestedAndFlatAgree(t *testing.T) {
	src := rawExample(t, exPost)
	nested, err := Extract(parse(t, src))
	if err != nil {
		t.Fatal(err)
	}
	doc := parse(t, src)
	tr, err := snapshot(doc)
	if err != nil {
		t.Fatal(err)
	}
	// Rebuild the diagnosis act with its problem's relationships as
	// siblings, as 2022.01 lays them out, then read it again.
	var act *node
	for _, comp := range tr.root.path("component", "structuredBody").children("component") {
		if sectionKind(comp.child("section")) == "diagnoses" {
			act = entries(comp.child("section"))[0]
		}
	}
	if act == nil {
		t.Fatal("no diagnosis act")
	}
	var pbRel *node
	for _, er := range act.children("entryRelationship") {
		if isProblem(er.child("observation")) {
			pbRel = er
		}
	}
	pb := pbRel.child("observation")
	var inner []*node
	var prev *node
	for c := pb.first; c != nil; c = c.next {
		if c.is("entryRelationship") {
			inner = append(inner, c)
			if prev != nil {
				prev.next = c.next
			} else {
				pb.first = c.next
			}
			continue
		}
		prev = c
	}
	for _, er := range inner {
		er.next = nil
		act.last.next = er
		act.last = er
	}
	r := bodyReader{t: tr, checkVS: true}
	var flat sdmmr.Body
	act.next = nil
	entry := &node{name: "entry", first: act, last: act}
	r.diagnoses(&flat, &node{name: "section", first: entry, last: entry})
	if len(inner) < 10 {
		t.Fatalf("moved only %d relationships", len(inner))
	}
	assertJSON(t, "flat vs nested", flat.Diagnoses, nested.Body.Diagnoses)
}

func TestValueSetsMatchKit(t *testing.T) {
	dir, err := kit.Dir()
	if err != nil {
		t.Fatal(err)
	}
	for _, vs := range allValueSets {
		data, err := os.ReadFile(filepath.Join(dir, "kit-3.0", "jeuxDeValeurs", vs.file))
		if err != nil {
			t.Fatal(err)
		}
		doc := parse(t, string(data))
		tr, err := snapshot(doc)
		if err != nil {
			t.Fatal(err)
		}
		var got []concept
		var oid string
		var walk func(n *node)
		walk = func(n *node) {
			if n.name == "ValueSet" {
				oid = n.attr("id")
			}
			if n.name == "Concept" {
				got = append(got, concept{strings.TrimSpace(n.attr("codeSystem")), strings.TrimSpace(n.attr("code"))})
			}
			for c := n.first; c != nil; c = c.next {
				walk(c)
			}
		}
		walk(tr.root)
		if oid != vs.oid {
			t.Errorf("%s: OID %s in the kit, %s here", vs.file, oid, vs.oid)
		}
		if len(got) != len(vs.concepts) {
			t.Errorf("%s: %d concepts in the kit, %d here", vs.file, len(got), len(vs.concepts))
			continue
		}
		for _, c := range got {
			if !vs.has(c.system, c.code) {
				t.Errorf("%s: kit concept %s|%s missing here", vs.file, c.system, c.code)
			}
		}
	}
}

func FuzzExtract(f *testing.F) {
	dir, err := kit.Dir()
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range []string{exNewborn, ex2017} {
		data, err := os.ReadFile(filepath.Join(dir, "examples", "sdm-mr", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><templateId root="1.2.250.1.213.1.1.1.30"/><id root="1"/><setId root="2"/><versionNumber value="1"/></ClinicalDocument>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := xmldoc.Parse(data, xmldoc.DefaultLimits)
		if err != nil {
			return
		}
		defer doc.Free()
		d, err := Extract(doc)
		if err != nil {
			return
		}
		if d.Header.DocumentID == "" || d.Header.SetID == "" || d.Header.VersionNumber < 1 {
			t.Fatalf("extracted a document without id, set or version: %+v", d.Header)
		}
		if !testsupport.PlainUTF8(data) {
			return // values are checked against the text where it is plain UTF-8
		}
		// Nothing is invented: every code, code system, null flavor and id
		// extracted is written in the document (entities decoded, white
		// space aside: XML turns a tab or a newline of an attribute into a
		// space).
		noSpace := func(s string) string { return strings.Join(strings.Fields(s), "") }
		text := noSpace(html.UnescapeString(string(data)))
		var walk func(v reflect.Value)
		walk = func(v reflect.Value) {
			switch v.Kind() {
			case reflect.Pointer:
				if !v.IsNil() {
					walk(v.Elem())
				}
			case reflect.Slice:
				for i := 0; i < v.Len(); i++ {
					walk(v.Index(i))
				}
			case reflect.Struct:
				var vals []string
				switch x := v.Interface().(type) {
				case sdmmr.Code:
					vals = []string{x.Code, x.System, x.NullFlavor}
				case sdmmr.ID:
					vals = []string{x.Root, x.Extension}
				}
				for _, s := range vals {
					if !strings.Contains(text, noSpace(s)) {
						t.Fatalf("extracted %q, which the document does not hold", s)
					}
				}
				for i := 0; i < v.NumField(); i++ {
					if v.Type().Field(i).IsExported() {
						walk(v.Field(i))
					}
				}
			}
		}
		walk(reflect.ValueOf(d))
	})
}

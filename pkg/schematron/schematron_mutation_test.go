package schematron

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/xmldoc"
)

// TestNestedAbstractAndPhaseLets: an included file that is itself a schema
// (so its patterns sit in a nested schema element) may hold the abstract
// pattern and the is-a pattern that instantiates it, beside a plain one;
// each active pattern then fires once, and a let declared in the phase is
// a global variable. (No white space after the last pattern: dropping the
// abstract pattern then shifts a pattern, not a text node, off the end.)
func TestNestedAbstractAndPhaseLets(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"top.sch": `<schema xmlns="http://purl.oclc.org/dsdl/schematron" defaultPhase="ph">
  <ns prefix="cda" uri="urn:hl7-org:v3"/>
  <include href="nested.sch"/>
  <pattern id="p1"><rule context="/cda:doc"><assert test="$phaseLet = 'P'">phase let <value-of select="$phaseLet"/></assert></rule></pattern>
  <pattern id="inactive"><rule context="/cda:doc"><assert test="false()">inactive</assert></rule></pattern>
  <phase id="ph"><let name="phaseLet" value="'Q'"/><active pattern="p1"/><active pattern="inst"/><active pattern="plain"/></phase>
</schema>`,
		"nested.sch": `<schema xmlns="http://purl.oclc.org/dsdl/schematron">
  <pattern id="abs" abstract="true"><rule context="$ctx"><assert test="false()">abstract on <name/></assert></rule></pattern>
  <pattern id="inst" is-a="abs"><param name="ctx" value="cda:item"/></pattern>
  <pattern id="plain"><rule context="cda:item"><report test="true()">plain on <name/></report></rule></pattern></schema>`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Compile("nested", filepath.Join(dir, "top.sch"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Free()
	if len(s.CompileErrors) > 0 {
		t.Fatalf("compile errors: %v", s.CompileErrors)
	}
	if s.Rules() != 3 {
		t.Errorf("%d rules, want 3 (p1, inst, plain)", s.Rules())
	}
	doc, err := xmldoc.Parse([]byte(`<doc xmlns="urn:hl7-org:v3"><item/></doc>`), xmldoc.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Free()
	OrderDoc(doc)
	res, err := s.Validate(context.Background(), doc, NewIndex(doc.Pointer()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Failures {
		got = append(got, f.Kind+" "+f.Pattern+" "+f.Location+" "+f.Text)
	}
	sort.Strings(got)
	want := []string{
		"assert inst /doc/item abstract on item",
		"assert p1 /doc phase let Q",
		"report plain /doc/item plain on item",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(res.EvalErrors) > 0 {
		t.Errorf("failures:\n%s\nwant:\n%s\nevaluation errors: %v", strings.Join(got, "\n"), strings.Join(want, "\n"), res.EvalErrors)
	}
}

// TestBrokenLetIsReported: a let whose value does not compile is a compile
// error naming it, not silently dropped.
func TestBrokenLetIsReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "let.sch")
	err := os.WriteFile(path, []byte(`<schema xmlns="http://purl.oclc.org/dsdl/schematron">
  <let name="broken" value="(("/>
  <pattern id="p"><rule context="/*"><assert test="true()">x</assert></rule></pattern>
</schema>`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile("let", path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Free()
	if len(s.CompileErrors) != 1 || !strings.Contains(s.CompileErrors[0].Error(), "let broken") {
		t.Errorf("compile errors %v, want one naming let broken", s.CompileErrors)
	}
}

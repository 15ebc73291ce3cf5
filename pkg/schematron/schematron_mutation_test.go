package schematron

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
	got, evalErrors := failures(t, s, `<doc xmlns="urn:hl7-org:v3"><item/></doc>`)
	want := []string{
		"assert inst /doc/item abstract on item",
		"assert p1 /doc phase let Q",
		"report plain /doc/item plain on item",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(evalErrors) > 0 {
		t.Errorf("failures:\n%s\nwant:\n%s\nevaluation errors: %v", strings.Join(got, "\n"), strings.Join(want, "\n"), evalErrors)
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

// TestIncludeDepth: includes may nest 32 levels deep, not 33 (a file that
// includes itself ends there too); Free leaves no rule behind.
func TestIncludeDepth(t *testing.T) {
	chain := func(levels int) string {
		dir := t.TempDir()
		for i := 0; i <= levels; i++ {
			body := `<include href="f` + strconv.Itoa(i+1) + `.sch"/>`
			if i == levels {
				body = `<pattern id="p"><rule context="/*"><assert test="true()">x</assert></rule></pattern>`
			}
			content := `<schema xmlns="http://purl.oclc.org/dsdl/schematron">` + body + `</schema>`
			if err := os.WriteFile(filepath.Join(dir, "f"+strconv.Itoa(i)+".sch"), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return filepath.Join(dir, "f0.sch")
	}
	s, err := Compile("deep", chain(32), Options{})
	if err != nil {
		t.Fatalf("32 levels of includes: %v", err)
	}
	if s.Rules() != 1 {
		t.Errorf("%d rules, want 1", s.Rules())
	}
	s.Free()
	if s.Rules() != 0 {
		t.Errorf("after Free: %d rules, want 0", s.Rules())
	}
	if _, err := Compile("deeper", chain(33), Options{}); err == nil || !strings.Contains(err.Error(), "more than 32 levels") {
		t.Errorf("33 levels of includes: %v, want the nesting error", err)
	}
}

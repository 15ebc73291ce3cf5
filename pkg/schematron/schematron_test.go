package schematron

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lestrrat-go/libxml2/parser"

	"github.com/bndmr/hub/pkg/xmldoc"
)

// A small schematron exercising each ISO feature the kits use.
var files = map[string]string{
	"top.sch": `<schema xmlns="http://purl.oclc.org/dsdl/schematron" defaultPhase="main">
  <ns prefix="cda" uri="urn:hl7-org:v3"/>
  <ns prefix="svs" uri="urn:ihe:iti:svs:2008"/>
  <let name="schemaLet" value="'S'"/>
  <include href="inc/Abstract.sch"/>
  <include href="inc/rules.sch"/>
  <pattern id="vs" is-a="inSet">
    <param name="ctx" value="cda:code"/>
    <param name="file" value="$jdv_codes"/>
  </pattern>
  <pattern id="inactive"><rule context="cda:doc"><assert test="false()">never</assert></rule></pattern>
  <phase id="main"><active pattern="first"/><active pattern="vs"/><active pattern="vars"/><active pattern="broken"/></phase>
</schema>`,
	// top.sch includes it as inc/Abstract.sch: only the case-insensitive
	// fallback finds it, as kit-3.0 IHE.sch needs.
	"inc/abstract.sch": `<pattern xmlns="http://purl.oclc.org/dsdl/schematron" id="inSet" abstract="true">
  <rule context="$ctx">
    <let name="c" value="@code"/>
    <assert test="document($file)//svs:Concept[@code=$c]">[inSet] <value-of select="$c"/> not in <value-of select="$file"/></assert>
  </rule>
</pattern>`,
	"inc/rules.sch": `<pattern xmlns="http://purl.oclc.org/dsdl/schematron" id="first">
  <rule context="*[cda:templateId/@root='1.1']">
    <assert test="cda:code">first rule: <name/> lacks a code</assert>
  </rule>
  <rule context="cda:section">
    <report test="true()">second rule fired on <name/> <value-of select="cda:item/@n"/></report>
  </rule>
  <rule context="cda:item/@n">
    <report test=". = '2'">attribute <name/> is <value-of select="."/></report>
  </rule>
</pattern>`,
	"codes.xml": `<RetrieveValueSetResponse xmlns="urn:ihe:iti:svs:2008"><ValueSet><ConceptList><Concept code="A"/><Concept code="B"/></ConceptList></ValueSet></RetrieveValueSetResponse>`,
}

const varsPattern = `<pattern xmlns="http://purl.oclc.org/dsdl/schematron" id="vars">
  <let name="jdv_codes" value="'codes.xml'"/>
  <rule context="/cda:doc">
    <assert test="$schemaLet = 'X'">global <value-of select="$schemaLet"/>   and   pattern <value-of select="$jdv_codes"/></assert>
  </rule>
</pattern>
<pattern xmlns="http://purl.oclc.org/dsdl/schematron" id="broken">
  <rule context="cda:doc["><assert test="true()">x</assert></rule>
  <rule context="cda:doc"><assert test="count(cda:section) = 1">two sections</assert></rule>
</pattern>`

const testDoc = `<doc xmlns="urn:hl7-org:v3">
  <section><templateId root="1.1"/></section>
  <section><item n="1"/><item n="2"/><code code="A"/><code code="Z"/></section>
</doc>`

func writeKit(t *testing.T) string {
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if name == "top.sch" {
			content = strings.Replace(content, `<phase `, `<include href="vars.sch"/><phase `, 1)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// vars.sch holds two patterns: a file has one root, so they sit in a
	// nested schema element, which the include splices in.
	v := `<schema xmlns="http://purl.oclc.org/dsdl/schematron">` + varsPattern + `</schema>`
	if err := os.WriteFile(filepath.Join(dir, "vars.sch"), []byte(v), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSchematronSemantics(t *testing.T) {
	dir := writeKit(t)
	var loaded []string
	s, err := Compile("test", filepath.Join(dir, "top.sch"), Options{Docs: func(p string) (uintptr, error) {
		loaded = append(loaded, filepath.Base(p))
		data, err := os.ReadFile(p)
		if err != nil {
			return 0, err
		}
		d, err := parser.New(parser.XMLParseNoNet).Parse(data)
		if err != nil {
			return 0, err
		}
		t.Cleanup(d.Free)
		return d.Pointer(), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.CompileErrors) != 1 || !strings.Contains(s.CompileErrors[0].Error(), `pattern broken, rule "cda:doc["`) {
		t.Errorf("compile errors %v, want exactly the broken rule", s.CompileErrors)
	}
	if len(loaded) != 1 || loaded[0] != "codes.xml" {
		t.Errorf("value sets loaded %v, want [codes.xml]", loaded)
	}
	got, evalErrors := failures(t, s, testDoc)
	want := []string{
		"assert broken /doc two sections",
		"assert first /doc/section first rule: section lacks a code",
		"assert vars /doc global S and pattern codes.xml",
		"assert vs /doc/section[2]/code[2] [inSet] Z not in codes.xml",
		// first rule wins: section[1] matches both rules, only the first fires
		"report first /doc/section[2] second rule fired on section 1 2",
		"report first /doc/section[2]/item[2]/@n attribute n is 2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(evalErrors) > 0 {
		t.Errorf("evaluation errors: %v", evalErrors)
	}
}

// failures validates the document xml with s and returns its failures as
// sorted "kind pattern location text" lines, and the evaluation errors.
func failures(t *testing.T, s *Schema, xml string) (lines, evalErrors []string) {
	t.Helper()
	doc, err := xmldoc.Parse([]byte(xml), xmldoc.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Free()
	OrderDoc(doc)
	res, err := s.Validate(context.Background(), doc, NewIndex(doc.Pointer()))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Failures {
		lines = append(lines, f.Kind+" "+f.Pattern+" "+f.Location+" "+f.Text)
	}
	sort.Strings(lines)
	return lines, res.EvalErrors
}

func TestResolveFileCaseFallback(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "E_directiveanticipee_int.sch"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := resolveFile(dir, "E_directiveAnticipee_int.sch")
	if err != nil || filepath.Base(p) != "E_directiveanticipee_int.sch" {
		t.Errorf("resolveFile = %q, %v", p, err)
	}
	if _, err := resolveFile(dir, "missing.sch"); err == nil {
		t.Error("missing file resolved")
	}
}

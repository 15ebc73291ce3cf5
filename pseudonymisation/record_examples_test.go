package pseudonymisation

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/events"
)

const (
	ex2017 = "SDM-MR_v2.3_2017.xml"
	ex2021 = "SDM-MR_2021.01.xml"
	ex2022 = "SDM-MR_2022.01.xml"
)

// allExamples are the official examples of the four model versions.
var allExamples = []string{ex2017, ex2021, ex2022, exNewborn, exPregnant, exPost}

// notInExamples names the record fields (type.field) that no example
// fills, with why: the comparison still asserts them empty, but a lost
// extraction of these shows only in the unit tests named.
var notInExamples = map[string]string{
	"sdmmr.Code.OutOfValueSet": "every code of the examples is in its value set (pkg/cda TestExtractFlagsOutOfValueSet)",
	"sdmmr.Code.ValueSet":      "idem",
}

// Every field of the pseudonymised record of every official example (the
// four model versions; the 2024 ones also as published, with GEN-315; one
// of them with what no example carries: a fetal diagnosis and a coded
// biobank), read
// from the XML by the oracle in record_oracle_test.go, compared field by
// field with what extraction + pseudonymisation make. Together with the
// type walk below, a field that vanishes from the record, or a new one that
// nobody checks, fails here.
func TestExampleRecordsFieldByField(t *testing.T) {
	primary, previous := oracleKey{"k1", testSecret(1)}, oracleKey{"k0", testSecret(2)}
	p := testPseudonymiser(t, Options{Rotation: true}, mustKey(t, primary.id, 1, true), mustKey(t, previous.id, 2, false))
	type example struct{ name, src string }
	var examples []example
	for _, name := range allExamples {
		src := readExample(t, name)
		if strings.Contains(src, `code="GEN-315"`) {
			examples = append(examples, example{name + "/published", src}) // the 2017-2022 ones carry no opposition
			src = withoutOpposition(t, src)
		}
		examples = append(examples, example{name, src})
	}
	examples = append(examples, example{exPost + "/fetal-diagnosis-coded-biobank", fetalDiagnosis(t, withoutOpposition(t, readExample(t, exPost)))})
	filled := map[string]bool{}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			ext := extract(t, ex.src, 3)
			ext.MailID, ext.ReceivedAt = "mail-"+ex.name, time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
			got, err := p.Record(ext)
			if err != nil {
				t.Fatal(err)
			}
			want := expectedRecord(t, ex.src, ext, primary, previous)
			if published := strings.HasSuffix(ex.name, "/published"); published != want.Opposition {
				t.Fatalf("the oracle reads opposition=%v", want.Opposition)
			}
			for _, d := range diff("Record", reflect.ValueOf(want), reflect.ValueOf(got)) {
				t.Error(d)
			}
			markFilled(reflect.ValueOf(want), filled)
		})
	}
	all := recordFields()
	var missing, stale []string
	for f := range all {
		_, excused := notInExamples[f]
		switch {
		case !filled[f] && !excused:
			missing = append(missing, f)
		case filled[f] && excused:
			stale = append(stale, f)
		}
	}
	for f := range notInExamples {
		if !all[f] {
			stale = append(stale, f+" (no such field)")
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	for _, f := range missing {
		t.Errorf("record field %s is filled by no official example's oracle record: have the oracle read it (or, if no example carries it, say so in notInExamples)", f)
	}
	for _, f := range stale {
		t.Errorf("notInExamples lists %s, which an example does fill (or which no longer exists): drop it", f)
	}
}

// The type walk finds the fields at every depth (a walk that found nothing
// would excuse everything above).
func TestRecordFieldsWalk(t *testing.T) {
	all := recordFields()
	for _, f := range []string{"events.Record.MultipleBirth", "events.Record.Treatments", "sdmmr.RecordTreatment.Translations",
		"sdmmr.RecordSubject.BirthOrder", "sdmmr.Code.Display", "sdmmr.Quantity.Unit", "sdmmr.PseudonymSet.IPPKeys", "sdmmr.Antenatal.HeadCircumference"} {
		if !all[f] {
			t.Errorf("the walk misses %s", f)
		}
	}
	if all["time.Time.wall"] {
		t.Error("the walk enters time.Time")
	}
}

// ours reports whether t is a type of the project (walked field by field);
// others (time.Time) compare as one value.
func ours(t reflect.Type) bool { return strings.HasPrefix(t.PkgPath(), "github.com/bndmr/hub/") }

// recordFields returns every field of the record type, as "type.Field",
// through pointers, slices and nested structs.
func recordFields() map[string]bool {
	out := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice:
			walk(t.Elem())
		case reflect.Struct:
			if !ours(t) {
				return
			}
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				key := t.String() + "." + f.Name
				if out[key] {
					return // walked already
				}
				out[key] = true
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeOf(events.Record{}))
	return out
}

// markFilled records which fields hold a non-zero value somewhere in v.
func markFilled(v reflect.Value, filled map[string]bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			markFilled(v.Elem(), filled)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			markFilled(v.Index(i), filled)
		}
	case reflect.Struct:
		if !ours(v.Type()) {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if !v.Field(i).IsZero() {
				filled[v.Type().String()+"."+v.Type().Field(i).Name] = true
			}
			markFilled(v.Field(i), filled)
		}
	}
}

// diff lists, by path, where got differs from want.
func diff(path string, want, got reflect.Value) []string {
	switch want.Kind() {
	case reflect.Pointer:
		switch {
		case want.IsNil() && got.IsNil():
			return nil
		case want.IsNil() || got.IsNil():
			return []string{fmt.Sprintf("%s: want %s, got %s", path, show(want), show(got))}
		}
		return diff(path, want.Elem(), got.Elem())
	case reflect.Slice:
		if want.Len() != got.Len() {
			return []string{fmt.Sprintf("%s: want %d items %s, got %d items %s", path, want.Len(), show(want), got.Len(), show(got))}
		}
		var out []string
		for i := 0; i < want.Len(); i++ {
			out = append(out, diff(fmt.Sprintf("%s[%d]", path, i), want.Index(i), got.Index(i))...)
		}
		return out
	case reflect.Struct:
		if !ours(want.Type()) {
			if !reflect.DeepEqual(want.Interface(), got.Interface()) {
				return []string{fmt.Sprintf("%s: want %v, got %v", path, want.Interface(), got.Interface())}
			}
			return nil
		}
		var out []string
		for i := 0; i < want.NumField(); i++ {
			out = append(out, diff(path+"."+want.Type().Field(i).Name, want.Field(i), got.Field(i))...)
		}
		return out
	}
	if want.Interface() != got.Interface() {
		return []string{fmt.Sprintf("%s: want %#v, got %#v", path, want.Interface(), got.Interface())}
	}
	return nil
}

func show(v reflect.Value) string {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return "nil"
	}
	return fmt.Sprintf("%+v", reflect.Indirect(v).Interface())
}

// fetalDiagnosis adds to the post-pregnancy example what no official
// example carries: a diagnosis about a fetus (FR-Sujet on the FR-Probleme,
// 2024.01) and a coded biobank.
func fetalDiagnosis(t *testing.T, src string) string {
	t.Helper()
	pb := strings.Index(src, `code="282291009"`)
	loc := strings.Index(src[pb:], `<participant typeCode="LOC">`)
	if pb < 0 || loc < 0 {
		t.Fatal("the post-pregnancy example changed: no diagnosis site after the FR-Probleme code")
	}
	subject := `<subject typeCode="SBJ"><relatedSubject classCode="PRS"><code code="CHILD" codeSystem="2.16.840.1.113883.5.111"/>
<subject><sdtc:id root="1.2.3.4.567.8.9.11" extension="fetus-7"/><name><family qualifier="BR">X</family><given qualifier="BR">Y</given></name>
<administrativeGenderCode code="UN" codeSystem="2.16.840.1.113883.5.1"/><sdtc:multipleBirthInd value="false"/></subject></relatedSubject></subject>
`
	src = src[:pb+loc] + subject + src[pb+loc:]
	biobank := `<value xsi:type="CD">
                <originalText><reference value="#bio_banque"/></originalText>`
	if strings.Count(src, biobank) != 1 {
		t.Fatal("the post-pregnancy example changed: no narrative biobank")
	}
	return strings.Replace(src, biobank, `<value xsi:type="CD" code="BB-42" codeSystem="1.2.3.4.5.6" displayName="Biobanque  test">
                <originalText><reference value="#bio_banque"/></originalText>`, 1)
}

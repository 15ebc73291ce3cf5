package pseudonymisation

import (
	"reflect"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/sdmmr"
)

// fill sets every exported field reachable from v to a non-zero value: a
// string to a date-like digit string (so that year-month and département
// derivations have something to keep), numbers to 1, booleans to true, one
// element in each slice, pointers allocated.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.String:
		v.SetString("75056") // a commune (Paris) and, read as a date, 7505-6…: digits
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	}
}

// zeros lists the paths of the zero leaves under v.
func zeros(v reflect.Value, path string, out *[]string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			*out = append(*out, path)
			return
		}
		zeros(v.Elem(), path, out)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				zeros(v.Field(i), path+"."+v.Type().Field(i).Name, out)
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			*out = append(*out, path)
			return
		}
		for i := 0; i < v.Len(); i++ {
			zeros(v.Index(i), path+"[]", out)
		}
	default:
		if v.IsZero() {
			*out = append(*out, path)
		}
	}
}

// TestClinicalCarriesEveryField: with every field of the body filled, every
// clinical field of the record comes out filled. A copy dropped from
// clinical() (a field forgotten on the way to ClickHouse) shows up here by
// name. The fields the record derives rather than copies (pseudonyms,
// year-months, the département) are filled too, from the same values.
func TestClinicalCarriesEveryField(t *testing.T) {
	var b sdmmr.Body
	fill(reflect.ValueOf(&b).Elem())
	// Dates are read as YYYYMMDD.
	b.DeathDueToRD.Date = "20240115"
	b.Pregnancies[0].Start, b.Pregnancies[0].End = "20230401", "20231231"
	for _, s := range []*sdmmr.Subject{b.Activities[0].Fetus, b.Diagnoses[0].Fetus, b.Pregnancies[0].Births[0].Subject} {
		s.BirthTime = "20231231"
	}
	p := testPseudonymiser(t, Options{})
	rec, err := p.Record(extracted(header(), b))
	if err != nil {
		t.Fatal(err)
	}
	r := reflect.ValueOf(rec)
	var missing []string
	for _, name := range []string{"File", "CareEpisodes", "Activities", "Diagnoses", "FamilyHistory", "ActiveProblems",
		"DeathDueToRD", "Consanguinity", "FunctionalStatus", "Antenatal", "Pregnancies", "Research", "Treatments"} {
		f := r.FieldByName(name)
		if !f.IsValid() {
			t.Fatalf("events.Record has no field %s", name)
		}
		zeros(f, name, &missing)
	}
	if len(missing) > 0 {
		t.Errorf("fields left empty in the record:\n  %s", strings.Join(missing, "\n  "))
	}
}

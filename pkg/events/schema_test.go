package events

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/schemas"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The JSON Schemas in schemas/events/ are generated from the Go types by
// this test (go test ./pkg/events -run TestEventSchemas -update) and checked
// against them on every run: a type change without its schema fails here.

var update = flag.Bool("update", false, "rewrite schemas/events/*.json from the Go types")

// eventSchemas names every event, its Go type and schema version.
var eventSchemas = []struct {
	file    string
	subject string
	typ     reflect.Type
	version int
}{
	{"mail.raw.json", SubjectMailRaw, reflect.TypeFor[MailRaw](), MailRawV},
	{"mail.outcome.json", SubjectOutcome, reflect.TypeFor[MailOutcome](), OutcomeV},
	{"sdmmr.extracted.json", SubjectExtracted, reflect.TypeFor[Extracted](), ExtractedV},
	{"sdmmr.record.json", SubjectRecord, reflect.TypeFor[Record](), RecordV},
}

const schemaBase = "https://bndmr.invalid/schemas/events/"

// jsonField is one JSON property of a Go struct.
type jsonField struct {
	name      string
	omitEmpty bool
	typ       reflect.Type
}

func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, omitEmpty: strings.Contains(opts, "omitempty"), typ: f.Type})
	}
	return out
}

var timeType = reflect.TypeFor[time.Time]()

type generator struct {
	defs map[string]any
}

// schemaOf returns the schema of t. nullable: the Go value can marshal as
// null (a nil pointer or slice in a field without omitempty).
func (g *generator) schemaOf(t reflect.Type, nullable bool) map[string]any {
	withNull := func(s map[string]any, typ string) map[string]any {
		if nullable {
			s["type"] = []string{typ, "null"}
		} else {
			s["type"] = typ
		}
		return s
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		inner := g.schemaOf(t.Elem(), false)
		if !nullable {
			return inner
		}
		return map[string]any{"anyOf": []any{inner, map[string]any{"type": "null"}}}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return withNull(map[string]any{"contentEncoding": "base64"}, "string")
	case t.Kind() == reflect.Slice:
		return withNull(map[string]any{"items": g.schemaOf(t.Elem(), false)}, "array")
	case t.Kind() == reflect.Struct:
		name := t.Name()
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = nil // recursion guard
			g.defs[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/$defs/" + name}
	case t.Kind() == reflect.String:
		return map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		return map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return map[string]any{"type": "integer"}
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return map[string]any{"type": "number"}
	}
	panic(fmt.Sprintf("no JSON Schema mapping for %v", t))
}

func (g *generator) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range jsonFields(t) {
		props[f.name] = g.schemaOf(f.typ, !f.omitEmpty)
		if !f.omitEmpty {
			required = append(required, f.name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func generate(file, subject string, t reflect.Type, version int) ([]byte, error) {
	g := &generator{defs: map[string]any{}}
	root := g.object(t)
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = schemaBase + file
	root["title"] = strings.TrimSuffix(file, ".json") + " (Go type events." + t.Name() + ")"
	root["description"] = fmt.Sprintf("Event published on the NATS subject %s, schema version %d. Generated from the Go type; see pkg/events/schema_test.go.", subject, version)
	root["properties"].(map[string]any)["v"] = map[string]any{"const": version}
	if len(g.defs) > 0 {
		root["$defs"] = g.defs
	}
	b, err := json.MarshalIndent(root, "", "  ")
	return append(b, '\n'), err
}

func TestEventSchemas(t *testing.T) {
	for _, es := range eventSchemas {
		want, err := generate(es.file, es.subject, es.typ, es.version)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(filepath.Join("..", "..", "schemas", "events", es.file), want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := schemas.Events.ReadFile("events/" + es.file)
		if err != nil {
			t.Fatalf("%s: %v (generate it: go test ./pkg/events -run TestEventSchemas -update)", es.file, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("schemas/events/%s is not the schema of events.%s: regenerate it (go test ./pkg/events -run TestEventSchemas -update) and review the diff", es.file, es.typ.Name())
		}
	}
}

// compile loads every embedded schema.
func compile(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.AssertContent()
	for _, es := range eventSchemas {
		b, err := schemas.Events.ReadFile("events/" + es.file)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", es.file, err)
		}
		if err := c.AddResource(schemaBase+es.file, doc); err != nil {
			t.Fatalf("%s: %v", es.file, err)
		}
	}
	out := map[string]*jsonschema.Schema{}
	for _, es := range eventSchemas {
		s, err := c.Compile(schemaBase + es.file)
		if err != nil {
			t.Fatalf("%s: %v", es.file, err)
		}
		out[es.file] = s
	}
	return out
}

// fill sets every field of v (a pointer) to a non-zero value, one element
// per slice, so that marshalling exercises every property.
func fill(v reflect.Value, depth int) {
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)))
	case v.Kind() == reflect.Pointer:
		if depth > 12 {
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case v.Kind() == reflect.Slice:
		if depth > 12 {
			return
		}
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case v.Kind() == reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case v.Kind() == reflect.String:
		v.SetString("x")
	case v.Kind() == reflect.Bool:
		v.SetBool(true)
	case v.Kind() >= reflect.Int && v.Kind() <= reflect.Int64:
		v.SetInt(1)
	case v.Kind() >= reflect.Uint && v.Kind() <= reflect.Uint64:
		v.SetUint(1)
	case v.Kind() == reflect.Float32 || v.Kind() == reflect.Float64:
		v.SetFloat(1.5)
	}
}

func TestEventsValidate(t *testing.T) {
	compiled := compile(t)
	for _, es := range eventSchemas {
		s := compiled[es.file]
		full := reflect.New(es.typ)
		fill(full.Elem(), 0)
		full.Elem().FieldByName("V").SetInt(int64(es.version))
		zero := reflect.New(es.typ)
		zero.Elem().FieldByName("V").SetInt(int64(es.version))
		for name, v := range map[string]any{"populated": full.Interface(), "zero": zero.Interface()} {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(inst); err != nil {
				t.Errorf("%s, %s value: %v\n%s", es.file, name, err, b)
			}
		}
		// The schema refuses what the type cannot produce.
		b, _ := json.Marshal(full.Interface())
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for name, mutate := range map[string]func(map[string]any){
			"unknown field": func(m map[string]any) { m["surprise"] = 1 },
			"wrong version": func(m map[string]any) { m["v"] = es.version + 1 },
			"wrong type":    func(m map[string]any) { m["mail_id"] = 3 },
		} {
			if name == "wrong type" && m["mail_id"] == nil {
				continue
			}
			c := map[string]any{}
			for k, v := range m {
				c[k] = v
			}
			mutate(c)
			if err := s.Validate(c); err == nil {
				t.Errorf("%s accepts a value with a %s", es.file, name)
			}
		}
	}
}

// Every Go JSON field is in the schema, and every schema property is a Go
// JSON field, at every level.
func TestSchemaFieldsMatchTypes(t *testing.T) {
	for _, es := range eventSchemas {
		b, err := schemas.Events.ReadFile("events/" + es.file)
		if err != nil {
			t.Fatal(err)
		}
		var root map[string]any
		if err := json.Unmarshal(b, &root); err != nil {
			t.Fatal(err)
		}
		defs, _ := root["$defs"].(map[string]any)
		seen := map[reflect.Type]bool{}
		var check func(path string, typ reflect.Type, obj map[string]any)
		check = func(path string, typ reflect.Type, obj map[string]any) {
			if seen[typ] {
				return
			}
			seen[typ] = true
			props, _ := obj["properties"].(map[string]any)
			var goNames, schemaNames []string
			for _, f := range jsonFields(typ) {
				goNames = append(goNames, f.name)
				ps, ok := props[f.name].(map[string]any)
				if !ok {
					t.Errorf("%s: %s.%s is not in the schema", es.file, path, f.name)
					continue
				}
				inner := f.typ
				for inner.Kind() == reflect.Pointer || (inner.Kind() == reflect.Slice && inner.Elem().Kind() != reflect.Uint8) {
					inner = inner.Elem()
				}
				if inner.Kind() == reflect.Struct && inner != timeType {
					def, ok := defs[inner.Name()].(map[string]any)
					if !ok {
						t.Errorf("%s: no $defs/%s for %s.%s", es.file, inner.Name(), path, f.name)
						continue
					}
					if !strings.Contains(fmt.Sprint(ps), "#/$defs/"+inner.Name()) {
						t.Errorf("%s: %s.%s does not refer to $defs/%s", es.file, path, f.name, inner.Name())
					}
					check(path+"."+f.name, inner, def)
				}
			}
			for n := range props {
				schemaNames = append(schemaNames, n)
			}
			sort.Strings(goNames)
			sort.Strings(schemaNames)
			if strings.Join(goNames, ",") != strings.Join(schemaNames, ",") {
				t.Errorf("%s: %s: Go fields %v, schema properties %v", es.file, path, goNames, schemaNames)
			}
		}
		check(es.typ.Name(), es.typ, root)
	}
}

package validate

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/schematron"
	"github.com/bndmr/hub/pkg/xmldoc"
)

func examples2024(b *testing.B) [][]byte {
	dir, err := kit.Dir()
	if err != nil {
		b.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "examples/sdm-mr/SDM-MR_2024.01_*.xml"))
	if len(paths) != 3 {
		b.Fatalf("found %d 2024.01 examples, want 3", len(paths))
	}
	var out [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// BenchmarkValidate parses and fully validates (XSD + the four schematrons
// of SDM-MR_2024.01) the 2024.01 examples, one document per op on one core.
func BenchmarkValidate(b *testing.B) {
	e := testEngine(b)
	docs := examples2024(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		doc, err := xmldoc.Parse(docs[i%len(docs)], xmldoc.DefaultLimits)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := e.Validate(ctx, doc, Options{})
		doc.Free()
		if err != nil || !rep.Valid {
			b.Fatalf("example invalid: %v %v", err, rep)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkSchematron times each part of the profile alone (parse excluded).
func BenchmarkSchematron(b *testing.B) {
	e := testEngine(b)
	docs := examples2024(b)
	p, err := e.Profile("SDM-MR_2024.01")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("XSD", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			doc, _ := xmldoc.Parse(docs[i%len(docs)], xmldoc.DefaultLimits)
			b.StartTimer()
			if err := e.xsd.Validate(doc); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			doc.Free()
		}
	})
	for _, s := range p.Schematrons {
		b.Run(s.Name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				doc, _ := xmldoc.Parse(docs[i%len(docs)], xmldoc.DefaultLimits)
				schematron.OrderDoc(doc)
				ix := schematron.NewIndex(doc.Pointer())
				b.StartTimer()
				if _, err := s.Validate(ctx, doc, ix); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				doc.Free()
			}
		})
	}
}

package cisis

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/lestrrat-go/libxml2/types"

	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/schematron"
	"github.com/bndmr/hub/pkg/testsupport"
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
	cpu0 := testsupport.CPUTime()
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
	// CPU time (user+sys of the process) per document: unlike wall time it
	// does not count the waits of a machine shared with other jobs.
	b.ReportMetric(float64(b.N)/(testsupport.CPUTime()-cpu0).Seconds(), "cpu-docs/s")
}

// BenchmarkSchematron times each part of the profile alone on documents
// parsed once (XSD and schematrons leave the tree unchanged).
func BenchmarkSchematron(b *testing.B) {
	e := testEngine(b)
	p, err := e.Profile("SDM-MR_2024.01")
	if err != nil {
		b.Fatal(err)
	}
	var docs []types.Document
	var ixs []*schematron.Index
	for _, data := range examples2024(b) {
		doc, err := xmldoc.Parse(data, xmldoc.DefaultLimits)
		if err != nil {
			b.Fatal(err)
		}
		defer doc.Free()
		schematron.OrderDoc(doc)
		docs = append(docs, doc)
		ixs = append(ixs, schematron.NewIndex(doc.Pointer()))
	}
	ctx := context.Background()
	b.Run("parse", func(b *testing.B) {
		data := examples2024(b)
		for i := 0; i < b.N; i++ {
			doc, err := xmldoc.Parse(data[i%len(data)], xmldoc.DefaultLimits)
			if err != nil {
				b.Fatal(err)
			}
			doc.Free()
		}
	})
	b.Run("index", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			schematron.NewIndex(docs[i%len(docs)].Pointer())
		}
	})
	b.Run("XSD", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if errs, err := schematron.ValidateXSD(e.xsd, docs[i%len(docs)]); err != nil || len(errs) > 0 {
				b.Fatal(err, errs)
			}
		}
	})
	for _, s := range p.Schematrons {
		b.Run(s.Name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := s.Validate(ctx, docs[i%len(docs)], ixs[i%len(docs)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

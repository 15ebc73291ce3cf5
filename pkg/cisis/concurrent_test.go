package cisis

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/xmldoc"
)

// TestConcurrentValidate: one Engine shared by several goroutines gives
// the same reports as sequential runs (libxml2 XPath contexts are per
// validation; compiled expressions, XSD and value sets are shared).
func TestConcurrentValidate(t *testing.T) {
	e := testEngine(t)
	dir, err := kit.Dir()
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "conformance/docs/SDM-MR_2024.01_patiente-post-grossesse_*.xml"))
	if len(paths) < 20 {
		t.Fatalf("found %d documents", len(paths))
	}
	paths = paths[:20]
	run := func(p string) *Report {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Error(err)
			return nil
		}
		doc, err := xmldoc.Parse(data, xmldoc.DefaultLimits)
		if err != nil {
			t.Error(err)
			return nil
		}
		defer doc.Free()
		rep, err := e.Validate(context.Background(), doc, Options{Profile: "SDM-MR_2024.01"})
		if err != nil {
			t.Error(err)
		}
		return rep
	}
	want := make([]*Report, len(paths))
	for i, p := range paths {
		want[i] = run(p)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := range paths {
				i := (k + g*5) % len(paths)
				if got := run(paths[i]); !reflect.DeepEqual(got, want[i]) {
					t.Errorf("%s: concurrent report differs from the sequential one", filepath.Base(paths[i]))
				}
			}
		}(g)
	}
	wg.Wait()
}

package cda

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lestrrat-go/libxml2/types"

	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/testsupport"
	"github.com/bndmr/hub/pkg/xmldoc"
)

// example parses one official example of the kit (never copied in the repo).
func example(tb testing.TB, name string) types.Document {
	tb.Helper()
	dir, err := kit.Dir()
	if err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "examples", "sdm-mr", name))
	if err != nil {
		tb.Fatal(err)
	}
	doc, err := xmldoc.Parse(data, xmldoc.DefaultLimits)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(doc.Free)
	return doc
}

const (
	ex2017     = "SDM-MR_v2.3_2017.xml"
	ex2021     = "SDM-MR_2021.01.xml"
	ex2022     = "SDM-MR_2022.01.xml"
	exNewborn  = "SDM-MR_2024.01_nouveau-ne.xml"
	exPregnant = "SDM-MR_2024.01_patiente-enceinte.xml"
	exPost     = "SDM-MR_2024.01_patiente-post-grossesse.xml"
)

var allExamples = []string{ex2017, ex2021, ex2022, exNewborn, exPregnant, exPost}

func BenchmarkSnapshot(b *testing.B) {
	doc := example(b, exPost)
	for b.Loop() {
		if _, err := snapshot(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// assertJSON compares got and want through their JSON form, which is what
// every consumer sees, and prints the first differing lines.
func assertJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if string(g) == string(w) {
		return
	}
	gl, wl := strings.Split(string(g), "\n"), strings.Split(string(w), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var a, b string
		if i < len(gl) {
			a = gl[i]
		}
		if i < len(wl) {
			b = wl[i]
		}
		if a != b {
			lo := max(0, i-3)
			t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\ncontext (got):\n%s", what, i+1, a, b, strings.Join(gl[lo:min(len(gl), i+4)], "\n"))
		}
	}
}

func BenchmarkExtract(b *testing.B) {
	docs := []types.Document{example(b, exNewborn), example(b, exPregnant), example(b, exPost)}
	b.ReportAllocs()
	i := 0
	cpu0 := testsupport.CPUTime()
	for b.Loop() {
		if _, err := Extract(docs[i%len(docs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	// CPU time per record: on a shared machine wall time measures the
	// neighbours as much as the code.
	b.ReportMetric(float64(testsupport.CPUTime()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkParse is the yardstick for BenchmarkExtract: parsing the same
// documents with libxml2, which validation does once per document anyway.
func BenchmarkParse(b *testing.B) {
	dir, err := kit.Dir()
	if err != nil {
		b.Fatal(err)
	}
	var srcs [][]byte
	for _, n := range []string{exNewborn, exPregnant, exPost} {
		data, err := os.ReadFile(filepath.Join(dir, "examples", "sdm-mr", n))
		if err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, data)
	}
	i := 0
	cpu0 := testsupport.CPUTime()
	for b.Loop() {
		doc, err := xmldoc.Parse(srcs[i%len(srcs)], xmldoc.DefaultLimits)
		if err != nil {
			b.Fatal(err)
		}
		doc.Free()
		i++
	}
	b.ReportMetric(float64(testsupport.CPUTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

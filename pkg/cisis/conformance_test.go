package cisis

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/schematron"
	"github.com/bndmr/hub/pkg/xmldoc"
)

var (
	engOnce sync.Once
	eng     *Engine
	engErr  error
)

// testEngine loads the kit once for every test of the package.
func testEngine(t testing.TB) *Engine {
	t.Helper()
	engOnce.Do(func() {
		dir, err := kit.Dir()
		if err != nil {
			engErr = err
			return
		}
		eng, engErr = Load(context.Background(), dir)
	})
	if engErr != nil {
		t.Fatal(engErr)
	}
	return eng
}

type refDoc struct {
	Doc         string                          `json:"doc"`
	Valid       bool                            `json:"valid"`
	XSDValid    bool                            `json:"xsd_valid"`
	XSDErrors   []string                        `json:"xsd_errors"`
	Schematrons map[string][]schematron.Failure `json:"schematrons"`
}

func key(f schematron.Failure) string {
	return f.Kind + "\x00" + f.Pattern + "\x00" + f.Location + "\x00" + f.Text
}

// TestConformance compares the engine with the reference chain on every
// document of the conformance corpus: same valid and xsd_valid, and for
// every schematron the same multiset of (kind, pattern, location, text).
func TestConformance(t *testing.T) {
	e := testEngine(t)
	dir, _ := kit.Dir()
	cdir := filepath.Join(dir, "conformance")
	f, err := os.Open(filepath.Join(cdir, "reference.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var refs []refDoc
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r refDoc
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	if len(refs) != 566 {
		t.Fatalf("reference.jsonl has %d documents, want 566", len(refs))
	}
	type outcome struct {
		diffs  []string
		schOK  map[string]bool
		xsdMsg bool // same XSD messages (informational: only xsd_valid must match)
	}
	outs := make([]outcome, len(refs))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				outs[i].diffs, outs[i].schOK, outs[i].xsdMsg = compareDoc(e, filepath.Join(cdir, "docs"), refs[i])
			}
		}()
	}
	for i := range refs {
		next <- i
	}
	close(next)
	wg.Wait()

	pass, total := map[string]int{}, map[string]int{}
	bad, sameMsg := 0, 0
	for i, o := range outs {
		if o.xsdMsg {
			sameMsg++
		}
		for s, ok := range o.schOK {
			total[s]++
			if ok {
				pass[s]++
			}
		}
		if len(o.diffs) > 0 {
			bad++
			if bad <= 1000 {
				t.Errorf("%s:\n  %s", refs[i].Doc, strings.Join(o.diffs, "\n  "))
			}
		}
	}
	var names []string
	for s := range total {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		t.Logf("%-30s %d/%d documents identical", s, pass[s], total[s])
	}
	t.Logf("XSD messages identical to libxml2's in the reference for %d/%d documents (informational)", sameMsg, len(refs))
	if bad > 0 {
		t.Errorf("%d of %d documents differ from the reference", bad, len(refs))
	}
}

func compareDoc(e *Engine, dir string, ref refDoc) (diffs []string, schOK map[string]bool, sameXSD bool) {
	schOK = map[string]bool{}
	data, err := os.ReadFile(filepath.Join(dir, ref.Doc))
	if err != nil {
		return []string{err.Error()}, schOK, false
	}
	doc, err := xmldoc.Parse(data, xmldoc.DefaultLimits)
	if err != nil {
		return []string{err.Error()}, schOK, false
	}
	defer doc.Free()
	rep, err := e.Validate(context.Background(), doc, Options{Profile: ConformanceProfile(ref.Doc)})
	if err != nil {
		return []string{err.Error()}, schOK, false
	}
	if rep.Valid != ref.Valid {
		diffs = append(diffs, fmt.Sprintf("valid = %v, reference %v", rep.Valid, ref.Valid))
	}
	if rep.XSDValid != ref.XSDValid {
		diffs = append(diffs, fmt.Sprintf("xsd_valid = %v, reference %v (%v)", rep.XSDValid, ref.XSDValid, rep.XSDErrors))
	}
	got := map[string][]schematron.Failure{}
	for _, s := range rep.Schematrons {
		got[s.Name] = s.Failures
		for _, e := range s.EvalErrors {
			diffs = append(diffs, fmt.Sprintf("%s evaluation error: %s", s.Name, e))
		}
	}
	for name, want := range ref.Schematrons {
		g, ok := got[name]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("schematron %s not run", name))
			schOK[name] = false
			continue
		}
		count := map[string]int{}
		for _, f := range want {
			count[key(f)]++
		}
		for _, f := range g {
			count[key(f)]--
		}
		ok = true
		for k, n := range count {
			if n == 0 {
				continue
			}
			ok = false
			what := "missing"
			if n < 0 {
				what = "extra"
			}
			diffs = append(diffs, fmt.Sprintf("%s %s: %q", name, what, strings.ReplaceAll(k, "\x00", " | ")))
		}
		schOK[name] = ok
	}
	sameXSD = strings.Join(rep.XSDErrors, "\n") == strings.Join(ref.XSDErrors, "\n")
	return diffs, schOK, sameXSD
}

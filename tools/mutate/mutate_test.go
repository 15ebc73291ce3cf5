package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The fixture: one small package whose test pins Clamp and Sum and leaves
// Note and Spin untested, so that some mutants die and some survive.
const fixtureSrc = `package fix

import "strings"

func Clamp(x, lo, hi int) int {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

func Both(a, b bool) bool { return a && b }

func Sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func Count(xs []int) int {
	n := 0
	for range xs {
		n++
	}
	return n
}

var notes []string

func Note(b *strings.Builder, s string, ok bool) {
	if ok {
		notes = append(notes, s)
	}
	b.WriteString(s)
	_ = !ok
}

func Spin(n int) int {
	for i := 0; i < n; i++ {
		n += 0
	}
	return n
}
`

const fixtureTest = `package fix

import "testing"

func TestClamp(t *testing.T) {
	for _, c := range [][4]int{{5, 0, 10, 5}, {-1, 0, 10, 0}, {11, 0, 10, 10}, {0, 0, 10, 0}, {10, 0, 10, 10}} {
		if got := Clamp(c[0], c[1], c[2]); got != c[3] {
			t.Errorf("Clamp(%d, %d, %d) = %d, want %d", c[0], c[1], c[2], got, c[3])
		}
	}
	if Sum([]int{1, 2, 3}) != 6 {
		t.Error("Sum")
	}
	if Spin(3) != 3 {
		t.Error("Spin")
	}
}
`

func fixture(t *testing.T) (root string, p *Package) {
	t.Helper()
	t.Setenv("GOWORK", "off")
	root = t.TempDir()
	for name, text := range map[string]string{
		"go.mod":          "module example.com/fix\n\ngo 1.26\n",
		"fix/fix.go":      fixtureSrc,
		"fix/fix_test.go": fixtureTest,
	} {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Load(root, "fix")
	if err != nil {
		t.Fatal(err)
	}
	return root, p
}

func TestEveryOperatorMakesCompilableMutants(t *testing.T) {
	root, p := fixture(t)
	ms := p.Mutants(root)
	byOp := map[string][]Mutant{}
	for _, m := range ms {
		byOp[m.Op] = append(byOp[m.Op], m)
		if ok, why := p.Compiles(m); !ok {
			t.Errorf("%s => %q does not type-check: %s", m.Key(), m.Repl, why)
		}
	}
	for _, op := range operators {
		if len(byOp[op]) == 0 {
			t.Errorf("operator %s made no mutant of the fixture", op)
		}
	}
	// The type check is cheap; the compiler is the judge. Build one
	// mutant of each operator for real.
	r := &Runner{Root: root, Dir: "fix", Timeout: time.Minute, Tmp: t.TempDir()}
	for _, op := range operators {
		if len(byOp[op]) == 0 {
			continue
		}
		m := byOp[op][0]
		if res := r.Run(context.Background(), m, p.Source(m)); res.Outcome == NotViable {
			t.Errorf("%s does not build: %s", m.Key(), res.Detail)
		}
	}
	// Deleting b.WriteString(s) keeps b and s used, so it compiles.
	for _, m := range byOp["stmt-delete"] {
		if strings.Contains(string(p.srcs[m.File][m.Start:m.End]), "WriteString") && m.Repl != "_, _ = b, s" {
			t.Errorf("deleting WriteString: replacement %q, want %q", m.Repl, "_, _ = b, s")
		}
	}
	// Keys carry no byte offsets and every one is distinct.
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.Key()] {
			t.Errorf("duplicate key %s", m.Key())
		}
		seen[m.Key()] = true
	}
}

func find(t *testing.T, ms []Mutant, key string) Mutant {
	t.Helper()
	for _, m := range ms {
		if m.Key() == key {
			return m
		}
	}
	var keys []string
	for _, m := range ms {
		keys = append(keys, m.Key())
	}
	t.Fatalf("no mutant %s among:\n%s", key, strings.Join(keys, "\n"))
	return Mutant{}
}

func TestOutcomes(t *testing.T) {
	root, p := fixture(t)
	ms := p.Mutants(root)
	r := &Runner{Root: root, Dir: "fix", Timeout: 20 * time.Second, Tmp: t.TempDir()}
	ran, _, _, err := r.Baseline(context.Background())
	if err != nil || ran != 1 {
		t.Fatalf("baseline: %d tests ran, %v", ran, err)
	}
	broken := find(t, ms, "fix/fix.go:6:7:cmp-flip:<->>=")
	broken.Repl = "< undefinedName +"
	spin := find(t, ms, "fix/fix.go:44:22:arith:++->--")
	spin.Repl = "+= 0" // i never grows: the loop never ends
	cases := []struct {
		name string
		m    Mutant
		want Outcome
	}{
		{"the test pins Clamp's lower bound", find(t, ms, "fix/fix.go:6:7:cmp-flip:<->>="), Killed},
		{"nothing tests Note", find(t, ms, "fix/fix.go:37:3:stmt-delete"), Survived},
		{"a build failure is not a kill", broken, NotViable},
		{"an endless loop times out", spin, TimedOut},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "an endless loop times out" {
				r := *r
				r.Timeout = 3 * time.Second
				if res := r.Run(context.Background(), c.m, p.Source(c.m)); res.Outcome != c.want {
					t.Fatalf("%s: %s (%s), want %s", c.m.Key(), res.Outcome, res.Detail, c.want)
				}
				return
			}
			if res := r.Run(context.Background(), c.m, p.Source(c.m)); res.Outcome != c.want {
				t.Fatalf("%s: %s (%s), want %s", c.m.Key(), res.Outcome, res.Detail, c.want)
			}
		})
	}
	// The type check turns down the broken mutant before any build.
	if ok, _ := p.Compiles(broken); ok {
		t.Error("the broken mutant type-checks")
	}
	// And the source tree is never written.
	if got, _ := os.ReadFile(filepath.Join(root, "fix/fix.go")); string(got) != fixtureSrc {
		t.Error("fix.go was modified")
	}
}

func TestConfigAndEquivalentFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "packages.txt")
	os.WriteFile(cfg, []byte("# comment\npkg/a 10 auto\npkg/b/ 0 90s -test.run=^TestX$ -test.short\n"), 0o644)
	ts, err := readConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].Dir != "pkg/a" || ts[0].Sample != 10 || ts[0].Timeout != 0 ||
		ts[1].Dir != "pkg/b" || ts[1].Timeout != 90*time.Second || strings.Join(ts[1].Flags, " ") != "-test.run=^TestX$ -test.short" {
		t.Fatalf("config read as %+v", ts)
	}
	eq := filepath.Join(dir, "equivalent.txt")
	os.WriteFile(eq, []byte("a.go:1:2:const:0->1 only a capacity hint\n"), 0o644)
	m, err := readEquivalent(eq)
	if err != nil || m["a.go:1:2:const:0->1"] != "only a capacity hint" {
		t.Fatalf("equivalent read as %v, %v", m, err)
	}
	os.WriteFile(eq, []byte("a.go:1:2:const:0->1\n"), 0o644)
	if _, err := readEquivalent(eq); err == nil {
		t.Fatal("an equivalent mutant without a reason was accepted")
	}
}

func TestReadPrevious(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.txt")
	os.WriteFile(path, []byte(`== pkg/a: 10 candidate mutants, 3 sampled
  [  1/3] killed     pkg/a/a.go:1:2:cmp-flip:==->!= (0s) (earlier) TestA
  [  2/3] survived   pkg/a/a.go:3:4:stmt-delete (2s) 
  [  3/3] not viable pkg/a/a.go:5:6:const:0->1 (0s) type check: x declared and not used
  [  4/4] timed out  pkg/a/a.go:7:8:negate:c->!c (9s) still running after 9s
`), 0o644)
	got, err := readPrevious(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["pkg/a/a.go:1:2:cmp-flip:==->!="].Outcome != Killed || got["pkg/a/a.go:1:2:cmp-flip:==->!="].Detail != "TestA" ||
		got["pkg/a/a.go:5:6:const:0->1"].Outcome != NotViable {
		t.Errorf("read %+v", got)
	}
}

// TestUnmatchedKeys: a listed key of the package that names no candidate
// (its line moved) is reported; one that names a candidate, or belongs to
// another package (pkg/ab is not under pkg/a), is not.
func TestUnmatchedKeys(t *testing.T) {
	all := []Mutant{{Rel: "pkg/a/x.go", Line: 3, Col: 5, Op: "const", Desc: "1->2"}}
	eq := map[string]string{
		"pkg/a/x.go:3:5:const:1->2":   "matches",
		"pkg/a/x.go:9:5:const:1->2":   "moved",
		"pkg/ab/y.go:1:1:stmt-delete": "another package",
	}
	if got := unmatchedKeys(eq, "pkg/a", all); strings.Join(got, ",") != "pkg/a/x.go:9:5:const:1->2" {
		t.Errorf("unmatched %v", got)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// A Package is one package under mutation: its files parsed, and a type
// checker that tells, in a few milliseconds and without the compiler,
// whether a mutant still compiles.
type Package struct {
	Dir        string // absolute
	ImportPath string
	fset       *token.FileSet
	files      map[string]*ast.File // by absolute path, the files mutated
	srcs       map[string][]byte
	cgo        map[string]bool
	all        []string // every compiled file (GoFiles then CgoFiles)
	exports    map[string]string
	info       *types.Info
	baseErrs   map[string]bool // type errors of the unmutated package (cgo), ignored
}

type listed struct {
	ImportPath string
	Dir        string
	Export     string
	GoFiles    []string
	CgoFiles   []string
	Standard   bool
	Error      *struct{ Err string }
}

// Load lists the package and the export data of its dependencies (go list
// builds them once into the build cache), parses and type-checks it.
func Load(root, dir string) (*Package, error) {
	cmd := exec.Command("go", "list", "-e", "-export", "-deps", "-json=ImportPath,Dir,Export,GoFiles,CgoFiles,Standard,Error", "./"+dir)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w: %s", dir, err, stderr.String())
	}
	p := &Package{fset: token.NewFileSet(), files: map[string]*ast.File{}, srcs: map[string][]byte{}, cgo: map[string]bool{}, exports: map[string]string{}}
	absDir, err := filepath.Abs(filepath.Join(root, dir))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	var self *listed
	for {
		var l listed
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading go list output: %w", err)
		}
		if l.Export != "" {
			p.exports[l.ImportPath] = l.Export
		}
		if l.Dir == absDir {
			self = &l
		}
	}
	if self == nil {
		return nil, fmt.Errorf("go list did not report %s", dir)
	}
	if self.Error != nil {
		return nil, fmt.Errorf("%s: %s", dir, self.Error.Err)
	}
	p.Dir, p.ImportPath = absDir, self.ImportPath
	for _, name := range slices.Concat(self.GoFiles, self.CgoFiles) {
		abs := filepath.Join(absDir, name)
		src, err := os.ReadFile(abs)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(p.fset, abs, src, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", abs, err)
		}
		p.files[abs], p.srcs[abs] = f, src
		p.all = append(p.all, abs)
		p.cgo[abs] = slices.Contains(self.CgoFiles, name)
	}
	info, errs := p.check(nil)
	p.info = info
	// A cgo package type-checks only with C faked: whatever errors that
	// leaves are the baseline, and only new ones condemn a mutant.
	p.baseErrs = map[string]bool{}
	for _, e := range errs {
		p.baseErrs[e] = true
	}
	return p, nil
}

// check type-checks the package, with one file replaced by a mutated text
// when repl is not nil. It returns the errors without positions (so that
// the baseline compares across mutants).
func (p *Package) check(repl map[string]*ast.File) (*types.Info, []string) {
	files := make([]*ast.File, 0, len(p.all))
	for _, abs := range p.all {
		if f, ok := repl[abs]; ok {
			files = append(files, f)
		} else {
			files = append(files, p.files[abs])
		}
	}
	var errs []string
	conf := types.Config{
		Importer: importer.ForCompiler(p.fset, "gc", func(path string) (io.ReadCloser, error) {
			exp, ok := p.exports[path]
			if !ok {
				return nil, fmt.Errorf("no export data for %s", path)
			}
			return os.Open(exp)
		}),
		FakeImportC: true,
		Error: func(err error) {
			if te, ok := err.(types.Error); ok {
				errs = append(errs, te.Msg)
				return
			}
			errs = append(errs, err.Error())
		},
	}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Uses: map[*ast.Ident]types.Object{}, Defs: map[*ast.Ident]types.Object{}}
	conf.Check(p.ImportPath, p.fset, files, info)
	return info, errs
}

// Mutants lists the mutants of every file except cgo ones (the C preamble
// and the generated glue are not worth the risk) and generated ones.
func (p *Package) Mutants(root string) []Mutant {
	var out []Mutant
	for _, abs := range p.all {
		f := p.files[abs]
		if p.cgo[abs] || ast.IsGenerated(f) {
			continue
		}
		rel, err := filepath.Rel(root, abs)
		if err != nil {
			rel = abs
		}
		out = append(out, Generate(p.fset, f, p.srcs[abs], abs, filepath.ToSlash(rel), p.info)...)
	}
	return out
}

// Compiles tells whether a mutant type-checks; the reason when not.
func (p *Package) Compiles(m Mutant) (bool, string) {
	src := m.Apply(p.srcs[m.File])
	f, err := parser.ParseFile(p.fset, m.File, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return false, "syntax: " + firstLine(err.Error())
	}
	_, errs := p.check(map[string]*ast.File{m.File: f})
	for _, e := range errs {
		if !p.baseErrs[e] {
			return false, e
		}
	}
	return true, ""
}

// Source returns the mutated text of the mutant's file.
func (p *Package) Source(m Mutant) []byte { return m.Apply(p.srcs[m.File]) }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

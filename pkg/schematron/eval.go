package schematron

import (
	"context"
	"fmt"
	"strings"

	"github.com/lestrrat-go/libxml2/types"
	"github.com/lestrrat-go/libxml2/xpath"
)

// Failure is one failed assert or fired report, as SVRL would give it.
type Failure struct {
	Kind     string `json:"kind"`    // "assert" or "report"
	Pattern  string `json:"pattern"` // id of the (instantiated) pattern
	Context  string `json:"context"` // @context of the rule that fired
	Location string `json:"location"`
	Text     string `json:"text"` // message, value-of/name evaluated, white space collapsed
}

// Result is what one schema reports on one document.
type Result struct {
	Failures []Failure
	// EvalErrors are expressions that failed at run time (Saxon would stop
	// on them); they count neither as a failure nor as a success.
	EvalErrors []string
}

// Validate runs every active pattern of s on doc. ix must be NewIndex of
// the same doc. Safe for concurrent use on different documents.
func (s *Schema) Validate(ctx context.Context, doc types.Document, ix *Index) (*Result, error) {
	root, err := doc.DocumentElement()
	if err != nil {
		return nil, fmt.Errorf("document has no root element: %w", err)
	}
	xc, err := xpath.NewContext(root)
	if err != nil {
		return nil, fmt.Errorf("creating XPath context: %w", err)
	}
	defer xc.Free()
	for _, ns := range s.ns {
		if err := xc.RegisterNS(ns[0], ns[1]); err != nil {
			return nil, fmt.Errorf("registering namespace %s: %w", ns[0], err)
		}
	}
	x := newXctx(xc.Pointer(), s.docs.h, ix.doc)
	res := &Result{}
	docNode := ix.doc

	// Global lets, evaluated at the document node.
	type gval struct {
		l *let
		o cobj
	}
	var globals []gval
	defer func() {
		for _, g := range globals {
			freeObj(g.o)
		}
	}()
	for _, g := range s.globals {
		o, err := x.eval(docNode, g.value)
		if err != nil {
			res.EvalErrors = append(res.EvalErrors, fmt.Sprintf("let %s: %v", g.name, err))
			continue
		}
		globals = append(globals, gval{g, o})
		x.setVar(g.cname, copyObj(o))
	}
	restore := func() {
		for _, g := range globals {
			x.setVar(g.l.cname, copyObj(g.o))
		}
	}

	var nodes []xnode
	claimed := map[xnode]struct{}{}
	for _, p := range s.patterns {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		clear(claimed)
		for _, r := range p.rules {
			nodes = nodes[:0]
			nodes = r.selectNodes(x, ix, nodes, res)
			for _, n := range nodes {
				if len(p.rules) > 1 {
					if _, ok := claimed[n]; ok {
						continue
					}
					claimed[n] = struct{}{}
				}
				s.fire(x, p, r, n, res)
			}
			if r.shadows {
				restore()
			}
		}
	}
	return res, nil
}

func (r *rule) selectNodes(x xctx, ix *Index, dst []xnode, res *Result) []xnode {
	start := len(dst)
	for _, b := range r.plan {
		var err error
		switch b.kind {
		case scan:
			dst, err = x.evalNodes(ix.doc, b.e, dst)
		case byTID:
			if b.exact {
				dst = append(dst, ix.byTID[b.key]...)
				continue
			}
			for _, c := range ix.byTID[b.key] {
				if dst, err = x.evalNodes(c, b.e, dst); err != nil {
					break
				}
			}
		case byName:
			cands := ix.byName[b.key]
			if b.key == "" {
				cands = ix.all()
			}
			for _, c := range cands {
				if dst, err = x.evalNodes(c, b.e, dst); err != nil {
					break
				}
			}
		}
		if err != nil {
			res.EvalErrors = append(res.EvalErrors, fmt.Sprintf("context %q: %v", r.context, err))
		}
	}
	// Keep elements (and the document node) once each.
	out := dst[:start]
	var seen map[xnode]struct{}
	if len(r.plan) > 1 {
		seen = map[xnode]struct{}{}
	}
	for _, n := range dst[start:] {
		if !isMatchable(n) {
			continue
		}
		if seen != nil {
			if _, ok := seen[n]; ok {
				continue
			}
			seen[n] = struct{}{}
		}
		out = append(out, n)
	}
	return out
}

func (s *Schema) fire(x xctx, p *pattern, r *rule, n xnode, res *Result) {
	for _, l := range r.lets {
		o, err := x.eval(n, l.value)
		if err != nil {
			res.EvalErrors = append(res.EvalErrors, fmt.Sprintf("pattern %s, let %s at %s: %v", p.id, l.name, location(n), err))
			continue
		}
		x.setVar(l.cname, o)
	}
	for _, c := range r.checks {
		ok, err := x.evalBool(n, c.test)
		if err != nil {
			res.EvalErrors = append(res.EvalErrors, fmt.Sprintf("pattern %s, test %q at %s: %v", p.id, c.test.src, location(n), err))
			continue
		}
		if ok != c.report {
			continue
		}
		kind := "assert"
		if c.report {
			kind = "report"
		}
		res.Failures = append(res.Failures, Failure{
			Kind: kind, Pattern: p.id, Context: r.context,
			Location: location(n), Text: message(x, n, c.msg),
		})
	}
}

func message(x xctx, n xnode, parts []msgPart) string {
	var b strings.Builder
	for _, p := range parts {
		if p.eval == nil {
			b.WriteString(p.text)
			continue
		}
		v, err := x.evalString(n, p.eval)
		if err == nil {
			b.WriteString(v)
		}
	}
	return strings.Join(strings.FieldsFunc(b.String(), isXMLSpace), " ")
}

func isXMLSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

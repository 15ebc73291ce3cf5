package schematron

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// Schema is a compiled ISO Schematron schema. It is read-only after Compile
// and shared by concurrent validations.
type Schema struct {
	Name     string
	File     string
	ns       [][2]string
	globals  []*let // schema, phase and pattern lets, global as in the ISO skeleton
	patterns []*pattern
	docs     docTable
	// CompileErrors lists the rules (and lets) left out because their XPath
	// does not compile; the rest of the schema still runs.
	CompileErrors []error
	// MissingDocs lists value-set files the schema names that are not in
	// the kit.
	MissingDocs []string
}

type let struct {
	name  string
	cname *cStr
	value *expr
}

type pattern struct {
	id    string
	rules []*rule
}

type rule struct {
	context string
	plan    []branch
	lets    []*let
	checks  []*check
	shadows bool // a rule let hides a global of the same name
}

type check struct {
	report bool // report (fires when true) rather than assert (fails when false)
	test   *expr
	msg    []msgPart
}

// msgPart is literal text, or a value-of / name to evaluate at the context.
type msgPart struct {
	text string
	eval *expr
}

// Options select what Compile builds.
type Options struct {
	// Phase overrides the schema's defaultPhase ("#ALL" runs every pattern).
	Phase string
	// Docs resolves the value-set file a document() argument names (already
	// resolved against the top-level schematron directory) to a parsed tree.
	Docs func(path string) (uintptr, error)
}

// Compile reads the schematron file at path (includes, abstract patterns),
// selects the phase and compiles every XPath once.
func Compile(name, path string, opt Options) (*Schema, error) {
	root, err := readFile(path, 0)
	if err != nil {
		return nil, fmt.Errorf("schematron %s: %w", name, err)
	}
	if !root.isSch("schema") {
		return nil, fmt.Errorf("schematron %s: %s has root <%s>, not <schema>", name, path, root.name)
	}
	if err := expandAbstract(root); err != nil {
		return nil, fmt.Errorf("schematron %s: %w", name, err)
	}
	s := &Schema{Name: name, File: path, docs: newDocTable()}
	pats, phases := s.collect(root)
	phase := opt.Phase
	if phase == "" {
		phase = root.attrs["defaultPhase"]
	}
	active, err := s.activePatterns(phase, phases)
	if err != nil {
		return nil, fmt.Errorf("schematron %s: %w", name, err)
	}
	// Pattern lets are global variables in the ISO skeleton, whatever the phase.
	for _, p := range pats {
		for _, ch := range p.children {
			if ch.isSch("let") {
				s.addGlobal(ch)
			}
		}
	}
	s.compilePatterns(pats, active)
	if opt.Docs != nil {
		if err := s.loadDocs(filepath.Dir(path), root, opt.Docs); err != nil {
			return nil, fmt.Errorf("schematron %s: %w", name, err)
		}
	}
	return s, nil
}

// collect walks the schema (and the schemas it includes): it records the
// namespaces and the global lets, and returns the patterns and the phases
// by id.
func (s *Schema) collect(root *node) (pats []*node, phases map[string]*node) {
	phases = map[string]*node{}
	var walk func(n *node)
	walk = func(n *node) {
		for _, ch := range n.children {
			switch {
			case ch.name == "":
			case ch.isSch("ns"):
				s.ns = append(s.ns, [2]string{ch.attrs["prefix"], ch.attrs["uri"]})
			case ch.isSch("pattern"):
				pats = append(pats, ch)
			case ch.isSch("phase"):
				phases[ch.attrs["id"]] = ch
			case ch.isSch("let"):
				s.addGlobal(ch)
			case ch.isSch("schema"):
				walk(ch) // an included file that is itself a schema
			}
		}
	}
	walk(root)
	return pats, phases
}

// activePatterns returns the ids of the patterns phase runs (nil: all) and
// records the phase's lets.
func (s *Schema) activePatterns(phase string, phases map[string]*node) (map[string]bool, error) {
	if phase == "" || phase == "#ALL" || phase == "#DEFAULT" {
		return nil, nil
	}
	ph, ok := phases[phase]
	if !ok {
		return nil, fmt.Errorf("phase %q not found", phase)
	}
	active := map[string]bool{}
	for _, a := range ph.children {
		if a.isSch("active") {
			active[a.attrs["pattern"]] = true
		}
		if a.isSch("let") {
			s.addGlobal(a)
		}
	}
	return active, nil
}

// compilePatterns compiles the rules of the active patterns (all when
// active is nil); a rule that does not compile is left out and recorded
// in CompileErrors.
func (s *Schema) compilePatterns(pats []*node, active map[string]bool) {
	globalNames := map[string]bool{}
	for _, g := range s.globals {
		globalNames[g.name] = true
	}
	for _, p := range pats {
		if active != nil && !active[p.attrs["id"]] {
			continue
		}
		cp := &pattern{id: p.attrs["id"]}
		for _, r := range p.children {
			if !r.isSch("rule") {
				continue
			}
			cr, err := s.compileRule(r, globalNames)
			if err != nil {
				s.CompileErrors = append(s.CompileErrors, fmt.Errorf("schematron %s, pattern %s, rule %q: %w", s.Name, cp.id, r.attrs["context"], err))
				continue
			}
			cp.rules = append(cp.rules, cr)
		}
		s.patterns = append(s.patterns, cp)
	}
}

func (s *Schema) addGlobal(n *node) {
	l, err := compileLet(n)
	if err != nil {
		s.CompileErrors = append(s.CompileErrors, fmt.Errorf("schematron %s, let %s: %w", s.Name, n.attrs["name"], err))
		return
	}
	s.globals = append(s.globals, l)
}

func compileLet(n *node) (*let, error) {
	e, err := compileXPath(rewrite2to1(n.attrs["value"]))
	if err != nil {
		return nil, fmt.Errorf("%w in %q", err, n.attrs["value"])
	}
	return &let{name: n.attrs["name"], cname: newCStr(n.attrs["name"]), value: e}, nil
}

func (s *Schema) compileRule(r *node, globals map[string]bool) (*rule, error) {
	cr := &rule{context: r.attrs["context"]}
	plan, err := planContext(cr.context)
	if err != nil {
		return nil, err
	}
	cr.plan = plan
	for _, ch := range r.children {
		switch {
		case ch.isSch("let"):
			l, err := compileLet(ch)
			if err != nil {
				return nil, fmt.Errorf("let %s: %w", ch.attrs["name"], err)
			}
			if globals[l.name] {
				cr.shadows = true
			}
			cr.lets = append(cr.lets, l)
		case ch.isSch("assert"), ch.isSch("report"):
			c := &check{report: ch.name == "report"}
			test := rewrite2to1(ch.attrs["test"])
			e, err := compileXPath(test)
			if err != nil {
				return nil, fmt.Errorf("%w in test %q", err, ch.attrs["test"])
			}
			c.test = e
			if err := compileMessage(ch, &c.msg); err != nil {
				return nil, err
			}
			cr.checks = append(cr.checks, c)
		}
	}
	return cr, nil
}

func compileMessage(n *node, parts *[]msgPart) error {
	for _, ch := range n.children {
		switch {
		case ch.name == "":
			*parts = append(*parts, msgPart{text: ch.text})
		case ch.isSch("value-of"):
			e, err := compileXPath(rewrite2to1(ch.attrs["select"]))
			if err != nil {
				return fmt.Errorf("%w in value-of %q", err, ch.attrs["select"])
			}
			*parts = append(*parts, msgPart{eval: e})
		case ch.isSch("name"):
			p := "name()"
			if path := ch.attrs["path"]; path != "" {
				p = "name(" + path + ")"
			}
			e, err := compileXPath(p)
			if err != nil {
				return fmt.Errorf("%w in name %q", err, p)
			}
			*parts = append(*parts, msgPart{eval: e})
		default: // emph, span, dir or foreign markup: their text
			if err := compileMessage(ch, parts); err != nil {
				return err
			}
		}
	}
	return nil
}

var xmlLiteral = regexp.MustCompile(`'([^']*\.xml)'|"([^"]*\.xml)"`)

// loadDocs preloads every value set a document() call may name: the string
// literals ending in .xml in the schema's lets and params.
func (s *Schema) loadDocs(dir string, root *node, load func(string) (uintptr, error)) error {
	seen := map[string]bool{}
	var walk func(n *node) error
	walk = func(n *node) error {
		for _, v := range n.attrs {
			for _, m := range xmlLiteral.FindAllStringSubmatch(v, -1) {
				lit := m[1] + m[2]
				if seen[lit] {
					continue
				}
				seen[lit] = true
				p, err := resolveFile(dir, lit)
				if err != nil {
					// document() will give an empty node-set: every code checked
					// against it fails, which the operator must know about.
					s.MissingDocs = append(s.MissingDocs, filepath.Join(dir, filepath.FromSlash(lit)))
					continue
				}
				d, err := load(p)
				if err != nil {
					return fmt.Errorf("value set %s: %w", p, err)
				}
				s.docs.add(lit, d)
			}
		}
		for _, ch := range n.children {
			if err := walk(ch); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root)
}

// Rewrites of the XPath 2.0 constructs found in the kits (IHE.sch):
//   - count(cda:templateId/@root='…')=1 counts one boolean: always true in 2.0;
//   - path/( a and b ) maps a boolean over a path: in a test, true when some
//     step result satisfies it, i.e. path[ a and b ].
var (
	countBool = regexp.MustCompile(`count\(\s*[A-Za-z:/@]+\s*=\s*('[^']*'|"[^"]*")\s*\)\s*=\s*1`)
)

func rewrite2to1(s string) string {
	s = countBool.ReplaceAllString(s, "true()")
	for {
		i := strings.Index(s, "/(")
		if i < 0 {
			return s
		}
		j := matchParen(s, i+1)
		if j < 0 {
			return s
		}
		s = s[:i] + "[" + s[i+2:j] + "]" + s[j+1:]
	}
}

// matchParen returns the index of the parenthesis closing the one at i.
func matchParen(s string, i int) int { return matchClosing(s, i, '(', ')') }

// matchClosing returns the index of the close byte matching the open byte at
// s[i], skipping quoted strings, or -1.
func matchClosing(s string, i int, open, close byte) int {
	depth := 0
	var quote byte
	for k := i; k < len(s); k++ {
		c := s[k]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == open:
			depth++
		case c == close:
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

// Rules counts the compiled rules of the active patterns.
func (s *Schema) Rules() int {
	n := 0
	for _, p := range s.patterns {
		n += len(p.rules)
	}
	return n
}

// Free releases the compiled expressions. The value sets belong to the
// caller's Options.Docs. No validation may be running.
func (s *Schema) Free() {
	freeLets := func(ls []*let) {
		for _, l := range ls {
			l.value.free()
			l.cname.free()
		}
	}
	freeLets(s.globals)
	for _, p := range s.patterns {
		for _, r := range p.rules {
			for _, b := range r.plan {
				b.e.free()
			}
			freeLets(r.lets)
			for _, c := range r.checks {
				c.test.free()
				for _, m := range c.msg {
					m.eval.free()
				}
			}
		}
	}
	s.docs.free()
	s.patterns, s.globals = nil, nil
}

package main

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"sort"
	"strconv"
)

// A Mutant is one small change to one source file, kept as a byte splice of
// the original text: the rest of the file, its comments, directives and line
// numbers stay exactly as they are, so a failing test still points at the
// right line and a cgo preamble or go:embed is never disturbed.
type Mutant struct {
	File  string // absolute path
	Rel   string // path from the workspace root, for keys and reports
	Line  int
	Col   int
	Op    string // operator name, see operators
	Desc  string // what changed, without spaces, e.g. "<-><=" (may be empty)
	Start int    // byte offsets of the replaced text in the original file
	End   int
	Repl  string
}

// Key names a mutant in reports and in the equivalent-mutant list. It holds
// no byte offsets, so it survives edits elsewhere in the file.
func (m Mutant) Key() string {
	k := fmt.Sprintf("%s:%d:%d:%s", m.Rel, m.Line, m.Col, m.Op)
	if m.Desc != "" {
		k += ":" + m.Desc
	}
	return k
}

// Apply returns the source with the mutant spliced in.
func (m Mutant) Apply(src []byte) []byte {
	out := make([]byte, 0, len(src)+len(m.Repl))
	out = append(out, src[:m.Start]...)
	out = append(out, m.Repl...)
	return append(out, src[m.End:]...)
}

// The operators, in the order the report lists them.
var operators = []string{
	"cmp-flip",     // == <-> !=, < <-> >=, > <-> <=
	"cmp-boundary", // < <-> <=, > <-> >=
	"negate",       // a condition that is not a comparison: c -> !(c), !c -> c
	"logic",        // && <-> ||
	"arith",        // + <-> -, * <-> /, % -> *, += <-> -=, ++ <-> -- (numbers only)
	"const",        // an integer literal n -> n+1 (0 -> 1)
	"stmt-delete",  // an expression statement, assignment or ++/-- removed
}

var flip = map[token.Token]token.Token{
	token.EQL: token.NEQ, token.NEQ: token.EQL,
	token.LSS: token.GEQ, token.GEQ: token.LSS,
	token.GTR: token.LEQ, token.LEQ: token.GTR,
}

var boundary = map[token.Token]token.Token{
	token.LSS: token.LEQ, token.LEQ: token.LSS,
	token.GTR: token.GEQ, token.GEQ: token.GTR,
}

var arith = map[token.Token]token.Token{
	token.ADD: token.SUB, token.SUB: token.ADD,
	token.MUL: token.QUO, token.QUO: token.MUL,
	token.REM:        token.MUL,
	token.ADD_ASSIGN: token.SUB_ASSIGN, token.SUB_ASSIGN: token.ADD_ASSIGN,
	token.INC: token.DEC, token.DEC: token.INC,
}

// generator walks one file. info may be nil (no type information): then the
// operators that need types (arith, the locals kept alive by stmt-delete)
// fall back to syntax alone and the build decides what compiles.
type generator struct {
	fset *token.FileSet
	file *ast.File
	src  []byte
	abs  string
	rel  string
	info *types.Info
	out  []Mutant
}

// Generate lists every mutant of one parsed file, sorted by position.
func Generate(fset *token.FileSet, f *ast.File, src []byte, abs, rel string, info *types.Info) []Mutant {
	g := &generator{fset: fset, file: f, src: src, abs: abs, rel: rel, info: info}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			// Package-level vars and consts are mostly tables and
			// limits; mutating their literals is left out on purpose
			// (too many equivalent mutants of messages and sizes).
			continue
		}
		ast.Inspect(fd.Body, g.visit)
	}
	sort.SliceStable(g.out, func(i, j int) bool { return g.out[i].Start < g.out[j].Start })
	return g.out
}

func (g *generator) add(op, desc string, start, end token.Pos, repl string) {
	p := g.fset.Position(start)
	g.out = append(g.out, Mutant{
		File: g.abs, Rel: g.rel, Line: p.Line, Col: p.Column, Op: op, Desc: desc,
		Start: g.off(start), End: g.off(end), Repl: repl,
	})
}

func (g *generator) off(p token.Pos) int { return g.fset.Position(p).Offset }

func (g *generator) text(n ast.Node) string { return string(g.src[g.off(n.Pos()):g.off(n.End())]) }

func (g *generator) visit(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.BinaryExpr:
		g.binary(n)
	case *ast.UnaryExpr:
		if n.Op == token.NOT {
			g.add("negate", "!x->x", n.OpPos, n.X.Pos(), "")
		}
	case *ast.IfStmt:
		g.condition(n.Cond)
	case *ast.ForStmt:
		if n.Cond != nil {
			g.condition(n.Cond)
		}
	case *ast.BasicLit:
		if n.Kind == token.INT {
			if v, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
				g.add("const", fmt.Sprintf("%s->%d", n.Value, v+1), n.Pos(), n.End(), strconv.FormatInt(v+1, 10))
			}
		}
	case *ast.ExprStmt:
		g.deleteStmt(n)
	case *ast.AssignStmt:
		if to, ok := arith[n.Tok]; ok && g.numeric(n.Lhs[0]) {
			g.add("arith", n.Tok.String()+"->"+to.String(), n.TokPos, n.TokPos+token.Pos(len(n.Tok.String())), to.String())
		}
		if n.Tok != token.DEFINE {
			g.deleteStmt(n)
		}
	case *ast.IncDecStmt:
		to := arith[n.Tok]
		g.add("arith", n.Tok.String()+"->"+to.String(), n.TokPos, n.TokPos+2, to.String())
		g.deleteStmt(n)
	case *ast.CaseClause, *ast.CommClause, *ast.BlockStmt, *ast.LabeledStmt:
	}
	return true
}

func (g *generator) binary(n *ast.BinaryExpr) {
	opEnd := n.OpPos + token.Pos(len(n.Op.String()))
	if to, ok := flip[n.Op]; ok {
		g.add("cmp-flip", n.Op.String()+"->"+to.String(), n.OpPos, opEnd, to.String())
	}
	if to, ok := boundary[n.Op]; ok && g.ordered(n.X) {
		g.add("cmp-boundary", n.Op.String()+"->"+to.String(), n.OpPos, opEnd, to.String())
	}
	switch n.Op {
	case token.LAND:
		g.add("logic", "&&->||", n.OpPos, opEnd, "||")
	case token.LOR:
		g.add("logic", "||->&&", n.OpPos, opEnd, "&&")
	}
	if to, ok := arith[n.Op]; ok && g.numeric(n) {
		g.add("arith", n.Op.String()+"->"+to.String(), n.OpPos, opEnd, to.String())
	}
}

// condition negates an if or for condition unless it is a comparison or a
// logical operation (cmp-flip and logic already cover those) or already a
// negation (covered by "!x->x").
func (g *generator) condition(c ast.Expr) {
	switch c := ast.Unparen(c).(type) {
	case *ast.BinaryExpr:
		if _, cmp := flip[c.Op]; cmp || c.Op == token.LAND || c.Op == token.LOR {
			return
		}
	case *ast.UnaryExpr:
		if c.Op == token.NOT {
			return
		}
	}
	g.add("negate", "c->!c", c.Pos(), c.End(), "!("+g.text(c)+")")
}

// deleteStmt removes a statement. The local variables it used are kept
// used by `_ = x`, so that "declared and not used" does not turn the mutant
// into a build failure: the mutant tests whether the effect mattered, not
// whether the compiler notices.
func (g *generator) deleteStmt(s ast.Stmt) {
	if es, ok := s.(*ast.ExprStmt); ok {
		if call, ok := es.X.(*ast.CallExpr); ok {
			if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "panic" {
				return // deleting a panic mostly yields "missing return"
			}
		}
	}
	repl := ""
	if locals := g.locals(s); len(locals) > 0 {
		blanks := make([]string, len(locals))
		for i := range blanks {
			blanks[i] = "_"
		}
		repl = join(blanks) + " = " + join(locals)
	}
	g.add("stmt-delete", "", s.Pos(), s.End(), repl)
}

// locals lists the function-local variables a statement refers to that are
// declared outside it, in order of first use.
func (g *generator) locals(s ast.Stmt) []string {
	var names []string
	seen := map[string]bool{}
	ast.Inspect(s, func(n ast.Node) bool {
		id, ok := n.(*ast.Ident)
		if !ok || id.Name == "_" || seen[id.Name] {
			return true
		}
		if g.info == nil {
			return true
		}
		v, ok := g.info.Uses[id].(*types.Var)
		if !ok || v.IsField() || v.Parent() == nil || v.Pkg() == nil || v.Parent() == v.Pkg().Scope() {
			return true
		}
		if v.Pos() >= s.Pos() && v.Pos() < s.End() {
			return true // declared inside the statement (a closure parameter)
		}
		seen[id.Name] = true
		names = append(names, id.Name)
		return true
	})
	return names
}

// numeric reports whether e has a numeric type. Without type information
// it says yes unless e is visibly a string, and the build sorts out the rest.
func (g *generator) numeric(e ast.Expr) bool {
	if g.info == nil {
		lit, ok := e.(*ast.BasicLit)
		return !ok || lit.Kind != token.STRING
	}
	t := g.info.TypeOf(e)
	if t == nil {
		return false
	}
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&types.IsNumeric != 0
}

// ordered reports whether e is a number (boundary mutants on strings are
// rarely meaningful: "<" on strings is a sort order, left to cmp-flip).
func (g *generator) ordered(e ast.Expr) bool { return g.numeric(e) }

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

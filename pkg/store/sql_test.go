package store

import (
	"go/ast"
	goparser "go/parser"
	gotoken "go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// looksLikeSQL matches a string literal that holds a statement, or a piece of
// one, the hub could send to ClickHouse.
var looksLikeSQL = regexp.MustCompile(`(?is)\bSELECT\b.+\bFROM\b|\bINSERT\s+INTO\s+[\w.]+\s*(\(|SELECT\b|VALUES\b|FORMAT\b)|\b(CREATE|ATTACH)\s+(TABLE|VIEW|DATABASE|MATERIALIZED)\b|` +
	`\bALTER\s+TABLE\b|\bDROP\s+(TABLE|VIEW|DATABASE)\b|\bOPTIMIZE\s+TABLE\b|\bTRUNCATE\s+TABLE\b|\bSELECT\s+version\(\)`)

// sqlAllowed are the files and folders (ending in /), besides each
// package's sql.go, that may hold SQL: the cluster DDL derivation, pkg/chddl
// (TestClusterFormOnModernEngine parses what it writes), the compatibility
// harness, which copies, merges and inspects tables, and pkg/chtest and
// pkg/store/storetest, the test support that creates and drops the tests'
// databases and reads what runs left in them (imported by _test.go files
// only).
var sqlAllowedPaths = []string{"pkg/chddl/", "pkg/chcompat/", "pkg/chtest/", "pkg/store/storetest/"}

func sqlAllowed(rel string) bool {
	for _, p := range sqlAllowedPaths {
		if rel == p || strings.HasSuffix(p, "/") && strings.HasPrefix(rel, p) {
			return true
		}
	}
	return false
}

// TestSQLOnlyInRegistries keeps every statement the hub sends in a registry
// (a package's sql.go, listed by its Statements), where the compatibility
// suite (pkg/chcompat) finds it and runs it on both ClickHouse versions:
//   - no SQL string literal outside sql.go files (and sqlAllowed);
//   - no Statement made outside sql.go;
//   - every Statement variable of a sql.go is listed by its Statements;
//   - outside pkg/store, no code reaches the raw connection (Store.Conn) to
//     send SQL of its own: Store.Query, QueryRow and Exec take a Statement.
//
// Test files are not scanned: their SQL (creating test databases) never
// runs in production.
func TestSQLOnlyInRegistries(t *testing.T) {
	root := filepath.Join("..", "..")
	registries := 0
	for _, dir := range []string{"pkg", "services", "pseudonymisation"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			rel, _ := filepath.Rel(root, path)
			rel = filepath.ToSlash(rel)
			f, err := goparser.ParseFile(gotoken.NewFileSet(), path, nil, goparser.SkipObjectResolution)
			if err != nil {
				return err
			}
			isRegistry := filepath.Base(rel) == "sql.go"
			if isRegistry {
				registries++
				checkRegistry(t, rel, f)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.BasicLit:
					if x.Kind == gotoken.STRING && !isRegistry && !sqlAllowed(rel) {
						if s, err := strconv.Unquote(x.Value); err == nil && looksLikeSQL.MatchString(s) {
							t.Errorf("%s: SQL outside a registry (%q): declare it in the package's sql.go and list it in Statements",
								rel, abbrev(s))
						}
					}
				case *ast.CompositeLit:
					if isStatementType(x.Type) && !isRegistry {
						t.Errorf("%s: a Statement made outside sql.go", rel)
					}
				case *ast.CallExpr:
					if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Conn" && len(x.Args) == 0 &&
						!strings.HasPrefix(rel, "pkg/store/") && !sqlAllowed(rel) {
						t.Errorf("%s: Store.Conn() outside pkg/store: send a registered Statement with Store.Query, QueryRow or Exec", rel)
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if registries < 2 {
		t.Errorf("found %d registries (sql.go), want those of pkg/store and pkg/indicators", registries)
	}
}

func isStatementType(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name == "Statement"
	case *ast.SelectorExpr:
		return x.Sel.Name == "Statement"
	}
	return false
}

// checkRegistry: every package-level variable of a sql.go whose value makes
// statements (a Statement literal, or a call of a function of the file that
// makes them) is named in the file's Statements function, directly or in a
// function of the file that Statements calls.
func checkRegistry(t *testing.T, rel string, f *ast.File) {
	funcs := map[string]*ast.FuncDecl{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
			funcs[fd.Name.Name] = fd
		}
	}
	statementTypes := statementTypesOf(f)
	list := funcs["Statements"]
	if list == nil {
		t.Errorf("%s: no Statements function listing the registry", rel)
		return
	}
	named := map[string]bool{}
	var collect func(fd *ast.FuncDecl)
	collect = func(fd *ast.FuncDecl) {
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && !named[id.Name] {
				named[id.Name] = true
				if g := funcs[id.Name]; g != nil && g != fd {
					collect(g)
				}
			}
			return true
		})
	}
	collect(list)
	makesStatements := func(e ast.Expr) bool {
		found := false
		ast.Inspect(e, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CompositeLit:
				found = found || isStatementType(x.Type)
			case *ast.CallExpr:
				fun := x.Fun
				if ix, ok := fun.(*ast.IndexExpr); ok { // a generic function: insertRows[documentRow]
					fun = ix.X
				}
				if id, ok := fun.(*ast.Ident); ok && funcs[id.Name] != nil && returnsStatement(funcs[id.Name], statementTypes) {
					found = true
				}
			}
			return !found
		})
		return found
	}
	vars := 0
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != gotoken.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i < len(vs.Values) && makesStatements(vs.Values[i]) {
					vars++
					if !named[name.Name] {
						t.Errorf("%s: %s makes statements that Statements does not list: the compatibility suite would not run them",
							rel, name.Name)
					}
				}
			}
		}
	}
	if vars == 0 {
		t.Errorf("%s: no statement found: is the registry still written as Statement values?", rel)
	}
}

// returnsStatement: fd returns a Statement, or a type of the file that
// embeds one (rowInsert[R], an insert of typed rows).
func returnsStatement(fd *ast.FuncDecl, statementTypes map[string]bool) bool {
	if fd.Type.Results == nil || len(fd.Type.Results.List) != 1 {
		return false
	}
	res := fd.Type.Results.List[0].Type
	if ix, ok := res.(*ast.IndexExpr); ok {
		res = ix.X
	}
	id, ok := res.(*ast.Ident)
	return isStatementType(res) || ok && statementTypes[id.Name]
}

// statementTypesOf names the struct types of f that embed a Statement.
func statementTypesOf(f *ast.File) map[string]bool {
	out := map[string]bool{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != gotoken.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			if st, ok := ts.Type.(*ast.StructType); ok {
				for _, fl := range st.Fields.List {
					if len(fl.Names) == 0 && isStatementType(fl.Type) {
						out[ts.Name.Name] = true
					}
				}
			}
		}
	}
	return out
}

// abbrev shortens a statement to one line for a test's message.
func abbrev(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

package chddl

import (
	"fmt"
	"regexp"
	"strings"
)

// --- a small SQL lexer: enough to find names, parentheses and keywords
// without being fooled by strings, comments and quoted identifiers.

type tokKind int

const (
	tokIdent tokKind = iota + 1 // bare or quoted (text unquoted)
	tokString
	tokNumber
	tokPunct
)

type token struct {
	kind       tokKind
	text       string
	start, end int // byte offsets in the statement
	quoted     bool
}

func lexSQL(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				i = len(s)
			} else {
				i += j + 1
			}
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("unterminated comment at byte %d", i)
			}
			i += j + 4
		case c == '\'' || c == '`' || c == '"':
			j := i + 1
			var b strings.Builder
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated %c at byte %d", c, i)
				}
				if s[j] == '\\' && j+1 < len(s) {
					b.WriteByte(s[j+1])
					j += 2
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			k := tokString
			if c != '\'' {
				k = tokIdent
			}
			out = append(out, token{kind: k, text: b.String(), start: i, end: j + 1, quoted: c != '\''})
			i = j + 1
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && (isIdentStart(s[j]) || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			out = append(out, token{kind: tokIdent, text: s[i:j], start: i, end: j})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' || s[j] == 'x' ||
				(s[j] >= 'a' && s[j] <= 'f') || (s[j] >= 'A' && s[j] <= 'F')) {
				j++
			}
			out = append(out, token{kind: tokNumber, text: s[i:j], start: i, end: j})
			i = j
		default:
			out = append(out, token{kind: tokPunct, text: s[i : i+1], start: i, end: i + 1})
			i++
		}
	}
	return out, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

type parser struct {
	src  string
	toks []token
}

func (p *parser) is(i int, k tokKind) bool { return i >= 0 && i < len(p.toks) && p.toks[i].kind == k }

func (p *parser) kw(i int, w string) bool {
	return p.is(i, tokIdent) && !p.toks[i].quoted && strings.EqualFold(p.toks[i].text, w)
}

func (p *parser) punct(i int, c string) bool { return p.is(i, tokPunct) && p.toks[i].text == c }

// tableName reads an unqualified table name at i: migrations name no
// database, the connection's is used (and the cluster form qualifies).
func (p *parser) tableName(i int) (string, int, error) {
	if !p.is(i, tokIdent) {
		return "", i, fmt.Errorf("table name expected in %q", abbrev(p.src))
	}
	if p.punct(i+1, ".") {
		return "", i, fmt.Errorf("%q: migrations must not name a database", abbrev(p.src))
	}
	if p.kw(i+1, "ON") && p.kw(i+2, "CLUSTER") {
		return "", i, fmt.Errorf("%q: migrations are written for one server, without ON CLUSTER", abbrev(p.src))
	}
	return p.toks[i].text, i + 1, nil
}

// createdName reads what follows CREATE TABLE|VIEW: [IF NOT EXISTS] name.
// It returns "IF NOT EXISTS " or "", the name and the index after it.
func (p *parser) createdName() (ifne, name string, next int, err error) {
	i := 2
	if p.kw(i, "IF") && p.kw(i+1, "NOT") && p.kw(i+2, "EXISTS") {
		ifne, i = "IF NOT EXISTS ", i+3
	}
	name, next, err = p.tableName(i)
	return ifne, name, next, err
}

func (p *parser) matching(open int) (int, error) {
	d := 0
	for k := open; k < len(p.toks); k++ {
		switch {
		case p.punct(k, "("):
			d++
		case p.punct(k, ")"):
			d--
			if d == 0 {
				return k, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced parenthesis in %q", abbrev(p.src))
}

// columns returns the column names of the list between open and closing and,
// if dropComments, the edits removing their COMMENT clauses.
func (p *parser) columns(open, closing int, dropComments bool) (map[string]bool, []edit) {
	cols := map[string]bool{}
	var edits []edit
	d := 0
	for k := open; k < closing; k++ {
		switch {
		case p.punct(k, "("):
			d++
			if d == 1 && p.is(k+1, tokIdent) {
				cols[p.toks[k+1].text] = true
			}
		case p.punct(k, ")"):
			d--
		case d == 1 && p.punct(k, ","):
			if p.is(k+1, tokIdent) {
				cols[p.toks[k+1].text] = true
			}
		case d == 1 && dropComments && p.kw(k, "COMMENT") && p.is(k+1, tokString):
			edits = append(edits, edit{p.toks[k].start, p.toks[k+1].end, ""})
		}
	}
	return cols, edits
}

// leftOperandHas: the left operand of the IN at token in (a name, or a
// parenthesised tuple) mentions column.
func (p *parser) leftOperandHas(in int, column string) bool {
	k := in - 1
	if p.kw(k, "NOT") {
		k--
	}
	if p.is(k, tokIdent) {
		return p.toks[k].text == column
	}
	if !p.punct(k, ")") {
		return false
	}
	d := 0
	for ; k >= 0; k-- {
		switch {
		case p.punct(k, ")"):
			d++
		case p.punct(k, "("):
			d--
			if d == 0 {
				return false
			}
		case p.is(k, tokIdent) && p.toks[k].text == column:
			return true
		}
	}
	return false
}

type edit struct {
	start, end int
	text       string
}

// applyEdits returns src[from:to] with the edits (sorted, not overlapping)
// applied.
func applyEdits(src string, from, to int, edits []edit) string {
	sortEdits(edits)
	var b strings.Builder
	at := from
	for _, e := range edits {
		if e.start < from || e.end > to {
			continue
		}
		b.WriteString(src[at:e.start])
		b.WriteString(e.text)
		at = e.end
	}
	b.WriteString(src[at:to])
	return b.String()
}

func sortEdits(es []edit) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].start < es[j-1].start; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

var bareIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// QuoteIdent writes a name as ClickHouse reads it: bare when it can be,
// else in backquotes.
func QuoteIdent(s string) string {
	if bareIdent.MatchString(s) {
		return s
	}
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
}

// QuoteString writes s as a ClickHouse string literal.
func QuoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func abbrev(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

package schematron

import (
	"regexp"
	"strings"
)

// branch is one alternative of a rule context (an XSLT match pattern) and
// how to find the nodes it matches without scanning the whole document.
type branch struct {
	kind  branchKind
	key   string // local name (byName) or templateId root (byTID)
	exact bool   // byTID and nothing more to check: the index is the answer
	e     *expr  // byName/byTID: self::step… at each candidate; scan: from the document node
}

type branchKind int

const (
	scan   branchKind = iota // evaluate e from the document node
	byName                   // candidates: elements of that local name ("" = all)
	byTID                    // candidates: elements with a templateId of that root
)

var (
	// cda:templateId/@root='X' or cda:templateId[@root='X']: the same test.
	tidStep  = regexp.MustCompile(`^\*\[\s*cda:templateId(?:/@root\s*=\s*(?:'([^']*)'|"([^"]*)")|\[\s*@root\s*=\s*(?:'([^']*)'|"([^"]*)")\s*\])\s*\]$`)
	tidPred  = regexp.MustCompile(`^\[\s*cda:templateId(?:/@root\s*=\s*(?:'([^']*)'|"([^"]*)")|\[\s*@root\s*=\s*(?:'([^']*)'|"([^"]*)")\s*\])\s*[\]a]`)
	nameTest = regexp.MustCompile(`^(\*|(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*))(\[.*)?$`)
	position = regexp.MustCompile(`\[\s*\d+\s*\]|position\(|last\(`)
)

// planContext compiles a rule context. A match pattern matches a node when
// the node is selected by //pattern; a relative first step S[p] followed by
// R matches exactly the nodes that self::S[p]R selects from an element with
// the name of S, unless p is positional.
func planContext(ctx string) ([]branch, error) {
	var out []branch
	for _, alt := range splitTop(ctx, '|') {
		alt = strings.TrimSpace(alt)
		b, err := planBranch(alt)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func planBranch(alt string) (branch, error) {
	rel := strings.TrimPrefix(alt, "//")
	if strings.HasPrefix(rel, "/") || rel == "" {
		e, err := compileXPath(alt)
		return branch{kind: scan, e: e}, err
	}
	steps := splitTop(rel, '/')
	first := steps[0]
	rest := rel[len(first):]
	if m := tidStep.FindStringSubmatch(first); m != nil && rest == "" {
		// Still compile the whole context so a syntax error is reported.
		e, err := compileXPath("//" + rel)
		if err != nil {
			return branch{}, err
		}
		e.free()
		return branch{kind: byTID, key: m[1] + m[2] + m[3] + m[4], exact: true}, nil
	}
	m := nameTest.FindStringSubmatch(first)
	if m == nil || strings.Contains(first, "::") || position.MatchString(m[3]) {
		e, err := compileXPath("//" + rel)
		return branch{kind: scan, e: e}, err
	}
	e, err := compileXPath("self::" + rel)
	if err != nil {
		return branch{}, err
	}
	if p := tidPred.FindStringSubmatch(m[3]); p != nil {
		// The first predicate is the templateId test, alone or joined by
		// "and" with no "or": only elements carrying it can match.
		end := matchBracket(m[3])
		pred := m[3][:end+1]
		if end > 0 && !strings.Contains(pred, " or ") && !strings.Contains(pred, "|") &&
			(strings.HasSuffix(p[0], "]") || isAnd(m[3][len(p[0])-1:])) {
			return branch{kind: byTID, key: p[1] + p[2] + p[3] + p[4], e: e}, nil
		}
	}
	name := m[2]
	if m[1] == "*" {
		name = ""
	}
	return branch{kind: byName, key: name, e: e}, nil
}

func isAnd(s string) bool { return strings.HasPrefix(s, "and ") || strings.HasPrefix(s, "and(") }

// splitTop splits s on sep outside quotes, brackets and parentheses.
func splitTop(s string, sep byte) []string {
	var out []string
	depth := 0
	var quote byte
	start := 0
	for k := 0; k < len(s); k++ {
		c := s[k]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '[' || c == '(':
			depth++
		case c == ']' || c == ')':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:k])
			start = k + 1
		}
	}
	return append(out, s[start:])
}

// matchBracket returns the index of the ']' closing the '[' at s[0], or -1.
func matchBracket(s string) int { return matchClosing(s, 0, '[', ']') }

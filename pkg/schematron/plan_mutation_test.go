package schematron

import "testing"

// TestRewrite2to1Edges: the parenthesis matched is the one after the
// slash, whatever comes before it; quotes inside are skipped; several
// maps in one expression are all rewritten.
func TestRewrite2to1Edges(t *testing.T) {
	for in, want := range map[string]string{
		`(cda:a)/(cda:b)`:                    `(cda:a)[cda:b]`,
		`f('x')/(@v = ')')`:                  `f('x')[@v = ')']`,
		`cda:a/(cda:b) and cda:c/(cda:d)`:    `cda:a[cda:b] and cda:c[cda:d]`,
		`cda:a/(cda:b and (cda:c or cda:d))`: `cda:a[cda:b and (cda:c or cda:d)]`,
		`cda:a/(unclosed`:                    `cda:a/(unclosed`,
	} {
		if got := rewrite2to1(in); got != want {
			t.Errorf("rewrite2to1(%q) = %q, want %q", in, got, want)
		}
	}
}

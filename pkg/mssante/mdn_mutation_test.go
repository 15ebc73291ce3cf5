package mssante

import (
	"strings"
	"testing"
)

// TestIsAddrSpecBounds: the edges of what IsAddrSpec accepts, one
// character either side.
func TestIsAddrSpecBounds(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n-len("@chu.test")) + "@chu.test" }
	for _, c := range []struct {
		a  string
		ok bool
	}{
		{"a@b", true},
		{"@chu.test", false},     // no local part
		{"dpi@", false},          // no domain
		{"dpi@chu@x", true},      // the last @ splits; '@' is printable
		{long(254), true},        // the longest address SMTP allows
		{long(255), false},       // one more
		{"d!pi~@chu.test", true}, // '!' and '~': the first and last printable
		{"dp i@chu.test", false},
		{"dpi\x7f@chu.test", false},
		{"dpi\x1f@chu.test", false},
		{"<dpi@chu.test>", false},
		{`"dpi"@chu.test`, false},
		{"dpi@chu.test;x", false},
		{"dpi@chu.tést", false},
	} {
		if got := IsAddrSpec(c.a); got != c.ok {
			t.Errorf("IsAddrSpec(%q) = %v, want %v", c.a, got, c.ok)
		}
	}
}

package mssante

import (
	"bytes"
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

// TestMdnEncodeWordsAnyHighByte: any byte from 0x80 up makes the text an
// encoded word, even a stray one that is not UTF-8: raw 8-bit bytes must
// not reach the 7-bit Subject field.
func TestMdnEncodeWordsAnyHighByte(t *testing.T) {
	for _, c := range []struct {
		in      string
		encoded bool
	}{{"plain ~ text", false}, {"Zoé", true}, {"a\x80b", true}, {"a\x7fb", false}} {
		got := mdnEncodeWords(c.in)
		if enc := strings.HasPrefix(got, "=?UTF-8?"); enc != c.encoded {
			t.Errorf("mdnEncodeWords(%q) = %q, want encoded %v", c.in, got, c.encoded)
		}
	}
}

// TestMdnWriteFieldFoldsBefore78: a header line never reaches 78
// characters when a space lets it fold, and unfolding gives the value back.
func TestMdnWriteFieldFoldsBefore78(t *testing.T) {
	for first := 1; first < 68; first++ {
		value := strings.Repeat("a", first) + " " + strings.Repeat("b", 68-first) + " c " + strings.Repeat("d", 20)
		var b bytes.Buffer
		mdnWriteField(&b, "Subject", value)
		out := strings.TrimSuffix(b.String(), "\r\n")
		for _, line := range strings.Split(out, "\r\n") {
			if len(line) >= 78 {
				t.Errorf("first word %d: line of %d characters: %q", first, len(line), line)
			}
		}
		if got := strings.ReplaceAll(out, "\r\n", ""); got != "Subject: "+value {
			t.Errorf("first word %d: unfolds to %q", first, got)
		}
	}
}

// TestMdnWriteFieldFillsLines: a field folds only where the next word
// would pass column 76: a value that fits stays on one line, and no line
// could have taken the next line's first word. (The column count has to
// be exact for that; an overcount folds early, an undercount runs past 78.)
func TestMdnWriteFieldFillsLines(t *testing.T) {
	for _, value := range []string{
		// "Subject: " and 22 words: 76 columns exactly.
		strings.TrimSpace(strings.Repeat("ab ", 22)) + " c",
		strings.Repeat("mot ", 40) + "fin",
		"Refus du document : le set de données minimum n'est pas conforme au modèle SDM-MR 2024.01 du CI-SIS",
	} {
		var b bytes.Buffer
		mdnWriteField(&b, "Subject", value)
		lines := strings.Split(strings.TrimSuffix(b.String(), "\r\n"), "\r\n")
		if len("Subject: "+value) <= 76 && len(lines) != 1 {
			t.Errorf("%q fits in 76 columns but was folded: %q", value, lines)
		}
		for i := 0; i+1 < len(lines); i++ {
			next := strings.Fields(lines[i+1])[0]
			if len(lines[i])+1+len(next) <= 76 {
				t.Errorf("%q: line %q folded though %q fitted after it", value, lines[i], next)
			}
		}
	}
}

// TestMdnCrlf: every line ends in CRLF, the last one included, and an
// empty text stays empty.
func TestMdnCrlf(t *testing.T) {
	for in, want := range map[string]string{
		"":           "",
		"a":          "a\r\n",
		"a\r\n":      "a\r\n",
		"a\nb":       "a\r\nb\r\n",
		"a\rb\r\n\n": "a\r\nb\r\n\r\n",
	} {
		if got := string(mdnCrlf([]byte(in))); got != want {
			t.Errorf("mdnCrlf(%q) = %q, want %q", in, got, want)
		}
	}
}

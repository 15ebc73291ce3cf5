package mssante

import (
	"bytes"
	"io"
	"testing"

	"github.com/emersion/go-message"

	"github.com/bndmr/hub/pkg/mailbuild"
)

// TestHeaderEndChecksOneLineOnly: only the first line that is neither a
// field nor a continuation may open the body. A boundary-looking line
// after some other stray line is header garbage, and the block runs on
// to the blank line.
func TestHeaderEndChecksOneLineOnly(t *testing.T) {
	const ct = "Content-Type: multipart/mixed; boundary=b\r\n"
	for _, c := range []struct {
		name    string
		raw     string
		end     int
		noBlank bool
	}{
		{"the boundary first", ct + "--b\r\nX: y\r\n\r\nbody", len(ct), true},
		{"a stray line first", ct + "stray\r\n--b\r\nX: y\r\n\r\nbody", len(ct + "stray\r\n--b\r\nX: y\r\n"), false},
		{"a blank line first", ct + "X: y\r\n\r\n--b\r\n", len(ct + "X: y\r\n"), false},
	} {
		end, noBlank := headerEnd([]byte(c.raw))
		if end != c.end || noBlank != c.noBlank {
			t.Errorf("%s: headerEnd = %d, %v; want %d, %v", c.name, end, noBlank, c.end, c.noBlank)
		}
	}
}

// TestIsHeaderFieldNameBounds: a field name is printable ASCII from '!'
// to '~' but the colon, and not empty.
func TestIsHeaderFieldNameBounds(t *testing.T) {
	for _, c := range []struct {
		line string
		ok   bool
	}{
		{"Subject: x", true}, {"!: x", true}, {"~: x", true}, {"X-!~: x", true},
		{": x", false}, {" X: x", false}, {"X\x7f: x", false}, {"X Y: x", false}, {"no colon", false},
	} {
		if got := isHeaderField([]byte(c.line)); got != c.ok {
			t.Errorf("isHeaderField(%q) = %v, want %v", c.line, got, c.ok)
		}
	}
}

// chunks hands out its strings one Read at a time.
type chunks []string

func (c *chunks) Read(p []byte) (int, error) {
	if len(*c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*c)[0])
	(*c)[0] = (*c)[0][n:]
	if (*c)[0] == "" {
		*c = (*c)[1:]
	}
	return n, nil
}

// TestSpaceStripperSkipsBlankReads: a read that was all white space is
// not handed on as (0, nil), which io.Reader discourages; the stripper
// reads on to the next bytes.
func TestSpaceStripperSkipsBlankReads(t *testing.T) {
	r := &spaceStripper{&chunks{"  \t ", "QU JD\t", "  "}}
	p := make([]byte, 16)
	n, err := r.Read(p)
	if n != 4 || err != nil || string(p[:n]) != "QUJD" {
		t.Fatalf("first read: %d %q, %v; want 4 \"QUJD\", nil", n, p[:n], err)
	}
	if n, err = r.Read(p); n != 0 || err != io.EOF {
		t.Errorf("at the end: %d, %v; want 0, EOF", n, err)
	}
}

// TestMaxPartsBoundary: a mail of exactly MaxParts MIME entities (the
// message itself counted) is accepted; one entity more is refused.
func TestMaxPartsBoundary(t *testing.T) {
	raw := mailWith(t, mailbuild.MailSpec{XDM: mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: exampleCDA(t, newborn)}}}), PDF: []byte("%PDF-1.4")})
	// Count the entities with go-message, apart from the walker.
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	parts := 0
	if err := e.Walk(func([]int, *message.Entity, error) error { parts++; return nil }); err != nil {
		t.Fatal(err)
	}
	if parts != 4 {
		t.Fatalf("the mail has %d entities, want 4 (multipart, text, zip, pdf)", parts)
	}
	lim := DefaultLimits()
	lim.MaxParts = parts
	unpackOK(t, raw, lim)
	lim.MaxParts = parts - 1
	unpackRejected(t, raw, lim, CodeTooComplex)
}

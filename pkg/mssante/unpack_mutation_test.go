package mssante

import "testing"

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

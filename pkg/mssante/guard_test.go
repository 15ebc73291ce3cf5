package mssante

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"strings"
	"testing"
)

// A panic while unpacking (a bug on some input) refuses the mail with
// internal_error and no document, instead of taking the validator down; an
// error or a normal return passes through untouched.
func TestGuardedRecoversPanics(t *testing.T) {
	plain := errors.New("plain")
	for _, tc := range []struct {
		name     string
		f        func(m *Mail) error
		want     error  // passed through (nil: none)
		internal string // a panic: the value the reason quotes
	}{
		{name: "returns", f: func(*Mail) error { return nil }},
		{name: "error", f: func(*Mail) error { return plain }, want: plain},
		{name: "panic value", f: func(m *Mail) error {
			m.Documents = append(m.Documents, Document{Name: "half.xml"})
			panic("boom")
		}, internal: "boom"},
		{name: "runtime error", f: func(m *Mail) error {
			m.Documents = append(m.Documents, Document{Name: "half.xml"})
			var doc *Document
			_ = doc.Name
			return nil
		}, internal: "nil pointer dereference"},
		{name: "index out of range", f: func(*Mail) error {
			var b []byte
			_ = b[len(b)+1-1]
			return nil
		}, internal: "index out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Mail{Documents: []Document{{Name: "before.xml"}}}
			err := guarded(m, func() error { return tc.f(m) })
			if tc.internal == "" {
				if err != tc.want {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
				if len(m.Documents) != 1 {
					t.Errorf("documents %+v changed", m.Documents)
				}
				return
			}
			var rej *RejectError
			if !errors.As(err, &rej) || rej.Code != CodeInternal {
				t.Fatalf("err %#v, want an internal_error rejection", err)
			}
			if !strings.Contains(rej.Reason, tc.internal) || !strings.Contains(rej.ReasonFR, tc.internal) || !strings.Contains(rej.ReasonFR, "erreur interne") {
				t.Errorf("reason %q / %q does not quote %q", rej.Reason, rej.ReasonFR, tc.internal)
			}
			if m.Documents != nil {
				t.Errorf("documents %+v kept from a mail that failed half-way", m.Documents)
			}
		})
	}
}

// A MIME part is read without its own size bound because no transfer
// decoding yields more bytes than it reads, and the raw mail is bounded
// (MaxMailBytes). A decoder that expanded would need that bound back.
func TestTransferDecodingNeverExpands(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	alphabet := []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r\n=?_-.:;")
	inputs := []string{"", "=", "====", "QUJD\r\nREVG", "  Q U J D  ", "=41=42=43", "a=\r\nb", "=\r\n=\r\n", "=ZZ=0", strings.Repeat("=3D", 100)}
	for range 2000 {
		b := make([]byte, r.Intn(300))
		for i := range b {
			if r.Intn(4) == 0 {
				b[i] = byte(r.Intn(256))
			} else {
				b[i] = alphabet[r.Intn(len(alphabet))]
			}
		}
		inputs = append(inputs, string(b))
	}
	for _, cte := range []string{"", "7bit", "8bit", "binary", "base64", "BASE64 ", "quoted-printable", "x-unknown"} {
		for _, in := range inputs {
			out, _ := io.ReadAll(transferDecoder(cte, bytes.NewReader([]byte(in))))
			if len(out) > len(in) {
				t.Fatalf("%q decoding of %q gives %d bytes from %d", cte, in, len(out), len(in))
			}
		}
	}
}

package mssante

import (
	"strings"
	"testing"
)

// TestReadMDN reads back what Bytes writes, success and failure alike.
func TestReadMDN(t *testing.T) {
	ko := baseMDN()
	ko.Error = &MDNError{Code: 906, Label: "Document non conforme"}
	ko.Text = "Le message ci-dessous n'a pas pu être intégré : 906 Document non conforme — règle « dansJeuDeValeurs ».\n"
	for _, c := range []struct {
		name string
		m    MDN
		ok   bool
		err  string
	}{
		{"ok", baseMDN(), true, ""},
		{"ko", ko, false, "906^Document non conforme^applicationErrorCondition"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.m.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ReadMDN(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.OK() != c.ok || got.Error != c.err || got.Disposition != c.m.DispositionField() ||
				got.OriginalMessageID != "<orig-1@chu.test>" || got.Subject != c.m.FullSubject() || got.From != "hub@bndmr.test" ||
				!got.Date.Equal(c.m.Date.Truncate(1e9)) {
				t.Errorf("read %+v", got)
			}
			if got.Text != c.m.Text {
				t.Errorf("text %q, want %q", got.Text, c.m.Text)
			}
		})
	}
	if _, err := ReadMDN([]byte("From: a@b.test\r\nSubject: hello\r\n\r\nnot a report\r\n")); err == nil ||
		!strings.Contains(err.Error(), "multipart/report") {
		t.Errorf("a plain mail read as a notification: %v", err)
	}
}

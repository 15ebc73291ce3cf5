package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/mssante"
)

func TestPrintMDNs(t *testing.T) {
	mdn := func(id string, e *mssante.MDNError, text string) []byte {
		m := mssante.MDN{From: "hub@bndmr.test", To: []string{"hospital@chu.test"}, MessageID: mssante.MDNMessageID(id, "m", "bndmr.test"),
			Date: time.Date(2026, 10, 2, 9, 0, 0, 0, time.UTC), Subject: "XDM/1.0/DDM+SDM-MR", FinalRecipient: "hub@bndmr.test",
			OriginalMessageID: id, Error: e, Text: text, OriginalHeader: []byte("Message-ID: " + id + "\r\n")}
		b, err := m.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		name string
		got  map[string][][]byte
		code int
		want []string
	}{
		{"ok and ko", map[string][][]byte{
			"<a@x.test>": {mdn("<a@x.test>", nil, "reçu et intégré\n")},
			"<b@x.test>": {mdn("<b@x.test>", nil, "old"), mdn("<b@x.test>", &mssante.MDNError{Code: 906, Label: "Document non conforme"}, "non intégré\nrègle X\n")},
		}, 0, []string{"Disposition: automatic-action/MDN-sent-automatically; processed\n", "  | reçu et intégré\n",
			"Subject: [KO Intégration système !][906] XDM/1.0/DDM+SDM-MR", "Error: 906^Document non conforme^applicationErrorCondition",
			"  | non intégré\n  | règle X\n"}},
		{"missing", map[string][][]byte{"<a@x.test>": {mdn("<a@x.test>", nil, "ok")}}, 1, []string{"no acknowledgement answers <b@x.test>"}},
		{"unreadable", map[string][][]byte{"<a@x.test>": {mdn("<a@x.test>", nil, "ok")}, "<b@x.test>": {[]byte("Subject: hi\r\n\r\nhello\r\n")}},
			1, []string{"the acknowledgement of <b@x.test> cannot be read"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if code := printMDNs(&b, []string{"<a@x.test>", "<b@x.test>"}, c.got); code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			for _, w := range c.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
			if strings.Contains(b.String(), "old") {
				t.Errorf("an older acknowledgement was printed:\n%s", b.String())
			}
		})
	}
}

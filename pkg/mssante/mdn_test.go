package mssante

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

const mdnTestOriginal = "Return-Path: <pfi@chu.test>\r\n" +
	"From: PFI CHU <pfi@chu.test>\r\n" +
	"To: hub@bndmr.test\r\n" +
	"Subject: =?UTF-8?q?XDM/1.0/DDM+SDM-MR_DUPONT_J=C3=A9r=C3=B4me_01/02/2003?=\r\n" +
	"Message-ID: <orig-1@chu.test>\r\n" +
	"Disposition-Notification-To: pfi@chu.test\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"B\"\r\n" +
	"\r\n" +
	"--B\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nBonjour\r\n" +
	"--B\r\nContent-Type: application/zip; name=\"IHE_XDM.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n" +
	"--B--\r\n"

func baseMDN() MDN {
	return MDN{
		From:              "hub@bndmr.test",
		To:                []string{"pfi@chu.test"},
		MessageID:         MDNMessageID("<orig-1@chu.test>", "m1", "bndmr.test"),
		Date:              time.Date(2026, 3, 4, 10, 11, 12, 0, time.FixedZone("CET", 3600)),
		Subject:           "XDM/1.0/DDM+SDM-MR DUPONT Jérôme 01/02/2003",
		ReportingUA:       "hub.bndmr.test; BNDMR hub",
		FinalRecipient:    "hub@bndmr.test",
		OriginalMessageID: "<orig-1@chu.test>",
		Text:              "Le message ci-dessous a été intégré.\n",
		Original:          []byte(mdnTestOriginal),
	}
}

// parsedMDN is an MDN as go-message reads it.
type parsedMDN struct {
	header  mail.Header
	text    string
	textCT  string
	report  textproto.Header
	origCT  string
	origCTE string
	orig    *message.Entity // when message/rfc822
	headers textproto.Header
	nparts  int
}

func parseMDN(t *testing.T, b []byte) parsedMDN {
	t.Helper()
	e, err := message.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("go-message cannot read the MDN: %v\n%s", err, b)
	}
	p := parsedMDN{header: mail.Header{Header: e.Header}}
	ct, params, err := e.Header.ContentType()
	if err != nil || ct != "multipart/report" || params["report-type"] != "disposition-notification" {
		t.Fatalf("Content-Type = %q %v (%v), want multipart/report; report-type=disposition-notification", ct, params, err)
	}
	mr := e.MultipartReader()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading part %d: %v", p.nparts+1, err)
		}
		p.nparts++
		ct, _, _ := part.Header.ContentType()
		switch p.nparts {
		case 1:
			p.textCT = part.Header.Get("Content-Type")
			body, err := io.ReadAll(part.Body)
			if err != nil {
				t.Fatalf("reading text part: %v", err)
			}
			p.text = string(body)
		case 2:
			if ct != "message/disposition-notification" {
				t.Fatalf("part 2 is %q, want message/disposition-notification", ct)
			}
			h, err := textproto.ReadHeader(bufio.NewReader(part.Body))
			if err != nil {
				t.Fatalf("reading the disposition fields: %v", err)
			}
			p.report = h
		case 3:
			p.origCT = ct
			p.origCTE = part.Header.Get("Content-Transfer-Encoding")
			switch ct {
			case "message/rfc822":
				o, err := message.Read(part.Body)
				if err != nil {
					t.Fatalf("reading the quoted original: %v", err)
				}
				p.orig = o
			case "text/rfc822-headers":
				h, err := textproto.ReadHeader(bufio.NewReader(part.Body))
				if err != nil {
					t.Fatalf("reading the quoted headers: %v", err)
				}
				p.headers = h
			}
		}
	}
	return p
}

func TestMDNFields(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*MDN)
		check  func(t *testing.T, p parsedMDN)
		subj   string
		disp   string
		errFld string
	}{
		{
			name: "success with the whole original",
			edit: func(m *MDN) { m.OriginalRecipient = "rfc822;bal-app@bndmr.test" },
			subj: "XDM/1.0/DDM+SDM-MR DUPONT Jérôme 01/02/2003",
			disp: "automatic-action/MDN-sent-automatically; processed",
			check: func(t *testing.T, p parsedMDN) {
				if got := p.report.Get("Original-Recipient"); got != "rfc822;bal-app@bndmr.test" {
					t.Errorf("Original-Recipient = %q", got)
				}
				if p.origCT != "message/rfc822" || p.orig == nil {
					t.Fatalf("part 3 = %q, want message/rfc822", p.origCT)
				}
				if got := p.orig.Header.Get("Message-Id"); got != "<orig-1@chu.test>" {
					t.Errorf("quoted original Message-ID = %q", got)
				}
				if p.orig.MultipartReader() == nil {
					t.Errorf("quoted original lost its multipart body")
				}
				if !strings.Contains(p.text, "intégré") {
					t.Errorf("text = %q", p.text)
				}
			},
		},
		{
			name: "failure, RFC 8098 form",
			edit: func(m *MDN) {
				m.Error = &MDNError{Code: 903, Label: "INS absent du document"}
				m.Text = "Le message ci-dessous n'a pas pu être intégré : 903 INS absent du document\n"
			},
			subj:   "[KO Intégration système !][903] XDM/1.0/DDM+SDM-MR DUPONT Jérôme 01/02/2003",
			disp:   "automatic-action/MDN-sent-automatically; processed/error",
			errFld: "903^INS absent du document^applicationErrorCondition",
			check: func(t *testing.T, p parsedMDN) {
				if p.report.Has("Original-Recipient") {
					t.Errorf("Original-Recipient present though the original had none")
				}
				if !strings.Contains(p.text, "903 INS absent") {
					t.Errorf("text = %q", p.text)
				}
			},
		},
		{
			name: "failure, legacy published form",
			edit: func(m *MDN) {
				m.Error = &MDNError{Code: 904, Label: "INS incohérent entre METADATA et CDA"}
				m.LegacyError = true
			},
			subj:   "[KO Intégration système !][904] XDM/1.0/DDM+SDM-MR DUPONT Jérôme 01/02/2003",
			disp:   "automatic-action/MDN-sent-automatically; processed/Error: 904^INS incoherent entre METADATA et CDA",
			errFld: "904^INS incoherent entre METADATA et CDA^applicationErrorCondition",
		},
		{
			name: "large original: headers only",
			edit: func(m *MDN) {
				m.Error = &MDNError{Code: 906, Label: "Document non conforme ^ au schematron | SDM-MR"}
				hdr, _, _ := strings.Cut(mdnTestOriginal, "\r\n\r\n")
				m.Original, m.OriginalHeader = nil, []byte(strings.ReplaceAll(hdr, "\r\n", "\n")+"\n\nbody that must not appear")
			},
			subj:   "[KO Intégration système !][906] XDM/1.0/DDM+SDM-MR DUPONT Jérôme 01/02/2003",
			disp:   "automatic-action/MDN-sent-automatically; processed/error",
			errFld: "906^Document non conforme au schematron SDM-MR^applicationErrorCondition",
			check: func(t *testing.T, p parsedMDN) {
				if p.origCT != "text/rfc822-headers" {
					t.Fatalf("part 3 = %q, want text/rfc822-headers", p.origCT)
				}
				if got := p.headers.Get("Message-Id"); got != "<orig-1@chu.test>" {
					t.Errorf("quoted Message-ID = %q", got)
				}
				if got := p.headers.Get("Disposition-Notification-To"); got != "pfi@chu.test" {
					t.Errorf("quoted Disposition-Notification-To = %q", got)
				}
			},
		},
		{
			name: "original without Message-ID",
			edit: func(m *MDN) {
				m.OriginalMessageID = ""
				m.MessageID = MDNMessageID("", "mail-42", "bndmr.test")
			},
			subj: "XDM/1.0/DDM+SDM-MR DUPONT Jérôme 01/02/2003",
			disp: "automatic-action/MDN-sent-automatically; processed",
			check: func(t *testing.T, p parsedMDN) {
				for _, f := range []string{"In-Reply-To", "References"} {
					if p.header.Has(f) {
						t.Errorf("%s present though the original had no Message-ID", f)
					}
				}
				if p.report.Has("Original-Message-Id") {
					t.Errorf("Original-Message-ID present though the original had none")
				}
			},
		},
		{
			name: "hostile subject and label cannot inject fields",
			edit: func(m *MDN) {
				m.Subject = "x\r\nBcc: victim@evil.test\r\n\r\nbody"
				m.Error = &MDNError{Code: 906, Label: "bad\r\nDisposition: automatic-action/MDN-sent-automatically; processed"}
			},
			subj:   "[KO Intégration système !][906] x Bcc: victim@evil.test body",
			disp:   "automatic-action/MDN-sent-automatically; processed/error",
			errFld: "906^bad Disposition: automatic-action/MDN-sent-automatically; processed^applicationErrorCondition",
			check: func(t *testing.T, p parsedMDN) {
				if p.header.Has("Bcc") {
					t.Errorf("Bcc injected")
				}
				if n := len(p.report.Values("Disposition")); n != 1 {
					t.Errorf("%d Disposition fields", n)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := baseMDN()
			if tc.edit != nil {
				tc.edit(&m)
			}
			b, err := m.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			p := parseMDN(t, b)
			if p.nparts != 3 {
				t.Fatalf("%d parts, want 3", p.nparts)
			}
			if !strings.HasPrefix(p.textCT, "text/plain") || !strings.Contains(strings.ToLower(p.textCT), "charset=utf-8") {
				t.Errorf("part 1 Content-Type = %q", p.textCT)
			}
			from, err := p.header.AddressList("From")
			if err != nil || len(from) != 1 || from[0].Address != "hub@bndmr.test" {
				t.Errorf("From = %v (%v)", from, err)
			}
			to, err := p.header.AddressList("To")
			if err != nil || len(to) != 1 || to[0].Address != "pfi@chu.test" {
				t.Errorf("To = %v (%v)", to, err)
			}
			subj, err := p.header.Subject()
			if err != nil || subj != tc.subj {
				t.Errorf("Subject = %q (%v), want %q", subj, err, tc.subj)
			}
			if got := p.header.Get("Message-Id"); got != m.MessageID {
				t.Errorf("Message-ID = %q, want %q", got, m.MessageID)
			}
			d, err := p.header.Date()
			if err != nil || !d.Equal(m.Date) {
				t.Errorf("Date = %v (%v), want %v", d, err, m.Date)
			}
			if m.OriginalMessageID != "" {
				for _, f := range []string{"In-Reply-To", "References"} {
					if got := p.header.Get(f); got != "<orig-1@chu.test>" {
						t.Errorf("%s = %q", f, got)
					}
				}
				if got := p.report.Get("Original-Message-Id"); got != "<orig-1@chu.test>" {
					t.Errorf("Original-Message-ID = %q", got)
				}
			}
			if got := p.header.Get("Auto-Submitted"); got != "auto-replied" {
				t.Errorf("Auto-Submitted = %q", got)
			}
			if got := p.report.Get("Final-Recipient"); got != "rfc822;hub@bndmr.test" {
				t.Errorf("Final-Recipient = %q", got)
			}
			if got := p.report.Get("Reporting-Ua"); got != "hub.bndmr.test; BNDMR hub" {
				t.Errorf("Reporting-UA = %q", got)
			}
			if got := mdnUnfold(p.report.Get("Disposition")); got != tc.disp {
				t.Errorf("Disposition = %q, want %q", got, tc.disp)
			}
			if got := mdnUnfold(p.report.Get("Error")); got != tc.errFld {
				t.Errorf("Error = %q, want %q", got, tc.errFld)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
			// Disposition and Error each on one line, for parsers that do
			// not unfold.
			for _, f := range []string{"Disposition: " + tc.disp, "Error: " + tc.errFld} {
				if !strings.HasSuffix(f, ": ") && !bytes.Contains(b, []byte("\r\n"+f+"\r\n")) {
					t.Errorf("no line %q in the MDN", f)
				}
			}
			again, err := m.Bytes()
			if err != nil || !bytes.Equal(again, b) {
				t.Errorf("building the same MDN twice gave different bytes")
			}
			mdnCheckLines(t, b)
		})
	}
}

// mdnUnfold joins a folded header value the way a reader sees it.
func mdnUnfold(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// mdnCheckLines enforces CRLF line ends and the 998-octet limit (RFC 5322 §2.1.1).
func mdnCheckLines(t *testing.T, b []byte) {
	t.Helper()
	for i, line := range bytes.Split(b, []byte("\r\n")) {
		if bytes.ContainsAny(line, "\r\n") {
			t.Fatalf("line %d has a bare CR or LF: %q", i+1, line)
		}
		if len(line) > 998 {
			t.Fatalf("line %d is %d octets long", i+1, len(line))
		}
	}
}

func TestMDNMessageID(t *testing.T) {
	a := MDNMessageID("<x@chu.test>", "m1", "bndmr.test")
	if a != MDNMessageID("x@chu.test", "m2", "bndmr.test") {
		t.Errorf("the Message-ID depends on brackets or on the mail id, not only on the original's id")
	}
	if a == MDNMessageID("<y@chu.test>", "m1", "bndmr.test") {
		t.Errorf("two originals share one MDN Message-ID")
	}
	if MDNMessageID("", "m1", "bndmr.test") == MDNMessageID("", "m2", "bndmr.test") {
		t.Errorf("two mails without Message-ID share one MDN Message-ID")
	}
	if !strings.HasPrefix(a, "<mdn.") || !strings.HasSuffix(a, "@bndmr.test>") {
		t.Errorf("Message-ID = %q", a)
	}
}

func TestMDNBoundaryAvoidsContent(t *testing.T) {
	m := baseMDN()
	b, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mdnEntity(t, b).Header.ContentType()
	// An original that quotes this very boundary must not break the MDN.
	m.Original = append([]byte(mdnTestOriginal), []byte("--"+params["boundary"]+"--\r\n")...)
	b2, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	_, params2, _ := mdnEntity(t, b2).Header.ContentType()
	if params2["boundary"] == params["boundary"] {
		t.Fatalf("boundary %q kept though the original contains it", params["boundary"])
	}
	if p := parseMDN(t, b2); p.nparts != 3 {
		t.Fatalf("%d parts, want 3", p.nparts)
	}
}

func TestMDN8BitOriginal(t *testing.T) {
	m := baseMDN()
	m.Original = []byte("From: a@chu.test\nSubject: é\n\ncorps en Latin-1: \xe9\n")
	b, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if p := parseMDN(t, b); p.origCTE != "8bit" {
		t.Errorf("8-bit original declared %q, want 8bit", p.origCTE)
	}
	if !Has8Bit(b) {
		t.Errorf("Has8Bit is false on an 8-bit MDN")
	}
	mdnCheckLines(t, b)
	m.Original = []byte(mdnTestOriginal)
	b, _ = m.Bytes()
	if Has8Bit(b) {
		t.Errorf("Has8Bit is true on a 7-bit MDN")
	}
}

func TestMDNRefusesBadInput(t *testing.T) {
	cases := map[string]func(*MDN){
		"no recipient":           func(m *MDN) { m.To = nil },
		"recipient with CRLF":    func(m *MDN) { m.To = []string{"a@b\r\nRCPT TO:<c@d>"} },
		"recipient with bracket": func(m *MDN) { m.To = []string{"<a@b>"} },
		"no from":                func(m *MDN) { m.From = "" },
		"no date":                func(m *MDN) { m.Date = time.Time{} },
		"bad message id":         func(m *MDN) { m.MessageID = "x" },
		"bad code":               func(m *MDN) { m.Error = &MDNError{Code: 7} },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			m := baseMDN()
			edit(&m)
			if _, err := m.Bytes(); err == nil {
				t.Fatalf("built an MDN from bad input")
			}
		})
	}
}

func mdnEntity(t *testing.T, b []byte) *message.Entity {
	t.Helper()
	e, err := message.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// FuzzMDN builds MDNs from hostile subjects, labels, texts and originals: the
// result must always parse into three parts with exactly the fields we set.
func FuzzMDN(f *testing.F) {
	f.Add("XDM/1.0/DDM+SDM-MR X", "INS absent", "texte", []byte(mdnTestOriginal), 903, false)
	f.Add("a\r\nBcc: x@y", "a^b|c\r\nError: 1", "--x\r\n", []byte("--=_bndmr-mdn_\r\n"), 906, true)
	f.Fuzz(func(t *testing.T, subject, label, text string, original []byte, code int, headersOnly bool) {
		m := baseMDN()
		m.Subject, m.Text = subject, text
		if code%2 == 0 {
			m.Error = &MDNError{Code: 900 + (code%7+7)%7, Label: label}
		}
		if headersOnly {
			m.Original, m.OriginalHeader = nil, original
		} else {
			m.Original = original
		}
		b, err := m.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		e, err := message.Read(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("unreadable MDN: %v", err)
		}
		h := mail.Header{Header: e.Header}
		for _, f := range []string{"From", "To", "Subject", "Date", "Message-Id", "Content-Type"} {
			if n := len(h.Values(f)); n != 1 {
				t.Fatalf("%d %s fields", n, f)
			}
		}
		if h.Has("Bcc") || h.Has("Cc") {
			t.Fatalf("injected recipient field")
		}
		mr := e.MultipartReader()
		if mr == nil {
			t.Fatalf("not multipart")
		}
		n := 0
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				// go-message refuses some charsets or encodings inside the
				// quoted original; the outer structure is what we check.
				if message.IsUnknownCharset(err) || message.IsUnknownEncoding(err) {
					n++
					continue
				}
				t.Fatalf("part %d: %v", n+1, err)
			}
			n++
			if n == 2 {
				r, err := textproto.ReadHeader(bufio.NewReader(part.Body))
				if err != nil {
					t.Fatalf("disposition fields: %v", err)
				}
				if got := r.Values("Disposition"); len(got) != 1 || got[0] != m.DispositionField() {
					t.Fatalf("Disposition = %q, want %q", got, m.DispositionField())
				}
				if len(r.Values("Error")) != map[bool]int{true: 0, false: 1}[m.Error == nil] {
					t.Fatalf("Error fields = %q", r.Values("Error"))
				}
			}
		}
		if n != 3 {
			t.Fatalf("%d parts, want 3", n)
		}
	})
}

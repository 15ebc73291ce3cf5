package ack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"

	"github.com/bndmr/hub/pkg/events"
)

// FuzzAnswer feeds hostile header values and reasons (they come from the
// hospital's mail and from the validator) through the recipient policy and
// the MDN builder: whatever recipients accepts must give a well-formed MDN
// whose recipients are plain addresses.
func FuzzAnswer(f *testing.F) {
	f.Add("PFI <pfi@chu.test>", "<pfi@chu.test>", "pfi@chu.test", "<orig@chu.test>", "XDM/1.0/DDM+SDM-MR X", "INS absent", "rfc822;bal@bndmr.test", "From: a\r\n", 903)
	f.Add("x", "", "a@b, c@d", "id\r\nBcc: e@f", "=?UTF-8?q?=C3=A9?=", "a^b|c~d\\e&f\r\n", "", "", 906)
	f.Add("\"a b\" <a@b>", "<a@b>", "<a@b>\r\nRCPT TO:<x@y>", "", "", "", "x;y", "\xff\xfe", 0)
	// Report headers as issue 12 found them: a byte-order mark, the first boundary right after the header.
	f.Add("pfi@chu.test", "<pfi@chu.test>", "pfi@chu.test", "<r@chu.test>", "", "", "", "\ufeffDate: x\r\nContent-Type: multipart/report; boundary=b\r\n--b\r\nContent-Type: text/plain\r\n", 906)
	f.Fuzz(func(t *testing.T, from, returnPath, dnt, msgID, subject, reason, origRcpt, hdr string, code int) {
		cfg := testConfig()
		cfg.AnswerWithoutRequest = code%3 == 0
		cfg.AnswerReturnPathMismatch = code%5 == 0
		o := events.MailOutcome{
			V: events.OutcomeV, MailID: "fuzz", ProcessedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			From: from, ReturnPath: returnPath, DispositionNotificationTo: dnt, MessageID: msgID,
			Subject: subject, OriginalRecipient: origRcpt, OriginalHeader: hdr,
			Documents: []events.DocumentOutcome{{Name: reason, Rejection: &events.Rejection{CISIS: code, Reason: reason},
				Failures: []events.Failure{{Text: reason, Location: reason}}}},
		}
		to, skip := recipients(cfg, o)
		if skip != "" {
			return
		}
		for _, a := range to {
			if !isAddr(a) || !isASCII(a) || strings.ContainsAny(a, "\r\n<> ") {
				t.Fatalf("unsafe recipient %q", a)
			}
		}
		_, b, err := buildMDN(cfg, o, to, nil)
		if err != nil {
			t.Fatalf("accepted recipients %q but could not build the MDN: %v", to, err)
		}
		e, err := message.Read(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("unreadable MDN: %v", err)
		}
		if e.Header.Has("Bcc") || e.Header.Has("Cc") || len(e.Header.Values("To")) != 1 {
			t.Fatalf("recipient fields injected")
		}
		mr := e.MultipartReader()
		n := 0
		for {
			_, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
				t.Fatalf("part %d: %v", n+1, err)
			}
			n++
		}
		if n != 3 {
			t.Fatalf("%d parts", n)
		}
	})
}

func BenchmarkBuildMDN(b *testing.B) {
	cfg := testConfig()
	fail := events.Failure{Source: "CI-SIS_SDM-MR_2024.01", Pattern: "E_x", Location: "/ClinicalDocument/component[1]", Text: "Assertion en échec."}
	fails := make([]events.Failure, 40)
	for i := range fails {
		fails[i] = fail
	}
	o := outcome(koDoc("DOC00001.XML", 906, "Document non conforme", fails...), okDoc("DOC00002.XML"))
	orig := []byte(rawOriginal + strings.Repeat("UEsDBBQAAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n", 10000)) // ~750 kB
	to, _ := recipients(cfg, o)
	b.SetBytes(int64(len(orig)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := buildMDN(cfg, o, to, orig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnswer measures one full answer: record claim in JetStream KV,
// MDN build, SMTP submission to a loopback go-smtp server, record update.
func BenchmarkAnswer(b *testing.B) {
	js := benchBus(b)
	srv := benchSMTP(b)
	reg := newRegistry()
	cfg := Config{HubAddress: "hub@bndmr.test", Registry: reg, SMTP: SMTPConfig{Addr: srv, Security: "none"}}.WithDefaults()
	sender, err := NewSMTPSender(cfg.SMTP)
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(b.Context(), cfg, js, nil, sender)
	if err != nil {
		b.Fatal(err)
	}
	o := outcome(okDoc("DOC00001.XML"))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		o.MailID = fmt.Sprintf("bench-%d", i)
		o.MessageID = "<" + o.MailID + "@chu.test>"
		if err := s.Answer(b.Context(), o, nil, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "MDN/s")
}

package app

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/bndmr/hub/pkg/mailbox/mailboxtest"
	"github.com/bndmr/hub/pkg/synth/synthtest"
	"github.com/bndmr/hub/pkg/testsupport"
)

// TestEndToEndNoAcknowledgementOfReports feeds the hub MDNs and DSNs in the
// forms third-party systems write them (a UTF-8 byte-order mark, no blank
// line between the header and the first boundary, both, an mbox "From "
// line, white space before the first header) and checks, through Postfix
// and the hospital's Dovecot mailbox, that none of them is answered: an MDN
// sent to a report is how two automated mailboxes start a mail loop.
//
// Each report is the worst case: its Content-Type is the only sign that it
// is a report (no Auto-Submitted, no null Return-Path), and it asks for an
// MDN with a Return-Path that matches. Its first field is Date, so that a
// byte-order mark glued to the first field name hides nothing the
// acknowledgement needs (hiding Return-Path would stop the MDN by luck). Two ordinary submissions written the
// same odd ways go through the same run and must be answered "processed":
// they show that acknowledgements do flow, and when the last one has
// arrived.
func TestEndToEndNoAcknowledgementOfReports(t *testing.T) {
	smtpAddr := testsupport.Env(t, "BNDMR_E2E_SMTP", "Postfix")
	const hospital = "hospital@chu.test"
	run := time.Now().UnixNano()

	type form struct {
		name         string
		bom, noBlank bool
		leader       string // written before the first header
		lf           bool   // LF line ends (an mbox export)
	}
	forms := []form{
		{name: "plain"},
		{name: "bom", bom: true},
		{name: "no-blank", noBlank: true},
		{name: "bom-no-blank", bom: true, noBlank: true},
		{name: "mbox", leader: "From hospital@chu.test  Tue Mar  4 10:11:12 2025\n", lf: true},
		{name: "spaces", leader: strings.Repeat(" ", 255)},
	}
	shape := func(f form, raw string) []byte {
		if f.noBlank {
			raw = strings.Replace(raw, "\r\n\r\n--", "\r\n--", 1)
		}
		if f.lf {
			raw = strings.ReplaceAll(raw, "\r\n", "\n")
		}
		if f.bom {
			raw = "\ufeff" + raw
		}
		return []byte(f.leader + raw)
	}
	var mails [][]byte
	var reportIDs []string
	for _, f := range forms {
		for _, kind := range []string{"mdn", "dsn"} {
			id := fmt.Sprintf("<%s-%s.%d@chu.test>", kind, f.name, run)
			reportIDs = append(reportIDs, id)
			build := reportMDN
			if kind == "dsn" {
				build = reportDSN
			}
			mails = append(mails, shape(f, build(hospital, id)))
		}
	}

	// The controls: submissions with a byte-order mark, and without the
	// blank line before the first boundary.
	g := synthtest.Generator(t, 1212)
	var controlIDs []string
	for _, f := range []form{{name: "bom", bom: true}, {name: "no-blank", noBlank: true}} {
		id := fmt.Sprintf("<submission-%s.%d@chu.test>", f.name, run)
		raw := synthtest.Next(t, g, hospital, id)
		if f.noBlank {
			raw = dropPreamble(t, raw)
		}
		mails = append(mails, shape(form{bom: f.bom}, string(raw)))
		controlIDs = append(controlIDs, id)
	}

	e := newE2E(t, 1213, 0, mails...)
	if code := HubMain(e.args("--exit-when-idle", "1500ms", "--smtp-addr", smtpAddr, "--smtp-tls", "none",
		"--hub-address", "hub2@bndmr.test")); code != 0 {
		t.Fatalf("hub exited with %d", code)
	}
	waitMailboxEmpty(t, e, len(mails))

	got := readMDNs(t, e.imapAddr, hospital, controlIDs, 30*time.Second)
	for _, id := range controlIDs {
		mdn, ok := got[id]
		switch {
		case !ok:
			t.Errorf("no MDN for the submission %s: acknowledgements do not flow, the test proves nothing", id)
		case !strings.Contains(mdn, "Disposition: automatic-action/MDN-sent-automatically; processed\r\n"):
			t.Errorf("the submission %s was not processed:\n%s", id, head(mdn, 2500))
		}
	}
	// The controls' MDNs have arrived: give Postfix a little longer for any
	// other, then look for any mail that names a report.
	time.Sleep(3 * time.Second)
	for id, body := range mailsNaming(t, e.imapAddr, hospital, reportIDs) {
		t.Errorf("a mail answers the report %s:\n%s", id, head(body, 2500))
	}
}

// reportMDN is an MDN as the ANS MSSanté guide shows it, asking for an MDN
// itself.
func reportMDN(addr, id string) string {
	return "Date: Tue, 04 Mar 2025 10:12:00 +0100\r\n" +
		"Return-Path: <" + addr + ">\r\n" +
		"From: " + addr + "\r\n" +
		"To: hub2@bndmr.test\r\n" +
		"Message-ID: " + id + "\r\n" +
		"Subject: =?UTF-8?Q?Accus=C3=A9_de_lecture?=\r\n" +
		"Disposition-Notification-To: " + addr + "\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=disposition-notification;\r\n" +
		"\tboundary=\"RAA14128.773615765/chu.test\"\r\n" +
		"\r\n" +
		"--RAA14128.773615765/chu.test\r\n" +
		"Content-Type: text/plain; charset=UTF-8\r\n" +
		"\r\n" +
		"Le message a été intégré dans le DPI.\r\n" +
		"\r\n" +
		"--RAA14128.773615765/chu.test\r\n" +
		"Content-Type: message/disposition-notification\r\n" +
		"\r\n" +
		"Reporting-UA: bal-app.chu.test; PFI\r\n" +
		"Final-Recipient: rfc822;" + addr + "\r\n" +
		"Original-Message-ID: <mdn-original@bndmr.test>\r\n" +
		"Disposition: automatic-action/MDN-sent-automatically; processed\r\n" +
		"\r\n" +
		"--RAA14128.773615765/chu.test--\r\n"
}

// reportDSN is a delivery status notification relayed with the original's
// Return-Path and Disposition-Notification-To.
func reportDSN(addr, id string) string {
	return "Date: Tue, 04 Mar 2025 10:13:00 +0100 (CET)\r\n" +
		"Return-Path: <" + addr + ">\r\n" +
		"From: " + addr + " (Mail Delivery System)\r\n" +
		"To: hub2@bndmr.test\r\n" +
		"Message-ID: " + id + "\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\n" +
		"Disposition-Notification-To: " + addr + "\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"DSN.1741079580/chu.test\"\r\n" +
		"\r\n" +
		"--DSN.1741079580/chu.test\r\n" +
		"Content-Description: Notification\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n" +
		"\r\n" +
		"This is the mail system at host chu.test.\r\n" +
		"\r\n" +
		"--DSN.1741079580/chu.test\r\n" +
		"Content-Description: Delivery report\r\n" +
		"Content-Type: message/delivery-status\r\n" +
		"\r\n" +
		"Reporting-MTA: dns; chu.test\r\n" +
		"\r\n" +
		"Final-Recipient: rfc822; " + addr + "\r\n" +
		"Action: failed\r\n" +
		"Status: 5.1.1\r\n" +
		"\r\n" +
		"--DSN.1741079580/chu.test--\r\n"
}

// dropPreamble removes the blank line and the preamble between a generated
// mail's header and its first boundary.
func dropPreamble(t *testing.T, raw []byte) []byte {
	t.Helper()
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	j := bytes.Index(raw[max(i, 0):], []byte("\r\n--"))
	if i < 0 || j < 0 {
		t.Fatal("unexpected shape of a generated mail")
	}
	return append(bytes.Clone(raw[:i+2]), raw[i+j+2:]...)
}

// mailsNaming returns the mails of user's INBOX that mention any of ids
// anywhere (Original-Message-ID, In-Reply-To, References, a quoted header).
func mailsNaming(t *testing.T, addr, user string, ids []string) map[string]string {
	t.Helper()
	c := mailboxtest.Login(t, addr, user)
	defer c.Close()
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	if sel.NumMessages == 0 {
		return found
	}
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		body := string(m.FindBodySection(section))
		for _, id := range ids {
			if strings.Contains(body, id) {
				found[id] = body
			}
		}
	}
	return found
}

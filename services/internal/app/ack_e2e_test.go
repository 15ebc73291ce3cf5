package app

import (
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/bndmr/hub/pkg/mailbox/mailboxtest"
	"github.com/bndmr/hub/pkg/synth/synthtest"
	"github.com/bndmr/hub/pkg/testsupport"
)

// TestEndToEndAcknowledgement sends two hospital mails (one valid, one
// refused) through Dovecot → hub → Postfix → the hospital's Dovecot mailbox
// and reads the MDNs back over IMAP.
func TestEndToEndAcknowledgement(t *testing.T) {
	smtpAddr := testsupport.Env(t, "BNDMR_E2E_SMTP", "Postfix")
	run := time.Now().UnixNano()
	const hospital = "hospital@chu.test"
	okID := fmt.Sprintf("<ok.%d@chu.test>", run)
	good := synthtest.Next(t, synthtest.Generator(t, 99), hospital, okID)
	koID := fmt.Sprintf("<ko.%d@chu.test>", run)
	badMail := synthtest.KitMail(t, synthtest.Refused, hospital, "hub2@bndmr.test", koID)

	e := newE2E(t, 98, 0, good, badMail)
	if code := HubMain(e.args("--exit-when-idle", "1500ms", "--smtp-addr", smtpAddr, "--smtp-tls", "none",
		"--hub-address", "hub2@bndmr.test")); code != 0 {
		t.Fatalf("hub exited with %d", code)
	}
	waitMailboxEmpty(t, e, 2)

	want := map[string][]string{
		okID: {"Disposition: automatic-action/MDN-sent-automatically; processed\r\n", "Original-Message-ID: " + okID},
		koID: {"processed/error", "Error: 906^", "Subject: [KO Intégration système !][906]", "Original-Message-ID: " + koID, "SDM-MR_2024.01"},
	}
	got := readMDNs(t, e.imapAddr, hospital, []string{okID, koID}, 30*time.Second)
	for id, needles := range want {
		mdn, ok := got[id]
		if !ok {
			t.Errorf("no MDN for %s in %s's mailbox", id, hospital)
			continue
		}
		// The subject is RFC 2047 encoded: compare it decoded.
		if subj, err := mail.ReadMessage(strings.NewReader(mdn)); err == nil {
			if dec, err := new(mime.WordDecoder).DecodeHeader(subj.Header.Get("Subject")); err == nil {
				mdn = "Subject: " + dec + "\r\n" + mdn
			}
		}
		for _, n := range needles {
			if !strings.Contains(mdn, n) {
				t.Errorf("MDN for %s lacks %q:\n%s", id, n, head(mdn, 2500))
			}
		}
	}
}

// readMDNs polls the hospital's INBOX until an MDN answers each id.
func readMDNs(t *testing.T, addr, user string, ids []string, within time.Duration) map[string]string {
	t.Helper()
	found := map[string]string{}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && len(found) < len(ids) {
		c := mailboxtest.Login(t, addr, user)
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		section := &imap.FetchItemBodySection{Peek: true}
		msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		c.Close()
		if err == nil {
			for _, m := range msgs {
				body := string(m.FindBodySection(section))
				for _, id := range ids {
					if strings.Contains(body, "Original-Message-ID: "+id) {
						found[id] = body
					}
				}
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	return found
}

func head(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

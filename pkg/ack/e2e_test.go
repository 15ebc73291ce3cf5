package ack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/mssante"
	"github.com/bndmr/hub/pkg/testsupport"
)

// TestE2EPostfixDovecot sends MDNs through a real Postfix (scripts/postfix.sh)
// into the hospital's Dovecot mailbox (scripts/up.sh dovecot) and reads them
// back over IMAP. It runs when BNDMR_E2E_SMTP and BNDMR_E2E_IMAP name the
// servers, and then fails if they do not answer.
//
// Postfix offers the three submission modes an operator may: plain text
// (loopback only), STARTTLS and implicit TLS, the TLS ones requiring the
// hub's client certificate (scripts/postfix.sh makes the test CA in
// .run/postfix/tls; BNDMR_E2E_TLS_DIR names another place).
func TestE2EPostfixDovecot(t *testing.T) {
	smtpAddr, imapAddr := os.Getenv("BNDMR_E2E_SMTP"), os.Getenv("BNDMR_E2E_IMAP")
	if smtpAddr == "" && imapAddr == "" {
		t.Skip("end-to-end mail test: set BNDMR_E2E_SMTP=127.0.0.1:10025 and BNDMR_E2E_IMAP=127.0.0.1:10143 (scripts/up.sh dovecot; scripts/postfix.sh start)")
	}
	if smtpAddr == "" || imapAddr == "" {
		t.Fatalf("BNDMR_E2E_SMTP (%q) and BNDMR_E2E_IMAP (%q) go together", smtpAddr, imapAddr)
	}
	tlsDir := envOr("BNDMR_E2E_TLS_DIR", filepath.Join("..", "..", ".run", "postfix", "tls"))
	client := func(c SMTPConfig) SMTPConfig {
		c.CAFile, c.CertFile, c.KeyFile = filepath.Join(tlsDir, "ca.crt"), filepath.Join(tlsDir, "client.crt"), filepath.Join(tlsDir, "client.key")
		return c
	}
	modes := []struct {
		name string
		smtp SMTPConfig
	}{
		{"plain", SMTPConfig{Addr: smtpAddr, Security: "none"}},
		{"STARTTLS with client certificate", client(SMTPConfig{Addr: envOr("BNDMR_E2E_SMTP_STARTTLS", "127.0.0.1:10587"), Security: "starttls"})},
		{"implicit TLS with client certificate", client(SMTPConfig{Addr: envOr("BNDMR_E2E_SMTPS", "127.0.0.1:10465"), Security: "tls"})},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { e2eRound(t, m.smtp, imapAddr) })
	}

	// Without the client certificate the TLS submission port turns the hub away.
	t.Run("STARTTLS without client certificate is refused", func(t *testing.T) {
		c := modes[1].smtp
		c.CertFile, c.KeyFile = "", ""
		s, err := NewSMTPSender(Config{HubAddress: "hub@bndmr.test", SMTP: c}.WithDefaults().SMTP)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		msg := "From: hub@bndmr.test\r\nTo: hospital@chu.test\r\nSubject: no certificate\r\n\r\nx\r\n"
		if err := s.Send(ctx, "", []string{"hospital@chu.test"}, []byte(msg)); err == nil {
			t.Fatal("Postfix accepted a submission without client certificate on its TLS port")
		}
	})
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// e2eRound publishes two outcomes, lets the service submit their MDNs
// through Postfix and finds them in the hospital's INBOX.
func e2eRound(t *testing.T, smtpCfg SMTPConfig, imapAddr string) {
	const hospital, password = "hospital@chu.test", "secret"

	js := testBus(t)
	reg := prometheus.NewRegistry()
	smtpCfg.Timeout = 20 * time.Second
	cfg := Config{
		HubAddress: "hub@bndmr.test",
		Registry:   reg,
		SMTP:       smtpCfg,
	}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sender, err := NewSMTPSender(cfg.SMTP)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := New(ctx, cfg, js, zaptest.NewLogger(t), sender)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// Fresh Message-IDs: the mailbox keeps earlier runs.
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	run := hex.EncodeToString(nonce)
	failure := events.Failure{Source: "CI-SIS_SDM-MR_2024.01", Pattern: "E_sdmmr_ins", Location: "/ClinicalDocument/recordTarget[1]/patientRole[1]/id[2]", Text: "L'INS du patient doit être identique à celui de METADATA.XML."}
	cases := []struct {
		name   string
		docs   []events.DocumentOutcome
		disp   string
		errFld string
		subj   string
		text   []string
	}{
		{
			name: "integrated",
			docs: []events.DocumentOutcome{okDoc("DOC00001.XML")},
			disp: "automatic-action/MDN-sent-automatically; processed",
			subj: "XDM/1.0/DDM+SDM-MR MARTIN Hélène 01/02/2003",
			text: []string{"a été reçu et intégré", "DOC00001.XML"},
		},
		{
			name:   "INS inconsistent",
			docs:   []events.DocumentOutcome{koDoc("DOC00001.XML", 904, "INS de METADATA.XML différent de celui du CDA", failure), okDoc("DOC00002.XML")},
			disp:   "automatic-action/MDN-sent-automatically; processed/error",
			errFld: "904^INS de METADATA.XML different de celui du CDA^applicationErrorCondition",
			subj:   "[KO Intégration système !][904] XDM/1.0/DDM+SDM-MR MARTIN Hélène 01/02/2003",
			text:   []string{"n'a pas pu être intégré", "904 INS de METADATA.XML différent de celui du CDA", "L'INS du patient doit être identique", "emplacement : /ClinicalDocument/recordTarget[1]/patientRole[1]/id[2]", "DOC00002.XML"},
		},
	}

	var outcomes []events.MailOutcome
	for i, tc := range cases {
		o := outcome(tc.docs...)
		o.MailID = run + "-" + string(rune('a'+i))
		o.MessageID = "<e2e-" + o.MailID + "@chu.test>"
		o.From, o.ReturnPath, o.DispositionNotificationTo = "PFI <"+hospital+">", "<"+hospital+">", hospital
		o.OriginalHeader = strings.ReplaceAll(o.OriginalHeader, "<orig-7@chu.test>", o.MessageID)
		o.ProcessedAt = time.Now().UTC()
		outcomes = append(outcomes, o)
		if _, err := bus.Publish(ctx, js, events.SubjectOutcome, o.MailID, o); err != nil {
			t.Fatal(err)
		}
	}

	c, err := imapclient.DialInsecure(imapAddr, nil)
	if err != nil {
		t.Fatalf("IMAP %s does not answer (scripts/up.sh dovecot): %v", imapAddr, err)
	}
	defer c.Close()
	if err := c.Login(hospital, password).Wait(); err != nil {
		t.Fatalf("IMAP login as %s: %v", hospital, err)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := outcomes[i]
			id := mssante.MDNMessageID(o.MessageID, o.MailID, cfg.MessageIDDomain)
			var raw []byte
			testsupport.WaitFor(t, "the MDN "+id+" in "+hospital+"'s INBOX", 60*time.Second, func() bool {
				if _, err := c.Select("INBOX", nil).Wait(); err != nil {
					t.Fatalf("SELECT INBOX: %v", err)
				}
				data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: id}}}, nil).Wait()
				if err != nil {
					t.Fatalf("UID SEARCH: %v", err)
				}
				uids := data.AllUIDs()
				if len(uids) == 0 {
					time.Sleep(200 * time.Millisecond)
					return false
				}
				if len(uids) != 1 {
					t.Fatalf("%d messages with Message-ID %s, want 1", len(uids), id)
				}
				section := &imap.FetchItemBodySection{Peek: true}
				msgs, err := c.Fetch(imap.UIDSetNum(uids[0]), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
				if err != nil || len(msgs) != 1 {
					t.Fatalf("UID FETCH %d: %v", uids[0], err)
				}
				raw = msgs[0].FindBodySection(section)
				return raw != nil
			})
			v := readMDN(t, raw)
			// The delivery agent records the envelope sender: MAIL FROM:<>.
			if rp := v.header.Get("Return-Path"); rp != "<>" {
				t.Errorf("Return-Path = %q, want <> (null envelope sender)", rp)
			}
			if v.subject != tc.subj {
				t.Errorf("Subject = %q, want %q", v.subject, tc.subj)
			}
			if got := v.field("Disposition"); got != tc.disp {
				t.Errorf("Disposition = %q, want %q", got, tc.disp)
			}
			if got := v.field("Error"); got != tc.errFld {
				t.Errorf("Error = %q, want %q", got, tc.errFld)
			}
			if got := v.field("Original-Message-Id"); got != o.MessageID {
				t.Errorf("Original-Message-ID = %q, want %q", got, o.MessageID)
			}
			if got := v.field("Final-Recipient"); got != "rfc822;hub@bndmr.test" {
				t.Errorf("Final-Recipient = %q", got)
			}
			if to, err := mail.ParseAddress(v.header.Get("To")); err != nil || to.Address != hospital {
				t.Errorf("To = %q", v.header.Get("To"))
			}
			for _, s := range tc.text {
				if !strings.Contains(v.text, s) {
					t.Errorf("text lacks %q:\n%s", s, v.text)
				}
			}
		})
	}
	if n := metric(t, reg, "bndmr_ack_mdn_sent_total", "code", "ok") + metric(t, reg, "bndmr_ack_mdn_sent_total", "code", "904"); n != 2 {
		t.Errorf("bndmr_ack_mdn_sent_total = %v, want 2", n)
	}
}

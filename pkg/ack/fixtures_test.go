package ack

import (
	"strings"
	"time"

	"github.com/bndmr/hub/pkg/events"
)

// The original mail and its outcomes that the MDN, recipient and service
// tests start from.

const rawOriginal = "Return-Path: <pfi@chu.test>\r\n" +
	"From: PFI CHU <pfi@chu.test>\r\n" +
	"To: hub@bndmr.test\r\n" +
	"Subject: =?UTF-8?q?XDM/1.0/DDM+SDM-MR_MARTIN_H=C3=A9l=C3=A8ne_01/02/2003?=\r\n" +
	"Message-ID: <orig-7@chu.test>\r\n" +
	"Disposition-Notification-To: pfi@chu.test\r\n" +
	"Original-Recipient: rfc822;bal-app@bndmr.test\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"B\"\r\n" +
	"\r\n" +
	"--B\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nBonjour\r\n" +
	"--B\r\nContent-Type: application/zip; name=\"IHE_XDM.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n" +
	"--B--\r\n"

func testConfig() Config {
	return Config{HubAddress: "hub@bndmr.test", SMTP: SMTPConfig{Addr: "127.0.0.1:25", Security: "none"}}.WithDefaults()
}

func outcome(docs ...events.DocumentOutcome) events.MailOutcome {
	hdr, _, _ := strings.Cut(rawOriginal, "\r\n\r\n")
	return events.MailOutcome{
		V:                         events.OutcomeV,
		MailID:                    "0f1e2d",
		Mailbox:                   "INBOX",
		ReceivedAt:                time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC),
		ProcessedAt:               time.Date(2026, 5, 6, 7, 8, 30, 500, time.UTC),
		MessageID:                 "<orig-7@chu.test>",
		From:                      "PFI CHU <pfi@chu.test>",
		ReturnPath:                "<pfi@chu.test>",
		DispositionNotificationTo: "pfi@chu.test",
		OriginalRecipient:         "rfc822;bal-app@bndmr.test",
		Subject:                   "XDM/1.0/DDM+SDM-MR MARTIN Hélène 01/02/2003",
		OriginalHeader:            hdr + "\r\n",
		Size:                      int64(len(rawOriginal)),
		Documents:                 docs,
	}
}

func okDoc(name string) events.DocumentOutcome {
	return events.DocumentOutcome{Name: name, DocumentID: "1.2.250.1.999.1^" + name, VersionNumber: 1, ModelVersion: "2024.01", Accepted: true}
}

func koDoc(name string, code int, reason string, failures ...events.Failure) events.DocumentOutcome {
	return events.DocumentOutcome{Name: name, Rejection: &events.Rejection{Code: "validation", CISIS: code, Reason: reason}, Failures: failures}
}

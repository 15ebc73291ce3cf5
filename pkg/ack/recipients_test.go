package ack

import (
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/events"
)

func TestRecipients(t *testing.T) {
	cases := []struct {
		name string
		edit func(*events.MailOutcome)
		cfg  func(*Config)
		to   string
		skip string
	}{
		{name: "requested, Return-Path matches", to: "pfi@chu.test"},
		{name: "case and brackets do not matter", edit: func(o *events.MailOutcome) {
			o.DispositionNotificationTo, o.ReturnPath = "PFI <PFI@CHU.test>", "<pfi@chu.TEST>"
		}, to: "pfi@chu.test"},
		{name: "an MDN or DSN", edit: func(o *events.MailOutcome) { o.IsReport = true }, skip: skipReport},
		{name: "header says MDN though IsReport is unset", edit: func(o *events.MailOutcome) {
			o.OriginalHeader = "From: pfi@chu.test\r\nContent-Type: multipart/report;\r\n report-type=disposition-notification; boundary=x\r\n"
		}, skip: skipReport},
		{name: "header with a byte-order mark says MDN though IsReport is unset", edit: func(o *events.MailOutcome) {
			o.OriginalHeader = "\ufeffFrom: pfi@chu.test\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary=x\r\n"
		}, skip: skipReport},
		{name: "header running into the first boundary says MDN though IsReport is unset", edit: func(o *events.MailOutcome) {
			o.OriginalHeader = "From: pfi@chu.test\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary=x\r\n" +
				"--x\r\nContent-Type: text/plain\r\n"
		}, skip: skipReport},
		{name: "header says automatic reply", edit: func(o *events.MailOutcome) {
			o.OriginalHeader = "From: pfi@chu.test\nAuto-Submitted: auto-replied\n"
		}, skip: skipReport},
		{name: "Auto-Submitted: no is a person's mail", edit: func(o *events.MailOutcome) {
			o.OriginalHeader = "From: pfi@chu.test\r\nAuto-Submitted: no\r\n\r\n"
		}, to: "pfi@chu.test"},
		{name: "from the hub itself", edit: func(o *events.MailOutcome) { o.From = "Hub <HUB@bndmr.test>" }, skip: skipOwnAddress},
		{name: "notification to the hub itself", edit: func(o *events.MailOutcome) {
			o.DispositionNotificationTo, o.ReturnPath = "hub@bndmr.test", "hub@bndmr.test"
		}, skip: skipOwnAddress},
		{name: "null Return-Path", edit: func(o *events.MailOutcome) { o.ReturnPath = "<>" }, skip: skipNullSender},
		{name: "Return-Path differs", edit: func(o *events.MailOutcome) { o.ReturnPath = "<bounces@chu.test>" }, skip: skipMismatch},
		{name: "Return-Path differs, configured to answer", edit: func(o *events.MailOutcome) { o.ReturnPath = "<bounces@chu.test>" },
			cfg: func(c *Config) { c.AnswerReturnPathMismatch = true }, to: "pfi@chu.test"},
		{name: "Return-Path absent", edit: func(o *events.MailOutcome) { o.ReturnPath = "" }, skip: skipNoReturnPath},
		{name: "not requested", edit: func(o *events.MailOutcome) { o.DispositionNotificationTo = "" }, skip: skipNoRequest},
		{name: "not requested, configured to answer the sender", edit: func(o *events.MailOutcome) {
			o.DispositionNotificationTo, o.ReturnPath = "", "<bounces@chu.test>"
		}, cfg: func(c *Config) { c.AnswerWithoutRequest = true }, to: "pfi@chu.test"},
		{name: "not requested, configured, but a report", edit: func(o *events.MailOutcome) {
			o.DispositionNotificationTo, o.IsReport = "", true
		}, cfg: func(c *Config) { c.AnswerWithoutRequest = true }, skip: skipReport},
		{name: "hostile notification address", edit: func(o *events.MailOutcome) {
			o.DispositionNotificationTo = "x@chu.test>\r\nRCPT TO:<victim@evil.test"
		}, skip: skipBadAddress},
		{name: "quote in the address (no MDN could carry it)", edit: func(o *events.MailOutcome) {
			o.DispositionNotificationTo, o.ReturnPath = `0@0"000`, `0@0"000`
		}, skip: skipBadAddress},
		{name: "non-ASCII notification address", edit: func(o *events.MailOutcome) {
			o.DispositionNotificationTo, o.ReturnPath = "hélène@chu.test", "hélène@chu.test"
		}, skip: skipBadAddress},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			o := outcome(okDoc("DOC00001.XML"))
			if tc.edit != nil {
				tc.edit(&o)
			}
			to, skip := recipients(cfg, o)
			if skip != tc.skip || strings.Join(to, ",") != tc.to {
				t.Fatalf("recipients = %q, skip %q; want %q, skip %q", to, skip, tc.to, tc.skip)
			}
		})
	}
}

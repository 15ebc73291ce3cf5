package ack

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

const tinyMail = "From: hub@bndmr.test\r\nTo: pfi@chu.test\r\nSubject: t\r\n\r\nbody\r\n"

func TestSMTPSender(t *testing.T) {
	p := testPKI(t)
	cases := []struct {
		name     string
		tls      bool
		implicit bool
		users    map[string]string
		cfg      SMTPConfig
		envFrom  string
		client   string // expected client certificate CN
		user     string
	}{
		{name: "STARTTLS with client certificate, null sender", tls: true,
			cfg:    SMTPConfig{Security: "starttls", CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey},
			client: "bal-app.bndmr.test"},
		{name: "implicit TLS with client certificate", tls: true, implicit: true,
			cfg:    SMTPConfig{Security: "tls", CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey},
			client: "bal-app.bndmr.test"},
		{name: "PLAIN on a loopback test server, envelope sender set", users: map[string]string{"hub": "secret"},
			cfg:     SMTPConfig{Security: "none", Auth: "plain", Username: "hub", Password: "secret"},
			envFrom: "hub@bndmr.test", user: "hub"},
		{name: "LOGIN on a loopback test server", users: map[string]string{"hub": "secret"},
			cfg:  SMTPConfig{Security: "none", Auth: "login", Username: "hub", Password: "secret"},
			user: "hub"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var srv *smtpServer
			if tc.tls {
				srv = startSMTP(t, p.serverTLS(t), tc.implicit)
			} else {
				srv = startSMTP(t, nil, false)
			}
			srv.users = tc.users
			cfg := Config{HubAddress: "hub@bndmr.test", SMTP: tc.cfg}
			cfg.SMTP.Addr = srv.addr
			cfg = cfg.WithDefaults()
			s, err := NewSMTPSender(cfg.SMTP)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Send(ctx, tc.envFrom, []string{"pfi@chu.test"}, []byte(tinyMail)); err != nil {
				t.Fatal(err)
			}
			got := srv.messages()
			if len(got) != 1 {
				t.Fatalf("%d messages received", len(got))
			}
			m := got[0]
			if m.from != tc.envFrom || len(m.to) != 1 || m.to[0] != "pfi@chu.test" || string(m.data) != tinyMail {
				t.Errorf("received MAIL FROM:<%s> RCPT %v data %q", m.from, m.to, m.data)
			}
			if m.tlsClient != tc.client || m.user != tc.user {
				t.Errorf("client certificate %q, user %q; want %q, %q", m.tlsClient, m.user, tc.client, tc.user)
			}
		})
	}
}

func TestSMTPSenderErrors(t *testing.T) {
	p := testPKI(t)
	t.Run("5xx is permanent", func(t *testing.T) {
		srv := startSMTP(t, nil, false)
		srv.reply = func(int) error {
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "null sender refused"}
		}
		s, _ := NewSMTPSender(Config{HubAddress: "hub@bndmr.test", SMTP: SMTPConfig{Addr: srv.addr, Security: "none"}}.WithDefaults().SMTP)
		err := s.Send(context.Background(), "", []string{"pfi@chu.test"}, []byte(tinyMail))
		var perm *PermanentError
		if !errors.As(err, &perm) || perm.Code != 554 || perm.Reply != "5.7.1 null sender refused" {
			t.Fatalf("error = %v, want a permanent 554", err)
		}
	})
	t.Run("4xx is temporary", func(t *testing.T) {
		srv := startSMTP(t, nil, false)
		srv.reply = func(int) error { return &smtp.SMTPError{Code: 451, Message: "try later"} }
		s, _ := NewSMTPSender(Config{HubAddress: "hub@bndmr.test", SMTP: SMTPConfig{Addr: srv.addr, Security: "none"}}.WithDefaults().SMTP)
		err := s.Send(context.Background(), "", []string{"pfi@chu.test"}, []byte(tinyMail))
		var perm *PermanentError
		if err == nil || errors.As(err, &perm) {
			t.Fatalf("error = %v, want a temporary one", err)
		}
	})
	t.Run("server certificate from another CA is refused", func(t *testing.T) {
		other := testPKI(t)
		srv := startSMTP(t, p.serverTLS(t), true)
		s, _ := NewSMTPSender(Config{HubAddress: "hub@bndmr.test", SMTP: SMTPConfig{Addr: srv.addr, Security: "tls", CAFile: other.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}}.WithDefaults().SMTP)
		if err := s.Send(context.Background(), "", []string{"pfi@chu.test"}, []byte(tinyMail)); err == nil {
			t.Fatal("sent to a server whose certificate the CA file does not vouch for")
		}
		if n := len(srv.messages()); n != 0 {
			t.Fatalf("%d messages delivered", n)
		}
	})
	t.Run("refused login is the hub's setup, retried", func(t *testing.T) {
		srv := startSMTP(t, nil, false)
		srv.users = map[string]string{"hub": "secret"}
		s, _ := NewSMTPSender(Config{HubAddress: "hub@bndmr.test", SMTP: SMTPConfig{Addr: srv.addr, Security: "none", Auth: "plain", Username: "hub", Password: "wrong"}}.WithDefaults().SMTP)
		err := s.Send(context.Background(), "", []string{"pfi@chu.test"}, []byte(tinyMail))
		var perm *PermanentError
		if err == nil || errors.As(err, &perm) {
			t.Fatalf("error = %v, want a temporary one", err)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		s, _ := NewSMTPSender(Config{HubAddress: "hub@bndmr.test", SMTP: SMTPConfig{Addr: "127.0.0.1:1", Security: "none"}}.WithDefaults().SMTP)
		err := s.Send(context.Background(), "", []string{"pfi@chu.test"}, []byte(tinyMail))
		var perm *PermanentError
		if err == nil || errors.As(err, &perm) {
			t.Fatalf("error = %v, want a temporary one", err)
		}
	})
}

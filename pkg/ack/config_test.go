package ack

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	p := testPKI(t)
	cases := []struct {
		name string
		edit func(*Config)
		want string // substring of the error, "" for valid
	}{
		{name: "valid plain loopback", edit: func(c *Config) {}},
		{name: "valid STARTTLS with client certificate", edit: func(c *Config) {
			c.SMTP = SMTPConfig{Addr: "smtp.mssante.fr:587", CertFile: p.clientCert, KeyFile: p.clientKey, CAFile: p.caFile, Auth: "external"}
		}},
		{name: "no hub address", edit: func(c *Config) { c.HubAddress = "" }, want: "HubAddress"},
		{name: "plain text off loopback", edit: func(c *Config) { c.SMTP.Addr = "smtp.mssante.fr:25" }, want: "loopback test servers only"},
		{name: "bad security", edit: func(c *Config) { c.SMTP.Security = "ssl" }, want: "starttls, tls or none"},
		{name: "bad address", edit: func(c *Config) { c.SMTP.Addr = "smtp.mssante.fr" }, want: "host:port"},
		{name: "certificate without key", edit: func(c *Config) { c.SMTP.CertFile = p.clientCert }, want: "needs both its file and its key"},
		{name: "CRL file that holds no CRL", edit: func(c *Config) { c.SMTP.CRLFile = p.caFile }, want: `SMTP TLS: CRL file`},
		{name: "unreadable certificate", edit: func(c *Config) { c.SMTP.CertFile, c.SMTP.KeyFile = p.caFile, p.clientKey }, want: "client certificate"},
		{name: "plain auth without password", edit: func(c *Config) { c.SMTP.Auth, c.SMTP.Username = "plain", "u" }, want: "Username and SMTP.Password"},
		{name: "external without certificate", edit: func(c *Config) { c.SMTP.Auth = "external" }, want: "needs a client certificate"},
		{name: "bad envelope sender", edit: func(c *Config) { c.SMTP.EnvelopeFrom = "<>" }, want: "EnvelopeFrom"},
		{name: "ack wait below SMTP timeout", edit: func(c *Config) { c.AckWait = time.Second }, want: "AckWait"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{HubAddress: "hub@bndmr.test", Registry: newRegistry(), SMTP: SMTPConfig{Addr: "127.0.0.1:2525", Security: "none"}}
			tc.edit(&c)
			err := c.WithDefaults().Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid configuration refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

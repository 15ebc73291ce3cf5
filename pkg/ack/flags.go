package ack

import "github.com/bndmr/hub/pkg/service"

// Defaults returns the settings the acknowledgements start from: the
// fields WithDefaults fills that do not depend on the hub's address.
func Defaults() Config { return Config{}.WithDefaults() }

// RegisterFlags declares the acknowledgement policy with c's values as
// defaults: --hub-address (the From of every MDN: the hub's identity, not
// under the prefix), --PREFIX-always, -return-path-mismatch, -legacy-error,
// and the relay's flags (SMTPConfig.RegisterFlags under "smtp").
func (c *Config) RegisterFlags(f *service.Flags, prefix string) {
	f.String(&c.HubAddress, "hub-address", c.HubAddress, "the hub's applicative mailbox (From of the acknowledgements)")
	f.Bool(&c.AnswerWithoutRequest, service.Name(prefix, "always"), c.AnswerWithoutRequest, "answer mails without Disposition-Notification-To too")
	f.Bool(&c.AnswerReturnPathMismatch, service.Name(prefix, "return-path-mismatch"), c.AnswerReturnPathMismatch,
		"answer even when Disposition-Notification-To differs from Return-Path")
	f.Bool(&c.LegacyErrorSyntax, service.Name(prefix, "legacy-error"), c.LegacyErrorSyntax, "emit the older 'processed/Error: code^label' form")
	c.SMTP.RegisterFlags(f, "smtp")
}

// RegisterFlags declares the relay's settings with s's values as defaults:
// --PREFIX-addr, -tls, -ca, -crl, -cert, -key, -auth, -user, -password,
// -envelope-from.
func (s *SMTPConfig) RegisterFlags(f *service.Flags, prefix string) {
	n := func(name string) string { return service.Name(prefix, name) }
	f.String(&s.Addr, n("addr"), s.Addr, "SMTP submission server host:port (empty: acknowledgements off)")
	f.String(&s.Security, n("tls"), s.Security, "starttls, tls (implicit) or none (loopback tests only)")
	f.String(&s.CAFile, n("ca"), s.CAFile, "CA bundle of the SMTP server")
	f.String(&s.CRLFile, n("crl"), s.CRLFile, "CRLs (PEM or DER) of the authorities of the SMTP server's certificate chain")
	f.String(&s.CertFile, n("cert"), s.CertFile, "client certificate (PEM)")
	f.String(&s.KeyFile, n("key"), s.KeyFile, "client certificate key (PEM)")
	f.String(&s.Auth, n("auth"), s.Auth, "'', external, plain or login")
	f.String(&s.Username, n("user"), s.Username, "SMTP user")
	f.String(&s.Password, n("password"), s.Password, "SMTP password")
	f.String(&s.EnvelopeFrom, n("envelope-from"), s.EnvelopeFrom, "SMTP MAIL FROM (empty: the null sender <>)")
}

// Package ack answers every sending hospital with a message disposition
// notification (RFC 8098, CI-SIS volet "transmission au LPS de documents CDA
// provenant d'un courriel MSSanté"): it consumes mail.outcome, builds the MDN
// and submits it over SMTP, at most once per original message.
package ack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bndmr/hub/pkg/mssante"
	"github.com/bndmr/hub/pkg/stage"
	"github.com/bndmr/hub/pkg/tlsclient"
	"github.com/bndmr/hub/pkg/topology"
)

// Config of the acknowledgement service.
type Config struct {
	// HubAddress is the hub's applicative mailbox: From and Final-Recipient
	// of every MDN. Mails from it are never answered.
	HubAddress string
	// ReportingUA names the hub in the MDN (default "<domain>; BNDMR hub").
	ReportingUA string
	// MessageIDDomain ends the MDNs' Message-IDs (default: HubAddress's domain).
	MessageIDDomain string

	// AnswerWithoutRequest also answers mails without
	// Disposition-Notification-To, to their From address.
	AnswerWithoutRequest bool
	// AnswerReturnPathMismatch answers even when Disposition-Notification-To
	// differs from Return-Path (or there is no Return-Path), which RFC 8098
	// §2.1 forbids by default as loop protection.
	AnswerReturnPathMismatch bool
	// LegacyErrorSyntax writes "processed/Error: <code>^<label>" as published
	// in the volet 1.1.x, for platforms that parse only that form.
	LegacyErrorSyntax bool
	// MaxOriginalBytes: larger originals are quoted by their header only
	// (text/rfc822-headers). Default 10 MiB; negative: always headers only.
	MaxOriginalBytes int64

	SMTP SMTPConfig

	// In-process retries of a temporary SMTP failure (4xx, network), before
	// the outcome goes back to JetStream for a later delivery.
	RetryAttempts int           // default 3
	RetryInitial  time.Duration // default 2s, doubled at each attempt
	RetryMax      time.Duration // default 30s

	// JetStream consumer and the key-value bucket of sent MDNs.
	Durable string        // default "ack"
	AckWait time.Duration // default 2m
	// GiveUpAfter: an outcome whose MDN still meets temporary failures
	// this long after the mail was checked is recorded as given up
	// (logged, counted). Until then it is retried, however many times:
	// a relay out for a long weekend delays the answers, it loses none.
	GiveUpAfter time.Duration // default 7 days
	Bucket      string        // default BNDMR_MDN_SENT
	Replicas    int           // of the bucket, default 1

	// Stages holds the process's stage runtime metrics and readiness
	// (nil: a private set on Registry).
	Stages *stage.Set

	// Registry receives the service's metrics; Run and New require it (no
	// global registry), Validate does not, so flags can be checked first.
	Registry *prometheus.Registry

	// RecordFor is how long recording an MDN as sent is retried (a NATS
	// leader election of the bucket's stream takes seconds) before the
	// delivery fails and the next one resends the same MDN; default 90 s,
	// below the consumer's AckWait (the message is held meanwhile).
	RecordFor time.Duration

	// afterSend runs between the SMTP submission and the record: tests
	// use it to simulate a crash there.
	afterSend func(ctx context.Context, key string) error
	// beforeRecord runs before each attempt to record the MDN as sent:
	// tests use it to simulate a bucket that does not answer for a while.
	beforeRecord func(ctx context.Context, key string) error
	// sleep waits between retries (tests record the delays).
	sleep func(ctx context.Context, d time.Duration) error
}

// SMTPConfig says how to submit MDNs.
type SMTPConfig struct {
	Addr string // host:port
	// Security: "starttls" (default), "tls" (implicit TLS, port 465) or
	// "none" (plain text, loopback test servers only).
	Security   string
	ServerName string // certificate name to check (default: Addr's host)
	CAFile     string // PEM roots (default: the system's)
	// CertFile and KeyFile: the TLS client certificate (IGC Santé
	// organisation certificate of the applicative mailbox).
	CertFile string
	KeyFile  string
	// CRLFile: the CRLs of the authorities of the server's chain
	// (IGC-Santé); when set, a revoked or uncovered certificate refuses
	// the connection, and the MDN waits for a retry.
	CRLFile string
	// Auth: "" (none, or the client certificate alone), "external",
	// "plain" or "login".
	Auth     string
	Username string
	Password string
	// EnvelopeFrom is the SMTP MAIL FROM; empty means the null sender <>
	// (RFC 8098 §3), which some operators refuse.
	EnvelopeFrom string
	HeloName     string        // default: HubAddress's domain
	Timeout      time.Duration // per SMTP exchange, default 60s
}

// DefaultBucket keeps one record per acknowledged original message.
const DefaultBucket = topology.BucketMDNSent

// WithDefaults fills the zero fields.
func (c Config) WithDefaults() Config {
	domain := domainOf(c.HubAddress)
	if c.ReportingUA == "" && domain != "" {
		c.ReportingUA = domain + "; BNDMR hub"
	}
	if c.MessageIDDomain == "" {
		c.MessageIDDomain = domain
	}
	if c.MaxOriginalBytes == 0 {
		c.MaxOriginalBytes = 10 << 20
	}
	if c.RetryAttempts == 0 {
		c.RetryAttempts = 3
	}
	if c.RetryInitial == 0 {
		c.RetryInitial = 2 * time.Second
	}
	if c.RetryMax == 0 {
		c.RetryMax = 30 * time.Second
	}
	if c.Durable == "" {
		c.Durable = topology.DurableAck
	}
	if c.AckWait == 0 {
		c.AckWait = 2 * time.Minute
	}
	if c.GiveUpAfter == 0 {
		c.GiveUpAfter = 7 * 24 * time.Hour
	}
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.SMTP.Security == "" {
		c.SMTP.Security = "starttls"
	}
	if c.SMTP.HeloName == "" {
		c.SMTP.HeloName = domain
	}
	if c.SMTP.Timeout == 0 {
		c.SMTP.Timeout = 60 * time.Second
	}
	if c.SMTP.ServerName == "" {
		c.SMTP.ServerName, _, _ = net.SplitHostPort(c.SMTP.Addr)
	}
	return c
}

// Validate reports every configuration mistake at once, in words an
// operator can act on. Zero fields are judged with their defaults.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !isAddr(c.HubAddress) {
		bad("ack: HubAddress %q must be the hub's mailbox address, like bal-app@bndmr.mssante.fr", c.HubAddress)
	}
	if c.MessageIDDomain == "" || strings.ContainsAny(c.MessageIDDomain, " <>@\r\n") {
		bad("ack: MessageIDDomain %q must be a domain name", c.MessageIDDomain)
	}
	if c.RetryAttempts < 1 || c.RetryInitial <= 0 || c.RetryMax < c.RetryInitial {
		bad("ack: retries need RetryAttempts >= 1 and 0 < RetryInitial <= RetryMax (got %d, %s, %s)", c.RetryAttempts, c.RetryInitial, c.RetryMax)
	}
	if c.GiveUpAfter < time.Hour {
		bad("ack: GiveUpAfter must be at least an hour (got %s): an SMTP relay may be away for days", c.GiveUpAfter)
	}
	if c.AckWait <= c.SMTP.Timeout {
		bad("ack: AckWait (%s) must exceed the SMTP timeout (%s), or JetStream redelivers an outcome while its MDN is being sent", c.AckWait, c.SMTP.Timeout)
	}
	if strings.ContainsAny(c.Bucket, " .*>\r\n") || c.Bucket == "" {
		bad("ack: Bucket %q is not a valid key-value bucket name", c.Bucket)
	}
	s := c.SMTP
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil || host == "" || port == "" {
		bad("ack: SMTP.Addr %q must be host:port, like smtp.mssante.fr:587", s.Addr)
	}
	switch s.Security {
	case "starttls", "tls":
	case "none":
		if !isLoopback(host) {
			bad("ack: SMTP.Security \"none\" is for loopback test servers only, not %q: use starttls or tls", host)
		}
	default:
		bad("ack: SMTP.Security %q must be starttls, tls or none", s.Security)
	}
	if _, err := tlsclient.Config(s.Files(), s.ServerName); err != nil {
		bad("ack: SMTP TLS: %w", err)
	}
	switch s.Auth {
	case "":
	case "external":
		if s.CertFile == "" {
			bad("ack: SMTP.Auth external needs a client certificate (SMTP.CertFile, SMTP.KeyFile)")
		}
	case "plain", "login":
		if s.Username == "" || s.Password == "" {
			bad("ack: SMTP.Auth %s needs SMTP.Username and SMTP.Password", s.Auth)
		}
	default:
		bad("ack: SMTP.Auth %q must be empty, external, plain or login", s.Auth)
	}
	if s.EnvelopeFrom != "" && !isAddr(s.EnvelopeFrom) {
		bad("ack: SMTP.EnvelopeFrom %q must be empty (null sender) or a mail address", s.EnvelopeFrom)
	}
	if s.HeloName == "" {
		bad("ack: SMTP.HeloName is empty and HubAddress gives no domain")
	}
	if s.Timeout <= 0 {
		bad("ack: SMTP.Timeout must be positive")
	}
	return errors.Join(errs...)
}

// isAddr is the MDN builder's own test, so that every address the policy
// accepts can be written into the acknowledgement.
func isAddr(a string) bool { return mssante.IsAddrSpec(a) }

func domainOf(a string) string {
	if at := strings.LastIndexByte(a, '@'); at >= 0 {
		return strings.ToLower(a[at+1:])
	}
	return ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

package ack

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/bndmr/hub/pkg/tlsclient"
)

// Sender submits one message. An error wrapping *PermanentError means the
// server refused it for good (5xx); any other error may be retried.
type Sender interface {
	Send(ctx context.Context, from string, to []string, msg []byte) error
}

// PermanentError is a 5xx reply: retrying the same message cannot help.
type PermanentError struct {
	Code  int
	Reply string
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("SMTP server refused the MDN for good: %d %s", e.Code, e.Reply)
}

// SMTPSender submits over SMTP with STARTTLS or implicit TLS, a client
// certificate and optionally SASL.
type SMTPSender struct {
	cfg SMTPConfig
	tls *tls.Config
}

// NewSMTPSender loads the certificates cfg names.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	tc, err := tlsclient.Config(cfg.Files(), cfg.ServerName)
	if err != nil {
		return nil, fmt.Errorf("SMTP TLS: %w", err)
	}
	return &SMTPSender{cfg: cfg, tls: tc}, nil
}

// Files are the certificate files of the SMTP connection.
func (s SMTPConfig) Files() tlsclient.Files {
	return tlsclient.Files{CAFile: s.CAFile, CertFile: s.CertFile, KeyFile: s.KeyFile, CRLFile: s.CRLFile}
}

// Send runs one SMTP transaction. The envelope sender is from ("" is <>).
// Only a 5xx to MAIL, RCPT or DATA is permanent: failures of the session
// itself (TLS, EHLO, login) come from the hub's setup and are retried.
func (s *SMTPSender) Send(ctx context.Context, from string, to []string, msg []byte) (err error) {
	d := net.Dialer{Timeout: s.cfg.Timeout}
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("connecting to SMTP server %s: %w", s.cfg.Addr, err)
	}
	// Closing the connection is how a cancelled context interrupts go-smtp.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	var c *smtp.Client
	switch s.cfg.Security {
	case "tls":
		tc := tls.Client(conn, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("TLS handshake with %s: %w", s.cfg.Addr, err)
		}
		c = smtp.NewClient(tc)
	case "starttls":
		c, err = smtp.NewClientStartTLS(conn, s.tls)
		if err != nil {
			conn.Close()
			return fmt.Errorf("STARTTLS with %s: %w", s.cfg.Addr, err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	c.CommandTimeout = s.cfg.Timeout
	c.SubmissionTimeout = s.cfg.Timeout

	if err := c.Hello(s.cfg.HeloName); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if a := s.auth(); a != nil {
		if err := c.Auth(a); err != nil {
			// A refused login is the hub's configuration, not this MDN's
			// fault: retried (and visible) rather than recorded as refused.
			return fmt.Errorf("SMTP authentication (%s) on %s: %w", s.cfg.Auth, s.cfg.Addr, err)
		}
	}
	opts := &smtp.MailOptions{Size: int64(len(msg))}
	if ok, _ := c.Extension("SIZE"); !ok {
		opts.Size = 0
	}
	if err := c.Mail(from, opts); err != nil {
		return classify(fmt.Errorf("MAIL FROM:<%s>: %w", from, err))
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return classify(fmt.Errorf("RCPT TO:<%s>: %w", rcpt, err))
		}
	}
	w, err := c.Data()
	if err != nil {
		return classify(fmt.Errorf("DATA: %w", err))
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return classify(fmt.Errorf("writing the MDN: %w", err))
	}
	if err := w.Close(); err != nil {
		return classify(fmt.Errorf("end of DATA: %w", err))
	}
	// The message is accepted; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

func (s *SMTPSender) auth() sasl.Client {
	switch s.cfg.Auth {
	case "plain":
		return sasl.NewPlainClient("", s.cfg.Username, s.cfg.Password)
	case "login":
		return sasl.NewLoginClient(s.cfg.Username, s.cfg.Password)
	case "external":
		return sasl.NewExternalClient("")
	}
	return nil
}

// classify turns a 5xx reply into a *PermanentError, keeping the context.
func classify(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 && se.Code < 600 {
		return fmt.Errorf("%w (%w)", &PermanentError{Code: se.Code, Reply: replyText(se)}, err)
	}
	return err
}

func replyText(se *smtp.SMTPError) string {
	var b bytes.Buffer
	if se.EnhancedCode != smtp.NoEnhancedCode && se.EnhancedCode != (smtp.EnhancedCode{}) {
		fmt.Fprintf(&b, "%d.%d.%d ", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	}
	b.WriteString(strings.ReplaceAll(se.Message, "\n", " "))
	return b.String()
}

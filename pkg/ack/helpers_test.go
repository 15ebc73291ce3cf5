package ack

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bndmr/hub/pkg/bus/bustest"
	"github.com/bndmr/hub/pkg/tlsclient/tlstest"
)

// received is one message the test SMTP server accepted.
type received struct {
	from string
	to   []string
	data []byte
	// tlsClient is the subject CN of the client certificate, if any.
	tlsClient string
	user      string
}

// smtpServer is a go-smtp server on loopback that records what it accepts.
// reply, when set, decides the answer to DATA of attempt n (1-based).
type smtpServer struct {
	addr  string
	srv   *smtp.Server
	mu    sync.Mutex
	got   []received
	tries int
	reply func(n int) error
	// users for AUTH PLAIN / LOGIN
	users map[string]string
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

func (s *smtpServer) attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tries
}

type smtpSession struct {
	s    *smtpServer
	c    *smtp.Conn
	msg  received
	user string
}

func (x *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (x *smtpSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if p, ok := x.s.users[user]; ok && p == pass {
			x.user = user
			return nil
		}
		return smtp.ErrAuthFailed
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return newLoginServer(check), nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (x *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.users != nil && x.user == "" {
		return smtp.ErrAuthRequired
	}
	x.msg = received{from: from, user: x.user}
	if st, ok := x.c.TLSConnectionState(); ok && len(st.PeerCertificates) > 0 {
		x.msg.tlsClient = st.PeerCertificates[0].Subject.CommonName
	}
	return nil
}

func (x *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.msg.to = append(x.msg.to, to)
	return nil
}

func (x *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	x.s.tries++
	if x.s.reply != nil {
		if err := x.s.reply(x.s.tries); err != nil {
			return err
		}
	}
	x.msg.data = b
	x.s.got = append(x.s.got, x.msg)
	return nil
}

func (x *smtpSession) Reset()        {}
func (x *smtpSession) Logout() error { return nil }

// startSMTP starts a server; tlsCfg nil means plain text, implicit true
// means TLS from the first byte (else STARTTLS is offered).
func startSMTP(t testing.TB, tlsCfg *tls.Config, implicit bool) *smtpServer {
	t.Helper()
	s := &smtpServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{s: s, c: c}, nil
	}))
	srv.Domain = "mx.chu.test"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.TLSConfig = tlsCfg
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit {
		l = tls.NewListener(l, tlsCfg)
	}
	s.addr, s.srv = l.Addr().String(), srv
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return s
}

// loginServer is the server side of SASL LOGIN (go-sasl has only the client).
type loginServer struct {
	check      func(user, pass string) error
	user       string
	step       int
	authorized bool
}

func newLoginServer(check func(user, pass string) error) sasl.Server {
	return &loginServer{check: check}
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if len(resp) > 0 { // initial response carries the user name
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(resp)
		l.step++
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

// testBus starts an embedded JetStream with the hub's streams.
func testBus(t testing.TB) jetstream.JetStream { return bustest.Start(t).JS }

// metric reads one sample from reg; labels select the series.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue series
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
		}
	}
	return 0
}

// mdnView is an MDN as go-message reads it, field by field.
type mdnView struct {
	header   mail.Header
	subject  string
	text     string
	report   textproto.Header
	origType string
	orig     []byte
	parts    int
}

func readMDN(t *testing.T, b []byte) mdnView {
	t.Helper()
	e, err := message.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("go-message cannot read the MDN: %v", err)
	}
	v := mdnView{header: mail.Header{Header: e.Header}}
	if v.subject, err = v.header.Subject(); err != nil {
		t.Fatalf("subject: %v", err)
	}
	ct, params, _ := e.Header.ContentType()
	if ct != "multipart/report" || params["report-type"] != "disposition-notification" {
		t.Fatalf("Content-Type %q %v", ct, params)
	}
	mr := e.MultipartReader()
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("part %d: %v", v.parts+1, err)
		}
		v.parts++
		body, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := p.Header.ContentType()
		switch v.parts {
		case 1:
			if ct != "text/plain" {
				t.Fatalf("part 1 is %q", ct)
			}
			v.text = string(body)
		case 2:
			if ct != "message/disposition-notification" {
				t.Fatalf("part 2 is %q", ct)
			}
			if v.report, err = textproto.ReadHeader(bufio.NewReader(bytes.NewReader(body))); err != nil {
				t.Fatalf("disposition fields: %v", err)
			}
		case 3:
			v.origType, v.orig = ct, body
		}
	}
	if v.parts != 3 {
		t.Fatalf("MDN has %d parts, want 3", v.parts)
	}
	return v
}

func (v mdnView) field(name string) string {
	return strings.Join(strings.Fields(v.report.Get(name)), " ")
}

// testPKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, and returns their paths.
type pki struct {
	caFile, serverCert, serverKey, clientCert, clientKey string
	pool                                                 *x509.CertPool
}

func testPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	ca := tlstest.NewAuthority(t, "Test IGC Santé")
	issue := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		cf, kf := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		tlstest.WriteKeyPair(t, ca.Leaf(t, name, serial, usage), cf, kf)
		return cf, kf
	}
	p := pki{caFile: filepath.Join(dir, "ca.crt"), pool: x509.NewCertPool()}
	tlstest.WritePEM(t, p.caFile, "CERTIFICATE", ca.Cert.Raw)
	p.pool.AddCert(ca.Cert)
	p.serverCert, p.serverKey = issue("smtp.chu.test", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = issue("bal-app.bndmr.test", 3, x509.ExtKeyUsageClientAuth)
	return p
}

func (p pki) serverTLS(t *testing.T) *tls.Config {
	cert, err := tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: p.pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

func newRegistry() *prometheus.Registry { return prometheus.NewRegistry() }

func benchBus(b *testing.B) jetstream.JetStream { return testBus(b) }

func benchSMTP(b *testing.B) string { return startSMTP(b, nil, false).addr }

package tlsclient

import (
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/tlsclient/tlstest"
)

// server accepts TLS handshakes with cert until the test ends.
func server(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.(*tls.Conn).Handshake()
			}()
		}
	}()
	return ln.Addr().String()
}

func handshake(addr string, tc *tls.Config) error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tc)
	if err != nil {
		return err
	}
	return c.Close()
}

func TestCRL(t *testing.T) {
	ca, other := tlstest.NewAuthority(t, "IGC-Santé test CA"), tlstest.NewAuthority(t, "Other CA")
	addr := server(t, ca.Leaf(t, "imap.operator.test", 42, x509.ExtKeyUsageServerAuth))
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	tlstest.WritePEM(t, caFile, "CERTIFICATE", ca.Cert.Raw)
	later, past := time.Now().Add(time.Hour), time.Now().Add(-time.Minute)
	for _, tc := range []struct {
		name string
		crl  []byte // nil: no CRL file
		fail string
	}{
		{"no CRL file", nil, ""},
		{"CRL listing other serials", tlstest.PEM("X509 CRL", ca.CRL(t, later, nil, big.NewInt(7), big.NewInt(8))), ""},
		{"DER CRL", ca.CRL(t, later, nil), ""},
		{"two CRLs, the CA's among them", tlstest.PEM("X509 CRL", other.CRL(t, later, nil, big.NewInt(42)), ca.CRL(t, later, nil)), ""},
		{"server certificate revoked", tlstest.PEM("X509 CRL", ca.CRL(t, later, nil, big.NewInt(7), big.NewInt(42))), `"imap.operator.test" (serial 2a) was revoked by "IGC-Santé test CA" on 2026-10-01`},
		{"CRL out of date", tlstest.PEM("X509 CRL", ca.CRL(t, past, nil)), "expired on"},
		{"no CRL of the issuer", tlstest.PEM("X509 CRL", other.CRL(t, later, nil)), `no CRL of "IGC-Santé test CA"`},
		{"CRL forged with another key", tlstest.PEM("X509 CRL", ca.CRL(t, later, other.Key)), "not signed by that authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := Files{CAFile: caFile}
			if tc.crl != nil {
				f.CRLFile = filepath.Join(t.TempDir(), "crl")
				if err := os.WriteFile(f.CRLFile, tc.crl, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := Config(f, "")
			if err != nil {
				t.Fatal(err)
			}
			err = handshake(addr, cfg)
			switch {
			case tc.fail == "" && err != nil:
				t.Fatalf("handshake refused: %v", err)
			case tc.fail != "" && (err == nil || !strings.Contains(err.Error(), tc.fail)):
				t.Fatalf("handshake error %v, want one with %q", err, tc.fail)
			}
		})
	}
}

// TestCRLFileRefreshed: a new CRL written over the file is used by the next
// handshake of the same configuration.
func TestCRLFileRefreshed(t *testing.T) {
	ca := tlstest.NewAuthority(t, "IGC-Santé test CA")
	addr := server(t, ca.Leaf(t, "imap.operator.test", 42, x509.ExtKeyUsageServerAuth))
	dir := t.TempDir()
	f := Files{CAFile: filepath.Join(dir, "ca.pem"), CRLFile: filepath.Join(dir, "crl.pem")}
	tlstest.WritePEM(t, f.CAFile, "CERTIFICATE", ca.Cert.Raw)
	tlstest.WritePEM(t, f.CRLFile, "X509 CRL", ca.CRL(t, time.Now().Add(time.Hour), nil))
	cfg, err := Config(f, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(addr, cfg); err != nil {
		t.Fatalf("before the revocation: %v", err)
	}
	tlstest.WritePEM(t, f.CRLFile, "X509 CRL", ca.CRL(t, time.Now().Add(time.Hour), nil, big.NewInt(42)))
	// A refresh within the same clock tick must be seen too.
	os.Chtimes(f.CRLFile, time.Now(), time.Now().Add(time.Second))
	if err := handshake(addr, cfg); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("after the revocation: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("not a CRL"), 0o600)
	notCRL := filepath.Join(dir, "cert.pem")
	os.WriteFile(notCRL, tlstest.PEM("CERTIFICATE", []byte{1}), 0o600)
	for _, tc := range []struct {
		name string
		f    Files
		want string
	}{
		{"CA file missing", Files{CAFile: filepath.Join(dir, "none")}, "reading the CA bundle"},
		{"CA file not PEM", Files{CAFile: garbage}, "holds no PEM certificate"},
		{"certificate without key", Files{CertFile: garbage}, "needs both"},
		{"CRL file missing", Files{CRLFile: filepath.Join(dir, "none")}, "CRL file"},
		{"CRL file not a CRL", Files{CRLFile: garbage}, "not a PEM file and not a DER CRL"},
		{"PEM without a CRL", Files{CRLFile: notCRL}, `no "X509 CRL" PEM block`},
	} {
		if _, err := Config(tc.f, ""); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.want)
		}
	}
}

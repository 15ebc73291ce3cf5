package tlsclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newAuthority(t *testing.T, cn string) authority {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return authority{c, key}
}

func (a authority) leaf(t *testing.T, serial int64) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "imap.operator.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// crl is a CRL of a listing the serials, valid until next; signer signs
// it (a's key unless another is given: a forged CRL).
func (a authority) crl(t *testing.T, next time.Time, signer *ecdsa.PrivateKey, serials ...int64) []byte {
	t.Helper()
	if signer == nil {
		signer = a.key
	}
	issuer := *a.cert
	issuer.PublicKey = signer.Public()
	tmpl := &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: time.Now().Add(-2 * time.Hour), NextUpdate: next}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, &issuer, signer)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemOf(typ string, ders ...[]byte) []byte {
	var b []byte
	for _, d := range ders {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	return b
}

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
	ca, other := newAuthority(t, "IGC-Santé test CA"), newAuthority(t, "Other CA")
	addr := server(t, ca.leaf(t, 42))
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pemOf("CERTIFICATE", ca.cert.Raw), 0o600); err != nil {
		t.Fatal(err)
	}
	later, past := time.Now().Add(time.Hour), time.Now().Add(-time.Minute)
	for _, tc := range []struct {
		name string
		crl  []byte // nil: no CRL file
		fail string
	}{
		{"no CRL file", nil, ""},
		{"CRL listing other serials", pemOf("X509 CRL", ca.crl(t, later, nil, 7, 8)), ""},
		{"DER CRL", ca.crl(t, later, nil), ""},
		{"two CRLs, the CA's among them", pemOf("X509 CRL", other.crl(t, later, nil, 42), ca.crl(t, later, nil)), ""},
		{"server certificate revoked", pemOf("X509 CRL", ca.crl(t, later, nil, 7, 42)), `"imap.operator.test" (serial 2a) was revoked by "IGC-Santé test CA" on 2026-10-01`},
		{"CRL out of date", pemOf("X509 CRL", ca.crl(t, past, nil)), "expired on"},
		{"no CRL of the issuer", pemOf("X509 CRL", other.crl(t, later, nil)), `no CRL of "IGC-Santé test CA"`},
		{"CRL forged with another key", pemOf("X509 CRL", ca.crl(t, later, other.key)), "not signed by that authority"},
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
	ca := newAuthority(t, "IGC-Santé test CA")
	addr := server(t, ca.leaf(t, 42))
	dir := t.TempDir()
	f := Files{CAFile: filepath.Join(dir, "ca.pem"), CRLFile: filepath.Join(dir, "crl.pem")}
	os.WriteFile(f.CAFile, pemOf("CERTIFICATE", ca.cert.Raw), 0o600)
	os.WriteFile(f.CRLFile, pemOf("X509 CRL", ca.crl(t, time.Now().Add(time.Hour), nil)), 0o600)
	cfg, err := Config(f, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(addr, cfg); err != nil {
		t.Fatalf("before the revocation: %v", err)
	}
	if err := os.WriteFile(f.CRLFile, pemOf("X509 CRL", ca.crl(t, time.Now().Add(time.Hour), nil, 42)), 0o600); err != nil {
		t.Fatal(err)
	}
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
	os.WriteFile(notCRL, pemOf("CERTIFICATE", []byte{1}), 0o600)
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

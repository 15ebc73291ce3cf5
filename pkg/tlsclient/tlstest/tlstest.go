// Package tlstest makes the certificates, keys and CRLs of the tests that
// speak TLS (IMAP, SMTP): a test authority, the certificates it issues and
// its revocation lists, in memory or as PEM files.
package tlstest

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
	"testing"
	"time"
)

// Authority is a test certification authority that may sign CRLs.
type Authority struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewAuthority makes a self-signed authority named cn, valid for a day.
func NewAuthority(t testing.TB, cn string) Authority {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	return Authority{Cert: create(t, tmpl, tmpl, key, key), Key: key}
}

// Leaf issues a certificate for cn with the given serial; a server
// certificate also names localhost and 127.0.0.1. Its Leaf field is set.
func (a Authority) Leaf(t testing.TB, cn string, serial int64, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	c := create(t, tmpl, a.Cert, key, a.Key)
	return tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: key, Leaf: c}
}

// CRL is a DER revocation list of a listing serials, valid until next and
// signed by signer (nil: a's own key; another key makes a forged CRL).
func (a Authority) CRL(t testing.TB, next time.Time, signer *ecdsa.PrivateKey, serials ...*big.Int) []byte {
	t.Helper()
	if signer == nil {
		signer = a.Key
	}
	// CreateRevocationList takes the issuer's name from the certificate and
	// checks its key against the signer's: a copy carrying the signer's key
	// forges a CRL in a's name.
	issuer := *a.Cert
	issuer.PublicKey = signer.Public()
	tmpl := &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: time.Now().Add(-2 * time.Hour), NextUpdate: next}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, &issuer, signer)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// PEM encodes ders as blocks of type typ ("CERTIFICATE", "X509 CRL").
func PEM(typ string, ders ...[]byte) []byte {
	var b []byte
	for _, d := range ders {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	return b
}

// WritePEM writes ders as PEM blocks of type typ into path.
func WritePEM(t testing.TB, path, typ string, ders ...[]byte) {
	t.Helper()
	if err := os.WriteFile(path, PEM(typ, ders...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// WriteKeyPair writes c's certificate and EC key as PEM files.
func WriteKeyPair(t testing.TB, c tls.Certificate, certFile, keyFile string) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	WritePEM(t, certFile, "CERTIFICATE", c.Certificate[0])
	WritePEM(t, keyFile, "EC PRIVATE KEY", der)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func create(t testing.TB, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

package localtopo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The Secrets of the encrypted links (docs/operations.md), by name: the
// NATS servers' and ClickHouse servers' certificates, and the clients'.
const (
	SecretNATSTLS             = "bndmr-nats-tls"
	SecretNATSClientTLS       = "bndmr-nats-client-tls"
	SecretClickHouseTLS       = "bndmr-clickhouse-tls"
	SecretClickHouseClientTLS = "bndmr-clickhouse-client-tls"
)

// TestPKI writes, under dir, one folder per TLS Secret with the keys the
// manifests mount, issued by a test authority made for the occasion: a
// server certificate for loopback (127.0.0.1, localhost; server and client
// usage, as the NATS routes and ClickHouse nodes need) and one client
// certificate per NATS user and per ClickHouse client. It returns the
// folder of each Secret. Each call makes a new authority.
func TestPKI(dir string, natsUsers, clickhouseUsers []string) (map[string]string, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "BNDMR loopback test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	leaf := func(cn string, server bool) (cert, key []byte, err error) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		if server {
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	files := map[string]map[string][]byte{}
	for _, s := range []struct {
		secret, cn string
	}{{SecretNATSTLS, "nats"}, {SecretClickHouseTLS, "clickhouse"}} {
		c, k, err := leaf(s.cn, true)
		if err != nil {
			return nil, err
		}
		files[s.secret] = map[string][]byte{"ca.crt": caPEM, "tls.crt": c, "tls.key": k}
	}
	for _, s := range []struct {
		secret string
		users  []string
	}{{SecretNATSClientTLS, natsUsers}, {SecretClickHouseClientTLS, clickhouseUsers}} {
		files[s.secret] = map[string][]byte{"ca.crt": caPEM}
		for _, u := range s.users {
			c, k, err := leaf(u, false)
			if err != nil {
				return nil, err
			}
			files[s.secret][u+".crt"], files[s.secret][u+".key"] = c, k
		}
	}
	out := map[string]string{}
	for secret, keys := range files {
		d := filepath.Join(dir, secret)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
		for k, b := range keys {
			if err := os.WriteFile(filepath.Join(d, k), b, 0o600); err != nil {
				return nil, fmt.Errorf("Secret %s: %w", secret, err)
			}
		}
		out[secret] = d
	}
	return out, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

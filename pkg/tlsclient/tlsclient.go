// Package tlsclient builds the TLS settings of the hub's connections to the
// MSSanté operator (IMAP for ingest, SMTP for acknowledgements): the CA
// bundle the server must chain to, the hub's client certificate, and the
// certificate revocation lists (CRLs) of the IGC-Santé authorities.
package tlsclient

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Files names the PEM files of one client.
type Files struct {
	CAFile   string // roots the server certificate must chain to (default: the system's)
	CertFile string // client certificate (IGC-Santé organisation certificate)
	KeyFile  string
	// CRLFile holds the CRLs (PEM "X509 CRL" blocks, or one DER CRL) of every
	// authority that issues a certificate of the server's chain. It is read
	// again at a handshake once it has changed on disk, so a refresh job
	// needs no restart.
	CRLFile string
}

// Config returns the TLS configuration of f; serverName may be empty (the
// host of the address dialled is then checked).
func Config(f Files, serverName string) (*tls.Config, error) {
	tc := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12}
	if f.CAFile != "" {
		b, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("the CA bundle %s holds no PEM certificate", f.CAFile)
		}
		tc.RootCAs = pool
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		return nil, fmt.Errorf("a client certificate needs both its file and its key (got %q and %q)", f.CertFile, f.KeyFile)
	}
	if f.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the client certificate %s: %w", f.CertFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if f.CRLFile != "" {
		c := &crls{path: f.CRLFile}
		if _, err := c.current(); err != nil {
			return nil, err
		}
		tc.VerifyConnection = c.verify
	}
	return tc, nil
}

// crls is the content of a CRL file, kept until the file changes.
type crls struct {
	path string
	mu   sync.Mutex
	mod  time.Time
	size int64
	list []*x509.RevocationList
}

func (c *crls) current() ([]*x509.RevocationList, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := os.Stat(c.path)
	if err != nil {
		return nil, fmt.Errorf("CRL file: %w", err)
	}
	if c.list != nil && st.ModTime().Equal(c.mod) && st.Size() == c.size {
		return c.list, nil
	}
	b, err := os.ReadFile(c.path)
	if err != nil {
		return nil, fmt.Errorf("CRL file: %w", err)
	}
	list, err := parseCRLs(b)
	if err != nil {
		return nil, fmt.Errorf("CRL file %s: %w", c.path, err)
	}
	c.list, c.mod, c.size = list, st.ModTime(), st.Size()
	return list, nil
}

func parseCRLs(b []byte) ([]*x509.RevocationList, error) {
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		l, err := x509.ParseRevocationList(b)
		if err != nil {
			return nil, fmt.Errorf("not a PEM file and not a DER CRL: %w", err)
		}
		return []*x509.RevocationList{l}, nil
	}
	var list []*x509.RevocationList
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "X509 CRL" {
			continue
		}
		l, err := x509.ParseRevocationList(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CRL %d: %w", len(list)+1, err)
		}
		list = append(list, l)
	}
	if len(list) == 0 {
		return nil, errors.New(`no "X509 CRL" PEM block`)
	}
	return list, nil
}

// verify runs after the chain has been verified: every certificate of it
// but the root must be covered by a CRL of its issuer, signed by that
// issuer, still current, and must not be listed. Without a CRL to decide,
// the connection is refused: the mails wait on the server, and the error
// names the file to refresh.
func (c *crls) verify(cs tls.ConnectionState) error {
	list, err := c.current()
	if err != nil {
		return err
	}
	now := time.Now()
	for _, chain := range cs.VerifiedChains {
		for i := 0; i+1 < len(chain); i++ {
			if err := check(list, chain[i], chain[i+1], now, c.path); err != nil {
				return err
			}
		}
	}
	return nil
}

func check(list []*x509.RevocationList, cert, issuer *x509.Certificate, now time.Time, path string) error {
	covered := false
	for _, l := range list {
		if !bytes.Equal(l.RawIssuer, issuer.RawSubject) {
			continue
		}
		if err := l.CheckSignatureFrom(issuer); err != nil {
			return fmt.Errorf("the CRL of %q in %s is not signed by that authority: %w", issuer.Subject.CommonName, path, err)
		}
		if !l.NextUpdate.IsZero() && now.After(l.NextUpdate) {
			return fmt.Errorf("the CRL of %q in %s expired on %s: refresh the file", issuer.Subject.CommonName, path, l.NextUpdate.UTC().Format(time.RFC3339))
		}
		covered = true
		for _, e := range l.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return fmt.Errorf("the certificate %q (serial %s) was revoked by %q on %s", cert.Subject.CommonName,
					hex.EncodeToString(cert.SerialNumber.Bytes()), issuer.Subject.CommonName, e.RevocationTime.UTC().Format(time.RFC3339))
			}
		}
	}
	if !covered {
		return fmt.Errorf("no CRL of %q (issuer of %q) in %s: add it to the file", issuer.Subject.CommonName, cert.Subject.CommonName, path)
	}
	return nil
}

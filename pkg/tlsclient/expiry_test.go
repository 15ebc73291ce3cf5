package tlsclient

import (
	"crypto/x509"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bndmr/hub/pkg/tlsclient/tlstest"
)

func TestExpiryCollector(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewAuthority(t, "IGC test")
	leaf := ca.Leaf(t, "hub@bndmr.test", 7, x509.ExtKeyUsageClientAuth)
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "c.key")
	tlstest.WriteKeyPair(t, leaf, cert, key)
	next := time.Now().Add(36 * time.Hour).Truncate(time.Second)
	crl := filepath.Join(dir, "crl.pem")
	tlstest.WritePEM(t, crl, "X509 CRL", ca.CRL(t, next.Add(24*time.Hour), nil), ca.CRL(t, next, nil))

	reg := prometheus.NewRegistry()
	reg.MustRegister(Expiry{Use: "smtp", Files: Files{CertFile: cert, KeyFile: key, CRLFile: crl}},
		Expiry{Use: "imap:none", Files: Files{CertFile: filepath.Join(dir, "missing.pem")}})
	notAfter := leaf.Leaf
	if notAfter == nil {
		var err error
		if notAfter, err = x509.ParseCertificate(leaf.Certificate[0]); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP bndmr_tls_certificate_expiry_timestamp_seconds When the client certificate of a connection expires (NotAfter, Unix seconds).
# TYPE bndmr_tls_certificate_expiry_timestamp_seconds gauge
bndmr_tls_certificate_expiry_timestamp_seconds{use="smtp"} ` + itoa(notAfter.NotAfter.Unix()) + `
# HELP bndmr_tls_crl_next_update_timestamp_seconds The earliest NextUpdate of the CRLs a connection checks (Unix seconds): past it, connections are refused until the file is refreshed.
# TYPE bndmr_tls_crl_next_update_timestamp_seconds gauge
bndmr_tls_crl_next_update_timestamp_seconds{use="smtp"} ` + itoa(next.Unix()) + `
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

package tlsclient

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	certExpiryDesc = prometheus.NewDesc("bndmr_tls_certificate_expiry_timestamp_seconds",
		"When the client certificate of a connection expires (NotAfter, Unix seconds).", []string{"use"}, nil)
	crlNextDesc = prometheus.NewDesc("bndmr_tls_crl_next_update_timestamp_seconds",
		"The earliest NextUpdate of the CRLs a connection checks (Unix seconds): past it, connections are refused until the file is refreshed.", []string{"use"}, nil)
)

// Expiry is a metrics collector for the client certificate and the CRL file
// of one use ("smtp", "imap:hub@…"): read at each scrape, so a renewed
// certificate or a refreshed CRL shows without a restart. A file that is not
// set or cannot be read gives no sample.
type Expiry struct {
	Use   string
	Files Files
}

// Describe implements prometheus.Collector. It describes nothing: an
// unchecked collector, so that each connection of a process (every mailbox,
// the SMTP relay) registers its own under the same metric names.
func (e Expiry) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (e Expiry) Collect(ch chan<- prometheus.Metric) {
	if t, ok := certNotAfter(e.Files.CertFile); ok {
		ch <- prometheus.MustNewConstMetric(certExpiryDesc, prometheus.GaugeValue, float64(t.Unix()), e.Use)
	}
	if e.Files.CRLFile != "" {
		b, err := os.ReadFile(e.Files.CRLFile)
		if err != nil {
			return
		}
		list, err := parseCRLs(b)
		if err != nil || len(list) == 0 {
			return
		}
		next := list[0].NextUpdate
		for _, l := range list[1:] {
			if l.NextUpdate.Before(next) {
				next = l.NextUpdate
			}
		}
		ch <- prometheus.MustNewConstMetric(crlNextDesc, prometheus.GaugeValue, float64(next.Unix()), e.Use)
	}
}

// certNotAfter reads the first certificate of a PEM file.
func certNotAfter(path string) (time.Time, bool) {
	if path == "" {
		return time.Time{}, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, false
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return time.Time{}, false
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return time.Time{}, false
		}
		return c.NotAfter, true
	}
}

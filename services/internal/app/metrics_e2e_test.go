package app

import (
	"bufio"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/testsupport"
	"github.com/bndmr/hub/pkg/tlsclient/tlstest"
)

// monitoredMetrics reads the metric names the alert rules and the Grafana
// dashboard of deploy/k8s/monitoring use.
func monitoredMetrics(t *testing.T) []string {
	t.Helper()
	name := regexp.MustCompile(`\bbndmr_[a-z_]+[a-z]\b`)
	seen := map[string]bool{}
	for _, f := range []string{"bndmr.rules.yml", "bndmr-pipeline.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "k8s", "monitoring", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range name.FindAllString(string(b), -1) {
			seen[strings.TrimSuffix(m, "_bucket")] = true
		}
	}
	var out []string
	for m := range seen {
		out = append(out, m)
	}
	sort.Strings(out)
	if len(out) < 15 {
		t.Fatalf("only %d metrics found in the rules and the dashboard: %v", len(out), out)
	}
	return out
}

// TestMonitoredMetricsServed runs the hub on a few mails, with the
// acknowledgements on and certificate files named, scrapes its /metrics
// while it works, and checks that every metric the alert rules and the
// dashboard read is there: a rule on a metric that does not exist would
// never fire.
func TestMonitoredMetricsServed(t *testing.T) {
	smtpAddr := os.Getenv("BNDMR_E2E_SMTP")
	if smtpAddr == "" {
		t.Skip("BNDMR_E2E_SMTP not set: run through `make test`, which starts Postfix")
	}
	want := monitoredMetrics(t)
	dir := t.TempDir()
	ca := tlstest.NewAuthority(t, "IGC test")
	cert, key, crl := filepath.Join(dir, "c.pem"), filepath.Join(dir, "c.key"), filepath.Join(dir, "crl.pem")
	tlstest.WriteKeyPair(t, ca.Leaf(t, "hub@bndmr.test", 3, x509.ExtKeyUsageClientAuth), cert, key)
	tlstest.WritePEM(t, crl, "X509 CRL", ca.CRL(t, time.Now().Add(24*time.Hour), nil))

	e := newE2E(t, 31, 5)
	port := testsupport.FreePort(t)
	done := make(chan int, 1)
	go func() {
		done <- HubMain(e.args("--exit-when-idle", "3s", "--http-addr", fmt.Sprintf("127.0.0.1:%d", port),
			"--smtp-addr", smtpAddr, "--smtp-tls", "none", "--hub-address", "hub2@bndmr.test",
			"--smtp-cert", cert, "--smtp-key", key, "--smtp-crl", crl))
	}()
	served := map[string]bool{}
	scrape := func() {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err != nil {
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") {
				continue
			}
			n := line
			if i := strings.IndexAny(n, "{ "); i >= 0 {
				n = n[:i]
			}
			served[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")] = true
		}
	}
	deadline := time.After(3 * time.Minute)
	for running := true; running; {
		scrape()
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("hub exited with %d", code)
			}
			running = false
		case <-deadline:
			t.Fatal("hub still running after 3 minutes")
		case <-time.After(250 * time.Millisecond):
		}
	}
	for _, m := range want {
		if !served[m] {
			t.Errorf("%s is read by the alert rules or the dashboard but the hub does not serve it", m)
		}
	}
}

package store

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/testsupport"
	"github.com/bndmr/hub/pkg/tlsclient"
	"github.com/bndmr/hub/pkg/tlsclient/tlstest"
	"github.com/bndmr/hub/pkg/topology/chinstance"
)

// The native protocol over TLS, on a ClickHouse of the test's own
// (scripts/clickhouse-instance.sh) that has only the secure native port and
// asks every client for a certificate of the hub's authority, as the
// deployment's servers do: the store connects with its CA and certificate,
// and every other way in is refused.
func TestOpenTLS(t *testing.T) {
	if os.Getenv("BNDMR_TEST_CLICKHOUSE") == "" {
		t.Skip("BNDMR_TEST_CLICKHOUSE not set: run through `make test`, which installs ClickHouse")
	}
	if _, err := exec.LookPath("clickhouse-server"); err != nil {
		t.Fatal("clickhouse-server is not installed: run through `make test` (make deps installs it)")
	}
	dir := t.TempDir()
	f := func(n string) string { return filepath.Join(dir, n) }
	ca := tlstest.NewAuthority(t, "BNDMR test ClickHouse CA")
	tlstest.WritePEM(t, f("ca.crt"), "CERTIFICATE", ca.Cert.Raw)
	tlstest.WriteKeyPair(t, ca.Leaf(t, "clickhouse", 2, x509.ExtKeyUsageServerAuth), f("server.crt"), f("server.key"))
	tlstest.WriteKeyPair(t, ca.Leaf(t, "loader", 3, x509.ExtKeyUsageClientAuth), f("loader.crt"), f("loader.key"))
	other := tlstest.NewAuthority(t, "another CA")
	tlstest.WritePEM(t, f("other.crt"), "CERTIFICATE", other.Cert.Raw)
	tlstest.WriteKeyPair(t, other.Leaf(t, "intruder", 4, x509.ExtKeyUsageClientAuth), f("intruder.crt"), f("intruder.key"))

	secure, plainHTTP := testsupport.FreePort(t), testsupport.FreePort(t)
	extra := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <tcp_port remove="1"/>
  <tcp_port_secure>%d</tcp_port_secure>
  <openSSL>
    <server>
      <certificateFile>%s</certificateFile>
      <privateKeyFile>%s</privateKeyFile>
      <caConfig>%s</caConfig>
      <verificationMode>strict</verificationMode>
      <loadDefaultCAFile>false</loadDefaultCAFile>
      <cacheSessions>true</cacheSessions>
      <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
      <preferServerCiphers>true</preferServerCiphers>
    </server>
  </openSSL>
</yandex>
`, secure, f("server.crt"), f("server.key"), f("ca.crt"))
	if err := os.WriteFile(f("tls.xml"), []byte(extra), 0o600); err != nil {
		t.Fatal(err)
	}
	// The plain native port the script writes is removed by tls.xml: it
	// is chosen free so that a listener there would be this server's.
	plain := testsupport.FreePort(t)
	chinstance.Start(t, chinstance.Config{Dir: filepath.Join(dir, "server"), TCP: plain, HTTP: plainHTTP, Extra: f("tls.xml"), Listen: secure})

	ctx := context.Background()
	dsn := fmt.Sprintf("clickhouse://127.0.0.1:%d/default?secure=true", secure)
	files := tlsclient.Files{CAFile: f("ca.crt"), CertFile: f("loader.crt"), KeyFile: f("loader.key")}
	st, err := OpenWith(ctx, dsn, Options{TLS: files})
	if err != nil {
		t.Fatalf("over TLS with the CA and a client certificate: %v", err)
	}
	var one uint8
	if err := st.Conn().QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 over TLS: %v %v", one, err)
	}
	st.Close()

	for _, tc := range []struct {
		name string
		dsn  string
		tls  tlsclient.Files
		want string // in the error
	}{
		{"plaintext on the secure port", fmt.Sprintf("clickhouse://127.0.0.1:%d/default", secure), tlsclient.Files{}, ""},
		{"plaintext on the native port", fmt.Sprintf("clickhouse://127.0.0.1:%d/default", plain), tlsclient.Files{}, "refused"},
		{"TLS files with a clear DSN", fmt.Sprintf("clickhouse://127.0.0.1:%d/default", secure), files, "secure=true"},
		{"no client certificate", dsn, tlsclient.Files{CAFile: f("ca.crt")}, ""},
		{"a certificate of another authority", dsn, tlsclient.Files{CAFile: f("ca.crt"), CertFile: f("intruder.crt"), KeyFile: f("intruder.key")}, ""},
		{"the server not checked against the CA (system roots)", dsn, tlsclient.Files{CertFile: f("loader.crt"), KeyFile: f("loader.key")}, "certificate"},
		{"skip_verify", dsn + "&skip_verify=true", files, "skip_verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			st, err := OpenWith(ctx, tc.dsn, Options{TLS: tc.tls})
			if err == nil {
				st.Close()
				t.Fatal("connected")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}

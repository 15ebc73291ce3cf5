package bus

import (
	"context"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/bndmr/hub/pkg/tlsclient/tlstest"
)

// Connect speaks TLS with the files of Config, and a server that requires
// client certificates refuses a connection without one: the bus waits
// (it reconnects forever) but never gets through.
func TestConnectTLS(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewAuthority(t, "BNDMR test NATS CA")
	f := func(n string) string { return filepath.Join(dir, n) }
	tlstest.WritePEM(t, f("ca.crt"), "CERTIFICATE", ca.Cert.Raw)
	tlstest.WriteKeyPair(t, ca.Leaf(t, "nats", 2, x509.ExtKeyUsageServerAuth), f("server.crt"), f("server.key"))
	tlstest.WriteKeyPair(t, ca.Leaf(t, "loader", 3, x509.ExtKeyUsageClientAuth), f("loader.crt"), f("loader.key"))
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: f("server.crt"), KeyFile: f("server.key"), CaFile: f("ca.crt"), Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		TLS: true, TLSVerify: true, TLSConfig: tc, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS not ready")
	}
	defer srv.Shutdown()
	url := srv.ClientURL()

	for _, tc := range []struct {
		name   string
		c      Config
		wantOK bool
	}{
		{"certificate", Config{URL: url, CAFile: f("ca.crt"), CertFile: f("loader.crt"), KeyFile: f("loader.key")}, true},
		{"no client certificate", Config{URL: url, CAFile: f("ca.crt")}, false},
		{"plaintext", Config{URL: url}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			nc, js, err := Connect(ctx, tc.c, "test")
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_, err = js.AccountInfo(ctx)
			if tc.wantOK && err != nil {
				t.Fatalf("with its certificate: %v", err)
			}
			if !tc.wantOK && (err == nil || nc.IsConnected()) {
				t.Fatalf("connected (error %v)", err)
			}
		})
	}
	if _, _, err := Connect(context.Background(), Config{URL: url, CAFile: f("missing.crt")}, "test"); err == nil {
		t.Error("a missing CA file was accepted")
	}
}

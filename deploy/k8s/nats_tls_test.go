package k8s_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/bndmr/hub/deploy/k8s/localtopo"
)

// tryConnect connects once (no retry) and makes a round trip (with js,
// a JetStream request): nil only if the server let the client in and
// answered.
func tryConnect(url, user string, js bool, opts ...nats.Option) error {
	nc, err := nats.Connect(url, append(opts, nats.Timeout(3*time.Second), nats.NoReconnect(), nats.CustomInboxPrefix("_INBOX_"+user))...)
	if err != nil {
		return err
	}
	defer nc.Close()
	if !js {
		return nc.FlushTimeout(3 * time.Second)
	}
	_, err = nc.Request("$JS.API.INFO", nil, 3*time.Second)
	return err
}

// checkRefusals: on url, plaintext, TLS without a client certificate, a
// certificate of another authority and a wrong password are refused; the
// service with its certificate and password gets in.
func checkRefusals(t *testing.T, url string, cr natsCreds, user string) {
	t.Helper()
	other, err := localtopo.TestPKI(t.TempDir(), []string{user}, nil)
	if err != nil {
		t.Fatal(err)
	}
	otherDir := other[localtopo.SecretNATSClientTLS]
	ca := nats.RootCAs(filepath.Join(cr.pki, localtopo.SecretNATSClientTLS, "ca.crt"))
	for _, tc := range []struct {
		name string
		opts []nats.Option
		ok   bool
	}{
		{"plaintext", []nats.Option{nats.UserInfo(user, cr.pw[user])}, false},
		{"TLS without a client certificate", []nats.Option{ca, nats.UserInfo(user, cr.pw[user])}, false},
		{"a certificate of another authority", []nats.Option{ca, nats.UserInfo(user, cr.pw[user]),
			nats.ClientCert(filepath.Join(otherDir, user+".crt"), filepath.Join(otherDir, user+".key"))}, false},
		{"its certificate and a wrong password", append(cr.tlsOptions(user), nats.UserInfo(user, "wrong")), false},
		{"its certificate and its password", append(cr.tlsOptions(user), nats.UserInfo(user, cr.pw[user])), true},
	} {
		err := tryConnect(url, user, false, tc.opts...)
		if tc.ok && err != nil {
			t.Errorf("%s: %s: refused: %v", url, tc.name, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("%s: %s: let in", url, tc.name)
		}
	}
	// A raw plaintext client gets no INFO it could use: the server asks for TLS first.
	_, hostPort, _ := strings.Cut(url, "://")
	c, err := net.DialTimeout("tcp", hostPort, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "CONNECT {\"user\":%q,\"pass\":%q}\r\nPING\r\n", user, cr.pw[user])
	b := make([]byte, 4096)
	n, _ := c.Read(b)
	if !strings.Contains(string(b[:n]), `"tls_required":true`) {
		t.Errorf("%s: INFO to a plaintext client does not require TLS: %q", url, b[:n])
	}
	n, _ = c.Read(b)
	if strings.Contains(string(b[:n]), "PONG") {
		t.Errorf("%s: a plaintext client got a PONG", url)
	}
}

// TestNATSTLS: each overlay's NATS, started from its rendered
// configuration, speaks TLS only on its client port, requires each
// service's certificate besides its password, and (prod) protects its
// routes with TLS and certificates both ways.
func TestNATSTLS(t *testing.T) {
	for _, ov := range []string{"dev", "prod"} {
		t.Run(ov, func(t *testing.T) {
			conf, pw := natsConfig(t, ov)
			opts, err := server.ProcessConfigFile(conf)
			if err != nil {
				t.Fatal(err)
			}
			if opts.TLSConfig == nil || opts.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
				t.Fatalf("client port: TLS %v, client certificates not required", opts.TLSConfig != nil)
			}
			if ov == "prod" {
				if c := opts.Cluster.TLSConfig; c == nil || c.ClientAuth != tls.RequireAndVerifyClientCert {
					t.Error("prod: the cluster routes are not TLS with the peer's certificate required")
				}
				// The routes name pods; the loopback cluster test runs them.
				opts.Cluster, opts.Routes = server.ClusterOpts{}, nil
			}
			s := startLoopbackNATS(t, opts)
			checkRefusals(t, s.ClientURL(), natsCreds{pw: pw, pki: natsPKI(conf)}, "loader")
		})
	}
}

// TestLocalTopologyTLS runs the three NATS servers of the prod overlay on
// loopback exactly as localtopo writes them (the configuration
// up-topology.sh starts), on free ports: the routes form over TLS with the
// servers' certificate, every server refuses plaintext and certificate-less
// clients, and a service connects with the files its environment names.
func TestLocalTopologyTLS(t *testing.T) {
	site := localSite(t)
	site.NATSClientPort, site.NATSClusterPort, site.NATSMonitorPort = freePorts(t, 3), freePorts(t, 3), freePorts(t, 3)
	topo, err := localtopo.Build(objects(t, "prod"), site)
	if err != nil {
		t.Fatal(err)
	}
	if err := topo.Write(site.Dir); err != nil {
		t.Fatal(err)
	}
	var servers []*server.Server
	for _, n := range topo.NATS {
		for k, v := range n.Env {
			t.Setenv(k, v)
		}
		opts, err := server.ProcessConfigFile(n.Conf)
		if err != nil {
			t.Fatal(err)
		}
		opts.NoSigs, opts.NoLog = true, true
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(s.Shutdown)
		servers = append(servers, s)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range servers {
		for s.NumRoutes() < len(servers)-1 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d routes, want %d (TLS routes not formed)", s.Name(), s.NumRoutes(), len(servers)-1)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var loader map[string]string
	for _, inst := range topo.Instances {
		if inst.Service == "loader" {
			loader = inst.Env
		}
	}
	cr := natsCreds{pw: site.NATSPasswords, pki: filepath.Dir(site.Secrets[localtopo.SecretNATSTLS])}
	for _, n := range topo.NATS {
		checkRefusals(t, "nats://"+n.Client, cr, "loader")
	}
	// The loader as its environment says: the URL list, the CA and its
	// certificate, mounted for it.
	for _, k := range []string{"BNDMR_NATS_CA", "BNDMR_NATS_CERT", "BNDMR_NATS_KEY"} {
		if _, err := os.Stat(loader[k]); err != nil {
			t.Fatalf("loader: %s: %v", k, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if err = tryConnect(loader["BNDMR_NATS_URL"], loader["BNDMR_NATS_USER"], true, nats.RootCAs(loader["BNDMR_NATS_CA"]), nats.ClientCert(loader["BNDMR_NATS_CERT"], loader["BNDMR_NATS_KEY"]),
			nats.UserInfo(loader["BNDMR_NATS_USER"], loader["BNDMR_NATS_PASSWORD"])); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond) // JetStream answers once the meta leader is elected
	}
	if err != nil {
		t.Fatalf("the loader with its environment's settings: %v", err)
	}
}

// freePorts finds n consecutive free loopback ports and returns the first.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		first := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		ok := true
		for i := 0; i < n && ok; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", first+i))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return first
		}
	}
	t.Fatal("no free ports")
	return 0
}

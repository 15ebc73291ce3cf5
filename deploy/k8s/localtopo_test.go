package k8s_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bndmr/hub/deploy/k8s/localtopo"
)

func localSite(t *testing.T) localtopo.Site {
	t.Helper()
	dir := t.TempDir()
	secrets := map[string]string{}
	for _, s := range []string{"ingest-mssante-tls", "ack-mssante-tls", "pseudonymisation-key", "bndmr-clickhouse-users"} {
		secrets[s] = filepath.Join(dir, "secrets", s)
		if err := os.MkdirAll(secrets[s], 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"loader", "indicators"} {
		os.WriteFile(filepath.Join(secrets["bndmr-clickhouse-users"], k), nil, 0o600)
	}
	secrets["indicators-oidc"] = filepath.Join(dir, "secrets", "indicators-oidc")
	if err := os.MkdirAll(secrets["indicators-oidc"], 0o700); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"client-secret", "session-secret"} {
		os.WriteFile(filepath.Join(secrets["indicators-oidc"], k), nil, 0o600)
	}
	secrets["bndmr-nats-store-key"] = filepath.Join(dir, "secrets", "bndmr-nats-store-key")
	if err := os.MkdirAll(secrets["bndmr-nats-store-key"], 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(secrets["bndmr-nats-store-key"], "key"), []byte("0123456789abcdef0123456789abcdef"), 0o600)
	pki, err := localtopo.TestPKI(filepath.Join(dir, "tls"), natsUsers, []string{"loader", "indicators"})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range pki {
		secrets[k] = v
	}
	pw := map[string]string{}
	for _, u := range natsUsers {
		pw[u] = "p" + u
	}
	return localtopo.Site{Dir: filepath.Join(dir, "topology"), Kit: filepath.Join(dir, "kit"),
		NATSClientPort: 14231, NATSClusterPort: 16231, NATSMonitorPort: 18231, HTTPPort: 18240, APIPort: 18270,
		IMAPAddr: "127.0.0.1:10993", IMAPUser: "hub@bndmr.test", Inbox: "topology", Processed: "topology-done",
		SMTPAddr: "127.0.0.1:10465", HubAddress: "hub@bndmr.test",
		ClickHouseHosts: []string{"127.0.0.1:19101", "127.0.0.1:19103"}, Database: "bndmr_topo", Cluster: "bndmr_2x2",
		Secrets: secrets, NATSPasswords: pw, Replicas: map[string]int{"ingest": 2}}
}

// TestLocalTopology: the prod overlay on loopback keeps the overlay's
// settings, users and permissions, and rewrites only addresses and paths.
func TestLocalTopology(t *testing.T) {
	site := localSite(t)
	topo, err := localtopo.Build(objects(t, "prod"), site)
	if err != nil {
		t.Fatal(err)
	}
	if err := topo.Write(site.Dir); err != nil {
		t.Fatal(err)
	}
	for _, n := range topo.NATS { // CheckNATS sets them; restored after the test
		for k, v := range n.Env {
			t.Setenv(k, v)
		}
	}
	if err := topo.CheckNATS(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if len(topo.NATS) != 3 {
		t.Errorf("%d NATS servers, want the StatefulSet's 3", len(topo.NATS))
	}
	count := map[string]int{}
	for _, inst := range topo.Instances {
		count[inst.Service]++
		env := inst.Env
		for k, want := range map[string]string{
			"BNDMR_NATS_USER":           inst.Service,
			"BNDMR_NATS_PASSWORD":       site.NATSPasswords[inst.Service],
			"BNDMR_NATS_REPLICAS":       "3",
			"BNDMR_NATS_ENSURE_STREAMS": "false",
			"BNDMR_NATS_URL":            "tls://127.0.0.1:14231,tls://127.0.0.1:14232,tls://127.0.0.1:14233",
			"BNDMR_NATS_CA":             filepath.Join(site.Dir, "instances", inst.Name, "volumes", "nats-client-tls", "ca.crt"),
			"BNDMR_NATS_CERT":           filepath.Join(site.Dir, "instances", inst.Name, "volumes", "nats-client-tls", "tls.crt"),
			"BNDMR_HTTP_ADDR":           inst.HTTPAddr,
		} {
			if env[k] != want {
				t.Errorf("%s: %s=%q, want %q", inst.Name, k, env[k], want)
			}
		}
		for k, v := range env {
			if strings.HasPrefix(v, "/") && !strings.HasPrefix(v, site.Dir) && !strings.HasPrefix(v, filepath.Dir(site.Dir)) {
				t.Errorf("%s: %s=%q is a path of the pod", inst.Name, k, v)
			}
		}
	}
	for svc, want := range map[string]int{"ingest": 2, "validator": 2, "pseudonymisation": 2, "loader": 2, "ack": 2, "indicators": 2} {
		if count[svc] != want {
			t.Errorf("%d %s processes, want %d", count[svc], svc, want)
		}
	}
	loader := topo.Instances[0].Env
	for _, inst := range topo.Instances {
		if inst.Service == "loader" {
			loader = inst.Env
		}
	}
	if loader["BNDMR_CLICKHOUSE"] != "clickhouse://127.0.0.1:19101,127.0.0.1:19103/bndmr_topo" || loader["BNDMR_CLICKHOUSE_CLUSTER"] != "bndmr_2x2" {
		t.Errorf("loader: DSN %q, cluster %q", loader["BNDMR_CLICKHOUSE"], loader["BNDMR_CLICKHOUSE_CLUSTER"])
	}
	if topo.Provisioner.Env["BNDMR_NATS_USER"] != "provisioner" || strings.Join(topo.ProvisionerArgs, " ") != "streams" {
		t.Errorf("Job nats-streams: user %q, args %v", topo.Provisioner.Env["BNDMR_NATS_USER"], topo.ProvisionerArgs)
	}
	b, err := os.ReadFile(filepath.Join(site.Dir, "instances", "ingest-1", "volumes", "mailboxes", "mailboxes.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Addr": "127.0.0.1:10993"`, `"Auth": "external"`, `"TLS": "implicit"`, `"Inbox": "topology"`,
		`"CertFile": "` + filepath.Join(site.Secrets["ingest-mssante-tls"], "tls.crt") + `"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("mailboxes.json lacks %s:\n%s", want, b)
		}
	}
}

func TestRewriteNATSConfRefusesWhatItCannotPlace(t *testing.T) {
	route := func(h string) (string, error) { return "127.0.0.1:1", nil }
	r := localtopo.NATSRewrite{Client: "c", Cluster: "k", Monitor: "m", Store: "s", Route: route}
	for _, tc := range []struct{ name, conf string }{
		{"no listen", "http: 0.0.0.0:8222\njetstream {\n  store_dir: /data\n}\n"},
		{"no store", "listen: 0.0.0.0:4222\nhttp: 0.0.0.0:8222\n"},
		{"routes without cluster listen", "listen: x\nhttp: y\njetstream {\n store_dir: z\n}\ncluster {\n  routes: [\n    nats://a:6222\n  ]\n}\n"},
	} {
		if _, err := localtopo.RewriteNATSConf(tc.conf, r); err == nil {
			t.Errorf("%s: rewritten without error", tc.name)
		}
	}
}

// Command localtopo writes, from the rendered production overlay, what
// scripts/up-topology.sh starts on one machine: three NATS servers with the
// overlay's users and permissions, and one environment per replica of every
// service, with addresses, ports and mounted paths rewritten for loopback.
//
//	cd deploy/k8s && GOWORK=off go run ./cmd/localtopo -dir ../../.run/topology \
//	    -secret ingest-mssante-tls=DIR -secret ack-mssante-tls=DIR -secret pseudonymisation-key=DIR
//
// The NATS test passwords are made once into DIR/nats-passwords.env and
// reused. The servers' configurations are checked with nats-server's own
// parser against the rendered one before anything is written... and after:
// see CheckNATS.
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bndmr/hub/deploy/k8s/localtopo"
	"github.com/bndmr/hub/deploy/k8s/render"
)

// natsUsers are the keys of the Secret bndmr-nats-users (docs/operations.md).
var natsUsers = []string{"provisioner", "ingest", "validator", "pseudonymisation", "loader", "ack", "indicators", "operator", "erasure", "backup"}

// clickhouseUsers are the clients of ClickHouse with a certificate of
// Secret bndmr-clickhouse-client-tls.
var clickhouseUsers = []string{"loader", "indicators"}

type listFlag map[string]string

func (l listFlag) String() string { return fmt.Sprint(map[string]string(l)) }
func (l listFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	l[k] = v
	return nil
}

func main() {
	site := localtopo.Site{Secrets: map[string]string{}}
	secrets, replicas := listFlag(site.Secrets), listFlag{}
	root := flag.String("root", ".", "the deploy/k8s directory")
	overlay := flag.String("overlay", "overlays/prod", "overlay to run, relative to -root")
	flag.StringVar(&site.Dir, "dir", "", "state folder (required)")
	flag.StringVar(&site.Kit, "kit", os.Getenv("CISIS_KIT"), "CI-SIS kit folder")
	flag.IntVar(&site.NATSClientPort, "nats-port", 14231, "client port of the first NATS server (then +1, +2)")
	flag.IntVar(&site.NATSClusterPort, "nats-cluster-port", 16231, "route port of the first NATS server")
	flag.IntVar(&site.NATSMonitorPort, "nats-monitor-port", 18231, "monitoring port of the first NATS server")
	flag.IntVar(&site.HTTPPort, "http-port", 18240, "operations port (/metrics) of the first process, then one each")
	flag.IntVar(&site.APIPort, "api-port", 18270, "indicators API port of the first indicators replica")
	flag.StringVar(&site.IMAPAddr, "imap", "127.0.0.1:10993", "IMAPS address of the mailbox server")
	flag.StringVar(&site.IMAPUser, "imap-user", "hub@bndmr.test", "the mailbox (its client certificate's name)")
	flag.StringVar(&site.Inbox, "inbox", "topology", "folder the hospital mails arrive in")
	flag.StringVar(&site.Processed, "processed", "topology-done", "folder ingest moves them to")
	flag.StringVar(&site.SMTPAddr, "smtp", "127.0.0.1:10465", "implicit-TLS SMTP submission address")
	flag.StringVar(&site.SMTPAuth, "smtp-auth", "", "BNDMR_SMTP_AUTH instead of the overlay's (Postfix offers no SASL EXTERNAL: the client certificate alone)")
	flag.StringVar(&site.HubAddress, "hub-address", "hub@bndmr.test", "the hub's applicative mailbox (From of the MDNs)")
	chHosts := flag.String("clickhouse", "127.0.0.1:19101,127.0.0.1:19102,127.0.0.1:19103,127.0.0.1:19104", "ClickHouse native addresses")
	flag.StringVar(&site.Database, "database", "bndmr_topo", "ClickHouse database")
	flag.StringVar(&site.Cluster, "cluster", "bndmr_2x2", "ClickHouse cluster name (<remote_servers>)")
	flag.StringVar(&site.ShardMacro, "shard-macro", "{shard2x2}", "macro naming a server's shard in the ZooKeeper paths of that cluster's tables (scripts/up-cluster.sh: {shard2x2} for the bndmr_2x2 layouts); given to the services that have the cluster setting")
	flag.BoolVar(&site.ClickHouseTLS, "clickhouse-tls", false, "the -clickhouse addresses are secure native ports: keep the overlay's ClickHouse TLS (else the services reach them in clear)")
	flag.Var(secrets, "secret", "`NAME=DIR`: the local folder standing for Secret NAME (repeat)")
	flag.Var(replicas, "replicas", "`NAME=N`: replicas of Deployment NAME instead of the overlay's (repeat)")
	flag.Parse()
	site.ClickHouseHosts = strings.Split(*chHosts, ",")
	site.Replicas = map[string]int{}
	for k, v := range replicas {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			fail(fmt.Errorf("-replicas %s=%s: not a positive count", k, v))
		}
		site.Replicas[k] = n
	}
	if err := run(*root, *overlay, site); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "localtopo:", err)
	os.Exit(1)
}

func run(root, overlay string, site localtopo.Site) error {
	if site.Dir == "" || site.Kit == "" {
		return fmt.Errorf("-dir and -kit are required")
	}
	dir, err := filepath.Abs(site.Dir)
	if err != nil {
		return err
	}
	site.Dir = dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if site.NATSPasswords, err = passwords(filepath.Join(dir, "nats-passwords.env")); err != nil {
		return err
	}
	if err := testPKI(filepath.Join(dir, "tls"), site.Secrets); err != nil {
		return err
	}
	y, err := render.YAML(filepath.Join(root, overlay))
	if err != nil {
		return err
	}
	objs, err := render.Decode(y)
	if err != nil {
		return err
	}
	t, err := localtopo.Build(objs, site)
	if err != nil {
		return err
	}
	if err := t.Write(dir); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp("", "localtopo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	if err := t.CheckNATS(scratch); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "localtopo: %d NATS servers and %d service processes from %s in %s\n", len(t.NATS), len(t.Instances), overlay, dir)
	if !site.ClickHouseTLS {
		fmt.Fprintln(os.Stderr, "localtopo: the loopback ClickHouse servers are plaintext: the services reach them without the overlay's TLS (-clickhouse-tls to keep it)")
	}
	return nil
}

// testPKI gives the TLS Secrets the -secret flags did not: a test authority
// and its certificates, made once into dir and reused (the running servers
// and services keep trusting the same authority).
func testPKI(dir string, secrets map[string]string) error {
	names := []string{localtopo.SecretNATSTLS, localtopo.SecretNATSClientTLS, localtopo.SecretClickHouseTLS, localtopo.SecretClickHouseClientTLS}
	if _, err := os.Stat(filepath.Join(dir, localtopo.SecretNATSTLS, "ca.crt")); err != nil {
		if _, err := localtopo.TestPKI(dir, natsUsers, clickhouseUsers); err != nil {
			return fmt.Errorf("making the test certificates: %w", err)
		}
	}
	for _, n := range names {
		if _, ok := secrets[n]; !ok {
			secrets[n] = filepath.Join(dir, n)
		}
	}
	return nil
}

// passwords reads the test passwords of the NATS users, making the missing
// ones (letters and digits, as docs/operations.md asks).
func passwords(file string) (map[string]string, error) {
	pw := map[string]string{}
	if f, err := os.Open(file); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				pw[k] = v
			}
		}
		f.Close()
	}
	var b strings.Builder
	for _, u := range natsUsers {
		if pw[u] == "" {
			r := make([]byte, 24)
			rand.Read(r)
			pw[u] = "p" + hex.EncodeToString(r)
		}
		fmt.Fprintf(&b, "%s=%s\n", u, pw[u])
	}
	return pw, os.WriteFile(file, []byte(b.String()), 0o600)
}

package k8s_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/deploy/k8s/localtopo"
	"github.com/bndmr/hub/pkg/topology"
)

// TestNATSStreamsJobReplicatesThree runs the Job nats-streams of the
// rendered prod overlay, with its environment (bndmr-common and its own
// env, through localtopo), the real bndmrctl binary and the provisioner's
// certificate, against the prod NATS StatefulSet's three servers started
// from their rendered configuration; every stream, the object store and
// the three key-value buckets must come out with 3 replicas.
func TestNATSStreamsJobReplicatesThree(t *testing.T) {
	if testing.Short() {
		t.Skip("builds bndmrctl and starts a NATS cluster of three")
	}
	site := localSite(t)
	// Ports of their own: the loopback topology (make up-topology) may run.
	site.NATSClientPort, site.NATSClusterPort, site.NATSMonitorPort = 24231, 26231, 28231
	topo, err := localtopo.Build(objects(t, "prod"), site)
	if err != nil {
		t.Fatal(err)
	}
	if err := topo.Write(site.Dir); err != nil {
		t.Fatal(err)
	}
	if len(topo.NATS) != 3 {
		t.Fatalf("%d NATS servers rendered, want 3", len(topo.NATS))
	}
	for _, n := range topo.NATS {
		for k, v := range n.Env { // read while the configuration is parsed
			t.Setenv(k, v)
		}
		opts, err := server.ProcessConfigFile(n.Conf)
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		opts.NoSigs, opts.NoLog = true, true
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		go s.Start()
		t.Cleanup(s.Shutdown)
		if !s.ReadyForConnections(20 * time.Second) {
			t.Fatalf("%s: not ready", n.Name)
		}
	}

	bin := filepath.Join(t.TempDir(), "bndmrctl")
	build := exec.Command("go", "build", "-o", bin, "./services/bndmrctl")
	build.Dir = "../.."
	build.Env = append(os.Environ(), "GOWORK=") // the repository's go.work, not this module's GOWORK=off
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build bndmrctl: %v\n%s", err, b)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range topo.Provisioner.Env {
		env = append(env, k+"="+v)
	}
	if topo.Provisioner.Env["BNDMR_NATS_REPLICAS"] != "3" {
		t.Errorf("the Job gets BNDMR_NATS_REPLICAS=%q, want 3", topo.Provisioner.Env["BNDMR_NATS_REPLICAS"])
	}
	job := exec.Command(bin, topo.ProvisionerArgs...)
	job.Env = env
	// The cluster elects its meta leader first: the Job is retried by
	// Kubernetes (backoffLimit), here until it succeeds or 60 s pass.
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := job.CombinedOutput()
		if err == nil {
			t.Logf("bndmrctl %s:\n%s", strings.Join(topo.ProvisionerArgs, " "), out)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Job nats-streams failed: %v\n%s", err, out)
		}
		time.Sleep(2 * time.Second)
		job = exec.Command(bin, topo.ProvisionerArgs...)
		job.Env = env
	}

	d := filepath.Join(site.Secrets[localtopo.SecretNATSClientTLS])
	nc, err := nats.Connect(topo.NATSURL, nats.UserInfo("provisioner", site.NATSPasswords["provisioner"]),
		nats.RootCAs(filepath.Join(d, "ca.crt")), nats.ClientCert(filepath.Join(d, "provisioner.crt"), filepath.Join(d, "provisioner.key")),
		nats.CustomInboxPrefix("_INBOX_provisioner"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"OBJ_" + topology.ObjectStore, "KV_" + topology.BucketMDNSent, "KV_" + topology.BucketIngested, "KV_" + topology.BucketLeases}
	for _, s := range topology.Streams {
		want = append(want, s.Name)
	}
	sort.Strings(want)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []string
	names := js.StreamNames(ctx)
	for n := range names.Name() {
		got = append(got, n)
	}
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("streams %v, want %v", got, want)
	}
	for _, name := range want {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		peers := 0
		if info.Cluster != nil {
			peers = 1 + len(info.Cluster.Replicas)
		}
		if info.Config.Replicas != 3 || peers != 3 {
			t.Errorf("%s: %d replicas configured, %d servers hold it; want 3 and 3", name, info.Config.Replicas, peers)
		}
	}
}

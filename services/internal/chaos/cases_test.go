package chaos

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/mailbox"
)

func newCase(t *testing.T, name string) (*site, *caseRun) {
	s := loadSite(t)
	baseline(t, s)
	return s, &caseRun{t: t, s: s, name: name}
}

// --- a. ClickHouse ---

// chServer is server n (1–4) of scripts/up-cluster.sh.
func (s *site) chServer(n int) *proc {
	d := filepath.Join(s.root, ".run", "cluster", fmt.Sprintf("ch%d", n))
	return &proc{name: fmt.Sprintf("clickhouse-%d", n), pidFile: filepath.Join(d, "clickhouse.pid")}
}

// upCluster starts the servers again (arg: "all" or a number) with
// scripts/up-cluster.sh, which waits 60 s for each. It returns what had to
// be done besides: a server SIGKILLed right after an insert may refuse to
// start because "the local set of parts doesn't look like the set of parts
// in ZooKeeper" (a tiny table: one unexpected part of one is above
// replicated_max_ratio_of_wrong_parts); the operator's answer, done here,
// is the flag flags/force_restore_data, which makes the server put the
// unexpected parts aside (detached/) and fetch the rest from its replica.
func (s *site) upCluster(t testing.TB, arg string) string {
	t.Helper()
	var out []byte
	var err error
	var did []string
	for i := 0; i < 5; i++ {
		if out, err = exec.Command(filepath.Join(s.root, "scripts", "up-cluster.sh"), arg).CombinedOutput(); err == nil {
			return strings.Join(did, "; ")
		}
		t.Logf("up-cluster.sh %s (attempt %d): %v: %s", arg, i+1, err, strings.TrimSpace(string(out)))
		for n := 1; n <= 4; n++ {
			d := filepath.Join(s.root, ".run", "cluster", fmt.Sprintf("ch%d", n))
			b, _ := os.ReadFile(filepath.Join(d, "log", "error.log"))
			tail := string(b[max(0, len(b)-20000):])
			if strings.Contains(tail, "look like the set of parts in ZooKeeper") && !s.chServer(n).alive() {
				flag := filepath.Join(d, "data", "flags", "force_restore_data")
				if _, err := os.Stat(flag); err == nil {
					continue
				}
				os.MkdirAll(filepath.Dir(flag), 0o755)
				if err := os.WriteFile(flag, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				did = append(did, fmt.Sprintf("server %d refused to start (local parts unlike ZooKeeper's): force_restore_data set", n))
			}
		}
	}
	t.Fatalf("up-cluster.sh %s: %v\n%s", arg, err, out)
	return ""
}

func TestChaosA1ClickHouseAway(t *testing.T) {
	s, r := newCase(t, "a1_clickhouse_away")
	t.Cleanup(func() { s.upCluster(t, "all") })
	r.run(func(r *caseRun) string {
		r.waitPublished(0.3)
		start := time.Now()
		for n := 1; n <= 4; n++ {
			s.chServer(n).stop(t, syscall.SIGKILL)
		}
		r.note("4 servers SIGKILLed with %d of %d mails published", r.published(), len(r.set.ids))
		time.Sleep(s.cfg.outage)
		restart := time.Now()
		if did := s.upCluster(t, "all"); did != "" {
			r.note("%s", did)
		}
		r.faultFor, r.faultEnd = time.Since(start), time.Now()
		r.note("the 4 servers answered %s after their restart began", time.Since(restart).Round(100*time.Millisecond))
		return fmt.Sprintf("all 4 ClickHouse servers SIGKILLed mid-load, away %s", s.cfg.outage)
	})
}

func TestChaosA2ClickHouseReplica(t *testing.T) {
	s, r := newCase(t, "a2_clickhouse_replica")
	t.Cleanup(func() { s.upCluster(t, "2") })
	r.run(func(r *caseRun) string {
		r.waitPublished(0.3)
		start := time.Now()
		s.chServer(2).stop(t, syscall.SIGKILL)
		time.Sleep(s.cfg.replicaOut)
		if did := s.upCluster(t, "2"); did != "" {
			r.note("%s", did)
		}
		r.faultFor, r.faultEnd = time.Since(start), time.Now()
		return fmt.Sprintf("ClickHouse server 2 (replica 2 of shard 1) SIGKILLed mid-load, away %s", s.cfg.replicaOut)
	})
}

// --- b. NATS ---

// streamLeader is the server leading most of the hub's streams.
func (s *site) streamLeader(t testing.TB) string {
	t.Helper()
	count := map[string]int{}
	best := ""
	for _, name := range []string{bus.StreamMail, bus.StreamOutcome, bus.StreamIdentified, bus.StreamRecord, bus.StreamQuarantine} {
		st, err := s.js.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(t.Context())
		if err != nil || info.Cluster == nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		count[info.Cluster.Leader]++
		if count[info.Cluster.Leader] > count[best] {
			best = info.Cluster.Leader
		}
	}
	return best
}

func (s *site) natsHealthy(t testing.TB, p *proc, within time.Duration) {
	t.Helper()
	env := mustEnv(t, p.envFile)
	_ = env
	// The monitor port is in the processes file; nats-N ↔ 1823(N+1).
	i, _ := strconv.Atoi(strings.TrimPrefix(p.name, "nats-"))
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz?js-enabled-only=true", 18231+i)
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy after %s", p.name, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestChaosB1NATSLeaderKilled(t *testing.T) {
	s, r := newCase(t, "b1_nats_leader")
	r.run(func(r *caseRun) string {
		r.waitPublished(0.3)
		leader := s.streamLeader(t)
		p := s.procs.named(leader)
		if p == nil {
			t.Fatalf("leader %q is no server of the topology", leader)
		}
		published := r.published()
		start := time.Now()
		p.stop(t, syscall.SIGKILL)
		r.note("%s (leading most streams) SIGKILLed with %d mails published", leader, published)
		time.Sleep(s.cfg.natsDown)
		p.start(t, nil)
		s.natsHealthy(t, p, 2*time.Minute)
		r.faultFor, r.faultEnd = time.Since(start), time.Now()
		return fmt.Sprintf("NATS stream leader SIGKILLed mid-load, restarted after %s", s.cfg.natsDown)
	})
}

func TestChaosB2NATSClusterRestart(t *testing.T) {
	s, r := newCase(t, "b2_nats_cluster")
	r.run(func(r *caseRun) string {
		r.waitPublished(0.3)
		published := r.published()
		start := time.Now()
		done := make(chan struct{})
		for _, p := range s.procs.nats {
			go func() { p.stop(t, syscall.SIGTERM); done <- struct{}{} }()
		}
		for range s.procs.nats {
			<-done
		}
		r.note("3 NATS servers stopped (SIGTERM) with %d mails published", published)
		time.Sleep(s.cfg.natsDown)
		for _, p := range s.procs.nats {
			p.start(t, nil)
		}
		for _, p := range s.procs.nats {
			s.natsHealthy(t, p, 3*time.Minute)
		}
		r.faultFor, r.faultEnd = time.Since(start), time.Now()
		return fmt.Sprintf("the whole NATS cluster stopped mid-load, restarted after %s", s.cfg.natsDown)
	})
}

// --- c. Dovecot ---

// ingestThrough restarts every ingest replica with its mailbox reached
// through addr (a fault proxy), and restores them at the end of the test.
func (s *site) ingestThrough(t *testing.T, addr string, poll string) {
	t.Helper()
	dir := filepath.Join(s.dir, "chaos")
	os.MkdirAll(dir, 0o755)
	mc := s.mailbox
	if addr != "" {
		mc.Addr = addr
	}
	b, _ := json.Marshal([]any{mailboxJSON(mc, poll)})
	file := filepath.Join(dir, "mailboxes-"+t.Name()+".json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range s.procs.of("ingest") {
		p.restart(t, map[string]string{"BNDMR_MAILBOXES_FILE": file})
	}
	t.Cleanup(func() {
		for _, p := range s.procs.of("ingest") {
			p.restart(t, nil)
		}
	})
}

// mailboxJSON is the mailbox as mailboxes.json writes it (durations as text).
func mailboxJSON(mc mailbox.Config, poll string) map[string]any {
	b, _ := json.Marshal(mc)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	raw, _ := os.ReadFile(os.Getenv("BNDMR_CHAOS") + "/instances/ingest-0/volumes/mailboxes/mailboxes.json")
	var orig []map[string]any
	_ = json.Unmarshal(raw, &orig)
	if len(orig) == 1 {
		orig[0]["Addr"] = mc.Addr
		if poll != "" {
			orig[0]["PollInterval"] = poll
		}
		return orig[0]
	}
	return m
}

func TestChaosCDovecotRestartMidFetch(t *testing.T) {
	s, r := newCase(t, "c_dovecot_restart")
	px := newProxy(t, s.mailbox.Addr, nil)
	s.ingestThrough(t, px.addr, "")
	r.run(func(r *caseRun) string {
		r.waitPublished(0.3)
		px.armCut.Store(true)
		var cut time.Time
		select {
		case cut = <-px.cutAt:
		case <-time.After(3 * time.Minute):
			t.Fatal("no FETCH in flight within 3 minutes")
		}
		px.setMode(t, modeAway)
		r.note("connections cut while a literal was in flight (%d mails published); IMAPS refused for %s", r.published(), s.cfg.imapDown)
		time.Sleep(s.cfg.imapDown)
		px.setMode(t, modePass)
		r.faultFor, r.faultEnd = time.Since(cut), time.Now()
		return fmt.Sprintf("IMAPS connections cut mid-FETCH, then refused %s (proxy)", s.cfg.imapDown)
	})
}

// --- d. the SMTP relay ---

func TestChaosDSMTPRelayAway(t *testing.T) {
	s, r := newCase(t, "d_smtp_relay")
	ack := mustEnv(t, s.procs.of("ack")[0].envFile)
	tlsDir := filepath.Join(s.root, ".run", "postfix", "tls")
	cert, err := tls.LoadX509KeyPair(filepath.Join(tlsDir, "server.crt"), filepath.Join(tlsDir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	px := newProxy(t, ack["BNDMR_SMTP_ADDR"], &tls.Config{Certificates: []tls.Certificate{cert}})
	for _, p := range s.procs.of("ack") {
		p.restart(t, map[string]string{"BNDMR_SMTP_ADDR": px.addr})
	}
	t.Cleanup(func() {
		for _, p := range s.procs.of("ack") {
			p.restart(t, nil)
		}
	})
	r.run(func(r *caseRun) string {
		r.waitPublished(0.3)
		start := time.Now()
		px.setMode(t, modeAway)
		r.note("relay away (connection refused) with %d mails published", r.published())
		time.Sleep(s.cfg.outage)
		px.setMode(t, modeSMTP4xx)
		time.Sleep(s.cfg.smtp4xx)
		px.setMode(t, modePass)
		r.note("%d MAIL FROM answered 451", px.answered4xx.Load())
		r.faultFor, r.faultEnd = time.Since(start), time.Now()
		return fmt.Sprintf("SMTP relay away %s, then answering 451 for %s (proxy)", s.cfg.outage, s.cfg.smtp4xx)
	})
}

// --- e. SIGKILLs ---

func TestChaosEKillServices(t *testing.T) {
	s, r := newCase(t, "e_sigkill")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	r.run(func(r *caseRun) string {
		start := time.Now()
		services := []string{"ingest", "validator", "pseudonymisation", "loader", "ack", "indicators"}
		kills := map[string]int{}
		for round := 0; round < s.cfg.kills; round++ {
			rng.Shuffle(len(services), func(i, j int) { services[i], services[j] = services[j], services[i] })
			for _, svc := range services {
				reps := s.procs.of(svc)
				p := reps[rng.IntN(len(reps))]
				time.Sleep(time.Duration(float64(s.cfg.killEvery) * (0.5 + rng.Float64())))
				p.stop(t, syscall.SIGKILL)
				kills[p.name]++
				// Restarted as Kubernetes would, after a moment.
				time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
				var ov map[string]string
				if svc == "loader" {
					ov = r.loaderOverride
				}
				p.start(t, ov)
			}
		}
		r.faultFor, r.faultEnd = time.Since(start), time.Now()
		r.note("seed %d; kills %v", seed, kills)
		return fmt.Sprintf("%d SIGKILLs of every service at random moments (one every ~%s), each restarted 0.5–2 s later", s.cfg.kills, s.cfg.killEvery)
	})
}

// --- f. ingest replicas racing ---

func TestChaosFIngestRace(t *testing.T) {
	s, r := newCase(t, "f_ingest_race")
	// Four replicas on one mailbox, polling every second, all started
	// together: the two of the topology and two more.
	s.ingestThrough(t, "", "1s")
	ing := s.procs.of("ingest")
	var extra []*proc
	for i := 0; i < 2; i++ {
		d := filepath.Join(s.dir, "chaos", fmt.Sprintf("ingest-x%d", i))
		os.MkdirAll(d, 0o755)
		extra = append(extra, &proc{name: fmt.Sprintf("ingest-x%d", i), bin: ing[0].bin, envFile: ing[0].envFile,
			log: filepath.Join(d, "log"), pidFile: filepath.Join(d, "pid"), http: fmt.Sprintf("127.0.0.1:%d", 18290+i)})
	}
	t.Cleanup(func() {
		for _, p := range extra {
			p.stop(t, syscall.SIGTERM)
		}
	})
	r.run(func(r *caseRun) string {
		file := ing[0].env["BNDMR_MAILBOXES_FILE"]
		for _, p := range extra {
			p.start(t, map[string]string{"BNDMR_MAILBOXES_FILE": file, "BNDMR_HTTP_ADDR": p.http})
		}
		for _, p := range extra {
			p.ready(t, 2*time.Minute)
		}
		r.faultEnd = time.Now()
		return "4 ingest replicas on one mailbox (poll 1 s), racing from the first mail"
	})
	var per []string
	dups := 0.0
	for _, p := range append(append([]*proc{}, ing...), extra...) {
		n, _ := p.metric("bndmr_ingest_mails_total")
		d, _ := p.metric("bndmr_ingest_duplicates_total")
		dups += d
		per = append(per, fmt.Sprintf("%s %v", p.name, n))
	}
	t.Logf("f_ingest_race: mails handed per replica: %s; content duplicates seen: %v", strings.Join(per, ", "), dups)
}

// --- g. a JetStream store that fills up ---

func TestChaosGStoreFull(t *testing.T) {
	s := loadSite(t)
	baseline(t, s)
	r := &caseRun{t: t, s: s, name: "g_store_full"}
	dir := filepath.Join(s.dir, "chaos", "nats-g")
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o755)
	// Room for about a third of the set's mails: the rest must wait.
	set := buildMails(t, r.tag(), s.cfg.mails, s.cfg.seed)
	total := 0
	for _, m := range set.mails {
		total += len(m)
	}
	small := envInt("BNDMR_CHAOS_STORE_BYTES", total/3)
	auth, err := os.ReadFile(filepath.Join(filepath.Dir(s.procs.nats[0].args[1]), "auth.conf"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "auth.conf"), auth, 0o600)
	conf := func(maxFile int) {
		c := fmt.Sprintf("server_name: chaos-g\nlisten: 127.0.0.1:14239\nhttp: 127.0.0.1:18239\nmax_payload: 8MB\n"+
			"jetstream {\n  store_dir: %s\n  max_memory_store: 64MB\n  max_file_store: %d\n}\ninclude auth.conf\n", filepath.Join(dir, "js"), maxFile)
		if err := os.WriteFile(filepath.Join(dir, "nats.conf"), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	conf(small)
	// The users' passwords come from the environment of a topology server
	// (NATS_PASSWORD_<USER>, read by auth.conf).
	nats := &proc{name: "nats-g", bin: s.procs.nats[0].bin, args: []string{"--config", filepath.Join(dir, "nats.conf")},
		envFile: s.procs.nats[0].envFile, log: filepath.Join(dir, "nats.log"), pidFile: filepath.Join(dir, "nats.pid")}
	nats.start(t, nil)
	t.Cleanup(func() { nats.stop(t, syscall.SIGTERM) })
	url := "nats://127.0.0.1:14239"
	// Its own server speaks plain NATS on loopback: the topology's client
	// certificates are left out (a TLS client of a plain server hangs).
	common := map[string]string{"BNDMR_NATS_URL": url, "BNDMR_NATS_REPLICAS": "1",
		"BNDMR_NATS_CA": "", "BNDMR_NATS_CERT": "", "BNDMR_NATS_KEY": ""}

	// The streams, as the Job creates them, with one replica.
	job := &proc{name: "streams-g", bin: filepath.Join(s.root, "bin", "bndmrctl"), args: []string{"streams"},
		envFile: filepath.Join(s.dir, "instances", "nats-streams", "env"), log: filepath.Join(dir, "streams.log"), pidFile: filepath.Join(dir, "streams.pid")}
	for i := 0; ; i++ {
		job.start(t, common)
		<-job.done
		if jsz, err := http.Get("http://127.0.0.1:18239/jsz"); err == nil {
			jsz.Body.Close()
		}
		if n, err := streamsOn(url, s.passwords["provisioner"]); err == nil && n >= 5 {
			break
		}
		if i == 20 {
			b, _ := os.ReadFile(job.log)
			t.Fatalf("streams on the small NATS not created:\n%s", b)
		}
		time.Sleep(time.Second)
	}
	nc, gjs, err := bus.Connect(t.Context(), bus.Config{URL: url, User: "provisioner", Password: s.passwords["provisioner"]}, "chaos-g")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	oc, gop, err := bus.Connect(t.Context(), bus.Config{URL: url, User: "operator", Password: s.passwords["operator"]}, "chaos-g-op")
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()

	// The topology's ingest replicas leave the mailbox to this pipeline:
	// one of each service on the small NATS.
	for _, p := range s.procs.of("ingest") {
		p.stop(t, syscall.SIGTERM)
	}
	t.Cleanup(func() {
		for _, p := range s.procs.of("ingest") {
			p.start(t, nil)
		}
	})
	r.prepareDB()
	var g []*proc
	for i, svc := range []string{"ingest", "validator", "pseudonymisation", "loader", "ack"} {
		src := s.procs.of(svc)[0]
		d := filepath.Join(dir, svc)
		os.MkdirAll(d, 0o755)
		p := &proc{name: svc + "-g", bin: src.bin, envFile: src.envFile, log: filepath.Join(d, "log"), pidFile: filepath.Join(d, "pid"),
			http: fmt.Sprintf("127.0.0.1:%d", 18280+i)}
		ov := map[string]string{"BNDMR_HTTP_ADDR": p.http}
		for k, v := range common {
			ov[k] = v
		}
		if svc == "loader" {
			ov["BNDMR_CLICKHOUSE"] = s.dsnFor(r.db)
		}
		p.start(t, ov)
		g = append(g, p)
	}
	t.Cleanup(func() {
		for _, p := range g {
			p.stop(t, syscall.SIGTERM)
		}
	})
	for _, p := range g {
		p.ready(t, 2*time.Minute)
	}
	r.js, r.opJS = gjs, gop
	r.busy = func(ctx context.Context) string { return busy(ctx, s.mailbox, gjs) }
	r.note("single NATS server, max_file_store %d bytes for %d bytes of mails", small, total)
	r.run(func(r *caseRun) string {
		// Full: ingest stops taking mails; they stay in the mailbox.
		var stuck uint32
		var since time.Time
		deadline := time.Now().Add(5 * time.Minute)
		for {
			n, err := mailbox.Waiting(t.Context(), s.mailbox)
			if err == nil && n > 0 && n == stuck && !since.IsZero() && time.Since(since) > 20*time.Second {
				break
			}
			if err == nil && n != stuck {
				stuck, since = n, time.Now()
			}
			if time.Now().After(deadline) {
				t.Fatalf("the mailbox never stopped draining (%d left): is max_file_store small enough?", n)
			}
			time.Sleep(time.Second)
		}
		full := time.Now()
		r.note("store full: %d mails published, %d waiting in the mailbox", r.published(), stuck)
		time.Sleep(s.cfg.storeFull)
		if n, _ := mailbox.Waiting(t.Context(), s.mailbox); n != stuck {
			t.Errorf("while the store was full the mailbox went from %d to %d mails", stuck, n)
		}
		// Space returns: the operator raises the limit (a reload, else a restart).
		conf(1 << 30)
		how := "reload (SIGHUP)"
		syscall.Kill(nats.current(), syscall.SIGHUP)
		time.Sleep(3 * time.Second)
		if !jsMaxStorage(t, 1<<30) {
			how = "restart"
			nats.restart(t, nil)
		}
		r.faultFor, r.faultEnd = time.Since(full), time.Now()
		r.note("space returned by %s", how)
		return fmt.Sprintf("JetStream store full (max_file_store %d B, single node), %s held, then raised", small, s.cfg.storeFull)
	})
}

func jsMaxStorage(t testing.TB, want int64) bool {
	resp, err := http.Get("http://127.0.0.1:18239/jsz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var v struct {
		Config struct {
			MaxStorage int64 `json:"max_storage"`
		} `json:"config"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return false
	}
	return v.Config.MaxStorage == want
}

func streamsOn(url, password string) (int, error) {
	nc, js, err := bus.Connect(context.Background(), bus.Config{URL: url, User: "provisioner", Password: password}, "chaos-g-check")
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n := 0
	names := js.StreamNames(ctx)
	for range names.Name() {
		n++
	}
	return n, names.Err()
}

var _ jetstream.JetStream

// Package chaos is the fault suite of issue 11 (point 4): the production
// topology of scripts/up-topology.sh on loopback, the same set of mails in
// every case, one fault per case, and the same assertions at the end of
// each: the ClickHouse keys equal those of the fault-free run, one MDN per
// mail, the quarantine holds what the fault-free run put there, nothing is
// pending, and the recovery time (fault end → drained) is recorded.
//
// It runs only with BNDMR_CHAOS set to the topology's state folder
// (`make chaos` brings the topology up and sets it). Durations come from the
// environment (see config) so that a quick version can run; docs/
// reliability.md gives the results of an actual run.
package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/bus/bustest"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/mailbox"
	"github.com/bndmr/hub/pkg/mailbox/mailboxtest"
	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/store/storetest"
	"github.com/bndmr/hub/pkg/testsupport"
	"github.com/bndmr/hub/pkg/tlsclient"
	"github.com/bndmr/hub/services/internal/localenv"
)

// config is read from the environment; the defaults are the issue's.
type config struct {
	mails      int           // BNDMR_CHAOS_MAILS: valid synthetic mails (plus 5 refused, 3 hostile, 10 duplicates)
	seed       uint64        // BNDMR_CHAOS_SEED
	outage     time.Duration // BNDMR_CHAOS_OUTAGE: ClickHouse all away (a), SMTP relay away (d)
	replicaOut time.Duration // BNDMR_CHAOS_REPLICA_OUTAGE: one ClickHouse replica away (a)
	natsDown   time.Duration // BNDMR_CHAOS_NATS_DOWN: the stream leader / whole cluster down (b)
	imapDown   time.Duration // BNDMR_CHAOS_IMAP_DOWN: Dovecot "restarting" (c)
	smtp4xx    time.Duration // BNDMR_CHAOS_SMTP_4XX: relay answering 451 (d)
	kills      int           // BNDMR_CHAOS_KILLS: SIGKILLs per service (e)
	killEvery  time.Duration // BNDMR_CHAOS_KILL_EVERY
	storeFull  time.Duration // BNDMR_CHAOS_STORE_FULL: how long the store stays full (g)
	drain      time.Duration // BNDMR_CHAOS_DRAIN: longest wait for the drain after a fault
	results    string        // BNDMR_CHAOS_RESULTS: TSV of the measured results
}

func envDur(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			panic(fmt.Sprintf("%s=%q: %v", name, v, err))
		}
		return d
	}
	return def
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			panic(fmt.Sprintf("%s=%q: %v", name, v, err))
		}
		return n
	}
	return def
}

func loadConfig(s *site) config {
	return config{
		mails:      envInt("BNDMR_CHAOS_MAILS", 200),
		seed:       uint64(envInt("BNDMR_CHAOS_SEED", 11)),
		outage:     envDur("BNDMR_CHAOS_OUTAGE", 10*time.Minute),
		replicaOut: envDur("BNDMR_CHAOS_REPLICA_OUTAGE", 2*time.Minute),
		natsDown:   envDur("BNDMR_CHAOS_NATS_DOWN", 30*time.Second),
		imapDown:   envDur("BNDMR_CHAOS_IMAP_DOWN", 10*time.Second),
		smtp4xx:    envDur("BNDMR_CHAOS_SMTP_4XX", 3*time.Minute),
		kills:      envInt("BNDMR_CHAOS_KILLS", 3),
		killEvery:  envDur("BNDMR_CHAOS_KILL_EVERY", 5*time.Second),
		storeFull:  envDur("BNDMR_CHAOS_STORE_FULL", time.Minute),
		drain:      envDur("BNDMR_CHAOS_DRAIN", 20*time.Minute),
		results:    envOr("BNDMR_CHAOS_RESULTS", filepath.Join(s.root, ".run", "chaos", "results.tsv")),
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// site is what scripts/up-topology.sh wrote under .run/topology.
type site struct {
	dir, root string
	mailbox   mailbox.Config
	natsURL   string
	passwords map[string]string
	loaderDSN string
	cluster   string
	imapPlain string // the hospital's mailbox, where the MDNs arrive
	procs     topology
	cfg       config
	js, opJS  jetstream.JetStream // provisioner, operator
	closeNATS func()
	chAdmin   *store.Store
	chTLS     tlsclient.Files // the loader's ClickHouse client certificate
	chAdminMu sync.Mutex
}

// suiteRun names this run's databases.
var suiteRun = time.Now().Unix()

var (
	siteOnce sync.Once
	theSite  *site
	siteErr  error
)

func loadSite(t *testing.T) *site {
	t.Helper()
	dir := os.Getenv("BNDMR_CHAOS")
	if dir == "" {
		t.Skip("BNDMR_CHAOS not set: run `make chaos`, which starts the topology (.run/topology) and runs this suite")
	}
	siteOnce.Do(func() { theSite, siteErr = openSite(dir) })
	if siteErr != nil {
		t.Fatal(siteErr)
	}
	return theSite
}

func openSite(dir string) (*site, error) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		return nil, err
	}
	s := &site{dir: dir, root: root, imapPlain: envOr("BNDMR_TEST_IMAP", "127.0.0.1:10143")}
	var mbs []mailbox.Config
	b, err := os.ReadFile(filepath.Join(dir, "instances", "ingest-0", "volumes", "mailboxes", "mailboxes.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &mbs); err != nil || len(mbs) != 1 {
		return nil, fmt.Errorf("mailboxes.json: %d mailboxes, %v", len(mbs), err)
	}
	s.mailbox = mbs[0]
	loader, err := localenv.Read(filepath.Join(dir, "instances", "loader-0", "env"))
	if err != nil {
		return nil, err
	}
	s.loaderDSN, s.natsURL, s.cluster = loader["BNDMR_CLICKHOUSE"], loader["BNDMR_NATS_URL"], loader["BNDMR_CLICKHOUSE_CLUSTER"]
	// ClickHouse over TLS, with the loader's client certificate.
	s.chTLS = localenv.ClickHouseTLS(loader)
	if s.passwords, err = localenv.Read(filepath.Join(dir, "nats-passwords.env")); err != nil {
		return nil, err
	}
	if s.procs, err = loadProcs(s); err != nil {
		return nil, err
	}
	s.cfg = loadConfig(s)
	ctx := context.Background()
	// NATS requires a client certificate of the topology's CA: the
	// provisioning Job's (the user's password decides what it may do).
	job, err := localenv.Read(filepath.Join(dir, "instances", "nats-streams", "env"))
	if err != nil {
		return nil, err
	}
	tlsFiles := localenv.NATSTLS(job)
	pc := tlsFiles
	pc.URL, pc.User, pc.Password = s.natsURL, "provisioner", s.passwords["provisioner"]
	nc, js, err := bus.Connect(ctx, pc, "chaos-provisioner")
	if err != nil {
		return nil, err
	}
	opc := tlsFiles
	opc.URL, opc.User, opc.Password = s.natsURL, "operator", s.passwords["operator"]
	oc, ojs, err := bus.Connect(ctx, opc, "chaos-operator")
	if err != nil {
		return nil, err
	}
	s.js, s.opJS, s.closeNATS = js, ojs, func() { nc.Close(); oc.Close() }
	return s, nil
}

// admin is a connection to the first cluster server (database default),
// reopened after a fault.
func (s *site) admin(t testing.TB) *store.Store {
	t.Helper()
	s.chAdminMu.Lock()
	defer s.chAdminMu.Unlock()
	if s.chAdmin != nil {
		if err := s.chAdmin.Conn().Ping(context.Background()); err == nil {
			return s.chAdmin
		}
		s.chAdmin.Close()
		s.chAdmin = nil
	}
	var err error
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if s.chAdmin, err = s.openCH("default"); err == nil {
			return s.chAdmin
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClickHouse cluster: %v", err)
		}
		time.Sleep(time.Second)
	}
}

// openCH connects to database db of the cluster as the loader does.
func (s *site) openCH(db string) (*store.Store, error) {
	return store.OpenWith(context.Background(), s.dsnFor(db), store.Options{TLS: s.chTLS})
}

// dsnFor is the loader's DSN on another database (its settings, such as
// secure=true, kept).
func (s *site) dsnFor(db string) string {
	u, err := url.Parse(s.loaderDSN)
	if err != nil {
		panic(fmt.Sprintf("the loader's ClickHouse DSN: %v", err))
	}
	u.Path = "/" + db
	return u.String()
}

// result is one case's measured outcome, as docs/reliability.md reports it.
type result struct {
	Case             string
	Fault            string
	FaultFor         time.Duration // how long the fault lasted
	Recovery         time.Duration // fault end → drained
	Total            time.Duration // first delivery → drained
	Mails, Published int
	Keys, MDNs       int
	Quarantined      int
	Extra            string
}

func (r result) line() string {
	return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s", r.Case, r.Fault, r.FaultFor.Round(time.Second), r.Recovery.Round(100*time.Millisecond),
		r.Total.Round(time.Second), r.Mails, r.Published, r.Keys, r.MDNs, r.Quarantined, r.Extra)
}

func record(t *testing.T, s *site, r result) {
	t.Logf("RESULT %s: fault %q for %s; recovery %s (fault end → drained); total %s; %d mails, %d published, %d keys, %d MDNs, %d quarantined; %s",
		r.Case, r.Fault, r.FaultFor.Round(time.Second), r.Recovery.Round(100*time.Millisecond), r.Total.Round(time.Second),
		r.Mails, r.Published, r.Keys, r.MDNs, r.Quarantined, r.Extra)
	if err := os.MkdirAll(filepath.Dir(s.cfg.results), 0o755); err != nil {
		t.Error(err)
		return
	}
	f, err := os.OpenFile(s.cfg.results, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s\t%s\n", time.Now().UTC().Format(time.RFC3339), r.line())
}

// outcome is what a run leaves: compared with the fault-free run's.
type outcome struct {
	keys       map[string][]string // table → sorted keys
	mdns       map[string]int      // Message-ID → MDNs received
	quarantine []string            // sorted "stage/code"
	published  int                 // messages added to BNDMR_MAIL
	ids        []string            // the run's Message-IDs, in the set's order
}

var (
	baseOnce sync.Once
	base     *outcome
	baseErr  string
)

// baseline runs the fault-free case once, for every case to compare with.
func baseline(t *testing.T, s *site) *outcome {
	t.Helper()
	baseOnce.Do(func() {
		ok := t.Run("baseline", func(t *testing.T) {
			r := &caseRun{t: t, s: s, name: "baseline"}
			base = r.run(func(r *caseRun) string { return "none" })
		})
		if !ok || base == nil {
			baseErr = "the fault-free run failed"
		}
	})
	if baseErr != "" {
		t.Fatal(baseErr)
	}
	return base
}

// caseRun is one case in progress.
type caseRun struct {
	t        *testing.T
	s        *site
	name     string
	set      mailSet
	db       string
	start    time.Time
	faultEnd time.Time
	faultFor time.Duration
	extra    []string
	mailBase uint64
	// js is where the case's mails go (the topology's, or case g's own NATS);
	// busy tells why the case is not drained yet.
	js, opJS jetstream.JetStream
	busy     func(ctx context.Context) string
	// skipSetup: the case prepares the services itself (g).
	loaderOverride map[string]string
}

func (r *caseRun) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.extra = append(r.extra, msg)
	r.t.Logf("%s: %s", r.name, msg)
}

// prepare gives the case a database of its own (so that the keys are this
// run's alone, and no insert deduplication of an earlier run's blocks
// hides a loss) and points the loaders at it.
func (r *caseRun) prepare() {
	t, s := r.t, r.s
	// Whatever an earlier case (or an interrupted run) left in the streams
	// drains first, into the database the loaders have now: it must not
	// land in this case's.
	for _, p := range s.procs.nats {
		p.start(t, nil)
	}
	for _, p := range s.procs.services {
		p.start(t, nil) // only those not running; a loader keeps its database
	}
	if why := busy(context.Background(), s.mailbox, s.js); why != "" {
		t.Logf("%s: draining what was left before the case: %s", r.name, why)
		r.busy = func(ctx context.Context) string { return busy(ctx, s.mailbox, s.js) }
		if why := r.waitIdle(s.cfg.drain); why != "" {
			t.Fatalf("the topology does not drain before the case: %s", why)
		}
	}
	r.prepareDB()
	for _, p := range s.procs.of("loader") {
		p.restart(t, r.loaderOverride)
	}
	// Every process of the topology runs and is ready before the case.
	for _, p := range s.procs.nats {
		p.start(t, nil)
	}
	for _, p := range s.procs.services {
		if p.alive() {
			continue
		}
		var ov map[string]string
		if strings.HasPrefix(p.name, "loader") {
			ov = r.loaderOverride
		}
		p.start(t, ov)
	}
	for _, p := range s.procs.services {
		p.ready(t, 3*time.Minute)
	}
	r.js, r.opJS = s.js, s.opJS
	r.busy = func(ctx context.Context) string { return busy(ctx, s.mailbox, s.js) }
	if why := r.waitIdle(2 * time.Minute); why != "" {
		t.Fatalf("the topology is not idle before the case: %s", why)
	}
}

// prepareDB creates the case's database on the cluster, with the schema.
func (r *caseRun) prepareDB() {
	t, s := r.t, r.s
	// A name of this suite run: a database dropped a moment ago may still
	// hold its replicas' paths in ZooKeeper.
	r.db = fmt.Sprintf("chaos_%s_%d", strings.ToLower(r.name), suiteRun)
	ctx := context.Background()
	adm := s.admin(t)
	// The databases of earlier runs go.
	for _, old := range storetest.Column(t, adm, "SELECT name FROM system.databases WHERE name LIKE 'chaos\\_%' AND NOT endsWith(name, '_"+strconv.FormatInt(suiteRun, 10)+"')") {
		if err := adm.Conn().Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s ON CLUSTER %s", old, s.cluster)); err != nil {
			t.Logf("dropping %s: %v", old, err)
		}
	}
	if err := adm.Conn().Exec(ctx, fmt.Sprintf("CREATE DATABASE %s ON CLUSTER %s", r.db, s.cluster)); err != nil {
		t.Fatalf("creating %s: %v", r.db, err)
	}
	loader := s.procs.of("loader")[0]
	mig := &proc{name: "migrate-" + r.db, bin: filepath.Join(s.root, "bin", "bndmrctl"), args: []string{"migrate"},
		envFile: loader.envFile, log: filepath.Join(s.dir, "chaos-migrate.log"), pidFile: filepath.Join(s.dir, "chaos-migrate.pid")}
	mig.start(t, map[string]string{"BNDMR_CLICKHOUSE": s.dsnFor(r.db)})
	<-mig.done
	if mig.exitErr != nil {
		b, _ := os.ReadFile(mig.log)
		t.Fatalf("bndmrctl migrate on %s: %v\n%s", r.db, mig.exitErr, b[max(0, len(b)-3000):])
	}
	r.loaderOverride = map[string]string{"BNDMR_CLICKHOUSE": s.dsnFor(r.db)}
}

// waitIdle waits until busy reports nothing for two seconds; "" when so.
func (r *caseRun) waitIdle(within time.Duration) string {
	ctx := context.Background()
	deadline := time.Now().Add(within)
	var idleSince time.Time
	why := ""
	for time.Now().Before(deadline) {
		why = r.busy(ctx)
		switch {
		case why != "":
			idleSince = time.Time{}
		case idleSince.IsZero():
			idleSince = time.Now()
		case time.Since(idleSince) >= 2*time.Second:
			return ""
		}
		time.Sleep(300 * time.Millisecond)
	}
	return why
}

// published is how many mails ingest put on BNDMR_MAIL since the case began.
func (r *caseRun) published() int {
	n, err := streamMsgs(r.js, bus.StreamMail)
	if err != nil {
		return -1
	}
	return int(n - r.mailBase)
}

// waitPublished waits until ingest published frac of the distinct mails:
// the moment a fault is injected "mid-load".
func (r *caseRun) waitPublished(frac float64) {
	want := int(frac * float64(len(r.set.ids)))
	deadline := time.Now().Add(10 * time.Minute)
	for r.published() < want {
		if time.Now().After(deadline) {
			r.t.Fatalf("ingest published %d of %d mails in 10 minutes", r.published(), want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// run delivers the set, runs fault (which returns when the fault is over,
// with its description), waits for the drain and checks the outcome.
func (r *caseRun) run(fault func(r *caseRun) string) *outcome {
	t, s := r.t, r.s
	if r.busy == nil {
		r.prepare()
	}
	r.set = buildMails(t, r.tag(), s.cfg.mails, s.cfg.seed)
	t.Logf("%s: %s", r.name, r.set)
	mdnBase := mailboxtest.UIDNext(t, s.imapPlain, hospital)
	qBefore := lastSeq(t, r.opJS, bus.StreamQuarantine)
	mb, err := streamMsgs(r.js, bus.StreamMail)
	if err != nil {
		t.Fatal(err)
	}
	r.mailBase = mb
	r.start = time.Now()
	delivered := make(chan error, 1)
	go func() {
		n, err := mailbox.Deliver(context.Background(), s.mailbox, s.mailbox.Inbox, func(yield func([]byte) bool) {
			for _, m := range r.set.mails {
				if !yield(m) {
					return
				}
			}
		})
		if err == nil && n != len(r.set.mails) {
			err = fmt.Errorf("delivered %d of %d mails", n, len(r.set.mails))
		}
		delivered <- err
	}()
	desc := fault(r)
	if r.faultEnd.IsZero() {
		r.faultEnd = time.Now()
	}
	if err := <-delivered; err != nil {
		t.Fatalf("delivering the mails: %v", err)
	}
	if why := r.waitIdle(s.cfg.drain); why != "" {
		t.Fatalf("%s: not drained %s after the fault ended: %s", r.name, s.cfg.drain, why)
	}
	drained := time.Now().Add(-2 * time.Second) // waitIdle wants two idle seconds
	res := result{Case: r.name, Fault: desc, FaultFor: r.faultFor, Recovery: drained.Sub(r.faultEnd), Total: drained.Sub(r.start),
		Mails: len(r.set.mails)}
	if res.Recovery < 0 {
		res.Recovery = 0
	}

	// What the run left.
	out := &outcome{published: r.published()}
	out.keys = tableKeys(t, s, r.db)
	out.mdns = countMDNs(t, s.imapPlain, mdnBase, r.set.distinct(), r.tag())
	out.quarantine = quarantined(t, r.opJS, qBefore)
	res.Published, res.Quarantined = out.published, len(out.quarantine)
	for _, k := range out.keys {
		res.Keys += len(k)
	}
	for _, n := range out.mdns {
		res.MDNs += n
	}
	res.Extra = strings.Join(r.extra, "; ")
	record(t, s, res)

	// Compared with the fault-free run (the baseline with itself: its own
	// invariants only).
	ref := out
	if r.name != "baseline" {
		ref = baseline(t, s)
	}
	if out.published != len(r.set.ids) || ref.published != out.published {
		t.Errorf("BNDMR_MAIL got %d messages for %d distinct mails (fault-free run: %d)", out.published, len(r.set.ids), ref.published)
	}
	for table, want := range ref.keys {
		if got := out.keys[table]; strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: %d keys, %d in the fault-free run\n%s", table, len(got), len(want), testsupport.Diff(want, got))
		}
	}
	for i, id := range r.set.ids {
		refID := id
		if ref != out {
			refID = base.idAt(i)
		}
		if n := out.mdns[id]; n != 1 || ref.mdns[refID] != 1 {
			t.Errorf("%d MDNs for %s (fault-free run: %d); want exactly one", n, id, ref.mdns[refID])
		}
	}
	if strings.Join(out.quarantine, ",") != strings.Join(ref.quarantine, ",") {
		t.Errorf("quarantine: %v; fault-free run: %v", out.quarantine, ref.quarantine)
	}
	out.ids = r.set.ids
	return out
}

func (o *outcome) idAt(i int) string {
	if i < len(o.ids) {
		return o.ids[i]
	}
	return ""
}

// --- what a run left ---

func streamMsgs(js jetstream.JetStream, stream string) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

func lastSeq(t testing.TB, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	return info.State.LastSeq
}

// quarantined lists the entries added to BNDMR_QUARANTINE after seq, as
// "stage/code".
func quarantined(t testing.TB, js jetstream.JetStream, after uint64) []string {
	t.Helper()
	ctx := context.Background()
	last := lastSeq(t, js, bus.StreamQuarantine)
	st, err := js.Stream(ctx, bus.StreamQuarantine)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for seq := after + 1; seq <= last; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("quarantine entry %d: %v", seq, err)
		}
		var q events.Quarantined
		if err := json.Unmarshal(m.Data, &q); err != nil {
			t.Fatalf("quarantine entry %d: %v", seq, err)
		}
		out = append(out, q.Stage+"/"+q.Code)
	}
	sort.Strings(out)
	return out
}

// busy says why the pipeline is not drained: a mail in the inbox, or what
// bustest.Pending finds in the streams ("" when drained).
func busy(ctx context.Context, mc mailbox.Config, js jetstream.JetStream) string {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if n, err := mailbox.Waiting(ctx, mc); err != nil || n > 0 {
		return fmt.Sprintf("%d mails in %s (%v)", n, mc.Inbox, err)
	}
	return bustest.Pending(ctx, js)
}

// tableKeys reads, from every table of db holding set_id, its distinct
// (set_id, version) keys, and from receipts one key per mail and document
// with what was decided for it.
func tableKeys(t testing.TB, s *site, db string) map[string][]string {
	t.Helper()
	st, err := s.openCH(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s.syncReplicas(t, st, db)
	tables := storetest.Column(t, st, storetest.SetTablesSQL)
	out := map[string][]string{}
	for _, table := range tables {
		out[table] = storetest.Column(t, st, storetest.KeysSQL(table, "1", "1"))
	}
	return out
}

// syncReplicas waits until every server holds what its replica holds: a
// server back from a fault answers reads through the Distributed tables while
// it still fetches the parts inserted while it was away, and would show rows
// missing that are safe on its replica. Each server is reached on its plain
// native port (scripts/up-cluster.sh: 19101 to 19104).
func (s *site) syncReplicas(t testing.TB, st *store.Store, db string) {
	t.Helper()
	if s.cluster == "" {
		return
	}
	tables := storetest.Column(t, st, `SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE 'Replicated%' ORDER BY name`)
	for n := 1; n <= 4; n++ {
		for _, table := range tables {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			out, err := exec.CommandContext(ctx, "clickhouse-client", "--port", strconv.Itoa(19100+n),
				"-q", "SYSTEM SYNC REPLICA "+db+"."+table).CombinedOutput()
			cancel()
			if err != nil {
				t.Fatalf("server %d, SYSTEM SYNC REPLICA %s.%s: %v: %s", n, db, table, err, out)
			}
		}
	}
}

// --- the MDNs, in the hospital's mailbox ---

// countMDNs counts the MDNs from UID base per original Message-ID: it polls
// until each id has one (at most a minute: the relay delivers a moment after
// it accepted), then once more five seconds later for late duplicates.
func countMDNs(t testing.TB, addr string, base imap.UID, ids []string, tag string) map[string]int {
	t.Helper()
	read := func() map[string]int {
		found := map[string]int{}
		c := mailboxtest.Login(t, addr, hospital)
		defer c.Close()
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
		text := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierText, Peek: true}
		msgs, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: base, Stop: 0}},
			&imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section, text}}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		marker := "Original-Message-ID: <chaos." + tag + "."
		for _, m := range msgs {
			if m.UID < base {
				continue
			}
			body := string(m.FindBodySection(text))
			i := strings.Index(body, marker)
			if i < 0 {
				continue
			}
			rest := body[i+len("Original-Message-ID: "):]
			if j := strings.IndexByte(rest, '>'); j > 0 {
				found[rest[:j+1]]++
			}
		}
		return found
	}
	deadline := time.Now().Add(time.Minute)
	var found map[string]int
	for {
		found = read()
		all := true
		for _, id := range ids {
			if found[id] == 0 {
				all = false
				break
			}
		}
		if all || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	time.Sleep(5 * time.Second)
	return read()
}

// tag names the case's mails: Message-IDs of this suite run, so that
// neither the ingest content keys nor the MDN records of an earlier run
// apply to them.
func (r *caseRun) tag() string { return fmt.Sprintf("%d.%s", suiteRun, r.name) }

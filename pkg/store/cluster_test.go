package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/bndmr/hub/pkg/chddl"
	"github.com/bndmr/hub/pkg/chtest"
	"github.com/bndmr/hub/pkg/events"
	figs "github.com/bndmr/hub/pkg/figures"
	"github.com/bndmr/hub/pkg/indicators"
	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/store/storetest"
	"github.com/bndmr/hub/pkg/testsupport"
)

// --- the cluster itself (scripts/up-cluster.sh) ---

// clusterDSNs reads BNDMR_TEST_CH_CLUSTER (the servers of
// scripts/up-cluster.sh, in order: two, or four for the 2 × 2 layout);
// without it the cluster tests are not run.
func clusterDSNs(t *testing.T) []string {
	dsns := chtest.ClusterDSNs(t)
	if len(dsns) != 2 && len(dsns) != 4 {
		t.Fatalf("%s=%q: want the DSNs of two or four servers, comma-separated", chtest.EnvCluster, strings.Join(dsns, ","))
	}
	return dsns
}

// server n of scripts/up-cluster.sh, to stop and start during a load.
type server struct {
	n             int
	root, pidFile string
}

func clusterServer(t *testing.T, n int) server {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	runDir := os.Getenv("BNDMR_RUN_DIR")
	if runDir == "" {
		runDir = filepath.Join(root, ".run")
	}
	return server{n: n, root: root, pidFile: filepath.Join(runDir, "cluster", fmt.Sprintf("ch%d", n), "clickhouse.pid")}
}

// kill stops the server with SIGKILL and waits until dsn no longer answers;
// whatever happens next, the server is started again at the end of the test.
func (s server) kill(t *testing.T, dsn string) {
	t.Helper()
	pid, err := os.ReadFile(s.pidFile)
	if err != nil {
		t.Fatalf("pid of server %d: %v", s.n, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(pid)))
	if err != nil {
		t.Fatalf("pid of server %d in %s: %v", s.n, s.pidFile, err)
	}
	p, _ := os.FindProcess(n)
	if err := p.Kill(); err != nil {
		t.Fatalf("killing server %d (pid %d): %v", s.n, n, err)
	}
	t.Cleanup(func() { _ = exec.Command(filepath.Join(s.root, "scripts", "up-cluster.sh"), strconv.Itoa(s.n)).Run() })
	waitDown(t, dsn)
	// The port closes before the process is gone; ClickHouse refuses to
	// start while the pid in its pid file still runs.
	for i := 0; !testsupport.ProcessGone(n); i++ {
		if i == 600 {
			t.Fatalf("server %d (pid %d) still there 60 s after SIGKILL", s.n, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s server) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(filepath.Join(s.root, "scripts", "up-cluster.sh"), strconv.Itoa(s.n))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("starting server %d: %v\n%s", s.n, err, out)
	}
}

func openDB(t *testing.T, dsn, db string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), chtest.WithDatabase(t, dsn, db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

const testCluster = "bndmr"

// Two replicas of one shard, through ZooKeeper: the cluster form of the
// migrations, the same generated records loaded through the Distributed
// tables as into one server, one replica killed during the load and started
// again; both replicas end with every row, and the indicators are those of
// the single server.
func TestClusterReplicatesAndAgreesWithOneServer(t *testing.T) {
	dsns := clusterDSNs(t)
	ctx := context.Background()
	db := clusterDB(t, dsns[0], testCluster)
	c1, c2 := openDB(t, dsns[0], db), openDB(t, dsns[1], db)
	applied, err := c1.MigrateWith(ctx, store.MigrateOptions{Cluster: testCluster})
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := store.Migrations()
	if len(applied) != len(ms) {
		t.Fatalf("applied %v, want all %d migrations", applied, len(ms))
	}
	// The other replica sees the migrations record, so a second run does nothing.
	if again, err := c2.MigrateWith(ctx, store.MigrateOptions{Cluster: testCluster}); err != nil || len(again) != 0 {
		t.Fatalf("second run on the other replica: applied %v, %v", again, err)
	}

	one := singleDB(t)

	start := time.Now()
	loadWithOutage(t, ctx, one, c1, 18, clusterServer(t, 2), dsns[1])
	c2 = openDB(t, dsns[1], db) // the old connection died with the server

	// Replica 2 fetches the parts it missed (18.16 has no SYSTEM SYNC
	// REPLICA).
	tables := append(append([]tableKey{}, shardedKeys...), everywhereKeys...)
	deadline := time.Now().Add(60 * time.Second)
	for _, tb := range tables {
		want := keys(t, one, strings.TrimSuffix(tb.local, "_local"), tb.key)
		if want == 0 {
			t.Fatalf("%s: nothing loaded on the single server", tb.local)
		}
		for {
			n1, n2 := keys(t, c1, tb.local, tb.key), keys(t, c2, tb.local, tb.key)
			if n1 == want && n2 == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d keys on replica 1, %d on replica 2, %d on the single server", tb.local, n1, n2, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	figuresInStep(t, c1, c2)
	t.Logf("replicas in step %s since the load began", time.Since(start).Round(time.Millisecond))

	// The same figures from one server and from either replica.
	want := figuresOf(t, one)
	for i, s := range []*store.Store{c1, c2} {
		compareFigures(t, fmt.Sprintf("replica %d", i+1), figuresOf(t, s), want)
	}

	t.Logf("figures compared %s since the load began", time.Since(start).Round(time.Millisecond))

	// A later migration's ALTERs, in their cluster form, on ClickHouse itself:
	// a sharded table (its _local table, then its Distributed table made
	// again) and a table on every server.
	tr := &chddl.Transformer{Cluster: testCluster, Database: db, DropColumnComments: true}
	for _, m := range ms {
		if _, err := tr.Migration(m.Name, m.SQL); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []string{"ALTER TABLE documents ADD COLUMN extra String DEFAULT 'x'", "ALTER TABLE establishments ADD COLUMN extra String DEFAULT 'x'"} {
		stmts, err := tr.Statement(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range stmts {
			if err := c1.Conn().Exec(ctx, st); err != nil {
				t.Fatalf("%s: %v", st, err)
			}
		}
	}
	for i, s := range []*store.Store{c1, c2} {
		for _, tb := range []string{"documents", "documents_local", "establishments"} {
			var n uint64
			if err := s.Conn().QueryRow(ctx, "SELECT countIf(extra = 'x') FROM "+tb).Scan(&n); err != nil || n == 0 {
				t.Errorf("replica %d, %s after ALTER ADD COLUMN: %d rows with the new column's default, %v", i+1, tb, n, err)
			}
		}
	}
}

// figures are what the indicators and the epidemiology show.
type figures struct {
	Docs []store.EstablishmentCount
	MR2  []indicators.MR2
	MR1  []indicators.MR1
	Epi  []string
	// EpiTables: every epidemiology table and distribution the indicators
	// publish (no suppression), as JSON.
	EpiTables []string
	// Reception: each establishment's reception report of the year, as JSON.
	Reception []string
}

func figuresOf(t *testing.T, s *store.Store) figures {
	t.Helper()
	ctx := context.Background()
	p, err := indicators.ParsePeriod("2026-01", "2026-12")
	if err != nil {
		t.Fatal(err)
	}
	var f figures
	if f.Docs, err = s.DocumentsPerEstablishment(ctx); err != nil {
		t.Fatal(err)
	}
	x := indicators.New(s)
	if f.MR2, err = x.MR2(ctx, p, ""); err != nil {
		t.Fatal(err)
	}
	if f.MR1, err = x.MR1(ctx, p, ""); err != nil {
		t.Fatal(err)
	}
	f.Epi = epidemiology(t, s)
	f.EpiTables = []string{allEpidemiology(t, s)}
	for _, d := range f.Docs {
		r, err := x.Reception(ctx, d.FINESS, p)
		if err != nil {
			t.Fatal(err)
		}
		r.Generated = time.Time{} // when, not what
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		f.Reception = append(f.Reception, string(b))
	}
	if len(f.MR2) == 0 || len(f.Docs) == 0 || len(f.Epi) == 0 || len(f.MR1) == 0 {
		t.Fatalf("missing figures: %d establishments, %d MR.2, %d MR.1, %d ORPHA codes", len(f.Docs), len(f.MR2), len(f.MR1), len(f.Epi))
	}
	return f
}

func compareFigures(t *testing.T, who string, got, want figures) {
	t.Helper()
	diff(t, who+", documents per establishment", got.Docs, want.Docs)
	diff(t, who+", MR.2", got.MR2, want.MR2)
	diff(t, who+", MR.1", got.MR1, want.MR1)
	diff(t, who+", patients per ORPHA code", got.Epi, want.Epi)
	diff(t, who+", epidemiology", got.EpiTables, want.EpiTables)
	diff(t, who+", reception reports", got.Reception, want.Reception)
}

// clusterDB creates a fresh database on cluster (and drops it at the end).
func clusterDB(t *testing.T, dsn, cluster string) string {
	t.Helper()
	_, db := chtest.ClusterDatabase(t, dsn, cluster, "test_"+cluster)
	return db
}

// singleDB opens a fresh migrated database on the single server.
func singleDB(t *testing.T) *store.Store {
	t.Helper()
	if os.Getenv(chtest.EnvDSN) == "" {
		t.Fatalf("%s not set: the cluster's figures are compared with one server's (`make up`)", chtest.EnvDSN)
	}
	return storetest.Store(t, "test_cluster_single")
}

// The two servers as two shards of one replica (cluster bndmr_2x1): rows are
// spread by set, and the figures are still those of one server. This is
// where a query that is right on one shard only would show.
func TestClusterTwoShardsAgreeWithOneServer(t *testing.T) {
	dsns := clusterDSNs(t)
	ctx := context.Background()
	const cluster = "bndmr_2x1"
	db := clusterDB(t, dsns[0], cluster)
	s1, s2 := openDB(t, dsns[0], db), openDB(t, dsns[1], db)
	if _, err := s1.MigrateWith(ctx, store.MigrateOptions{Cluster: cluster, ShardMacro: "{replica}"}); err != nil {
		t.Fatal(err)
	}
	one := singleDB(t)
	recs, outs := generate(40, 1500)
	sync := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	for _, s := range []*store.Store{one, s1} {
		if err := s.InsertDocuments(sync, recs); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertReceipts(sync, outs); err != nil {
			t.Fatal(err)
		}
		refs(t, ctx, s)
	}
	// Spread: each shard has some sets, none has them all, no set is on both.
	all := keys(t, one, "documents", "set_id")
	n1, n2 := keys(t, s1, "documents_local", "set_id"), keys(t, s2, "documents_local", "set_id")
	if n1 == 0 || n2 == 0 || n1+n2 != all {
		t.Fatalf("sets: %d on shard 1, %d on shard 2, %d in all", n1, n2, all)
	}
	want := figuresOf(t, one)
	for i, s := range []*store.Store{s1, s2} {
		compareFigures(t, fmt.Sprintf("shard %d", i+1), figuresOf(t, s), want)
	}
}

// The production layout, 2 shards × 2 replicas (cluster bndmr_2x2): the
// records loaded through the Distributed tables while one replica of the
// second shard is killed and started again. Each shard's replicas end with
// the same rows, the shards share none and together hold them all, and
// every server gives the figures of one server.
func TestClusterTwoShardsOfTwoReplicas(t *testing.T) {
	ctx := context.Background()
	const cluster = "bndmr_2x2"
	dsns, db, srv := cluster2x2(t, cluster)
	one := singleDB(t)
	start := time.Now()
	// Server 4 is replica 2 of shard 2; its old connection dies with it.
	loadWithOutage(t, ctx, one, srv[0], 12, clusterServer(t, 4), dsns[3])
	srv[3] = openDB(t, dsns[3], db)

	waitInStep(t, one, srv)
	figuresInStep(t, srv...)
	t.Logf("shards and replicas in step %s since the load began", time.Since(start).Round(time.Millisecond))
	wantFig := figuresOf(t, one)
	for i, s := range srv {
		compareFigures(t, fmt.Sprintf("server %d", i+1), figuresOf(t, s), wantFig)
	}
}

// waitInStep waits, at most 60 s, until the four servers of the 2 × 2
// cluster srv hold, shard by shard and replica by replica, the keys of the
// single server one.
func waitInStep(t *testing.T, one *store.Store, srv []*store.Store) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, tb := range shardedKeys {
		want := keys(t, one, strings.TrimSuffix(tb.local, "_local"), tb.key)
		var n [4]uint64
		for {
			for i, s := range srv {
				n[i] = keys(t, s, tb.local, tb.key)
			}
			if n[0] == n[1] && n[2] == n[3] && n[0] > 0 && n[2] > 0 && n[0]+n[2] == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: shard 1 holds %d and %d keys, shard 2 %d and %d; the single server %d", tb.local, n[0], n[1], n[2], n[3], want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, tb := range everywhereKeys {
		want := keys(t, one, tb.local, tb.key)
		for i, s := range srv {
			for keys(t, s, tb.local, tb.key) != want {
				if time.Now().After(deadline) {
					t.Fatalf("%s: server %d has not the %d keys of the single server", tb.local, i+1, want)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
}

// figuresInStep waits, at most 60 s, until every server holds the rows of
// the figures kept as they arrive that the first holds (a table on every
// server): the cluster's figures are read from them, the single server's
// from the history.
func figuresInStep(t *testing.T, srv ...*store.Store) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, tb := range []tableKey{{"figure_counts", "generation, figure, cell, batch"}, {"figure_generations", "generation, completed"}} {
		want := keys(t, srv[0], tb.local, tb.key)
		if want == 0 {
			t.Fatalf("%s: empty, the loader kept no figure", tb.local)
		}
		for i, s := range srv[1:] {
			for keys(t, s, tb.local, tb.key) != want {
				if time.Now().After(deadline) {
					t.Fatalf("%s: server %d has not the %d keys of the first", tb.local, i+2, want)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
}

// tableKey names a table of the cluster form and the columns that identify
// its rows: rows are compared by their keys, since a version received twice
// is two rows until ReplacingMergeTree merges them, whenever it does.
type tableKey struct{ local, key string }

var (
	// Sharded by set: on each server, the _local table holds its shard's rows.
	shardedKeys = []tableKey{
		{"documents_local", "finess, set_id, version_number"},
		{"patients_local", "finess, set_id, version_number"},
		{"diagnoses_local", "finess, set_id, version_number, ordinal"},
		{"care_episodes_local", "finess, set_id, version_number, ordinal"},
		{"receipts_local", "mail_id, doc_index"},
	}
	// Replicated whole on every server.
	everywhereKeys = []tableKey{
		{"establishments", "finess"},
		{"reference_centres", "finess, centre_id, valid_from"},
		{"dpi_updates", "finess, month"},
	}
)

// loadWithOutage loads the generated records and outcomes, in batches, into
// the single server one and through the Distributed tables of cluster (the
// loader's path there: the figures kept as they arrive, so that the
// cluster's figures read them and the single server's the history),
// kills victim (whose DSN is victimDSN) after a third of the batches and
// starts it again after two thirds; then the reference tables.
func loadWithOutage(t *testing.T, ctx context.Context, one, cluster *store.Store, batches int, victim server, victimDSN string) {
	t.Helper()
	recs, outs := generate(40, 1500)
	sync := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	start := time.Now()
	kept := figs.NewKeeper(cluster)
	for b := range batches {
		lo, hi := b*len(recs)/batches, (b+1)*len(recs)/batches
		ol, oh := b*len(outs)/batches, (b+1)*len(outs)/batches
		if err := one.InsertDocuments(sync, recs[lo:hi]); err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		if err := kept.Write(sync, recs[lo:hi]); err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		for _, s := range []*store.Store{one, cluster} {
			if err := s.InsertReceipts(sync, outs[ol:oh]); err != nil {
				t.Fatalf("batch %d: %v", b, err)
			}
		}
		switch b {
		case batches / 3:
			victim.kill(t, victimDSN)
			t.Logf("batch %d: server %d killed", b, victim.n)
		case 2 * batches / 3:
			victim.start(t)
			t.Logf("batch %d: server %d started again", b, victim.n)
		}
	}
	refs(t, ctx, one)
	refs(t, ctx, cluster)
	// The centres' import asked for a recount, which the loader does at
	// its next batch: the last one again.
	if err := kept.Write(sync, recs[len(recs)-10:]); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d records and %d outcomes in %d batches in %s", len(recs), len(outs), batches, time.Since(start).Round(time.Millisecond))
}

// diff reports the items of got and want (same order) that differ.
func diff[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d items, want %d (as on one server)", what, len(got), len(want))
		return
	}
	shown := 0
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) && shown < 5 {
			t.Errorf("%s: item %d differs from one server's\n got %s\nwant %s", what, i, show(got[i]), show(want[i]))
			shown++
		}
	}
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// epidemiology: patients (current state) by ORPHA code, through the views.
func epidemiology(t *testing.T, s *store.Store) []string {
	rows, err := s.Conn().Query(context.Background(), `SELECT disease_code, uniqExact(patient_key), uniqExact(set_id, ordinal)
		FROM diagnoses_current GROUP BY disease_code ORDER BY disease_code`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		var p, n uint64
		if err := rows.Scan(&c, &p, &n); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s:%d:%d", c, p, n))
	}
	return out
}

// keys counts the distinct keys of a table.
func keys(t *testing.T, s *store.Store, table, key string) uint64 {
	t.Helper()
	var n uint64
	if err := s.Conn().QueryRow(context.Background(), "SELECT uniqExact("+key+") FROM "+table).Scan(&n); err != nil {
		t.Fatalf("counting %s: %v", table, err)
	}
	return n
}

func waitDown(t *testing.T, dsn string) {
	for range 100 {
		s, err := store.Open(context.Background(), dsn)
		if err != nil {
			return
		}
		s.Close()
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s still answers after kill", dsn)
}

func refs(t *testing.T, ctx context.Context, s *store.Store) {
	t.Helper()
	day := func(v string) time.Time { d, _ := time.Parse("2006-01-02", v); return d }
	var es []store.Establishment
	var cs []store.Centre
	var ds []store.DPIUpdates
	for f := range 40 {
		fin := fmt.Sprintf("7500%05d", f)
		es = append(es, store.Establishment{FINESS: fin, Name: "Hôpital " + fin})
		if f%3 == 0 {
			es[len(es)-1].TransmissionStart = day("2026-03-01")
		}
		for c := range 3 {
			cs = append(cs, store.Centre{FINESS: fin, CentreID: fmt.Sprintf("S%03d%d", f, c), Name: "centre", Filiere: "F",
				Type: "constitutif", From: day("2020-01-01"), To: day("2030-12-31")})
		}
		if f%4 == 0 {
			ds = append(ds, store.DPIUpdates{FINESS: fin, Month: day("2026-05-01"), Count: uint32(30 + f)})
		}
	}
	if err := s.InsertEstablishments(ctx, es); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertCentres(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertDPIUpdates(ctx, "csv", ds); err != nil {
		t.Fatal(err)
	}
}

// generate makes sets per establishment with versions in 2026, some skipped
// (missing versions), some rejected, some received twice, with diagnoses
// and care episodes; the same seed gives the same records.
func generate(estabs, sets int) ([]events.Record, []events.MailOutcome) {
	rng := rand.New(rand.NewPCG(8, 8))
	var recs []events.Record
	var outs []events.MailOutcome
	for s := range sets {
		fin := fmt.Sprintf("7500%05d", rng.IntN(estabs))
		set := fmt.Sprintf("set-%05d", s)
		v := 1 + rng.IntN(3)
		month := 1 + rng.IntN(6)
		for range 1 + rng.IntN(4) {
			ts := fmt.Sprintf("2026%02d%02d1200+0100", month, 1+rng.IntN(28))
			mail := fmt.Sprintf("mail-%s-%d", set, v)
			if rng.IntN(10) == 0 {
				outs = append(outs, events.MailOutcome{V: events.OutcomeV, MailID: mail, From: "dpi@" + fin + ".mssante.fr",
					ReceivedAt: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), Documents: []events.DocumentOutcome{{Name: "doc.xml",
						FINESS: fin, SetID: set, VersionNumber: v, EffectiveTime: ts, Rejection: &events.Rejection{Code: "schematron", Reason: "assertion"}}}})
			} else {
				r := events.Record{V: events.RecordV, MailID: mail, FINESS: fin, SetID: set, VersionNumber: v, EffectiveTime: ts,
					ReceivedAt: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), KeyID: "k", DocumentKey: "dk-" + mail,
					PatientTraitsPseudonym: fmt.Sprintf("pat-%d", s), Sex: []string{"F", "M"}[rng.IntN(2)],
					BirthYearMonth: "1990-01", ResidenceDepartement: fmt.Sprintf("%02d", 1+rng.IntN(95)),
					Diagnoses: []sdmmr.RecordDiagnosis{{Key: "d", Disease: &sdmmr.Code{Code: fmt.Sprint(rng.IntN(30)),
						System: []string{"1.2.250.1.213.2.5", "1.2.250.1.213.2.49"}[rng.IntN(2)]},
						SiteCode: fmt.Sprintf("S%s%d", fin[6:], rng.IntN(3))}},
					CareEpisodes: []sdmmr.RecordCareEpisode{{Key: "c", SiteCode: fmt.Sprintf("S%s%d", fin[6:], rng.IntN(3))}}}
				n := 1 + rng.IntN(8)/7 // now and then received twice
				for range n {
					recs = append(recs, r)
				}
				outs = append(outs, events.MailOutcome{V: events.OutcomeV, MailID: mail, From: "dpi@" + fin + ".mssante.fr",
					ReceivedAt: r.ReceivedAt, Documents: []events.DocumentOutcome{{Name: "doc.xml", FINESS: fin, SetID: set,
						VersionNumber: v, EffectiveTime: ts, Accepted: true}}})
			}
			v += 1 + rng.IntN(4)/3
			month += rng.IntN(2)
		}
	}
	return recs, outs
}

// allEpidemiology is every epidemiology table and distribution with no
// suppression (threshold 1), as JSON.
func allEpidemiology(t *testing.T, s *store.Store) string {
	t.Helper()
	e, err := indicators.New(s).Epidemiology(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A key rotation ends on the production layout (2 shards × 2 replicas):
// the records of a rotation, loaded through the Distributed tables under
// the old key with their links, are re-keyed on every shard's local tables
// and every replica, and the links then go from every server.
func TestClusterFinishRotation(t *testing.T) {
	ctx := context.Background()
	const cluster = "bndmr_2x2"
	_, _, srv := cluster2x2(t, cluster)
	const n = 200
	recs := make([]events.Record, 0, n)
	for i := range n {
		recs = append(recs, rotatedRecord(i+1))
	}
	sync := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	if err := srv[0].InsertDocuments(sync, recs); err != nil {
		t.Fatal(err)
	}
	count := func(s *store.Store, q string) uint64 {
		t.Helper()
		var c uint64
		if err := s.Conn().QueryRow(ctx, q).Scan(&c); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return c
	}
	// Loaded during the rotation: the warehouse's (old) key, spread over
	// the two shards (servers 1-2 and 3-4), once the replicas have fetched.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var c [4]uint64
		for i, s := range srv {
			c[i] = count(s, "SELECT count() FROM documents_local WHERE key_id = 'old'")
		}
		if c[0] == c[1] && c[2] == c[3] && c[0] > 0 && c[2] > 0 && c[0]+c[2] == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("documents under the old key: shard 1 holds %d and %d, shard 2 %d and %d; want %d in all", c[0], c[1], c[2], c[3], n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	rep, err := srv[1].FinishRotation(ctx, "old", "new", cluster)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Links[store.LinkPatient] != n || rep.StillOld != 0 {
		t.Errorf("finish: %d patient links, %d documents left under the old key; want %d and 0", rep.Links[store.LinkPatient], rep.StillOld, n)
	}
	// Every replica of every shard, as it holds them (no read through the
	// Distributed table, which would ask one replica per shard).
	for i, s := range srv {
		if c := count(s, "SELECT count() FROM documents_local WHERE key_id = 'old' OR patient_key LIKE 'T%' OR patient_key LIKE 'I%'"); c != 0 {
			t.Errorf("server %d: %d documents still carry the old key's pseudonyms", i+1, c)
		}
		if c := count(s, "SELECT count() FROM diagnoses_local WHERE patient_key LIKE 'T%' OR patient_key LIKE 'I%'"); c != 0 {
			t.Errorf("server %d: %d diagnoses still carry the old key's pseudonyms", i+1, c)
		}
		if c := count(s, "SELECT count() FROM pseudonym_links"); c == 0 {
			t.Errorf("server %d: no link before forget", i+1)
		}
	}
	if got := count(srv[2], "SELECT uniqExact(patient_key) FROM documents WHERE key_id = 'new'"); got != n {
		t.Errorf("%d patients under the new key through the Distributed table, want %d", got, n)
	}
	if err := srv[3].ForgetLinks(ctx, "old", "new", cluster); err != nil {
		t.Fatal(err)
	}
	for i, s := range srv {
		if c := count(s, "SELECT count() FROM pseudonym_links"); c != 0 {
			t.Errorf("server %d: %d links left after forget", i+1, c)
		}
	}
}

// cluster2x2 makes a fresh database on the four servers of cluster (2
// shards × 2 replicas) with the hub's schema in its cluster form: the
// servers' DSNs, the database and a store on each server.
func cluster2x2(t *testing.T, cluster string) ([]string, string, []*store.Store) {
	t.Helper()
	return cluster2x2Through(t, cluster, 0)
}

// cluster2x2Through is cluster2x2 with the migrations up to version
// through only (0: all).
func cluster2x2Through(t *testing.T, cluster string, through int) ([]string, string, []*store.Store) {
	t.Helper()
	dsns := clusterDSNs(t)
	if len(dsns) < 4 {
		t.Skip("BNDMR_TEST_CH_CLUSTER names two servers: the 2 × 2 layout needs the four of scripts/up-cluster.sh")
	}
	db := clusterDB(t, dsns[0], cluster)
	srv := make([]*store.Store, 4)
	for i := range srv {
		srv[i] = openDB(t, dsns[i], db)
	}
	if _, err := srv[0].MigrateWith(context.Background(), store.MigrateOptions{Cluster: cluster, ShardMacro: "{shard2x2}", Through: through}); err != nil {
		t.Fatal(err)
	}
	return dsns, db, srv
}

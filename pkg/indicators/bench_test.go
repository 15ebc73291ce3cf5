package indicators

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/bndmr/hub/pkg/events"
	figs "github.com/bndmr/hub/pkg/figures"
	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/store"
)

// The national-year benchmark loads synthetic national years straight as
// events.Record values (no XML) through the loader's insert path
// (figures.Keeper's Write and WriteReceipts) and times the analysts'
// queries. Size: BNDMR_BENCH_VERSIONS document versions (default 50,000;
// scripts/bench-store.sh uses 2,000,000 per national year: 800,000
// patients across 150 establishments; 10,000,000 are five years,
// 2022-2026). BNDMR_BENCH_DB names the database (default
// bench_store_<VERSIONS>); it is loaded when it holds fewer versions than
// asked, reused otherwise. BNDMR_BENCH_CLUSTER=bndmr_2x2 loads and queries
// the test cluster (BNDMR_TEST_CH_CLUSTER, its first server) through its
// Distributed tables instead of BNDMR_TEST_CLICKHOUSE. BNDMR_BENCH_YEARS
// spreads the versions over that many years (default one per 2,000,000).

var (
	benchOnce  sync.Once
	benchStore *store.Store
	benchErr   error
)

type benchSize struct{ versions, patients, establishments, years int }

func benchSizes() benchSize {
	v := positiveEnv("BNDMR_BENCH_VERSIONS", 50_000)
	years := positiveEnv("BNDMR_BENCH_YEARS", max(1, (v+1_999_999)/2_000_000))
	return benchSize{versions: v, patients: v * 2 / 5, establishments: 150, years: years}
}

// positiveEnv reads a positive integer from the environment, def when the
// variable is unset or not one.
func positiveEnv(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// benchTarget is where the benchmark loads and queries: the single server,
// or the first server of the test cluster with the cluster form of the
// schema, loaded through its Distributed tables.
type benchTarget struct {
	dsn, cluster, shardMacro string
	servers                  []string // every server holding the database, for its bytes on disk
}

func benchTargetOf() (benchTarget, error) {
	cl := os.Getenv("BNDMR_BENCH_CLUSTER")
	if cl == "" {
		dsn := os.Getenv("BNDMR_TEST_CLICKHOUSE")
		if dsn == "" {
			return benchTarget{}, fmt.Errorf("BNDMR_TEST_CLICKHOUSE not set: run scripts/bench-store.sh")
		}
		return benchTarget{dsn: dsn, servers: []string{dsn}}, nil
	}
	v := os.Getenv("BNDMR_TEST_CH_CLUSTER")
	if v == "" {
		return benchTarget{}, fmt.Errorf("BNDMR_BENCH_CLUSTER=%s but BNDMR_TEST_CH_CLUSTER (its servers) is not set", cl)
	}
	servers := strings.Split(v, ",")
	macro := ""
	if cl == "bndmr_2x2" || cl == "bndmr_2x2_tls" {
		macro = "{shard2x2}" // the test servers' macro for this layout (scripts/up-cluster.sh)
	}
	return benchTarget{dsn: servers[0], cluster: cl, shardMacro: macro, servers: servers}, nil
}

// withDB replaces the database of a DSN (clickhouse://host:port[/db]).
func withDB(dsn, db string) string {
	rest := strings.TrimPrefix(dsn, "clickhouse://")
	if i := strings.Index(rest, "/"); i >= 0 {
		rest = rest[:i]
	}
	return "clickhouse://" + rest + "/" + db
}

func nationalYear(b *testing.B) *store.Store {
	benchOnce.Do(func() {
		benchStore, benchErr = openNationalYear()
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore
}

func openNationalYear() (*store.Store, error) {
	tg, err := benchTargetOf()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	size := benchSizes()
	db := os.Getenv("BNDMR_BENCH_DB")
	if db == "" {
		db = fmt.Sprintf("bench_store_%d", size.versions)
	}
	st, err := store.Open(ctx, withDB(tg.dsn, db))
	var have uint64
	if err == nil {
		// Every version has a receipt.
		err = st.Conn().QueryRow(ctx, "SELECT uniqExact(mail_id, doc_index) FROM receipts").Scan(&have)
		if err != nil || have < uint64(size.versions) {
			st.Close()
		}
	}
	if err != nil || have < uint64(size.versions) {
		if st, err = freshBenchDB(ctx, tg, db); err != nil {
			return nil, err
		}
		// The cluster loads as the loader does there: through the
		// Distributed tables, each insert waiting for the shards.
		lctx := ctx
		if tg.cluster != "" {
			lctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
		}
		start := time.Now()
		rows, err := loadNationalYear(lctx, st, size)
		if err != nil {
			return nil, err
		}
		el := time.Since(start)
		fmt.Printf("bench-store: loaded %d document versions (%d rows in all tables) for %d patients across %d establishments over %d year(s) in %s: %.0f versions/s, %.0f rows/s\n",
			size.versions, rows, size.patients, size.establishments, size.years, el.Round(time.Millisecond),
			float64(size.versions)/el.Seconds(), float64(rows)/el.Seconds())
	} else {
		fmt.Printf("bench-store: reusing %d document versions in %s\n", have, db)
	}
	if err := printBytes(ctx, tg, db, size); err != nil {
		return nil, err
	}
	if err := benchRecount(ctx, st); err != nil {
		return nil, err
	}
	if err := waitMerges(ctx, st, db, 15*time.Minute); err != nil {
		return nil, err
	}
	return st, nil
}

// waitMerges waits until the server the bench talks to merges no part of
// db, for at most limit: the queries are timed on a warehouse at rest, as
// analysts find it, not while the load's parts are still being merged
// (which took the two cores and moved the times by a third from one run
// to the next). It prints how long it waited.
func waitMerges(ctx context.Context, st *store.Store, db string, limit time.Duration) error {
	start := time.Now()
	for {
		var n uint64
		if err := st.Conn().QueryRow(ctx, "SELECT toUInt64(count()) FROM system.merges WHERE database = ?", db).Scan(&n); err != nil {
			return fmt.Errorf("reading the merges of %s: %w", db, err)
		}
		if n == 0 || time.Since(start) > limit {
			fmt.Printf("bench-store: %s waiting for the merges to end (%d still running)\n", time.Since(start).Round(time.Second), n)
			return nil
		}
		time.Sleep(5 * time.Second)
	}
}

// freshBenchDB drops and creates the database, then migrates it (the
// cluster form on a cluster).
func freshBenchDB(ctx context.Context, tg benchTarget, db string) (*store.Store, error) {
	admin, err := store.Open(ctx, withDB(tg.dsn, "default"))
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	on := ""
	if tg.cluster != "" {
		on = " ON CLUSTER " + tg.cluster
	}
	if err := admin.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+db+on); err != nil {
		return nil, fmt.Errorf("dropping %s: %w", db, err)
	}
	if err := admin.Conn().Exec(ctx, "CREATE DATABASE "+db+on); err != nil {
		return nil, fmt.Errorf("creating %s: %w", db, err)
	}
	st, err := store.Open(ctx, withDB(tg.dsn, db))
	if err != nil {
		return nil, err
	}
	if _, err := st.MigrateWith(ctx, store.MigrateOptions{Cluster: tg.cluster, ShardMacro: tg.shardMacro}); err != nil {
		return nil, err
	}
	return st, nil
}

// printBytes reports the bytes on disk of the database's active parts, on
// every server that holds it, per version loaded.
func printBytes(ctx context.Context, tg benchTarget, db string, size benchSize) error {
	var total uint64
	for _, dsn := range tg.servers {
		s, err := store.Open(ctx, withDB(dsn, "default"))
		if err != nil {
			return err
		}
		var n uint64
		err = s.Conn().QueryRow(ctx, "SELECT toUInt64(sum(bytes_on_disk)) FROM system.parts WHERE active AND database = ?", db).Scan(&n)
		s.Close()
		if err != nil {
			return fmt.Errorf("bytes on disk of %s: %w", db, err)
		}
		total += n
	}
	fmt.Printf("bench-store: %s on %d server(s): %d bytes on disk, %.0f bytes per version (all copies)\n",
		db, len(tg.servers), total, float64(total)/float64(size.versions))
	return nil
}

// pseudonym stands for the hub's keys of patients, documents and mails,
// which are 64 hex digits (HMAC-SHA256 in pseudonymisation, SHA-256 in
// mailbox.Message.ID): the length every distinct count and per-patient
// grouping hashes and compares, and what the disk holds. (Shorter keys made
// the load 1.4 times faster and the bytes per version 3.7 times fewer than
// the hub's own.)
func pseudonym(kind string, i int) string {
	sum := sha256.Sum256([]byte(kind + "/" + strconv.Itoa(i)))
	return hex.EncodeToString(sum[:])
}

// loadNationalYear generates one set per patient with 1 to 4 versions over
// size.years years ending with 2026 (about 6 % of versions never sent, 2 %
// rejected), one diagnosis with a skewed ORPHA code, one care episode;
// declared counts for a third of the establishments. It returns the rows
// written.
func loadNationalYear(ctx context.Context, st *store.Store, size benchSize) (int, error) {
	rng := rand.New(rand.NewPCG(2026, 6))
	paris := store.Paris()
	const batch = 50_000
	type job struct {
		recs []events.Record
		outs []events.MailOutcome
	}
	// The references first, as a deployment imports them before the
	// hospitals send: the centres' import asks for a recount, which the
	// keeper does at its first batch (of an empty store).
	ests, centres := benchReferences(size)
	if err := st.InsertEstablishments(ctx, ests); err != nil {
		return 0, err
	}
	if err := st.InsertCentres(ctx, centres); err != nil {
		return 0, err
	}
	kept := figs.NewKeeper(st)
	jobs := make(chan job, 2)
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := kept.Write(ctx, j.recs); err != nil {
					errc <- err
					return
				}
				if err := kept.WriteReceipts(ctx, j.outs); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	rows := 0
	var cur job
	flush := func() bool {
		select {
		case err := <-errc:
			errc <- err
			return false
		case jobs <- cur:
		}
		cur = job{recs: make([]events.Record, 0, batch), outs: make([]events.MailOutcome, 0, batch+batch/10)}
		return true
	}
	orpha := make([]string, 3000)
	for i := range orpha {
		orpha[i] = strconv.Itoa(100 + i*7)
	}
	zipf := rand.NewZipf(rng, 1.1, 8, uint64(len(orpha)-1))
	deps := []string{"75", "69", "13", "31", "33", "59", "67", "44", "974", "2A", "06", "35", "34", "38", "76"}
	versions := 0
	yes := true
	// made[establishment][month since the first]: versions updated in the
	// DPI, sent or not, which is what a declaring establishment declares.
	years := max(1, size.years) // none said: one
	first := 2027 - years
	made := make([][]uint32, size.establishments)
	for i := range made {
		made[i] = make([]uint32, 12*years)
	}
	days := 365 * years
	cur.recs, cur.outs = make([]events.Record, 0, batch), make([]events.MailOutcome, 0, batch+batch/10)
	for p := 0; versions < size.versions; p++ {
		est := p % size.establishments
		finess := fmt.Sprintf("%02d00%05d", 1+est%95, est)
		set := fmt.Sprintf("1.2.250.1.71.4.2.7.%d.%d", est, p) // an establishment's OID and a number, as hospitals send
		pk := pseudonym("traits", p%size.patients)
		code := orpha[zipf.Uint64()]
		n := 1 + rng.IntN(4)
		day := rng.IntN(days - 65)
		for v := 1; v <= n && versions < size.versions; v++ {
			day = min(day+1+rng.IntN(20), days-1)
			t := time.Date(first, 1, 1, 10, 0, 0, 0, paris).AddDate(0, 0, day)
			made[est][(t.Year()-first)*12+int(t.Month())-1]++
			if rng.IntN(100) < 6 {
				continue // updated in the DPI, never sent
			}
			ts := t.Format("20060102150405-0700")
			mail := pseudonym("mail", p*8+v) // a SHA-256 in hex, as mailbox.Message.ID
			versions++
			if rng.IntN(100) < 2 {
				cur.outs = append(cur.outs, events.MailOutcome{V: events.OutcomeV, MailID: mail, ReceivedAt: t, Documents: []events.DocumentOutcome{{
					Name: "doc.xml", FINESS: finess, SetID: set, VersionNumber: v, EffectiveTime: ts,
					Rejection: &events.Rejection{Code: []string{"schematron", "xsd", "ins_absent"}[rng.IntN(3)], CISIS: 906, Reason: "synthetic"}}}})
				rows += 2 // receipts, versions
				continue
			}
			r := events.Record{V: events.RecordV, MailID: mail, FINESS: finess, SetID: set, VersionNumber: v, EffectiveTime: ts,
				ReceivedAt: t, KeyID: "bench", DocumentKey: mail, PatientTraitsPseudonym: pk, PatientINSPseudonym: pseudonym("ins", p%size.patients),
				Sex: []string{"F", "M"}[p%2], BirthYearMonth: fmt.Sprintf("%d-%02d", 1940+p%85, 1+p%12), ResidenceDepartement: deps[p%len(deps)],
				Diagnoses: []sdmmr.RecordDiagnosis{{Key: "d", Disease: &sdmmr.Code{Code: code, System: "1.2.250.1.213.2.49.1"},
					OnsetAge: &sdmmr.Quantity{Value: float64(p % 40), Unit: "a"}, ClinicalDiagnosisAge: &sdmmr.Quantity{Value: float64(p%40 + p%7), Unit: "a"}}},
				CareEpisodes: []sdmmr.RecordCareEpisode{{Key: "c", SiteCode: fmt.Sprintf("S%03d-%d", est, p%3), OutsideLabelling: nil}},
			}
			if p%997 == 0 {
				r.Deceased = &yes
			}
			if p%5 == 0 { // a genetic diagnosis for one patient in five
				r.Diagnoses[0].GeneticDiagnosisAge = &sdmmr.Quantity{Value: float64(p%40 + p%11), Unit: "a"}
			}
			cur.recs = append(cur.recs, r)
			cur.outs = append(cur.outs, events.MailOutcome{V: events.OutcomeV, MailID: mail, ReceivedAt: t, Documents: []events.DocumentOutcome{{
				Name: "doc.xml", FINESS: finess, SetID: set, VersionNumber: v, EffectiveTime: ts, Accepted: true}}})
			rows += 7 // documents, patients, diagnoses, care_episodes, receipts, versions ×2
			if len(cur.recs) >= batch {
				if !flush() {
					break
				}
			}
		}
	}
	if len(cur.recs)+len(cur.outs) > 0 {
		flush()
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errc:
		return rows, err
	default:
	}
	var decl []store.DPIUpdates
	for est := range size.establishments {
		finess := fmt.Sprintf("%02d00%05d", 1+est%95, est)
		if est%3 == 0 {
			for m := range 12 * years {
				decl = append(decl, store.DPIUpdates{FINESS: finess, Month: time.Date(first+m/12, time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC),
					Count: made[est][m]})
			}
		}
	}
	return rows, st.InsertDPIUpdates(ctx, "csv", decl)
}

// benchReferences are the establishments and their three centres each.
func benchReferences(size benchSize) ([]store.Establishment, []store.Centre) {
	var ests []store.Establishment
	var centres []store.Centre
	for est := range size.establishments {
		finess := fmt.Sprintf("%02d00%05d", 1+est%95, est)
		ests = append(ests, store.Establishment{FINESS: finess, Name: fmt.Sprintf("Établissement synthétique %d", est)})
		for c := range 3 {
			centres = append(centres, store.Centre{FINESS: finess, CentreID: fmt.Sprintf("S%03d-%d", est, c), Filiere: fmt.Sprintf("F%d", est%23),
				Type: "competence", From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
		}
	}
	return ests, centres
}

// benchRecount times what a loader taking over does before its first
// batch: the current state of every file read and counted again, and the
// memory the keeper then holds.
func benchRecount(ctx context.Context, st *store.Store) error {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	k := figs.NewKeeper(st)
	start := time.Now()
	if err := k.Rebuild(ctx); err != nil {
		return err
	}
	el := time.Since(start)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	fmt.Printf("bench-store: a loader taking over counts the figures again in %s; its keeper then holds %.0f MiB (Go heap)\n",
		el.Round(time.Millisecond), float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20))
	runtime.KeepAlive(k)
	return nil
}

// benchQuery runs q b.N times (-benchtime 5x in scripts/bench-store.sh)
// and reports the median duration as s/median (the mean, ns/op, moves
// with one slow run on a shared machine).
func benchQuery(b *testing.B, q func(ctx context.Context, x *Indicators) (int, error)) {
	x := New(nationalYear(b))
	ctx := context.Background()
	var took []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		n, err := q(ctx, x)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatal("no row")
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(took[len(took)/2].Seconds(), "s/median")
}

// BenchmarkNationalYearMR2 times MR.2 of every establishment for one month.
func BenchmarkNationalYearMR2(b *testing.B) {
	p, _ := MonthPeriod("2026-10")
	benchQuery(b, func(ctx context.Context, x *Indicators) (int, error) {
		rows, err := x.MR2(ctx, p, "")
		return len(rows), err
	})
}

// BenchmarkNationalYearMR2Year times MR.2 of every establishment for 2026.
func BenchmarkNationalYearMR2Year(b *testing.B) {
	p, _ := ParsePeriod("2026-01", "2026-12")
	benchQuery(b, func(ctx context.Context, x *Indicators) (int, error) {
		rows, err := x.MR2(ctx, p, "")
		return len(rows), err
	})
}

// BenchmarkNationalYearMR1Year times MR.1 of every establishment for 2026.
func BenchmarkNationalYearMR1Year(b *testing.B) {
	p, _ := ParsePeriod("2026-01", "2026-12")
	benchQuery(b, func(ctx context.Context, x *Indicators) (int, error) {
		rows, err := x.MR1(ctx, p, "")
		return len(rows), err
	})
}

// BenchmarkNationalYearORPHAPrevalence times patients by ORPHA code on the
// current state of every file.
func BenchmarkNationalYearORPHAPrevalence(b *testing.B) {
	benchQuery(b, func(ctx context.Context, x *Indicators) (int, error) {
		top, err := x.TopORPHA(ctx, 3000, 10)
		return len(top), err
	})
}

// BenchmarkNationalYearEpidemiology times every epidemiology table and
// distribution, small counts suppressed (what /epidemiology serves).
func BenchmarkNationalYearEpidemiology(b *testing.B) {
	benchQuery(b, func(ctx context.Context, x *Indicators) (int, error) {
		e, err := x.Epidemiology(ctx, 10)
		if err != nil {
			return 0, err
		}
		return len(e.Tables), nil
	})
}

// BenchmarkNationalYearReception times one establishment's reception
// report for 2026.
func BenchmarkNationalYearReception(b *testing.B) {
	p, _ := ParsePeriod("2026-01", "2026-12")
	benchQuery(b, func(ctx context.Context, x *Indicators) (int, error) {
		r, err := x.Reception(ctx, "010000000", p) // establishment 0
		if err != nil {
			return 0, err
		}
		return int(r.Documents), nil
	})
}

// BenchmarkNationalYearEpidemiologyStatements times each statement of the
// epidemiology on its own: where BenchmarkNationalYearEpidemiology's time
// goes.
func BenchmarkNationalYearEpidemiologyStatements(b *testing.B) {
	for _, s := range epiStatements() {
		b.Run(strings.TrimPrefix(s.Name, "indicators.epi_"), func(b *testing.B) {
			benchQuery(b, func(ctx context.Context, x *Indicators) (int, error) {
				n := 0
				err := x.st.Each(ctx, s, nil, func(store.Scanner) error { n++; return nil })
				return n, err
			})
		})
	}
}

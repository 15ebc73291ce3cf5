package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/bndmr/hub/pkg/chddl"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/store/storetest"
)

// repartition is the migration that rebuilds documents and receipts with
// yearly partitions.
const repartition = 15

// rebuild is a migration that makes tables again under their names (rename,
// create, copy; the old tables dropped by the next migration), and what the
// tables are once every migration has run (0018 sorts receipts again after
// 0015).
type rebuild struct {
	version    int
	statements int
	// keys: "table: partition key; sorting key" of each table rebuilt.
	keys []string
	old  string // LIKE pattern of the renamed tables
}

var rebuilds = []rebuild{
	{version: repartition, statements: 6, old: "%_0014",
		keys: []string{"documents: toYear(effective_date); finess, set_id, version_number", "receipts: toYear(effective_date); finess, mail_id, doc_index"}},
	{version: 18, statements: 3, old: "%_0017",
		keys: []string{"receipts: toYear(effective_date); finess, mail_id, doc_index"}},
	{version: 20, statements: 9, old: "%_0019",
		keys: []string{"activities: toYear(effective_date); finess, set_id, version_number, ordinal",
			"care_episodes: toYear(effective_date); finess, set_id, version_number, ordinal",
			"diagnoses: toYear(effective_date); finess, set_id, version_number, ordinal"}},
}

// TestRebuildMigrations: each rebuild on a store loaded before it, once
// with the loader writing while it runs, and once stopped after each of its
// statements and run again: every row is kept (the figures are those of a
// store made with the new tables and loaded with the same rows), the tables
// have their new keys, and the old tables are gone.
func TestRebuildMigrations(t *testing.T) {
	ctx := context.Background()
	recs, outs := generate(12, 600)
	ref := storetest.Store(t, "test_repartition_ref")
	refs(t, ctx, ref)
	insertAll(t, ctx, ref, recs, outs)
	want := figuresOf(t, ref)

	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, rb := range rebuilds {
		var stmts []string
		for _, m := range ms {
			if m.Version == rb.version {
				stmts = chddl.SplitStatements(m.SQL)
			}
		}
		if len(stmts) != rb.statements {
			t.Fatalf("migration %d has %d statements, want %d (rename, create, copy, per table)", rb.version, len(stmts), rb.statements)
		}

		t.Run(fmt.Sprintf("%d: loader writing during the migration", rb.version), func(t *testing.T) {
			s := loaded(t, rb.version-1)
			insertAll(t, ctx, s, recs[:len(recs)/2], outs[:len(outs)/2])
			var migrating atomic.Bool
			migrating.Store(true)
			during := make(chan int)
			go func() {
				n := 0
				rr, oo := recs[len(recs)/2:], outs[len(outs)/2:]
				for len(rr) > 0 || len(oo) > 0 {
					a, b := min(20, len(rr)), min(20, len(oo))
					retryInsert(t, s, rr[:a], oo[:b])
					rr, oo = rr[a:], oo[b:]
					if migrating.Load() {
						n++
					}
				}
				during <- n
			}()
			if _, err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			migrating.Store(false)
			t.Logf("%d batches written while the migration ran", <-during)
			checkRebuilt(t, s, rb, want)
		})

		for stop := 1; stop <= len(stmts); stop++ {
			t.Run(fmt.Sprintf("%d: stopped after statement %d, run again", rb.version, stop), func(t *testing.T) {
				s := loaded(t, rb.version-1)
				insertAll(t, ctx, s, recs, outs)
				for _, st := range stmts[:stop] {
					if err := s.Conn().Exec(ctx, st); err != nil {
						t.Fatalf("%.60s: %v", st, err)
					}
				}
				if _, err := s.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
				checkRebuilt(t, s, rb, want)
			})
		}
	}
}

func insertAll(t *testing.T, ctx context.Context, s *store.Store, recs []events.Record, outs []events.MailOutcome) {
	t.Helper()
	if err := s.InsertDocuments(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertReceipts(ctx, outs); err != nil {
		t.Fatal(err)
	}
}

// loaded is a store at migration through, with the reference tables (the
// figures need them).
func loaded(t *testing.T, through int) *store.Store {
	t.Helper()
	s := storetest.Open(t, "test_repartition")
	if _, err := s.MigrateWith(context.Background(), store.MigrateOptions{Through: through}); err != nil {
		t.Fatal(err)
	}
	refs(t, context.Background(), s)
	return s
}

// retryInsert writes a batch as the loader does: again and again until it
// is in (the stage runtime redelivers a batch whose insert failed), for at
// most 30 s. While a table is renamed away and made again, an insert fails.
func retryInsert(t *testing.T, s *store.Store, recs []events.Record, outs []events.MailOutcome) {
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.InsertDocuments(ctx, recs)
		if err == nil {
			err = s.InsertReceipts(ctx, outs)
		}
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("a batch still failed after 30 s: %v", err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkRebuilt: the tables rb rebuilt have their keys, its old tables are
// gone, and the figures are want.
func checkRebuilt(t *testing.T, s *store.Store, rb rebuild, want figures) {
	t.Helper()
	var names []string
	for _, k := range rb.keys {
		name, _, _ := strings.Cut(k, ":")
		names = append(names, "'"+name+"'")
	}
	got := storetest.Column(t, s, `SELECT concat(name, ': ', partition_key, '; ', sorting_key) FROM system.tables
		WHERE database = currentDatabase() AND name IN (`+strings.Join(names, ", ")+`) ORDER BY name`)
	if fmt.Sprint(got) != fmt.Sprint(rb.keys) {
		t.Errorf("keys: %q, want %q", got, rb.keys)
	}
	if old := storetest.Column(t, s, `SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE '`+rb.old+`'`); len(old) > 0 {
		t.Errorf("tables left: %q", old)
	}
	compareFigures(t, "after the migration", figuresOf(t, s), want)
}

// TestClusterYearlyPartitions: the cluster form of migration 0015 on a 2 × 2
// cluster loaded before it, stopped after the rename of documents and run
// again through the last migration (0018 rebuilds receipts again): every
// server's figures are those of one server loaded with the same rows, and
// each shard's tables have their keys.
func TestClusterYearlyPartitions(t *testing.T) {
	ctx := context.Background()
	const cluster = "bndmr_2x2"
	_, db, srv := cluster2x2Through(t, cluster, repartition-1)
	one := storetest.Store(t, "test_repartition_ref")
	recs, outs := generate(12, 600)
	sync := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	for _, s := range []*store.Store{one, srv[0]} {
		refs(t, ctx, s)
		insertAll(t, sync, s, recs, outs)
	}

	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	forms, err := store.ClusterStatements(ms, cluster, db, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.Version != repartition {
			continue
		}
		// The rename of documents: the _local tables, the Distributed
		// table dropped, the renamed one's made.
		for _, st := range forms[i][:3] {
			if !strings.Contains(st, "documents") {
				t.Fatalf("not a statement of the rename of documents: %s", st)
			}
			if err := srv[0].Conn().Exec(ctx, st); err != nil {
				t.Fatalf("%s: %v", st, err)
			}
		}
	}
	if _, err := srv[0].MigrateWith(ctx, store.MigrateOptions{Cluster: cluster, ShardMacro: "{shard2x2}"}); err != nil {
		t.Fatal(err)
	}
	waitInStep(t, one, srv)
	want := figuresOf(t, one)
	for i, s := range srv {
		got := storetest.Column(t, s, `SELECT concat(name, ': ', partition_key, '; ', sorting_key) FROM system.tables
			WHERE database = currentDatabase() AND name IN ('documents_local', 'receipts_local') ORDER BY name`)
		if want := "[documents_local: toYear(effective_date); finess, set_id, version_number receipts_local: toYear(effective_date); finess, mail_id, doc_index]"; fmt.Sprint(got) != want {
			t.Errorf("server %d, keys: %q, want %q", i+1, got, want)
		}
		if old := storetest.Column(t, s, `SELECT name FROM system.tables WHERE database = currentDatabase() AND (name LIKE '%_0014%' OR name LIKE '%_0017%')`); len(old) > 0 {
			t.Errorf("server %d, tables left: %q", i+1, old)
		}
		compareFigures(t, fmt.Sprintf("server %d", i+1), figuresOf(t, s), want)
	}
}

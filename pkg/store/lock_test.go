package store

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/chtest"
)

// reopen opens another connection to the database of s, as a second
// migrator (another loader replica) would.
func reopen(t *testing.T, s *Store) *Store {
	t.Helper()
	o := *s.opts
	other, err := OpenWith(context.Background(), "clickhouse://"+o.Addr[0]+"/"+s.db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return other
}

// migrateConcurrently runs migrate on every store at once and returns what
// each applied.
func migrateConcurrently(t *testing.T, stores []*Store, migrate func(*Store) ([]string, error)) [][]string {
	t.Helper()
	applied := make([][]string, len(stores))
	errs := make([]error, len(stores))
	var start, wg sync.WaitGroup
	start.Add(1)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			applied[i], errs[i] = migrate(s)
		}()
	}
	start.Done()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return applied
}

// checkAppliedOnce: the migrators together applied every migration exactly
// once, schema_migrations records each once, and the lock is released.
func checkAppliedOnce(t *testing.T, s *Store, applied [][]string) {
	t.Helper()
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var all, want []string
	for i, a := range applied {
		t.Logf("migrator %d applied %d migrations", i+1, len(a))
		all = append(all, a...)
	}
	for _, m := range ms {
		want = append(want, m.Name)
	}
	sort.Strings(all)
	if !slices.Equal(all, want) {
		t.Errorf("the migrators applied %v together, want each of %v once", all, want)
	}
	ctx := context.Background()
	// Rows, not versions: a second record of a version is a second row
	// until a merge, and no merge runs on a table this young.
	var rows, versions uint64
	if err := s.conn.QueryRow(ctx, "SELECT count(), uniqExact(version) FROM schema_migrations").Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != uint64(len(ms)) || versions != uint64(len(ms)) {
		t.Errorf("schema_migrations: %d rows for %d versions, want %d of each", rows, versions, len(ms))
	}
	if _, held, err := s.lockAge(ctx); err != nil || held {
		t.Errorf("migration lock still held after the migrations (err %v)", err)
	}
}

// TestMigrationLockTwoMigrators: two migrators started at once on the real
// server (two loader replicas) apply each migration once between them.
func TestMigrationLockTwoMigrators(t *testing.T) {
	s := testStore(t)
	stores := []*Store{s, reopen(t, s), reopen(t, s)}
	applied := migrateConcurrently(t, stores, func(s *Store) ([]string, error) { return s.Migrate(context.Background()) })
	checkAppliedOnce(t, s, applied)
}

// TestMigrationLockWaitsForAHolder: a fresh lock makes a migrator wait (and
// say so) until its context ends; a stale one is taken over.
func TestMigrationLockWaitsForAHolder(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	if err := s.Exec(ctx, takeMigrationLock); err != nil {
		t.Fatal(err)
	}
	waited := false
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := reopen(t, s).MigrateWith(short, MigrateOptions{Waiting: func(time.Duration) { waited = true }})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "migration lock") || !waited {
		t.Fatalf("with the lock held: waited %v, error %v; want a wait ended by the deadline", waited, err)
	}
	if _, held, _ := s.lockAge(ctx); !held {
		t.Fatal("the waiting migrator released a lock it did not hold")
	}
	// The holder died: its lock is two seconds old, the TTL one. One
	// migrator: with a TTL shorter than the migrations (under load, more
	// than a second), a second migrator would take the lock of the first
	// over too, which is why the TTL is 15 minutes (docs/operations.md).
	time.Sleep(2100 * time.Millisecond)
	applied, err := reopen(t, s).MigrateWith(ctx, MigrateOptions{LockTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	checkAppliedOnce(t, s, [][]string{applied})
}

// TestMigrationLockTwoMigratorsOnCluster: two migrators of the cluster form
// started at once through different servers of cluster bndmr (1 shard × 2
// replicas) apply each migration once: the lock and the record are on the
// first replica.
func TestMigrationLockTwoMigratorsOnCluster(t *testing.T) {
	dsns := chtest.ClusterDSNs(t)
	ctx := context.Background()
	const cluster = "bndmr"
	_, db := chtest.ClusterDatabase(t, dsns[0], cluster, "h21ops_lock")
	var stores []*Store
	for _, dsn := range []string{dsns[1], dsns[0]} {
		st, err := Open(ctx, chtest.WithDatabase(t, dsn, db))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores = append(stores, st)
	}
	applied := migrateConcurrently(t, stores, func(s *Store) ([]string, error) {
		return s.MigrateWith(ctx, MigrateOptions{Cluster: cluster})
	})
	node, err := stores[0].lockNode(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	checkAppliedOnce(t, node, applied)
}

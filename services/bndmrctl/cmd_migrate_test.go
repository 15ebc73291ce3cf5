package main

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/chtest"
	"github.com/bndmr/hub/pkg/store"
)

// tablesOf returns the tables (and views) of db on the server of dsn, by
// name, with their engine.
func tablesOf(t *testing.T, dsn, db string) map[string]string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, chtest.WithDatabase(t, dsn, db))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Conn().Query(ctx, "SELECT name, engine FROM system.tables WHERE database = ?", db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			t.Fatal(err)
		}
		out[name] = engine
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// migrationNames are the names of the embedded migrations, in order.
func migrationNames(t *testing.T) []string {
	t.Helper()
	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	return names
}

// migratedSingle migrates a fresh database of the single server with
// bndmrctl and returns its tables: the reference the cluster's are read
// against.
func migratedSingle(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	dsn := chtest.DSN(t)
	dbDSN, db := chtest.DatabaseOn(t, dsn, "test_ctl_migrate")
	args := []string{"migrate", "--clickhouse", dbDSN}
	ctlCase{args: args, errOut: "bndmrctl migrate: applied " + strings.Join(migrationNames(t), ", ") + "\n"}.run(t, ctx)
	ctlCase{args: args, errOut: "bndmrctl migrate: the schema is up to date\n"}.run(t, ctx)
	return tablesOf(t, dsn, db)
}

// TestMigrate: `bndmrctl migrate` on the single server applies every
// migration once and says so, then finds nothing to do; --list prints the
// migrations; what it made is every table the migrations create.
func TestMigrate(t *testing.T) {
	names := migrationNames(t)
	out, _ := ctlCase{args: []string{"migrate", "--list"}}.run(t, context.Background())
	if got := strings.Fields(out); strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("migrate --list printed %q, want %q", got, names)
	}
	ctlCase{args: []string{"migrate", "--clickhouse-shard-macro", "{shard}"}, want: 2, errOut: "usage: bndmrctl migrate"}.run(t, context.Background())

	tables := migratedSingle(t)
	if tables["schema_migrations"] == "" {
		t.Error("no schema_migrations table")
	}
	// Every table and view a migration creates is there, in no cluster form.
	for _, name := range createdBy(t) {
		if tables[name] == "" {
			t.Errorf("table %s, created by the migrations, is missing (tables: %v)", name, tables)
		}
	}
	for name, engine := range tables {
		if strings.HasPrefix(engine, "Replicated") || engine == "Distributed" || strings.HasSuffix(name, "_local") {
			t.Errorf("table %s (%s) on a single server", name, engine)
		}
	}
}

// createdBy lists the tables and views the migrations create (CREATE …
// IF NOT EXISTS name), those a later migration drops left out.
func createdBy(t *testing.T) []string {
	t.Helper()
	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	create := regexp.MustCompile(`(?i)^CREATE\s+(?:MATERIALIZED\s+)?(?:TABLE|VIEW)\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)`)
	drop := regexp.MustCompile(`(?i)^DROP\s+(?:TABLE|VIEW)\s+(?:IF\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)`)
	made := map[string]bool{}
	for _, m := range ms {
		var lines []string // the migration without its comment lines (some hold a ';')
		for _, l := range strings.Split(m.SQL, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				lines = append(lines, l)
			}
		}
		for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";") {
			stmt = strings.TrimSpace(stmt)
			if c := create.FindStringSubmatch(stmt); c != nil {
				made[c[1]] = true
			}
			if d := drop.FindStringSubmatch(stmt); d != nil {
				delete(made, d[1])
			}
		}
	}
	var out []string
	for n := range made {
		out = append(out, n)
	}
	sort.Strings(out)
	if len(out) < 5 {
		t.Fatalf("only %d tables found in the migrations: %v", len(out), out)
	}
	return out
}

// TestMigrateCluster: `bndmrctl migrate --clickhouse-cluster bndmr_2x2` from one server
// makes the cluster form on all four (2 shards × 2 replicas): each table of
// the single server is, on every server, either replicated everywhere or
// sharded (a replicated NAME_local under a Distributed NAME); the replicas
// of a shard share their ZooKeeper path and the shards do not. Run again
// from another server, it finds the migrations recorded.
func TestMigrateCluster(t *testing.T) {
	dsns := chtest.ClusterDSNs(t)
	if len(dsns) != 4 {
		t.Skipf("BNDMR_TEST_CH_CLUSTER names %d servers: the 2 × 2 layout needs the four of scripts/up-cluster.sh", len(dsns))
	}
	single := migratedSingle(t)
	const cluster = "bndmr_2x2"
	_, db := chtest.ClusterDatabase(t, dsns[0], cluster, "test_ctl_migrate")
	ctx := context.Background()
	flags := []string{"--clickhouse-cluster", cluster, "--clickhouse-shard-macro", "{shard2x2}"}
	ctlCase{args: append([]string{"migrate", "--clickhouse", chtest.WithDatabase(t, dsns[0], db)}, flags...),
		errOut: "bndmrctl migrate: applied " + strings.Join(migrationNames(t), ", ") + "\n"}.run(t, ctx)
	ctlCase{args: append([]string{"migrate", "--clickhouse", chtest.WithDatabase(t, dsns[2], db)}, flags...),
		errOut: "bndmrctl migrate: the schema is up to date\n"}.run(t, ctx)

	first := tablesOf(t, dsns[0], db)
	for i, dsn := range dsns {
		got := tablesOf(t, dsn, db)
		if fmt.Sprint(got) != fmt.Sprint(first) {
			t.Errorf("server %d has the tables\n%v\nserver 1\n%v", i+1, got, first)
		}
	}
	sharded := 0
	for name, engine := range single {
		switch local := first[name+"_local"]; {
		case engine == "View" || engine == "MaterializedView":
			if first[name] != engine {
				t.Errorf("view %s: %q on the cluster", name, first[name])
			}
		case local != "":
			sharded++
			if first[name] != "Distributed" || local != "Replicated"+engine {
				t.Errorf("sharded table %s: %s over %s_local %s, want Distributed over Replicated%s", name, first[name], name, local, engine)
			}
		case first[name] != "Replicated"+engine:
			t.Errorf("table %s: %q on the cluster, want Replicated%s (on every server)", name, first[name], engine)
		}
	}
	if sharded == 0 || len(first) != len(single)+sharded {
		t.Errorf("%d tables on the cluster for %d on one server, %d of them sharded: some are not explained\n%v", len(first), len(single), sharded, first)
	}
	// The replication groups: one per shard of bndmr_2x2.
	path := func(dsn string) string {
		st, err := store.Open(ctx, chtest.WithDatabase(t, dsn, db))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var p string
		if err := st.Conn().QueryRow(ctx, "SELECT zookeeper_path FROM system.replicas WHERE database = ? AND table = 'documents_local'", db).Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := []string{path(dsns[0]), path(dsns[1]), path(dsns[2]), path(dsns[3])}
	if p[0] != p[1] || p[2] != p[3] || p[0] == p[2] {
		t.Errorf("ZooKeeper paths of documents_local on the four servers: %q: want the replicas of a shard together, the shards apart", p)
	}
}

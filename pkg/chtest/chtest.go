// Package chtest gives a test its own ClickHouse database on the server the
// test environment started (BNDMR_TEST_CLICKHOUSE, `make up`), dropped when
// the test ends. It is test support: only _test.go files import it.
//
// It does not import pkg/store, so that store's own tests can use it;
// pkg/store/storetest adds the migrated store most tests want.
package chtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/bndmr/hub/pkg/chdb"
	"github.com/bndmr/hub/pkg/testsupport"
)

// EnvDSN names the test server's DSN, its default database last
// ("clickhouse://127.0.0.1:19000/default").
const EnvDSN = "BNDMR_TEST_CLICKHOUSE"

// DSN is the test server's DSN; without it the test is skipped.
func DSN(t testing.TB) string {
	t.Helper()
	return testsupport.Env(t, EnvDSN, "ClickHouse")
}

// Database creates an empty database, prefix_<test name>_<nanoseconds>, on
// the test server and returns its DSN and its name. It is dropped when the
// test ends.
func Database(t testing.TB, prefix string) (dsn, name string) {
	t.Helper()
	return DatabaseOn(t, DSN(t), prefix)
}

// DatabaseOn is Database on the server of the DSN server (its database
// last, as "…/default"): another server of a test topology.
func DatabaseOn(t testing.TB, server, prefix string) (dsn, name string) {
	t.Helper()
	return database(t, server, "", prefix)
}

// EnvCluster names the test cluster's servers, their DSNs comma-separated
// ("clickhouse://127.0.0.1:19101,clickhouse://127.0.0.1:19102,…").
const EnvCluster = "BNDMR_TEST_CH_CLUSTER"

// ClusterDSNs are the DSNs of the test cluster's servers (`make
// test-cluster`); without them the test is skipped.
func ClusterDSNs(t testing.TB) []string {
	t.Helper()
	v := os.Getenv(EnvCluster)
	if v == "" {
		t.Skipf("%s not set: run `make test-cluster`, which starts the cluster", EnvCluster)
	}
	return strings.Split(v, ",")
}

// ClusterDatabase is DatabaseOn for a whole cluster: the database is
// created, and dropped when the test ends, ON CLUSTER cluster through the
// server of the DSN server; the DSN returned reaches it on that server.
func ClusterDatabase(t testing.TB, server, cluster, prefix string) (dsn, name string) {
	t.Helper()
	return database(t, server, cluster, prefix)
}

func database(t testing.TB, server, cluster, prefix string) (dsn, name string) {
	t.Helper()
	opts, err := clickhouse.ParseDSN(server)
	if err != nil {
		t.Fatalf("the test ClickHouse DSN: %v", err)
	}
	admin, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatalf("connecting to the test ClickHouse: %v", err)
	}
	name = fmt.Sprintf("%s_%s_%d", prefix, identPart(t.Name()), time.Now().UnixNano())
	on, ctx := "", context.Background()
	if cluster != "" {
		on = " ON CLUSTER " + cluster
		// An ON CLUSTER statement waits for every server: 30 s, not 180,
		// before saying that one does not answer.
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"distributed_ddl_task_timeout": 30}))
	}
	create, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := admin.Exec(create, "CREATE DATABASE "+name+on); err != nil {
		admin.Close()
		t.Fatalf("creating the test database %s%s: %v", name, on, err)
	}
	t.Cleanup(func() {
		_ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+on)
		admin.Close()
	})
	return WithDatabase(t, server, name), name
}

// WithDatabase is the DSN dsn with the database db instead of its own (or
// of none): the same server, user and settings (secure, timeouts…).
func WithDatabase(t testing.TB, dsn, db string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("the test ClickHouse DSN: %v", err)
	}
	u.Path = "/" + db
	return u.String()
}

// identPart makes a test name usable in a bare identifier: lower case,
// anything but letters and digits replaced, at most 40 characters.
func identPart(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}

// ChDB opens the in-process ClickHouse of the version production runs
// (pkg/chdb, BNDMR_CHDB_LIB) on a folder of the test's; it is closed when
// the test ends. Without the library the test fails: it does not skip.
func ChDB(t testing.TB) *chdb.Engine {
	t.Helper()
	lib, err := chdb.LibFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	e, err := chdb.Open(lib, "--path="+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

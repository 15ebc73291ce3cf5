package chtest

import (
	"context"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// The DSN Database returns reaches the new database, and the database is
// gone once the test that made it has ended.
func TestDatabase(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		var dsn string
		dsn, name = Database(t, "test_chtest")
		if !strings.HasPrefix(name, "test_chtest_testdatabase_inner_") {
			t.Errorf("database %q: want the prefix and the test's name", name)
		}
		if got := queryString(t, dsn, "SELECT currentDatabase()"); got != name {
			t.Errorf("the DSN's database is %q, want %q", got, name)
		}
	})
	if got := queryString(t, DSN(t), "SELECT toString(count()) FROM system.databases WHERE name = '"+name+"'"); got != "0" {
		t.Errorf("%s still exists after its test ended", name)
	}
}

func queryString(t *testing.T, dsn, q string) string {
	t.Helper()
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var s string
	if err := conn.QueryRow(context.Background(), q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

// ClusterDatabase makes the database on every server of the cluster and
// drops it from every one when the test ends.
func TestClusterDatabase(t *testing.T) {
	servers := ClusterDSNs(t)
	var name string
	t.Run("inner", func(t *testing.T) {
		var dsn string
		dsn, name = ClusterDatabase(t, servers[0], "bndmr", "test_chtest")
		if got := queryString(t, dsn, "SELECT currentDatabase()"); got != name {
			t.Errorf("the DSN's database is %q, want %q", got, name)
		}
		for _, s := range servers[:2] { // the two servers of cluster bndmr
			if got := queryString(t, s, "SELECT toString(count()) FROM system.databases WHERE name = '"+name+"'"); got != "1" {
				t.Errorf("%s not on %s", name, s)
			}
		}
	})
	for _, s := range servers[:2] {
		if got := queryString(t, s, "SELECT toString(count()) FROM system.databases WHERE name = '"+name+"'"); got != "0" {
			t.Errorf("%s still on %s after its test ended", name, s)
		}
	}
}

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

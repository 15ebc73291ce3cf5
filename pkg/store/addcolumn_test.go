package store

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestColumnExistsOnRealServer: the error the real server gives for a
// column added twice is recognised, and another error is not.
func TestColumnExistsOnRealServer(t *testing.T) {
	dsn := os.Getenv("BNDMR_TEST_CLICKHOUSE")
	if dsn == "" {
		t.Fatal("BNDMR_TEST_CLICKHOUSE is not set: run through `make test`")
	}
	ctx := context.Background()
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	table := fmt.Sprintf("default.addcolumn_%d", time.Now().UnixNano())
	if err := s.conn.Exec(ctx, "CREATE TABLE "+table+" (a UInt8) ENGINE = MergeTree ORDER BY a"); err != nil {
		t.Fatal(err)
	}
	defer s.conn.Exec(ctx, "DROP TABLE IF EXISTS "+table)
	if err := s.conn.Exec(ctx, "ALTER TABLE "+table+" ADD COLUMN b UInt8"); err != nil {
		t.Fatal(err)
	}
	err = s.conn.Exec(ctx, "ALTER TABLE "+table+" ADD COLUMN b UInt8")
	if err == nil || !columnExists(err) {
		t.Errorf("a column added twice: %v, not recognised as already there", err)
	}
	if err := s.conn.Exec(ctx, "ALTER TABLE "+table+" DROP COLUMN nosuch"); err == nil || columnExists(err) {
		t.Errorf("dropping a missing column: %v, taken for an existing column", err)
	}
}

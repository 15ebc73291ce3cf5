package store

import (
	"context"
	"testing"
	"testing/fstest"
	"time"

	"github.com/bndmr/hub/pkg/chtest"
	"github.com/bndmr/hub/pkg/events"
)

// testStore opens a fresh database on the ClickHouse that `make up` started
// (BNDMR_TEST_CLICKHOUSE); without that setting the test is not run.
func testStore(t *testing.T) *Store {
	t.Helper()
	dsn, _ := chtest.Database(t, "test_store")
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMigrateIsIdempotent(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	first, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := Migrations()
	if len(first) != len(ms) {
		t.Fatalf("first run applied %v, want all %d migrations", first, len(ms))
	}
	second, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(second) != 0 {
		t.Fatalf("second run applied %v, want nothing", second)
	}
}

func TestInsertDocumentsCountsEachVersionOnce(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rec := func(finess, set string, v int) events.Record {
		return events.Record{V: events.RecordV, MailID: "m", FINESS: finess, SetID: set, VersionNumber: v,
			EffectiveTime: "20261015120000+0200", ReceivedAt: time.Now(), DocumentKey: "k"}
	}
	batch := []events.Record{rec("750000001", "s1", 1), rec("750000001", "s1", 2), rec("690000002", "s2", 1)}
	tables := stopMerges(t, s)
	if err := s.InsertDocuments(ctx, batch); err != nil {
		t.Fatal(err)
	}
	// A redelivered batch must not change the counts, before ClickHouse
	// merges (each version twice) or after.
	if err := s.InsertDocuments(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"unmerged", "merged"} {
		counts := rowsAndKeys(t, s, []string{"documents", "versions"})
		for table, c := range counts {
			if wantRows := map[string]uint64{"unmerged": 2 * c.keys, "merged": c.keys}[stage]; c.keys != 3 || c.rows != wantRows {
				t.Errorf("%s, %s: %d rows for %d keys, want %d rows for 3 keys", stage, table, c.rows, c.keys, wantRows)
			}
		}
		got, err := s.DocumentsPerEstablishment(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]uint64{"750000001": 2, "690000002": 1}
		if len(got) != len(want) {
			t.Fatalf("%s: got %d establishments, want %d: %+v", stage, len(got), len(want), got)
		}
		for _, c := range got {
			if c.Versions != want[c.FINESS] {
				t.Errorf("%s, %s: %d versions, want %d", stage, c.FINESS, c.Versions, want[c.FINESS])
			}
			if c.LastMonth != "202610" {
				t.Errorf("%s, %s: last month %s, want 202610", stage, c.FINESS, c.LastMonth)
			}
		}
		if stage == "unmerged" {
			mergeAll(t, s, tables)
		}
	}
}

func TestEffectiveDate(t *testing.T) {
	paris := Paris()
	for _, tc := range []struct{ in, want string }{
		{"20240228160000+0100", "2024-02-28"},
		{"20241031233000-0500", "2024-11-01"}, // 04:30 in Paris the next day
		{"20240228", "2024-02-28"},
		{"201812130000", "2018-12-13"},
	} {
		got, err := EffectiveDate(tc.in, paris)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if g := got.Format("2006-01-02"); g != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in, g, tc.want)
		}
	}
	if _, err := EffectiveDate("yesterday", paris); err == nil {
		t.Error("a non-date was accepted")
	}
}

func TestReadMigrationsRejectsBadNames(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"no number": {"m/init.sql": {Data: []byte("SELECT 1")}},
		"duplicate": {"m/0001_a.sql": {Data: []byte("SELECT 1")}, "m/0001_b.sql": {Data: []byte("SELECT 1")}},
	} {
		if _, err := readMigrations(fsys, "m"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

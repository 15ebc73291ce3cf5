package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/store"
)

// TestImportDir: the Job reference-import's command imports the files of
// its folder that are present (here establishments and DPI counts, no
// centres), with the author of BNDMR_AUTHOR; a folder without any
// is an error.
func TestImportDir(t *testing.T) {
	dsn := os.Getenv("BNDMR_TEST_CLICKHOUSE")
	if dsn == "" {
		t.Skip("BNDMR_TEST_CLICKHOUSE not set: run through `make test`, which starts ClickHouse")
	}
	ctx := context.Background()
	admin, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := fmt.Sprintf("h21ops_import_dir_%d", time.Now().UnixNano())
	if err := admin.Conn().Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db); admin.Close() })
	dbDSN := strings.TrimSuffix(dsn, "/default") + "/" + db
	if code := cmdMigrate(ctx, []string{"--clickhouse", dbDSN}); code != 0 {
		t.Fatalf("migrate: exit %d", code)
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		"establishments.csv": "finess;nom;debut_transmission\n690000011;CHU de Lyon;2026-01-01\n750000010;AP-HP;2026-02-01\n",
		"dpi.csv":            "finess;mois;nombre\n690000011;2026-10;4\n750000010;2026-10;9\n750000010;2026-11;3\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("BNDMR_AUTHOR", "job.reference-import")
	if code := cmdImport(ctx, []string{"dir", "--clickhouse", dbDSN, dir}); code != 0 {
		t.Fatalf("import dir: exit %d", code)
	}
	st, err := store.Open(ctx, dbDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for table, want := range map[string]uint64{"establishments": 2, "dpi_updates": 3, "reference_centres": 0} {
		var n uint64
		if err := st.Conn().QueryRow(ctx, "SELECT count() FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s: %d rows, want %d", table, n, want)
		}
	}
	if code := cmdImport(ctx, []string{"dir", "--clickhouse", dbDSN, t.TempDir()}); code != 1 {
		t.Errorf("import dir of an empty folder: exit %d, want 1", code)
	}
}

func TestPreviousMonth(t *testing.T) {
	for now, want := range map[string]string{"2026-12-05T06:00:00Z": "2026-11", "2027-01-01T00:30:00Z": "2026-12", "2026-03-31T23:59:00Z": "2026-02"} {
		n, _ := time.Parse(time.RFC3339, now)
		if got := previousMonth(n); got != want {
			t.Errorf("previousMonth(%s) = %s, want %s", now, got, want)
		}
	}
}

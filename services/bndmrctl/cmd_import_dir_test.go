package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/chtest"
	"github.com/bndmr/hub/pkg/store"
)

// TestImportDir: the Job reference-import's command imports the files of
// its folder that are present (here establishments and DPI counts, no
// centres), with the author of BNDMR_AUTHOR; a folder without any
// is an error.
func TestImportDir(t *testing.T) {
	ctx := context.Background()
	dbDSN, _ := chtest.Database(t, "h21ops_import_dir")
	ctlCase{args: []string{"migrate", "--clickhouse", dbDSN}, errOut: "bndmrctl migrate: applied 0001_documents"}.run(t, ctx)
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
	ctlCase{args: []string{"import", "dir", "--clickhouse", dbDSN, dir}, errOut: "bndmrctl import establishments: 2 rows recorded\nbndmrctl import dpi: 3 rows recorded"}.run(t, ctx)
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
	ctlCase{args: []string{"import", "dir", "--clickhouse", dbDSN, t.TempDir()}, want: 1, errOut: "holds none of establishments.csv, centres.csv, dpi.csv"}.run(t, ctx)
}

func TestPreviousMonth(t *testing.T) {
	for now, want := range map[string]string{"2026-12-05T06:00:00Z": "2026-11", "2027-01-01T00:30:00Z": "2026-12", "2026-03-31T23:59:00Z": "2026-02"} {
		n, _ := time.Parse(time.RFC3339, now)
		if got := previousMonth(n); got != want {
			t.Errorf("previousMonth(%s) = %s, want %s", now, got, want)
		}
	}
}

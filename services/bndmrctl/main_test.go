package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bndmr/hub/pkg/kit"
)

// TestCommandsExitStatus runs the operator commands as an operator would and
// checks the exit status each promises.
func TestCommandsExitStatus(t *testing.T) {
	kitDir, err := kit.Dir()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	example := filepath.Join(kitDir, "examples/sdm-mr/SDM-MR_2024.01_nouveau-ne.xml")
	garbage := filepath.Join(tmp, "garbage.eml")
	if err := os.WriteFile(garbage, []byte("this is not a mail\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(tmp, "key.json")
	mails := filepath.Join(tmp, "mails")
	docs := filepath.Join(tmp, "docs")
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"no command", nil, 2},
		{"unknown command", []string{"frobnicate"}, 2},
		{"validate an official example", []string{"validate", "--kit", kitDir, example}, 0},
		{"validate a document of another type", []string{"validate", "--kit", kitDir, filepath.Join(kitDir, "examples/other-cda/VAC_2023.01.xml")}, 1},
		{"validate against a missing kit", []string{"validate", "--kit", filepath.Join(tmp, "nokit"), example}, 2},
		{"validate an invalid mutant as jsonl", []string{"validate", "--kit", kitDir, "--jsonl", "--profile", "SDM-MR_2024.01",
			filepath.Join(kitDir, "conformance/docs/SDM-MR_2024.01_nouveau-ne__m1_002.xml")}, 1},
		{"gen without --out", []string{"gen", "--count", "2"}, 2},
		// Help, without dialling ClickHouse (an address nothing answers on).
		{"export -h", []string{"export", "-h", "--clickhouse", "clickhouse://127.0.0.1:1/x"}, 0},
		{"export dgos -h", []string{"export", "dgos", "-h"}, 0},
		{"export of an unknown kind", []string{"export", "frobnicate", "--clickhouse", "clickhouse://127.0.0.1:1/x"}, 2},
		{"gen", []string{"gen", "--kit", kitDir, "--seed", "1", "--count", "3", "--out", mails}, 0},
		{"unpack generated mails", []string{"unpack", "--jsonl", filepath.Join(mails, "mail-000001.eml"), filepath.Join(mails, "mail-000002.eml")}, 0},
		{"unpack garbage", []string{"unpack", garbage}, 1},
		{"unpack the documents into a folder", []string{"unpack", "--out", docs, filepath.Join(mails, "mail-000001.eml"), filepath.Join(mails, "mail-000002.eml")}, 0},
		{"validate the documents unpacked", []string{"validate", "--kit", kitDir, filepath.Join(docs, "mail-000001-1.xml"), filepath.Join(docs, "mail-000002-1.xml")}, 0},
		{"keygen", []string{"keygen", "--out", key, "--id", "k1"}, 0},
		{"keygen refuses to overwrite", []string{"keygen", "--out", key}, 1},
		{"extract an official example", []string{"extract", "--kit", kitDir, example}, 0},
		{"extract and pseudonymise", []string{"extract", "--kit", kitDir, "--key", key, "--jsonl", example}, 0},
		{"extract a document of another type", []string{"extract", "--kit", kitDir, filepath.Join(kitDir, "examples/other-cda/VAC_2023.01.xml")}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(context.Background(), tc.args); got != tc.want {
				t.Fatalf("bndmrctl %v exited %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/topology"
)

// TestBackupAndKeyCommands runs the backup, restore and key commands as an
// operator would: a hub store backed up and restored through --store-dir,
// the key split and joined, and each refusal with its exit status.
func TestBackupAndKeyCommands(t *testing.T) {
	tmp := t.TempDir()
	// A hub store with one mail, as the hub leaves it (encrypted, key in
	// store.key).
	store := filepath.Join(tmp, "hub")
	if err := os.MkdirAll(store, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store, "store.key"), []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{Port: -1, StoreDir: store, StoreKey: "0123456789abcdef0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, js, err := bus.Connect(ctx, bus.Config{URL: srv.ClientURL()}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Publish(ctx, js, topology.SubjectMailRaw, "m1", map[string]string{"n": "1"}); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()

	key := filepath.Join(tmp, "key.json")
	shares := filepath.Join(tmp, "shares")
	share := func(n string) string { return filepath.Join(shares, "share-"+n+".txt") }
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"backup without target", []string{"backup"}, 2},
		{"backup of an unknown target", []string{"backup", "tape"}, 2},
		{"backup nats without --out", []string{"backup", "nats", "--store-dir", store}, 2},
		{"backup nats of the hub's store", []string{"backup", "nats", "--store-dir", store, "--out", filepath.Join(tmp, "b")}, 0},
		{"backup nats into a used folder", []string{"backup", "nats", "--store-dir", store, "--out", filepath.Join(tmp, "b")}, 1},
		{"backup clickhouse --method backup without --server-path", []string{"backup", "clickhouse", "--method", "backup", "--out", filepath.Join(tmp, "c")}, 2},
		{"restore nats into an empty store", []string{"restore", "nats", "--store-dir", filepath.Join(tmp, "r"), filepath.Join(tmp, "b")}, 0},
		{"restore nats again: the streams exist", []string{"restore", "nats", "--store-dir", filepath.Join(tmp, "r"), filepath.Join(tmp, "b")}, 1},
		{"restore nats of a folder without backup", []string{"restore", "nats", "--store-dir", filepath.Join(tmp, "r2"), tmp}, 1},
		{"restore clickhouse of a folder without backup", []string{"restore", "clickhouse", tmp}, 1},
		{"keygen", []string{"keygen", "--out", key, "--id", "escrow-1"}, 0},
		{"key without action", []string{"key"}, 2},
		{"key split", []string{"key", "split", "--key", key, "--out", shares}, 0},
		{"key split refuses an existing folder", []string{"key", "split", "--key", key, "--out", shares}, 1},
		{"key split of a file that is not a key", []string{"key", "split", "--key", filepath.Join(tmp, "b", "manifest.json"), "--out", filepath.Join(tmp, "s2")}, 1},
		{"key join of one share", []string{"key", "join", "--out", filepath.Join(tmp, "k1.json"), share("2")}, 1},
		{"key join of the same share twice", []string{"key", "join", "--out", filepath.Join(tmp, "k1.json"), share("2"), share("2")}, 1},
		{"key join of shares 3 and 1", []string{"key", "join", "--out", filepath.Join(tmp, "k2.json"), share("3"), share("1")}, 0},
		{"key join refuses to overwrite", []string{"key", "join", "--out", filepath.Join(tmp, "k2.json"), share("1"), share("2")}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(context.Background(), tc.args); got != tc.want {
				t.Fatalf("bndmrctl %v exited %d, want %d", tc.args, got, tc.want)
			}
		})
	}
	a, _ := os.ReadFile(key)
	b, _ := os.ReadFile(filepath.Join(tmp, "k2.json"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("the joined key file differs from the one split")
	}
	if _, err := os.Stat(filepath.Join(tmp, "k1.json")); err == nil {
		t.Error("a refused join wrote a key file")
	}
}

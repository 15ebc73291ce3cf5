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
	for _, tc := range []ctlCase{
		{"backup without target", []string{"backup"}, 2, "", "usage: bndmrctl backup nats|clickhouse"},
		{"backup of an unknown target", []string{"backup", "tape"}, 2, "", `bndmrctl backup: unknown sub-command "tape"`},
		{"backup nats without --out", []string{"backup", "nats", "--store-dir", store}, 2, "", "usage: bndmrctl backup nats --out DIR"},
		{"backup nats of the hub's store", []string{"backup", "nats", "--store-dir", store, "--out", filepath.Join(tmp, "b")}, 0, "BNDMR_MAIL  ", "bndmrctl backup nats: 9 streams"},
		{"backup nats into a used folder", []string{"backup", "nats", "--store-dir", store, "--out", filepath.Join(tmp, "b")}, 1, "", "is not empty: give a new one"},
		{"backup clickhouse --method backup without --server-path", []string{"backup", "clickhouse", "--method", "backup", "--out", filepath.Join(tmp, "c")}, 2, "", "usage: bndmrctl backup clickhouse"},
		{"restore nats into an empty store", []string{"restore", "nats", "--store-dir", filepath.Join(tmp, "r"), filepath.Join(tmp, "b")}, 0, "", "bndmrctl restore nats: 9 streams restored from " + filepath.Join(tmp, "b")},
		{"restore nats again: the streams exist", []string{"restore", "nats", "--store-dir", filepath.Join(tmp, "r"), filepath.Join(tmp, "b")}, 1, "", "already exists: restore into an empty JetStream"},
		{"restore nats of a folder without backup", []string{"restore", "nats", "--store-dir", filepath.Join(tmp, "r2"), tmp}, 1, "", "bndmrctl restore nats: " + tmp + " has no readable manifest.json"},
		{"restore clickhouse of a folder without backup", []string{"restore", "clickhouse", tmp}, 1, "", "bndmrctl restore clickhouse: " + tmp + " has no readable manifest.json"},
		{"keygen", []string{"keygen", "--out", key, "--id", "escrow-1"}, 0, "", `wrote key "escrow-1"`},
		{"key without action", []string{"key"}, 2, "", "usage: bndmrctl key split"},
		{"key split", []string{"key", "split", "--key", key, "--out", shares}, 0, "", "key(s) escrow-1 split into 3 shares in " + shares + "; any 2 rebuild it"},
		{"key split refuses an existing folder", []string{"key", "split", "--key", key, "--out", shares}, 1, "", "(give a new folder: shares are never overwritten)"},
		{"key split of a file that is not a key", []string{"key", "split", "--key", filepath.Join(tmp, "b", "manifest.json"), "--out", filepath.Join(tmp, "s2")}, 1, "", "manifest.json: the key file holds no key"},
		{"key join of one share", []string{"key", "join", "--out", filepath.Join(tmp, "k1.json"), share("2")}, 1, "", "1 share(s) given, 2 needed"},
		{"key join of the same share twice", []string{"key", "join", "--out", filepath.Join(tmp, "k1.json"), share("2"), share("2")}, 1, "", "bring 2 different shares"},
		{"key join of shares 3 and 1", []string{"key", "join", "--out", filepath.Join(tmp, "k2.json"), share("3"), share("1")}, 0, "", "key(s) escrow-1 rebuilt and checked"},
		{"key join refuses to overwrite", []string{"key", "join", "--out", filepath.Join(tmp, "k2.json"), share("1"), share("2")}, 1, "", "already exists: a key file is never overwritten"},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, context.Background()) })
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

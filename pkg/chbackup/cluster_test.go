package chbackup

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/chtest"
	"github.com/bndmr/hub/pkg/store"
)

// TestThawReplicatedCluster: on the loopback cluster `bndmr` (one shard of
// two replicas), a FREEZE backup of replica 1 restored with ExistingSchema
// on replica 1 into a freshly migrated database reaches replica 2 through
// ZooKeeper: the procedure of a lost cluster (docs/operations.md).
func TestThawReplicatedCluster(t *testing.T) {
	dsns := chtest.ClusterDSNs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	open := func(dsn, db string) *store.Store {
		st, err := store.Open(ctx, chtest.WithDatabase(t, dsn, db))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	var dbs []string
	for _, name := range []string{"src", "dst"} {
		_, db := chtest.ClusterDatabase(t, dsns[0], "bndmr", "chbackup_"+name)
		if _, err := open(dsns[0], db).MigrateWith(ctx, store.MigrateOptions{Cluster: "bndmr"}); err != nil {
			t.Fatal(err)
		}
		dbs = append(dbs, db)
	}
	src := open(dsns[0], dbs[0])
	// clickhouse-go's Exec does not send an INSERT with its data inline:
	// clickhouse-client does, through the Distributed table.
	port := dsns[0][strings.LastIndex(dsns[0], ":")+1:]
	ins := exec.CommandContext(ctx, "clickhouse-client", "--port", strings.TrimSuffix(port, "/"), "-d", dbs[0], "--insert_distributed_sync=1", "-q",
		`INSERT INTO documents (finess, set_id, version_number, effective_date, orpha_codes)
		VALUES ('750', 'a', 1, '2025-01-10', ['ORPHA:1']), ('751', 'b', 1, '2025-02-10', ['ORPHA:2']), ('751', 'c', 2, '2025-03-10', [])`)
	if out, err := ins.CombinedOutput(); err != nil {
		t.Fatalf("inserting: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "ch")
	if _, err := Freeze(ctx, src, dir); err != nil {
		t.Fatal(err)
	}
	dst := open(dsns[0], dbs[1])
	if _, err := Thaw(ctx, dst, dir, ThawOptions{}); err == nil || !strings.Contains(err.Error(), "empty database") {
		t.Fatalf("a restore that would create tables over the cluster's schema: %v", err)
	}
	if _, err := Thaw(ctx, dst, dir, ThawOptions{ExistingSchema: true}); err != nil {
		t.Fatal(err)
	}
	// Replica 2 fetches the attached parts from replica 1.
	replica2 := open(dsns[1], dbs[1])
	want := "750 a 1\n751 b 1\n751 c 2\n"
	var got string
	for ctx.Err() == nil {
		rows, err := replica2.Conn().Query(ctx, "SELECT finess, set_id, version_number FROM documents_local ORDER BY set_id")
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for rows.Next() {
			var f, s string
			var v uint32
			if err := rows.Scan(&f, &s, &v); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %s %d\n", f, s, v)
		}
		rows.Close()
		if got = b.String(); got == want {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got != want {
		t.Errorf("replica 2 after the restore on replica 1:\n%s\nwant:\n%s", got, want)
	}
	// Attached again: refused, the tables are no longer empty.
	if _, err := Thaw(ctx, dst, dir, ThawOptions{ExistingSchema: true}); err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Errorf("second restore: %v", err)
	}
}

package topology

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/tlsclient"
	"github.com/bndmr/hub/services/internal/localenv"
)

// TestTopologyClickHouseTLS: in the loopback topology, as in the prod
// overlay, the loader and the indicators reach ClickHouse over TLS with a
// client certificate, the secure ports refuse a plaintext client and a
// client without a certificate, the distributed tables reach the other
// nodes over TLS, and the replicas fetch parts over HTTPS.
func TestTopologyClickHouseTLS(t *testing.T) {
	s := loadSite(t)
	ctx := context.Background()
	for _, inst := range []string{"loader-0", "indicators-0"} {
		env := envFile(t, filepath.Join(s.dir, "instances", inst, "env"))
		dsn, files := env["BNDMR_CLICKHOUSE"], localenv.ClickHouseTLS(env)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if u.Query().Get("secure") != "true" || files.CertFile == "" || files.KeyFile == "" || files.CAFile == "" {
			t.Fatalf("%s reaches ClickHouse without TLS or without a client certificate: %s %+v", inst, dsn, files)
		}
		st, err := store.OpenWith(ctx, dsn, store.Options{TLS: files})
		if err != nil {
			t.Fatalf("%s: over TLS with its certificate: %v", inst, err)
		}
		st.Close()

		plain := *u
		q := plain.Query()
		q.Del("secure")
		plain.RawQuery = q.Encode()
		if st, err := store.Open(ctx, plain.String()); err == nil {
			st.Close()
			t.Errorf("%s: a plaintext client got in on %s", inst, u.Host)
		}
		if st, err := store.OpenWith(ctx, dsn, store.Options{TLS: tlsclient.Files{CAFile: files.CAFile}}); err == nil {
			st.Close()
			t.Errorf("%s: a TLS client without a certificate got in on %s", inst, u.Host)
		}
	}
	// The distributed tables reach the other nodes on the secure ports.
	loader := envFile(t, filepath.Join(s.dir, "instances", "loader-0", "env"))
	st, err := store.OpenWith(ctx, loader["BNDMR_CLICKHOUSE"], store.Options{TLS: localenv.ClickHouseTLS(loader)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, _ := url.Parse(loader["BNDMR_CLICKHOUSE"])
	secure := map[string]bool{}
	for _, h := range strings.Split(u.Host, ",") {
		secure[h] = true
	}
	nodes, err := st.Conn().Query(ctx, "SELECT concat(host_address, ':', toString(port)) FROM system.clusters WHERE cluster = ?", loader["BNDMR_CLICKHOUSE_CLUSTER"])
	if err != nil {
		t.Fatal(err)
	}
	defer nodes.Close()
	n := 0
	for nodes.Next() {
		var addr string
		if err := nodes.Scan(&addr); err != nil {
			t.Fatal(err)
		}
		n++
		if !secure[addr] {
			t.Errorf("cluster %s reaches %s, not one of the secure ports %s", loader["BNDMR_CLICKHOUSE_CLUSTER"], addr, u.Host)
		}
	}
	if n != 4 {
		t.Errorf("cluster %s has %d replicas, want 4", loader["BNDMR_CLICKHOUSE_CLUSTER"], n)
	}

	// The replicas fetch parts from each other over HTTPS: each replica
	// announces its interserver address, scheme included, in ZooKeeper.
	var replicaPath string
	if err := st.Conn().QueryRow(ctx, `SELECT concat(zookeeper_path, '/replicas/', replica_name) FROM system.replicas
		WHERE database = currentDatabase() AND table = 'documents_local'`).Scan(&replicaPath); err != nil {
		t.Fatal(err)
	}
	// 18.16 wants the path as a literal (the driver binds it so).
	rows, err := st.Conn().Query(ctx, "SELECT value FROM system.zookeeper WHERE path = ? AND name = 'host'", replicaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n = 0
	for rows.Next() {
		var host string
		if err := rows.Scan(&host); err != nil {
			t.Fatal(err)
		}
		n++
		if !strings.Contains(host, "scheme: https") {
			t.Errorf("a replica of documents_local announces %q: its parts are fetched in clear", host)
		}
	}
	if n != 1 {
		t.Errorf("%d replica addresses read for documents_local, want 1", n)
	}
}

package store

import (
	"context"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/chddl"
	"github.com/bndmr/hub/pkg/chtest"
)

// TestClusterFormOnModernEngine: the cluster DDL (Replicated and Distributed
// tables, views and the database, ON CLUSTER) cannot run in one process
// without ZooKeeper and remote servers; the engine of the version production
// runs parses every statement of it (formatQuery, which EXPLAIN SYNTAX is
// for SELECT and CREATE TABLE only) and its reading keeps the engines and
// the cluster. On 18.16 the cluster tests run it for real.
func TestClusterFormOnModernEngine(t *testing.T) {
	e := chtest.ChDB(t)
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	// The production form: a modern server keeps the column comments.
	forms, err := ClusterStatements(ms, "bndmr", "default", false)
	if err != nil {
		t.Fatal(err)
	}
	tr := &chddl.Transformer{Cluster: "bndmr", Database: "default"}
	mig, err := tr.Statement(createMigrations.SQL)
	if err != nil {
		t.Fatal(err)
	}
	all := append([]string{chddl.CreateDatabase("default", "bndmr")}, mig...)
	for _, f := range forms {
		all = append(all, f...)
	}
	ctx := context.Background()
	for _, st := range all {
		out, err := e.Query(ctx, "SELECT formatQuery("+chddl.QuoteString(st)+")", "TabSeparatedRaw")
		if err != nil {
			t.Errorf("%s: %v", abbrev(st), err)
			continue
		}
		read := string(out)
		// A statement run on each shard goes to one server at a time; an
		// INSERT … SELECT (a back-fill) runs once, into the Distributed
		// table: ON CLUSTER would run it once per server.
		if !strings.Contains(read, "ON CLUSTER bndmr") && !strings.HasPrefix(st, chddl.EachShard) && !strings.HasPrefix(st, "INSERT INTO ") {
			t.Errorf("%s: read back without ON CLUSTER:\n%s", abbrev(st), read)
		}
		for _, engine := range []string{"ReplicatedReplacingMergeTree", "Distributed("} {
			if strings.Contains(st, engine) && !strings.Contains(read, engine) {
				t.Errorf("%s: read back without %s:\n%s", abbrev(st), engine, read)
			}
		}
	}
	// And a broken statement is refused: the check reads, it does not echo.
	if _, err := e.Query(ctx, "SELECT formatQuery("+chddl.QuoteString("CREATE TABLE t ON CLUSTER c (a UInt8) ENGINE = MergeTree ORDER BY")+")",
		"TabSeparatedRaw"); err == nil {
		t.Error("formatQuery accepted a truncated statement")
	}
	if len(all) < 30 {
		t.Errorf("only %d cluster statements", len(all))
	}
}

package chddl_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/chddl"
	"github.com/bndmr/hub/pkg/store"
)

func TestClusterStatement(t *testing.T) {
	tests := []struct {
		name  string
		stmts []string // earlier statements (the tables they create), then the one tested
		want  []string
	}{{
		name: "sharded table: replicated per shard, Distributed by set",
		stmts: []string{`CREATE TABLE IF NOT EXISTS docs
(
    finess String COMMENT 'établissement (l''émetteur)'
  , set_id String, version_number UInt32, effective_date Date
  , loaded_at DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(loaded_at)
PARTITION BY toYYYYMM(effective_date)
ORDER BY (finess, set_id, version_number)`},
		want: []string{
			`CREATE TABLE IF NOT EXISTS db.docs_local ON CLUSTER bndmr
(
    finess String COMMENT 'établissement (l''émetteur)'
  , set_id String, version_number UInt32, effective_date Date
  , loaded_at DateTime DEFAULT now()
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/docs_local', '{replica}', loaded_at) PARTITION BY toYYYYMM(effective_date)
ORDER BY (finess, set_id, version_number)`,
			`CREATE TABLE IF NOT EXISTS db.docs ON CLUSTER bndmr AS db.docs_local ENGINE = Distributed('bndmr', 'db', 'docs_local', cityHash64(set_id))`,
		},
	}, {
		name:  "reference table without set: replicated on every server",
		stmts: []string{"CREATE TABLE ref (finess String, n UInt32) ENGINE = MergeTree() ORDER BY finess"},
		want: []string{"CREATE TABLE db.ref ON CLUSTER bndmr\n(finess String, n UInt32)\n" +
			"ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/db/ref', '{replica}') ORDER BY finess"},
	}, {
		name:  "column named like a keyword inside a type does not count as set_id",
		stmts: []string{"CREATE TABLE t (a Tuple(set_id String), b String) ENGINE = MergeTree ORDER BY b"},
		want: []string{"CREATE TABLE db.t ON CLUSTER bndmr\n(a Tuple(set_id String), b String)\n" +
			"ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/db/t', '{replica}') ORDER BY b"},
	}, {
		name: "view keyed by set: shard-local IN; other tables qualified",
		stmts: []string{
			"CREATE TABLE d (set_id String, v UInt32) ENGINE = MergeTree ORDER BY set_id",
			"CREATE TABLE x (set_id String, v UInt32, c String) ENGINE = MergeTree ORDER BY set_id",
			"CREATE VIEW IF NOT EXISTS x_current AS\nSELECT * FROM x\nWHERE (set_id, v) IN (SELECT set_id, max(v) FROM d GROUP BY set_id)"},
		want: []string{"CREATE VIEW IF NOT EXISTS db.x_current ON CLUSTER bndmr AS\n" +
			"SELECT * FROM db.x\nWHERE (set_id, v) IN (SELECT set_id, max(v) FROM db.d_local GROUP BY set_id)"},
	}, {
		name: "view IN not keyed by set: GLOBAL",
		stmts: []string{
			"CREATE TABLE d (set_id String, finess String) ENGINE = MergeTree ORDER BY set_id",
			"CREATE VIEW v AS SELECT count() FROM d WHERE finess NOT IN (SELECT finess FROM d WHERE set_id = 'from d')"},
		want: []string{"CREATE VIEW db.v ON CLUSTER bndmr AS\n" +
			"SELECT count() FROM db.d WHERE finess GLOBAL NOT IN (SELECT finess FROM db.d WHERE set_id = 'from d')"},
	}, {
		name: "view whose outer query reads a reference table: the IN stays distributed",
		stmts: []string{
			"CREATE TABLE d (set_id String, finess String) ENGINE = MergeTree ORDER BY set_id",
			"CREATE TABLE e (finess String) ENGINE = MergeTree ORDER BY finess",
			"CREATE VIEW v AS SELECT * FROM e WHERE (finess, set_id) IN (SELECT finess, set_id FROM d)"},
		want: []string{"CREATE VIEW db.v ON CLUSTER bndmr AS\n" +
			"SELECT * FROM db.e WHERE (finess, set_id) GLOBAL IN (SELECT finess, set_id FROM db.d)"},
	}, {
		name: "view over a subquery: tables inside qualified",
		stmts: []string{
			"CREATE TABLE d (set_id String, v UInt32) ENGINE = MergeTree ORDER BY set_id",
			"CREATE VIEW c AS SELECT set_id, max(v) FROM (SELECT set_id, v FROM d) GROUP BY set_id"},
		want: []string{"CREATE VIEW db.c ON CLUSTER bndmr AS\nSELECT set_id, max(v) FROM (SELECT set_id, v FROM db.d) GROUP BY set_id"},
	}, {
		name: "ALTER ADD COLUMN of a sharded table: local on one replica of each shard, then the Distributed table again",
		stmts: []string{
			"CREATE TABLE d (set_id String) ENGINE = MergeTree ORDER BY set_id",
			"ALTER TABLE d ADD COLUMN x String DEFAULT ''"},
		want: []string{
			chddl.EachShard + "ALTER TABLE db.d_local ADD COLUMN x String DEFAULT ''",
			"DROP TABLE IF EXISTS db.d ON CLUSTER bndmr",
			"CREATE TABLE IF NOT EXISTS db.d ON CLUSTER bndmr AS db.d_local ENGINE = Distributed('bndmr', 'db', 'd_local', cityHash64(set_id))",
		},
	}, {
		name: "ALTER of a table on every server: replicated from here, not ON CLUSTER",
		stmts: []string{
			"CREATE TABLE e (finess String) ENGINE = MergeTree ORDER BY finess",
			"ALTER TABLE e ADD COLUMN name String"},
		want: []string{"ALTER TABLE db.e ADD COLUMN name String"},
	}, {
		name: "ALTER DELETE of a sharded table: local only, on one replica of each shard",
		stmts: []string{
			"CREATE TABLE d (set_id String) ENGINE = MergeTree ORDER BY set_id",
			"ALTER TABLE d DELETE WHERE set_id = ''"},
		want: []string{chddl.EachShard + "ALTER TABLE db.d_local DELETE WHERE set_id = ''"},
	}, {
		name: "INSERT SELECT: once, qualified",
		stmts: []string{
			"CREATE TABLE r (s String, v UInt32) ENGINE = MergeTree ORDER BY s",
			"CREATE TABLE w (set_id String, v UInt32) ENGINE = MergeTree ORDER BY set_id",
			"INSERT INTO w (set_id, v) SELECT s, v FROM r WHERE v > 0"},
		want: []string{"INSERT INTO db.w (set_id, v) SELECT s, v FROM db.r WHERE v > 0"},
	}, {
		name: "INSERT of a plain copy between sharded tables: on each shard, shard-local",
		stmts: []string{
			"CREATE TABLE d (set_id String, v UInt32) ENGINE = MergeTree ORDER BY set_id",
			"CREATE TABLE w (set_id String, v UInt32) ENGINE = MergeTree ORDER BY set_id",
			"INSERT INTO w (set_id, v) SELECT set_id, v FROM d WHERE v > 0"},
		want: []string{chddl.EachShard + "INSERT INTO db.w_local (set_id, v) SELECT set_id, v FROM db.d_local WHERE v > 0"},
	}, {
		name: "INSERT SELECT with a grouping between sharded tables: once, through the Distributed tables",
		stmts: []string{
			"CREATE TABLE d (set_id String, v UInt32) ENGINE = MergeTree ORDER BY set_id",
			"CREATE TABLE w (set_id String, v UInt32) ENGINE = MergeTree ORDER BY set_id",
			"INSERT INTO w (set_id, v) SELECT set_id, max(v) FROM d GROUP BY set_id"},
		want: []string{"INSERT INTO db.w (set_id, v) SELECT set_id, max(v) FROM db.d GROUP BY set_id"},
	}, {
		name: "RENAME of a sharded table: the _local tables, then the Distributed tables; the name created again gets a ZooKeeper path of its own",
		stmts: []string{
			"CREATE TABLE d (set_id String) ENGINE = MergeTree ORDER BY set_id",
			"RENAME TABLE d TO d_old",
			"CREATE TABLE d (set_id String) ENGINE = MergeTree ORDER BY set_id"},
		want: []string{
			"CREATE TABLE db.d_local ON CLUSTER bndmr\n(set_id String)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/db/d_local_v2', '{replica}') ORDER BY set_id",
			"CREATE TABLE db.d ON CLUSTER bndmr AS db.d_local ENGINE = Distributed('bndmr', 'db', 'd_local', cityHash64(set_id))",
		},
	}, {
		name: "RENAME of a sharded table",
		stmts: []string{
			"CREATE TABLE d (set_id String) ENGINE = MergeTree ORDER BY set_id",
			"RENAME TABLE d TO d_old"},
		want: []string{
			"RENAME TABLE db.d_local TO db.d_old_local ON CLUSTER bndmr",
			"DROP TABLE IF EXISTS db.d ON CLUSTER bndmr",
			"CREATE TABLE IF NOT EXISTS db.d_old ON CLUSTER bndmr AS db.d_old_local ENGINE = Distributed('bndmr', 'db', 'd_old_local', cityHash64(set_id))",
		},
	}, {
		name: "RENAME of a table on every server",
		stmts: []string{
			"CREATE TABLE e (finess String) ENGINE = MergeTree ORDER BY finess",
			"RENAME TABLE e TO e_old"},
		want: []string{"RENAME TABLE db.e TO db.e_old ON CLUSTER bndmr"},
	}, {
		name: "DROP of a sharded table: both",
		stmts: []string{
			"CREATE TABLE d (set_id String) ENGINE = MergeTree ORDER BY set_id",
			"DROP TABLE IF EXISTS d"},
		want: []string{"DROP TABLE IF EXISTS db.d ON CLUSTER bndmr", "DROP TABLE IF EXISTS db.d_local ON CLUSTER bndmr"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := &chddl.Transformer{Cluster: "bndmr", Database: "db"}
			var got []string
			for _, s := range tc.stmts {
				var err error
				if got, err = tr.Statement(s); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, ";\n"), strings.Join(tc.want, ";\n"))
			}
		})
	}
}

func TestClusterStatementRefuses(t *testing.T) {
	for _, s := range []string{
		"CREATE TABLE l (a String) ENGINE = Log",
		"CREATE TABLE m (a String) ENGINE = Memory",
		"CREATE TABLE r (a String) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a",
		"CREATE TABLE other.t (a String) ENGINE = MergeTree ORDER BY a",
		"CREATE TABLE t ON CLUSTER c (a String) ENGINE = MergeTree ORDER BY a",
		"CREATE TABLE t AS u",
		"CREATE MATERIALIZED VIEW mv ENGINE = MergeTree ORDER BY a AS SELECT a FROM u",
		"ALTER TABLE unknown ADD COLUMN a String",
		"OPTIMIZE TABLE t FINAL",
		"INSERT INTO unknown (a) SELECT 1",
		"RENAME TABLE unknown TO u",
		"CREATE TABLE t (a String COMMENT 'unterminated) ENGINE = MergeTree ORDER BY a",
	} {
		tr := &chddl.Transformer{Cluster: "bndmr", Database: "db"}
		if got, err := tr.Statement(s); err == nil {
			t.Errorf("%q: accepted, gave %q", s, got)
		}
	}
}

// A rename's new names, as the migrator looks for them before running it
// again.
func TestRenameTargets(t *testing.T) {
	for _, tc := range []struct {
		stmt string
		want []string
	}{
		{"RENAME TABLE documents TO documents_0014", []string{"documents_0014"}},
		{"RENAME TABLE hub.d_local TO hub.d_old_local, hub.e TO hub.f ON CLUSTER bndmr", []string{"hub.d_old_local", "hub.f"}},
		{"DROP TABLE IF EXISTS d", nil},
		{"CREATE TABLE t (a String) ENGINE = MergeTree ORDER BY a", nil},
	} {
		if got := chddl.RenameTargets(tc.stmt); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.stmt, got, tc.want)
		}
	}
}

func TestClusterCommentsDropped(t *testing.T) {
	tr := &chddl.Transformer{Cluster: "c", Database: "db", DropColumnComments: true}
	got, err := tr.Statement("CREATE TABLE e (finess String COMMENT 'FINESS (l''établissement)', n UInt8 DEFAULT 1 COMMENT 'n') ENGINE = MergeTree ORDER BY finess COMMENT")
	if err != nil {
		t.Fatal(err)
	}
	if want := "(finess String , n UInt8 DEFAULT 1 )"; !strings.Contains(got[0], want) {
		t.Errorf("got %q, want the columns %q", got[0], want)
	}
}

// The real migrations: every statement has a cluster form; every table with a
// set is sharded (a _local table and a Distributed one), the others are on
// every server; no statement names a table of the migrations unqualified.
func TestClusterFormOfTheMigrations(t *testing.T) {
	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	out, err := store.ClusterStatements(ms, "bndmr", "hub", false)
	if err != nil {
		t.Fatal(err)
	}
	creates, shardedCreates, dist := 0, 0, 0
	sharded := map[string]bool{}
	for i, m := range ms {
		single := chddl.SplitStatements(m.SQL)
		n := 0
		for _, s := range single {
			n++
			if strings.Contains(s, "set_id") && strings.HasPrefix(s, "CREATE TABLE") {
				n++
				shardedCreates++
				sharded[strings.Fields(strings.TrimPrefix(s, "CREATE TABLE IF NOT EXISTS "))[0]] = true
			}
			// A column added to a sharded table: its _local table, then
			// its Distributed table dropped and made again over it.
			if f := strings.Fields(s); len(f) > 4 && f[0] == "ALTER" && sharded[f[2]] && f[3] == "ADD" && f[4] == "COLUMN" {
				n += 2
			}
			if strings.HasPrefix(s, "CREATE TABLE") {
				creates++
			}
			// A sharded table renamed: its _local table, then its
			// Distributed table dropped and the new name's made.
			if f := strings.Fields(s); len(f) > 4 && f[0] == "RENAME" && sharded[f[2]] {
				n += 2
				sharded[f[4]] = true
			}
			// A sharded table dropped: its Distributed and _local tables.
			if f := strings.Fields(s); len(f) > 4 && f[0] == "DROP" && sharded[f[4]] {
				n++
			}
		}
		if len(out[i]) != n {
			t.Errorf("%s: %d statements in cluster form, want %d", m.Name, len(out[i]), n)
		}
		for _, s := range out[i] {
			if !strings.Contains(s, " ON CLUSTER bndmr") && !strings.HasPrefix(s, "INSERT INTO hub.") &&
				!strings.HasPrefix(s, chddl.EachShard+"ALTER TABLE hub.") && !strings.HasPrefix(s, chddl.EachShard+"INSERT INTO hub.") {
				t.Errorf("%s: neither ON CLUSTER nor on each shard: %s", m.Name, s)
			}
			if strings.Contains(s, "ENGINE = Distributed") {
				dist++
			}
			for _, kw := range []string{"FROM ", "JOIN "} {
				parts := strings.Split(s, kw)
				for j, part := range parts[1:] {
					arrayJoin := kw == "JOIN " && strings.HasSuffix(parts[j], "ARRAY ")
					if !arrayJoin && !strings.HasPrefix(part, "hub.") && !strings.HasPrefix(part, "(") {
						t.Errorf("%s: unqualified table after %q: %.40q", m.Name, kw, part)
					}
				}
			}
		}
	}
	// Sharded creates, not Distributed tables, are compared with the
	// creates: a rename makes a Distributed table without a create (0018
	// made the two counts equal by chance).
	if creates == 0 || dist == 0 || shardedCreates == 0 || shardedCreates == creates {
		t.Errorf("%d tables, %d sharded, %d Distributed: want some sharded and some on every server", creates, shardedCreates, dist)
	}
}

// The transformer never panics, and what it accepts it turns into statements
// that name the cluster.
func FuzzClusterStatement(f *testing.F) {
	ms, err := store.Migrations()
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range ms {
		for _, s := range chddl.SplitStatements(m.SQL) {
			f.Add(s)
		}
	}
	f.Add("ALTER TABLE documents ADD COLUMN x String")
	f.Add("DROP TABLE IF EXISTS documents")
	f.Add("INSERT INTO versions (a) SELECT a FROM documents WHERE (set_id, v) NOT IN (SELECT set_id, v FROM receipts)")
	f.Fuzz(func(t *testing.T, stmt string) {
		tr := &chddl.Transformer{Cluster: "bndmr", Database: "hub", DropColumnComments: len(stmt)%2 == 0}
		for _, m := range ms[:1] {
			if _, err := tr.Migration(m.Name, m.SQL); err != nil {
				t.Fatal(err)
			}
		}
		out, err := tr.Statement(stmt)
		if err != nil {
			return
		}
		if len(out) == 0 {
			t.Fatalf("%q: accepted, no statement", stmt)
		}
		for _, s := range out {
			if !strings.Contains(s, "ON CLUSTER bndmr") && !strings.HasPrefix(s, "INSERT INTO hub.") && !strings.HasPrefix(s, "ALTER TABLE hub.") &&
				!strings.HasPrefix(s, chddl.EachShard+"ALTER TABLE hub.") && !strings.HasPrefix(s, chddl.EachShard+"INSERT INTO hub.") {
				t.Fatalf("%q gave %q", stmt, s)
			}
		}
	})
}

func TestSplitStatements(t *testing.T) {
	got := chddl.SplitStatements("-- c\nCREATE TABLE a (x UInt8)\nENGINE = Log;\n\nCREATE TABLE b (y UInt8) ENGINE = Log;\n")
	if len(got) != 2 || !strings.HasPrefix(got[1], "CREATE TABLE b") || strings.Contains(got[0], ";") {
		t.Fatalf("got %q", got)
	}
}

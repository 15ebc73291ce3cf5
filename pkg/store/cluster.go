package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// EnvCluster names the setting that chooses the clustered schema: the name of
// the cluster in the servers' <remote_servers> ("bndmr" in production), or
// empty for a single server.
const EnvCluster = "BNDMR_CLICKHOUSE_CLUSTER"

// ShardingKey is the expression the Distributed tables spread rows by. Every
// version of a set (setId) and every clinical row of those versions land on
// the same shard, so the per-set computations of the indicators (current
// state by argMax, versions missing between those received) and the
// (set_id, version_number) IN subqueries of the *_current views are exact
// shard by shard. See docs/cluster.md.
const ShardingKey = "cityHash64(set_id)"

// shardColumn marks the tables that are sharded: those carrying the set. The
// others (reference tables, settings, the migrations record) are small and
// joined by every query: each server holds all of their rows.
const shardColumn = "set_id"

// MigrateOptions chooses the form of the schema Migrate applies.
type MigrateOptions struct {
	// Cluster is the cluster name of <remote_servers>; empty: one server,
	// the migrations as written.
	Cluster string
	// ShardMacro: see ClusterTransformer; empty in production.
	ShardMacro string
	// LockTTL: a migration lock older than this was left by a migrator that
	// died and is taken over; 0: DefaultLockTTL.
	LockTTL time.Duration
	// Waiting, when set, is told once that another migrator holds the lock
	// (how long it has held it).
	Waiting func(held time.Duration)
}

// MigrateWith applies the migrations not yet recorded, in the form opts
// chooses. With a cluster, every statement is rewritten by ClusterStatements
// and run ON CLUSTER; the connection's database is created on every server.
//
// Every form holds the migration lock (lock.go) while it reads, applies and
// records the migrations; with a cluster, all of it goes through the server
// that holds the lock.
//
// Once the schema is up to date, every column the package inserts is
// checked to be in its table (checkInserts): a migration missing is an
// error at start.
func (s *Store) MigrateWith(ctx context.Context, opts MigrateOptions) ([]string, error) {
	applied, err := s.migrate(ctx, opts)
	if err != nil {
		return applied, err
	}
	return applied, s.checkInserts(ctx, typedInserts())
}

func (s *Store) migrate(ctx context.Context, opts MigrateOptions) ([]string, error) {
	var applied []string
	if opts.Cluster == "" {
		err := s.withMigrationLock(ctx, opts.LockTTL, opts.Waiting, func() (err error) {
			applied, err = s.migrateSingle(ctx)
			return err
		})
		return applied, err
	}
	if err := s.conn.Exec(ctx, CreateDatabaseOnCluster(s.db, opts.Cluster)); err != nil {
		return nil, fmt.Errorf("creating database %s on cluster %s: %w", s.db, opts.Cluster, err)
	}
	node, err := s.lockNode(ctx, opts.Cluster)
	if err != nil {
		return nil, err
	}
	defer node.Close()
	err = node.withMigrationLock(ctx, opts.LockTTL, opts.Waiting, func() (err error) {
		applied, err = node.migrateCluster(ctx, opts)
		return err
	})
	return applied, err
}

// migrateCluster is the cluster form's work, under the lock.
func (s *Store) migrateCluster(ctx context.Context, opts MigrateOptions) ([]string, error) {
	var version string
	if err := s.QueryRow(ctx, selectVersion).Scan(&version); err != nil {
		return nil, fmt.Errorf("reading the ClickHouse version: %w", err)
	}
	tr := &ClusterTransformer{Cluster: opts.Cluster, Database: s.db, DropColumnComments: commentsBreakReplication(version),
		ShardMacro: opts.ShardMacro}
	mstmts, err := tr.Statement(createMigrations.SQL)
	if err != nil {
		return nil, err
	}
	for _, st := range mstmts {
		if err := s.conn.Exec(ctx, st); err != nil {
			return nil, fmt.Errorf("creating schema_migrations on cluster %s: %w", opts.Cluster, err)
		}
	}
	done, err := s.appliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range ms {
		// Transform every migration, applied or not: later ones need to
		// know which tables earlier ones sharded.
		stmts, err := tr.Migration(m)
		if err != nil {
			return applied, err
		}
		if done[m.Version] {
			continue
		}
		for i, st := range stmts {
			if rest, ok := strings.CutPrefix(st, EachShard); ok {
				if err := s.execEachShard(ctx, opts.Cluster, rest); err != nil {
					return applied, fmt.Errorf("migration %s (cluster %s), statement %d: %w", m.Name, opts.Cluster, i+1, err)
				}
				continue
			}
			if err := s.conn.Exec(ctx, st); err != nil {
				return applied, fmt.Errorf("migration %s (cluster %s), statement %d: %w", m.Name, opts.Cluster, i+1, err)
			}
		}
		if err := s.recordMigration(ctx, m); err != nil {
			return applied, err
		}
		applied = append(applied, m.Name)
	}
	return applied, nil
}

// EachShard marks a statement of the cluster form that runs on one replica
// of each shard, without ON CLUSTER: an ALTER of a replicated table, which
// its replica passes on to the others of its shard through ZooKeeper.
// ClickHouse 18.16's DDL queue elects the replica that runs such an ALTER
// with a race (it looks whether the shard's task is done before taking the
// lock, not after): under load both replicas ran it, the second then failed
// on the other's ZooKeeper node and its DDL worker stopped for good, so that
// every later ON CLUSTER statement timed out (make chaos, on the loopback
// cluster).
const EachShard = "/* each shard */ "

// execEachShard runs stmt on one replica of each shard of cluster: the first
// that answers, as <remote_servers> names it, with this connection's user,
// password and TLS settings.
func (s *Store) execEachShard(ctx context.Context, cluster, stmt string, args ...any) error {
	shards, order, err := s.replicasByShard(ctx, cluster)
	if err != nil {
		return err
	}
	for _, shard := range order {
		var errs []error
		done := false
		for _, addr := range shards[shard] {
			err := s.execOn(ctx, addr, stmt, args...)
			if err == nil || columnExists(err) {
				done = true
				break
			}
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
		}
		if !done {
			return fmt.Errorf("shard %d of cluster %s: no replica ran it: %w", shard, cluster, errors.Join(errs...))
		}
	}
	return nil
}

// replicasByShard reads the servers of cluster from system.clusters: each
// shard's replicas (host:port), and the shards in order.
func (s *Store) replicasByShard(ctx context.Context, cluster string) (map[uint32][]string, []uint32, error) {
	rows, err := s.Query(ctx, clusterReplicas, cluster)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the replicas of cluster %s: %w", cluster, err)
	}
	defer rows.Close()
	shards := map[uint32][]string{}
	var order []uint32
	for rows.Next() {
		var shard, replica uint32
		var host string
		var port uint16
		if err := rows.Scan(&shard, &replica, &host, &port); err != nil {
			return nil, nil, fmt.Errorf("reading the replicas of cluster %s: %w", cluster, err)
		}
		if _, ok := shards[shard]; !ok {
			order = append(order, shard)
		}
		shards[shard] = append(shards[shard], net.JoinHostPort(host, strconv.Itoa(int(port))))
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading the replicas of cluster %s: %w", cluster, err)
	}
	if len(order) == 0 {
		return nil, nil, fmt.Errorf("cluster %s: no such cluster in <remote_servers> of the server %s", cluster, s.opts.Addr)
	}
	return shards, order, nil
}

// mutate runs a registered mutation (ALTER TABLE t UPDATE|DELETE …): on
// one server as written; on a cluster, on t's local table on one replica of
// each shard, which passes it on to the other replicas through ZooKeeper,
// as the migrations' ALTERs (EachShard). A table replicated on every server
// (no shard column, such as pseudonym_links) has no local table: the
// mutation of one server reaches the others.
func (s *Store) mutate(ctx context.Context, cluster string, st Statement, args ...any) error {
	if cluster == "" {
		return s.Exec(ctx, st, args...)
	}
	rest, ok := strings.CutPrefix(st.SQL, "ALTER TABLE ")
	if !ok {
		return fmt.Errorf("%s: not an ALTER TABLE", st.Name)
	}
	table, ops, _ := strings.Cut(rest, " ")
	var local uint64
	if err := s.QueryRow(ctx, localTableExists, table+LocalSuffix).Scan(&local); err != nil {
		return fmt.Errorf("%s: looking for %s%s: %w", st.Name, table, LocalSuffix, err)
	}
	if local == 0 {
		return s.Exec(ctx, st, args...)
	}
	return s.execEachShard(ctx, cluster, "ALTER TABLE "+table+LocalSuffix+" "+ops, args...)
}

// waitMutationsOnCluster waits until no server of cluster has a mutation
// of this database still running: each replica applies a replicated
// mutation on its own.
func (s *Store) waitMutationsOnCluster(ctx context.Context, cluster string) error {
	shards, order, err := s.replicasByShard(ctx, cluster)
	if err != nil {
		return err
	}
	for _, shard := range order {
		for _, addr := range shards[shard] {
			if err := s.onServer(ctx, addr, func(o *Store) error { return o.waitMutations(ctx) }); err != nil {
				return fmt.Errorf("shard %d, %s: %w", shard, addr, err)
			}
		}
	}
	return nil
}

// execOn runs stmt on the server at addr, connected as this store is.
func (s *Store) execOn(ctx context.Context, addr, stmt string, args ...any) error {
	return s.onServer(ctx, addr, func(o *Store) error { return o.conn.Exec(ctx, stmt, args...) })
}

// onServer calls f with a store on the server at addr, connected as this
// one is (user, password, database, TLS).
func (s *Store) onServer(ctx context.Context, addr string, f func(*Store) error) error {
	o := *s.opts
	o.Addr = []string{addr}
	if o.TLS != nil {
		o.TLS = o.TLS.Clone()
	}
	conn, err := clickhouse.Open(&o)
	if err != nil {
		return err
	}
	defer conn.Close()
	return f(&Store{conn: conn, db: s.db, opts: &o})
}

// columnExists: err is ClickHouse refusing to add a column it already has
// (code 44 on 18.16, DUPLICATE_COLUMN 15 on current versions): a migration
// run again after it stopped half-way finds the columns it had added (18.16
// has no ADD COLUMN IF NOT EXISTS).
func columnExists(err error) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && (ex.Code == 44 || ex.Code == 15) && strings.Contains(ex.Message, "already exists")
}

// CreateDatabaseOnCluster is the statement that creates the database on
// every server of the cluster before its tables.
func CreateDatabaseOnCluster(db, cluster string) string {
	return "CREATE DATABASE IF NOT EXISTS " + quoteIdent(db) + " ON CLUSTER " + quoteIdent(cluster)
}

func (s *Store) appliedVersions(ctx context.Context) (map[int]bool, error) {
	done := map[int]bool{}
	rows, err := s.Query(ctx, selectMigrations)
	if err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("reading schema_migrations: %w", err)
		}
		done[int(v)] = true
	}
	return done, rows.Err()
}

// commentsBreakReplication: ClickHouse before 19 refuses to create a
// Replicated table whose columns have comments ("Table structure in
// ZooKeeper is too different from local table structure").
func commentsBreakReplication(version string) bool {
	major, _, _ := strings.Cut(version, ".")
	n, err := strconv.Atoi(major)
	return err == nil && n < 19
}

// ClusterTransformer rewrites single-server migration statements into their
// cluster form. It remembers the tables of the statements it has seen, so
// the migrations must go through one transformer in order.
type ClusterTransformer struct {
	Cluster  string // <remote_servers> name
	Database string // database of the tables (ON CLUSTER runs on other servers: names are qualified)
	// DropColumnComments removes column comments (needed on ClickHouse 18).
	DropColumnComments bool
	// ShardMacro names a shard's replication group in the ZooKeeper paths;
	// empty: "{shard}". The cluster test uses "{replica}" to make its two
	// servers two shards of one replica.
	ShardMacro string

	tables map[string]tableKind
}

type tableKind int

const (
	sharded    tableKind = iota + 1 // name_local replicated per shard + name Distributed
	everywhere                      // replicated on every server of the cluster
	view
)

// LocalSuffix names the per-shard table under a Distributed one.
const LocalSuffix = "_local"

// ClusterStatements rewrites the migrations ms for cluster and database,
// statement by statement, in order.
func ClusterStatements(ms []Migration, cluster, database string, dropColumnComments bool) ([][]string, error) {
	tr := &ClusterTransformer{Cluster: cluster, Database: database, DropColumnComments: dropColumnComments}
	out := make([][]string, 0, len(ms))
	for _, m := range ms {
		st, err := tr.Migration(m)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Migration rewrites every statement of m.
func (t *ClusterTransformer) Migration(m Migration) ([]string, error) {
	var out []string
	for i, stmt := range SplitStatements(m.SQL) {
		st, err := t.Statement(stmt)
		if err != nil {
			return nil, fmt.Errorf("migration %s, statement %d: %w", m.Name, i+1, err)
		}
		out = append(out, st...)
	}
	return out, nil
}

// Statement rewrites one single-server statement into the statements of the
// cluster form:
//
//   - CREATE TABLE t (…) ENGINE = XMergeTree(args) … of a table with a set_id
//     column: t_local, ReplicatedXMergeTree under
//     /clickhouse/tables/{shard}/<db>/t_local, and t, Distributed over it by
//     ShardingKey;
//   - the same without set_id: t, ReplicatedXMergeTree under
//     /clickhouse/tables/all/<db>/t: every server holds every row;
//   - CREATE VIEW: ON CLUSTER, over the Distributed tables; an IN subquery on
//     a sharded table keyed by set_id reads the shard's own table (the set is
//     on that shard), any other IN on a sharded table becomes GLOBAL IN;
//   - ALTER TABLE on a sharded table: column changes go to t_local, on one
//     replica of each shard (EachShard), then the Distributed table is made
//     again over it (ClickHouse 18 cannot ALTER a Distributed table ON
//     CLUSTER); other changes go to t_local only;
//   - ALTER TABLE on a table on every server: run here, replicated to all;
//   - DROP TABLE / VIEW: ON CLUSTER, both tables of a sharded one;
//   - INSERT … SELECT: once, names qualified (into the Distributed table of a
//     sharded one), IN subqueries as in views.
//
// Other statements and engines (Log, Memory, materialized views…) have no
// cluster form here and are refused, rather than silently left on one server.
func (t *ClusterTransformer) Statement(stmt string) ([]string, error) {
	if t.tables == nil {
		t.tables = map[string]tableKind{}
	}
	if t.Cluster == "" || t.Database == "" {
		return nil, fmt.Errorf("cluster form: cluster and database names are needed")
	}
	toks, err := lexSQL(stmt)
	if err != nil {
		return nil, err
	}
	p := &parser{src: stmt, toks: toks}
	switch {
	case p.kw(0, "CREATE") && p.kw(1, "TABLE"):
		return t.createTable(p)
	case p.kw(0, "CREATE") && p.kw(1, "VIEW"):
		return t.createView(p)
	case p.kw(0, "ALTER") && p.kw(1, "TABLE"):
		return t.alterTable(p)
	case p.kw(0, "DROP") && (p.kw(1, "TABLE") || p.kw(1, "VIEW")):
		return t.drop(p)
	case p.kw(0, "INSERT") && p.kw(1, "INTO"):
		return t.insert(p)
	}
	return nil, fmt.Errorf("no cluster form for the statement %q", abbrev(stmt))
}

func (t *ClusterTransformer) shardMacro() string {
	if t.ShardMacro == "" {
		return "{shard}"
	}
	return t.ShardMacro
}

func (t *ClusterTransformer) q(name string) string {
	return quoteIdent(t.Database) + "." + quoteIdent(name)
}

func (t *ClusterTransformer) onCluster() string { return " ON CLUSTER " + quoteIdent(t.Cluster) }

func (t *ClusterTransformer) distributed(name, ifNotExists string) string {
	return "CREATE TABLE " + ifNotExists + t.q(name) + t.onCluster() + " AS " + t.q(name+LocalSuffix) +
		" ENGINE = Distributed(" + quoteString(t.Cluster) + ", " + quoteString(t.Database) + ", " +
		quoteString(name+LocalSuffix) + ", " + ShardingKey + ")"
}

// createTable: CREATE TABLE [IF NOT EXISTS] name (cols) ENGINE = E[(args)] rest
func (t *ClusterTransformer) createTable(p *parser) ([]string, error) {
	i := 2
	ifne := ""
	if p.kw(i, "IF") && p.kw(i+1, "NOT") && p.kw(i+2, "EXISTS") {
		ifne, i = "IF NOT EXISTS ", i+3
	}
	name, i, err := p.tableName(i)
	if err != nil {
		return nil, err
	}
	if !p.punct(i, "(") {
		return nil, fmt.Errorf("CREATE TABLE %s: only the form with a column list has a cluster form", name)
	}
	open := i
	closing, err := p.matching(open)
	if err != nil {
		return nil, err
	}
	cols, edits := p.columns(open, closing, t.DropColumnComments)
	i = closing + 1
	if !(p.kw(i, "ENGINE") && p.punct(i+1, "=") && p.is(i+2, tokIdent)) {
		return nil, fmt.Errorf("CREATE TABLE %s: ENGINE = … expected after the columns", name)
	}
	engine := p.toks[i+2].text
	i += 3
	args := ""
	if p.punct(i, "(") {
		c, err := p.matching(i)
		if err != nil {
			return nil, err
		}
		args = strings.TrimSpace(p.src[p.toks[i].end:p.toks[c].start])
		i = c + 1
	}
	if !strings.HasSuffix(engine, "MergeTree") || strings.HasPrefix(engine, "Replicated") {
		return nil, fmt.Errorf("CREATE TABLE %s: engine %s has no replicated form (use a MergeTree engine)", name, engine)
	}
	rest := ""
	if i < len(p.toks) {
		rest = " " + strings.TrimSpace(p.src[p.toks[i].start:])
	}
	colText := applyEdits(p.src, p.toks[open].start, p.toks[closing].end, edits)
	kind, local, zkPath := everywhere, name, "/clickhouse/tables/all/"+t.Database+"/"+name
	if cols[shardColumn] {
		kind, local, zkPath = sharded, name+LocalSuffix, "/clickhouse/tables/"+t.shardMacro()+"/"+t.Database+"/"+name+LocalSuffix
	}
	engArgs := quoteString(zkPath) + ", '{replica}'"
	if args != "" {
		engArgs += ", " + args
	}
	out := []string{"CREATE TABLE " + ifne + t.q(local) + t.onCluster() + "\n" + colText + "\nENGINE = Replicated" + engine + "(" + engArgs + ")" + rest}
	if kind == sharded {
		out = append(out, t.distributed(name, ifne))
	}
	t.tables[name] = kind
	return out, nil
}

func (t *ClusterTransformer) createView(p *parser) ([]string, error) {
	i := 2
	ifne := ""
	if p.kw(i, "IF") && p.kw(i+1, "NOT") && p.kw(i+2, "EXISTS") {
		ifne, i = "IF NOT EXISTS ", i+3
	}
	name, i, err := p.tableName(i)
	if err != nil {
		return nil, err
	}
	if !p.kw(i, "AS") || i+1 >= len(p.toks) {
		return nil, fmt.Errorf("CREATE VIEW %s: AS SELECT … expected", name)
	}
	body := i + 1
	edits, err := t.viewEdits(p, body)
	if err != nil {
		return nil, fmt.Errorf("CREATE VIEW %s: %w", name, err)
	}
	t.tables[name] = view
	return []string{"CREATE VIEW " + ifne + t.q(name) + t.onCluster() + " AS\n" +
		applyEdits(p.src, p.toks[body].start, len(p.src), edits)}, nil
}

// viewEdits qualifies the tables a view reads and chooses, for each IN
// subquery on a sharded table, shard-local or GLOBAL.
func (t *ClusterTransformer) viewEdits(p *parser, from int) ([]edit, error) {
	depth := make([]int, len(p.toks)) // parenthesis depth of each token
	d := 0
	for k, tk := range p.toks {
		if tk.kind == tokPunct && tk.text == ")" {
			d--
		}
		depth[k] = d
		if tk.kind == tokPunct && tk.text == "(" {
			d++
		}
	}
	// local[k]: the table at token k is to be read shard-locally.
	local := map[int]bool{}
	var edits []edit
	for k := from; k < len(p.toks); k++ {
		if !p.kw(k, "IN") || !p.punct(k+1, "(") || !p.kw(k+2, "SELECT") || p.kw(k-1, "GLOBAL") {
			continue
		}
		end, err := p.matching(k + 1)
		if err != nil {
			return nil, err
		}
		refs := t.tableRefs(p, k+2, end)
		anySharded := false
		for _, r := range refs {
			anySharded = anySharded || t.tables[p.toks[r].text] == sharded
		}
		if !anySharded {
			continue
		}
		if p.leftOperandHas(k, shardColumn) && t.outerIsSharded(p, depth, from, k) {
			for _, r := range refs {
				if t.tables[p.toks[r].text] == sharded {
					local[r] = true
				}
			}
		} else {
			ins := k
			if p.kw(k-1, "NOT") {
				ins = k - 1
			}
			edits = append(edits, edit{p.toks[ins].start, p.toks[ins].start, "GLOBAL "})
		}
	}
	for _, r := range t.tableRefs(p, from, len(p.toks)) {
		n := p.toks[r].text
		if local[r] {
			n += LocalSuffix
		}
		edits = append(edits, edit{p.toks[r].start, p.toks[r].end, t.q(n)})
	}
	return edits, nil
}

// tableRefs lists the tokens in [from, to) naming a table of the migrations
// after FROM or JOIN (not a subquery, a table function or a qualified name).
func (t *ClusterTransformer) tableRefs(p *parser, from, to int) []int {
	var out []int
	for k := from; k < to-1; k++ {
		if !(p.kw(k, "FROM") || p.kw(k, "JOIN")) || !p.is(k+1, tokIdent) || p.punct(k+2, ".") || p.punct(k+2, "(") {
			continue
		}
		if _, ok := t.tables[p.toks[k+1].text]; ok {
			out = append(out, k+1)
		}
	}
	return out
}

// outerIsSharded: the SELECT the IN at token in belongs to reads a sharded
// table directly (its nearest FROM before the IN at the same depth), so the
// IN runs on every shard.
func (t *ClusterTransformer) outerIsSharded(p *parser, depth []int, from, in int) bool {
	for k := in - 1; k >= from; k-- {
		if depth[k] < depth[in] {
			return false
		}
		if depth[k] == depth[in] && p.kw(k, "FROM") {
			return p.is(k+1, tokIdent) && !p.punct(k+2, ".") && t.tables[p.toks[k+1].text] == sharded
		}
	}
	return false
}

func (t *ClusterTransformer) alterTable(p *parser) ([]string, error) {
	name, i, err := p.tableName(2)
	if err != nil {
		return nil, err
	}
	if i >= len(p.toks) {
		return nil, fmt.Errorf("ALTER TABLE %s: nothing to do", name)
	}
	ops := strings.TrimSpace(p.src[p.toks[i].start:])
	switch t.tables[name] {
	case everywhere:
		// One replication group over every server: the ALTER of one replica
		// reaches the others through ZooKeeper. ON CLUSTER would run it once
		// per shard, and the second run would find the column already there.
		return []string{"ALTER TABLE " + t.q(name) + " " + ops}, nil
	case sharded:
		out := []string{EachShard + "ALTER TABLE " + t.q(name+LocalSuffix) + " " + ops}
		if p.kw(i+1, "COLUMN") && (p.kw(i, "ADD") || p.kw(i, "DROP") || p.kw(i, "MODIFY") || p.kw(i, "COMMENT") || p.kw(i, "CLEAR")) {
			out = append(out, "DROP TABLE IF EXISTS "+t.q(name)+t.onCluster(), t.distributed(name, "IF NOT EXISTS "))
		}
		return out, nil
	}
	return nil, fmt.Errorf("ALTER TABLE %s: not a table created by an earlier migration", name)
}

// insert runs once, on the server migrating (a sharded table's name is its
// Distributed table): names qualified, IN subqueries as in views.
func (t *ClusterTransformer) insert(p *parser) ([]string, error) {
	name, i, err := p.tableName(2)
	if err != nil {
		return nil, err
	}
	if _, ok := t.tables[name]; !ok {
		return nil, fmt.Errorf("INSERT INTO %s: not a table created by an earlier migration", name)
	}
	edits, err := t.viewEdits(p, i)
	if err != nil {
		return nil, fmt.Errorf("INSERT INTO %s: %w", name, err)
	}
	edits = append(edits, edit{p.toks[2].start, p.toks[2].end, t.q(name)})
	return []string{applyEdits(p.src, 0, len(p.src), edits)}, nil
}

func (t *ClusterTransformer) drop(p *parser) ([]string, error) {
	what := strings.ToUpper(p.toks[1].text)
	i := 2
	ife := ""
	if p.kw(i, "IF") && p.kw(i+1, "EXISTS") {
		ife, i = "IF EXISTS ", i+2
	}
	name, i, err := p.tableName(i)
	if err != nil {
		return nil, err
	}
	if i != len(p.toks) {
		return nil, fmt.Errorf("DROP %s %s: unexpected %q", what, name, p.toks[i].text)
	}
	kind := t.tables[name]
	delete(t.tables, name)
	out := []string{"DROP " + what + " " + ife + t.q(name) + t.onCluster()}
	if kind == sharded {
		out = append(out, "DROP TABLE "+ife+t.q(name+LocalSuffix)+t.onCluster())
	}
	return out, nil
}

// --- a small SQL lexer: enough to find names, parentheses and keywords
// without being fooled by strings, comments and quoted identifiers.

type tokKind int

const (
	tokIdent tokKind = iota + 1 // bare or quoted (text unquoted)
	tokString
	tokNumber
	tokPunct
)

type token struct {
	kind       tokKind
	text       string
	start, end int // byte offsets in the statement
	quoted     bool
}

func lexSQL(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				i = len(s)
			} else {
				i += j + 1
			}
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("unterminated comment at byte %d", i)
			}
			i += j + 4
		case c == '\'' || c == '`' || c == '"':
			j := i + 1
			var b strings.Builder
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated %c at byte %d", c, i)
				}
				if s[j] == '\\' && j+1 < len(s) {
					b.WriteByte(s[j+1])
					j += 2
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			k := tokString
			if c != '\'' {
				k = tokIdent
			}
			out = append(out, token{kind: k, text: b.String(), start: i, end: j + 1, quoted: c != '\''})
			i = j + 1
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && (isIdentStart(s[j]) || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			out = append(out, token{kind: tokIdent, text: s[i:j], start: i, end: j})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' || s[j] == 'x' ||
				(s[j] >= 'a' && s[j] <= 'f') || (s[j] >= 'A' && s[j] <= 'F')) {
				j++
			}
			out = append(out, token{kind: tokNumber, text: s[i:j], start: i, end: j})
			i = j
		default:
			out = append(out, token{kind: tokPunct, text: s[i : i+1], start: i, end: i + 1})
			i++
		}
	}
	return out, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

type parser struct {
	src  string
	toks []token
}

func (p *parser) is(i int, k tokKind) bool { return i >= 0 && i < len(p.toks) && p.toks[i].kind == k }

func (p *parser) kw(i int, w string) bool {
	return p.is(i, tokIdent) && !p.toks[i].quoted && strings.EqualFold(p.toks[i].text, w)
}

func (p *parser) punct(i int, c string) bool { return p.is(i, tokPunct) && p.toks[i].text == c }

// tableName reads an unqualified table name at i: migrations name no
// database, the connection's is used (and the cluster form qualifies).
func (p *parser) tableName(i int) (string, int, error) {
	if !p.is(i, tokIdent) {
		return "", i, fmt.Errorf("table name expected in %q", abbrev(p.src))
	}
	if p.punct(i+1, ".") {
		return "", i, fmt.Errorf("%q: migrations must not name a database", abbrev(p.src))
	}
	if p.kw(i+1, "ON") && p.kw(i+2, "CLUSTER") {
		return "", i, fmt.Errorf("%q: migrations are written for one server, without ON CLUSTER", abbrev(p.src))
	}
	return p.toks[i].text, i + 1, nil
}

func (p *parser) matching(open int) (int, error) {
	d := 0
	for k := open; k < len(p.toks); k++ {
		switch {
		case p.punct(k, "("):
			d++
		case p.punct(k, ")"):
			d--
			if d == 0 {
				return k, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced parenthesis in %q", abbrev(p.src))
}

// columns returns the column names of the list between open and closing and,
// if dropComments, the edits removing their COMMENT clauses.
func (p *parser) columns(open, closing int, dropComments bool) (map[string]bool, []edit) {
	cols := map[string]bool{}
	var edits []edit
	d := 0
	for k := open; k < closing; k++ {
		switch {
		case p.punct(k, "("):
			d++
			if d == 1 && p.is(k+1, tokIdent) {
				cols[p.toks[k+1].text] = true
			}
		case p.punct(k, ")"):
			d--
		case d == 1 && p.punct(k, ","):
			if p.is(k+1, tokIdent) {
				cols[p.toks[k+1].text] = true
			}
		case d == 1 && dropComments && p.kw(k, "COMMENT") && p.is(k+1, tokString):
			edits = append(edits, edit{p.toks[k].start, p.toks[k+1].end, ""})
		}
	}
	return cols, edits
}

// leftOperandHas: the left operand of the IN at token in (a name, or a
// parenthesised tuple) mentions column.
func (p *parser) leftOperandHas(in int, column string) bool {
	k := in - 1
	if p.kw(k, "NOT") {
		k--
	}
	if p.is(k, tokIdent) {
		return p.toks[k].text == column
	}
	if !p.punct(k, ")") {
		return false
	}
	d := 0
	for ; k >= 0; k-- {
		switch {
		case p.punct(k, ")"):
			d++
		case p.punct(k, "("):
			d--
			if d == 0 {
				return false
			}
		case p.is(k, tokIdent) && p.toks[k].text == column:
			return true
		}
	}
	return false
}

type edit struct {
	start, end int
	text       string
}

// applyEdits returns src[from:to] with the edits (sorted, not overlapping)
// applied.
func applyEdits(src string, from, to int, edits []edit) string {
	sortEdits(edits)
	var b strings.Builder
	at := from
	for _, e := range edits {
		if e.start < from || e.end > to {
			continue
		}
		b.WriteString(src[at:e.start])
		b.WriteString(e.text)
		at = e.end
	}
	b.WriteString(src[at:to])
	return b.String()
}

func sortEdits(es []edit) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].start < es[j-1].start; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

var bareIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func quoteIdent(s string) string {
	if bareIdent.MatchString(s) {
		return s
	}
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
}

func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func abbrev(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

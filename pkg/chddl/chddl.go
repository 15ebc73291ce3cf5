// Package chddl is ClickHouse DDL: the cluster form of a migration. The
// migrations (schemas/clickhouse) are written for one server; Transformer
// rewrites them, statement by statement, into replicated tables (sharded by
// set when they carry set_id, on every server otherwise), Distributed tables
// over the sharded ones, and views and INSERT … SELECTs that read them
// shard-locally where the set makes that exact (docs/cluster.md).
//
// It only writes text, with a small SQL lexer that is not fooled by strings,
// comments and quoted identifiers. pkg/store runs what it writes
// (Store.MigrateWith with a cluster), and keeps what executes on the cluster
// (each shard's replicas, mutations on local tables).
package chddl

import (
	"fmt"
	"strconv"
	"strings"
)

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

// EachShard marks a statement of the cluster form that runs on one replica
// of each shard, without ON CLUSTER (the caller strips it and runs the rest): an ALTER of a replicated table, which
// its replica passes on to the others of its shard through ZooKeeper.
// ClickHouse 18.16's DDL queue elects the replica that runs such an ALTER
// with a race (it looks whether the shard's task is done before taking the
// lock, not after): under load both replicas ran it, the second then failed
// on the other's ZooKeeper node and its DDL worker stopped for good, so that
// every later ON CLUSTER statement timed out (make chaos, on the loopback
// cluster).
const EachShard = "/* each shard */ "

// Transformer rewrites single-server migration statements into their
// cluster form. It remembers the tables of the statements it has seen, so
// the migrations must go through one transformer in order.
type Transformer struct {
	Cluster  string // <remote_servers> name
	Database string // database of the tables (ON CLUSTER runs on other servers: names are qualified)
	// DropColumnComments removes column comments (needed on ClickHouse 18).
	DropColumnComments bool
	// ShardMacro names a shard's replication group in the ZooKeeper paths;
	// empty: "{shard}". The cluster test uses "{replica}" to make its two
	// servers two shards of one replica.
	ShardMacro string

	tables map[string]tableKind
	// renamed counts, per name, the tables renamed away from it: a table
	// created again under that name gets a ZooKeeper path of its own (the
	// renamed one keeps the old path, which two tables cannot share).
	renamed map[string]int
}

type tableKind int

const (
	sharded    tableKind = iota + 1 // name_local replicated per shard + name Distributed
	everywhere                      // replicated on every server of the cluster
	view
)

// LocalSuffix names the per-shard table under a Distributed one.
const LocalSuffix = "_local"

// Migration rewrites every statement of the migration file name holding sql.
func (t *Transformer) Migration(name, sql string) ([]string, error) {
	var out []string
	for i, stmt := range SplitStatements(sql) {
		st, err := t.Statement(stmt)
		if err != nil {
			return nil, fmt.Errorf("migration %s, statement %d: %w", name, i+1, err)
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
//   - RENAME TABLE a TO b: ON CLUSTER; for a sharded table the _local
//     tables, then a's Distributed table dropped and b's made over b_local;
//     a table created later under the name a gets a ZooKeeper path of its
//     own (a's replicas keep theirs under the name b);
//   - INSERT … SELECT: once, names qualified (into the Distributed table of a
//     sharded one), IN subqueries as in views; a plain copy from one sharded
//     table into another (columns of one table, no subquery, join or
//     grouping) runs shard-locally instead, on each shard (EachShard): the
//     rows stay on the shard the sharding key put them on, without going
//     through the network.
//
// Other statements and engines (Log, Memory, materialized views…) have no
// cluster form here and are refused, rather than silently left on one server.
func (t *Transformer) Statement(stmt string) ([]string, error) {
	if t.tables == nil {
		t.tables, t.renamed = map[string]tableKind{}, map[string]int{}
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
	case p.kw(0, "RENAME") && p.kw(1, "TABLE"):
		return t.rename(p)
	}
	return nil, fmt.Errorf("no cluster form for the statement %q", abbrev(stmt))
}

func (t *Transformer) shardMacro() string {
	if t.ShardMacro == "" {
		return "{shard}"
	}
	return t.ShardMacro
}

func (t *Transformer) q(name string) string {
	return QuoteIdent(t.Database) + "." + QuoteIdent(name)
}

func (t *Transformer) onCluster() string { return " ON CLUSTER " + QuoteIdent(t.Cluster) }

func (t *Transformer) distributed(name, ifNotExists string) string {
	return "CREATE TABLE " + ifNotExists + t.q(name) + t.onCluster() + " AS " + t.q(name+LocalSuffix) +
		" ENGINE = Distributed(" + QuoteString(t.Cluster) + ", " + QuoteString(t.Database) + ", " +
		QuoteString(name+LocalSuffix) + ", " + ShardingKey + ")"
}

// createTable: CREATE TABLE [IF NOT EXISTS] name (cols) ENGINE = E[(args)] rest
func (t *Transformer) createTable(p *parser) ([]string, error) {
	ifne, name, i, err := p.createdName()
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
	if n := t.renamed[name]; n > 0 {
		zkPath += "_v" + strconv.Itoa(n+1)
	}
	engArgs := QuoteString(zkPath) + ", '{replica}'"
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

func (t *Transformer) createView(p *parser) ([]string, error) {
	ifne, name, i, err := p.createdName()
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
func (t *Transformer) viewEdits(p *parser, from int) ([]edit, error) {
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
// after FROM or JOIN (not a subquery, a table function, a qualified name or
// the array of an ARRAY JOIN).
func (t *Transformer) tableRefs(p *parser, from, to int) []int {
	var out []int
	for k := from; k < to-1; k++ {
		if !(p.kw(k, "FROM") || p.kw(k, "JOIN")) || !p.is(k+1, tokIdent) || p.punct(k+2, ".") || p.punct(k+2, "(") {
			continue
		}
		if p.kw(k, "JOIN") && k > 0 && p.kw(k-1, "ARRAY") {
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
func (t *Transformer) outerIsSharded(p *parser, depth []int, from, in int) bool {
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

func (t *Transformer) alterTable(p *parser) ([]string, error) {
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
func (t *Transformer) insert(p *parser) ([]string, error) {
	name, i, err := p.tableName(2)
	if err != nil {
		return nil, err
	}
	if _, ok := t.tables[name]; !ok {
		return nil, fmt.Errorf("INSERT INTO %s: not a table created by an earlier migration", name)
	}
	if src, ok := t.plainCopy(p, i); ok && t.tables[name] == sharded {
		return []string{EachShard + applyEdits(p.src, 0, len(p.src), []edit{
			{p.toks[2].start, p.toks[2].end, t.q(name + LocalSuffix)},
			{p.toks[src].start, p.toks[src].end, t.q(p.toks[src].text + LocalSuffix)},
		})}, nil
	}
	edits, err := t.viewEdits(p, i)
	if err != nil {
		return nil, fmt.Errorf("INSERT INTO %s: %w", name, err)
	}
	edits = append(edits, edit{p.toks[2].start, p.toks[2].end, t.q(name)})
	return []string{applyEdits(p.src, 0, len(p.src), edits)}, nil
}

// plainCopy: the INSERT's SELECT, from token i, reads columns of one sharded
// table and nothing else (one SELECT, no join, grouping, IN or union): each
// row is copied on its own, so the copy of each shard's rows is exact on
// that shard. It returns the token of the table read.
func (t *Transformer) plainCopy(p *parser, i int) (int, bool) {
	src, selects := -1, 0
	for k := i; k < len(p.toks); k++ {
		switch {
		case p.kw(k, "SELECT"):
			selects++
		case p.kw(k, "JOIN"), p.kw(k, "GROUP"), p.kw(k, "IN"), p.kw(k, "UNION"), p.kw(k, "ARRAY"), p.kw(k, "LIMIT"):
			return 0, false
		case p.kw(k, "FROM"):
			if src >= 0 || !p.is(k+1, tokIdent) || p.punct(k+2, ".") || p.punct(k+2, "(") || t.tables[p.toks[k+1].text] != sharded {
				return 0, false
			}
			src = k + 1
		}
	}
	return src, selects == 1 && src >= 0
}

// rename: RENAME TABLE a TO b[, c TO d]. Only tables (not views), each
// renamed to a name no table of the migrations holds.
func (t *Transformer) rename(p *parser) ([]string, error) {
	type pair struct{ from, to string }
	var pairs []pair
	for i := 2; ; {
		from, j, err := p.tableName(i)
		if err != nil {
			return nil, err
		}
		if !p.kw(j, "TO") {
			return nil, fmt.Errorf("RENAME TABLE %s: TO expected", from)
		}
		to, k, err := p.tableName(j + 1)
		if err != nil {
			return nil, err
		}
		if kind := t.tables[from]; kind != sharded && kind != everywhere {
			return nil, fmt.Errorf("RENAME TABLE %s: not a table created by an earlier migration", from)
		}
		if _, ok := t.tables[to]; ok {
			return nil, fmt.Errorf("RENAME TABLE %s TO %s: %s is a table of the migrations already", from, to, to)
		}
		pairs = append(pairs, pair{from, to})
		if p.punct(k, ",") {
			i = k + 1
			continue
		}
		if k != len(p.toks) {
			return nil, fmt.Errorf("RENAME TABLE %s TO %s: unexpected %q", from, to, p.toks[k].text)
		}
		break
	}
	var locals []string
	var after []string
	for _, r := range pairs {
		kind := t.tables[r.from]
		if kind == sharded {
			locals = append(locals, t.q(r.from+LocalSuffix)+" TO "+t.q(r.to+LocalSuffix))
			after = append(after, "DROP TABLE IF EXISTS "+t.q(r.from)+t.onCluster(), t.distributed(r.to, "IF NOT EXISTS "))
		} else {
			locals = append(locals, t.q(r.from)+" TO "+t.q(r.to))
		}
		delete(t.tables, r.from)
		t.tables[r.to] = kind
		t.renamed[r.from]++
	}
	return append([]string{"RENAME TABLE " + strings.Join(locals, ", ") + t.onCluster()}, after...), nil
}

// RenameTargets returns the new names of a RENAME TABLE statement (as
// written: qualified in the cluster form), or nil for any other statement.
// A migration stopped half-way and run again finds its renames done: the
// migrator skips a rename whose target exists (ClickHouse 18.16 has no
// RENAME … IF EXISTS).
func RenameTargets(stmt string) []string {
	toks, err := lexSQL(stmt)
	if err != nil {
		return nil
	}
	p := &parser{src: stmt, toks: toks}
	if !p.kw(0, "RENAME") || !p.kw(1, "TABLE") {
		return nil
	}
	var out []string
	for k := 2; k < len(p.toks)-1; k++ {
		if !p.kw(k, "TO") || !p.is(k+1, tokIdent) {
			continue
		}
		name := p.toks[k+1].text
		if p.punct(k+2, ".") && p.is(k+3, tokIdent) {
			name += "." + p.toks[k+3].text
		}
		out = append(out, name)
	}
	return out
}

func (t *Transformer) drop(p *parser) ([]string, error) {
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

// LocalMutation is the form of a mutation (ALTER TABLE t UPDATE|DELETE …)
// on the shard-local table under t's Distributed table: t, and the same
// statement on t+LocalSuffix. ClickHouse 18.16 cannot mutate through a
// Distributed table; the caller runs the local form on one replica of each
// shard (as EachShard), which passes it on to the other replicas.
func LocalMutation(stmt string) (table, local string, err error) {
	rest, ok := strings.CutPrefix(stmt, "ALTER TABLE ")
	if !ok {
		return "", "", fmt.Errorf("not an ALTER TABLE: %q", abbrev(stmt))
	}
	table, ops, _ := strings.Cut(rest, " ")
	return table, "ALTER TABLE " + table + LocalSuffix + " " + ops, nil
}

// CreateDatabase is the statement that creates the database on every server
// of the cluster before its tables.
func CreateDatabase(db, cluster string) string {
	return "CREATE DATABASE IF NOT EXISTS " + QuoteIdent(db) + " ON CLUSTER " + QuoteIdent(cluster)
}

// CommentsBreakReplication: ClickHouse before 19 refuses to create a
// Replicated table whose columns have comments ("Table structure in
// ZooKeeper is too different from local table structure"): the transformer's
// DropColumnComments for a server of that version.
func CommentsBreakReplication(version string) bool {
	major, _, _ := strings.Cut(version, ".")
	n, err := strconv.Atoi(major)
	return err == nil && n < 19
}

// SplitStatements splits a migration file on the semicolons that end a line,
// dropping comment-only lines ('--').
func SplitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

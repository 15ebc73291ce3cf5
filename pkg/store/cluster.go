package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/bndmr/hub/pkg/chddl"
)

// What runs the cluster form of the schema (pkg/chddl writes it): the
// migrations ON CLUSTER, statements on one replica of each shard, mutations
// on the shards' local tables.

// MigrateOptions chooses the form of the schema Migrate applies.
type MigrateOptions struct {
	// Cluster is the cluster name of <remote_servers>; empty: one server,
	// the migrations as written.
	Cluster string
	// ShardMacro: see chddl.Transformer; empty in production.
	ShardMacro string
	// LockTTL: a migration lock older than this was left by a migrator that
	// died and is taken over; 0: DefaultLockTTL.
	LockTTL time.Duration
	// Waiting, when set, is told once that another migrator holds the lock
	// (how long it has held it).
	Waiting func(held time.Duration)
	// Through, when not 0, stops after the migration of that version: a
	// store as an older release left it (tests of a migration on data
	// loaded before it). The columns the hub writes are then not checked.
	Through int
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
	if err != nil || opts.Through > 0 {
		return applied, err
	}
	return applied, s.checkInserts(ctx, typedInserts())
}

func (s *Store) migrate(ctx context.Context, opts MigrateOptions) ([]string, error) {
	var applied []string
	if opts.Cluster == "" {
		err := s.withMigrationLock(ctx, opts.LockTTL, opts.Waiting, func() (err error) {
			applied, err = s.migrateSingle(ctx, opts.Through)
			return err
		})
		return applied, err
	}
	if err := s.conn.Exec(ctx, chddl.CreateDatabase(s.db, opts.Cluster)); err != nil {
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
	tr := &chddl.Transformer{Cluster: opts.Cluster, Database: s.db, DropColumnComments: chddl.CommentsBreakReplication(version),
		ShardMacro: opts.ShardMacro}
	setup, err := tr.Statement(createMigrations.SQL)
	if err != nil {
		return nil, err
	}
	return s.applyMigrations(ctx, migrationForm{
		where:   " (cluster " + opts.Cluster + ")",
		through: opts.Through,
		setup:   setup,
		// Every migration, applied or not: later ones need to know which
		// tables earlier ones sharded.
		statements: func(m Migration) ([]string, error) { return tr.Migration(m.Name, m.SQL) },
		run: func(ctx context.Context, st string) error {
			if rest, ok := strings.CutPrefix(st, chddl.EachShard); ok {
				return s.execEachShard(ctx, opts.Cluster, rest)
			}
			return s.conn.Exec(ctx, st)
		},
	})
}

// ClusterStatements rewrites the migrations ms for cluster and database,
// statement by statement, in order (what MigrateWith runs with a cluster).
func ClusterStatements(ms []Migration, cluster, database string, dropColumnComments bool) ([][]string, error) {
	tr := &chddl.Transformer{Cluster: cluster, Database: database, DropColumnComments: dropColumnComments}
	out := make([][]string, 0, len(ms))
	for _, m := range ms {
		st, err := tr.Migration(m.Name, m.SQL)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

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
	shards := map[uint32][]string{}
	var order []uint32
	err := s.Each(ctx, clusterReplicas, []any{cluster}, func(rows Scanner) error {
		var shard, replica uint32
		var host string
		var port uint16
		if err := rows.Scan(&shard, &replica, &host, &port); err != nil {
			return err
		}
		if _, ok := shards[shard]; !ok {
			order = append(order, shard)
		}
		shards[shard] = append(shards[shard], net.JoinHostPort(host, strconv.Itoa(int(port))))
		return nil
	})
	if err != nil {
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
// as the migrations' ALTERs (chddl.EachShard). A table replicated on every server
// (no shard column, such as pseudonym_links) has no local table: the
// mutation of one server reaches the others.
func (s *Store) mutate(ctx context.Context, cluster string, st Statement, args ...any) error {
	if cluster == "" {
		return s.Exec(ctx, st, args...)
	}
	table, localForm, err := chddl.LocalMutation(st.SQL)
	if err != nil {
		return fmt.Errorf("%s: %w", st.Name, err)
	}
	var local uint64
	if err := s.QueryRow(ctx, localTableExists, table+chddl.LocalSuffix).Scan(&local); err != nil {
		return fmt.Errorf("%s: looking for %s%s: %w", st.Name, table, chddl.LocalSuffix, err)
	}
	if local == 0 {
		return s.Exec(ctx, st, args...)
	}
	return s.execEachShard(ctx, cluster, localForm, args...)
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

func (s *Store) appliedVersions(ctx context.Context) (map[int]bool, error) {
	done := map[int]bool{}
	err := s.Each(ctx, selectMigrations, nil, func(rows Scanner) error {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return err
		}
		done[int(v)] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	return done, nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/bndmr/hub/pkg/pause"
)

// The migration lock. ClickHouse 18.16 has no advisory lock, but on one
// server a CREATE TABLE without IF NOT EXISTS succeeds for exactly one client
// (the others get TABLE_ALREADY_EXISTS, code 57): the table
// schema_migrations_lock is the lock, dropped when the migrations are done.
// With a cluster the lock lives on one fixed server, the first replica of
// the first shard of <remote_servers>, and the migrator reads and records
// schema_migrations on that server too (its replicas receive the record
// later: reading it elsewhere could miss it). A lock older than
// MigrateOptions.LockTTL is taken to be left by a migrator that died: it is
// renamed to schema_migrations_lock_broken (one renamer succeeds) and taken
// again. docs/operations.md ("Upgrade the hub") says why and what remains.

// DefaultLockTTL is how old a migration lock must be before another migrator
// takes it over: far longer than the migrations take on a cluster.
const DefaultLockTTL = 15 * time.Minute

// lockPoll is how often a migrator waiting for the lock looks again.
const lockPoll = 500 * time.Millisecond

// tableExists: ClickHouse refusing to create a table that exists (code 57,
// TABLE_ALREADY_EXISTS, on every version).
func tableExists(err error) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && ex.Code == 57
}

// tableMissing: the table to rename does not exist (code 60, UNKNOWN_TABLE).
func tableMissing(err error) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && ex.Code == 60
}

// withMigrationLock runs fn holding the migration lock of this store's
// database, waiting for it as long as ctx allows. wait, when not nil, is
// told once that another migrator holds it (the loader logs it).
func (s *Store) withMigrationLock(ctx context.Context, ttl time.Duration, wait func(age time.Duration), fn func() error) error {
	if ttl <= 0 {
		ttl = DefaultLockTTL
	}
	told := false
	for {
		err := s.Exec(ctx, takeMigrationLock)
		if err == nil {
			break
		}
		if !tableExists(err) {
			return fmt.Errorf("taking the migration lock (table schema_migrations_lock of %s): %w", s.db, err)
		}
		age, held, err := s.lockAge(ctx)
		if err != nil {
			return err
		}
		if held && age > ttl {
			if err := s.breakLock(ctx); err != nil {
				return err
			}
			continue
		}
		if !told && wait != nil {
			wait(age)
			told = true
		}
		if err := pause.For(ctx, lockPoll); err != nil {
			return fmt.Errorf("waiting for the migration lock of %s, held for %v by another migrator (a loader or bndmrctl migrate; "+
				"it is taken over after %v): %w", s.db, age, ttl, err)
		}
	}
	ferr := fn()
	// Released even when ctx is done: a lock left behind makes the next
	// migrator wait for the TTL.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.Exec(rctx, releaseMigrationLock); err != nil && ferr == nil {
		return fmt.Errorf("releasing the migration lock (table schema_migrations_lock of %s: remove it by hand if it stays): %w", s.db, err)
	}
	return ferr
}

// lockAge reads how long ago the lock table was created; held is false when
// it is gone (released meanwhile). ClickHouse 18.16 reading system.tables
// while the holder drops the lock can fail with UNKNOWN_TABLE on it (seen
// in CI): that too means released.
func (s *Store) lockAge(ctx context.Context) (time.Duration, bool, error) {
	secs, held, err := s.readLockAge(ctx)
	if tableMissing(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading the migration lock of %s: %w", s.db, err)
	}
	return time.Duration(secs) * time.Second, held, nil
}

func (s *Store) readLockAge(ctx context.Context) (uint64, bool, error) {
	rows, err := s.Query(ctx, migrationLockAge)
	if err != nil {
		return 0, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return 0, false, rows.Err()
	}
	var secs uint64
	if err := rows.Scan(&secs); err != nil {
		return 0, false, err
	}
	return secs, true, rows.Err()
}

// breakLock moves a stale lock aside. Of two migrators that found it stale,
// one renames it; the other's rename fails (the lock is gone, or the broken
// one is in the way) and it looks at the lock again. A broken lock in the
// way is dropped only while the lock is still the stale one.
func (s *Store) breakLock(ctx context.Context) error {
	err := s.Exec(ctx, breakMigrationLock)
	switch {
	case err == nil, tableMissing(err):
		return nil
	case tableExists(err):
		// A lock broken earlier: dropped, then the stale one is renamed on
		// the next turn if it is still stale.
		if err := s.Exec(ctx, dropBrokenMigrationLock); err != nil {
			return fmt.Errorf("dropping schema_migrations_lock_broken of %s: %w", s.db, err)
		}
		return nil
	default:
		return fmt.Errorf("taking over the stale migration lock of %s: %w", s.db, err)
	}
}

// lockNode returns the server of cluster that holds the migration lock: the
// first replica of the first shard, as <remote_servers> names it, connected
// as this store is, in the same database.
func (s *Store) lockNode(ctx context.Context, cluster string) (*Store, error) {
	var shard, replica uint32
	var host string
	var port uint16
	if err := s.QueryRow(ctx, clusterReplicas, cluster).Scan(&shard, &replica, &host, &port); err != nil {
		return nil, fmt.Errorf("cluster %s: finding the server that holds the migration lock (the first replica of <remote_servers>): %w", cluster, err)
	}
	o := *s.opts
	o.Addr = []string{net.JoinHostPort(host, strconv.Itoa(int(port)))}
	if o.TLS != nil {
		o.TLS = o.TLS.Clone()
	}
	conn, err := clickhouse.Open(&o)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: opening %s for the migration lock: %w", cluster, o.Addr[0], err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("cluster %s: %s (holds the migration lock) does not answer: %w", cluster, o.Addr[0], err)
	}
	return &Store{conn: conn, db: s.db, opts: &o}, nil
}

// Package chbackup backs up and restores the hub's ClickHouse database.
//
// On ClickHouse 18.16, which has no BACKUP statement: every MergeTree table
// is frozen (ALTER TABLE … FREEZE hard-links its parts under the server's
// shadow/ folder, an instant and consistent copy per table), the frozen parts
// are copied into the backup folder beside each table's CREATE, and the
// shadow copy is removed. A restore creates the tables in an empty database,
// copies the parts into each table's detached/ folder and attaches them
// (ALTER TABLE … ATTACH PART), then checks every table's row count against
// the backup. Both run on the ClickHouse host (or its pod), which must see
// the server's data folder: the tool reads and writes it.
//
// On ClickHouse 22.8 and later, BACKUP DATABASE … TO File(…) and RESTORE
// DATABASE … FROM File(…) do the same inside the server (Backup, Restore).
package chbackup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bndmr/hub/pkg/backupdir"
	"github.com/bndmr/hub/pkg/store"
)

// Manifest describes a backup folder.
type Manifest struct {
	Method   string    `json:"method"` // "freeze" or "backup"
	Database string    `json:"database"`
	Version  string    `json:"server_version"`
	Taken    time.Time `json:"taken"`
	// Path: for "backup", the server's folder holding the backup.
	Path   string  `json:"path,omitempty"`
	Tables []Table `json:"tables"`
}

// Table is one table or view of a backup.
type Table struct {
	Name   string   `json:"name"`
	Engine string   `json:"engine"`
	Create string   `json:"create"`
	Rows   uint64   `json:"rows"`
	Parts  []string `json:"parts,omitempty"`
}

// ManifestFile is the manifest's name in a backup folder.
const ManifestFile = "manifest.json"

type tableInfo struct{ name, engine, create, dataPath string }

func listTables(ctx context.Context, st *store.Store) ([]tableInfo, error) {
	var out []tableInfo
	err := st.Each(ctx, tables, nil, func(rows store.Scanner) error {
		var t tableInfo
		if err := rows.Scan(&t.name, &t.engine, &t.create, &t.dataPath); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the tables of %s: %w", st.Database(), err)
	}
	return out, nil
}

func (t tableInfo) hasParts() bool { return strings.HasSuffix(t.engine, "MergeTree") }

func count(ctx context.Context, st *store.Store, table string) (uint64, error) {
	var n uint64
	if err := st.QueryRow(ctx, countRows(table)).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting the rows of %s: %w", table, err)
	}
	return n, nil
}

// checkRows: the restored table t holds the rows the backup recorded.
func checkRows(ctx context.Context, st *store.Store, t Table) error {
	n, err := count(ctx, st, t.Name)
	if err != nil {
		return err
	}
	if n != t.Rows {
		return fmt.Errorf("table %s restored with %d rows, the backup recorded %d", t.Name, n, t.Rows)
	}
	return nil
}

func version(ctx context.Context, st *store.Store) string {
	var v string
	_ = st.QueryRow(ctx, selectVersion).Scan(&v) // informative only
	return v
}

// Freeze backs up the database of st into dir (created; must be empty).
// The server's data folder must be readable here.
func Freeze(ctx context.Context, st *store.Store, dir string) (*Manifest, error) {
	if err := backupdir.Empty(dir); err != nil {
		return nil, err
	}
	ts, err := listTables(ctx, st)
	if err != nil {
		return nil, err
	}
	man := &Manifest{Method: "freeze", Database: st.Database(), Version: version(ctx, st), Taken: time.Now().UTC()}
	for _, t := range ts {
		e := Table{Name: t.name, Engine: t.engine, Create: t.create}
		if t.hasParts() {
			// Count before the freeze: rows inserted in between are in
			// the parts and the restore's check says so.
			if e.Rows, err = count(ctx, st, t.name); err != nil {
				return nil, err
			}
			if e.Parts, err = freezeTable(ctx, st, t, e.Rows, filepath.Join(dir, t.name)); err != nil {
				return nil, err
			}
		}
		man.Tables = append(man.Tables, e)
	}
	return man, writeManifest(dir, man)
}

// serverPath is the server's <path>, from a table's data path
// (<path>/data/<database>/<table>/).
func serverPath(db string, t tableInfo) (string, error) {
	suffix := "data/" + db + "/" + t.name + "/"
	p, ok := strings.CutSuffix(t.dataPath, suffix)
	if !ok {
		return "", fmt.Errorf("table %s.%s: data path %q does not end with %q (a name ClickHouse escapes on disk?)", db, t.name, t.dataPath, suffix)
	}
	return p, nil
}

func freezeTable(ctx context.Context, st *store.Store, t tableInfo, rows uint64, out string) ([]string, error) {
	root, err := serverPath(st.Database(), t)
	if err != nil {
		return nil, err
	}
	if err := st.Exec(ctx, freeze(t.name)); err != nil {
		return nil, fmt.Errorf("freezing %s: %w", t.name, err)
	}
	// FREEZE writes shadow/<increment>/data/<db>/<table>/; the latest
	// increment that has this table is ours.
	rel := filepath.Join("data", st.Database(), t.name)
	ents, err := os.ReadDir(filepath.Join(root, "shadow"))
	if err != nil {
		return nil, fmt.Errorf("reading the server's shadow folder (run the backup where the ClickHouse data folder %s is mounted): %w", root, err)
	}
	best := -1
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n <= best {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "shadow", e.Name(), rel)); err == nil {
			best = n
		}
	}
	if best < 0 && rows == 0 {
		return nil, nil // an empty table has no part to freeze
	}
	if best < 0 {
		return nil, fmt.Errorf("freezing %s: no shadow copy found under %s", t.name, filepath.Join(root, "shadow"))
	}
	frozen := filepath.Join(root, "shadow", strconv.Itoa(best), rel)
	defer removeShadow(filepath.Join(root, "shadow", strconv.Itoa(best)), frozen)
	parts, err := os.ReadDir(frozen)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range parts {
		if !p.IsDir() || p.Name() == "detached" {
			continue
		}
		if err := copyDir(filepath.Join(frozen, p.Name()), filepath.Join(out, p.Name())); err != nil {
			return nil, fmt.Errorf("copying part %s of %s: %w", p.Name(), t.name, err)
		}
		names = append(names, p.Name())
	}
	sort.Strings(names)
	return names, nil
}

// removeShadow removes the frozen copy of one table, then the folders of
// its increment left empty (another table's freeze may share none).
func removeShadow(increment, frozen string) {
	os.RemoveAll(frozen)
	for d := filepath.Dir(frozen); strings.HasPrefix(d, increment); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			return
		}
	}
}

// ThawOptions changes what a restore does.
type ThawOptions struct {
	// ExistingSchema: the tables are there already, empty (a cluster's
	// replicated schema made by `bndmrctl migrate --clickhouse-cluster`): only the
	// parts are attached. On a replicated table, attached on one replica
	// of a shard, the part reaches the others through ZooKeeper (Keeper).
	ExistingSchema bool
}

// Thaw restores a Freeze backup into the database of st, which must hold no
// table (or, with ExistingSchema, only empty ones): tables first, then views
// (which read them), then the parts, checked by row count.
func Thaw(ctx context.Context, st *store.Store, dir string, o ThawOptions) (*Manifest, error) {
	man, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if man.Method != "freeze" {
		return nil, fmt.Errorf("%s is a %q backup: restore it with RESTORE (Restore)", dir, man.Method)
	}
	existing, err := listTables(ctx, st)
	if err != nil {
		return nil, err
	}
	if o.ExistingSchema {
		if err := checkEmpty(ctx, st, existing, man); err != nil {
			return nil, err
		}
	} else if len(existing) > 0 {
		return nil, fmt.Errorf("database %s already holds %d tables (%s…): restore into an empty database", st.Database(), len(existing), existing[0].name)
	}
	ordered := append([]Table(nil), man.Tables...)
	sort.SliceStable(ordered, func(i, j int) bool { return !isView(ordered[i]) && isView(ordered[j]) })
	for _, t := range ordered {
		if o.ExistingSchema {
			break
		}
		create, err := renameDatabase(t.Create, man.Database, st.Database())
		if err != nil {
			return nil, err
		}
		if err := st.Exec(ctx, createFromBackup(create)); err != nil {
			return nil, fmt.Errorf("creating %s: %w", t.Name, err)
		}
	}
	now, err := listTables(ctx, st)
	if err != nil {
		return nil, err
	}
	paths := map[string]tableInfo{}
	for _, t := range now {
		paths[t.name] = t
	}
	for _, t := range man.Tables {
		if len(t.Parts) == 0 && t.Rows == 0 || o.ExistingSchema && skipExisting(t) {
			continue
		}
		detached := filepath.Join(paths[t.Name].dataPath, "detached")
		for _, p := range t.Parts {
			if err := copyDir(filepath.Join(dir, t.Name, p), filepath.Join(detached, p)); err != nil {
				return nil, fmt.Errorf("copying part %s of %s into %s (run the restore where the ClickHouse data folder is mounted): %w", p, t.Name, detached, err)
			}
			if err := st.Exec(ctx, attachPart(t.Name), p); err != nil {
				return nil, fmt.Errorf("attaching part %s of %s: %w", p, t.Name, err)
			}
		}
		if err := checkRows(ctx, st, t); err != nil {
			return nil, err
		}
	}
	return man, recount(ctx, st)
}

// recount asks the loader to count the kept figures again: each table was
// frozen at its own instant, so the figures of the backup need not be those
// of its documents. The indicators read the history until it is done.
func recount(ctx context.Context, st *store.Store) error {
	if err := st.RequestFiguresRebuild(ctx); err != nil {
		return fmt.Errorf("the tables are restored; asking the loader to count the figures again: %w", err)
	}
	return nil
}

// checkEmpty: every table of the backup that has rows exists, with parts,
// and is empty.
func checkEmpty(ctx context.Context, st *store.Store, existing []tableInfo, man *Manifest) error {
	have := map[string]tableInfo{}
	for _, t := range existing {
		have[t.name] = t
	}
	for _, t := range man.Tables {
		if t.Rows == 0 || skipExisting(t) {
			continue
		}
		e, ok := have[t.Name]
		if !ok || !e.hasParts() {
			return fmt.Errorf("table %s of the backup is missing from %s or is not a MergeTree (%s): create the schema first (bndmrctl migrate)", t.Name, st.Database(), e.engine)
		}
		n, err := count(ctx, st, t.Name)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("table %s of %s already holds %d rows: restore into empty tables", t.Name, st.Database(), n)
		}
	}
	return nil
}

// skipExisting: the migrations record, which `bndmrctl migrate` wrote
// when it made the schema a restore with ExistingSchema fills.
func skipExisting(t Table) bool { return t.Name == "schema_migrations" }

func isView(t Table) bool { return strings.HasSuffix(t.Engine, "View") }

// renameDatabase writes create for database to instead of from: the name
// after CREATE … and every from.<table> a view reads.
func renameDatabase(create, from, to string) (string, error) {
	if from == to {
		return create, nil
	}
	re := regexp.MustCompile(`(^|[\s(,])` + "`?" + regexp.QuoteMeta(from) + "`?" + `\.`)
	out := re.ReplaceAllString(create, "${1}"+quote(to)+".")
	if out == create {
		return "", fmt.Errorf("the saved CREATE does not name database %s: %.80s", from, create)
	}
	return out, nil
}

// Backup writes the database of st with BACKUP DATABASE into the server's
// folder path (ClickHouse 22.8 and later; path must be under the server's
// <backups><allowed_path>), and the manifest (row counts, for the check
// after the restore) into dir.
func Backup(ctx context.Context, st *store.Store, path, dir string) (*Manifest, error) {
	if err := backupdir.Empty(dir); err != nil {
		return nil, err
	}
	ts, err := listModern(ctx, st)
	if err != nil {
		return nil, err
	}
	man := &Manifest{Method: "backup", Database: st.Database(), Version: version(ctx, st), Taken: time.Now().UTC(), Path: path, Tables: ts}
	if err := st.Exec(ctx, backupDatabase(st.Database()), path); err != nil {
		return nil, fmt.Errorf("BACKUP DATABASE %s to %s: %w", st.Database(), path, err)
	}
	return man, writeManifest(dir, man)
}

// Restore restores a Backup into the database of st (RESTORE DATABASE … AS)
// and checks the row counts.
func Restore(ctx context.Context, st *store.Store, dir string) (*Manifest, error) {
	man, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if man.Method != "backup" {
		return nil, fmt.Errorf("%s is a %q backup: restore it with Thaw", dir, man.Method)
	}
	if err := st.Exec(ctx, restoreDatabase(man.Database, st.Database()), man.Path); err != nil {
		return nil, fmt.Errorf("RESTORE DATABASE %s AS %s from %s: %w", man.Database, st.Database(), man.Path, err)
	}
	for _, t := range man.Tables {
		if isView(t) {
			continue
		}
		if err := checkRows(ctx, st, t); err != nil {
			return nil, err
		}
	}
	return man, recount(ctx, st)
}

// listModern lists the tables and their row counts on a server without
// system.tables.data_path.
func listModern(ctx context.Context, st *store.Store) ([]Table, error) {
	ts, err := listTables(ctx, st)
	if err != nil {
		return nil, err
	}
	var out []Table
	for _, t := range ts {
		e := Table{Name: t.name, Engine: t.engine, Create: t.create}
		if t.hasParts() {
			if e.Rows, err = count(ctx, st, t.name); err != nil {
				return nil, err
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// ReadManifest reads a backup folder's manifest.
func ReadManifest(dir string) (*Manifest, error) {
	var man Manifest
	if err := backupdir.ReadManifest(dir, ManifestFile, &man); err != nil {
		return nil, err
	}
	return &man, nil
}

// writeManifest is written last: a folder without one is an interrupted
// backup.
func writeManifest(dir string, man *Manifest) error {
	data, _ := json.MarshalIndent(man, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing the manifest: %w", err)
	}
	return nil
}

// copyDir copies the files of one part (a flat folder).
func copyDir(from, to string) error {
	if err := os.MkdirAll(to, 0o750); err != nil {
		return err
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := copyDir(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
				return err
			}
			continue
		}
		if err := copyFile(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

package chbackup

import (
	"strings"

	"github.com/bndmr/hub/pkg/store"
)

// Every statement of the backups. Two families, one per ClickHouse
// generation, by design:
//   - 18.16 (no BACKUP): the tables of the database with their data path,
//     ALTER TABLE … FREEZE, the saved CREATE, ALTER TABLE … ATTACH PART and a
//     row count; proven on the 18.16 server (chbackup_test.go);
//   - 22.8 and later: BACKUP DATABASE … TO File(…) and RESTORE DATABASE … AS
//     … FROM File(…); proven on chDB 26.7 (chbackup_test.go).
//
// Identifiers (database, table) cannot be bound as arguments: the
// statements naming one are made here, by functions that quote it.

// Statements lists every statement of the package (the registry check of
// pkg/store finds them here), with example identifiers.
func Statements() []store.Statement {
	return []store.Statement{tables, selectVersion, countRows("t"), freeze("t"), attachPart("t"), createFromBackup("CREATE TABLE t (a UInt8) ENGINE = Memory"),
		backupDatabase("d"), restoreDatabase("d", "e")}
}

var (
	// tables: every table and view of the connection's database, with the
	// folder of its parts (18.16: system.tables.data_path; empty for a view).
	tables = store.Statement{Name: "chbackup.tables_1816", SQL: `SELECT name, engine, create_table_query, data_path
		FROM system.tables WHERE database = currentDatabase() AND NOT is_temporary ORDER BY name`}
	// selectVersion is recorded in the manifest.
	selectVersion = store.Statement{Name: "chbackup.select_version", SQL: `SELECT version()`}
)

func quote(id string) string { return "`" + strings.ReplaceAll(id, "`", "``") + "`" }

func countRows(table string) store.Statement {
	return store.Statement{Name: "chbackup.count_rows", SQL: "SELECT toUInt64(count()) FROM " + quote(table)}
}

// freeze hard-links every active part of the table under the server's
// shadow/ folder.
func freeze(table string) store.Statement {
	return store.Statement{Name: "chbackup.freeze", SQL: "ALTER TABLE " + quote(table) + " FREEZE"}
}

// attachPart takes one part from the table's detached/ folder; the part's
// name is the argument.
func attachPart(table string) store.Statement {
	return store.Statement{Name: "chbackup.attach_part", SQL: "ALTER TABLE " + quote(table) + " ATTACH PART ?"}
}

// createFromBackup is a table's CREATE as the backup saved it (SHOW
// CREATE, the database renamed).
func createFromBackup(create string) store.Statement {
	return store.Statement{Name: "chbackup.create", SQL: create}
}

// backupDatabase writes the whole database (schema and parts) into a
// folder of the server's; the argument is the folder, which must lie under
// the server's <backups><allowed_path>.
func backupDatabase(db string) store.Statement {
	return store.Statement{Name: "chbackup.backup_database", SQL: "BACKUP DATABASE " + quote(db) + " TO File(?)"}
}

// restoreDatabase recreates database db of a backup as database into (which
// must not hold its tables); the argument is the backup's folder.
func restoreDatabase(db, into string) store.Statement {
	return store.Statement{Name: "chbackup.restore_database", SQL: "RESTORE DATABASE " + quote(db) + " AS " + quote(into) + " FROM File(?)"}
}

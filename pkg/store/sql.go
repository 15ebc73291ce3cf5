package store

import (
	"fmt"
	"reflect"
	"strings"
)

// Every SQL statement this package sends to ClickHouse, besides the
// migrations (schemas/clickhouse) and the cluster DDL derived from them
// (cluster.go). Statements are written once here and listed in Statements,
// which the compatibility suite (pkg/indicators/compat_test.go) runs on
// ClickHouse 18.16 and on the engine of the version production runs;
// TestSQLOnlyInRegistries refuses SQL written anywhere else.
//
// Rules for SQL that means the same on every supported version
// (docs/store.md, "ClickHouse versions"): explicit INSERT column lists; no
// window function, DateTime64, Map or JSON type; an alias on every joined
// subquery; JOIN strictness written out (ALL, over right sides unique on the
// key) and join_use_nulls set in the query; integers that Go scans cast to the
// type it scans into.

// Statement is one SQL statement the hub sends to ClickHouse: its name in the
// registry (package.statement) and its text, with ? for the arguments.
type Statement struct {
	Name string
	SQL  string
}

// Statements lists every statement of the package, inserts included.
func Statements() []Statement {
	return append([]Statement{createMigrations, selectMigrations, takeMigrationLock, breakMigrationLock,
		dropBrokenMigrationLock, releaseMigrationLock, migrationLockAge, selectVersion, documentsPerEstablishment,
		replicaDelay, clusterReplicas, declaredInMonths, accessReaders, tableColumns, currentFiles, currentSites,
		currentDiagnoses, currentDeaths, centreFilieres, figureGenerations, versionsSeen, establishmentStarts},
		append(rotationStatements(), insertStatements()...)...)
}

var (
	// createMigrations is also the statement the cluster form derives its
	// schema_migrations from (MigrateWith).
	createMigrations = Statement{"store.create_schema_migrations", `CREATE TABLE IF NOT EXISTS schema_migrations
		(version UInt32, name String, applied_at DateTime DEFAULT now())
		ENGINE = ReplacingMergeTree ORDER BY version`}
	// GROUP BY, as the tests read distinct keys (a DISTINCT with ORDER BY
	// once gave a row twice on 18.16 in CI; without ORDER BY, as here, it was
	// never seen wrong).
	selectMigrations = Statement{"store.select_schema_migrations", `SELECT version FROM schema_migrations GROUP BY version`}
	selectVersion    = Statement{"store.select_version", `SELECT version()`}

	// The migration lock (lock.go): a table whose creation, without IF NOT
	// EXISTS, succeeds for one client only; its age is its metadata's. The
	// order here is the order the compatibility suite runs them in.
	takeMigrationLock       = Statement{"store.take_migration_lock", `CREATE TABLE schema_migrations_lock (taken_at DateTime) ENGINE = Log`}
	breakMigrationLock      = Statement{"store.break_migration_lock", `RENAME TABLE schema_migrations_lock TO schema_migrations_lock_broken`}
	dropBrokenMigrationLock = Statement{"store.drop_broken_migration_lock", `DROP TABLE IF EXISTS schema_migrations_lock_broken`}
	releaseMigrationLock    = Statement{"store.release_migration_lock", `DROP TABLE IF EXISTS schema_migrations_lock`}
	migrationLockAge        = Statement{"store.migration_lock_age", `SELECT toUInt64(greatest(now(), metadata_modification_time) - metadata_modification_time)
		FROM system.tables WHERE database = currentDatabase() AND name = 'schema_migrations_lock'`}
	// replicaDelay: how far the most lagging replicated table of this
	// database is behind, in seconds (0 on a single server).
	replicaDelay = Statement{"store.replica_delay", `SELECT toUInt64(max(absolute_delay)) FROM system.replicas WHERE database = currentDatabase()`}

	// clusterReplicas: the replicas of a cluster by shard, as the servers
	// name them in <remote_servers> (host names, for their certificates).
	clusterReplicas = Statement{"store.cluster_replicas", `SELECT toUInt32(shard_num), toUInt32(replica_num), host_name, toUInt16(port)
		FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num`}

	documentsPerEstablishment = Statement{"store.documents_per_establishment", `SELECT finess,
		toUInt64(uniqExact(set_id, version_number)), toUInt64(uniqExact(set_id)), toString(toYYYYMM(max(effective_date)))
		FROM documents GROUP BY finess ORDER BY finess`}

	// declaredInMonths: the declared count in force for each establishment
	// and month of a range (first days), read before a change so that the
	// history keeps the value it replaces.
	declaredInMonths = Statement{"store.dpi_declared_in_months", `SELECT finess, month, toUInt32(argMax(declared_count, declared_at))
		FROM dpi_updates WHERE month >= ? AND month <= ? GROUP BY finess, month ORDER BY finess, month`}

	// accessReaders: who was allowed to read an establishment's figures
	// between two days (included), one row per person, role, route and period
	// asked (docs/operations.md, "Who read an establishment's report").
	accessReaders = Statement{"store.audit_readers", `SELECT subject, issuer, role, route, period, toUInt64(count()), min(at), max(at)
		FROM audit_access
		WHERE finess = ? AND toDate(at) >= ? AND toDate(at) <= ? AND method = 'GET' AND decision = 'allowed'
		GROUP BY subject, issuer, role, route, period ORDER BY max(at) DESC, subject, route, period`}
)

// Inserts, one per table the loader and the reference imports write: the
// column list is that of the row type (rows.go), in its fields' order, which
// is also the order of each row's values.
var (
	insertMigration      = insertRows[migrationRow]("schema_migrations")
	insertDocuments      = insertRows[documentRow]("documents")
	insertPatients       = insertRows[patientRow]("patients")
	insertDiagnoses      = insertRows[diagnosisRow]("diagnoses")
	insertActivities     = insertRows[activityRow]("activities")
	insertCareEpisodes   = insertRows[careEpisodeRow]("care_episodes")
	insertFamilyHistory  = insertRows[familyHistoryRow]("family_history")
	insertActiveProblems = insertRows[activeProblemRow]("active_problems")
	insertFunctional     = insertRows[functionalStatusRow]("functional_status")
	insertPregnancies    = insertRows[pregnancyRow]("pregnancies")
	insertBirths         = insertRows[birthRow]("births")
	insertResearch       = insertRows[researchRow]("research")
	insertTreatments     = insertRows[treatmentRow]("treatments")
	insertVersions       = insertRows[versionRow]("versions")
	insertSuperseded     = insertRows[supersededRow]("superseded")
	insertReceipts       = insertRows[receiptRow]("receipts")
	insertCentres        = insertRows[centreRow]("reference_centres")
	insertDPIUpdates     = insertRows[dpiUpdateRow]("dpi_updates")
	insertEstablishments = insertRows[establishmentRow]("establishments")
	insertAccess         = insertRows[accessRow]("audit_access")
	insertLinks          = insertRows[linkRow]("pseudonym_links")
	insertDPIHistory     = insertRows[dpiHistoryRow]("dpi_updates_history")
	insertFigureCounts   = insertRows[figureCountRow]("figure_counts")
	insertFigureGens     = insertRows[figureGenerationRow]("figure_generations")

	// tableColumns: the columns of a table of this database (checkInserts).
	tableColumns = Statement{"store.table_columns", `SELECT name FROM system.columns
		WHERE database = currentDatabase() AND table = ? ORDER BY name`}
)

// typedInserts lists every insert of the package, schema_migrations's first.
func typedInserts() []typedInsert {
	return []typedInsert{insertMigration, insertDocuments, insertPatients, insertDiagnoses, insertActivities,
		insertCareEpisodes, insertFamilyHistory, insertActiveProblems, insertFunctional, insertPregnancies, insertBirths,
		insertResearch, insertTreatments, insertVersions, insertSuperseded, insertReceipts, insertCentres, insertDPIUpdates,
		insertEstablishments, insertAccess, insertDPIHistory, insertLinks, insertFigureCounts, insertFigureGens}
}

func insertStatements() []Statement {
	var out []Statement
	for _, ins := range typedInserts() {
		out = append(out, ins.statement())
	}
	return out
}

// rowInsert is the registered INSERT of rows of type R: the statement
// (table and column list from R) and, per column, the index of its field.
type rowInsert[R any] struct {
	Statement
	fields [][]int
}

// insertRows builds the INSERT of rows of type R into table. R is a struct
// whose fields each carry `ch:"column"`, or embed a struct that does; a
// field without a column, or a column named twice, is a mistake in the code
// and panics when the registry is built (at the start of every program that
// imports the package).
func insertRows[R any](table string) rowInsert[R] {
	t := reflect.TypeFor[R]()
	var cols []string
	var fields [][]int
	var walk func(t reflect.Type, at []int)
	walk = func(t reflect.Type, at []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			idx := append(append([]int{}, at...), i)
			col := f.Tag.Get("ch")
			if col == "" && f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if col == "" {
				panic(fmt.Sprintf("store: field %s of %s (insert into %s) has no ch:\"column\" tag", f.Name, t, table))
			}
			for _, c := range cols {
				if c == col {
					panic(fmt.Sprintf("store: column %s of %s named twice (insert into %s)", col, t, table))
				}
			}
			cols, fields = append(cols, col), append(fields, idx)
		}
	}
	walk(t, nil)
	return rowInsert[R]{insertInto(table, strings.Join(cols, ", ")), fields}
}

func insertInto(table, cols string) Statement {
	return Statement{"store.insert_" + table, "INSERT INTO " + table + " (" + cols + ")"}
}

// InsertTable reads the table and the column list of an INSERT statement of
// the registry (the compatibility suite copies rows
// between engines through them).
func InsertTable(st Statement) (table, cols string, ok bool) {
	rest, found := strings.CutPrefix(st.SQL, "INSERT INTO ")
	if !found {
		return "", "", false
	}
	table, cols, found = strings.Cut(rest, " (")
	cols, closed := strings.CutSuffix(cols, ")")
	return table, cols, found && closed
}

// Key rotation (rotation.go): the mutations that re-key every table whose
// patient_key a rotation rewrites (documents and patients also carry the
// INS and traits pseudonyms, patients the IPP keys), and what they read.
var (
	// Each mutation takes one batch of pairs of each kind: patient (its
	// rows also change key_id), INS, traits, IPP; a pair that matches no
	// row changes nothing, an applied pair no longer matches. Membership is
	// tested with transform(x, old, new, '') != '' (a hash lookup; has()
	// scans the array for every row), '' mapping to itself.
	rekeyDocuments = Statement{"store.rekey_documents", `ALTER TABLE documents UPDATE
		patient_key = transform(patient_key, ?, ?, patient_key),
		patient_ins_pseudonym = transform(patient_ins_pseudonym, ?, ?, patient_ins_pseudonym),
		patient_traits_pseudonym = transform(patient_traits_pseudonym, ?, ?, patient_traits_pseudonym),
		key_id = if(key_id = ? AND transform(patient_key, ?, ?, '') != '', ?, key_id)
		WHERE (key_id = ? AND transform(patient_key, ?, ?, '') != '')
		   OR transform(patient_ins_pseudonym, ?, ?, '') != ''
		   OR transform(patient_traits_pseudonym, ?, ?, '') != ''`}
	rekeyPatients = Statement{"store.rekey_patients", `ALTER TABLE patients UPDATE
		patient_key = transform(patient_key, ?, ?, patient_key),
		patient_ins_pseudonym = transform(patient_ins_pseudonym, ?, ?, patient_ins_pseudonym),
		patient_traits_pseudonym = transform(patient_traits_pseudonym, ?, ?, patient_traits_pseudonym),
		ipp_keys = arrayMap(x -> transform(x, ?, ?, x), ipp_keys)
		WHERE transform(patient_key, ?, ?, '') != ''
		   OR transform(patient_ins_pseudonym, ?, ?, '') != ''
		   OR transform(patient_traits_pseudonym, ?, ?, '') != ''
		   OR arrayExists(x -> transform(x, ?, ?, '') != '', ipp_keys)`}
	rekeyClinical = func() []Statement {
		var out []Statement
		for _, t := range []string{"diagnoses", "activities", "care_episodes", "family_history", "active_problems",
			"functional_status", "pregnancies", "births", "research", "treatments"} {
			out = append(out, Statement{"store.rekey_" + t, "ALTER TABLE " + t +
				" UPDATE patient_key = transform(patient_key, ?, ?, patient_key) WHERE transform(patient_key, ?, ?, '') != ''"})
		}
		return out
	}()
	// rotationLinks: one new pseudonym per old one and kind (the same
	// identity always gives the same pair).
	rotationLinks = Statement{"store.rotation_links", `SELECT kind, old_pseudonym, any(new_pseudonym)
		FROM pseudonym_links WHERE old_key_id = ? AND new_key_id = ? GROUP BY kind, old_pseudonym ORDER BY kind, old_pseudonym`}
	// rotationKeys: per key, the documents and patients the warehouse holds
	// under it, and how many of its patients have a link to another key.
	// GLOBAL: on a cluster the shards would look pseudonym_links up in their
	// default database.
	rotationKeys = Statement{"store.rotation_keys", `SELECT key_id, toUInt64(uniqExact(set_id, version_number)), toUInt64(uniqExact(patient_key)),
		toUInt64(uniqExactIf(patient_key, patient_key GLOBAL IN (SELECT old_pseudonym FROM pseudonym_links WHERE kind = 'patient')))
		FROM documents WHERE patient_key != '' GROUP BY key_id ORDER BY key_id`}
	// forgetLinks: once a rotation is finished, its links go: kept, they
	// would let whoever holds the old key follow a patient under the new.
	forgetLinks = Statement{"store.forget_links", `ALTER TABLE pseudonym_links DELETE WHERE old_key_id = ? AND new_key_id = ?`}
	// localTableExists: 1 when this database has the table (a cluster's
	// per-shard table, TABLE_local, where a mutation runs; the target of a
	// migration's rename).
	localTableExists = Statement{"store.table_exists", `SELECT toUInt64(count()) FROM system.tables
		WHERE database = currentDatabase() AND name = ?`}
	// mutationsRunning: mutations of this database not yet done.
	mutationsRunning = Statement{"store.mutations_running", `SELECT toUInt64(count()) FROM system.mutations
		WHERE database = currentDatabase() AND is_done = 0`}
)

func rotationStatements() []Statement {
	return append([]Statement{rekeyDocuments, rekeyPatients, rotationLinks, rotationKeys, forgetLinks, mutationsRunning, localTableExists}, rekeyClinical...)
}

// CurrentVersions is the condition that keeps the rows of each file's
// current version in documents, diagnoses, care_episodes or patients (any
// table with version_key): the level-0 keys, and the keys of the loaded
// versions that a level-1 or level-2 row names, found through documents'
// sort key (finess, set_id): nothing is read there unless a file has a
// version numbered 4096 or more.
//
// On a cluster, every table is sharded by set_id, so a file's versions and
// its superseded rows live on one shard: a statement using it should say
// DistributedLocal, so that each shard reads its own superseded_local
// instead of the initiator gathering every key and sending them all to every
// shard.
const CurrentVersions = `version_key NOT IN (
	SELECT key FROM superseded WHERE level = 0
	UNION ALL
	SELECT version_key FROM documents
	WHERE (finess, set_id) IN (SELECT finess, set_id FROM superseded WHERE level > 0)
	  AND (cityHash64(cityHash64(set_id), toUInt8(1), toUInt32(intDiv(version_number, 4096))) IN
	           (SELECT key FROM superseded WHERE level = 1)
	       OR cityHash64(cityHash64(set_id), toUInt8(2), toUInt32(intDiv(version_number, 16777216))) IN
	           (SELECT key FROM superseded WHERE level = 2)))`

// Figures kept as they arrive (figures.go).
var (
	// currentFiles: the current version of every file, opposition
	// included (a file whose current version is opposed counts nowhere,
	// and a lower version arriving later must not count either), once:
	// a version written twice is there twice until ClickHouse merges, and
	// a crash between a batch's documents and its superseded rows leaves
	// two versions of a file current. Read at a recount only, with the
	// clinical rows of the same versions (one row per version or
	// diagnosis) and the centres' filières.
	currentFiles = Statement{"store.current_files", `SELECT set_id, max(version_number),
		argMax(patient_key, version_number), argMax(orpha_codes, version_number), argMax(finess, version_number),
		argMax(effective_date, version_number), argMax(sex, version_number), argMax(residence_departement, version_number),
		argMax(birth_year_month, version_number)
		FROM documents WHERE ` + CurrentVersions + ` GROUP BY set_id` + recountSettings}
	currentSites = Statement{"store.current_sites", `SELECT set_id, version_number, groupUniqArray(site_code)
		FROM care_episodes WHERE site_code != '' AND ` + CurrentVersions + ` GROUP BY set_id, version_number` + recountSettings}
	currentDiagnoses = Statement{"store.current_diagnoses", `SELECT set_id, version_number, any(disease_code), any(disease_system),
		any(onset_age_years), any(clinical_dx_age_years), any(genetic_dx_age_years)
		FROM diagnoses WHERE ` + CurrentVersions + ` GROUP BY set_id, version_number, ordinal` + recountSettings}
	currentDeaths = Statement{"store.current_deaths", `SELECT set_id, version_number, any(death_year_month)
		FROM patients WHERE deceased = 1 AND ` + CurrentVersions + ` GROUP BY set_id, version_number` + recountSettings}
	centreFilieres = Statement{"store.centre_filieres", `SELECT centre_id, argMax(filiere, imported_at)
		FROM reference_centres GROUP BY centre_id`}
	// versionsSeen: every version seen, its rows merged as MR.2 merges
	// them (first day, ever accepted, the file's creation), in buckets of
	// set_key (args: the number of buckets, this one): ten million
	// versions grouped at once need gigabytes, a sixteenth of them a
	// sixteenth. Days as numbers: a zero Date reads 0000-00-00 on
	// ClickHouse 18.16 and 1970-01-01 on current versions.
	versionsSeen = Statement{"store.versions_seen", `SELECT any(finess), any(set_id), version_number,
		toUInt16(min(effective_date)), max(accepted), toUInt16(max(created))
		FROM versions PREWHERE set_key % ? = ? GROUP BY set_key, version_number` + recountSettings}
	// establishmentStarts: each establishment's start of transmission, as
	// MR.2 reads it (the latest update; day 0: none).
	establishmentStarts = Statement{"store.establishment_starts", `SELECT finess,
		toUInt16(argMax(transmission_start, updated_at)) FROM establishments GROUP BY finess`}
	// figureGenerations: the highest generation begun and the highest
	// completed (0: none). Clock readings: no two databases agree.
	figureGenerations = Statement{"store.figure_generations", `SELECT toUInt64(max(generation)),
		toUInt64(maxIf(generation, completed = 1)) FROM figure_generations`}
)

// recountSettings: each shard reads its own files' current state, and the
// server that asked merges the groupings bucket by bucket (a file's rows
// are on one shard, but the grouping is still merged there).
const recountSettings = ` SETTINGS ` + DistributedLocal + `, distributed_aggregation_memory_efficient = 1`

// DistributedLocal is the setting CurrentVersions wants (see there); on a
// single server it changes nothing.
const DistributedLocal = `distributed_product_mode = 'local'`

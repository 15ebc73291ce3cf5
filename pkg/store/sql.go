package store

import "strings"

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
	return append([]Statement{createMigrations, selectMigrations, insertMigration, takeMigrationLock, breakMigrationLock,
		dropBrokenMigrationLock, releaseMigrationLock, migrationLockAge, selectVersion, documentsPerEstablishment,
		replicaDelay, clusterReplicas, declaredInMonths, accessReaders}, append(rotationStatements(), insertStatements()...)...)
}

var (
	// createMigrations is also the statement the cluster form derives its
	// schema_migrations from (MigrateWith).
	createMigrations = Statement{"store.create_schema_migrations", `CREATE TABLE IF NOT EXISTS schema_migrations
		(version UInt32, name String, applied_at DateTime DEFAULT now())
		ENGINE = ReplacingMergeTree ORDER BY version`}
	selectMigrations = Statement{"store.select_schema_migrations", `SELECT DISTINCT version FROM schema_migrations`}
	insertMigration  = Statement{"store.insert_schema_migrations", `INSERT INTO schema_migrations (version, name)`}
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

// Inserts, one per table the loader and the reference imports write. The
// batch sends the rows in the order of the column list.
const prefixCols = "finess, set_id, version_number, effective_date, patient_key, "

var (
	insertDocuments = insertInto("documents", `finess, set_id, version_number, document_key, model_version, effective_time,
		effective_date, mail_id, doc_index, received_at, key_id, patient_key, patient_ins_pseudonym, patient_traits_pseudonym,
		sex, birth_year_month, residence_departement, opposition, orpha_codes, consents, file_key, file_created_ym, file_updated_ym,
		lost_to_follow_up, consanguinity, death_rd_code, death_rd_year_month, antenatal_art, antenatal_malformation,
		gestational_age_weeks, birth_weight_g, birth_length_cm, head_circumference_cm`)
	insertPatients = insertInto("patients", prefixCols+`patient_ins_pseudonym, patient_traits_pseudonym, sex, birth_year_month,
		residence_departement, birthplace_departement, deceased, death_year_month, multiple_birth, ipp_keys`)
	insertDiagnoses = insertInto("diagnoses", prefixCols+`ordinal, diagnosis_key, diagnosis_ym, date_unknown, disease_code,
		disease_system, disease_null_flavor, site_code, status_code, sporadic_familial_code, onset_age_class_code, onset_age_years,
		appraisal_code, clinical_dx_age_class_code, clinical_dx_age_years, genetic_dx_age_class_code, genetic_dx_age_years,
		clinical_features, techniques, genes, investigations, apparently_healthy, fetus_pseudonym`)
	insertActivities = insertInto("activities", prefixCols+`ordinal, activity_key, context_code, activity_ym, performer_id,
		performer_profession_code, declaring_site_code, consultation_finess, consultation_departement, country_code, objectives, fetus_pseudonym`)
	insertCareEpisodes   = insertInto("care_episodes", prefixCols+`ordinal, episode_key, type_code, inclusion_ym, referent_id, referred_by, site_code, outside_labelling`)
	insertFamilyHistory  = insertInto("family_history", prefixCols+`ordinal, relationship_code, first_case_key, first_case_sex, diseases`)
	insertActiveProblems = insertInto("active_problems", prefixCols+`ordinal, problem_code, value_code, value_system, problem_ym, health_status_code, certainty_code, status_code`)
	insertFunctional     = insertInto("functional_status", prefixCols+`ordinal, icf_code, status_ym`)
	insertPregnancies    = insertInto("pregnancies", prefixCols+`ordinal, start_year_month, end_year_month, ongoing, fetus_count, art`)
	insertBirths         = insertInto("births", prefixCols+`pregnancy_ordinal, ordinal, sequence, subject_pseudonym, newborn_pseudonym, sex, outcome_code, gestational_age_weeks, fetal_autopsy`)
	insertResearch       = insertInto("research", prefixCols+`protocol_participant, contact_consent, sample_research, sample_molecular, biobank_code`)
	insertTreatments     = insertInto("treatments", prefixCols+`ordinal, start_ym, end_ym, product_code, product_system, translations`)
	insertVersions       = insertInto("versions", "finess, set_id, version_number, source, effective_date, accepted, created")
	insertReceipts       = insertInto("receipts", `mail_id, mailbox, received_at, processed_at, sender_domain, mail_rejection_code,
		mail_rejection_reason, doc_index, doc_name, finess, set_id, version_number, effective_time, effective_date,
		model_version, accepted, rejection_code, cisis_code, rejection_reason, failure_count, failure_patterns, failure_sources,
		failure_rules, failure_locations, failure_texts`)
	insertCentres        = insertInto("reference_centres", "finess, centre_id, centre_name, filiere, centre_type, valid_from, valid_to, imported_at")
	insertDPIUpdates     = insertInto("dpi_updates", "finess, month, declared_count, source, declared_at")
	insertEstablishments = insertInto("establishments", "finess, name, transmission_start, updated_at")
	insertAccess         = insertInto("audit_access", "at, subject, issuer, name, role, method, route, finess, period, decision, via")
	insertLinks          = insertInto("pseudonym_links", "old_key_id, new_key_id, kind, old_pseudonym, new_pseudonym, finess")
	insertDPIHistory     = insertInto("dpi_updates_history", `finess, month, previous_count, had_previous, declared_count, author, role,
		source, changed_at`)
)

func insertStatements() []Statement {
	return []Statement{insertDocuments, insertPatients, insertDiagnoses, insertActivities, insertCareEpisodes,
		insertFamilyHistory, insertActiveProblems, insertFunctional, insertPregnancies, insertBirths, insertResearch,
		insertTreatments, insertVersions, insertReceipts, insertCentres, insertDPIUpdates, insertEstablishments,
		insertAccess, insertDPIHistory, insertLinks}
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
	// per-shard table, TABLE_local, where a mutation runs).
	localTableExists = Statement{"store.table_exists", `SELECT toUInt64(count()) FROM system.tables
		WHERE database = currentDatabase() AND name = ?`}
	// mutationsRunning: mutations of this database not yet done.
	mutationsRunning = Statement{"store.mutations_running", `SELECT toUInt64(count()) FROM system.mutations
		WHERE database = currentDatabase() AND is_done = 0`}
)

func rotationStatements() []Statement {
	return append([]Statement{rekeyDocuments, rekeyPatients, rotationLinks, rotationKeys, forgetLinks, mutationsRunning, localTableExists}, rekeyClinical...)
}

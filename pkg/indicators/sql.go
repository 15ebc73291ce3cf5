package indicators

import (
	"strconv"
	"strings"

	figs "github.com/bndmr/hub/pkg/figures"
	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/store"
)

// Every SQL statement of the indicators, the epidemiology, the dashboard and
// the reception report, listed in Statements: the compatibility suite
// (compat_test.go) runs each one on ClickHouse 18.16 and on the engine of the
// version production runs and wants identical rows; SQL written anywhere else
// fails TestSQLOnlyInRegistries. See pkg/store/sql.go for the rules that keep
// a statement meaning the same on both.

// Statements lists every statement of the package.
func Statements() []store.Statement {
	return append([]store.Statement{mr2Stmt, mr2OneStmt, mr2Kept, mr2OneKept, mr2KeptReady, dpiDeclared, establishmentNames, mr1Stmt, latestMonth,
		dashboardRejections, topORPHA, topORPHAKept, receptionCounts, receptionReasons, receptionRejected, receptionDocumentMonths},
		epiStatements()...)
}

// epiStatements lists the epidemiology's statements, in the order it runs them.
func epiStatements() []store.Statement {
	var out []store.Statement
	for _, t := range epiTables {
		out = append(out, t.query)
		if !t.additive {
			out = append(out, t.total)
		}
		if t.kept != nil {
			out = append(out, t.kept.query)
			if !t.additive {
				out = append(out, t.kept.total)
			}
		}
	}
	for _, s := range epiStats {
		out = append(out, s.query, s.kept)
	}
	return out
}

// joinSettings pins what a JOIN means where versions differ: a left row
// without a match gets the column's default (0, ”, 1970-01-01), never NULL,
// whatever the server's profile says (Go scans these columns as plain values).
const joinSettings = ` SETTINGS join_use_nulls = 0`

// mr2Stmt counts, per establishment and month, the versions seen, accepted,
// and missing before them (arrays per set: no window function on 18.16).
// It reads the rows of versions of every set that has a version in the
// period (the only sets whose figures the period needs), grouped once per
// set on set_key (an integer hash of finess and set_id: several times faster
// than on strings). A version may have several rows (one per source, and
// copies not yet merged). Per set, a holds version × 65536 + day (a Date is
// a UInt16 count of days) and b version × 2 + (1 - accepted), each one
// UInt64 per row, sorted: the first entry of each version is its first day
// in a and whether it was ever accepted in b, and both hold the same
// versions in the same order. (Arrays of (version, day) tuples gave the
// same rows and took 1.8 s on a national year against 1.5 s: ClickHouse
// 18.16 collects and sorts tuples slowly.) firsts marks the first entry of
// each version (a version differs from the one before it). Missing before
// each version is the gap to the one before (arrayDifference); before the
// first, version - 1, unless the file was created before the
// establishment's start. Lambdas take every array they read as an argument:
// ClickHouse 18.16's lambdas capture no column. The arrays are ARRAY JOINed
// together, never a per-set array of tuples (which ARRAY JOIN would copy to
// every version: 3.5 times slower on a national year).
// The file's creation is known to the month only (the first of it in
// versions.created): a file created in the start date's month counts as
// created after the start, so it is compared with the start's month; the
// day of the first version seen, its stand-in, with the start date.
// (start > toDate(0) says what no start date means; nothing is before
// 1970-01-01 either, so it changes no figure.)
// The establishments side is unique per finess (GROUP BY), so ALL and ANY
// strictness give the same rows; ALL means the same on every version, ANY
// does not (any_join_distinct_right_table_keys). Both sides carry an alias:
// ClickHouse 20+ refuses a joined subquery without one. of is "" (every
// establishment) or "finess = ? AND ": versions is sorted by finess first,
// so one establishment reads its own granules only (the establishment's
// column is fin inside: an alias finess would put any(finess) in WHERE).
var (
	mr2Stmt = store.Statement{Name: "indicators.mr2", SQL: mr2SQL("")}
	// mr2OneStmt is MR.2 of one establishment (the reception report's):
	// args finess, finess, then mr2Stmt's.
	mr2OneStmt = store.Statement{Name: "indicators.mr2_one", SQL: mr2SQL("finess = ? AND ")}
)

func mr2SQL(of string) string {
	return `
SELECT finess, toStartOfMonth(d) AS month, toUInt64(count()) AS seen, toUInt64(sum(acc)) AS accepted,
       toInt64(sum(miss)) AS missing
FROM (
    SELECT finess, ds, accs,
           arrayConcat([if(start > toDate(0) AND if(created > toDate(0), created < toStartOfMonth(start), first_d < start),
                           0, vers[1] - 1)],
                        arrayMap(x -> x - 1, arrayPopFront(arrayDifference(vers)))) AS misses
    FROM (
        SELECT * FROM (
            SELECT fin AS finess, first_d, created,
                   arrayFilter((x, f) -> f, a, firsts) AS fa, arrayMap(x -> toInt64(intDiv(x, 65536)), fa) AS vers,
                   arrayMap(x -> toDate(toUInt16(x % 65536)), fa) AS ds,
                   arrayMap(x -> toUInt8(1 - x % 2), arrayFilter((x, f) -> f, b, firsts)) AS accs
            FROM (
                SELECT fin, first_d, created, a, b,
                       arrayMap((dv, i) -> i = 1 OR dv != 0, arrayDifference(arrayMap(x -> intDiv(x, 65536), a)), arrayEnumerate(a)) AS firsts
                FROM (
                    SELECT any(finess) AS fin,
                           arraySort(groupArray(toUInt64(version_number) * 65536 + toUInt16(effective_date))) AS a,
                           arraySort(groupArray(toUInt64(version_number) * 2 + (1 - accepted))) AS b,
                           min(effective_date) AS first_d, max(created) AS created
                    FROM versions
                    WHERE ` + of + `set_key IN (SELECT set_key FROM versions WHERE ` + of + `effective_date >= toDate(?) AND effective_date <= toDate(?))
                    GROUP BY set_key
                ) AS raw
            ) AS flagged
        ) AS sets ALL LEFT JOIN (
            SELECT finess, argMax(transmission_start, updated_at) AS start FROM establishments GROUP BY finess
        ) AS est USING finess
    ) AS per_set
) AS per_set_arrays
ARRAY JOIN ds AS d, accs AS acc, misses AS miss
WHERE month >= toDate(?) AND month <= toDate(?)
GROUP BY finess, month` + joinSettings
}

// MR.2 read from the figures kept as they arrive (pkg/figures): per
// establishment (grp) and month (cell, its first day) the versions seen,
// accepted and missing, each the sum of its differences in the latest
// completed generation; the same rows as mr2Stmt
// (TestKeptFiguresMatchHistory), a few thousand rows read whatever the
// history. A month with no version seen has no row, as in mr2Stmt. Args:
// the first and last months; mr2OneKept, the establishment first.
var (
	mr2Kept    = store.Statement{Name: "indicators.mr2_kept", SQL: mr2KeptSQL("")}
	mr2OneKept = store.Statement{Name: "indicators.mr2_one_kept", SQL: mr2KeptSQL("grp = ? AND ")}
	// mr2KeptReady: the latest completed generation keeps MR.2 (one
	// written before MR.2 was kept has no mark: MR.2 reads the history).
	mr2KeptReady = store.Statement{Name: "indicators.mr2_kept_ready", SQL: `SELECT toUInt64(count()) FROM figure_counts
		WHERE ` + keptGeneration + ` AND figure = '` + figs.Kept + `' AND grp = '' AND cell = '` + figs.MR2Kept + `'`}
)

func mr2KeptSQL(of string) string {
	return `SELECT grp AS finess, toDate(cell) AS month, toUInt64(sumIf(delta, figure = '` + figs.MR2Seen + `')) AS seen,
       toUInt64(sumIf(delta, figure = '` + figs.MR2Accepted + `')) AS accepted,
       toInt64(sumIf(delta, figure = '` + figs.MR2Missing + `')) AS missing
FROM figure_counts
WHERE ` + of + keptGeneration + ` AND figure IN ('` + figs.MR2Seen + `', '` + figs.MR2Accepted + `', '` + figs.MR2Missing + `')
  AND cell >= ? AND cell <= ?
GROUP BY finess, month
HAVING seen > 0`
}

var dpiDeclared = store.Statement{Name: "indicators.dpi_declared", SQL: `SELECT finess, month, argMax(declared_count, declared_at)
	FROM dpi_updates WHERE month >= toDate(?) AND month <= toDate(?) GROUP BY finess, month`}

var establishmentNames = store.Statement{Name: "indicators.establishment_names",
	SQL: `SELECT finess, argMax(name, updated_at) FROM establishments GROUP BY finess`}

// mr1Stmt: a document's centres are the rare-disease site codes of its care
// episodes, of its activities' declaring sites and of its diagnoses. The
// documents side is unique per centre (GROUP BY): ALL LEFT JOIN, as in MR.2.
// Each branch of the UNION ALL filters its own rows: ClickHouse 18.16 does
// not push a condition on the union down into its branches, and the three
// tables are partitioned by year (migration 0020), so a branch that says
// its period reads that period's partitions only (on five national years,
// 1.0 s -> 0.4 s).
// A labelling period is read as its latest import (the row of its key,
// (finess, centre_id, valid_from), that ReplacingMergeTree keeps) before it
// is compared with the period: filtering the raw rows first would let an
// end date corrected by a later import count until ClickHouse merges.
var mr1Stmt = store.Statement{Name: "indicators.mr1", SQL: `
SELECT finess, centre_id, name, filiere, ctype, toUInt64(docs) AS docs
FROM (
    SELECT finess, centre_id, argMax(p_name, p_imported) AS name, argMax(p_filiere, p_imported) AS filiere,
           argMax(p_type, p_imported) AS ctype
    FROM (
        SELECT finess, centre_id, valid_from, argMax(valid_to, imported_at) AS p_to,
               argMax(centre_name, imported_at) AS p_name, argMax(filiere, imported_at) AS p_filiere,
               argMax(centre_type, imported_at) AS p_type, max(imported_at) AS p_imported
        FROM reference_centres GROUP BY finess, centre_id, valid_from
    ) AS periods
    WHERE valid_from <= toDate(?) AND p_to >= toDate(?)
    GROUP BY finess, centre_id
) AS centres ALL LEFT JOIN (
    SELECT site AS centre_id, uniqExact(set_id, version_number) AS docs
    FROM (
        SELECT site_code AS site, set_id, version_number FROM care_episodes
        WHERE site_code != '' AND effective_date >= toDate(?) AND effective_date <= toDate(?)
        UNION ALL SELECT declaring_site_code AS site, set_id, version_number FROM activities
        WHERE declaring_site_code != '' AND effective_date >= toDate(?) AND effective_date <= toDate(?)
        UNION ALL SELECT site_code AS site, set_id, version_number FROM diagnoses
        WHERE site_code != '' AND effective_date >= toDate(?) AND effective_date <= toDate(?)
    ) AS named
    GROUP BY site
) AS sent USING centre_id
ORDER BY finess, centre_id` + joinSettings}

var latestMonth = store.Statement{Name: "indicators.latest_month", SQL: `SELECT if(count() = 0, '', formatDateTime(max(d), '%Y-%m')) FROM (
		SELECT max(effective_date) AS d FROM documents UNION ALL SELECT max(effective_date) AS d FROM receipts WHERE set_id != '') AS latest
		WHERE d > toDate(0)`}

var dashboardRejections = store.Statement{Name: "indicators.dashboard_rejections", SQL: `SELECT rejection_code, any(cisis_code),
		any(rejection_reason), toUInt64(uniqExact(mail_id, doc_index)) AS n
		FROM receipts WHERE accepted = 0 AND effective_date >= toDate(?) AND effective_date <= toDate(?)
		GROUP BY rejection_code ORDER BY n DESC, rejection_code LIMIT 12`}

// Current state of each set: the rows of its highest version (the versions
// below it are in superseded, store.CurrentVersions), opposition excluded.
// Every statement using it ends with currentSettings: on a cluster each shard
// filters its own files, and the server that asked merges the shards'
// groupings bucket by bucket (mergeByBucket).
const currentSets = store.CurrentVersions + ` AND patient_key != ''`

// mergeByBucket: a patient's files lie on several shards, so a per-patient
// grouping or a distinct count is merged by the server that asked. ClickHouse
// 18.16 merges the shards' partial results all at once: on five national
// years on the test cluster (4 M patients, 2 × 2) the table by département
// and sex needed more than the servers' 1.86 GiB per query and failed.
// Merged bucket by bucket (the shards send two-level results), it ran in
// 10.1 s.
const mergeByBucket = `distributed_aggregation_memory_efficient = 1`

// currentSettingList is what every current-state statement sets;
// currentSettings says it, for a statement that sets nothing else.
const (
	currentSettingList = store.DistributedLocal + `, ` + mergeByBucket
	currentSettings    = ` SETTINGS ` + currentSettingList
)

// patientID is the key of a per-patient GROUP BY: the pseudonym's 128-bit
// SipHash, the same hash uniqExact keeps of a string, so no less exact than
// the distinct counts. The grouping then keys on a fixed 16 bytes instead
// of 64 hex digits: on five national years, the table by département and
// sex 9.0 -> 5.8 s, with or without diagnosis 5.9 -> 3.1 s. Not in the
// distinct counts: uniqExact hashes its argument again, and hashing twice
// was slower than once.
const patientID = `sipHash128(patient_key)`

// orphaPrevalenceSQL counts patients per ORPHA code on the current state:
// the rows of each set's highest version (currentSets), their orpha_codes
// column, opposition (no patient key) excluded. Measured faster than argMax
// over the arrays, which copies every array it compares.
const orphaPrevalenceSQL = `SELECT code, toUInt64(uniqExact(patient_key)) AS n FROM documents ARRAY JOIN orpha_codes AS code
	WHERE ` + currentSets + ` GROUP BY code`

var topORPHA = store.Statement{Name: "indicators.top_orpha",
	SQL: orphaPrevalenceSQL + ` HAVING n >= ? ORDER BY n DESC, code LIMIT ?` + currentSettings}

// Figures kept as they arrive (pkg/figures): a cell is the sum of its
// differences in the latest completed generation, a few thousand rows
// whatever the history; the same rows as the statements over the history
// (TestKeptFiguresMatchHistory). A cell whose patients all left sums to 0.
const keptGeneration = `generation = (SELECT max(generation) FROM figure_generations WHERE completed = 1)`

func keptCells(figure string) string {
	return `SELECT cell AS code, toUInt64(sum(delta)) AS n FROM figure_counts WHERE ` + keptGeneration +
		` AND figure = '` + figure + `' GROUP BY code HAVING sum(delta) > 0`
}

// kept reads an epidemiology table from the kept figures: its (group,
// label, n) rows in the order of the history's statement (order), and its
// total (figure total; "" for an additive table, whose total is the sum of
// its cells).
func kept(name, figure, order, total string) *epiPair {
	p := &epiPair{query: store.Statement{Name: "indicators.epi_" + name + "_kept", SQL: `SELECT grp AS g, cell AS label,
		toUInt64(sum(delta)) AS n FROM figure_counts WHERE ` + keptGeneration + ` AND figure = '` + figure + `'
		GROUP BY g, label HAVING sum(delta) > 0 ORDER BY ` + order}}
	if total != "" {
		p.total = store.Statement{Name: "indicators.epi_" + name + "_total_kept", SQL: `SELECT toUInt64(sum(delta)) FROM figure_counts
			WHERE ` + keptGeneration + ` AND figure = '` + total + `'`}
	}
	return p
}

// keptStat reads a distribution from the kept figures: diagnoses per value
// (the value's exact text, parsed in Go: ClickHouse 18.16 parses some
// decimal texts to the neighbouring double).
func keptStat(name, figure string) store.Statement {
	return store.Statement{Name: "indicators.epi_stat_" + name + "_kept", SQL: `SELECT cell, toUInt64(sum(delta)) AS n
		FROM figure_counts WHERE ` + keptGeneration + ` AND figure = '` + figure + `' GROUP BY cell HAVING sum(delta) > 0`}
}

var topORPHAKept = store.Statement{Name: "indicators.top_orpha_kept",
	SQL: keptCells(figs.ORPHA) + ` AND n >= ? ORDER BY n DESC, code LIMIT ?`}

// receiptsOf selects the receipts of one establishment received in the period.
// receipts are sorted by establishment first (migration 0018): the
// establishment's condition reads its own granules only. PREWHERE keeps
// ClickHouse from choosing on its own to read another condition's column
// first (accepted = 0, the smallest) and then every column the statement
// names, failure texts included. A statement adds its own conditions in a
// WHERE.
const receiptsOf = `FROM receipts PREWHERE finess = ? AND toDate(toTimeZone(received_at, 'Europe/Paris')) >= toDate(?)
	AND toDate(toTimeZone(received_at, 'Europe/Paris')) <= toDate(?)`

// Receipts are keyed by (mail, document): count distinct keys, not rows.
// uniqExact takes the key as several arguments, not as one tuple.
var receptionCounts = store.Statement{Name: "indicators.reception_counts", SQL: `SELECT toUInt64(uniqExact(mail_id)),
		toUInt64(uniqExact(mail_id, doc_index)), toUInt64(uniqExactIf(mail_id, doc_index, accepted = 1)),
		toUInt64(uniqExactIf(mail_id, doc_index, accepted = 0)) ` + receiptsOf}

var receptionReasons = store.Statement{Name: "indicators.reception_reasons", SQL: `SELECT rejection_code, any(cisis_code),
		any(rejection_reason), toUInt64(uniqExact(mail_id, doc_index)) AS n ` +
	receiptsOf + ` WHERE accepted = 0 GROUP BY rejection_code ORDER BY n DESC, rejection_code`}

// receptionDocumentMonths lists the document months (effective date, Paris
// day) of the documents the establishment's mails of the period carried:
// the months whose MR.2 the reception report shows.
var receptionDocumentMonths = store.Statement{Name: "indicators.reception_document_months", SQL: `SELECT
		toStartOfMonth(effective_date) AS m ` + receiptsOf + ` WHERE set_id != '' GROUP BY m ORDER BY m`}

// maxRejectedDocs bounds the list in one report.
const maxRejectedDocs = 1000

// The reception instant is read as Unix seconds: a DateTime comes back in the
// server's time zone, whatever it is, and the report writes Paris time.
var receptionRejected = store.Statement{Name: "indicators.reception_rejected_documents", SQL: `SELECT toUInt32(any(received_at)) AS received,
		mail_id, any(doc_name), any(set_id), any(version_number), any(rejection_code), any(cisis_code), any(rejection_reason),
		any(failure_count), any(failure_sources), any(failure_rules), any(failure_locations), any(failure_texts) ` +
	receiptsOf + ` WHERE accepted = 0 GROUP BY mail_id, doc_index ORDER BY received DESC, mail_id, doc_index LIMIT ` +
	strconv.Itoa(maxRejectedDocs)}

// epiTable is one epidemiology table: a query of (group, label, n) rows and
// the query of its total.
type epiTable struct {
	title  string
	labels []string
	// systems: the code system (OID) of each label column whose values are
	// codes the CI-SIS kit's value sets may name ("" otherwise).
	systems  []string
	additive bool
	query    store.Statement
	// total counts the table's patients; none for an additive table,
	// whose cells partition them (one row per patient, counted once):
	// its total is the sum of its cells, one query fewer.
	total store.Statement
	// kept reads the same table from the figures kept as they arrive,
	// when there are any (nil: not kept yet).
	kept *epiPair
}

// epiPair is a table's query and total.
type epiPair struct{ query, total store.Statement }

// A patient's sex, residence and birth come from the most recent file.
const perPatient = `SELECT ` + patientID + ` AS patient, argMax(sex, effective_date) AS sex, argMax(residence_departement, effective_date) AS dep,
		argMax(birth_year_month, effective_date) AS birth, max(effective_date) AS last
		FROM documents WHERE ` + currentSets + ` GROUP BY patient`

// sumOfCells is the total of an additive table: the sum of its cells.
var sumOfCells store.Statement

var allPatients = `SELECT toUInt64(uniqExact(patient_key)) FROM documents WHERE ` + currentSets

// epi names an epidemiology statement; every one reads the current state
// and says currentSettings (after its join's, if any).
func epi(name, sql string) store.Statement {
	if strings.HasSuffix(sql, joinSettings) {
		return store.Statement{Name: "indicators.epi_" + name, SQL: sql + `, ` + currentSettingList}
	}
	return store.Statement{Name: "indicators.epi_" + name, SQL: sql + currentSettings}
}

var epiTables = []epiTable{
	{"Patients par code ORPHA", []string{"Code ORPHA"}, []string{kit.ORPHA}, false,
		epi("orpha", `SELECT '' AS g, code, n FROM (`+orphaPrevalenceSQL+`) AS prevalence ORDER BY n DESC, code`),
		epi("orpha_total", `SELECT toUInt64(uniqExact(patient_key)) FROM documents WHERE notEmpty(orpha_codes) AND `+currentSets),
		kept("orpha", figs.ORPHA, "n DESC, label", figs.ORPHAPatients)},
	{"Patients par département de résidence et sexe", []string{"Département", "Sexe"}, []string{"", kit.AdministrativeGender}, true,
		epi("departement_sex", `SELECT dep AS g, sex, toUInt64(count()) AS n FROM (`+perPatient+`) AS per_patient GROUP BY g, sex ORDER BY g, sex`), sumOfCells,
		kept("departement_sex", figs.DepSex, "g, label", "")},
	{"Patients par sexe et classe d'âge", []string{"Sexe", "Classe d'âge"}, []string{kit.AdministrativeGender, ""}, true,
		epi("sex_age", `SELECT sex AS g, multiIf(age < 0, 'inconnu', age < 5, '00-04 ans', age < 10, '05-09 ans', age < 18, '10-17 ans',
			   age < 40, '18-39 ans', age < 60, '40-59 ans', '60 ans et plus') AS class, toUInt64(count()) AS n
			 FROM (SELECT sex, if(birth = '', -1, toInt32(toYear(last)) - toInt32OrZero(substring(birth, 1, 4))) AS age
			       FROM (`+perPatient+`) AS per_patient) AS ages
			 GROUP BY g, class ORDER BY g, class`), sumOfCells, kept("sex_age", figs.SexAge, "g, label", "")},
	{"Patients par établissement", []string{"FINESS"}, nil, false,
		epi("establishment", `SELECT '' AS g, finess, toUInt64(uniqExact(patient_key)) AS n FROM documents WHERE `+currentSets+
			` GROUP BY finess ORDER BY finess`),
		epi("establishment_total", allPatients), kept("establishment", figs.Establishment, "g, label", figs.Patients)},
	{"Patients par site maladie rare", []string{"Site"}, nil, false,
		epi("site", `SELECT '' AS g, site_code, toUInt64(uniqExact(patient_key)) AS n FROM care_episodes WHERE site_code != '' AND `+
			currentSets+` GROUP BY site_code ORDER BY site_code`),
		epi("site_total", `SELECT toUInt64(uniqExact(patient_key)) FROM care_episodes WHERE site_code != '' AND `+currentSets),
		kept("site", figs.Site, "g, label", figs.SitePatients)},
	// The centres side is unique per centre_id (GROUP BY): ALL INNER JOIN
	// keeps every patient row of the left side on every version, where ANY
	// INNER JOIN keeps one row per key on both sides from ClickHouse 20 on.
	{"Patients par filière", []string{"Filière"}, nil, false,
		epi("filiere", `SELECT '' AS g, filiere, toUInt64(uniqExact(patient_key)) AS n FROM (
			   SELECT site_code AS centre_id, patient_key FROM care_episodes WHERE site_code != '' AND `+currentSets+`
			 ) AS episodes ALL INNER JOIN (
			   SELECT centre_id, argMax(filiere, imported_at) AS filiere FROM reference_centres GROUP BY centre_id
			 ) AS centres USING centre_id
			 GROUP BY filiere ORDER BY filiere`+joinSettings),
		// GLOBAL: on a cluster the shards would look reference_centres up
		// in their default database; the initiator reads it in the hub's
		// and sends the list (the same IN on one server).
		epi("filiere_total", `SELECT toUInt64(uniqExact(patient_key)) FROM care_episodes
			WHERE site_code GLOBAL IN (SELECT centre_id FROM reference_centres) AND `+currentSets),
		kept("filiere", figs.Filiere, "g, label", figs.FilierePatients)},
	{"Patients avec ou sans diagnostic", []string{"Diagnostic"}, nil, true,
		epi("diagnosis", `SELECT '' AS g, if(coded > 0, 'diagnostic codé', 'non diagnostiqué') AS state, toUInt64(count()) AS n FROM (
			   SELECT `+patientID+` AS patient, countIf(disease_code != '' AND disease_system IN ('ORPHA', 'CIM-10')) AS coded
			   FROM diagnoses WHERE `+currentSets+` GROUP BY patient) AS per_patient GROUP BY state ORDER BY state`), sumOfCells,
		kept("diagnosis", figs.Diagnosis, "g, label", "")},
	{"Décès par année", []string{"Année du décès"}, nil, true,
		epi("deaths", `SELECT '' AS g, if(y = '', 'inconnue', y) AS year, toUInt64(count()) AS n FROM (
			   SELECT `+patientID+` AS patient, argMax(substring(death_year_month, 1, 4), effective_date) AS y FROM patients
			   WHERE deceased = 1 AND `+currentSets+` GROUP BY patient) AS per_patient GROUP BY year ORDER BY year`), sumOfCells,
		kept("deaths", figs.Deaths, "g, label", "")},
}

// epiStat is one distribution (years) of the diagnoses' current state:
// count and quartiles, each diagnosis once: a redelivered batch leaves a
// diagnosis twice until ClickHouse merges (and ClickHouse 20.5+ merges
// duplicates within one insert, 18.16 does not), so raw rows are never
// counted. A diagnosis is its version's key and its rank: grouping on two
// integers instead of the strings of (finess, set_id) halves the time (1.38
// -> 0.63 s on one national year); a current version is named by its set and
// number alone.
type epiStat struct {
	title string
	query store.Statement
	// kept reads the diagnoses per value from the kept figures.
	kept store.Statement
}

func stat(name, expr, where string) store.Statement {
	return epi("stat_"+name, `SELECT toUInt64(count()), quantilesExact(0.25, 0.5, 0.75)(v) FROM (
		SELECT any(assumeNotNull(`+expr+`)) AS v FROM diagnoses WHERE `+where+` AND `+currentSets+`
		GROUP BY version_key, ordinal) AS per_diagnosis`)
}

var epiStats = []epiStat{
	{"Âge aux premiers signes (années)", stat("onset_age", "onset_age_years", "isNotNull(onset_age_years)"),
		keptStat("onset_age", figs.StatOnset)},
	{"Âge au diagnostic clinique (années)", stat("clinical_dx_age", "clinical_dx_age_years", "isNotNull(clinical_dx_age_years)"),
		keptStat("clinical_dx_age", figs.StatClinical)},
	{"Âge au diagnostic génétique (années)", stat("genetic_dx_age", "genetic_dx_age_years", "isNotNull(genetic_dx_age_years)"),
		keptStat("genetic_dx_age", figs.StatGenetic)},
	{"Délai diagnostique (années, diagnostic clinique − premiers signes)", stat("diagnostic_delay",
		"clinical_dx_age_years - onset_age_years",
		"isNotNull(onset_age_years) AND isNotNull(clinical_dx_age_years) AND clinical_dx_age_years >= onset_age_years"),
		keptStat("diagnostic_delay", figs.StatDelay)},
}

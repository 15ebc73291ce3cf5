package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Typed rows. Every INSERT of the package writes rows of one struct type
// whose fields carry their column (`ch:"column"`): the statement's column
// list and the values of a row are both read from the struct, by reflection
// once per type (insertRows, when the registry is built), so a value cannot
// land in another column. A column the table lacks is found when the store
// migrates (checkInserts), not at the first insert.

// columns lists the columns of the insert, in the order of its statement.
func (ins rowInsert[R]) columns() []string {
	_, cols, _ := InsertTable(ins.Statement)
	return strings.Split(cols, ", ")
}

func (ins rowInsert[R]) statement() Statement { return ins.Statement }

// values are r's values in the order of the statement's columns.
func (ins rowInsert[R]) values(r *R) []any {
	v := reflect.ValueOf(r).Elem()
	out := make([]any, len(ins.fields))
	for i, idx := range ins.fields {
		out[i] = v.FieldByIndex(idx).Interface()
	}
	return out
}

// rows is one INSERT being built: the registered insert and its rows.
type rows[R any] struct {
	ins  rowInsert[R]
	list []R
}

func newRows[R any](ins rowInsert[R]) *rows[R] { return &rows[R]{ins: ins} }

// sized makes room for n rows at once: a row is hundreds of bytes, and a
// list grown by append copied each batch's rows many times over (a quarter of
// the loader's CPU in the store benchmark's profile).
func (b *rows[R]) sized(n int) *rows[R] {
	b.list = make([]R, 0, n)
	return b
}

func (b *rows[R]) add(r R) { b.list = append(b.list, r) }

// batch is what send writes: rows of any type.
type batch interface {
	statement() Statement
	len() int
	row(i int) []any
}

func (b *rows[R]) statement() Statement { return b.ins.Statement }
func (b *rows[R]) len() int             { return len(b.list) }
func (b *rows[R]) row(i int) []any      { return b.ins.values(&b.list[i]) }

// send writes each batch with one INSERT, in the order given.
func (s *Store) send(ctx context.Context, batches ...batch) error {
	for _, t := range batches {
		if t.len() == 0 {
			continue
		}
		name, _, _ := InsertTable(t.statement())
		b, err := s.conn.PrepareBatch(ctx, t.statement().SQL)
		if err != nil {
			return fmt.Errorf("preparing the insert into %s: %w", name, err)
		}
		for i := range t.len() {
			if err := b.Append(t.row(i)...); err != nil {
				_ = b.Abort()
				return fmt.Errorf("adding a row to %s: %w", name, err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("inserting %d rows into %s: %w", t.len(), name, err)
		}
	}
	return nil
}

// typedInsert is a rowInsert of any row type.
type typedInsert interface {
	statement() Statement
	columns() []string
}

// checkInserts says which columns of the typed inserts the database's
// tables lack: run once the migrations are applied, it turns a row field
// added without its migration into an error at start, naming both.
func (s *Store) checkInserts(ctx context.Context, inserts []typedInsert) error {
	var missing []string
	for _, ins := range inserts {
		table, _, _ := InsertTable(ins.statement())
		have := map[string]bool{}
		err := s.Each(ctx, tableColumns, []any{table}, func(rows Scanner) error {
			var c string
			if err := rows.Scan(&c); err != nil {
				return err
			}
			have[c] = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading the columns of %s: %w", table, err)
		}
		for _, c := range ins.columns() {
			if !have[c] {
				missing = append(missing, table+"."+c)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the hub writes columns the database lacks: %s (a row field added without its migration in schemas/clickhouse?)",
			strings.Join(missing, ", "))
	}
	return nil
}

// The row of each table the package writes, fields in any order.

type migrationRow struct {
	Version uint32 `ch:"version"`
	Name    string `ch:"name"`
}

type documentRow struct {
	FINESS                 string    `ch:"finess"`
	SetID                  string    `ch:"set_id"`
	VersionNumber          uint32    `ch:"version_number"`
	DocumentKey            string    `ch:"document_key"`
	ModelVersion           string    `ch:"model_version"`
	EffectiveTime          string    `ch:"effective_time"`
	EffectiveDate          time.Time `ch:"effective_date"`
	MailID                 string    `ch:"mail_id"`
	DocIndex               uint16    `ch:"doc_index"`
	ReceivedAt             time.Time `ch:"received_at"`
	KeyID                  string    `ch:"key_id"`
	PatientKey             string    `ch:"patient_key"`
	PatientINSPseudonym    string    `ch:"patient_ins_pseudonym"`
	PatientTraitsPseudonym string    `ch:"patient_traits_pseudonym"`
	Sex                    string    `ch:"sex"`
	BirthYearMonth         string    `ch:"birth_year_month"`
	ResidenceDepartement   string    `ch:"residence_departement"`
	Opposition             uint8     `ch:"opposition"`
	ORPHACodes             []string  `ch:"orpha_codes"`
	Consents               []string  `ch:"consents"`
	FileKey                string    `ch:"file_key"`
	FileCreatedYM          string    `ch:"file_created_ym"`
	FileUpdatedYM          string    `ch:"file_updated_ym"`
	LostToFollowUp         *uint8    `ch:"lost_to_follow_up"`
	Consanguinity          *uint8    `ch:"consanguinity"`
	DeathRDCode            string    `ch:"death_rd_code"`
	DeathRDYearMonth       string    `ch:"death_rd_year_month"`
	AntenatalART           *uint8    `ch:"antenatal_art"`
	AntenatalMalformation  string    `ch:"antenatal_malformation"`
	GestationalAgeWeeks    *float64  `ch:"gestational_age_weeks"`
	BirthWeightG           *float64  `ch:"birth_weight_g"`
	BirthLengthCM          *float64  `ch:"birth_length_cm"`
	HeadCircumferenceCM    *float64  `ch:"head_circumference_cm"`
}

// clinicalKey begins every clinical row: the version it belongs to, its
// day and its patient.
type clinicalKey struct {
	FINESS        string    `ch:"finess"`
	SetID         string    `ch:"set_id"`
	VersionNumber uint32    `ch:"version_number"`
	EffectiveDate time.Time `ch:"effective_date"`
	PatientKey    string    `ch:"patient_key"`
}

type patientRow struct {
	clinicalKey
	INSPseudonym          string   `ch:"patient_ins_pseudonym"`
	TraitsPseudonym       string   `ch:"patient_traits_pseudonym"`
	Sex                   string   `ch:"sex"`
	BirthYearMonth        string   `ch:"birth_year_month"`
	ResidenceDepartement  string   `ch:"residence_departement"`
	BirthplaceDepartement string   `ch:"birthplace_departement"`
	Deceased              *uint8   `ch:"deceased"`
	DeathYearMonth        string   `ch:"death_year_month"`
	MultipleBirth         *uint8   `ch:"multiple_birth"`
	IPPKeys               []string `ch:"ipp_keys"`
}

type diagnosisRow struct {
	clinicalKey
	Ordinal                uint16   `ch:"ordinal"`
	Key                    string   `ch:"diagnosis_key"`
	YM                     string   `ch:"diagnosis_ym"`
	DateUnknown            uint8    `ch:"date_unknown"`
	DiseaseCode            string   `ch:"disease_code"`
	DiseaseSystem          string   `ch:"disease_system"`
	DiseaseNullFlavor      string   `ch:"disease_null_flavor"`
	SiteCode               string   `ch:"site_code"`
	StatusCode             string   `ch:"status_code"`
	SporadicFamilialCode   string   `ch:"sporadic_familial_code"`
	OnsetAgeClassCode      string   `ch:"onset_age_class_code"`
	OnsetAgeYears          *float64 `ch:"onset_age_years"`
	AppraisalCode          string   `ch:"appraisal_code"`
	ClinicalDxAgeClassCode string   `ch:"clinical_dx_age_class_code"`
	ClinicalDxAgeYears     *float64 `ch:"clinical_dx_age_years"`
	GeneticDxAgeClassCode  string   `ch:"genetic_dx_age_class_code"`
	GeneticDxAgeYears      *float64 `ch:"genetic_dx_age_years"`
	ClinicalFeatures       []string `ch:"clinical_features"`
	Techniques             []string `ch:"techniques"`
	Genes                  []string `ch:"genes"`
	Investigations         []string `ch:"investigations"`
	ApparentlyHealthy      *uint8   `ch:"apparently_healthy"`
	FetusPseudonym         string   `ch:"fetus_pseudonym"`
}

type activityRow struct {
	clinicalKey
	Ordinal                 uint16   `ch:"ordinal"`
	Key                     string   `ch:"activity_key"`
	ContextCode             string   `ch:"context_code"`
	YM                      string   `ch:"activity_ym"`
	PerformerID             string   `ch:"performer_id"`
	PerformerProfession     string   `ch:"performer_profession_code"`
	DeclaringSiteCode       string   `ch:"declaring_site_code"`
	ConsultationFINESS      string   `ch:"consultation_finess"`
	ConsultationDepartement string   `ch:"consultation_departement"`
	CountryCode             string   `ch:"country_code"`
	Objectives              []string `ch:"objectives"`
	FetusPseudonym          string   `ch:"fetus_pseudonym"`
}

type careEpisodeRow struct {
	clinicalKey
	Ordinal          uint16   `ch:"ordinal"`
	Key              string   `ch:"episode_key"`
	TypeCode         string   `ch:"type_code"`
	InclusionYM      string   `ch:"inclusion_ym"`
	ReferentID       string   `ch:"referent_id"`
	ReferredBy       []string `ch:"referred_by"`
	SiteCode         string   `ch:"site_code"`
	OutsideLabelling *uint8   `ch:"outside_labelling"`
}

type familyHistoryRow struct {
	clinicalKey
	Ordinal          uint16   `ch:"ordinal"`
	RelationshipCode string   `ch:"relationship_code"`
	FirstCaseKey     string   `ch:"first_case_key"`
	FirstCaseSex     string   `ch:"first_case_sex"`
	Diseases         []string `ch:"diseases"`
}

type activeProblemRow struct {
	clinicalKey
	Ordinal          uint16 `ch:"ordinal"`
	ProblemCode      string `ch:"problem_code"`
	ValueCode        string `ch:"value_code"`
	ValueSystem      string `ch:"value_system"`
	YM               string `ch:"problem_ym"`
	HealthStatusCode string `ch:"health_status_code"`
	CertaintyCode    string `ch:"certainty_code"`
	StatusCode       string `ch:"status_code"`
}

type functionalStatusRow struct {
	clinicalKey
	Ordinal  uint16 `ch:"ordinal"`
	ICFCode  string `ch:"icf_code"`
	StatusYM string `ch:"status_ym"`
}

type pregnancyRow struct {
	clinicalKey
	Ordinal        uint16 `ch:"ordinal"`
	StartYearMonth string `ch:"start_year_month"`
	EndYearMonth   string `ch:"end_year_month"`
	Ongoing        uint8  `ch:"ongoing"`
	FetusCount     *int32 `ch:"fetus_count"`
	ART            *uint8 `ch:"art"`
}

type birthRow struct {
	clinicalKey
	PregnancyOrdinal    uint16   `ch:"pregnancy_ordinal"`
	Ordinal             uint16   `ch:"ordinal"`
	Sequence            int32    `ch:"sequence"`
	SubjectPseudonym    string   `ch:"subject_pseudonym"`
	NewbornPseudonym    string   `ch:"newborn_pseudonym"`
	Sex                 string   `ch:"sex"`
	OutcomeCode         string   `ch:"outcome_code"`
	GestationalAgeWeeks *float64 `ch:"gestational_age_weeks"`
	FetalAutopsy        *uint8   `ch:"fetal_autopsy"`
}

type researchRow struct {
	clinicalKey
	ProtocolParticipant *uint8 `ch:"protocol_participant"`
	ContactConsent      *uint8 `ch:"contact_consent"`
	SampleResearch      *uint8 `ch:"sample_research"`
	SampleMolecular     *uint8 `ch:"sample_molecular"`
	BiobankCode         string `ch:"biobank_code"`
}

type treatmentRow struct {
	clinicalKey
	Ordinal       uint16   `ch:"ordinal"`
	StartYM       string   `ch:"start_ym"`
	EndYM         string   `ch:"end_ym"`
	ProductCode   string   `ch:"product_code"`
	ProductSystem string   `ch:"product_system"`
	Translations  []string `ch:"translations"`
}

// versionRow: one version of a set seen by a document or a receipt.
type versionRow struct {
	FINESS        string    `ch:"finess"`
	SetID         string    `ch:"set_id"`
	VersionNumber uint32    `ch:"version_number"`
	Source        string    `ch:"source"`
	EffectiveDate time.Time `ch:"effective_date"`
	Accepted      uint8     `ch:"accepted"`
	Created       time.Time `ch:"created"`
}

type supersededRow struct {
	FINESS string `ch:"finess"`
	SetID  string `ch:"set_id"`
	Level  uint8  `ch:"level"`
	Idx    uint32 `ch:"idx"`
}

type receiptRow struct {
	MailID              string    `ch:"mail_id"`
	Mailbox             string    `ch:"mailbox"`
	ReceivedAt          time.Time `ch:"received_at"`
	ProcessedAt         time.Time `ch:"processed_at"`
	SenderDomain        string    `ch:"sender_domain"`
	MailRejectionCode   string    `ch:"mail_rejection_code"`
	MailRejectionReason string    `ch:"mail_rejection_reason"`
	DocIndex            uint16    `ch:"doc_index"`
	DocName             string    `ch:"doc_name"`
	FINESS              string    `ch:"finess"`
	SetID               string    `ch:"set_id"`
	VersionNumber       uint32    `ch:"version_number"`
	EffectiveTime       string    `ch:"effective_time"`
	EffectiveDate       time.Time `ch:"effective_date"`
	ModelVersion        string    `ch:"model_version"`
	Accepted            uint8     `ch:"accepted"`
	RejectionCode       string    `ch:"rejection_code"`
	CISISCode           uint16    `ch:"cisis_code"`
	RejectionReason     string    `ch:"rejection_reason"`
	FailureCount        uint32    `ch:"failure_count"`
	FailurePatterns     []string  `ch:"failure_patterns"`
	FailureSources      []string  `ch:"failure_sources"`
	FailureRules        []string  `ch:"failure_rules"`
	FailureLocations    []string  `ch:"failure_locations"`
	FailureTexts        []string  `ch:"failure_texts"`
}

type centreRow struct {
	FINESS     string    `ch:"finess"`
	CentreID   string    `ch:"centre_id"`
	Name       string    `ch:"centre_name"`
	Filiere    string    `ch:"filiere"`
	Type       string    `ch:"centre_type"`
	ValidFrom  time.Time `ch:"valid_from"`
	ValidTo    time.Time `ch:"valid_to"`
	ImportedAt time.Time `ch:"imported_at"`
}

type dpiUpdateRow struct {
	FINESS        string    `ch:"finess"`
	Month         time.Time `ch:"month"`
	DeclaredCount uint32    `ch:"declared_count"`
	Source        string    `ch:"source"`
	DeclaredAt    time.Time `ch:"declared_at"`
}

type establishmentRow struct {
	FINESS            string    `ch:"finess"`
	Name              string    `ch:"name"`
	TransmissionStart time.Time `ch:"transmission_start"`
	UpdatedAt         time.Time `ch:"updated_at"`
}

type accessRow struct {
	At       time.Time `ch:"at"`
	Subject  string    `ch:"subject"`
	Issuer   string    `ch:"issuer"`
	Name     string    `ch:"name"`
	Role     string    `ch:"role"`
	Method   string    `ch:"method"`
	Route    string    `ch:"route"`
	FINESS   string    `ch:"finess"`
	Period   string    `ch:"period"`
	Decision string    `ch:"decision"`
	Via      string    `ch:"via"`
}

type linkRow struct {
	OldKeyID     string `ch:"old_key_id"`
	NewKeyID     string `ch:"new_key_id"`
	Kind         string `ch:"kind"`
	OldPseudonym string `ch:"old_pseudonym"`
	NewPseudonym string `ch:"new_pseudonym"`
	FINESS       string `ch:"finess"`
}

type dpiHistoryRow struct {
	FINESS        string    `ch:"finess"`
	Month         time.Time `ch:"month"`
	PreviousCount uint32    `ch:"previous_count"`
	HadPrevious   uint8     `ch:"had_previous"`
	DeclaredCount uint32    `ch:"declared_count"`
	Author        string    `ch:"author"`
	Role          string    `ch:"role"`
	Source        string    `ch:"source"`
	ChangedAt     time.Time `ch:"changed_at"`
}

type figureCountRow struct {
	Generation uint64 `ch:"generation"`
	Figure     string `ch:"figure"`
	Group      string `ch:"grp"`
	Cell       string `ch:"cell"`
	Delta      int64  `ch:"delta"`
	Batch      uint64 `ch:"batch"`
}

type figureGenerationRow struct {
	Generation uint64 `ch:"generation"`
	Writer     string `ch:"writer"`
	Completed  uint8  `ch:"completed"`
}

package sdmmr

// The types below are the pseudonymised clinical content that sdmmr.record
// events carry: the Body types minus everything that names or locates a
// person (identifiers become keyed hashes, dates that date a person become
// year-month, communes become départements, free text is dropped).

// PseudonymSet is the set of keyed values computed under one key; a record
// made during a key rotation carries one per previous key.
type PseudonymSet struct {
	KeyID                  string   `json:"key_id"`
	DocumentKey            string   `json:"document_key"`
	PatientINSPseudonym    string   `json:"patient_ins_pseudonym,omitempty"`
	PatientTraitsPseudonym string   `json:"patient_traits_pseudonym,omitempty"`
	IPPKeys                []string `json:"ipp_keys,omitempty"`
}

// RecordFile is MRFile with its id replaced by a keyed hash.
type RecordFile struct {
	Key            string `json:"key,omitempty"`
	Created        string `json:"created,omitempty"`
	Updated        string `json:"updated,omitempty"`
	LostToFollowUp *bool  `json:"lost_to_follow_up,omitempty"`
}

// RecordCareEpisode is CareEpisode without names.
type RecordCareEpisode struct {
	Key              string `json:"key,omitempty"`
	Type             *Code  `json:"type,omitempty"`
	InclusionDate    string `json:"inclusion_date,omitempty"`
	Referent         *ID    `json:"referent,omitempty"`
	ReferredBy       []Code `json:"referred_by,omitempty"`
	SiteCode         string `json:"site_code,omitempty"`
	OutsideLabelling *bool  `json:"outside_labelling,omitempty"`
}

// RecordActivity is Activity without names, its commune generalised.
type RecordActivity struct {
	Key                     string         `json:"key,omitempty"`
	Context                 *Code          `json:"context,omitempty"`
	Date                    string         `json:"date,omitempty"`
	Performer               *ID            `json:"performer,omitempty"`
	PerformerProfession     *Code          `json:"performer_profession,omitempty"`
	DeclaringSiteCode       string         `json:"declaring_site_code,omitempty"`
	ConsultationFINESS      string         `json:"consultation_finess,omitempty"`
	ConsultationDepartement string         `json:"consultation_departement,omitempty"`
	Country                 *Code          `json:"country,omitempty"`
	Objectives              []Code         `json:"objectives,omitempty"`
	Fetus                   *RecordSubject `json:"fetus,omitempty"`
}

// RecordSubject is a fetus or newborn: its own pseudonym (keyed hash of its
// local id, scoped to the establishment, equal to the IPP key the newborn's
// own documents carry) and, once born, the pseudonym of the newborn's INS.
// It sits in the mother's record, which links the two.
type RecordSubject struct {
	Pseudonym        string `json:"pseudonym,omitempty"`
	NewbornPseudonym string `json:"newborn_pseudonym,omitempty"`
	Relationship     string `json:"relationship,omitempty"`
	Sex              string `json:"sex,omitempty"`
	BirthYearMonth   string `json:"birth_year_month,omitempty"`
	MultipleBirth    *bool  `json:"multiple_birth,omitempty"`
	BirthOrder       *int   `json:"birth_order,omitempty"`
}

// RecordDiagnosis is Diagnosis without free text.
type RecordDiagnosis struct {
	Key                       string         `json:"key,omitempty"`
	Date                      string         `json:"date,omitempty"`
	DateUnknown               bool           `json:"date_unknown,omitempty"`
	Disease                   *Code          `json:"disease,omitempty"`
	SiteCode                  string         `json:"site_code,omitempty"`
	Fetus                     *RecordSubject `json:"fetus,omitempty"`
	Status                    *Code          `json:"status,omitempty"`
	ClinicalFeatures          []Code         `json:"clinical_features,omitempty"`
	SporadicFamilial          *Code          `json:"sporadic_familial,omitempty"`
	OnsetAgeClass             *Code          `json:"onset_age_class,omitempty"`
	OnsetAge                  *Quantity      `json:"onset_age,omitempty"`
	AppraisalOnEntry          *Code          `json:"appraisal_on_entry,omitempty"`
	ClinicalDiagnosisAgeClass *Code          `json:"clinical_diagnosis_age_class,omitempty"`
	ClinicalDiagnosisAge      *Quantity      `json:"clinical_diagnosis_age,omitempty"`
	GeneticDiagnosisAgeClass  *Code          `json:"genetic_diagnosis_age_class,omitempty"`
	GeneticDiagnosisAge       *Quantity      `json:"genetic_diagnosis_age,omitempty"`
	Techniques                []Code         `json:"techniques,omitempty"`
	Genes                     []Code         `json:"genes,omitempty"`
	Investigations            []Code         `json:"investigations,omitempty"`
	ApparentlyHealthy         *bool          `json:"apparently_healthy,omitempty"`
}

// RecordFamilyHistory is FamilyHistory with the first case's id hashed and
// its free text dropped.
type RecordFamilyHistory struct {
	Relationship *Code  `json:"relationship,omitempty"`
	FirstCaseKey string `json:"first_case_key,omitempty"`
	FirstCaseSex string `json:"first_case_sex,omitempty"`
	Diseases     []Code `json:"diseases,omitempty"`
}

// RecordDeath is DeathDueToRD with the date generalised.
type RecordDeath struct {
	Disease   *Code  `json:"disease,omitempty"`
	YearMonth string `json:"year_month,omitempty"`
}

// RecordPregnancy is Pregnancy with dates generalised to year-month.
type RecordPregnancy struct {
	StartYearMonth string        `json:"start_year_month,omitempty"`
	EndYearMonth   string        `json:"end_year_month,omitempty"`
	Ongoing        bool          `json:"ongoing,omitempty"`
	FetusCount     *int          `json:"fetus_count,omitempty"`
	ART            *bool         `json:"art,omitempty"`
	Births         []RecordBirth `json:"births,omitempty"`
}

// RecordBirth is Birth with its subject pseudonymised.
type RecordBirth struct {
	Sequence       int            `json:"sequence,omitempty"`
	Subject        *RecordSubject `json:"subject,omitempty"`
	Outcome        *Code          `json:"outcome,omitempty"`
	GestationalAge *Quantity      `json:"gestational_age,omitempty"`
	FetalAutopsy   *bool          `json:"fetal_autopsy,omitempty"`
}

// RecordResearch is Research without the biobank free text.
type RecordResearch struct {
	ProtocolParticipant *bool `json:"protocol_participant,omitempty"`
	ContactConsent      *bool `json:"contact_consent,omitempty"`
	SampleResearch      *bool `json:"sample_research,omitempty"`
	SampleMolecular     *bool `json:"sample_molecular,omitempty"`
	Biobank             *Code `json:"biobank,omitempty"`
}

// RecordTreatment is Treatment without the product's free-text name.
type RecordTreatment struct {
	Start        string `json:"start,omitempty"`
	End          string `json:"end,omitempty"`
	Product      *Code  `json:"product,omitempty"`
	Translations []Code `json:"translations,omitempty"`
}

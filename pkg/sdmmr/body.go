package sdmmr

// Body is the clinical content of an SDM-MR document, common to every model
// version (the extractor maps the codes each version uses onto these fields).
type Body struct {
	File             *MRFile            `json:"file,omitempty"`
	CareEpisodes     []CareEpisode      `json:"care_episodes,omitempty"`
	Activities       []Activity         `json:"activities,omitempty"`
	Diagnoses        []Diagnosis        `json:"diagnoses,omitempty"`
	FamilyHistory    []FamilyHistory    `json:"family_history,omitempty"`
	ActiveProblems   []Problem          `json:"active_problems,omitempty"`
	DeathDueToRD     *DeathDueToRD      `json:"death_due_to_rd,omitempty"`
	Consanguinity    *bool              `json:"consanguinity,omitempty"`
	FunctionalStatus []FunctionalStatus `json:"functional_status,omitempty"`
	Antenatal        *Antenatal         `json:"antenatal,omitempty"`
	Pregnancies      []Pregnancy        `json:"pregnancies,omitempty"`
	Research         *Research          `json:"research,omitempty"`
	Treatments       []Treatment        `json:"treatments,omitempty"`
}

// MRFile is the rare-disease file (FR-Dossier, GEN-164/GEN-165/PAT-061).
type MRFile struct {
	ID             ID     `json:"id"`
	Created        string `json:"created,omitempty"`
	Updated        string `json:"updated,omitempty"`
	LostToFollowUp *bool  `json:"lost_to_follow_up,omitempty"`
}

// Site is a rare-disease site (code under 1.2.250.1.213.2.61).
type Site struct {
	Code string `json:"code"`
	Name string `json:"name,omitempty"` // dropped from the record
}

// CareEpisode is one care episode in a rare-disease site (FR-Plan-de-soins).
type CareEpisode struct {
	ID               ID     `json:"id"`
	Type             *Code  `json:"type,omitempty"`
	InclusionDate    string `json:"inclusion_date,omitempty"`
	Referent         *ID    `json:"referent,omitempty"` // RPPS of the site's referent
	ReferredBy       []Code `json:"referred_by,omitempty"`
	Site             *Site  `json:"site,omitempty"`
	OutsideLabelling *bool  `json:"outside_labelling,omitempty"` // GEN-162 / GEN-368
}

// Activity is one rare-disease activity (FR-Historique-prises-en-charge).
type Activity struct {
	ID                  ID       `json:"id"`
	Context             *Code    `json:"context,omitempty"`
	Date                string   `json:"date,omitempty"`
	Performer           *ID      `json:"performer,omitempty"`
	PerformerProfession *Code    `json:"performer_profession,omitempty"`
	DeclaringSite       *Site    `json:"declaring_site,omitempty"`
	ConsultationFINESS  string   `json:"consultation_finess,omitempty"`
	ConsultationCommune string   `json:"consultation_commune,omitempty"` // INSEE code (addr/county, or 65647-0 ≤2022)
	Country             *Code    `json:"country,omitempty"`              // 65649-6 (≤2022)
	Objectives          []Code   `json:"objectives,omitempty"`
	Fetus               *Subject `json:"fetus,omitempty"`
}

// Subject is a fetus or newborn the entry is about (FR-Sujet). Identified.
// Before birth the names are the mother's (birth family and first given
// name) plus the fetus's planned given name; once born, the child's own.
type Subject struct {
	ID            ID     `json:"id"`                   // fetus local id (first sdtc:id)
	NewbornID     *ID    `json:"newborn_id,omitempty"` // second sdtc:id, once born
	Relationship  string `json:"relationship,omitempty"`
	BirthFamily   string `json:"birth_family,omitempty"`
	UsedFamily    string `json:"used_family,omitempty"`
	BirthGiven    string `json:"birth_given,omitempty"`
	UsedGiven     string `json:"used_given,omitempty"`
	Given         string `json:"given,omitempty"`
	Sex           string `json:"sex,omitempty"`
	BirthTime     string `json:"birth_time,omitempty"`
	MultipleBirth *bool  `json:"multiple_birth,omitempty"`
	BirthOrder    *int   `json:"birth_order,omitempty"`
}

// Diagnosis is one rare-disease diagnosis (FR-Diagnostic-admission-hopital:
// one FR-Liste-des-problemes act, its FR-Probleme and the detail observations,
// flat beside it up to 2022.01, nested inside it from 2024.01).
type Diagnosis struct {
	ID          ID       `json:"id"`
	Date        string   `json:"date,omitempty"`
	DateUnknown bool     `json:"date_unknown,omitempty"` // low/@nullFlavor
	Disease     *Code    `json:"disease,omitempty"`      // ORPHA or ICD-10; may carry a nullFlavor
	Site        *Site    `json:"site,omitempty"`         // diagnosing site (2024)
	Fetus       *Subject `json:"fetus,omitempty"`
	Status      *Code    `json:"status,omitempty"` // MED-072
	// ClinicalFeatures: MED-1284 (2024); MED-074 (ORPHA groups) and
	// MED-086 (ICD-10) before.
	ClinicalFeatures []Code    `json:"clinical_features,omitempty"`
	SporadicFamilial *Code     `json:"sporadic_familial,omitempty"`  // MED-073
	OnsetAgeClass    *Code     `json:"onset_age_class,omitempty"`    // PAT-013
	OnsetAge         *Quantity `json:"onset_age,omitempty"`          // PAT-014
	AppraisalOnEntry *Code     `json:"appraisal_on_entry,omitempty"` // MED-071
	// Age at diagnosis: PAT-015/PAT-016 up to 2022.01 (single age, mapped to
	// the clinical one); PAT-062/063 clinical and PAT-064/065 genetic in 2024.
	ClinicalDiagnosisAgeClass *Code     `json:"clinical_diagnosis_age_class,omitempty"`
	ClinicalDiagnosisAge      *Quantity `json:"clinical_diagnosis_age,omitempty"`
	GeneticDiagnosisAgeClass  *Code     `json:"genetic_diagnosis_age_class,omitempty"`
	GeneticDiagnosisAge       *Quantity `json:"genetic_diagnosis_age,omitempty"`
	Techniques                []Code    `json:"techniques,omitempty"`         // MED-068 / MED-1286
	Genes                     []Code    `json:"genes,omitempty"`              // MED-552
	OtherGenetic              string    `json:"other_genetic,omitempty"`      // MED-1287 (free text)
	Investigations            []Code    `json:"investigations,omitempty"`     // ORG-017
	ConfirmationMode          string    `json:"confirmation_mode,omitempty"`  // GEN-163 (free text)
	ApparentlyHealthy         *bool     `json:"apparently_healthy,omitempty"` // MED-064
	Mutations                 string    `json:"mutations,omitempty"`          // MED-554 (free text)
	Comment                   string    `json:"comment,omitempty"`            // FR-Commentaire-ER (free text)
}

// FamilyHistory is the first case in the family (FR-Antecedents-familiaux).
type FamilyHistory struct {
	Relationship *Code  `json:"relationship,omitempty"`
	FirstCaseID  *ID    `json:"first_case_id,omitempty"`
	FirstCaseSex string `json:"first_case_sex,omitempty"`
	Diseases     []Code `json:"diseases,omitempty"`     // ORPHA (2024)
	DiseaseText  string `json:"disease_text,omitempty"` // ST (≤2022), free text
}

// Problem is an entry of the active problems section up to 2022.01 ("Maladie
// rare", with its clinical status and certainty).
type Problem struct {
	Code         *Code  `json:"code,omitempty"`
	Value        *Code  `json:"value,omitempty"`
	Date         string `json:"date,omitempty"`
	HealthStatus *Code  `json:"health_status,omitempty"`
	Certainty    *Code  `json:"certainty,omitempty"` // FR-Certitude (2022)
	Status       *Code  `json:"status,omitempty"`    // FR-Statut-du-probleme (≤2021)
}

// DeathDueToRD is the "death due to a rare disease" problem.
type DeathDueToRD struct {
	Disease *Code  `json:"disease,omitempty"`
	Date    string `json:"date,omitempty"`
}

// FunctionalStatus is one ICF score (FR-Statut-fonctionnel, 2024).
type FunctionalStatus struct {
	Code *Code  `json:"code"`
	Date string `json:"date,omitempty"`
}

// Antenatal is FR-Informations-sur-l-accouchement.
type Antenatal struct {
	ART               *bool     `json:"art,omitempty"`
	ARTDate           string    `json:"art_date,omitempty"`
	Malformation      *Code     `json:"malformation,omitempty"`
	GestationalAge    *Quantity `json:"gestational_age,omitempty"`
	BirthWeight       *Quantity `json:"birth_weight,omitempty"`
	BirthLength       *Quantity `json:"birth_length,omitempty"`
	HeadCircumference *Quantity `json:"head_circumference,omitempty"`
}

// Pregnancy is one pregnancy (FR-Historique-des-grossesses, 2024).
type Pregnancy struct {
	Start      string  `json:"start,omitempty"`
	End        string  `json:"end,omitempty"`
	Ongoing    bool    `json:"ongoing,omitempty"`
	FetusCount *int    `json:"fetus_count,omitempty"`
	ART        *bool   `json:"art,omitempty"`
	Births     []Birth `json:"births,omitempty"`
}

// Birth is one fetus or birth of a pregnancy.
type Birth struct {
	Sequence       int       `json:"sequence,omitempty"`
	Subject        *Subject  `json:"subject,omitempty"`
	Outcome        *Code     `json:"outcome,omitempty"`
	GestationalAge *Quantity `json:"gestational_age,omitempty"`
	FetalAutopsy   *bool     `json:"fetal_autopsy,omitempty"`
}

// Research is research participation (FR-Recherche 2024; results section
// "Protocole de recherche" before).
type Research struct {
	ProtocolParticipant *bool  `json:"protocol_participant,omitempty"` // PAT-023
	ContactConsent      *bool  `json:"contact_consent,omitempty"`      // PAT-012
	SampleResearch      *bool  `json:"sample_research,omitempty"`      // MED-065
	SampleMolecular     *bool  `json:"sample_molecular,omitempty"`     // MED-066
	Biobank             *Code  `json:"biobank,omitempty"`              // GEN-344 when coded
	BiobankText         string `json:"biobank_text,omitempty"`         // GEN-344 text (free text)
}

// Treatment is a rare-disease treatment (≤2022 section 1.2.250.1.213.1.1.2.54).
type Treatment struct {
	Start        string `json:"start,omitempty"`
	End          string `json:"end,omitempty"`
	Product      *Code  `json:"product,omitempty"`
	Translations []Code `json:"translations,omitempty"`
	Name         string `json:"name,omitempty"`
}

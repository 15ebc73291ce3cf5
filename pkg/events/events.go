// Package events holds the messages the services exchange over NATS JetStream.
// Every event is JSON and carries a schema version in "v"; a consumer refuses a
// version it does not know instead of guessing.
package events

import (
	"strings"
	"time"

	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/topology"
)

// Subjects, as pkg/topology declares them. Identified data (sdmmr.extracted)
// lives on its own stream so that NATS permissions can keep every service but
// pseudonymisation away from it.
const (
	SubjectMailRaw    = topology.SubjectMailRaw
	SubjectOutcome    = topology.SubjectOutcome
	SubjectQuarantine = topology.SubjectQuarantine
	SubjectExtracted  = topology.SubjectExtracted
	SubjectRecord     = topology.SubjectRecord
)

// Schema versions of each event type.
const (
	MailRawV    = 1
	OutcomeV    = 1
	ExtractedV  = 1
	RecordV     = 1
	QuarantineV = 1
)

// MailRaw is one mail taken from a mailbox, exactly as the IMAP server gave it.
// The bytes travel inline when they fit in a stream message, otherwise in the
// JetStream object store under Object.
type MailRaw struct {
	V           int       `json:"v"`
	MailID      string    `json:"mail_id"` // hex SHA-256 of (mailbox, UIDVALIDITY, UID)
	Mailbox     string    `json:"mailbox"`
	UIDValidity uint32    `json:"uid_validity"`
	UID         uint32    `json:"uid"`
	ReceivedAt  time.Time `json:"received_at"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"` // of the raw bytes: second key when UIDVALIDITY changes
	Raw         []byte    `json:"raw,omitempty"`
	Object      string    `json:"object,omitempty"`
}

// Quarantined is a message the hub could not handle and never will, kept
// with the reason so an operator can inspect and replay it. Mail is the mail
// when the validator quarantined it; Event is the message that failed at a
// later stage (stream, subject and bytes), except on the identified stream,
// whose content never leaves it: there MailID names the mail to replay.
type Quarantined struct {
	V      int       `json:"v"`
	Mail   MailRaw   `json:"mail"`
	Stage  string    `json:"stage"`
	Code   string    `json:"code"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	Event  *Failed   `json:"event,omitempty"`
}

// Failed is the message a stage could not handle.
type Failed struct {
	Stream     string    `json:"stream"`
	Subject    string    `json:"subject"`
	Seq        uint64    `json:"seq"`
	MsgID      string    `json:"msg_id,omitempty"`
	Published  time.Time `json:"published"`
	Deliveries uint64    `json:"deliveries"`
	MailID     string    `json:"mail_id,omitempty"`
	// MailSeq is the mail's sequence in BNDMR_MAIL when the event says it
	// (identified documents): bndmrctl quarantine replay finds the original
	// there without scanning the stream. 0: unknown.
	MailSeq uint64 `json:"mail_seq,omitempty"`
	// Data is the message as published; empty for identified data.
	Data []byte `json:"data,omitempty"`
}

// Outcome codes of the CI-SIS acknowledgement volet (MDN "Error:" field).
const (
	CodeUnknownPatient  = 902
	CodeINSAbsent       = 903
	CodeINSInconsistent = 904
	CodeINSIncomplete   = 905
	CodeOther           = 906
)

// MailOutcome is what the hub did with one mail: it feeds the acknowledgement
// (MDN) to the sender and the receipts table. One per mail, accepted or not.
type MailOutcome struct {
	V           int       `json:"v"`
	MailID      string    `json:"mail_id"`
	Mailbox     string    `json:"mailbox"`
	ReceivedAt  time.Time `json:"received_at"`
	ProcessedAt time.Time `json:"processed_at"`
	// MailSeq is the sequence of the raw mail (MailRaw) in the stream
	// BNDMR_MAIL, so the acknowledgement can quote the original; 0 if unknown.
	MailSeq uint64 `json:"mail_seq,omitempty"`
	// Headers of the original mail the acknowledgement needs.
	MessageID                 string `json:"message_id,omitempty"`
	From                      string `json:"from,omitempty"`
	ReturnPath                string `json:"return_path,omitempty"`
	DispositionNotificationTo string `json:"disposition_notification_to,omitempty"`
	OriginalRecipient         string `json:"original_recipient,omitempty"`
	Subject                   string `json:"subject,omitempty"`
	// AutoSubmitted / report markers: an MDN or DSN is never answered.
	IsReport bool `json:"is_report,omitempty"`
	// OriginalHeader is the raw header block of the original mail; Size its
	// full size. The full original stays in the mail stream under MailID.
	OriginalHeader string `json:"original_header,omitempty"`
	Size           int64  `json:"size"`
	// Rejected is set when the mail as a whole could not be used (unreadable
	// MIME, zip bomb, no CDA…); Documents then may be empty.
	Rejected  *Rejection        `json:"rejected,omitempty"`
	Documents []DocumentOutcome `json:"documents"`
	Warnings  []string          `json:"warnings,omitempty"`
}

// Rejection is a machine code (stable, e.g. "zip_bomb"), the CI-SIS
// acknowledgement code and a sentence for a person.
type Rejection struct {
	Code   string `json:"code"`
	CISIS  int    `json:"cisis_code"`
	Reason string `json:"reason"`
}

// DocumentOutcome is the verdict on one CDA document of a mail.
type DocumentOutcome struct {
	Name          string     `json:"name"` // file name in the XDM (or attachment name)
	SHA1          string     `json:"sha1,omitempty"`
	DocumentID    string     `json:"document_id,omitempty"`
	SetID         string     `json:"set_id,omitempty"`
	VersionNumber int        `json:"version_number,omitempty"`
	EffectiveTime string     `json:"effective_time,omitempty"`
	ModelVersion  string     `json:"model_version,omitempty"`
	FINESS        string     `json:"finess,omitempty"`
	Accepted      bool       `json:"accepted"`
	Rejection     *Rejection `json:"rejection,omitempty"`
	Failures      []Failure  `json:"failures,omitempty"` // failed assertions, for the MDN text
	Warnings      []string   `json:"warnings,omitempty"`
}

// Failure is one failed schematron assertion or XSD error, readable.
type Failure struct {
	Source   string `json:"source"` // "XSD" or the schematron name
	Pattern  string `json:"pattern,omitempty"`
	Location string `json:"location,omitempty"`
	Text     string `json:"text"`
}

// Where says where an assertion comes from and where it failed, as the MDN
// and the reception report both write it: "source : S, règle P ;
// emplacement : L" (empty when neither is known).
func (f Failure) Where() string {
	var where []string
	if f.Source != "" {
		src := f.Source
		if f.Pattern != "" {
			src += ", règle " + f.Pattern
		}
		where = append(where, "source : "+strings.Join(strings.Fields(src), " "))
	}
	if f.Location != "" {
		where = append(where, "emplacement : "+strings.Join(strings.Fields(f.Location), " "))
	}
	return strings.Join(where, " ; ")
}

// Extracted is one accepted SDM-MR document with its identified content.
// Only the pseudonymisation service may read it.
type Extracted struct {
	V          int       `json:"v"`
	MailID     string    `json:"mail_id"`
	DocIndex   int       `json:"doc_index"` // position of the document in the mail
	DocName    string    `json:"doc_name"`
	ReceivedAt time.Time `json:"received_at"`
	// MailSeq is the sequence of the mail in BNDMR_MAIL (0 if unknown), for
	// a replay from the original (the identified document is never kept in
	// the quarantine).
	MailSeq uint64 `json:"mail_seq,omitempty"`
	// MetadataPatientID is the patient id METADATA.XML declared, for cross-checks.
	MetadataPatientID string       `json:"metadata_patient_id,omitempty"`
	Header            sdmmr.Header `json:"header"`
	// Document is the full extraction (header and body); Header repeats its
	// header for consumers that need no more.
	Document *sdmmr.Document `json:"document,omitempty"`
}

// Record is one document after pseudonymisation: no direct identifier, quasi-
// identifiers generalised. This is all that reaches the analytical store.
type Record struct {
	V          int       `json:"v"`
	MailID     string    `json:"mail_id"`
	DocIndex   int       `json:"doc_index"`
	ReceivedAt time.Time `json:"received_at"`
	KeyID      string    `json:"key_id"`
	// DocumentKey is a keyed hash of the document id, scoped to the establishment.
	DocumentKey   string `json:"document_key"`
	SetID         string `json:"set_id"`
	VersionNumber int    `json:"version_number"`
	EffectiveTime string `json:"effective_time"`
	ModelVersion  string `json:"model_version"`
	FINESS        string `json:"finess"`
	// Patient pseudonyms: from the INS when present, from the identity traits.
	PatientINSPseudonym    string `json:"patient_ins_pseudonym,omitempty"`
	PatientTraitsPseudonym string `json:"patient_traits_pseudonym,omitempty"`
	Sex                    string `json:"sex,omitempty"`
	BirthYearMonth         string `json:"birth_year_month,omitempty"` // YYYY-MM
	ResidenceDepartement   string `json:"residence_departement,omitempty"`

	// Opposition is set when the header carries GEN-315 (the patient opposes
	// reuse in the BNDMR warehouse): the record then holds only the fields
	// above that count the transmission (no pseudonym, no clinical content).
	Opposition bool `json:"opposition,omitempty"`
	// Consents are the consent codes of the document (GEN-317, GEN-320…).
	Consents []string `json:"consents,omitempty"`
	// IPPKeys are keyed hashes of the patient's IPPs, scoped to the
	// establishment (a newborn's fetus IPP links to its mother's record).
	IPPKeys               []string `json:"ipp_keys,omitempty"`
	BirthplaceDepartement string   `json:"birthplace_departement,omitempty"`
	Deceased              *bool    `json:"deceased,omitempty"`
	DeathYearMonth        string   `json:"death_year_month,omitempty"` // YYYY-MM
	MultipleBirth         *bool    `json:"multiple_birth,omitempty"`
	// PreviousKeys holds the pseudonyms under the other keys of the keyring
	// while a key rotation runs.
	PreviousKeys []sdmmr.PseudonymSet `json:"previous_keys,omitempty"`

	// Pseudonymised clinical content.
	File             *sdmmr.RecordFile           `json:"file,omitempty"`
	CareEpisodes     []sdmmr.RecordCareEpisode   `json:"care_episodes,omitempty"`
	Activities       []sdmmr.RecordActivity      `json:"activities,omitempty"`
	Diagnoses        []sdmmr.RecordDiagnosis     `json:"diagnoses,omitempty"`
	FamilyHistory    []sdmmr.RecordFamilyHistory `json:"family_history,omitempty"`
	ActiveProblems   []sdmmr.Problem             `json:"active_problems,omitempty"`
	DeathDueToRD     *sdmmr.RecordDeath          `json:"death_due_to_rd,omitempty"`
	Consanguinity    *bool                       `json:"consanguinity,omitempty"`
	FunctionalStatus []sdmmr.FunctionalStatus    `json:"functional_status,omitempty"`
	Antenatal        *sdmmr.Antenatal            `json:"antenatal,omitempty"`
	Pregnancies      []sdmmr.RecordPregnancy     `json:"pregnancies,omitempty"`
	Research         *sdmmr.RecordResearch       `json:"research,omitempty"`
	Treatments       []sdmmr.RecordTreatment     `json:"treatments,omitempty"`
}

// EventVersion returns the schema version the event carries: the stage
// runtime (pkg/stage) refuses a version its handler does not read.
func (e MailRaw) EventVersion() int { return e.V }

// EventVersion: see MailRaw.EventVersion.
func (e MailOutcome) EventVersion() int { return e.V }

// EventVersion: see MailRaw.EventVersion.
func (e Extracted) EventVersion() int { return e.V }

// EventVersion: see MailRaw.EventVersion.
func (e Record) EventVersion() int { return e.V }

// EventVersion: see MailRaw.EventVersion.
func (e Quarantined) EventVersion() int { return e.V }

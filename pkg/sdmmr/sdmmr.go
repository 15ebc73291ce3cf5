// Package sdmmr is the data model of an SDM-MR document as the hub extracts it:
// plain Go values, no XML, so that events and storage can use it without cgo.
//
// Conventions: optional data the document does not carry is absent (empty
// string, nil pointer, empty slice), never invented. Dates are HL7 TS strings
// exactly as written (YYYY[MM[DD[HH[MM[SS]]]]][+ZZZZ]). A coded value keeps its
// code and code system even when it is outside its value set; it is then
// flagged.
package sdmmr

// Document is everything the hub extracts from one SDM-MR document.
type Document struct {
	Header Header `json:"header"`
	Body   Body   `json:"body"`
}

// Header is what the hub needs from the CDA header of an SDM-MR document.
type Header struct {
	DocumentID    string `json:"document_id"`
	SetID         string `json:"set_id"`
	VersionNumber int    `json:"version_number"`
	EffectiveTime string `json:"effective_time"` // HL7 TS as written
	ModelVersion  string `json:"model_version"`  // templateId extension; "2017" when absent
	// Custodian is the "1"+FINESS organisation id; FINESS drops the prefix.
	CustodianID string  `json:"custodian_id"`
	FINESS      string  `json:"finess"`
	Patient     Patient `json:"patient"`

	// CustodianName is the custodian organisation's name (identifying the
	// establishment, not the patient; dropped from the record all the same).
	CustodianName string `json:"custodian_name,omitempty"`
	// Author is the clinician who wrote the document.
	Author *Person `json:"author,omitempty"`
	// Organisations lists every organisation the header names, by role.
	Organisations []Organisation `json:"organisations,omitempty"`
	// ServiceEvent is documentationOf/serviceEvent/code.
	ServiceEvent *Code `json:"service_event,omitempty"`
	// Consents is every authorization/consent/code, plus the 2021/≤2020
	// body observation 64292-6, in document order.
	Consents []Consent `json:"consents,omitempty"`
	// Facility is componentOf/…/healthCareFacility/code.
	Facility *Code `json:"facility,omitempty"`
}

// Person is a health professional: RPPS ("8"+RPPS) or ADELI ("0"+ADELI)
// under 1.2.250.1.71.4.2.1.
type Person struct {
	ID         ID     `json:"id"`
	RPPS       string `json:"rpps,omitempty"`
	ADELI      string `json:"adeli,omitempty"`
	Profession *Code  `json:"profession,omitempty"`
	Name       string `json:"name,omitempty"` // identified: never in a record
}

// Organisation is one organisation of the header. Roles: custodian,
// legal_authenticator, service_event_performer, author, pcp_scoping.
type Organisation struct {
	Role string `json:"role"`
	ID   ID     `json:"id"`
	// FINESS is set for the "1"+FINESS convention under 1.2.250.1.71.4.2.2;
	// RPPS for "8"+RPPS (an organisation identified by a practitioner).
	FINESS string `json:"finess,omitempty"`
	RPPS   string `json:"rpps,omitempty"`
	Name   string `json:"name,omitempty"` // dropped from the record
}

// Consent kinds.
const (
	ConsentOpposition           = "opposition"             // GEN-315: opposes reuse in the BNDMR warehouse
	ConsentNonOpposition        = "non_opposition"         // GEN-317, or 64292-6 (true)
	ConsentNonOppositionRefused = "non_opposition_refused" // 64292-6 with value false
	ConsentERN                  = "ern_registry"           // GEN-320…GEN-343
	ConsentOther                = "other"
)

// Consent is one consent code with its meaning.
type Consent struct {
	Kind string `json:"kind"`
	Code Code   `json:"code"`
	// Source: "header" (authorization/consent) or "body" (2021/≤2020
	// advance-directive observation).
	Source string `json:"source"`
}

// Patient holds the identity traits of the record target. Identified data:
// it never goes past the pseudonymisation service.
type Patient struct {
	INS           string `json:"ins,omitempty"`
	INSRoot       string `json:"ins_root,omitempty"`
	IPP           []ID   `json:"ipp,omitempty"`
	BirthFamily   string `json:"birth_family,omitempty"`
	BirthGiven    string `json:"birth_given,omitempty"`
	Given         string `json:"given,omitempty"`
	Sex           string `json:"sex,omitempty"`
	BirthTime     string `json:"birth_time,omitempty"`
	BirthPlace    string `json:"birth_place,omitempty"` // INSEE commune code
	ResidenceCode string `json:"residence_code,omitempty"`

	// INSC is a legacy INS-C (1.2.250.1.213.1.4.2) when the document also
	// carries one beside the INS-NIR.
	INSC       string `json:"insc,omitempty"`
	UsedFamily string `json:"used_family,omitempty"`
	UsedGiven  string `json:"used_given,omitempty"`
	// Deceased is sdtc:deceasedInd; DeceasedTime sdtc:deceasedTime.
	Deceased     *bool  `json:"deceased,omitempty"`
	DeceasedTime string `json:"deceased_time,omitempty"`
	// MultipleBirth is sdtc:multipleBirthInd, BirthOrder its order number.
	MultipleBirth *bool `json:"multiple_birth,omitempty"`
	BirthOrder    *int  `json:"birth_order,omitempty"`
	// Mother is the informant with relationship MTH (newborn documents).
	Mother *Relative `json:"mother,omitempty"`
}

// Relative is a named relative of the patient (identified).
type Relative struct {
	Relationship string `json:"relationship"` // RoleCode, e.g. MTH
	BirthFamily  string `json:"birth_family,omitempty"`
	BirthGiven   string `json:"birth_given,omitempty"`
}

// ID is an HL7 II.
type ID struct {
	Root      string `json:"root"`
	Extension string `json:"extension,omitempty"`
}

// IsZero reports whether the id is empty.
func (id ID) IsZero() bool { return id.Root == "" && id.Extension == "" }

// Code is an HL7 CD/CE/CV value.
type Code struct {
	Code       string `json:"code,omitempty"`
	System     string `json:"system,omitempty"`
	Display    string `json:"display,omitempty"`
	NullFlavor string `json:"null_flavor,omitempty"`
	// OutOfValueSet is set when the code is not in the value set bound to
	// its field (ValueSet names it) or its code system is not the expected
	// one: the code is kept as sent, flagged.
	OutOfValueSet bool   `json:"out_of_value_set,omitempty"`
	ValueSet      string `json:"value_set,omitempty"`
}

// Quantity is an HL7 PQ.
type Quantity struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

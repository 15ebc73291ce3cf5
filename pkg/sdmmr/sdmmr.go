// Package sdmmr is the data model of an SDM-MR document as the hub extracts it:
// plain Go values, no XML, so that events and storage can use it without cgo.
package sdmmr

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
}

// ID is an HL7 II.
type ID struct {
	Root      string `json:"root"`
	Extension string `json:"extension,omitempty"`
}

// Package xds names the identifiers of an XDM archive's METADATA.XML (an
// XDS ebRIM SubmitObjectsRequest, IHE ITI TF-3 §4.2.5) that the unpacker
// (pkg/mssante) reads and the mail builder (pkg/mailbuild) writes, and the
// codes of an SDM-MR document entry.
package xds

// Classification and identification schemes, and the DocumentEntry object
// type.
const (
	SchemeDocAuthor    = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
	SchemeSetAuthor    = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
	SchemeFormatCode   = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
	SchemeTypeCode     = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
	SchemeClassCode    = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
	SchemeDocPatientID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
	SchemeDocUniqueID  = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
	SchemeSetPatientID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
	SchemeSetUniqueID  = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
	SchemeSetSourceID  = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
	ObjectTypeDocEntry = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
)

// The codes of an SDM-MR document entry.
const (
	FormatCodeSystemOID = "1.2.250.1.213.1.1.4.2.282" // TRE_A06, the CI-SIS formatCode system
	FormatCodeSDMMR     = "urn:asip:ci-sis:sdm-mr:2017"
	TypeCodeSDMMR       = "34133-9"
)

package cdasniff

import (
	"testing"

	"golang.org/x/text/encoding/unicode"
)

const header = `<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <id root="1.2.3" extension="doc-1"/>
  <code code="34133-9" displayName="Synthèse"/>
  <title>  Set de
    données </title>
  <effectiveTime value="20240228143000+0100"/>
  <recordTarget><patientRole>
    <id root="1.2.250.1.213.1.4.10" extension="279035121518989"/>
    <id root="1.2.250.1.71.4.2.7" extension="IPP-9"/>
    <patient><name><given>Léa</given><given>Marie</given><family>DECOURCY</family></name>
      <administrativeGenderCode code="F"/><birthTime value="20240228"/></patient>
  </patientRole></recordTarget>
  <custodian><assignedCustodian><representedCustodianOrganization>
    <id root="1.2.250.1.71.4.2.2" extension="1750000010"/><name>CHU
      Exemple</name>
  </representedCustodianOrganization></assignedCustodian></custodian>
  <component><structuredBody>`

func TestRead(t *testing.T) {
	h, ok := Read([]byte(header + "<broken"))
	if !ok {
		t.Fatal("a CDA broken after its header is not read as a CDA")
	}
	want := Header{Namespace: "urn:hl7-org:v3", ID: ID{Root: "1.2.3", Ext: "doc-1"}, Code: "34133-9", DisplayName: "Synthèse",
		Title: "Set de données", EffectiveTime: "20240228143000+0100",
		PatientIDs: []ID{{Root: "1.2.250.1.213.1.4.10", Ext: "279035121518989"}, {Root: "1.2.250.1.71.4.2.7", Ext: "IPP-9"}},
		Family:     "DECOURCY", Given: "Léa", BirthTime: "20240228", Gender: "F",
		Custodian: ID{Root: "1.2.250.1.71.4.2.2", Ext: "1750000010"}, CustodianName: "CHU Exemple"}
	if h.Namespace != want.Namespace || h.ID != want.ID || h.Code != want.Code || h.DisplayName != want.DisplayName ||
		h.Title != want.Title || h.EffectiveTime != want.EffectiveTime || len(h.PatientIDs) != 2 ||
		h.PatientIDs[0] != want.PatientIDs[0] || h.PatientIDs[1] != want.PatientIDs[1] || h.Family != want.Family ||
		h.Given != want.Given || h.BirthTime != want.BirthTime || h.Gender != want.Gender || h.Custodian != want.Custodian ||
		h.CustodianName != want.CustodianName {
		t.Errorf("read\n%+v\nwant\n%+v", *h, want)
	}
	if ins, ok := h.INS(); !ok || ins != want.PatientIDs[0] {
		t.Errorf("INS = %v, %v; want the test INS-NIR", ins, ok)
	}
	if got := h.PatientIDs[0].XDS(); got != "279035121518989^^^&1.2.250.1.213.1.4.10&ISO" {
		t.Errorf("XDS() = %q", got)
	}

	p, ok := ReadPatient([]byte(header))
	if !ok || p.Family != "DECOURCY" || p.CustodianName != "" {
		t.Errorf("ReadPatient read %+v, %v; want the patient and nothing after recordTarget", p, ok)
	}

	utf16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(header))
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := Read(utf16); !ok || h.Title != "Set de données" {
		t.Errorf("a UTF-16 CDA: %+v, %v", h, ok)
	}

	for _, notCDA := range []string{"", "PK\x03\x04", "<?xml version='1.0'?><lcm:SubmitObjectsRequest/>", "not xml"} {
		if _, ok := Read([]byte(notCDA)); ok {
			t.Errorf("%q read as a CDA", notCDA)
		}
	}
}

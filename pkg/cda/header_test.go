package cda

import (
	"errors"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/xmldoc"
)

func TestModelVersion(t *testing.T) {
	want := map[string]string{ex2017: "2017", ex2021: "2021.01", ex2022: "2022.01", exNewborn: "2024.01", exPregnant: "2024.01", exPost: "2024.01"}
	for name, v := range want {
		got, err := ModelVersion(example(t, name))
		if err != nil || got != v {
			t.Errorf("%s: ModelVersion = %q, %v; want %q", name, got, err, v)
		}
	}
	doc, err := xmldoc.Parse([]byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><templateId root="1.2.250.1.213.1.1.1.1"/></ClinicalDocument>`), xmldoc.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Free()
	if _, err := ModelVersion(doc); !errors.Is(err, ErrNotSDMMR) {
		t.Errorf("not SDM-MR: %v", err)
	}
	if _, err := ExtractHeader(doc); !errors.Is(err, ErrNotSDMMR) {
		t.Errorf("not SDM-MR: %v", err)
	}
}

func bp(b bool) *bool { return &b }
func ip(i int) *int   { return &i }

func TestExtractHeaderNewborn(t *testing.T) {
	h, err := ExtractHeader(example(t, exNewborn))
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, "header", h, &sdmmr.Header{
		DocumentID: "1.2.250.1.213.1.1.1.30.2024.1.1", SetID: "1.2.250.1.213.1.1.1.30.2024.1",
		VersionNumber: 2, EffectiveTime: "20240228160000+0100", ModelVersion: "2024.01",
		CustodianID: "1750803454", FINESS: "750803454",
		CustodianName: "GHU APHP NUP SITE ROBERT DEBRE",
		Patient: sdmmr.Patient{
			INS: "224027511583555", INSRoot: sdmmr.OIDINSNIRTest,
			IPP:         []sdmmr.ID{{Root: "1.2.3.4.567.8.9.10", Extension: "9ec5518caaab70962222"}, {Root: "1.2.3.4.567.8.9.11", Extension: "8ec5518caaab70961082"}},
			BirthFamily: "DECOURCY", BirthGiven: "Léa", Given: "Léa Marie", UsedFamily: "DECOURCY",
			Sex: "F", BirthTime: "20240228", BirthPlace: "75115", ResidenceCode: "75056",
			MultipleBirth: bp(true), BirthOrder: ip(1),
			Mother: &sdmmr.Relative{Relationship: "MTH", BirthFamily: "NESSI", BirthGiven: "Ruth"},
		},
		Author: &sdmmr.Person{ID: sdmmr.ID{Root: OIDPerson, Extension: "801234567897"}, RPPS: "01234567897",
			Profession: &sdmmr.Code{Code: "G15_10", System: "1.2.250.1.213.1.1.4.5", Display: "Médecin"}, Name: "DR Charles BOILEAU"},
		Organisations: []sdmmr.Organisation{
			{Role: "custodian", ID: sdmmr.ID{Root: OIDFINESSOrg, Extension: "1750803454"}, FINESS: "750803454", Name: "GHU APHP NUP SITE ROBERT DEBRE"},
			{Role: "legal_authenticator", ID: sdmmr.ID{Root: OIDFINESSOrg, Extension: "1750803454"}, FINESS: "750803454", Name: "GHU APHP NUP SITE ROBERT DEBRE"},
			{Role: "service_event_performer", ID: sdmmr.ID{Root: OIDFINESSOrg, Extension: "1750803454"}, FINESS: "750803454", Name: "GHU APHP NUP SITE ROBERT DEBRE"},
			{Role: "participant_scoping", ID: sdmmr.ID{Root: OIDFINESSOrg, Extension: "2801234567"}, Name: "Centre de soins le Belvédère"},
		},
		ServiceEvent: &sdmmr.Code{Code: "11429006", System: "2.16.840.1.113883.6.96", Display: "consultation"},
		Consents: []sdmmr.Consent{
			{Kind: sdmmr.ConsentOpposition, Source: "header", Code: sdmmr.Code{Code: "GEN-315", System: OIDTAASIP,
				Display: "Le patient (ou son représentant légal) s'oppose à la réutilisation de ses données dans l’entrepôt de données de santé BNDMR."}},
			{Kind: sdmmr.ConsentERN, Source: "header", Code: sdmmr.Code{Code: "GEN-320", System: OIDTAASIP,
				Display: "Le patient a signé son consentement à la transmission des données au registre ERN EuRREB"}},
		},
		Facility: &sdmmr.Code{Code: "SA01", System: "1.2.250.1.71.4.2.4", Display: "Etablissement public de santé"},
	})
}

// XML that is not a CDA at all says what its root is, and is still "not an
// SDM-MR" for the callers that only ask that.
func TestNotCDA(t *testing.T) {
	cases := []struct{ xml, want string }{
		{`<rs:SubmitObjectsRequest xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"/>`,
			"not a CDA document (root element SubmitObjectsRequest, namespace urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0;"},
		{`<ClinicalDocument/>`, "not a CDA document (root element ClinicalDocument, no namespace;"},
	}
	for _, c := range cases {
		doc, err := xmldoc.Parse([]byte(c.xml), xmldoc.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		_, err1 := ModelVersion(doc)
		_, err2 := ExtractHeader(doc)
		doc.Free()
		for _, err := range []error{err1, err2} {
			var nc *NotCDAError
			if !errors.Is(err, ErrNotSDMMR) || !errors.As(err, &nc) || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("%s: %v, want %q…", c.xml, err, c.want)
			}
		}
	}
}

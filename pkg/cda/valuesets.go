package cda

// Value sets bound to SDM-MR fields, as published in the ANS kit 3.0
// (jeuxDeValeurs/, the sets the 2022.01 and 2024.01 schematrons read). They
// only flag codes, never reject them: the JDVs change in place (the 2025 kit
// rewrote several), so a code outside them is kept and marked. The test
// TestValueSetsMatchKit compares these lists with the kit's files.

type concept struct{ system, code string }

type valueSet struct {
	name, oid, file string
	concepts        []concept
}

func (v *valueSet) has(system, code string) bool {
	for _, c := range v.concepts {
		if c.code == code && c.system == system {
			return true
		}
	}
	return false
}

var (
	vsAge = valueSet{name: "JDV_Age_CISIS", oid: "1.2.250.1.213.1.1.5.43", file: "JDV_Age_CISIS.xml", concepts: []concept{
		{"1.2.250.1.213.1.1.4.322", "MED-1288"},
		{"2.16.840.1.113883.6.96", "255407002"},
		{"2.16.840.1.113883.6.96", "767023003"},
		{"2.16.840.1.113883.6.96", "373068000"},
		{"2.16.840.1.113883.6.96", "303112003"},
		{"2.16.840.1.113883.6.96", "303113008"},
	}}
	vsAppreciationDiagnostic = valueSet{name: "JDV_AppreciationDiagnosticCentre_CISIS", oid: "1.2.250.1.213.1.1.5.44", file: "JDV_AppreciationDiagnosticCentre_CISIS.xml", concepts: []concept{
		{"2.16.840.1.113883.6.96", "2667000"},
		{"2.16.840.1.113883.6.96", "71978007"},
		{"2.16.840.1.113883.6.96", "88323005"},
	}}
	vsCasSporadiqueFamilial = valueSet{name: "JDV_CasSporadiqueFamilial_CISIS", oid: "1.2.250.1.213.1.1.5.46", file: "JDV_CasSporadiqueFamilial_CISIS.xml", concepts: []concept{
		{"2.16.840.1.113883.6.96", "75741005"},
		{"2.16.840.1.113883.6.96", "255401001"},
	}}
	vsMalformationAntenatale = valueSet{name: "JDV_MalformationAntenatale_CISIS", oid: "1.2.250.1.213.1.1.5.49", file: "JDV_MalformationAntenatale_CISIS.xml", concepts: []concept{
		{"2.16.840.1.113883.6.96", "373067005"},
		{"2.16.840.1.113883.6.96", "50607009"},
		{"2.16.840.1.113883.6.96", "255204007"},
	}}
	vsObjectifActivite = valueSet{name: "JDV_ObjectifActivite_CISIS", oid: "1.2.250.1.213.1.1.5.41", file: "JDV_ObjectifActivite_CISIS.xml", concepts: []concept{
		{"1.2.250.1.213.1.1.4.322", "ORG-164"},
		{"1.2.250.1.213.1.1.4.322", "MED-097"},
		{"1.2.250.1.213.1.1.4.322", "MED-098"},
		{"1.2.250.1.213.1.1.4.322", "MED-099"},
		{"1.2.250.1.213.1.1.4.322", "MED-100"},
		{"1.2.250.1.213.1.1.4.322", "ORG-046"},
		{"1.2.250.1.213.1.1.4.322", "ORG-047"},
		{"1.2.250.1.213.1.1.4.322", "ORG-048"},
		{"1.2.250.1.213.1.1.4.322", "ORG-049"},
		{"1.2.250.1.213.1.1.4.322", "ORG-031"},
		{"1.2.250.1.213.1.1.4.322", "ORG-123"},
		{"1.2.250.1.213.1.1.4.322", "MED-1289"},
	}}
	vsStatutActuelDiagnostic = valueSet{name: "JDV_StatutActuelDiagnostic_CISIS", oid: "1.2.250.1.213.1.1.5.45", file: "JDV_StatutActuelDiagnostic_CISIS.xml", concepts: []concept{
		{"2.16.840.1.113883.6.96", "385651009"},
		{"2.16.840.1.113883.6.96", "42425007"},
		{"2.16.840.1.113883.6.96", "255545003"},
		{"2.16.840.1.113883.6.96", "24800002"},
		{"2.16.840.1.113883.6.96", "723511001"},
	}}
	vsPatientAdressePar = valueSet{name: "JDV_PatientAdressePar_CISIS", oid: "1.2.250.1.213.1.1.5.38", file: "JDV_PatientAdressePar_CISIS.xml", concepts: []concept{
		{"1.2.250.1.213.1.1.4.5", "G15_10/C23"},
		{"1.2.250.1.213.1.1.4.5", "G15_10/C72"},
		{"1.2.250.1.213.1.1.4.5", "G15_10/SM54"},
		{"1.2.250.1.213.1.1.4.322", "ORG-019"},
		{"1.2.250.1.213.1.1.4.322", "ORG-020"},
		{"1.2.250.1.213.1.1.4.322", "ORG-021"},
		{"1.2.250.1.213.1.1.4.322", "ORG-022"},
		{"1.2.250.1.213.1.1.4.322", "ORG-023"},
		{"1.2.250.1.213.1.1.4.322", "GEN-092.05.02"},
		{"1.2.250.1.213.1.1.4.322", "ORG-025"},
		{"1.2.250.1.213.1.1.4.322", "ORG-026"},
		{"1.2.250.1.213.1.1.4.322", "ORG-182"},
		{"1.2.250.1.213.1.1.4.322", "ORG-183"},
		{"1.2.250.1.213.1.1.4.322", "GEN-092.05.01"},
	}}
	vsContexteActivite = valueSet{name: "JDV_ContexteActivite_CISIS", oid: "1.2.250.1.213.1.1.5.40", file: "JDV_ContexteActivite_CISIS.xml", concepts: []concept{
		{"1.2.250.1.213.1.1.4.322", "GEN-092.05.04"},
		{"1.2.250.1.213.1.1.4.322", "MED-095"},
		{"1.2.250.1.213.1.1.4.322", "MED-096"},
		{"1.2.250.1.213.3.3.13", "29"},
		{"1.2.250.1.213.1.1.4.322", "ORG-045"},
		{"2.16.840.1.113883.6.96", "11429006"},
		{"1.2.250.1.213.1.1.4.322", "ORG-028"},
		{"1.2.250.1.213.1.1.4.322", "ORG-029"},
		{"1.2.250.1.213.1.1.4.322", "ORG-030"},
		{"1.2.250.1.213.1.1.4.322", "ORG-198"},
		{"1.2.250.1.213.1.1.4.322", "ORG-199"},
	}}
	vsTechniquesDiagnostic = valueSet{name: "JDV_TechniquesDiagnostic_CISIS", oid: "1.2.250.1.213.1.1.5.48", file: "JDV_TechniquesDiagnostic_CISIS.xml", concepts: []concept{
		{"1.2.250.1.213.1.1.4.322", "MED-081"},
		{"1.2.250.1.213.1.1.4.322", "MED-082"},
		{"1.2.250.1.213.1.1.4.322", "MED-083"},
		{"1.2.250.1.213.1.1.4.322", "MED-084"},
		{"1.2.250.1.213.1.1.4.322", "GEN-092.04.17"},
	}}
	vsInvestigationsRealisees = valueSet{name: "JDV_InvestigationsRealisees_CISIS", oid: "1.2.250.1.213.1.1.5.47", file: "JDV_InvestigationsRealisees_CISIS.xml", concepts: []concept{
		{"2.16.840.1.113883.6.96", "58147004"},
		{"2.16.840.1.113883.6.96", "12893009"},
		{"2.16.840.1.113883.6.96", "80534008"},
		{"2.16.840.1.113883.6.96", "363679005"},
		{"2.16.840.1.113883.6.96", "116148004"},
		{"2.16.840.1.113883.6.96", "73735000"},
		{"2.16.840.1.113883.6.96", "12894003"},
		{"2.16.840.1.113883.6.96", "108257001"},
		{"1.2.250.1.213.1.1.4.322", "GEN-092.04.03"},
	}}
	vsProfessionPersonnelActivite = valueSet{name: "JDV_ProfessionPersonnelActivite_CISIS", oid: "1.2.250.1.213.1.1.5.42", file: "JDV_ProfessionPersonnelActivite_CISIS.xml", concepts: []concept{
		{"1.2.250.1.213.1.1.4.5", "G15_10"},
		{"1.2.250.1.213.1.1.4.5", "G15_60"},
		{"1.2.250.1.213.1.1.4.5", "G15_70"},
		{"1.2.250.1.213.1.1.4.5", "G15_91"},
		{"1.2.250.1.213.1.1.4.5", "G15_94"},
		{"1.2.250.1.213.1.1.4.5", "G15_95"},
		{"1.2.250.1.213.1.1.4.5", "G15_96"},
		{"1.2.250.1.213.1.6.1.107", "312"},
		{"1.2.250.1.213.1.6.1.4", "41"},
		{"1.2.250.1.213.1.6.1.107", "326"},
		{"1.2.250.1.213.1.6.1.109", "93"},
		{"1.2.250.1.213.1.6.1.107", "329"},
	}}
	vsIssueGrossesse = valueSet{name: "JDV_IssueGrossesse_CISIS", oid: "1.2.250.1.213.1.1.5.731", file: "JDV_IssueGrossesse_CISIS.xml", concepts: []concept{
		{"2.16.840.1.113883.6.96", "236973005"},
		{"2.16.840.1.113883.6.3", "O01"},
		{"2.16.840.1.113883.6.3", "O00"},
		{"2.16.840.1.113883.6.3", "O03"},
		{"2.16.840.1.113883.6.3", "O04.-0"},
		{"2.16.840.1.113883.6.3", "O04"},
		{"2.16.840.1.113883.6.3", "P95"},
	}}
	vsHealthStatus = valueSet{name: "JDV_HealthStatusCodes_CISIS", oid: "1.2.250.1.213.1.1.4.2.283.1", file: "JDV_HealthStatusCodes_CISIS.xml", concepts: []concept{
		{"2.16.840.1.113883.6.96", "102499006"},
		{"2.16.840.1.113883.6.96", "27624003"},
		{"2.16.840.1.113883.6.96", "271593001"},
		{"2.16.840.1.113883.6.96", "161045001"},
		{"2.16.840.1.113883.6.96", "419620001"},
		{"2.16.840.1.113883.6.96", "21134002"},
		{"2.16.840.1.113883.6.96", "84387000"},
	}}
)

// allValueSets lists every value set above, for the kit comparison test.
var allValueSets = []*valueSet{&vsAge, &vsAppreciationDiagnostic, &vsCasSporadiqueFamilial, &vsMalformationAntenatale, &vsObjectifActivite, &vsStatutActuelDiagnostic, &vsPatientAdressePar, &vsContexteActivite, &vsTechniquesDiagnostic, &vsInvestigationsRealisees, &vsProfessionPersonnelActivite, &vsIssueGrossesse, &vsHealthStatus}

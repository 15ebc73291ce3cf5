package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/sdmmr"
)

// Paris is the time zone the programme's months are counted in.
func Paris() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return loc
}

// EffectiveDate turns an HL7 TS (YYYYMMDD[HHMM[SS]][+ZZZZ]) into the day it
// falls on in Paris. A TS without zone is taken as Paris local time.
func EffectiveDate(ts string, paris *time.Location) (time.Time, error) {
	layouts := []string{"20060102150405-0700", "200601021504-0700", "20060102150405", "200601021504", "2006010215", "20060102"}
	for _, l := range layouts {
		if t, err := time.ParseInLocation(l, ts, paris); err == nil {
			t = t.In(paris)
			return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
		}
	}
	return time.Time{}, fmt.Errorf("effectiveTime %q is not an HL7 date", ts)
}

// PatientKey is the pseudonym that names a patient in the analytical tables:
// the identity-traits pseudonym, which every document has, so that documents
// with and without INS link; the INS pseudonym when traits are missing.
func PatientKey(r *events.Record) string {
	if r.PatientTraitsPseudonym != "" {
		return r.PatientTraitsPseudonym
	}
	return r.PatientINSPseudonym
}

// InsertDocuments writes one batch of records into documents and every
// clinical table, one INSERT per table. Every row is keyed by (set, version,
// rank), so a batch written twice (redelivery after a crash between insert
// and ack) collapses on merge and never changes a distinct count.
func (s *Store) InsertDocuments(ctx context.Context, recs []events.Record) error {
	_, err := s.WriteDocuments(ctx, recs)
	return err
}

// WriteDocuments is InsertDocuments, and returns what the figures count of
// each record, read from the rows written (FileVersion).
func (s *Store) WriteDocuments(ctx context.Context, recs []events.Record) ([]FileVersion, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	b := newDocumentBatch(len(recs))
	vs := make([]FileVersion, len(recs))
	for i := range recs {
		at := b.marks()
		b.add(&recs[i])
		vs[i] = b.fileVersion(at)
	}
	// Children first, then documents: a reader that sees a document sees
	// its content (the loader retries the whole batch on any failure).
	// superseded last: a version leaves the current state only once the
	// version that replaces it is there.
	return vs, s.send(ctx, b.links, b.patients, b.diagnoses, b.activities, b.care, b.family, b.problems, b.functional,
		b.pregnancies, b.births, b.research, b.treatments, b.versions, b.documents, b.superseded)
}

// documentBatch holds the rows of a batch of records, table by table.
type documentBatch struct {
	paris       *time.Location
	documents   *rows[documentRow]
	versions    *rows[versionRow]
	superseded  *rows[supersededRow]
	links       *rows[linkRow]
	patients    *rows[patientRow]
	diagnoses   *rows[diagnosisRow]
	activities  *rows[activityRow]
	care        *rows[careEpisodeRow]
	family      *rows[familyHistoryRow]
	problems    *rows[activeProblemRow]
	functional  *rows[functionalStatusRow]
	pregnancies *rows[pregnancyRow]
	births      *rows[birthRow]
	research    *rows[researchRow]
	treatments  *rows[treatmentRow]
}

// newDocumentBatch makes the rows of n records: one document, version and
// patient row each, and room for about one diagnosis and care episode.
func newDocumentBatch(n int) *documentBatch {
	return &documentBatch{paris: Paris(),
		documents: newRows(insertDocuments).sized(n), versions: newRows(insertVersions).sized(n),
		superseded: newRows(insertSuperseded).sized(n), links: newRows(insertLinks),
		patients: newRows(insertPatients).sized(n), diagnoses: newRows(insertDiagnoses).sized(n), activities: newRows(insertActivities),
		care: newRows(insertCareEpisodes).sized(n), family: newRows(insertFamilyHistory), problems: newRows(insertActiveProblems),
		functional: newRows(insertFunctional), pregnancies: newRows(insertPregnancies), births: newRows(insertBirths),
		research: newRows(insertResearch), treatments: newRows(insertTreatments)}
}

// add adds the rows of one record: its links when it comes from a key
// rotation, its document and version, and, unless the patient objects,
// its clinical content.
func (b *documentBatch) add(rec *events.Record) {
	sr, links := stable(rec)
	r := &sr
	for _, l := range links {
		b.links.add(l)
	}
	day, err := EffectiveDate(r.EffectiveTime, b.paris)
	if err != nil {
		day = r.ReceivedAt.In(b.paris)
		day = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	}
	pk := PatientKey(r)
	if r.Opposition {
		pk = ""
	}
	doc := documentRowOf(r, day, pk)
	b.documents.add(doc)
	var created time.Time
	if c := doc.FileCreatedYM; len(c) == 7 {
		created, _ = time.Parse("2006-01", c)
	}
	b.versions.add(versionRow{FINESS: r.FINESS, SetID: r.SetID, VersionNumber: doc.VersionNumber, Source: "document",
		EffectiveDate: day, Accepted: 1, Created: dateOrZero(created)})
	for _, sr := range supersededBy(doc.VersionNumber) {
		sr.FINESS, sr.SetID = r.FINESS, r.SetID
		b.superseded.add(sr)
	}
	if r.Opposition {
		return // counted for transmission, no content loaded
	}
	b.addClinical(r, clinicalKey{FINESS: r.FINESS, SetID: r.SetID, VersionNumber: doc.VersionNumber, EffectiveDate: day, PatientKey: pk})
}

// documentRowOf is the documents row of a record, on day, for patient pk.
func documentRowOf(r *events.Record, day time.Time, pk string) documentRow {
	d := documentRow{FINESS: r.FINESS, SetID: r.SetID, VersionNumber: uint32(r.VersionNumber), DocumentKey: r.DocumentKey,
		ModelVersion: r.ModelVersion, EffectiveTime: r.EffectiveTime, EffectiveDate: day, MailID: r.MailID,
		DocIndex: uint16(r.DocIndex), ReceivedAt: r.ReceivedAt.UTC(), KeyID: r.KeyID, PatientKey: pk,
		PatientINSPseudonym: r.PatientINSPseudonym, PatientTraitsPseudonym: r.PatientTraitsPseudonym, Sex: r.Sex,
		BirthYearMonth: r.BirthYearMonth, ResidenceDepartement: r.ResidenceDepartement, Opposition: boolU8(r.Opposition),
		ORPHACodes: orphaCodes(r), Consents: strs(r.Consents), Consanguinity: u8p(r.Consanguinity)}
	if f := r.File; f != nil {
		d.FileKey, d.FileCreatedYM, d.FileUpdatedYM, d.LostToFollowUp = f.Key, ym(f.Created), ym(f.Updated), u8p(f.LostToFollowUp)
	}
	if x := r.DeathDueToRD; x != nil {
		d.DeathRDCode, d.DeathRDYearMonth = code(x.Disease), x.YearMonth
	}
	if a := r.Antenatal; a != nil {
		d.AntenatalART, d.AntenatalMalformation = u8p(a.ART), code(a.Malformation)
		d.GestationalAgeWeeks, d.BirthWeightG = weeks(a.GestationalAge), grams(a.BirthWeight)
		d.BirthLengthCM, d.HeadCircumferenceCM = centimetres(a.BirthLength), centimetres(a.HeadCircumference)
	}
	return d
}

// addClinical adds the clinical rows of a record, each under key.
func (b *documentBatch) addClinical(r *events.Record, key clinicalKey) {
	b.patients.add(patientRow{clinicalKey: key, INSPseudonym: r.PatientINSPseudonym, TraitsPseudonym: r.PatientTraitsPseudonym,
		Sex: r.Sex, BirthYearMonth: r.BirthYearMonth, ResidenceDepartement: r.ResidenceDepartement,
		BirthplaceDepartement: r.BirthplaceDepartement, Deceased: u8p(r.Deceased), DeathYearMonth: r.DeathYearMonth,
		MultipleBirth: u8p(r.MultipleBirth), IPPKeys: strs(r.IPPKeys)})
	for j, d := range r.Diagnoses {
		b.diagnoses.add(diagnosisRowOf(key, j, d))
	}
	for j, a := range r.Activities {
		b.activities.add(activityRow{clinicalKey: key, Ordinal: uint16(j), Key: a.Key, ContextCode: code(a.Context),
			YM: ym(a.Date), PerformerID: idText(a.Performer), PerformerProfession: code(a.PerformerProfession),
			DeclaringSiteCode: a.DeclaringSiteCode, ConsultationFINESS: a.ConsultationFINESS,
			ConsultationDepartement: a.ConsultationDepartement, CountryCode: code(a.Country),
			Objectives: codes(a.Objectives), FetusPseudonym: subject(a.Fetus)})
	}
	for j, c := range r.CareEpisodes {
		b.care.add(careEpisodeRow{clinicalKey: key, Ordinal: uint16(j), Key: c.Key, TypeCode: code(c.Type),
			InclusionYM: ym(c.InclusionDate), ReferentID: idText(c.Referent), ReferredBy: codes(c.ReferredBy),
			SiteCode: c.SiteCode, OutsideLabelling: u8p(c.OutsideLabelling)})
	}
	for j, f := range r.FamilyHistory {
		b.family.add(familyHistoryRow{clinicalKey: key, Ordinal: uint16(j), RelationshipCode: code(f.Relationship),
			FirstCaseKey: f.FirstCaseKey, FirstCaseSex: f.FirstCaseSex, Diseases: codes(f.Diseases)})
	}
	for j, p := range r.ActiveProblems {
		row := activeProblemRow{clinicalKey: key, Ordinal: uint16(j), ProblemCode: code(p.Code), YM: ym(p.Date),
			HealthStatusCode: code(p.HealthStatus), CertaintyCode: code(p.Certainty), StatusCode: code(p.Status)}
		if p.Value != nil {
			row.ValueCode, row.ValueSystem = p.Value.Code, systemName(p.Value.System)
		}
		b.problems.add(row)
	}
	for j, f := range r.FunctionalStatus {
		b.functional.add(functionalStatusRow{clinicalKey: key, Ordinal: uint16(j), ICFCode: code(f.Code), StatusYM: ym(f.Date)})
	}
	for j, p := range r.Pregnancies {
		b.addPregnancy(key, j, p)
	}
	if x := r.Research; x != nil {
		b.research.add(researchRow{clinicalKey: key, ProtocolParticipant: u8p(x.ProtocolParticipant),
			ContactConsent: u8p(x.ContactConsent), SampleResearch: u8p(x.SampleResearch),
			SampleMolecular: u8p(x.SampleMolecular), BiobankCode: code(x.Biobank)})
	}
	for j, t := range r.Treatments {
		row := treatmentRow{clinicalKey: key, Ordinal: uint16(j), StartYM: ym(t.Start), EndYM: ym(t.End),
			Translations: codes(t.Translations)}
		if t.Product != nil {
			row.ProductCode, row.ProductSystem = t.Product.Code, systemName(t.Product.System)
		}
		b.treatments.add(row)
	}
}

// diagnosisRowOf is the diagnoses row of a record's diagnosis j.
func diagnosisRowOf(key clinicalKey, j int, d sdmmr.RecordDiagnosis) diagnosisRow {
	row := diagnosisRow{clinicalKey: key, Ordinal: uint16(j), Key: d.Key, YM: ym(d.Date), DateUnknown: boolU8(d.DateUnknown),
		SiteCode: d.SiteCode, StatusCode: code(d.Status), SporadicFamilialCode: code(d.SporadicFamilial),
		OnsetAgeClassCode: code(d.OnsetAgeClass), OnsetAgeYears: years(d.OnsetAge), AppraisalCode: code(d.AppraisalOnEntry),
		ClinicalDxAgeClassCode: code(d.ClinicalDiagnosisAgeClass), ClinicalDxAgeYears: years(d.ClinicalDiagnosisAge),
		GeneticDxAgeClassCode: code(d.GeneticDiagnosisAgeClass), GeneticDxAgeYears: years(d.GeneticDiagnosisAge),
		ClinicalFeatures: codes(d.ClinicalFeatures), Techniques: codes(d.Techniques), Genes: codes(d.Genes),
		Investigations: codes(d.Investigations), ApparentlyHealthy: u8p(d.ApparentlyHealthy), FetusPseudonym: subject(d.Fetus)}
	if d.Disease != nil {
		row.DiseaseCode, row.DiseaseSystem, row.DiseaseNullFlavor = d.Disease.Code, systemName(d.Disease.System), d.Disease.NullFlavor
	}
	return row
}

// addPregnancy adds a record's pregnancy j and its births.
func (b *documentBatch) addPregnancy(key clinicalKey, j int, p sdmmr.RecordPregnancy) {
	var fc *int32
	if p.FetusCount != nil {
		n := int32(*p.FetusCount)
		fc = &n
	}
	b.pregnancies.add(pregnancyRow{clinicalKey: key, Ordinal: uint16(j), StartYearMonth: p.StartYearMonth,
		EndYearMonth: p.EndYearMonth, Ongoing: boolU8(p.Ongoing), FetusCount: fc, ART: u8p(p.ART)})
	for k, birth := range p.Births {
		row := birthRow{clinicalKey: key, PregnancyOrdinal: uint16(j), Ordinal: uint16(k), Sequence: int32(birth.Sequence),
			OutcomeCode: code(birth.Outcome), GestationalAgeWeeks: weeks(birth.GestationalAge), FetalAutopsy: u8p(birth.FetalAutopsy)}
		if x := birth.Subject; x != nil {
			row.SubjectPseudonym, row.NewbornPseudonym, row.Sex = x.Pseudonym, x.NewbornPseudonym, x.Sex
		}
		b.births.add(row)
	}
}

// orphaCodes lists the distinct ORPHA codes of a record's diagnoses (none
// under opposition: no clinical content).
func orphaCodes(r *events.Record) []string {
	out := []string{}
	if r.Opposition {
		return out
	}
	seen := map[string]bool{}
	for _, d := range r.Diagnoses {
		if d.Disease != nil && d.Disease.Code != "" && systemName(d.Disease.System) == "ORPHA" && !seen[d.Disease.Code] {
			seen[d.Disease.Code] = true
			out = append(out, d.Disease.Code)
		}
	}
	return out
}

// dateOrZero maps the zero time to ClickHouse's zero Date (unknown).
func dateOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t
}

// Code systems analysts know by name.
var systemNames = map[string]string{
	"1.2.250.1.213.2.49": "ORPHA", "1.2.250.1.213.2.49.1": "ORPHA", "1.2.250.1.213.2.49.2": "ORPHA",
	"2.16.840.1.113883.6.3": "CIM-10", "1.2.250.1.213.2.51": "HPO", "1.2.250.1.213.2.61": "SITE-MR",
}

func systemName(oid string) string {
	if n, ok := systemNames[oid]; ok {
		return n
	}
	return oid
}

func code(c *sdmmr.Code) string {
	if c == nil {
		return ""
	}
	if c.Code == "" && c.NullFlavor != "" {
		return "NF:" + c.NullFlavor
	}
	return c.Code
}

func codes(cs []sdmmr.Code) []string {
	out := make([]string, 0, len(cs))
	for i := range cs {
		out = append(out, code(&cs[i]))
	}
	return out
}

func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func idText(id *sdmmr.ID) string {
	if id == nil {
		return ""
	}
	return id.Extension
}

func subject(s *sdmmr.RecordSubject) string {
	if s == nil {
		return ""
	}
	return s.Pseudonym
}

func u8p(b *bool) *uint8 {
	if b == nil {
		return nil
	}
	v := boolU8(*b)
	return &v
}

func boolU8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// years converts an age quantity (UCUM a, mo, wk, d, h) into years.
func years(q *sdmmr.Quantity) *float64 {
	if q == nil {
		return nil
	}
	per := map[string]float64{"a": 1, "ann": 1, "mo": 12, "wk": 52.1775, "d": 365.25, "h": 8766}[strings.ToLower(q.Unit)]
	if per == 0 {
		return nil
	}
	v := q.Value / per
	return &v
}

func weeks(q *sdmmr.Quantity) *float64 {
	if q == nil {
		return nil
	}
	per := map[string]float64{"wk": 1, "d": 7}[strings.ToLower(q.Unit)]
	if per == 0 {
		return nil
	}
	v := q.Value / per
	return &v
}

func grams(q *sdmmr.Quantity) *float64 {
	if q == nil {
		return nil
	}
	f := map[string]float64{"g": 1, "kg": 1000}[strings.ToLower(q.Unit)]
	if f == 0 {
		return nil
	}
	v := q.Value * f
	return &v
}

func centimetres(q *sdmmr.Quantity) *float64 {
	if q == nil {
		return nil
	}
	f := map[string]float64{"cm": 1, "mm": 0.1, "m": 100}[strings.ToLower(q.Unit)]
	if f == 0 {
		return nil
	}
	v := q.Value * f
	return &v
}

// ym generalises an HL7 TS to its year-month (AAAA-MM; AAAA when only the
// year is known): an exact day can date a person.
func ym(ts string) string {
	switch {
	case len(ts) >= 6:
		return ts[:4] + "-" + ts[4:6]
	case len(ts) >= 4:
		return ts[:4]
	}
	return ""
}

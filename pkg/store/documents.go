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

// table is one INSERT being built: its registered statement and rows.
type table struct {
	stmt Statement
	rows [][]any
}

func (t *table) add(vals ...any) { t.rows = append(t.rows, vals) }

func (s *Store) send(ctx context.Context, tables ...*table) error {
	for _, t := range tables {
		if len(t.rows) == 0 {
			continue
		}
		name, _, _ := InsertTable(t.stmt)
		b, err := s.conn.PrepareBatch(ctx, t.stmt.SQL)
		if err != nil {
			return fmt.Errorf("preparing the insert into %s: %w", name, err)
		}
		for _, r := range t.rows {
			if err := b.Append(r...); err != nil {
				_ = b.Abort()
				return fmt.Errorf("adding a row to %s: %w", name, err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("inserting %d rows into %s: %w", len(t.rows), name, err)
		}
	}
	return nil
}

// InsertDocuments writes one batch of records into documents and every
// clinical table, one INSERT per table. Every row is keyed by (set, version,
// rank), so a batch written twice (redelivery after a crash between insert
// and ack) collapses on merge and never changes a distinct count.
func (s *Store) InsertDocuments(ctx context.Context, recs []events.Record) error {
	if len(recs) == 0 {
		return nil
	}
	paris := Paris()
	docs, pats, dx := &table{stmt: insertDocuments}, &table{stmt: insertPatients}, &table{stmt: insertDiagnoses}
	act, care, fam := &table{stmt: insertActivities}, &table{stmt: insertCareEpisodes}, &table{stmt: insertFamilyHistory}
	prob, fs, preg := &table{stmt: insertActiveProblems}, &table{stmt: insertFunctional}, &table{stmt: insertPregnancies}
	births, res, trt := &table{stmt: insertBirths}, &table{stmt: insertResearch}, &table{stmt: insertTreatments}

	vers, links := &table{stmt: insertVersions}, &table{stmt: insertLinks}
	for i := range recs {
		sr, ln := stable(&recs[i])
		r := &sr
		links.rows = append(links.rows, ln...)
		day, err := EffectiveDate(r.EffectiveTime, paris)
		if err != nil {
			day = r.ReceivedAt.In(paris)
			day = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
		}
		pk := PatientKey(r)
		if r.Opposition {
			pk = ""
		}
		v := uint32(r.VersionNumber)
		var fileKey, fileCreated, fileUpdated string
		var lost *uint8
		if r.File != nil {
			fileKey, fileCreated, fileUpdated, lost = r.File.Key, ym(r.File.Created), ym(r.File.Updated), u8p(r.File.LostToFollowUp)
		}
		var deathCode, deathYM string
		if r.DeathDueToRD != nil {
			deathCode, deathYM = code(r.DeathDueToRD.Disease), r.DeathDueToRD.YearMonth
		}
		var art *uint8
		var malf string
		var ga, bw, bl, hc *float64
		if a := r.Antenatal; a != nil {
			art, malf = u8p(a.ART), code(a.Malformation)
			ga, bw, bl, hc = weeks(a.GestationalAge), grams(a.BirthWeight), centimetres(a.BirthLength), centimetres(a.HeadCircumference)
		}
		docs.add(r.FINESS, r.SetID, v, r.DocumentKey, r.ModelVersion, r.EffectiveTime, day, r.MailID, uint16(r.DocIndex),
			r.ReceivedAt.UTC(), r.KeyID, pk, r.PatientINSPseudonym, r.PatientTraitsPseudonym, r.Sex, r.BirthYearMonth,
			r.ResidenceDepartement, boolU8(r.Opposition), orphaCodes(r), strs(r.Consents), fileKey, fileCreated, fileUpdated, lost,
			u8p(r.Consanguinity), deathCode, deathYM, art, malf, ga, bw, bl, hc)
		var created time.Time
		if c := fileCreated; len(c) == 7 {
			created, _ = time.Parse("2006-01", c)
		}
		vers.add(r.FINESS, r.SetID, v, "document", day, uint8(1), dateOrZero(created))
		if r.Opposition {
			continue // counted for transmission, no content loaded
		}
		pre := func(vals ...any) []any { return append([]any{r.FINESS, r.SetID, v, day, pk}, vals...) }
		pats.add(pre(r.PatientINSPseudonym, r.PatientTraitsPseudonym, r.Sex, r.BirthYearMonth, r.ResidenceDepartement,
			r.BirthplaceDepartement, u8p(r.Deceased), r.DeathYearMonth, u8p(r.MultipleBirth), strs(r.IPPKeys))...)
		for j, d := range r.Diagnoses {
			var dcode, dsys, dnull string
			if d.Disease != nil {
				dcode, dsys, dnull = d.Disease.Code, systemName(d.Disease.System), d.Disease.NullFlavor
			}
			dx.add(pre(uint16(j), d.Key, ym(d.Date), boolU8(d.DateUnknown), dcode, dsys, dnull, d.SiteCode, code(d.Status),
				code(d.SporadicFamilial), code(d.OnsetAgeClass), years(d.OnsetAge), code(d.AppraisalOnEntry),
				code(d.ClinicalDiagnosisAgeClass), years(d.ClinicalDiagnosisAge), code(d.GeneticDiagnosisAgeClass),
				years(d.GeneticDiagnosisAge), codes(d.ClinicalFeatures), codes(d.Techniques), codes(d.Genes),
				codes(d.Investigations), u8p(d.ApparentlyHealthy), subject(d.Fetus))...)
		}
		for j, a := range r.Activities {
			act.add(pre(uint16(j), a.Key, code(a.Context), ym(a.Date), idText(a.Performer), code(a.PerformerProfession),
				a.DeclaringSiteCode, a.ConsultationFINESS, a.ConsultationDepartement, code(a.Country), codes(a.Objectives),
				subject(a.Fetus))...)
		}
		for j, c := range r.CareEpisodes {
			care.add(pre(uint16(j), c.Key, code(c.Type), ym(c.InclusionDate), idText(c.Referent), codes(c.ReferredBy),
				c.SiteCode, u8p(c.OutsideLabelling))...)
		}
		for j, f := range r.FamilyHistory {
			fam.add(pre(uint16(j), code(f.Relationship), f.FirstCaseKey, f.FirstCaseSex, codes(f.Diseases))...)
		}
		for j, p := range r.ActiveProblems {
			var vc, vs string
			if p.Value != nil {
				vc, vs = p.Value.Code, systemName(p.Value.System)
			}
			prob.add(pre(uint16(j), code(p.Code), vc, vs, ym(p.Date), code(p.HealthStatus), code(p.Certainty), code(p.Status))...)
		}
		for j, f := range r.FunctionalStatus {
			fs.add(pre(uint16(j), code(f.Code), ym(f.Date))...)
		}
		for j, p := range r.Pregnancies {
			var fc *int32
			if p.FetusCount != nil {
				n := int32(*p.FetusCount)
				fc = &n
			}
			preg.add(pre(uint16(j), p.StartYearMonth, p.EndYearMonth, boolU8(p.Ongoing), fc, u8p(p.ART))...)
			for k, b := range p.Births {
				var sp, np, sex string
				if b.Subject != nil {
					sp, np, sex = b.Subject.Pseudonym, b.Subject.NewbornPseudonym, b.Subject.Sex
				}
				births.add(pre(uint16(j), uint16(k), int32(b.Sequence), sp, np, sex, code(b.Outcome),
					weeks(b.GestationalAge), u8p(b.FetalAutopsy))...)
			}
		}
		if x := r.Research; x != nil {
			res.add(pre(u8p(x.ProtocolParticipant), u8p(x.ContactConsent), u8p(x.SampleResearch), u8p(x.SampleMolecular), code(x.Biobank))...)
		}
		for j, t := range r.Treatments {
			var pc, ps string
			if t.Product != nil {
				pc, ps = t.Product.Code, systemName(t.Product.System)
			}
			trt.add(pre(uint16(j), ym(t.Start), ym(t.End), pc, ps, codes(t.Translations))...)
		}
	}
	// Children first, documents last: a reader that sees a document sees
	// its content (the loader retries the whole batch on any failure).
	return s.send(ctx, links, pats, dx, act, care, fam, prob, fs, preg, births, res, trt, vers, docs)
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

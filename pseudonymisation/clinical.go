package pseudonymisation

import (
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/sdmmr"
)

// clinical copies the body into the record, field by field: a field is
// carried only when it is named here, so a field added to the extraction
// later stays out of the record until someone decides it may go in.
func clinical(r *events.Record, b *sdmmr.Body, k keyed) {
	if f := b.File; f != nil {
		r.File = &sdmmr.RecordFile{Key: k.local("file", f.ID), Created: f.Created, Updated: f.Updated, LostToFollowUp: f.LostToFollowUp}
	}
	for _, c := range b.CareEpisodes {
		e := sdmmr.RecordCareEpisode{
			Key: k.local("care-episode", c.ID), Type: c.Type, InclusionDate: c.InclusionDate,
			Referent: c.Referent, ReferredBy: c.ReferredBy, OutsideLabelling: c.OutsideLabelling,
		}
		if c.Site != nil {
			e.SiteCode = c.Site.Code
		}
		r.CareEpisodes = append(r.CareEpisodes, e)
	}
	for _, a := range b.Activities {
		ra := sdmmr.RecordActivity{
			Key: k.local("activity", a.ID), Context: a.Context, Date: a.Date,
			Performer: a.Performer, PerformerProfession: a.PerformerProfession,
			ConsultationFINESS: a.ConsultationFINESS, ConsultationDepartement: departement(a.ConsultationCommune),
			Country: a.Country, Objectives: a.Objectives, Fetus: subject(a.Fetus, k),
		}
		if a.DeclaringSite != nil {
			ra.DeclaringSiteCode = a.DeclaringSite.Code
		}
		r.Activities = append(r.Activities, ra)
	}
	for _, d := range b.Diagnoses {
		r.Diagnoses = append(r.Diagnoses, diagnosis(d, k))
	}
	for _, f := range b.FamilyHistory {
		rf := sdmmr.RecordFamilyHistory{Relationship: f.Relationship, FirstCaseSex: f.FirstCaseSex, Diseases: f.Diseases}
		if f.FirstCaseID != nil {
			// The first case is identified in the establishment like any
			// patient: hashed as an IPP, it links to that relative's own
			// records (their ipp_keys).
			rf.FirstCaseKey = k.local("ipp", *f.FirstCaseID)
		}
		r.FamilyHistory = append(r.FamilyHistory, rf)
	}
	r.ActiveProblems = b.ActiveProblems
	if d := b.DeathDueToRD; d != nil {
		r.DeathDueToRD = &sdmmr.RecordDeath{Disease: d.Disease, YearMonth: yearMonth(d.Date)}
	}
	r.Consanguinity = b.Consanguinity
	r.FunctionalStatus = b.FunctionalStatus
	r.Antenatal = b.Antenatal
	for _, pg := range b.Pregnancies {
		r.Pregnancies = append(r.Pregnancies, pregnancy(pg, k))
	}
	if rs := b.Research; rs != nil {
		r.Research = &sdmmr.RecordResearch{
			ProtocolParticipant: rs.ProtocolParticipant, ContactConsent: rs.ContactConsent,
			SampleResearch: rs.SampleResearch, SampleMolecular: rs.SampleMolecular, Biobank: rs.Biobank,
		}
	}
	for _, t := range b.Treatments {
		r.Treatments = append(r.Treatments, sdmmr.RecordTreatment{Start: t.Start, End: t.End, Product: t.Product, Translations: t.Translations})
	}
}

// diagnosis is a diagnosis as the record carries it: its fetus
// pseudonymised, its site by code.
func diagnosis(d sdmmr.Diagnosis, k keyed) sdmmr.RecordDiagnosis {
	rd := sdmmr.RecordDiagnosis{
		Key: k.local("diagnosis", d.ID), Date: d.Date, DateUnknown: d.DateUnknown, Disease: d.Disease,
		Fetus: subject(d.Fetus, k), Status: d.Status, ClinicalFeatures: d.ClinicalFeatures,
		SporadicFamilial: d.SporadicFamilial, OnsetAgeClass: d.OnsetAgeClass, OnsetAge: d.OnsetAge,
		AppraisalOnEntry:          d.AppraisalOnEntry,
		ClinicalDiagnosisAgeClass: d.ClinicalDiagnosisAgeClass, ClinicalDiagnosisAge: d.ClinicalDiagnosisAge,
		GeneticDiagnosisAgeClass: d.GeneticDiagnosisAgeClass, GeneticDiagnosisAge: d.GeneticDiagnosisAge,
		Techniques: d.Techniques, Genes: d.Genes, Investigations: d.Investigations,
		ApparentlyHealthy: d.ApparentlyHealthy,
	}
	if d.Site != nil {
		rd.SiteCode = d.Site.Code
	}
	return rd
}

// pregnancy is a pregnancy as the record carries it: dates to the month,
// the newborns pseudonymised.
func pregnancy(pg sdmmr.Pregnancy, k keyed) sdmmr.RecordPregnancy {
	rp := sdmmr.RecordPregnancy{
		StartYearMonth: yearMonth(pg.Start), EndYearMonth: yearMonth(pg.End), Ongoing: pg.Ongoing,
		FetusCount: pg.FetusCount, ART: pg.ART,
	}
	for _, bi := range pg.Births {
		rp.Births = append(rp.Births, sdmmr.RecordBirth{
			Sequence: bi.Sequence, Subject: subject(bi.Subject, k), Outcome: bi.Outcome,
			GestationalAge: bi.GestationalAge, FetalAutopsy: bi.FetalAutopsy,
		})
	}
	return rp
}

// subject pseudonymises a fetus or newborn. Its pseudonym is the keyed hash
// of its local id in the "ipp" domain: the very IPP key that the newborn's
// own documents carry for that id. A newborn id under an INS root gets the
// INS pseudonym, again equal to the newborn's own patient_ins_pseudonym.
func subject(s *sdmmr.Subject, k keyed) *sdmmr.RecordSubject {
	if s == nil {
		return nil
	}
	rs := &sdmmr.RecordSubject{
		Pseudonym: k.local("ipp", s.ID), Relationship: s.Relationship, Sex: normaliseSex(s.Sex),
		BirthYearMonth: yearMonth(s.BirthTime), MultipleBirth: s.MultipleBirth, BirthOrder: s.BirthOrder,
	}
	if n := s.NewbornID; n != nil {
		if ins := k.ins(n.Root, n.Extension); ins != "" {
			rs.NewbornPseudonym = ins
		} else {
			rs.NewbornPseudonym = k.local("ipp", *n)
		}
	}
	return rs
}

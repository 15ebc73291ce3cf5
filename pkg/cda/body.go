package cda

import (
	"strconv"

	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/lestrrat-go/libxml2/types"
)

// Code systems and templates the body reader relies on.
const (
	oidSiteMR      = "1.2.250.1.213.2.61" // rare-disease site codes
	oidORPHA       = "1.2.250.1.213.2.49"
	oidORPHADis    = "1.2.250.1.213.2.49.1"
	oidORPHAGroups = "1.2.250.1.213.2.49.2"
	oidICD10       = "2.16.840.1.113883.6.3"
	oidHPO         = "1.2.250.1.213.2.51"
	oidHGNC        = "2.16.840.1.113883.4.642.2.468"
	oidHGNCAlt     = "2.16.840.1.113883.6.281"
	oidICF         = "2.16.840.1.113883.6.254"

	tplProblem     = "1.2.250.1.213.1.1.3.37"        // FR-Probleme
	tplProblemIHE  = "1.3.6.1.4.1.19376.1.5.3.1.4.5" // IHE Problem Entry
	tplProblemCCD  = "2.16.840.1.113883.10.20.1.28"  // CCD problem observation
	tplComment     = "1.2.250.1.213.1.1.3.32"        // FR-Commentaire-ER
	tplPregnancy   = "1.2.250.1.213.1.1.3.55"        // FR-Grossesse
	tplBirth       = "1.2.250.1.213.1.1.3.56"        // FR-Naissance
	tplFamilyOrg   = "1.2.250.1.213.1.1.3.59"        // FR-Antecedent-familial organizer
	tplHealthState = "1.2.250.1.213.1.1.3.31"        // FR-Statut-clinique
)

// Extract reads the header and body of an SDM-MR document of any model
// version (2017 v2.x, 2021.01, 2022.01, 2024.01, and later ones shaped like
// 2024.01) from the tree validation parsed.
func Extract(doc types.Document) (*sdmmr.Document, error) {
	t, err := snapshot(doc)
	if err != nil {
		return nil, err
	}
	h, err := t.header()
	if err != nil {
		return nil, err
	}
	d := &sdmmr.Document{Header: *h}
	r := bodyReader{t: t, checkVS: h.ModelVersion != "2017" && h.ModelVersion != "2021.01"}
	r.read(&d.Body, &d.Header)
	return d, nil
}

// bodyReader reads the structured body. checkVS is false for the models
// whose value sets used other terminologies (SNOMED 3.5): the kit-3.0 sets
// would flag every code.
type bodyReader struct {
	t       *tree
	checkVS bool
}

func (r *bodyReader) read(b *sdmmr.Body, h *sdmmr.Header) {
	sb := r.t.root.path("component", "structuredBody")
	for _, comp := range sb.children("component") {
		sec := comp.child("section")
		if sec == nil {
			continue
		}
		switch sectionKind(sec) {
		case "file":
			r.file(b, sec)
		case "family":
			r.family(b, sec)
		case "problems":
			r.problems(b, sec)
		case "functional":
			r.functional(b, sec)
		case "careplan":
			r.careEpisodes(b, sec)
		case "activities":
			r.activities(b, sec)
		case "diagnoses":
			r.diagnoses(b, sec)
		case "antenatal":
			r.antenatal(b, sec)
		case "pregnancies":
			r.pregnancies(b, sec)
		case "research":
			r.research(b, sec)
		case "treatments":
			r.treatments(b, sec)
		case "directives":
			r.directives(h, sec)
		}
	}
}

// sectionKind names a body section from its code (stable across every
// model version), falling back on its FR templateId.
func sectionKind(sec *node) string {
	switch sec.child("code").attr("code") {
	case "GEN-168":
		return "file"
	case "10157-6":
		return "family"
	case "11450-4":
		return "problems"
	case "47420-5":
		return "functional"
	case "18776-5":
		return "careplan"
	case "46240-8":
		return "activities"
	case "46241-6":
		return "diagnoses"
	case "57075-4":
		return "antenatal"
	case "10162-6":
		return "pregnancies"
	case "GEN-369", "30954-2":
		return "research"
	case "10160-0":
		return "treatments"
	case "42348-3":
		return "directives"
	}
	switch {
	case sec.hasTemplate("1.2.250.1.213.1.1.2.66"):
		return "file"
	case sec.hasTemplate("1.2.250.1.213.1.1.2.139"):
		return "family"
	case sec.hasTemplate("1.2.250.1.213.1.1.2.132"):
		return "problems"
	case sec.hasTemplate("1.2.250.1.213.1.1.2.246"):
		return "functional"
	case sec.hasTemplate("1.2.250.1.213.1.1.2.158"):
		return "careplan"
	case sec.hasTemplate("1.2.250.1.213.1.1.2.76"):
		return "activities"
	case sec.hasTemplate("1.2.250.1.213.1.1.2.129"):
		return "diagnoses"
	case sec.hasTemplate("1.2.250.1.213.1.1.2.124"):
		return "antenatal"
	case sec.hasTemplate("1.2.250.1.213.1.1.2.77"):
		return "pregnancies"
	case sec.hasTemplate("1.2.250.1.213.1.1.2.250", "1.2.250.1.213.1.1.2.151"):
		return "research"
	case sec.hasTemplate("1.2.250.1.213.1.1.2.54"):
		return "treatments"
	case sec.hasTemplate("1.2.250.1.213.1.1.2.157"):
		return "directives"
	}
	return ""
}

// entries returns the clinical statement of each entry of a section.
func entries(sec *node) []*node { return firstChildren(sec, "entry") }

// rels returns the clinical statement of each entryRelationship of n.
func rels(n *node) []*node { return firstChildren(n, "entryRelationship") }

// components returns the clinical statement of each component of an
// organizer.
func components(n *node) []*node { return firstChildren(n, "component") }

// firstChildren returns the first HL7 element child (skipping templateId
// and sequenceNumber) of every child called name.
func firstChildren(n *node, name string) []*node {
	var out []*node
	for _, e := range n.children(name) {
		for c := e.first; c != nil; c = c.next {
			if c.ns == "" && c.name != "templateId" && c.name != "sequenceNumber" {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// flag marks c when it is outside vs.
func (r *bodyReader) flag(c *sdmmr.Code, vs *valueSet) *sdmmr.Code {
	if c == nil || !r.checkVS || c.NullFlavor != "" || c.Code == "" {
		return c
	}
	if !vs.has(c.System, c.Code) {
		c.OutOfValueSet, c.ValueSet = true, vs.oid
	}
	return c
}

// flagSystem marks c when its code system is none of systems.
func flagSystem(c *sdmmr.Code, name string, systems ...string) *sdmmr.Code {
	if c == nil || c.NullFlavor != "" || c.Code == "" {
		return c
	}
	for _, s := range systems {
		if c.System == s {
			return c
		}
	}
	c.OutOfValueSet, c.ValueSet = true, name
	return c
}

// text returns the text of an ST value, or of the narrative its reference
// points to.
func (r *bodyReader) text(v *node) string {
	if v == nil {
		return ""
	}
	if s := v.textContent(); s != "" {
		return s
	}
	for _, ref := range []*node{v.child("reference"), v.path("originalText", "reference")} {
		if id := ref.attr("value"); id != "" {
			if n := r.t.byID(id); n != nil {
				return n.textContent()
			}
		}
	}
	return ""
}

func (r *bodyReader) file(b *sdmmr.Body, sec *node) {
	f := &sdmmr.MRFile{}
	found := false
	for _, o := range entries(sec) {
		v := o.child("value")
		switch o.child("code").attr("code") {
		case "GEN-164":
			f.ID, f.Created, found = ii(o.child("id")), v.attr("value"), true
		case "GEN-165":
			f.Updated, found = v.attr("value"), true
		case "PAT-061":
			f.LostToFollowUp, found = boolAttr(v), true
		}
	}
	if found {
		b.File = f
	}
}

func (r *bodyReader) family(b *sdmmr.Body, sec *node) {
	for _, org := range entries(sec) {
		if !org.is("organizer") {
			continue
		}
		f := sdmmr.FamilyHistory{}
		rs := org.path("subject", "relatedSubject")
		f.Relationship = code(rs.child("code"))
		if s := rs.child("subject"); s != nil {
			f.FirstCaseID = iip(s.sdtc("id"))
			f.FirstCaseSex = s.child("administrativeGenderCode").attr("code")
		}
		for _, o := range components(org) {
			v := o.child("value")
			if v == nil {
				continue
			}
			if c := code(v); c != nil && c.Code != "" {
				f.Diseases = append(f.Diseases, *flagSystem(c, "ORPHA", oidORPHADis, oidORPHA, oidORPHAGroups, oidICD10))
			} else if s := r.text(v); s != "" {
				f.DiseaseText = s
			}
		}
		b.FamilyHistory = append(b.FamilyHistory, f)
	}
}

// isProblem reports whether n is an FR-Probleme (or its IHE/CCD base in the
// 2017 model, which has no FR templates).
func isProblem(n *node) bool {
	return n.is("observation") && n.hasTemplate(tplProblem, tplProblemIHE, tplProblemCCD)
}

func (r *bodyReader) problems(b *sdmmr.Body, sec *node) {
	for _, act := range entries(sec) {
		for _, pb := range rels(act) {
			if !isProblem(pb) {
				continue
			}
			c := pb.child("code").attr("code")
			v := code(pb.child("value"))
			if c == "64572001" || c == "F-01050" || (v != nil && v.Code == "842009") {
				// Consanguinity: present unless negated.
				yes := pb.attr("negationInd") != "true"
				b.Consanguinity = &yes
				continue
			}
			p := sdmmr.Problem{Code: code(pb.child("code")), Value: v, Date: ts(pb.child("effectiveTime"))}
			if v != nil {
				flagSystem(v, "ORPHA", oidORPHADis, oidORPHA, oidICD10)
			}
			for _, o := range rels(pb) {
				switch o.child("code").attr("code") {
				case "11323-3":
					p.HealthStatus = code(o.child("value"))
					if r.checkVS {
						r.flag(p.HealthStatus, &vsHealthStatus)
					}
				case "66455-7":
					p.Certainty = code(o.child("value"))
				case "33999-4":
					p.Status = code(o.child("value"))
				}
			}
			b.ActiveProblems = append(b.ActiveProblems, p)
			if hs := p.HealthStatus; hs != nil && (hs.Code == "419620001" || hs.Code == "DF-D0000") {
				b.DeathDueToRD = &sdmmr.DeathDueToRD{Disease: v, Date: p.Date}
			}
		}
	}
}

func (r *bodyReader) functional(b *sdmmr.Body, sec *node) {
	for _, org := range entries(sec) {
		date := ts(org.child("effectiveTime"))
		for _, o := range components(org) {
			if !o.codeIs("54522-8") {
				continue
			}
			fs := sdmmr.FunctionalStatus{Code: flagSystem(code(o.child("value")), "ICF", oidICF), Date: ts(o.child("effectiveTime"))}
			if fs.Date == "" {
				fs.Date = date
			}
			if fs.Code != nil {
				b.FunctionalStatus = append(b.FunctionalStatus, fs)
			}
		}
	}
}

// site reads participant[@typeCode='LOC']/participantRole: the rare-disease
// site, plus the FINESS and commune of the place when given.
func site(n *node) (s *sdmmr.Site, finess, commune string) {
	for _, p := range n.children("participant") {
		if p.attr("typeCode") != "LOC" {
			continue
		}
		pr := p.child("participantRole")
		for _, id := range pr.children("id") {
			switch id.attr("root") {
			case oidSiteMR:
				if s == nil && id.attr("extension") != "" {
					s = &sdmmr.Site{Code: id.attr("extension")}
				}
			case OIDFINESSOrg:
				finess = finessOf(id.attr("extension"))
			}
		}
		pe := pr.child("playingEntity")
		if s == nil {
			if c := pe.child("code"); c.attr("codeSystem") == oidSiteMR && c.attr("code") != "" {
				s = &sdmmr.Site{Code: c.attr("code")}
			}
		}
		if s != nil {
			s.Name = pe.child("name").textContent()
		}
		commune = pr.path("addr", "county").val()
		return s, finess, commune
	}
	return nil, "", ""
}

// performer returns the id and profession of performer[@typeCode='PRF'].
func performer(n *node) (*sdmmr.ID, *sdmmr.Code) {
	for _, p := range n.children("performer") {
		if t := p.attr("typeCode"); t != "" && t != "PRF" {
			continue
		}
		ae := p.child("assignedEntity")
		return iip(ae.child("id")), code(ae.child("code"))
	}
	return nil, nil
}

func (r *bodyReader) careEpisodes(b *sdmmr.Body, sec *node) {
	for _, enc := range entries(sec) {
		if !enc.is("encounter") {
			continue
		}
		c := sdmmr.CareEpisode{ID: ii(enc.child("id")), Type: code(enc.child("code")), InclusionDate: ts(enc.child("effectiveTime"))}
		c.Referent, _ = performer(enc)
		for _, inf := range enc.children("informant") {
			if rc := code(inf.path("assignedEntity", "code")); rc != nil {
				c.ReferredBy = append(c.ReferredBy, *r.flag(rc, &vsPatientAdressePar))
			}
		}
		c.Site, _, _ = site(enc)
		for _, o := range rels(enc) {
			switch o.child("code").attr("code") {
			case "GEN-162", "GEN-368":
				c.OutsideLabelling = boolAttr(o.child("value"))
			}
		}
		b.CareEpisodes = append(b.CareEpisodes, c)
	}
}

func (r *bodyReader) activities(b *sdmmr.Body, sec *node) {
	for _, enc := range entries(sec) {
		if !enc.is("encounter") {
			continue
		}
		a := sdmmr.Activity{ID: ii(enc.child("id")), Context: r.flag(code(enc.child("code")), &vsContexteActivite), Date: ts(enc.child("effectiveTime"))}
		var prof *sdmmr.Code
		a.Performer, prof = performer(enc)
		a.PerformerProfession = r.flag(prof, &vsProfessionPersonnelActivite)
		a.DeclaringSite, a.ConsultationFINESS, a.ConsultationCommune = site(enc)
		for _, o := range rels(enc) {
			v := o.child("value")
			switch o.child("code").attr("code") {
			case "ORG-034":
				if c := code(v); c != nil {
					a.Objectives = append(a.Objectives, *r.flag(c, &vsObjectifActivite))
				}
			case "65649-6":
				a.Country = code(v)
			case "65647-0", "PAT-023":
				// PAT-023 is how v2.3 mis-coded the commune observation.
				if a.ConsultationCommune == "" {
					a.ConsultationCommune = v.attr("code")
				}
			}
		}
		a.Fetus = subjectOf(enc)
		b.Activities = append(b.Activities, a)
	}
}

// subjectOf reads subject/relatedSubject (FR-Sujet): the fetus or newborn an
// entry is about.
func subjectOf(n *node) *sdmmr.Subject {
	rs := n.path("subject", "relatedSubject")
	if rs == nil {
		return nil
	}
	s := rs.child("subject")
	if s == nil {
		return nil
	}
	out := &sdmmr.Subject{Relationship: rs.child("code").attr("code")}
	for c := s.first; c != nil; c = c.next {
		if c.ns == "sdtc" && c.name == "id" {
			id := ii(c)
			if out.ID.IsZero() {
				out.ID = id
			} else if out.NewbornID == nil {
				out.NewbornID = &id
			}
		}
	}
	for _, name := range s.children("name") {
		for c := name.first; c != nil; c = c.next {
			q, v := c.attr("qualifier"), c.val()
			if v == "" {
				continue
			}
			switch {
			case c.is("family") && q == "BR":
				out.BirthFamily = v
			case c.is("family") && q == "CL":
				out.UsedFamily = v
			case c.is("given") && q == "BR":
				out.BirthGiven = v
			case c.is("given") && q == "CL":
				out.UsedGiven = v
			case c.is("given") && q == "":
				out.Given = v
			}
		}
	}
	out.Sex = s.child("administrativeGenderCode").attr("code")
	out.BirthTime = s.child("birthTime").attr("value")
	out.MultipleBirth = boolAttr(s.sdtc("multipleBirthInd"))
	out.BirthOrder = intAttr(s.sdtc("multipleBirthOrderNumber"))
	return out
}

func (r *bodyReader) diagnoses(b *sdmmr.Body, sec *node) {
	for _, act := range entries(sec) {
		var pb *node
		var details []*node
		for _, o := range rels(act) {
			if pb == nil && isProblem(o) {
				pb = o
				continue
			}
			details = append(details, o) // flat, up to 2022.01
		}
		if pb == nil {
			continue
		}
		details = append(details, rels(pb)...) // nested, from 2024.01
		d := sdmmr.Diagnosis{ID: ii(pb.child("id"))}
		et := pb.child("effectiveTime")
		d.Date = ts(et)
		if d.Date == "" && (et.child("low").attr("nullFlavor") != "" || et.attr("nullFlavor") != "") {
			d.DateUnknown = true
		}
		d.Disease = flagSystem(code(pb.child("value")), "ORPHA|CIM-10", oidORPHADis, oidORPHA, oidICD10)
		d.Site, _, _ = site(pb)
		d.Fetus = subjectOf(pb)
		for _, o := range details {
			if o.is("act") && (o.hasTemplate(tplComment) || o.codeIs("48767-8")) {
				d.Comment = r.text(o.child("text"))
				continue
			}
			v := o.child("value")
			switch o.child("code").attr("code") {
			case "MED-072":
				d.Status = r.flag(code(v), &vsStatutActuelDiagnostic)
			case "MED-1284", "MED-074", "MED-086":
				if c := code(v); c != nil {
					d.ClinicalFeatures = append(d.ClinicalFeatures, *flagSystem(c, "ORPHA|HPO|CIM-10", oidORPHAGroups, oidORPHADis, oidORPHA, oidHPO, oidICD10))
				}
			case "MED-073":
				d.SporadicFamilial = r.flag(code(v), &vsCasSporadiqueFamilial)
			case "PAT-013":
				d.OnsetAgeClass = r.flag(code(v), &vsAge)
			case "PAT-014":
				d.OnsetAge = pq(v)
			case "MED-071":
				d.AppraisalOnEntry = r.flag(code(v), &vsAppreciationDiagnostic)
			case "PAT-015", "PAT-062":
				d.ClinicalDiagnosisAgeClass = r.flag(code(v), &vsAge)
			case "PAT-016", "PAT-063":
				d.ClinicalDiagnosisAge = pq(v)
			case "PAT-064":
				d.GeneticDiagnosisAgeClass = r.flag(code(v), &vsAge)
			case "PAT-065":
				d.GeneticDiagnosisAge = pq(v)
			case "MED-068", "MED-1286":
				if c := code(v); c != nil {
					d.Techniques = append(d.Techniques, *r.flag(c, &vsTechniquesDiagnostic))
				}
			case "MED-552":
				if c := code(v); c != nil {
					d.Genes = append(d.Genes, *flagSystem(c, "HGNC", oidHGNC, oidHGNCAlt))
				}
			case "MED-1287":
				d.OtherGenetic = r.text(v)
			case "ORG-017":
				if c := code(v); c != nil {
					d.Investigations = append(d.Investigations, *r.flag(c, &vsInvestigationsRealisees))
				}
			case "GEN-163":
				d.ConfirmationMode = r.text(v)
			case "MED-064":
				d.ApparentlyHealthy = boolAttr(v)
			case "MED-554":
				d.Mutations = r.text(v)
			}
		}
		b.Diagnoses = append(b.Diagnoses, d)
	}
}

func (r *bodyReader) antenatal(b *sdmmr.Body, sec *node) {
	a := &sdmmr.Antenatal{}
	found := false
	var walk func(s *node)
	walk = func(s *node) {
		for _, e := range entries(s) {
			switch {
			case e.is("procedure") && e.codeIs("09.02", "MED-075"):
				yes := true
				a.ART, a.ARTDate, found = &yes, ts(e.child("effectiveTime")), true
			case e.is("observation") && e.codeIs("MED-078"):
				a.Malformation, found = r.flag(code(e.child("value")), &vsMalformationAntenatale), true
			case e.is("observation") && e.codeIs("11884-4", "MED-077"):
				a.GestationalAge, found = pq(e.child("value")), true
			case e.is("organizer"):
				for _, o := range components(e) {
					v := pq(o.child("value"))
					switch o.child("code").attr("code") {
					case "29463-7":
						a.BirthWeight, found = v, true
					case "8302-2":
						a.BirthLength, found = v, true
					case "8287-5":
						a.HeadCircumference, found = v, true
					}
				}
			}
		}
		for _, c := range s.children("component") {
			if sub := c.child("section"); sub != nil {
				walk(sub)
			}
		}
	}
	walk(sec)
	if found {
		b.Antenatal = a
	}
}

func (r *bodyReader) pregnancies(b *sdmmr.Body, sec *node) {
	for _, org := range entries(sec) {
		if !org.is("organizer") || !(org.hasTemplate(tplPregnancy) || org.codeIs("118185001")) {
			continue
		}
		et := org.child("effectiveTime")
		p := sdmmr.Pregnancy{Start: et.child("low").attr("value"), End: et.child("high").attr("value")}
		p.Ongoing = p.Start != "" && p.End == "" // no end yet: ongoing, per FR-Grossesse
		for _, comp := range org.children("component") {
			seq := comp.child("sequenceNumber").attr("value")
			for c := comp.first; c != nil; c = c.next {
				switch {
				case c.is("observation") && c.codeIs("55281-0"):
					p.FetusCount = intAttr(c.child("value"))
				case c.is("observation") && c.codeIs("09.02"):
					p.ART = boolAttr(c.child("value"))
				case c.is("organizer") && (c.hasTemplate(tplBirth) || c.codeIs("118215003")):
					bi := sdmmr.Birth{Subject: subjectOf(c)}
					bi.Sequence, _ = strconv.Atoi(seq)
					for _, o := range components(c) {
						v := o.child("value")
						switch o.child("code").attr("code") {
						case "63893-2":
							bi.Outcome = r.flag(code(v), &vsIssueGrossesse)
						case "11884-4":
							bi.GestationalAge = pq(v)
						case "JQQP003":
							bi.FetalAutopsy = boolAttr(v)
						}
					}
					p.Births = append(p.Births, bi)
				}
			}
		}
		b.Pregnancies = append(b.Pregnancies, p)
	}
}

func (r *bodyReader) research(b *sdmmr.Body, sec *node) {
	rs := &sdmmr.Research{}
	found := false
	for _, o := range entries(sec) {
		v := o.child("value")
		switch o.child("code").attr("code") {
		case "PAT-023":
			rs.ProtocolParticipant, found = boolAttr(v), true
		case "PAT-012":
			rs.ContactConsent, found = boolAttr(v), true
		case "MED-065":
			rs.SampleResearch, found = boolAttr(v), true
		case "MED-066":
			rs.SampleMolecular, found = boolAttr(v), true
		case "GEN-344":
			if c := code(v); c != nil && c.Code != "" {
				rs.Biobank = c
			} else {
				rs.BiobankText = r.text(v)
			}
			found = true
		}
	}
	if found {
		b.Research = rs
	}
}

func (r *bodyReader) treatments(b *sdmmr.Body, sec *node) {
	for _, sa := range entries(sec) {
		if !sa.is("substanceAdministration") {
			continue
		}
		et := sa.child("effectiveTime")
		t := sdmmr.Treatment{Start: et.child("low").attr("value"), End: et.child("high").attr("value")}
		mm := sa.path("consumable", "manufacturedProduct", "manufacturedMaterial")
		if c := mm.child("code"); c != nil {
			if p := code(c); p != nil && p.Code != "" {
				t.Product = p
			}
			for _, tr := range c.children("translation") {
				if tc := code(tr); tc != nil {
					t.Translations = append(t.Translations, *tc)
				}
			}
		}
		t.Name = mm.child("name").textContent()
		b.Treatments = append(b.Treatments, t)
	}
}

// directives reads the ≤2021 consent to reuse (observation 64292-6, BL).
func (r *bodyReader) directives(h *sdmmr.Header, sec *node) {
	for _, o := range entries(sec) {
		if !o.codeIs("64292-6") {
			continue
		}
		c := code(o.child("code"))
		h.Consents = append(h.Consents, sdmmr.Consent{Kind: consentKind(c, boolAttr(o.child("value"))), Code: *c, Source: "body"})
	}
}

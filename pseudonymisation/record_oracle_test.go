package pseudonymisation

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/geo"
	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/xmldoc"
	"github.com/lestrrat-go/libxml2/types"
	"github.com/lestrrat-go/libxml2/xpath"
)

// The record oracle: what the pseudonymised record of an official example
// must hold, read from the document with XPath (libxml2's evaluator, the
// kit's templateIds and codes, the XPaths of SDM-MR-DIGEST.md), never with
// pkg/cda's tree walker. Identifiers are hashed here with the documented
// encoding (HMAC-SHA256 over the length-prefixed domain and parts), not with
// the package's hasher. Only the generalisations that have their own tests
// (normaliseName, geo.Departement) are shared with the code under test.

// oracleKey is one key of the keyring the oracle hashes under.
type oracleKey struct {
	id     string
	secret []byte
}

func (k oracleKey) sum(domain string, parts ...string) string {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, uint32(len(domain)))
	b = append(b, domain...)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	m := hmac.New(sha256.New, k.secret)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// The templates and codes the oracle selects by.
const (
	// A body section, by its FR templateId or, for the 2017 model (IHE
	// templates only), by its section code.
	secFile        = `cda:section[cda:templateId/@root='1.2.250.1.213.1.1.2.66' or cda:code/@code='GEN-168']`
	secFamily      = `cda:section[cda:templateId/@root='1.2.250.1.213.1.1.2.139' or cda:code/@code='10157-6']`
	secProblems    = `cda:section[cda:templateId/@root='1.2.250.1.213.1.1.2.132' or cda:code/@code='11450-4']`
	secFunctional  = `cda:section[cda:templateId/@root='1.2.250.1.213.1.1.2.246' or cda:code/@code='47420-5']`
	secCarePlan    = `cda:section[cda:templateId/@root='1.2.250.1.213.1.1.2.158' or cda:code/@code='18776-5']`
	secActivities  = `cda:section[cda:templateId/@root='1.2.250.1.213.1.1.2.76' or cda:code/@code='46240-8']`
	secDiagnoses   = `cda:section[cda:templateId/@root='1.2.250.1.213.1.1.2.129' or cda:code/@code='46241-6']`
	secAntenatal   = `cda:section[cda:templateId/@root='1.2.250.1.213.1.1.2.124' or cda:code/@code='57075-4']`
	secPregnancies = `cda:section[cda:templateId/@root='1.2.250.1.213.1.1.2.77' or cda:code/@code='10162-6']`
	secResearch    = `cda:section[cda:templateId/@root='1.2.250.1.213.1.1.2.250' or cda:templateId/@root='1.2.250.1.213.1.1.2.151' or cda:code/@code='GEN-369' or cda:code/@code='30954-2']`
	secTreatments  = `cda:section[cda:templateId/@root='1.2.250.1.213.1.1.2.54' or cda:code/@code='10160-0']`
	secDirectives  = `cda:section[cda:templateId/@root='1.2.250.1.213.1.1.2.157' or cda:code/@code='42348-3']`

	// FR-Probleme, or its IHE / CCD base in the 2017 model.
	isPB = `[cda:templateId/@root='1.2.250.1.213.1.1.3.37' or cda:templateId/@root='1.3.6.1.4.1.19376.1.5.3.1.4.5' or cda:templateId/@root='2.16.840.1.113883.10.20.1.28']`
	// Consanguinity: SNOMED 64572001 (2022), SNOMED 3.5 F-01050 (older),
	// value 842009 (2024).
	isConsanguinity = `[cda:code/@code='64572001' or cda:code/@code='F-01050' or cda:value/@code='842009']`

	oidSite    = "1.2.250.1.213.2.61"
	oidFINESS  = "1.2.250.1.71.4.2.2"
	oidSDMMR   = "1.2.250.1.213.1.1.1.30"
	insRootsXP = `@root='1.2.250.1.213.1.4.8' or @root='1.2.250.1.213.1.4.10' or @root='1.2.250.1.213.1.4.2' or @root='1.2.250.1.213.1.4.9' or @root='1.2.250.1.213.1.4.11'`
)

// oracle evaluates XPath over one parsed document.
type oracle struct {
	tb     testing.TB
	doc    types.Document
	root   types.Node
	ctx    *xpath.Context
	finess string
}

func newOracle(tb testing.TB, src string) *oracle {
	tb.Helper()
	doc, err := xmldoc.Parse([]byte(src), xmldoc.DefaultLimits)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(doc.Free)
	root, err := doc.DocumentElement()
	if err != nil {
		tb.Fatal(err)
	}
	ctx, err := xpath.NewContext(root)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(ctx.Free)
	for p, u := range map[string]string{"cda": "urn:hl7-org:v3", "sdtc": "urn:hl7-org:sdtc"} {
		if err := ctx.RegisterNS(p, u); err != nil {
			tb.Fatal(err)
		}
	}
	return &oracle{tb: tb, doc: doc, root: root, ctx: ctx}
}

// all returns the nodes expr selects from n.
func (o *oracle) all(n types.Node, expr string) []types.Node {
	o.tb.Helper()
	if err := o.ctx.SetContextNode(n); err != nil {
		o.tb.Fatal(err)
	}
	res, err := o.ctx.Find(expr)
	if err != nil {
		o.tb.Fatalf("XPath %s: %v", expr, err)
	}
	defer res.Free()
	return res.NodeList()
}

// one returns the node expr selects, nil when none; the oracle's reading of
// a single-valued field is only sound when the example has at most one.
func (o *oracle) one(n types.Node, expr string) types.Node {
	o.tb.Helper()
	ns := o.all(n, expr)
	switch len(ns) {
	case 0:
		return nil
	case 1:
		return ns[0]
	}
	o.tb.Fatalf("XPath %s selects %d nodes where the record has room for one", expr, len(ns))
	return nil
}

// str returns the string value of the first node expr selects from n, white
// space collapsed ("" for no node), as XPath's normalize-space(expr).
func (o *oracle) str(n types.Node, expr string) string {
	o.tb.Helper()
	if n == nil {
		return ""
	}
	ns := o.all(n, expr)
	if len(ns) == 0 {
		return ""
	}
	return strings.Join(strings.Fields(ns[0].NodeValue()), " ")
}

// code reads the CD/CE element expr selects.
func (o *oracle) code(n types.Node, expr string) *sdmmr.Code {
	o.tb.Helper()
	if n == nil {
		return nil
	}
	e := o.one(n, expr)
	if e == nil {
		return nil
	}
	c := &sdmmr.Code{Code: o.str(e, "@code"), System: o.str(e, "@codeSystem"), Display: o.str(e, "@displayName"), NullFlavor: o.str(e, "@nullFlavor")}
	if *c == (sdmmr.Code{}) {
		return nil
	}
	return c
}

// codes reads every CD/CE element expr selects.
func (o *oracle) codes(n types.Node, expr string) []sdmmr.Code {
	o.tb.Helper()
	var out []sdmmr.Code
	for _, e := range o.all(n, expr) {
		if c := o.code(e, "."); c != nil {
			out = append(out, *c)
		}
	}
	return out
}

func (o *oracle) boolean(n types.Node, expr string) *bool {
	o.tb.Helper()
	switch o.str(n, expr) {
	case "true":
		return ptr(true)
	case "false":
		return ptr(false)
	}
	return nil
}

func (o *oracle) integer(n types.Node, expr string) *int {
	o.tb.Helper()
	s := o.str(n, expr)
	if s == "" {
		return nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		o.tb.Fatalf("XPath %s: %q is not an integer", expr, s)
	}
	return &v
}

func (o *oracle) quantity(n types.Node, expr string) *sdmmr.Quantity {
	o.tb.Helper()
	e := o.one(n, expr)
	if e == nil {
		return nil
	}
	v, err := strconv.ParseFloat(o.str(e, "@value"), 64)
	if err != nil {
		return nil
	}
	return &sdmmr.Quantity{Value: v, Unit: o.str(e, "@unit")}
}

// id reads an II as the keyed hash of kind, "" when absent.
func (o *oracle) id(k oracleKey, kind string, n types.Node, expr string) string {
	o.tb.Helper()
	e := o.one(n, expr)
	if e == nil {
		return ""
	}
	root, ext := o.str(e, "@root"), o.str(e, "@extension")
	if root == "" && ext == "" {
		return ""
	}
	return k.sum(kind, o.finess, root, ext)
}

func (o *oracle) ii(n types.Node, expr string) *sdmmr.ID {
	o.tb.Helper()
	e := o.one(n, expr)
	if e == nil {
		return nil
	}
	id := &sdmmr.ID{Root: o.str(e, "@root"), Extension: o.str(e, "@extension")}
	if id.Root == "" && id.Extension == "" {
		return nil
	}
	return id
}

// when reads a TS or the low bound of an IVL_TS.
func (o *oracle) when(n types.Node, expr string) string {
	o.tb.Helper()
	if v := o.str(n, expr+"/@value"); v != "" {
		return v
	}
	return o.str(n, expr+"/cda:low/@value")
}

func ptr[T any](v T) *T { return &v }

// ym is the record's year-month of an HL7 TS.
func ym(ts string) string {
	if len(ts) < 6 {
		return ""
	}
	if _, err := strconv.Atoi(ts[:6]); err != nil {
		return ""
	}
	return ts[:4] + "-" + ts[4:6]
}

func dept(commune string) string {
	d, err := geo.Departement(commune)
	if err != nil {
		return ""
	}
	return d
}

func sex(s string) string {
	switch s {
	case "":
		return ""
	case "F", "M":
		return s
	}
	return "U"
}

// insKey is the NIR without its control key.
func insKey(s string) string {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) == 15 {
		s = s[:13]
	}
	return s
}

// pseudonyms computes the document's keyed values under one key.
func (o *oracle) pseudonyms(k oracleKey) sdmmr.PseudonymSet {
	o.tb.Helper()
	cd := o.root
	s := sdmmr.PseudonymSet{KeyID: k.id}
	docID := o.str(cd, "cda:id/@root")
	if ext := o.str(cd, "cda:id/@extension"); ext != "" {
		docID += "^" + ext
	}
	s.DocumentKey = k.sum("document", o.finess, docID)
	pr := o.one(cd, "cda:recordTarget/cda:patientRole")
	if nir := o.str(pr, "cda:id[@root='1.2.250.1.213.1.4.8']/@extension"); nir != "" {
		s.PatientINSPseudonym = k.sum("ins", insKey(nir))
	} else if nir := o.str(pr, "cda:id[@root='1.2.250.1.213.1.4.10']/@extension"); nir != "" {
		s.PatientINSPseudonym = k.sum("ins-test", insKey(nir))
	}
	pt := o.one(pr, "cda:patient")
	family := o.str(pt, "cda:name/cda:family[@qualifier='BR']")
	given := o.str(pt, "cda:name/cda:given[@qualifier='BR']")
	if given == "" {
		given = strings.Fields(o.str(pt, "cda:name/cda:given[not(@qualifier)]") + " ")[0]
	}
	birth := o.str(pt, "cda:birthTime/@value")
	sx := sex(o.str(pt, "cda:administrativeGenderCode/@code"))
	if family != "" && given != "" && len(birth) >= 8 && sx != "" {
		s.PatientTraitsPseudonym = k.sum("traits", normaliseName(family), normaliseName(given), birth[:8], sx)
	}
	for _, id := range o.all(pr, "cda:id[not("+insRootsXP+")][@extension!='']") {
		s.IPPKeys = append(s.IPPKeys, k.sum("ipp", o.finess, o.str(id, "@root"), o.str(id, "@extension")))
	}
	return s
}

// subject reads an FR-Sujet (fetus or newborn) from relatedSubject.
func (o *oracle) subject(k oracleKey, n types.Node) *sdmmr.RecordSubject {
	o.tb.Helper()
	rs := o.one(n, "cda:subject/cda:relatedSubject[cda:subject]")
	if rs == nil {
		return nil
	}
	s := o.one(rs, "cda:subject")
	out := &sdmmr.RecordSubject{
		Pseudonym:      o.id(k, "ipp", s, "sdtc:id[1]"),
		Relationship:   o.str(rs, "cda:code/@code"),
		Sex:            sex(o.str(s, "cda:administrativeGenderCode/@code")),
		BirthYearMonth: ym(o.str(s, "cda:birthTime/@value")),
		MultipleBirth:  o.boolean(s, "sdtc:multipleBirthInd/@value"),
		BirthOrder:     o.integer(s, "sdtc:multipleBirthOrderNumber/@value"),
	}
	if nb := o.one(s, "sdtc:id[2]"); nb != nil {
		switch o.str(nb, "@root") {
		case "1.2.250.1.213.1.4.8":
			out.NewbornPseudonym = k.sum("ins", insKey(o.str(nb, "@extension")))
		case "1.2.250.1.213.1.4.10":
			out.NewbornPseudonym = k.sum("ins-test", insKey(o.str(nb, "@extension")))
		default:
			out.NewbornPseudonym = o.id(k, "ipp", nb, ".")
		}
	}
	return out
}

// site reads the rare-disease site code of participant[@typeCode='LOC'].
func (o *oracle) site(n types.Node) string {
	o.tb.Helper()
	pr := o.one(n, "cda:participant[@typeCode='LOC'][1]/cda:participantRole")
	if c := o.str(pr, "cda:id[@root='"+oidSite+"'][@extension!=''][1]/@extension"); c != "" {
		return c
	}
	return o.str(pr, "cda:playingEntity/cda:code[@codeSystem='"+oidSite+"']/@code")
}

// body returns the structured body's sections selected by sec.
func (o *oracle) sections(sec string) []types.Node {
	return o.all(o.root, "cda:component/cda:structuredBody/cda:component/"+sec)
}

// expectedRecord builds the record the pseudonymiser must make of src, under
// primary (and others, for a rotation), from the XML alone.
func expectedRecord(tb testing.TB, src string, ext events.Extracted, primary oracleKey, others ...oracleKey) events.Record {
	tb.Helper()
	o := newOracle(tb, src)
	cd := o.root
	custodian := o.str(cd, "cda:custodian/cda:assignedCustodian/cda:representedCustodianOrganization/cda:id[@root='"+oidFINESS+"'][1]/@extension")
	o.finess = custodian
	if len(custodian) == 10 && custodian[0] == '1' {
		o.finess = custodian[1:] // "1"+FINESS
	}
	r := events.Record{
		V: events.RecordV, MailID: ext.MailID, DocIndex: ext.DocIndex, ReceivedAt: ext.ReceivedAt,
		KeyID: primary.id, SetID: o.str(cd, "cda:setId/@root"), EffectiveTime: o.str(cd, "cda:effectiveTime/@value"),
		FINESS: o.finess,
	}
	if e := o.str(cd, "cda:setId/@extension"); e != "" {
		r.SetID += "^" + e
	}
	r.VersionNumber = *o.integer(cd, "cda:versionNumber/@value")
	r.ModelVersion = o.str(cd, "cda:templateId[@root='"+oidSDMMR+"']/@extension")
	if r.ModelVersion == "" {
		r.ModelVersion = "2017"
	}
	set := o.pseudonyms(primary)
	r.DocumentKey = set.DocumentKey
	// Consents: the header's, then the 2017/2021 body observation.
	consents := o.all(cd, "cda:authorization/cda:consent/cda:code/@code")
	for _, s := range o.sections(secDirectives) {
		consents = append(consents, o.all(s, "cda:entry/cda:observation/cda:code[@code='64292-6']/@code")...)
	}
	for _, c := range consents {
		code := c.NodeValue()
		if code == "GEN-315" {
			// Counted, nothing more: no pseudonym, no generalised
			// identity, no clinical content (README, "Opposition").
			r.Opposition, r.Consents = true, nil
			return r
		}
		if !contains(r.Consents, code) {
			r.Consents = append(r.Consents, code)
		}
	}
	pr := o.one(cd, "cda:recordTarget/cda:patientRole")
	pt := o.one(pr, "cda:patient")
	r.Sex = sex(o.str(pt, "cda:administrativeGenderCode/@code"))
	r.BirthYearMonth = ym(o.str(pt, "cda:birthTime/@value"))
	residence := o.str(pr, "cda:addr[cda:county!=''][1]/cda:county")
	if residence == "" {
		residence = o.str(pr, "cda:addr[cda:censusTract!=''][1]/cda:censusTract")
	}
	r.ResidenceDepartement = dept(residence)

	r.PatientINSPseudonym, r.PatientTraitsPseudonym, r.IPPKeys = set.PatientINSPseudonym, set.PatientTraitsPseudonym, set.IPPKeys
	for _, k := range others {
		r.PreviousKeys = append(r.PreviousKeys, o.pseudonyms(k))
	}
	r.BirthplaceDepartement = dept(o.str(pt, "cda:birthplace/cda:place/cda:addr/cda:county"))
	r.Deceased = o.boolean(pt, "sdtc:deceasedInd/@value")
	r.DeathYearMonth = ym(o.str(pt, "sdtc:deceasedTime/@value"))
	r.MultipleBirth = o.boolean(pt, "sdtc:multipleBirthInd/@value")

	k := primary
	for _, s := range o.sections(secFile) {
		created := o.one(s, "cda:entry/cda:observation[cda:code/@code='GEN-164']")
		r.File = &sdmmr.RecordFile{
			Key:            o.id(k, "file", created, "cda:id"),
			Created:        o.str(created, "cda:value/@value"),
			Updated:        o.str(s, "cda:entry/cda:observation[cda:code/@code='GEN-165']/cda:value/@value"),
			LostToFollowUp: o.boolean(s, "cda:entry/cda:observation[cda:code/@code='PAT-061']/cda:value/@value"),
		}
	}
	for _, s := range o.sections(secCarePlan) {
		for _, e := range o.all(s, "cda:entry/cda:encounter") {
			r.CareEpisodes = append(r.CareEpisodes, sdmmr.RecordCareEpisode{
				Key: o.id(k, "care-episode", e, "cda:id"), Type: o.code(e, "cda:code"), InclusionDate: o.when(e, "cda:effectiveTime"),
				Referent:         o.ii(e, "cda:performer[@typeCode='PRF']/cda:assignedEntity/cda:id"),
				ReferredBy:       o.codes(e, "cda:informant/cda:assignedEntity/cda:code"),
				SiteCode:         o.site(e),
				OutsideLabelling: o.boolean(e, "cda:entryRelationship/cda:observation[cda:code/@code='GEN-368' or cda:code/@code='GEN-162']/cda:value/@value"),
			})
		}
	}
	for _, s := range o.sections(secActivities) {
		for _, e := range o.all(s, "cda:entry/cda:encounter") {
			pr := o.one(e, "cda:participant[@typeCode='LOC'][1]/cda:participantRole")
			finess := o.str(pr, "cda:id[@root='"+oidFINESS+"']/@extension")
			if len(finess) == 10 && finess[0] == '1' {
				finess = finess[1:]
			}
			commune := o.str(pr, "cda:addr/cda:county")
			if commune == "" {
				// 65647-0; the 2017 example codes its commune observation
				// PAT-023 by mistake, its narrative reference still says so.
				commune = o.str(e, "cda:entryRelationship/cda:observation[cda:code/@code='65647-0' or cda:text/cda:reference/@value='#codeCommune']/cda:value/@code")
			}
			r.Activities = append(r.Activities, sdmmr.RecordActivity{
				Key: o.id(k, "activity", e, "cda:id"), Context: o.code(e, "cda:code"), Date: o.when(e, "cda:effectiveTime"),
				Performer:           o.ii(e, "cda:performer[@typeCode='PRF']/cda:assignedEntity/cda:id"),
				PerformerProfession: o.code(e, "cda:performer[@typeCode='PRF']/cda:assignedEntity/cda:code"),
				DeclaringSiteCode:   o.site(e), ConsultationFINESS: finess, ConsultationDepartement: dept(commune),
				Country:    o.code(e, "cda:entryRelationship/cda:observation[cda:code/@code='65649-6']/cda:value"),
				Objectives: o.codes(e, "cda:entryRelationship/cda:observation[cda:code/@code='ORG-034']/cda:value"),
				Fetus:      o.subject(k, e),
			})
		}
	}
	for _, s := range o.sections(secDiagnoses) {
		for _, act := range o.all(s, "cda:entry/cda:act[cda:entryRelationship/cda:observation"+isPB+"]") {
			pb := o.all(act, "cda:entryRelationship/cda:observation"+isPB)[0]
			// The detail observations: beside the problem up to 2022.01,
			// inside it from 2024.01.
			detail := func(codes ...string) string { return details("cda:value", codes...) }
			d := sdmmr.RecordDiagnosis{
				Key: o.id(k, "diagnosis", pb, "cda:id"), Date: o.when(pb, "cda:effectiveTime"),
				Disease: o.code(pb, "cda:value"), SiteCode: o.site(pb), Fetus: o.subject(k, pb),
				Status:                    o.code(act, detail("MED-072")),
				ClinicalFeatures:          o.codes(act, detail("MED-1284", "MED-074", "MED-086")),
				SporadicFamilial:          o.code(act, detail("MED-073")),
				OnsetAgeClass:             o.code(act, detail("PAT-013")),
				OnsetAge:                  o.quantity(act, detail("PAT-014")),
				AppraisalOnEntry:          o.code(act, detail("MED-071")),
				ClinicalDiagnosisAgeClass: o.code(act, detail("PAT-015", "PAT-062")),
				ClinicalDiagnosisAge:      o.quantity(act, detail("PAT-016", "PAT-063")),
				GeneticDiagnosisAgeClass:  o.code(act, detail("PAT-064")),
				GeneticDiagnosisAge:       o.quantity(act, detail("PAT-065")),
				Techniques:                o.codes(act, detail("MED-068", "MED-1286")),
				Genes:                     o.codes(act, detail("MED-552")),
				Investigations:            o.codes(act, detail("ORG-017")),
				ApparentlyHealthy:         o.boolean(act, details("cda:value/@value", "MED-064")),
			}
			if d.Date == "" && o.str(pb, "cda:effectiveTime/cda:low/@nullFlavor | cda:effectiveTime/@nullFlavor") != "" {
				d.DateUnknown = true
			}
			r.Diagnoses = append(r.Diagnoses, d)
		}
	}
	for _, s := range o.sections(secFamily) {
		for _, org := range o.all(s, "cda:entry/cda:organizer") {
			f := sdmmr.RecordFamilyHistory{
				Relationship: o.code(org, "cda:subject/cda:relatedSubject/cda:code"),
				FirstCaseKey: o.id(k, "ipp", org, "cda:subject/cda:relatedSubject/cda:subject/sdtc:id"),
				FirstCaseSex: o.str(org, "cda:subject/cda:relatedSubject/cda:subject/cda:administrativeGenderCode/@code"),
				// Coded diseases only (2024 ORPHA); up to 2022.01 the first
				// case's disease is free text, which stays out.
				Diseases: o.codes(org, "cda:component/cda:observation/cda:value[@code!='']"),
			}
			r.FamilyHistory = append(r.FamilyHistory, f)
		}
	}
	for _, s := range o.sections(secProblems) {
		for _, pb := range o.all(s, "cda:entry/cda:act/cda:entryRelationship/cda:observation"+isPB) {
			if len(o.all(pb, "self::node()"+isConsanguinity)) == 1 {
				r.Consanguinity = ptr(o.str(pb, "@negationInd") != "true")
				continue
			}
			p := sdmmr.Problem{
				Code: o.code(pb, "cda:code"), Value: o.code(pb, "cda:value"), Date: o.when(pb, "cda:effectiveTime"),
				HealthStatus: o.code(pb, "cda:entryRelationship/cda:observation[cda:code/@code='11323-3']/cda:value"),
				Certainty:    o.code(pb, "cda:entryRelationship/cda:observation[cda:code/@code='66455-7']/cda:value"),
				Status:       o.code(pb, "cda:entryRelationship/cda:observation[cda:code/@code='33999-4']/cda:value"),
			}
			r.ActiveProblems = append(r.ActiveProblems, p)
			// The clinical status "dead" (SNOMED CT 419620001, SNOMED 3.5
			// DF-D0000) makes it the death due to the rare disease.
			if hs := p.HealthStatus; hs != nil && (hs.Code == "419620001" || hs.Code == "DF-D0000") {
				r.DeathDueToRD = &sdmmr.RecordDeath{Disease: p.Value, YearMonth: ym(p.Date)}
			}
		}
	}
	for _, s := range o.sections(secFunctional) {
		for _, obs := range o.all(s, "cda:entry/cda:organizer/cda:component/cda:observation[cda:code/@code='54522-8']") {
			fs := sdmmr.FunctionalStatus{Code: o.code(obs, "cda:value"), Date: o.when(obs, "cda:effectiveTime")}
			if fs.Date == "" {
				fs.Date = o.when(obs, "../../cda:effectiveTime")
			}
			r.FunctionalStatus = append(r.FunctionalStatus, fs)
		}
	}
	for _, s := range o.sections(secAntenatal) {
		// The antenatal data sit in sub-sections (ART, results, vital signs).
		a := &sdmmr.Antenatal{}
		if art := o.one(s, ".//cda:section/cda:entry/cda:procedure[cda:code/@code='09.02' or cda:code/@code='MED-075']"); art != nil {
			a.ART, a.ARTDate = ptr(true), o.when(art, "cda:effectiveTime")
		}
		a.Malformation = o.code(s, ".//cda:section/cda:entry/cda:observation[cda:code/@code='MED-078']/cda:value")
		a.GestationalAge = o.quantity(s, ".//cda:section/cda:entry/cda:observation[cda:code/@code='11884-4' or cda:code/@code='MED-077']/cda:value")
		vital := ".//cda:section/cda:entry/cda:organizer/cda:component/cda:observation"
		a.BirthWeight = o.quantity(s, vital+"[cda:code/@code='29463-7']/cda:value")
		a.BirthLength = o.quantity(s, vital+"[cda:code/@code='8302-2']/cda:value")
		a.HeadCircumference = o.quantity(s, vital+"[cda:code/@code='8287-5']/cda:value")
		if *a != (sdmmr.Antenatal{}) {
			r.Antenatal = a
		}
	}
	for _, s := range o.sections(secPregnancies) {
		for _, org := range o.all(s, "cda:entry/cda:organizer[cda:templateId/@root='1.2.250.1.213.1.1.3.55']") {
			start, end := o.str(org, "cda:effectiveTime/cda:low/@value"), o.str(org, "cda:effectiveTime/cda:high/@value")
			p := sdmmr.RecordPregnancy{
				StartYearMonth: ym(start), EndYearMonth: ym(end), Ongoing: start != "" && end == "",
				FetusCount: o.integer(org, "cda:component/cda:observation[cda:code/@code='55281-0']/cda:value/@value"),
				ART:        o.boolean(org, "cda:component/cda:observation[cda:code/@code='09.02']/cda:value/@value"),
			}
			for _, b := range o.all(org, "cda:component/cda:organizer[cda:templateId/@root='1.2.250.1.213.1.1.3.56']") {
				seq, _ := strconv.Atoi(o.str(b, "../cda:sequenceNumber/@value"))
				p.Births = append(p.Births, sdmmr.RecordBirth{
					Sequence: seq, Subject: o.subject(k, b),
					Outcome:        o.code(b, "cda:component/cda:observation[cda:code/@code='63893-2']/cda:value"),
					GestationalAge: o.quantity(b, "cda:component/cda:observation[cda:code/@code='11884-4']/cda:value"),
					FetalAutopsy:   o.boolean(b, "cda:component/cda:observation[cda:code/@code='JQQP003']/cda:value/@value"),
				})
			}
			r.Pregnancies = append(r.Pregnancies, p)
		}
	}
	for _, s := range o.sections(secResearch) {
		obs := func(code string) string {
			return "cda:entry/cda:observation[cda:code/@code='" + code + "']/cda:value"
		}
		rs := &sdmmr.RecordResearch{
			ProtocolParticipant: o.boolean(s, obs("PAT-023")+"/@value"),
			ContactConsent:      o.boolean(s, obs("PAT-012")+"/@value"),
			SampleResearch:      o.boolean(s, obs("MED-065")+"/@value"),
			SampleMolecular:     o.boolean(s, obs("MED-066")+"/@value"),
			// A coded biobank only: the example's is a narrative reference.
			Biobank: o.code(s, obs("GEN-344")+"[@code!='']"),
		}
		if *rs != (sdmmr.RecordResearch{}) {
			r.Research = rs
		}
	}
	for _, s := range o.sections(secTreatments) {
		for _, sa := range o.all(s, "cda:entry/cda:substanceAdministration") {
			mm := "cda:consumable/cda:manufacturedProduct/cda:manufacturedMaterial/cda:code"
			r.Treatments = append(r.Treatments, sdmmr.RecordTreatment{
				Start: o.str(sa, "cda:effectiveTime/cda:low/@value"), End: o.str(sa, "cda:effectiveTime/cda:high/@value"),
				Product:      o.code(sa, mm+"[@code!='']"),
				Translations: o.codes(sa, mm+"/cda:translation"),
			})
		}
	}
	return r
}

// details selects, from an FR-Liste-des-problemes act, suffix of the detail
// observations of the given codes: beside the problem up to 2022.01, inside
// it from 2024.01.
func details(suffix string, codes ...string) string {
	var c []string
	for _, x := range codes {
		c = append(c, "cda:code/@code='"+x+"'")
	}
	p := "[" + strings.Join(c, " or ") + "]/" + suffix
	return "cda:entryRelationship/cda:observation[not(" + isPB[1:len(isPB)-1] + ")]" + p +
		" | cda:entryRelationship/cda:observation" + isPB + "/cda:entryRelationship/cda:observation" + p
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

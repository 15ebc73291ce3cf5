// Package cda reads the CDA R2 header and the SDM-MR body out of a parsed
// document. It never parses: it works on the tree that validation used.
package cda

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lestrrat-go/libxml2/types"
	"github.com/lestrrat-go/libxml2/xpath"

	"github.com/bndmr/hub/pkg/sdmmr"
)

// Namespaces used by every CDA XPath in this package.
const (
	NSHL7  = "urn:hl7-org:v3"
	NSSDTC = "urn:hl7-org:sdtc"
)

// Well-known OIDs.
const (
	TemplateSDMMR = "1.2.250.1.213.1.1.1.30"
	OIDFINESSOrg  = "1.2.250.1.71.4.2.2" // organisation id: "1"+FINESS
	OIDPerson     = "1.2.250.1.71.4.2.1" // professional id: "8"+RPPS or "0"+ADELI
	OIDTAASIP     = "1.2.250.1.213.1.1.4.322"
	OIDLOINC      = "2.16.840.1.113883.6.1"
)

// ErrUnversioned means the document has no usable setId or versionNumber:
// CDA makes both optional, but the hub tracks documents by (setId,
// versionNumber) and refuses one it cannot place.
var ErrUnversioned = errors.New("the document cannot be versioned")

// ErrNotSDMMR means the document is a CDA (or not even that) of another type.
var ErrNotSDMMR = errors.New("not an SDM-MR document: the templateId 1.2.250.1.213.1.1.1.30 is missing")

// NotCDAError is returned for XML that is not a CDA document at all (a
// METADATA.XML, a stylesheet): its root is not an HL7 v3 ClinicalDocument.
// It matches ErrNotSDMMR with errors.Is, and says what the root is.
type NotCDAError struct {
	Root, Namespace string
}

func (e *NotCDAError) Error() string {
	ns := "no namespace"
	if e.Namespace != "" {
		ns = "namespace " + e.Namespace
	}
	return fmt.Sprintf("not a CDA document (root element %s, %s; a CDA document's is ClinicalDocument in %s)", e.Root, ns, NSHL7)
}

// Is makes errors.Is(err, ErrNotSDMMR) hold: a document that is not a CDA
// is not an SDM-MR either.
func (e *NotCDAError) Is(target error) bool { return target == ErrNotSDMMR }

// NewContext returns an XPath context on doc with the cda and sdtc prefixes.
func NewContext(doc types.Document) (*xpath.Context, error) {
	root, err := doc.DocumentElement()
	if err != nil {
		return nil, fmt.Errorf("document has no root element: %w", err)
	}
	ctx, err := xpath.NewContext(root)
	if err != nil {
		return nil, fmt.Errorf("creating XPath context: %w", err)
	}
	for p, u := range map[string]string{"cda": NSHL7, "sdtc": NSSDTC} {
		if err := ctx.RegisterNS(p, u); err != nil {
			ctx.Free()
			return nil, fmt.Errorf("registering namespace %s: %w", p, err)
		}
	}
	return ctx, nil
}

// ModelVersion reads the SDM-MR model version of doc: the extension of the
// templateId 1.2.250.1.213.1.1.1.30, "2017" when it has none.
func ModelVersion(doc types.Document) (string, error) {
	// Two XPath queries: far cheaper than a tree snapshot, and the
	// validator calls this before anything else.
	ctx, err := NewContext(doc)
	if err != nil {
		return "", err
	}
	defer ctx.Free()
	if n, err := doc.DocumentElement(); err == nil {
		if root, ok := n.(types.Element); ok && (root.LocalName() != "ClinicalDocument" || root.NamespaceURI() != NSHL7) {
			return "", &NotCDAError{Root: root.LocalName(), Namespace: root.NamespaceURI()}
		}
	}
	// string() results are not usable through this binding (it prints the
	// Go type): select the element and read its attribute.
	nodes := xpath.NodeList(ctx.Find(`/cda:ClinicalDocument/cda:templateId[@root='` + TemplateSDMMR + `']`))
	if len(nodes) == 0 {
		return "", ErrNotSDMMR
	}
	el, ok := nodes[0].(types.Element)
	if !ok {
		return "", ErrNotSDMMR
	}
	v := ""
	if a, err := el.GetAttribute("extension"); err == nil && a != nil {
		v = strings.TrimSpace(a.Value())
	}
	if v == "" {
		v = "2017"
	}
	return v, nil
}

func (t *tree) modelVersion() (string, error) {
	r := t.root
	if r == nil {
		return "", ErrNotSDMMR
	}
	if !r.is("ClinicalDocument") {
		ns := r.ns
		switch ns {
		case "-":
			ns = ""
		case "sdtc":
			ns = NSSDTC
		}
		return "", &NotCDAError{Root: r.name, Namespace: ns}
	}
	for c := r.first; c != nil; c = c.next {
		if c.is("templateId") && c.attr("root") == TemplateSDMMR {
			if v := c.attr("extension"); v != "" {
				return v, nil
			}
			return "2017", nil
		}
	}
	return "", ErrNotSDMMR
}

// ExtractHeader reads the header of an SDM-MR document.
func ExtractHeader(doc types.Document) (*sdmmr.Header, error) {
	t, err := snapshot(doc)
	if err != nil {
		return nil, err
	}
	return t.header()
}

func (t *tree) header() (*sdmmr.Header, error) {
	mv, err := t.modelVersion()
	if err != nil {
		return nil, err
	}
	cd := t.root
	h := &sdmmr.Header{ModelVersion: mv}
	h.DocumentID = joinII(cd.child("id").attr("root"), cd.child("id").attr("extension"))
	h.SetID = joinII(cd.child("setId").attr("root"), cd.child("setId").attr("extension"))
	if h.DocumentID == "" {
		return nil, errors.New("the document has no id (ClinicalDocument/id)")
	}
	if h.SetID == "" {
		return nil, fmt.Errorf("%w: it has no setId (ClinicalDocument/setId)", ErrUnversioned)
	}
	vn := cd.child("versionNumber").attr("value")
	if h.VersionNumber, err = strconv.Atoi(vn); err != nil || h.VersionNumber < 1 {
		return nil, fmt.Errorf("%w: versionNumber %q is not a positive integer", ErrUnversioned, vn)
	}
	h.EffectiveTime = cd.child("effectiveTime").attr("value")

	cust := cd.path("custodian", "assignedCustodian", "representedCustodianOrganization")
	for _, id := range cust.children("id") {
		if id.attr("root") == OIDFINESSOrg {
			h.CustodianID = id.attr("extension")
			break
		}
	}
	h.FINESS = finessOf(h.CustodianID)
	h.CustodianName = cust.child("name").textContent()

	t.patient(&h.Patient)

	// Author, organisations.
	if aa := cd.path("author", "assignedAuthor"); aa != nil {
		h.Author = person(aa)
		if ro := aa.child("representedOrganization"); ro != nil {
			h.Organisations = appendOrg(h.Organisations, "author", ro)
		}
	}
	if cust != nil {
		h.Organisations = appendOrg(h.Organisations, "custodian", cust)
	}
	h.Organisations = appendOrg(h.Organisations, "legal_authenticator",
		cd.path("legalAuthenticator", "assignedEntity", "representedOrganization"))
	for _, doc := range cd.children("documentationOf") {
		se := doc.child("serviceEvent")
		if se == nil {
			continue
		}
		if c := code(se.child("code")); c != nil && h.ServiceEvent == nil {
			h.ServiceEvent = c
		}
		for _, pf := range se.children("performer") {
			h.Organisations = appendOrg(h.Organisations, "service_event_performer",
				pf.path("assignedEntity", "representedOrganization"))
		}
	}
	for _, p := range cd.children("participant") {
		h.Organisations = appendOrg(h.Organisations, "participant_scoping",
			p.path("associatedEntity", "scopingOrganization"))
	}
	for _, a := range cd.children("authorization") {
		if c := code(a.path("consent", "code")); c != nil {
			h.Consents = append(h.Consents, sdmmr.Consent{Kind: consentKind(c, nil), Code: *c, Source: "header"})
		}
	}
	h.Facility = code(cd.path("componentOf", "encompassingEncounter", "location", "healthCareFacility", "code"))
	return h, nil
}

func (t *tree) patient(p *sdmmr.Patient) {
	pr := t.root.path("recordTarget", "patientRole")
	if pr == nil {
		return
	}
	patientIDs(pr, p)
	// The COG code sits in county; v2.x examples put it in censusTract.
	for _, addr := range pr.children("addr") {
		if p.ResidenceCode = addr.child("county").val(); p.ResidenceCode == "" {
			p.ResidenceCode = addr.child("censusTract").val()
		}
		if p.ResidenceCode != "" {
			break
		}
	}
	pt := pr.child("patient")
	if pt == nil {
		return
	}
	patientNames(pt, p)
	p.Sex = pt.child("administrativeGenderCode").attr("code")
	p.BirthTime = pt.child("birthTime").attr("value")
	p.BirthPlace = pt.path("birthplace", "place", "addr", "county").val()
	p.Deceased = boolAttr(pt.sdtc("deceasedInd"))
	p.DeceasedTime = pt.sdtc("deceasedTime").attr("value")
	p.MultipleBirth = boolAttr(pt.sdtc("multipleBirthInd"))
	p.BirthOrder = intAttr(pt.sdtc("multipleBirthOrderNumber"))
	if m := t.mother(); m != nil {
		p.Mother = m
	}
}

// patientIDs reads the identifiers of patientRole: the INS (NIR, else the
// INS-C), the INS-C, the IPPs.
func patientIDs(pr *node, p *sdmmr.Patient) {
	for _, id := range pr.children("id") {
		root, ext := id.attr("root"), id.attr("extension")
		if ext == "" {
			continue
		}
		switch {
		case root == sdmmr.OIDINSNIR || root == sdmmr.OIDINSNIRTest:
			if p.INS == "" || p.INSRoot == sdmmr.OIDINSC {
				p.INS, p.INSRoot = ext, root
			}
		case root == sdmmr.OIDINSC:
			p.INSC = ext
			if p.INS == "" {
				p.INS, p.INSRoot = ext, root
			}
		case sdmmr.IsINSRoot(root):
			// INS-NIA and its test root: not an IPP, not an INS-NIR.
		default:
			p.IPP = append(p.IPP, sdmmr.ID{Root: root, Extension: ext})
		}
	}
}

// patientNames reads the patient's names by qualifier, the first of each.
func patientNames(pt *node, p *sdmmr.Patient) {
	for _, name := range pt.children("name") {
		for c := name.first; c != nil; c = c.next {
			q := c.attr("qualifier")
			v := c.val()
			if v == "" {
				continue
			}
			switch {
			case c.is("family") && q == "BR" && p.BirthFamily == "":
				p.BirthFamily = v
			case c.is("family") && (q == "CL" || q == "SP") && p.UsedFamily == "":
				// SP (spouse name) is how v2.x wrote a married used name.
				p.UsedFamily = v
			case c.is("given") && q == "BR" && p.BirthGiven == "":
				p.BirthGiven = v
			case c.is("given") && q == "CL" && p.UsedGiven == "":
				p.UsedGiven = v
			case c.is("given") && q == "" && p.Given == "":
				p.Given = v
			}
		}
	}
}

// mother is the first informant who is the mother (MTH), with her birth
// names; nil when none is.
func (t *tree) mother() *sdmmr.Relative {
	for _, inf := range t.root.children("informant") {
		re := inf.child("relatedEntity")
		if re == nil || re.child("code").attr("code") != "MTH" {
			continue
		}
		m := &sdmmr.Relative{Relationship: "MTH"}
		for c := re.path("relatedPerson", "name").first; c != nil; c = c.next {
			if c.attr("qualifier") != "BR" {
				continue
			}
			if c.is("family") {
				m.BirthFamily = c.val()
			} else if c.is("given") {
				m.BirthGiven = c.val()
			}
		}
		return m
	}
	return nil
}

// person reads an assignedAuthor / assignedEntity.
func person(n *node) *sdmmr.Person {
	if n == nil {
		return nil
	}
	p := &sdmmr.Person{}
	for _, id := range n.children("id") {
		p.ID = ii(id)
		if p.ID.Root == OIDPerson {
			break
		}
	}
	if p.ID.Root == OIDPerson {
		p.RPPS, p.ADELI = splitPersonID(p.ID.Extension)
	}
	p.Profession = code(n.child("code"))
	if ap := n.child("assignedPerson"); ap != nil {
		p.Name = ap.child("name").textContent()
	}
	if p.ID.IsZero() && p.Profession == nil && p.Name == "" {
		return nil
	}
	return p
}

// splitPersonID applies the 1.2.250.1.71.4.2.1 prefix convention: "8"+RPPS
// (11 digits), "0"+ADELI (9 digits).
func splitPersonID(ext string) (rpps, adeli string) {
	switch {
	case len(ext) == 12 && ext[0] == '8':
		return ext[1:], ""
	case len(ext) == 10 && ext[0] == '0':
		return "", ext[1:]
	}
	return "", ""
}

// finessOf applies the "1"+FINESS convention; an id that does not follow it
// is kept as sent.
func finessOf(id string) string {
	if len(id) == 10 && id[0] == '1' {
		return id[1:]
	}
	return id
}

func appendOrg(orgs []sdmmr.Organisation, role string, n *node) []sdmmr.Organisation {
	if n == nil {
		return orgs
	}
	o := sdmmr.Organisation{Role: role}
	for _, id := range n.children("id") {
		o.ID = ii(id)
		if o.ID.Root == OIDFINESSOrg {
			break
		}
	}
	if o.ID.Root == OIDFINESSOrg {
		switch ext := o.ID.Extension; {
		case len(ext) == 10 && ext[0] == '1':
			o.FINESS = ext[1:]
		case len(ext) == 12 && ext[0] == '8':
			o.RPPS = ext[1:]
		}
	}
	o.Name = n.child("name").textContent()
	if o.ID.IsZero() && o.Name == "" {
		return orgs
	}
	return append(orgs, o)
}

// consentKind classifies a consent code. value is the BL value of a body
// 64292-6 observation (nil in the header).
func consentKind(c *sdmmr.Code, value *bool) string {
	switch {
	case c.Code == "GEN-315":
		return sdmmr.ConsentOpposition
	case c.Code == "GEN-317":
		return sdmmr.ConsentNonOpposition
	case c.Code == "64292-6":
		if value != nil && !*value {
			return sdmmr.ConsentNonOppositionRefused
		}
		return sdmmr.ConsentNonOpposition
	case isERNConsent(c.Code):
		return sdmmr.ConsentERN
	}
	return sdmmr.ConsentOther
}

func isERNConsent(code string) bool {
	n, ok := strings.CutPrefix(code, "GEN-")
	if !ok {
		return false
	}
	v, err := strconv.Atoi(n)
	return err == nil && v >= 320 && v <= 343
}

func joinII(root, ext string) string {
	if ext == "" {
		return root
	}
	return root + "^" + ext
}

// Package cda reads the CDA R2 header and the SDM-MR body out of a parsed
// document. It never parses: it works on the tree that validation used.
package cda

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/lestrrat-go/libxml2/types"
	"github.com/lestrrat-go/libxml2/xpath"
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
	OIDINSNIR     = "1.2.250.1.213.1.4.8"
	OIDINSNIRTest = "1.2.250.1.213.1.4.10"
	OIDINSC       = "1.2.250.1.213.1.4.2"
)

// ErrNotSDMMR means the document is a CDA (or not even that) of another type.
var ErrNotSDMMR = errors.New("not an SDM-MR document: the templateId 1.2.250.1.213.1.1.1.30 is missing")

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
	ctx, err := NewContext(doc)
	if err != nil {
		return "", err
	}
	defer ctx.Free()
	return modelVersion(ctx)
}

func modelVersion(ctx *xpath.Context) (string, error) {
	if !xpath.Bool(ctx.Find(`boolean(/cda:ClinicalDocument/cda:templateId[@root='` + TemplateSDMMR + `'])`)) {
		return "", ErrNotSDMMR
	}
	v := strings.TrimSpace(xpath.String(ctx.Find(`string(/cda:ClinicalDocument/cda:templateId[@root='` + TemplateSDMMR + `']/@extension)`)))
	if v == "" {
		v = "2017"
	}
	return v, nil
}

// ExtractHeader reads the header of an SDM-MR document.
func ExtractHeader(doc types.Document) (*sdmmr.Header, error) {
	ctx, err := NewContext(doc)
	if err != nil {
		return nil, err
	}
	defer ctx.Free()
	mv, err := modelVersion(ctx)
	if err != nil {
		return nil, err
	}
	s := func(expr string) string {
		return strings.TrimSpace(xpath.String(ctx.Find("string(" + expr + ")")))
	}
	h := &sdmmr.Header{ModelVersion: mv}
	h.DocumentID = joinII(s(`/cda:ClinicalDocument/cda:id/@root`), s(`/cda:ClinicalDocument/cda:id/@extension`))
	h.SetID = joinII(s(`/cda:ClinicalDocument/cda:setId/@root`), s(`/cda:ClinicalDocument/cda:setId/@extension`))
	if h.DocumentID == "" {
		return nil, errors.New("the document has no id (ClinicalDocument/id)")
	}
	if h.SetID == "" {
		return nil, errors.New("the document has no setId (ClinicalDocument/setId): its version cannot be tracked")
	}
	vn := s(`/cda:ClinicalDocument/cda:versionNumber/@value`)
	if h.VersionNumber, err = strconv.Atoi(vn); err != nil || h.VersionNumber < 1 {
		return nil, fmt.Errorf("versionNumber %q is not a positive integer", vn)
	}
	h.EffectiveTime = s(`/cda:ClinicalDocument/cda:effectiveTime/@value`)
	h.CustodianID = s(`/cda:ClinicalDocument/cda:custodian/cda:assignedCustodian/cda:representedCustodianOrganization/cda:id[@root='` + OIDFINESSOrg + `']/@extension`)
	h.FINESS = strings.TrimPrefix(h.CustodianID, "1")
	if len(h.CustodianID) != 10 || h.CustodianID[0] != '1' {
		h.FINESS = h.CustodianID // not the "1"+FINESS convention: keep as sent
	}

	pr := `/cda:ClinicalDocument/cda:recordTarget/cda:patientRole`
	p := &h.Patient
	for _, root := range []string{OIDINSNIR, OIDINSNIRTest, OIDINSC} {
		if v := s(pr + `/cda:id[@root='` + root + `']/@extension`); v != "" {
			p.INS, p.INSRoot = v, root
			break
		}
	}
	ids := xpath.NodeList(ctx.Find(pr + `/cda:id`))
	for _, n := range ids {
		el, ok := n.(types.Element)
		if !ok {
			continue
		}
		id := sdmmr.ID{Root: attr(el, "root"), Extension: attr(el, "extension")}
		if isINSRoot(id.Root) || id.Extension == "" {
			continue
		}
		p.IPP = append(p.IPP, id)
	}
	pt := pr + `/cda:patient`
	p.BirthFamily = s(pt + `/cda:name/cda:family[@qualifier='BR']`)
	p.BirthGiven = s(pt + `/cda:name/cda:given[@qualifier='BR']`)
	p.Given = s(pt + `/cda:name/cda:given[not(@qualifier)]`)
	p.Sex = s(pt + `/cda:administrativeGenderCode/@code`)
	p.BirthTime = s(pt + `/cda:birthTime/@value`)
	p.BirthPlace = s(pt + `/cda:birthplace/cda:place/cda:addr/cda:county`)
	p.ResidenceCode = s(pr + `/cda:addr/cda:county`)
	return h, nil
}

func isINSRoot(root string) bool {
	switch root {
	case OIDINSNIR, OIDINSNIRTest, OIDINSC, "1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.11":
		return true
	}
	return false
}

func attr(el types.Element, name string) string {
	a, err := el.GetAttribute(name)
	if err != nil || a == nil {
		return ""
	}
	return strings.TrimSpace(a.Value())
}

func joinII(root, ext string) string {
	if ext == "" {
		return root
	}
	return root + "^" + ext
}

// Package cdasniff reads the little of a CDA header that the unpacker and the
// mail builder need (ids, title, patient, custodian), as a stream of
// encoding/xml tokens over untrusted bytes: it stops at the header's end,
// tolerates what is broken after the root (a broken CDA is still a CDA; the
// validator says what is wrong with it), bounds the nesting, and needs no
// cgo.
//
// It is not pkg/cda, which extracts the full SDM-MR header and body from a
// document libxml2 has parsed (after the XSD): the unpacker runs before any
// parse, on every XML entry of a hostile archive, to tell a CDA from other
// XML and group documents by patient; and pkg/cda's header keeps neither the
// title nor the displayName that the MSSanté subject is built from.
package cdasniff

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding/unicode"

	"github.com/bndmr/hub/pkg/sdmmr"
)

// Header is the little read from a CDA header: enough to tell a CDA from
// other XML, to group documents by patient and to build metadata and
// subjects in tests. The validator parses the document for real.
type Header struct {
	Namespace     string
	ID            ID // ClinicalDocument/id
	Code          string
	DisplayName   string
	Title         string
	EffectiveTime string
	PatientIDs    []ID // recordTarget/patientRole/id
	Family, Given string
	BirthTime     string
	Gender        string
	Custodian     ID // representedCustodianOrganization/id
	CustodianName string
}

// ID is an instance identifier (HL7 II / XDS CX): an OID and an extension.
type ID struct{ Root, Ext string }

func (c ID) String() string {
	if c.Ext == "" {
		return c.Root
	}
	return c.Root + "^" + c.Ext
}

// XDS renders the identifier as an XDS CX value: "ext^^^&root&ISO".
func (c ID) XDS() string { return c.Ext + "^^^&" + c.Root + "&ISO" }

// INS returns the national identifier among the patient ids, if any.
func (h *Header) INS() (ID, bool) {
	for _, id := range h.PatientIDs {
		if sdmmr.IsINSRoot(id.Root) {
			return id, true
		}
	}
	return ID{}, false
}

// maxXMLDepth bounds element nesting while sniffing: a CDA header is about
// ten levels deep.
const maxXMLDepth = 256

// TrimXMLStart prepares XML for encoding/xml: a UTF-16 document (with its
// byte order mark) is transcoded to UTF-8, then a UTF-8 byte order mark and
// leading white space are skipped. The caller keeps the original bytes.
func TrimXMLStart(b []byte) []byte {
	if bytes.HasPrefix(b, []byte{0xFF, 0xFE}) || bytes.HasPrefix(b, []byte{0xFE, 0xFF}) {
		if dec, err := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder().Bytes(b); err == nil {
			b = dec
		}
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	return bytes.TrimLeft(b, " \t\r\n")
}

// CharsetReader is the xml.Decoder CharsetReader: go-message's charset
// table, except that UTF-16 was already transcoded by TrimXMLStart.
func CharsetReader(label string, r io.Reader) (io.Reader, error) {
	if strings.HasPrefix(strings.ToLower(label), "utf-16") {
		return r, nil
	}
	return charset.Reader(label, r)
}

// LooksLikeXML is the cheap test done before any parsing.
func LooksLikeXML(b []byte) bool {
	b = TrimXMLStart(b)
	return len(b) > 0 && b[0] == '<'
}

// Read reads data up to the end of the CDA header (the first
// ClinicalDocument/component) and reports whether its root element is a
// ClinicalDocument. It tolerates errors after the root: a broken CDA is still
// a CDA, and the validator will say what is wrong with it.
func Read(data []byte) (*Header, bool) { return sniff(data, true) }

// ReadPatient is Read stopping after recordTarget: what the unpacker needs.
func ReadPatient(data []byte) (*Header, bool) { return sniff(data, false) }

// sniff reads the header with RawToken (no namespace bookkeeping):
// names are matched on their local part, prefixes ignored.
func sniff(data []byte, full bool) (*Header, bool) {
	if !LooksLikeXML(data) {
		return nil, false
	}
	d := xml.NewDecoder(bytes.NewReader(TrimXMLStart(data)))
	d.CharsetReader = CharsetReader
	var (
		h     *Header
		stack []string
		text  *string // where character data goes, when inside a wanted element
	)
	for {
		tok, err := d.RawToken()
		if err != nil {
			return h.normalise(), h != nil
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if h == nil {
				if t.Name.Local != "ClinicalDocument" {
					return nil, false
				}
				h = &Header{Namespace: rootNamespace(t)}
				stack = append(stack, t.Name.Local)
				continue
			}
			if len(stack) >= maxXMLDepth {
				return h.normalise(), true
			}
			stack = append(stack, t.Name.Local)
			p := strings.Join(stack[1:], "/")
			text = nil
			switch p {
			case "component":
				return h.normalise(), true // the body: the header is over
			case "id":
				h.ID = ID{Attr(t, "root"), Attr(t, "extension")}
			case "code":
				h.Code, h.DisplayName = Attr(t, "code"), Attr(t, "displayName")
			case "title":
				text = &h.Title
			case "effectiveTime":
				h.EffectiveTime = Attr(t, "value")
			case "recordTarget/patientRole/id":
				h.PatientIDs = append(h.PatientIDs, ID{Attr(t, "root"), Attr(t, "extension")})
			case "recordTarget/patientRole/patient/name/family":
				if h.Family == "" {
					text = &h.Family
				}
			case "recordTarget/patientRole/patient/name/given":
				if h.Given == "" {
					text = &h.Given
				}
			case "recordTarget/patientRole/patient/administrativeGenderCode":
				h.Gender = Attr(t, "code")
			case "recordTarget/patientRole/patient/birthTime":
				h.BirthTime = Attr(t, "value")
			case "custodian/assignedCustodian/representedCustodianOrganization/id":
				if h.Custodian.Root == "" {
					h.Custodian = ID{Attr(t, "root"), Attr(t, "extension")}
				}
			case "custodian/assignedCustodian/representedCustodianOrganization/name":
				text = &h.CustodianName
			}
		case xml.EndElement:
			if !full && len(stack) == 2 && t.Name.Local == "recordTarget" {
				return h.normalise(), true
			}
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			text = nil
		case xml.CharData:
			if text != nil {
				*text += string(t)
			}
		}
	}
}

// normalise collapses the white space of the collected texts.
func (h *Header) normalise() *Header {
	if h != nil {
		h.Title = collapseSpace(h.Title)
		h.Family = collapseSpace(h.Family)
		h.Given = collapseSpace(h.Given)
		h.CustodianName = collapseSpace(h.CustodianName)
	}
	return h
}

// rootNamespace returns the namespace the root element's prefix is bound to.
func rootNamespace(t xml.StartElement) string {
	for _, a := range t.Attr {
		if (t.Name.Space == "" && a.Name.Space == "" && a.Name.Local == "xmlns") ||
			(t.Name.Space != "" && a.Name.Space == "xmlns" && a.Name.Local == t.Name.Space) {
			return a.Value
		}
	}
	return ""
}

// Attr is the value of t's attribute named local (any prefix but xmlns),
// trimmed.
func Attr(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local && a.Name.Space != "xmlns" {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

// collapseSpace trims and collapses white-space runs: pretty-printers break
// lines inside values ("CABINET M.\n      MEDECIN5729").
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

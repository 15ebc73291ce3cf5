package mssante

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// XDS classification schemes and identification schemes (IHE ITI TF-3
// §4.2.5) that the unpacker reads.
const (
	schemeDocAuthor      = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
	schemeSetAuthor      = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
	schemeFormatCode     = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
	schemeTypeCode       = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
	schemeClassCode      = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
	schemeDocPatientID   = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
	schemeDocUniqueID    = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
	schemeSetPatientID   = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
	schemeSetUniqueID    = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
	schemeSetSourceID    = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
	objectTypeDocEntry   = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
	formatCodeSystemOID  = "1.2.250.1.213.1.1.4.2.282" // TRE_A06, the CI-SIS formatCode system
	FormatCodeSDMMR      = "urn:asip:ci-sis:sdm-mr:2017"
	TypeCodeSDMMR        = "34133-9"
	maxMetadataDepth     = 64
	maxMetadataValueSize = 1 << 16
)

// metadata is what the unpacker keeps of an XDS SubmitObjectsRequest.
type metadata struct {
	SetUniqueID, SetSourceID, SetPatientID string
	SetAuthorInstitution                   []string
	Entries                                []metaEntry
}

// metaEntry is one XDSDocumentEntry (an ExtrinsicObject).
type metaEntry struct {
	ID, MimeType, ObjectType string
	URI, Hash, Size          string
	CreationTime             string
	Title                    string
	PatientID, UniqueID      string
	FormatCode, TypeCode     string
	ClassCode                string
	AuthorInstitution        []string
}

// errMetadataDTD marks a hostile METADATA.XML: a DTD is how external and
// expanding entities come in, and XDS metadata never needs one.
var errMetadataDTD = errors.New("METADATA.XML declares a DTD (<!DOCTYPE> or another <! directive), which XDS metadata never needs")

// parseMetadata reads METADATA.XML with encoding/xml, which neither fetches
// nor expands external entities. Element names are matched on their local
// part: prefixes vary between producers and are sometimes undeclared.
func parseMetadata(data []byte) (*metadata, error) {
	d := xml.NewDecoder(bytes.NewReader(trimXMLStart(data)))
	d.CharsetReader = xmlCharset
	r := &metadataReader{md: &metadata{}}
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return r.md, nil
		}
		if err != nil {
			return nil, fmt.Errorf("METADATA.XML is not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, errMetadataDTD
		case xml.StartElement:
			if len(r.stack) >= maxMetadataDepth {
				return nil, fmt.Errorf("METADATA.XML nests elements deeper than %d levels", maxMetadataDepth)
			}
			r.start(t)
		case xml.CharData:
			if r.value != nil && r.value.Len() < maxMetadataValueSize {
				r.value.Write(t)
			}
		case xml.EndElement:
			r.end(t.Name.Local)
		}
	}
}

// metadataReader is where parseMetadata is in METADATA.XML.
type metadataReader struct {
	md    *metadata
	stack []string
	entry *metaEntry // inside an ExtrinsicObject
	inSet bool       // inside the submission set RegistryPackage
	// current Classification
	clsScheme, clsNode, clsCoding string
	inCls                         bool
	// current Slot
	slotName   string
	slotValues []string
	value      *strings.Builder
	// current ExternalIdentifier
	eiScheme, eiValue, eiName string
	inEI                      bool
}

func (r *metadataReader) start(t xml.StartElement) {
	r.stack = append(r.stack, t.Name.Local)
	switch t.Name.Local {
	case "ExtrinsicObject":
		r.md.Entries = append(r.md.Entries, metaEntry{
			ID: attr(t, "id"), MimeType: attr(t, "mimeType"), ObjectType: attr(t, "objectType"),
		})
		r.entry = &r.md.Entries[len(r.md.Entries)-1]
	case "RegistryPackage":
		r.inSet = true
	case "Classification":
		r.inCls = true
		r.clsScheme, r.clsNode, r.clsCoding = attr(t, "classificationScheme"), attr(t, "nodeRepresentation"), ""
	case "Slot":
		r.slotName, r.slotValues = attr(t, "name"), nil
	case "Value":
		r.value = &strings.Builder{}
	case "ExternalIdentifier":
		r.inEI = true
		r.eiScheme, r.eiValue, r.eiName = attr(t, "identificationScheme"), attr(t, "value"), ""
	case "LocalizedString":
		parent := ""
		if len(r.stack) >= 3 {
			parent = r.stack[len(r.stack)-3]
		}
		switch {
		case r.inEI:
			r.eiName = attr(t, "value")
		case r.entry != nil && parent == "ExtrinsicObject" && r.stack[len(r.stack)-2] == "Name":
			r.entry.Title = collapseSpace(attr(t, "value"))
		}
	}
}

func (r *metadataReader) end(name string) {
	if len(r.stack) > 0 {
		r.stack = r.stack[:len(r.stack)-1]
	}
	switch name {
	case "Value":
		if r.value != nil {
			r.slotValues = append(r.slotValues, r.value.String())
			r.value = nil
		}
	case "Slot":
		endSlot(r.md, r.entry, r.inSet, r.inCls, r.clsScheme, &r.clsCoding, r.slotName, r.slotValues)
		r.slotName, r.slotValues = "", nil
	case "Classification":
		if e := r.entry; e != nil {
			switch {
			case r.clsScheme == schemeFormatCode,
				r.clsScheme == "" && r.clsCoding == formatCodeSystemOID:
				e.FormatCode = collapseSpace(r.clsNode)
			case r.clsScheme == schemeTypeCode:
				e.TypeCode = collapseSpace(r.clsNode)
			case r.clsScheme == schemeClassCode:
				e.ClassCode = collapseSpace(r.clsNode)
			}
		}
		r.inCls = false
	case "ExternalIdentifier":
		endExternalIdentifier(r.md, r.entry, r.inSet, r.eiScheme, r.eiName, collapseSpace(r.eiValue))
		r.inEI = false
	case "ExtrinsicObject":
		r.entry = nil
	case "RegistryPackage":
		r.inSet = false
	}
}

func endSlot(md *metadata, entry *metaEntry, inSet, inCls bool, clsScheme string, clsCoding *string, name string, values []string) {
	first := ""
	if len(values) > 0 {
		first = collapseSpace(values[0])
	}
	if inCls {
		switch name {
		case "codingScheme":
			*clsCoding = first
		case "authorInstitution":
			for _, v := range values {
				v = collapseSpace(v)
				switch {
				case entry != nil && (clsScheme == schemeDocAuthor || clsScheme == ""):
					entry.AuthorInstitution = append(entry.AuthorInstitution, v)
				case inSet && (clsScheme == schemeSetAuthor || clsScheme == ""):
					md.SetAuthorInstitution = append(md.SetAuthorInstitution, v)
				}
			}
		}
		return
	}
	if entry == nil {
		return
	}
	switch name {
	case "hash":
		entry.Hash = strings.Join(strings.Fields(first), "")
	case "size":
		entry.Size = strings.Join(strings.Fields(first), "")
	case "URI":
		entry.URI = joinURI(values)
	case "creationTime":
		entry.CreationTime = first
	}
}

// joinURI rebuilds a URI slot. XDS splits values longer than a slot value
// may be into "1|first part", "2|second part"...
func joinURI(values []string) string {
	if len(values) <= 1 {
		if len(values) == 0 {
			return ""
		}
		return strings.TrimSpace(values[0])
	}
	type piece struct {
		n int
		s string
	}
	var pieces []piece
	for _, v := range values {
		v = strings.TrimSpace(v)
		i := strings.IndexByte(v, '|')
		n, err := strconv.Atoi(v[:max(i, 0)])
		if i < 0 || err != nil {
			return strings.TrimSpace(values[0]) // not the split form
		}
		pieces = append(pieces, piece{n, v[i+1:]})
	}
	sort.SliceStable(pieces, func(a, b int) bool { return pieces[a].n < pieces[b].n })
	var b strings.Builder
	for _, p := range pieces {
		b.WriteString(p.s)
	}
	return b.String()
}

func endExternalIdentifier(md *metadata, entry *metaEntry, inSet bool, scheme, name, value string) {
	switch {
	case entry != nil && (scheme == schemeDocPatientID || name == "XDSDocumentEntry.patientId"):
		entry.PatientID = value
	case entry != nil && (scheme == schemeDocUniqueID || name == "XDSDocumentEntry.uniqueId"):
		entry.UniqueID = value
	case inSet && (scheme == schemeSetPatientID || name == "XDSSubmissionSet.patientId"):
		md.SetPatientID = value
	case inSet && (scheme == schemeSetUniqueID || name == "XDSSubmissionSet.uniqueId"):
		md.SetUniqueID = value
	case inSet && (scheme == schemeSetSourceID || name == "XDSSubmissionSet.sourceId"):
		md.SetSourceID = value
	}
}

// parseCX reads an XDS CX patient id, "ext^^^&root&ISO", into a cx. It
// returns false for anything else.
func parseCX(s string) (cx, bool) {
	parts := strings.Split(s, "^")
	if len(parts) < 4 || strings.TrimSpace(parts[0]) == "" {
		return cx{}, false
	}
	auth := strings.Split(parts[3], "&")
	if len(auth) < 2 || strings.TrimSpace(auth[1]) == "" {
		return cx{}, false
	}
	return cx{Root: strings.TrimSpace(auth[1]), Ext: strings.TrimSpace(parts[0])}, true
}

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

	"github.com/bndmr/hub/pkg/cdasniff"
	"github.com/bndmr/hub/pkg/xds"
)

// Bounds of METADATA.XML (its identifiers are pkg/xds's).
const (
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
	d := xml.NewDecoder(bytes.NewReader(cdasniff.TrimXMLStart(data)))
	d.CharsetReader = cdasniff.CharsetReader
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
	// A Value holds text alone: an element starting inside it (or a Value
	// never closed) leaves it unread rather than glued to later text.
	r.value = nil
	switch t.Name.Local {
	case "ExtrinsicObject":
		r.md.Entries = append(r.md.Entries, metaEntry{
			ID: cdasniff.Attr(t, "id"), MimeType: cdasniff.Attr(t, "mimeType"), ObjectType: cdasniff.Attr(t, "objectType"),
		})
		r.entry = &r.md.Entries[len(r.md.Entries)-1]
	case "RegistryPackage":
		r.inSet = true
	case "Classification":
		r.inCls = true
		r.clsScheme, r.clsNode, r.clsCoding = cdasniff.Attr(t, "classificationScheme"), cdasniff.Attr(t, "nodeRepresentation"), ""
	case "Slot":
		r.slotName, r.slotValues = cdasniff.Attr(t, "name"), nil
	case "Value":
		r.value = &strings.Builder{}
	case "ExternalIdentifier":
		r.inEI = true
		r.eiScheme, r.eiValue, r.eiName = cdasniff.Attr(t, "identificationScheme"), cdasniff.Attr(t, "value"), ""
	case "LocalizedString":
		parent := ""
		if len(r.stack) >= 3 {
			parent = r.stack[len(r.stack)-3]
		}
		switch {
		case r.inEI:
			r.eiName = cdasniff.Attr(t, "value")
		case r.entry != nil && parent == "ExtrinsicObject" && r.stack[len(r.stack)-2] == "Name":
			r.entry.Title = collapseSpace(cdasniff.Attr(t, "value"))
		}
	}
}

func (r *metadataReader) end(name string) {
	if len(r.stack) > 0 {
		r.stack = r.stack[:len(r.stack)-1]
	}
	if name != "Value" {
		r.value = nil // the same, for an end tag inside a Value
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
			case r.clsScheme == xds.SchemeFormatCode,
				r.clsScheme == "" && r.clsCoding == xds.FormatCodeSystemOID:
				e.FormatCode = collapseSpace(r.clsNode)
			case r.clsScheme == xds.SchemeTypeCode:
				e.TypeCode = collapseSpace(r.clsNode)
			case r.clsScheme == xds.SchemeClassCode:
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
				case entry != nil && (clsScheme == xds.SchemeDocAuthor || clsScheme == ""):
					entry.AuthorInstitution = append(entry.AuthorInstitution, v)
				case inSet && (clsScheme == xds.SchemeSetAuthor || clsScheme == ""):
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
	case entry != nil && (scheme == xds.SchemeDocPatientID || name == "XDSDocumentEntry.patientId"):
		entry.PatientID = value
	case entry != nil && (scheme == xds.SchemeDocUniqueID || name == "XDSDocumentEntry.uniqueId"):
		entry.UniqueID = value
	case inSet && (scheme == xds.SchemeSetPatientID || name == "XDSSubmissionSet.patientId"):
		md.SetPatientID = value
	case inSet && (scheme == xds.SchemeSetUniqueID || name == "XDSSubmissionSet.uniqueId"):
		md.SetUniqueID = value
	case inSet && (scheme == xds.SchemeSetSourceID || name == "XDSSubmissionSet.sourceId"):
		md.SetSourceID = value
	}
}

// parseCX reads an XDS CX patient id, "ext^^^&root&ISO", into a cdasniff.ID. It
// returns false for anything else.
func parseCX(s string) (cdasniff.ID, bool) {
	parts := strings.Split(s, "^")
	if len(parts) < 4 || strings.TrimSpace(parts[0]) == "" {
		return cdasniff.ID{}, false
	}
	auth := strings.Split(parts[3], "&")
	if len(auth) < 2 || strings.TrimSpace(auth[1]) == "" {
		return cdasniff.ID{}, false
	}
	return cdasniff.ID{Root: strings.TrimSpace(auth[1]), Ext: strings.TrimSpace(parts[0])}, true
}

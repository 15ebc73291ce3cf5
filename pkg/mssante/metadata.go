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
	md := &metadata{}
	var (
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
	)
	for {
		tok, err := d.RawToken()
		if err != nil {
			if err == io.EOF {
				break
			}
			return nil, fmt.Errorf("METADATA.XML is not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, errMetadataDTD
		case xml.StartElement:
			if len(stack) >= maxMetadataDepth {
				return nil, fmt.Errorf("METADATA.XML nests elements deeper than %d levels", maxMetadataDepth)
			}
			stack = append(stack, t.Name.Local)
			switch t.Name.Local {
			case "ExtrinsicObject":
				md.Entries = append(md.Entries, metaEntry{
					ID: cdasniff.Attr(t, "id"), MimeType: cdasniff.Attr(t, "mimeType"), ObjectType: cdasniff.Attr(t, "objectType"),
				})
				entry = &md.Entries[len(md.Entries)-1]
			case "RegistryPackage":
				inSet = true
			case "Classification":
				inCls = true
				clsScheme, clsNode, clsCoding = cdasniff.Attr(t, "classificationScheme"), cdasniff.Attr(t, "nodeRepresentation"), ""
			case "Slot":
				slotName, slotValues = cdasniff.Attr(t, "name"), nil
			case "Value":
				value = &strings.Builder{}
			case "ExternalIdentifier":
				inEI = true
				eiScheme, eiValue, eiName = cdasniff.Attr(t, "identificationScheme"), cdasniff.Attr(t, "value"), ""
			case "LocalizedString":
				parent := ""
				if len(stack) >= 3 {
					parent = stack[len(stack)-3]
				}
				switch {
				case inEI:
					eiName = cdasniff.Attr(t, "value")
				case entry != nil && parent == "ExtrinsicObject" && stack[len(stack)-2] == "Name":
					entry.Title = collapseSpace(cdasniff.Attr(t, "value"))
				}
			}
		case xml.CharData:
			if value != nil && value.Len() < maxMetadataValueSize {
				value.Write(t)
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			switch t.Name.Local {
			case "Value":
				if value != nil {
					slotValues = append(slotValues, value.String())
					value = nil
				}
			case "Slot":
				endSlot(md, entry, inSet, inCls, clsScheme, &clsCoding, slotName, slotValues)
				slotName, slotValues = "", nil
			case "Classification":
				if entry != nil {
					switch {
					case clsScheme == xds.SchemeFormatCode,
						clsScheme == "" && clsCoding == xds.FormatCodeSystemOID:
						entry.FormatCode = collapseSpace(clsNode)
					case clsScheme == xds.SchemeTypeCode:
						entry.TypeCode = collapseSpace(clsNode)
					case clsScheme == xds.SchemeClassCode:
						entry.ClassCode = collapseSpace(clsNode)
					}
				}
				inCls = false
			case "ExternalIdentifier":
				endExternalIdentifier(md, entry, inSet, eiScheme, eiName, collapseSpace(eiValue))
				inEI = false
			case "ExtrinsicObject":
				entry = nil
			case "RegistryPackage":
				inSet = false
			}
		}
	}
	return md, nil
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

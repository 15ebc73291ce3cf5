// Package xmldoc parses untrusted XML documents with libxml2 once, safely, so
// that validation and extraction share the same tree.
package xmldoc

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/lestrrat-go/libxml2/parser"
	"github.com/lestrrat-go/libxml2/types"
)

// Limits bound what one document may cost.
type Limits struct {
	MaxBytes int // whole document
}

// DefaultLimits fit every real SDM-MR (the largest official example is 120 kB).
var DefaultLimits = Limits{MaxBytes: 16 << 20}

// ErrDoctype is returned for documents that declare a DTD: a CDA never does,
// and a DTD is how external entities and entity expansion attacks come in.
var ErrDoctype = errors.New("the document declares a DTD (<!DOCTYPE>), which a CDA document never does; refused to avoid external or expanding entities")

// Parse parses data without network access, without loading any DTD and
// without substituting entities.
func Parse(data []byte, lim Limits) (types.Document, error) {
	if lim.MaxBytes > 0 && len(data) > lim.MaxBytes {
		return nil, fmt.Errorf("document is %d bytes, more than the limit of %d", len(data), lim.MaxBytes)
	}
	if bytes.Contains(data, []byte("<!DOCTYPE")) {
		return nil, ErrDoctype
	}
	p := parser.New(parser.XMLParseNoNet | parser.XMLParseNoError | parser.XMLParseNoWarning)
	doc, err := p.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("the document is not well-formed XML: %w", err)
	}
	return doc, nil
}

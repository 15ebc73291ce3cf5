// Package xmldoc parses untrusted XML documents with libxml2 once, safely, so
// that validation and extraction share the same tree.
//
// What a CDA document never needs is refused before libxml2 sees it: a DTD
// (the door to external entities and entity expansion), an encoding other
// than UTF-8 (or a declared ISO-8859-1/US-ASCII), more bytes or more nesting
// than the limits. libxml2 then parses without network access, without
// loading any DTD and without substituting entities. Every refusal is one of
// the errors below, wrapped with the detail.
package xmldoc

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/lestrrat-go/libxml2/parser"
	"github.com/lestrrat-go/libxml2/types"
)

// Limits bound what one document may cost.
type Limits struct {
	MaxBytes int // whole document; 0: no limit
	MaxDepth int // element nesting; 0: libxml2's own limit (256)
}

// DefaultLimits fit every real SDM-MR (the largest official example is
// 120 kB, the deepest nests 17 elements).
var DefaultLimits = Limits{MaxBytes: 16 << 20, MaxDepth: 64}

// Refusals.
var (
	// ErrDoctype is returned for documents that declare a DTD: a CDA never
	// does, and a DTD is how external entities and entity expansion attacks come in.
	ErrDoctype  = errors.New("the document declares a DTD (<!DOCTYPE>), which a CDA document never does; refused to avoid external or expanding entities")
	ErrTooLarge = errors.New("the document is too large")
	ErrTooDeep  = errors.New("the document nests elements too deeply")
	ErrCharset  = errors.New("the document is not in a supported character encoding (CDA documents are UTF-8)")
	ErrNotXML   = errors.New("the document is not well-formed XML")
	ErrEmpty    = errors.New("the document is empty")
)

var xmlDecl = regexp.MustCompile(`^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']`)

// Parse parses data without network access, without loading any DTD and
// without substituting entities.
func Parse(data []byte, lim Limits) (types.Document, error) {
	if lim.MaxBytes > 0 && len(data) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than the limit of %d", ErrTooLarge, len(data), lim.MaxBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrEmpty
	}
	if err := checkStart(data); err != nil {
		return nil, err
	}
	if err := checkCharset(data); err != nil {
		return nil, err
	}
	if bytes.Contains(data, []byte("<!DOCTYPE")) || bytes.Contains(data, []byte("<!ENTITY")) {
		return nil, ErrDoctype
	}
	if lim.MaxDepth > 0 {
		if d := depth(data, lim.MaxDepth); d > lim.MaxDepth {
			return nil, fmt.Errorf("%w: more than %d levels", ErrTooDeep, lim.MaxDepth)
		}
	}
	p := parser.New(parser.XMLParseNoNet | parser.XMLParseNoError | parser.XMLParseNoWarning)
	doc, err := p.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotXML, err)
	}
	return doc, nil
}

// refusal is a refusal with a sentence of its own that still matches its
// kind (one of the errors above) with errors.Is.
type refusal struct {
	kind error
	msg  string
}

func (r *refusal) Error() string { return r.msg }
func (r *refusal) Unwrap() error { return r.kind }

// wide tells UTF-16 and UTF-32 text by its byte-order mark or its first
// character: checkCharset refuses it with its own reason.
func wide(data []byte) bool {
	return bytes.HasPrefix(data, []byte{0xFE, 0xFF}) || bytes.HasPrefix(data, []byte{0xFF, 0xFE}) ||
		bytes.HasPrefix(data, []byte{0, 0}) || bytes.HasPrefix(data, []byte{0, '<'}) || bytes.HasPrefix(data, []byte{'<', 0})
}

// checkStart refuses what is not XML at all (a PDF, a zip, any binary or
// plain text file): XML begins with '<', after an optional byte-order mark
// and white space. Saying so is clearer than the encoding or parser error
// such bytes would otherwise give.
func checkStart(data []byte) error {
	if wide(data) {
		return nil
	}
	b := bytes.TrimLeft(bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF}), " \t\r\n")
	if len(b) > 0 && b[0] == '<' {
		return nil
	}
	what := "a text file?"
	if bytes.IndexByte(b[:min(len(b), 512)], 0) >= 0 || !utf8.Valid(b[:min(len(b), 512)]) {
		what = "a binary file?"
	}
	return &refusal{ErrNotXML, fmt.Sprintf("the document is not XML: it does not begin with '<' (%s)", what)}
}

// checkCharset accepts UTF-8 (no declaration, or declared) whose bytes are
// valid UTF-8, and the single-byte encodings a French system may declare.
// UTF-16/32 are refused: the DTD check above reads bytes as ASCII.
func checkCharset(data []byte) error {
	if wide(data) {
		return fmt.Errorf("%w: UTF-16 or UTF-32 byte order", ErrCharset)
	}
	body := bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF})
	enc, declared := "UTF-8", false
	if m := xmlDecl.FindSubmatch(body[:min(len(body), 200)]); m != nil {
		enc, declared = strings.ToUpper(string(m[1])), true
	}
	switch enc {
	case "UTF-8", "UTF8":
		if !utf8.Valid(body) {
			if !declared {
				return fmt.Errorf("%w: no encoding declared, so UTF-8 applies, but it holds bytes that are not UTF-8", ErrCharset)
			}
			return fmt.Errorf("%w: declared UTF-8 but holds bytes that are not UTF-8", ErrCharset)
		}
	case "ISO-8859-1", "LATIN1", "ISO-LATIN-1", "US-ASCII", "ASCII":
	default:
		return fmt.Errorf("%w: declared encoding %q", ErrCharset, enc)
	}
	return nil
}

// depth returns the deepest element nesting, stopping early above limit.
// It reads tags only (comments, CDATA, processing instructions and quoted
// attribute values skipped); libxml2 checks well-formedness afterwards.
func depth(data []byte, limit int) int {
	d, maxd := 0, 0
	n := len(data)
	for i := 0; i < n; i++ {
		if data[i] != '<' || i+1 >= n {
			continue
		}
		switch c := data[i+1]; {
		case c == '!':
			end := "-->"
			if bytes.HasPrefix(data[i:], []byte("<![CDATA[")) {
				end = "]]>"
			} else if !bytes.HasPrefix(data[i:], []byte("<!--")) {
				end = ">"
			}
			k := bytes.Index(data[i+2:], []byte(end))
			if k < 0 {
				return maxd
			}
			i += 2 + k + len(end) - 1
		case c == '?':
			k := bytes.Index(data[i+2:], []byte("?>"))
			if k < 0 {
				return maxd
			}
			i += 2 + k + 1
		case c == '/':
			d--
			k := bytes.IndexByte(data[i:], '>')
			if k < 0 {
				return maxd
			}
			i += k
		default:
			var quote byte
			j := i + 1
			for ; j < n; j++ {
				b := data[j]
				if quote != 0 {
					if b == quote {
						quote = 0
					}
				} else if b == '"' || b == '\'' {
					quote = b
				} else if b == '>' {
					break
				}
			}
			if j >= n {
				return maxd
			}
			if data[j-1] != '/' {
				d++
				if d > maxd {
					maxd = d
					if maxd > limit {
						return maxd
					}
				}
			}
			i = j
		}
	}
	return maxd
}

package cda

// #cgo pkg-config: libxml-2.0
// #include <stdint.h>
// #include <stdlib.h>
// #include <string.h>
// #include <libxml/tree.h>
//
// typedef struct { char *buf; size_t len, cap; int over; long elems, attrs; } cda_sbuf;
//
// // cda_put copies into buf while it fits, and counts in every case: one
// // walk fills a buffer Go allocated, or says how large it must be.
// static void cda_put(cda_sbuf *b, const char *s, size_t n) {
//   if (b->buf && !b->over) {
//     if (b->len + n <= b->cap) memcpy(b->buf + b->len, s, n);
//     else b->over = 1;
//   }
//   b->len += n;
// }
// static void cda_putz(cda_sbuf *b, const char *s) {
//   if (s) cda_put(b, s, strlen(s) + 1);
//   else cda_put(b, "", 1);
// }
// // cda_tag writes a tag byte and a namespace byte: h (HL7), s (sdtc),
// // x (XML Schema instance), n (none), or u followed by the URI.
// static void cda_tag(cda_sbuf *b, char tag, xmlNsPtr ns) {
//   char t[2] = {tag, 'n'};
//   const char *u = ns ? (const char*)ns->href : NULL;
//   if (u) {
//     if (strcmp(u, "urn:hl7-org:v3") == 0) t[1] = 'h';
//     else if (strcmp(u, "urn:hl7-org:sdtc") == 0) t[1] = 's';
//     else if (strcmp(u, "http://www.w3.org/2001/XMLSchema-instance") == 0) t[1] = 'x';
//     else t[1] = 'u';
//   }
//   cda_put(b, t, 2);
//   if (t[1] == 'u') cda_putz(b, u);
// }
// static void cda_walk(cda_sbuf *b, xmlNodePtr n, int depth);
// static void cda_narrative(cda_sbuf *b, xmlNodePtr n, int depth);
// static void cda_elem(cda_sbuf *b, xmlNodePtr n, int depth) {
//   b->elems++;
//   cda_tag(b, 'E', n->ns);
//   cda_putz(b, (const char*)n->name);
//   for (xmlAttrPtr a = n->properties; a; a = a->next) {
//     b->attrs++;
//     cda_tag(b, 'A', a->ns);
//     cda_putz(b, (const char*)a->name);
//     if (a->children && a->children->type == XML_TEXT_NODE && !a->children->next) {
//       cda_putz(b, (const char*)a->children->content);
//     } else {
//       xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
//       cda_putz(b, (const char*)v);
//       if (v) xmlFree(v);
//     }
//   }
//   if (n->parent && n->parent->type == XML_ELEMENT_NODE &&
//       strcmp((const char*)n->name, "text") == 0 &&
//       strcmp((const char*)n->parent->name, "section") == 0) {
//     cda_narrative(b, n->children, depth + 1);
//   } else {
//     cda_walk(b, n->children, depth + 1);
//   }
//   cda_put(b, "X", 1);
// }
// // cda_narrative skips a section's narrative block (half of a document's
// // bytes, never extracted) except the elements that carry an ID, which
// // entries reference ("#bio_banque"): those are kept whole.
// static void cda_narrative(cda_sbuf *b, xmlNodePtr n, int depth) {
//   if (depth > 256) return;
//   for (; n; n = n->next) {
//     if (n->type != XML_ELEMENT_NODE) continue;
//     if (xmlHasProp(n, (const xmlChar*)"ID")) cda_elem(b, n, depth);
//     else cda_narrative(b, n->children, depth + 1);
//   }
// }
// static void cda_walk(cda_sbuf *b, xmlNodePtr n, int depth) {
//   if (depth > 256) return; // CDA nests a few dozen levels; deeper is hostile
//   for (; n; n = n->next) {
//     if (n->type == XML_ELEMENT_NODE) {
//       cda_elem(b, n, depth);
//     } else if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
//       const char *c = (const char*)n->content;
//       if (!c) continue;
//       const char *p = c;
//       while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
//       if (*p) { cda_put(b, "T", 1); cda_putz(b, c); }
//     }
//   }
// }
// static cda_sbuf cda_snapshot(uintptr_t doc, char *buf, size_t cap) {
//   cda_sbuf b = {0};
//   b.buf = buf; b.cap = cap;
//   xmlNodePtr root = xmlDocGetRootElement((xmlDocPtr)doc);
//   if (root) cda_walk(&b, root, 0);
//   return b;
// }
import "C"

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"unsafe"

	"github.com/lestrrat-go/libxml2/types"
)

// The extractor reads a libxml2 tree through one C call that copies the
// elements, attributes and non-blank text into a compact buffer, then walks
// it in Go. Thousands of cgo calls (one per node, or one per XPath query) cost
// more than the whole extraction; one call and a Go walk cost ~100 µs.

const (
	nsXSI = "http://www.w3.org/2001/XMLSchema-instance"
)

// node is one element of the snapshot. Elements in the HL7 namespace have an
// empty ns; sdtc elements have ns "sdtc"; any other namespace keeps its URI.
type node struct {
	ns, name    string
	attrs       []xattr
	text        string // direct text children, concatenated
	first, next *node
	last        *node
}

type xattr struct{ ns, name, value string }

// tree is a snapshot of one document.
type tree struct {
	root  *node
	ids   map[string]*node // narrative @ID → element, built on first use
	buf   []byte
	nodes []node
}

var errEmpty = errors.New("the document has no root element")

// snapshot copies the element tree of doc (libxml2) into Go memory, in one
// walk in C that writes a flat encoding (cda_snapshot), decoded here.
func snapshot(doc types.Document) (*tree, error) {
	if doc == nil {
		return nil, errEmpty
	}
	p := doc.Pointer()
	if p == 0 {
		return nil, errEmpty
	}
	// One walk usually suffices: the buffer starts at the document's likely
	// size and a second walk runs only when it was too small.
	buf := make([]byte, 64<<10)
	sb := C.cda_snapshot(C.uintptr_t(p), (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	if sb.over != 0 {
		buf = make([]byte, int(sb.len))
		sb = C.cda_snapshot(C.uintptr_t(p), (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	}
	runtime.KeepAlive(doc)
	if sb.over != 0 {
		return nil, errors.New("internal error: the document changed while it was read")
	}
	if sb.len == 0 {
		return nil, errEmpty
	}
	t := &tree{buf: buf[:int(sb.len)]}
	t.nodes = make([]node, 0, int(sb.elems))
	if err := t.decode(make([]xattr, 0, int(sb.attrs))); err != nil {
		return nil, err
	}
	if t.root == nil {
		return nil, errEmpty
	}
	return t, nil
}

// decode builds the nodes of t from t.buf: 'E' ns name ('A' ns name value)*
// opens an element with its attributes, 'T' text adds to its text, 'X'
// closes it. attrs has room for every attribute.
func (t *tree) decode(attrs []xattr) error {
	r := snapshotReader{b: t.buf}
	var stack []*node
	for r.pos < len(r.b) {
		tag := r.b[r.pos]
		r.pos++
		switch tag {
		case 'E':
			ns := r.ns()
			name := r.cstr()
			t.nodes = append(t.nodes, node{ns: ns, name: name})
			n := &t.nodes[len(t.nodes)-1]
			start := len(attrs)
			for r.pos < len(r.b) && r.b[r.pos] == 'A' {
				r.pos++
				a := xattr{ns: r.ns()}
				if a.ns == "-" {
					a.ns = ""
				}
				a.name = r.cstr()
				a.value = r.cstr()
				attrs = append(attrs, a)
			}
			n.attrs = attrs[start:len(attrs):len(attrs)]
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				if parent.last == nil {
					parent.first = n
				} else {
					parent.last.next = n
				}
				parent.last = n
			} else if t.root == nil {
				t.root = n
			}
			stack = append(stack, n)
		case 'A':
			return errors.New("internal error: attribute outside an element in the tree snapshot")
		case 'T':
			s := r.cstr()
			if len(stack) > 0 {
				stack[len(stack)-1].text += s
			}
		case 'X':
			if len(stack) == 0 {
				return errors.New("internal error: unbalanced tree snapshot")
			}
			stack = stack[:len(stack)-1]
		default:
			return errors.New("internal error: corrupt tree snapshot")
		}
	}
	return nil
}

// snapshotReader reads the encoding cda_snapshot writes.
type snapshotReader struct {
	b   []byte
	pos int
}

// cstr reads a NUL-terminated string without copying: the strings share
// the buffer (tree.buf), which lives as long as any of them.
func (r *snapshotReader) cstr() string {
	i := bytes.IndexByte(r.b[r.pos:], 0)
	if i < 0 {
		i = len(r.b) - r.pos
	}
	s := ""
	if i > 0 {
		s = unsafe.String(&r.b[r.pos], i)
	}
	r.pos += i + 1
	return s
}

// ns decodes the namespace byte written by cda_tag.
func (r *snapshotReader) ns() string {
	c := r.b[r.pos]
	r.pos++
	switch c {
	case 'h':
		return ""
	case 's':
		return "sdtc"
	case 'x':
		return nsXSI
	case 'u':
		return r.cstr()
	}
	return "-" // no namespace: never matches an HL7 name lookup
}

// attr returns the value of the attribute name (no namespace), trimmed.
func (n *node) attr(name string) string {
	if n == nil {
		return ""
	}
	for i := range n.attrs {
		if n.attrs[i].name == name && n.attrs[i].ns == "" {
			return strings.TrimSpace(n.attrs[i].value)
		}
	}
	return ""
}

// xsiType returns @xsi:type.
func (n *node) xsiType() string {
	if n == nil {
		return ""
	}
	for i := range n.attrs {
		if n.attrs[i].name == "type" && n.attrs[i].ns == nsXSI {
			return strings.TrimSpace(n.attrs[i].value)
		}
	}
	return ""
}

// is reports whether n is the HL7 element name.
func (n *node) is(name string) bool { return n != nil && n.ns == "" && n.name == name }

// child returns the first HL7 child element called name.
func (n *node) child(name string) *node {
	if n == nil {
		return nil
	}
	for c := n.first; c != nil; c = c.next {
		if c.ns == "" && c.name == name {
			return c
		}
	}
	return nil
}

// sdtc returns the first sdtc child element called name.
func (n *node) sdtc(name string) *node {
	if n == nil {
		return nil
	}
	for c := n.first; c != nil; c = c.next {
		if c.ns == "sdtc" && c.name == name {
			return c
		}
	}
	return nil
}

// path follows the first child at each step.
func (n *node) path(names ...string) *node {
	for _, nm := range names {
		n = n.child(nm)
		if n == nil {
			return nil
		}
	}
	return n
}

// children returns the HL7 child elements called name.
func (n *node) children(name string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for c := n.first; c != nil; c = c.next {
		if c.ns == "" && c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// val returns the trimmed direct text of n.
func (n *node) val() string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.text)
}

// textContent returns all the text under n, white space collapsed.
func (n *node) textContent() string {
	if n == nil {
		return ""
	}
	var sb strings.Builder
	var rec func(*node)
	rec = func(m *node) {
		if m.text != "" {
			sb.WriteString(m.text)
			sb.WriteByte(' ')
		}
		for c := m.first; c != nil; c = c.next {
			rec(c)
		}
	}
	rec(n)
	return strings.Join(strings.Fields(sb.String()), " ")
}

// hasTemplate reports whether n has a templateId with one of the roots.
func (n *node) hasTemplate(roots ...string) bool {
	if n == nil {
		return false
	}
	for c := n.first; c != nil; c = c.next {
		if c.ns == "" && c.name == "templateId" {
			r := c.attr("root")
			for _, want := range roots {
				if r == want {
					return true
				}
			}
		}
	}
	return false
}

// codeIs reports whether n/code/@code is one of codes.
func (n *node) codeIs(codes ...string) bool {
	c := n.child("code").attr("code")
	if c == "" {
		return false
	}
	for _, w := range codes {
		if c == w {
			return true
		}
	}
	return false
}

// byID finds the narrative element whose @ID is id (for text references).
func (t *tree) byID(id string) *node {
	if t.ids == nil {
		t.ids = map[string]*node{}
		for i := range t.nodes {
			if v := t.nodes[i].attr("ID"); v != "" {
				if _, dup := t.ids[v]; !dup {
					t.ids[v] = &t.nodes[i]
				}
			}
		}
	}
	return t.ids[strings.TrimPrefix(id, "#")]
}

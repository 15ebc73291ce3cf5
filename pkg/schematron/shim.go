package schematron

// The shim adds to lestrrat-go/libxml2 what ISO Schematron needs and the
// library lacks: compiling XPath without its 4 kB limit, evaluating a
// compiled expression at a given node, XPath variables (let) and XSLT's
// document() function over value sets parsed once at load time. It works on
// the xmlXPathContextPtr that xpath.Context.Pointer() exposes.

/*
#cgo pkg-config: libxml-2.0
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <libxml/hash.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>
#include <stdio.h>

// Errors are reported through return values; keep libxml2 quiet.
static void sch_silent(void *data, xmlErrorPtr err) { (void)data; (void)err; }

// document(uri): XSLT 1.0 document() restricted to the value sets
// preloaded in the hash table stored as the context's userData. An unknown
// uri gives an empty node-set.
static void sch_generic_silent(void *ctx, const char *msg, ...) { (void)ctx; (void)msg; }
static void sch_quiet(int on) {
	xmlSetGenericErrorFunc(NULL, on ? sch_generic_silent : NULL);
}

// XSD validation collecting libxml2's messages as "line: element x: …",
// the form xmllint prints, at most 100 of them.
typedef struct { char *buf; size_t len, cap; int n; } sch_errs;

static void sch_xsd_err(void *data, xmlErrorPtr e) {
	sch_errs *acc = (sch_errs *) data;
	if (e == NULL || acc->n >= 100) return;
	acc->n++;
	char line[2048];
	const char *elt = "";
	if (e->node != NULL && ((xmlNodePtr) e->node)->type == XML_ELEMENT_NODE) elt = (const char *) ((xmlNodePtr) e->node)->name;
	int k = snprintf(line, sizeof line, "%d: element %s: Schemas validity error : %s", e->line, elt, e->message ? e->message : "");
	if (k < 0) return;
	if ((size_t) k >= sizeof line) k = sizeof line - 1;
	while (k > 0 && (line[k-1] == '\n' || line[k-1] == ' ')) k--;
	if (acc->len + k + 1 > acc->cap) {
		size_t c = (acc->cap + k + 1) * 2;
		char *b = realloc(acc->buf, c);
		if (b == NULL) return;
		acc->buf = b; acc->cap = c;
	}
	memcpy(acc->buf + acc->len, line, k);
	acc->len += k;
	acc->buf[acc->len++] = '\n';
}

static int sch_xsd_validate(xmlSchemaPtr s, xmlDocPtr d, sch_errs *acc) {
	xmlSchemaValidCtxtPtr v = xmlSchemaNewValidCtxt(s);
	if (v == NULL) return -1;
	xmlSchemaSetValidStructuredErrors(v, sch_xsd_err, acc);
	int r = xmlSchemaValidateDoc(v, d);
	xmlSchemaFreeValidCtxt(v);
	return r;
}

static void sch_document(xmlXPathParserContextPtr ctxt, int nargs) {
	if (nargs < 1 || nargs > 2) { xmlXPathErr(ctxt, XPATH_INVALID_ARITY); return; }
	if (nargs == 2) { xmlXPathFreeObject(valuePop(ctxt)); }
	xmlXPathObjectPtr arg = valuePop(ctxt);
	xmlHashTablePtr docs = (xmlHashTablePtr) ctxt->context->userData;
	xmlNodeSetPtr res = xmlXPathNodeSetCreate(NULL);
	if (arg != NULL && docs != NULL) {
		if (arg->type == XPATH_NODESET && arg->nodesetval != NULL) {
			for (int i = 0; i < arg->nodesetval->nodeNr; i++) {
				xmlChar *s = xmlXPathCastNodeToString(arg->nodesetval->nodeTab[i]);
				xmlDocPtr d = (xmlDocPtr) xmlHashLookup(docs, s);
				if (d != NULL) xmlXPathNodeSetAdd(res, (xmlNodePtr) d);
				xmlFree(s);
			}
		} else {
			xmlChar *s = xmlXPathCastToString(arg);
			xmlDocPtr d = (xmlDocPtr) xmlHashLookup(docs, s);
			if (d != NULL) xmlXPathNodeSetAdd(res, (xmlNodePtr) d);
			xmlFree(s);
		}
	}
	if (arg != NULL) xmlXPathFreeObject(arg);
	valuePush(ctxt, xmlXPathWrapNodeSet(res));
}

static void sch_setup(xmlXPathContextPtr ctx, xmlHashTablePtr docs, xmlDocPtr doc) {
	ctx->doc = doc; // lestrrat-go/libxml2 leaves it NULL, which empties every absolute path
	ctx->userData = docs;
	ctx->error = sch_silent;
	xmlXPathContextSetCache(ctx, 1, -1, 0); // reuse result objects: malloc dominated the profile
	xmlXPathRegisterFunc(ctx, (const xmlChar *) "document", sch_document);
}

static xmlXPathCompExprPtr sch_compile(const char *s) {
	xmlSetStructuredErrorFunc(NULL, sch_silent);
	xmlXPathCompExprPtr c = xmlXPathCompile((const xmlChar *) s);
	xmlSetStructuredErrorFunc(NULL, NULL);
	return c;
}

static xmlXPathObjectPtr sch_eval(xmlXPathContextPtr ctx, xmlNodePtr node, xmlXPathCompExprPtr comp) {
	ctx->node = node;
	ctx->contextSize = 1;
	ctx->proximityPosition = 1;
	return xmlXPathCompiledEval(comp, ctx);
}

static int sch_eval_bool(xmlXPathContextPtr ctx, xmlNodePtr node, xmlXPathCompExprPtr comp) {
	ctx->node = node;
	ctx->contextSize = 1;
	ctx->proximityPosition = 1;
	return xmlXPathCompiledEvalToBoolean(comp, ctx);
}

static int sch_obj_type(xmlXPathObjectPtr o) { return o->type; }
static int sch_obj_nodes(xmlXPathObjectPtr o, xmlNodePtr **tab) {
	if (o->type != XPATH_NODESET || o->nodesetval == NULL) { *tab = NULL; return 0; }
	*tab = o->nodesetval->nodeTab;
	return o->nodesetval->nodeNr;
}

static int sch_set_var(xmlXPathContextPtr ctx, const char *name, xmlXPathObjectPtr v) {
	return xmlXPathRegisterVariable(ctx, (const xmlChar *) name, v);
}

static xmlXPathObjectPtr sch_var_copy(xmlXPathObjectPtr v) { return xmlXPathObjectCopy(v); }

static void sch_free(void *p) { xmlFree(p); }
static void *sch_ptr(uintptr_t p) { return (void *) p; }
static xmlHashTablePtr sch_hash_new(void) { return xmlHashCreate(16); }
static int sch_hash_add(xmlHashTablePtr h, const char *k, xmlDocPtr d) {
	return xmlHashAddEntry(h, (const xmlChar *) k, d);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"
)

// xnode is a libxml2 node (element or document) of a validated document.
type xnode = *C.xmlNode

// cptr turns an address handed out by lestrrat-go/libxml2 back into a pointer.
func cptr(p uintptr) unsafe.Pointer { return C.sch_ptr(C.uintptr_t(p)) }

// expr is an XPath expression compiled once and shared read-only.
type expr struct {
	src  string
	comp C.xmlXPathCompExprPtr
}

var errCompile = errors.New("XPath syntax error")

func compileXPath(s string) (*expr, error) {
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	c := C.sch_compile(cs)
	if c == nil {
		return nil, errCompile
	}
	return &expr{src: s, comp: c}, nil
}

func (e *expr) free() {
	if e != nil && e.comp != nil {
		C.xmlXPathFreeCompExpr(e.comp)
		e.comp = nil
	}
}

func (c *cStr) free() { C.free(unsafe.Pointer(c)) }

func (t docTable) free() { C.xmlHashFree(t.h, nil) }

// xctx is one validation's XPath context (never shared between goroutines).
type xctx struct {
	p C.xmlXPathContextPtr
}

func newXctx(ptr uintptr, docs C.xmlHashTablePtr, doc xnode) xctx {
	p := C.xmlXPathContextPtr(cptr(ptr))
	C.sch_setup(p, docs, (*C.xmlDoc)(unsafe.Pointer(doc)))
	return xctx{p: p}
}

// evalBool returns the effective boolean value, or an error.
func (x xctx) evalBool(n xnode, e *expr) (bool, error) {
	r := C.sch_eval_bool(x.p, n, e.comp)
	if r < 0 {
		return false, errors.New("XPath evaluation error")
	}
	return r != 0, nil
}

// eval returns the raw result, owned by the caller (free or hand to setVar).
func (x xctx) eval(n xnode, e *expr) (C.xmlXPathObjectPtr, error) {
	o := C.sch_eval(x.p, n, e.comp)
	if o == nil {
		return nil, errors.New("XPath evaluation error")
	}
	return o, nil
}

// evalNodes appends the nodes selected by e at n to dst.
func (x xctx) evalNodes(n xnode, e *expr, dst []xnode) ([]xnode, error) {
	o, err := x.eval(n, e)
	if err != nil {
		return dst, err
	}
	defer C.xmlXPathFreeObject(o)
	var tab *C.xmlNodePtr
	k := int(C.sch_obj_nodes(o, &tab))
	if k > 0 {
		for _, p := range unsafe.Slice(tab, k) {
			dst = append(dst, p)
		}
	}
	return dst, nil
}

// evalString gives XSLT 2 value-of semantics: the string values of all
// nodes of a node-set joined by one space.
func (x xctx) evalString(n xnode, e *expr) (string, error) {
	o, err := x.eval(n, e)
	if err != nil {
		return "", err
	}
	defer C.xmlXPathFreeObject(o)
	if C.sch_obj_type(o) == C.XPATH_NODESET {
		var tab *C.xmlNodePtr
		k := int(C.sch_obj_nodes(o, &tab))
		if k == 0 {
			return "", nil
		}
		var b strings.Builder
		for i, p := range unsafe.Slice(tab, k) {
			if i > 0 {
				b.WriteByte(' ')
			}
			s := C.xmlXPathCastNodeToString(p)
			b.WriteString(C.GoString((*C.char)(unsafe.Pointer(s))))
			C.sch_free(unsafe.Pointer(s))
		}
		return b.String(), nil
	}
	s := C.xmlXPathCastToString(o)
	defer C.sch_free(unsafe.Pointer(s))
	return C.GoString((*C.char)(unsafe.Pointer(s))), nil
}

// setVar binds name (a C string kept by the schema) to o; the context owns o.
func (x xctx) setVar(name *cStr, o C.xmlXPathObjectPtr) {
	C.sch_set_var(x.p, (*C.char)(name), o)
}

// cStr is a C copy of a variable name, made once at compile time.
type cStr C.char

func newCStr(s string) *cStr { return (*cStr)(C.CString(s)) }

// cobj is an XPath result object.
type cobj = C.xmlXPathObjectPtr

func copyObj(o cobj) cobj { return C.sch_var_copy(o) }
func freeObj(o cobj)      { C.xmlXPathFreeObject(o) }

// docTable maps the literal argument of document() to a preloaded tree.
type docTable struct{ h C.xmlHashTablePtr }

func newDocTable() docTable { return docTable{h: C.sch_hash_new()} }

func (t docTable) add(key string, doc uintptr) {
	d := (*C.xmlDoc)(cptr(doc))
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	C.sch_hash_add(t.h, ck, d)
}

// orderDoc numbers the elements of doc so that XPath sorts node-sets fast.
func orderDoc(doc uintptr) { C.xmlXPathOrderDocElems((*C.xmlDoc)(cptr(doc))) }

// Index lists, in one walk of a document, its elements by local name and
// by the root of their templateId children: most rule contexts start with
// *[cda:templateId/@root='…'] and are answered from it without XPath.
type Index struct {
	doc    xnode
	byName map[string][]xnode
	byTID  map[string][]xnode
	elems  []xnode
}

const nsHL7 = "urn:hl7-org:v3"

// NewIndex walks doc (a libxml2 xmlDocPtr) once.
func NewIndex(doc uintptr) *Index {
	d := (*C.xmlNode)(cptr(doc))
	ix := &Index{doc: d, byName: map[string][]xnode{}, byTID: map[string][]xnode{}}
	// Names come from the document's dictionary: one Go string per distinct
	// name pointer instead of one per element.
	names := map[*C.xmlChar]string{}
	var walk func(n *C.xmlNode)
	walk = func(n *C.xmlNode) {
		for c := n.children; c != nil; c = c.next {
			if c._type != C.XML_ELEMENT_NODE {
				continue
			}
			name, ok := names[c.name]
			if !ok {
				name = C.GoString((*C.char)(unsafe.Pointer(c.name)))
				names[c.name] = name
			}
			ix.byName[name] = append(ix.byName[name], c)
			if name == "templateId" && c.ns != nil && C.GoString((*C.char)(unsafe.Pointer(c.ns.href))) == nsHL7 {
				if r := attr(c, "root"); r != "" || hasAttr(c, "root") {
					l := ix.byTID[r]
					if len(l) == 0 || l[len(l)-1] != n {
						ix.byTID[r] = append(l, n)
					}
				}
			}
			walk(c)
		}
	}
	walk(d)
	return ix
}

// all lists every element in document order (for a context like *[…]).
func (ix *Index) all() []xnode {
	if ix.elems == nil {
		walkElems(ix.doc, func(n *C.xmlNode) {
			ix.elems = append(ix.elems, n)
		})
	}
	return ix.elems
}

func walkElems(n *C.xmlNode, f func(*C.xmlNode)) {
	for c := n.children; c != nil; c = c.next {
		if c._type == C.XML_ELEMENT_NODE {
			f(c)
			walkElems(c, f)
		}
	}
}

func attr(n *C.xmlNode, name string) string {
	for a := n.properties; a != nil; a = a.next {
		if a.ns == nil && C.GoString((*C.char)(unsafe.Pointer(a.name))) == name {
			if a.children == nil {
				return ""
			}
			if t := a.children; t.next == nil && t._type == C.XML_TEXT_NODE && t.content != nil {
				return C.GoString((*C.char)(unsafe.Pointer(t.content))) // the usual case, without a C call
			}
			s := C.xmlNodeListGetString(n.doc, a.children, 1)
			defer C.sch_free(unsafe.Pointer(s))
			return C.GoString((*C.char)(unsafe.Pointer(s)))
		}
	}
	return ""
}

func hasAttr(n *C.xmlNode, name string) bool {
	for a := n.properties; a != nil; a = a.next {
		if a.ns == nil && C.GoString((*C.char)(unsafe.Pointer(a.name))) == name {
			return true
		}
	}
	return false
}

// isMatchable tells whether the skeleton's traversal can reach n: it
// applies templates to the document node, elements and (whenever a context
// mentions @, which any context selecting one does) attributes.
func isMatchable(p xnode) bool {
	t := p._type
	return t == C.XML_ELEMENT_NODE || t == C.XML_DOCUMENT_NODE || t == C.XML_ATTRIBUTE_NODE
}

// location names an element as the reference does: local names from the
// root, each with [n] when it is the n-th (n > 1) sibling of that name.
func location(n xnode) string {
	if n._type == C.XML_DOCUMENT_NODE {
		return "/"
	}
	var parts []string
	if n._type == C.XML_ATTRIBUTE_NODE {
		parts = append(parts, "@"+C.GoString((*C.char)(unsafe.Pointer(n.name))))
		n = n.parent
	}
	for ; n != nil && n._type == C.XML_ELEMENT_NODE; n = n.parent {
		k := 1
		for s := n.prev; s != nil; s = s.prev {
			if s._type == C.XML_ELEMENT_NODE && C.xmlStrEqual(s.name, n.name) != 0 && sameNS(s, n) {
				k++
			}
		}
		name := C.GoString((*C.char)(unsafe.Pointer(n.name)))
		if k > 1 {
			name = fmt.Sprintf("%s[%d]", name, k)
		}
		parts = append(parts, name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}

func sameNS(a, b *C.xmlNode) bool {
	if a.ns == nil || b.ns == nil {
		return a.ns == b.ns
	}
	return C.xmlStrEqual(a.ns.href, b.ns.href) != 0
}

// OrderDoc numbers the elements of a libxml2 document (xmlDocPtr address)
// so that XPath sorts node-sets by a field read instead of a tree walk.
func OrderDoc(doc interface{ Pointer() uintptr }) { orderDoc(doc.Pointer()) }

// Quietly runs f with libxml2's generic error output (stderr) switched off
// on the calling thread: loading the CDA schema prints harmless import
// warnings, and errors reach the caller through return values anyway.
func Quietly(f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.sch_quiet(1)
	defer C.sch_quiet(0)
	f()
}

// ValidateXSD validates doc against a compiled schema (xsd.Schema) with a
// fresh validation context, so concurrent calls may share the schema. It
// returns libxml2's messages, line first; none means valid.
func ValidateXSD(schema, doc interface{ Pointer() uintptr }) ([]string, error) {
	var acc C.sch_errs
	defer C.free(unsafe.Pointer(acc.buf))
	r := C.sch_xsd_validate((*C.xmlSchema)(cptr(schema.Pointer())), (*C.xmlDoc)(cptr(doc.Pointer())), &acc)
	if r < 0 {
		return nil, errors.New("libxml2 could not create an XSD validation context")
	}
	var out []string
	if acc.len > 0 {
		out = strings.Split(strings.TrimSuffix(C.GoStringN(acc.buf, C.int(acc.len)), "\n"), "\n")
	}
	if r > 0 && len(out) == 0 {
		out = []string{"the document is not valid against the XSD (libxml2 gave no message)"}
	}
	return out, nil
}

// Package schematron runs the ISO Schematron rules of the ANS CI-SIS kits
// natively, over libxml2, without the XSLT skeleton the kits were written
// for. pkg/cisis uses it after the XSD; this page is the map.
//
// # Compile (compile.go, source.go)
//
// Compile reads a schematron file once at start: it follows sch:include
// (source.go: at most 32 levels, a file name matched case-insensitively
// when the exact one is missing, since the kits were written on Windows),
// instantiates
// abstract patterns with their parameters, selects the phase (the
// schema's defaultPhase unless Options.Phase says otherwise) and compiles
// every XPath (contexts, lets, asserts, reports, value-of in messages)
// once. The kits are written for XSLT 2; the few XPath 2 forms they use
// (path/(a and b), a count(x = 'v') = 1 test) are rewritten to XPath 1
// by rewrite2to1. A rule whose XPath still does not compile is left out and
// listed in Schema.CompileErrors (the rest runs); a value set named by
// document() and missing from the kit is listed in Schema.MissingDocs.
// Value sets are parsed once, through Options.Docs, into a table that the
// evaluation's document() reads.
//
// # Plan (plan.go)
//
// A rule context is an XSLT match pattern: in principle every node of the
// document is tested against it. planContext splits it into branches and,
// for each, picks how to find candidates without that scan: elements of a
// local name, or elements carrying a templateId of a given root (most CDA
// rules start with *[cda:templateId/@root='…']), from an Index built in
// one walk of the document (NewIndex). Only what is left (a positional
// predicate, an absolute path) is evaluated from the document node.
//
// # Evaluate (eval.go)
//
// Validate runs the active patterns in order on one parsed document:
// global lets are evaluated once at the document node, each rule selects
// its nodes from the plan, a node already claimed by an earlier rule of the
// same pattern is skipped (the ISO first-match rule), rule lets are bound,
// and each failed assert or fired report becomes a Failure with its
// pattern, context, location and message. A Schema is read-only after
// Compile, so one is shared by every worker; Validate is safe for
// concurrent use on different documents.
//
// # The cgo shim (shim.go)
//
// github.com/lestrrat-go/libxml2 has no XPath variables, no extension
// functions and a 4 kB limit on compiled expressions. Rather than fork it,
// the shim works on the xmlXPathContextPtr its xpath.Context exposes:
// compiling and evaluating expressions at a node, binding variables (the
// lets), registering XSLT's document() restricted to the preloaded value
// sets, and XSD validation that collects libxml2's messages in xmllint's
// form (ValidateXSD). Memory the shim allocates is freed by Schema.Free
// and per evaluation; libxml2's own error output is silenced (Quietly) so
// that messages reach the caller as values.
package schematron

// Package cisis gives the verdict of the ANS CI-SIS reference chain on an
// SDM-MR document: XSD (CDA_extended.xsd), then the ISO Schematron of the
// document's SDM-MR model version and the generic profiles of its kit, with
// the same failures, assert for assert, as ANS's Saxon chain (checked on the
// 566 documents of ../shared/ci-sis/conformance by TestConformance).
//
//	eng, err := cisis.Load(ctx, kitDir)                   // once, ~0.3 s: compiles every profile
//	for _, e := range eng.CompileErrors { log(e) }        // rules left out (none in the routed kits)
//	doc, err := xmldoc.Parse(data, xmldoc.DefaultLimits)  // parse once…
//	rep, err := eng.Validate(ctx, doc, cisis.Options{})   // …validate (profile from the document)…
//	hdr, err := cda.ExtractHeader(doc)                    // …and extract from the same tree
//	if !rep.Valid { publish(rep.Failures()) }             // []events.Failure
//
// Validate returns an error wrapping cda.ErrNotSDMMR for a CDA of another
// type and ErrUnknownVersion for an SDM-MR version without profile; force a
// profile with Options{Profile: "SDM-MR_2024.01"}. An Engine is safe for
// concurrent use: compiled XPath, XSD and value sets are shared read-only,
// each validation has its own XPath contexts.
//
// This is the engine; pkg/validator is the pipeline stage that runs it on
// every document it consumes.
package cisis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/lestrrat-go/libxml2/parser"
	"github.com/lestrrat-go/libxml2/types"
	"github.com/lestrrat-go/libxml2/xsd"

	"github.com/bndmr/hub/pkg/cda"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/schematron"
)

// ErrUnknownVersion means the document is an SDM-MR of a model version the
// hub has no profile for.
var ErrUnknownVersion = errors.New("unknown SDM-MR model version")

// ErrUnknownProfile means a forced profile name does not exist.
var ErrUnknownProfile = errors.New("unknown validation profile")

// XSDPath is the schema every version is checked against, relative to the kit.
const XSDPath = "kit-3.0/infrastructure/cda/CDA_extended.xsd"

// schSpec names one schematron of a profile: the name reports use and the
// file, relative to the kit directory.
type schSpec struct{ name, file string }

// profileSpecs is the routing of the reference chain (../shared/README.md):
// each SDM-MR version with its own schematron and the generic profiles of
// the kit it belongs to. kit-2.41's IHE.sch does not compile (an XPath
// syntax error in the kit), so the reference runs none for 2021.01.
var profileSpecs = []struct {
	name, version string
	schs          []schSpec
}{
	{"SDM-MR_2017", "2017", []schSpec{
		{"SDM-MR_2017", "kit-2.22/schematrons/CI-SIS_SDMMR.sch"},
		{"IHE", "kit-2.22/schematrons/profils/IHE.sch"},
	}},
	{"SDM-MR_2021.01", "2021.01", []schSpec{
		{"SDM-MR_2021.01", "kit-2.41/schematrons/CI-SIS_SDM-MR_2021.01.sch"},
		{"CI-SIS_ModelesDeContenusCDA", "kit-2.41/schematrons/profils/CI-SIS_ModelesDeContenusCDA.sch"},
		{"CI-SIS_Modeles_ANS", "kit-2.41/schematrons/profils/CI-SIS_Modeles_ANS.sch"},
	}},
	{"SDM-MR_2022.01", "2022.01", []schSpec{
		{"SDM-MR_2022.01", "kit-3.0/schematrons/CI-SIS_SDM-MR_2022.01.sch"},
		{"IHE", "kit-3.0/schematrons/profils/IHE.sch"},
		{"CI-SIS_ModelesDeContenusCDA", "kit-3.0/schematrons/profils/CI-SIS_ModelesDeContenusCDA.sch"},
		{"CI-SIS_Modeles_ANS", "kit-3.0/schematrons/profils/CI-SIS_Modeles_ANS.sch"},
	}},
	{"SDM-MR_2024.01", "2024.01", []schSpec{
		{"SDM-MR_2024.01", "kit-3.0/schematrons/CI-SIS_SDM-MR_2024.01.sch"},
		{"IHE", "kit-3.0/schematrons/profils/IHE.sch"},
		{"CI-SIS_ModelesDeContenusCDA", "kit-3.0/schematrons/profils/CI-SIS_ModelesDeContenusCDA.sch"},
		{"CI-SIS_Modeles_ANS", "kit-3.0/schematrons/profils/CI-SIS_Modeles_ANS.sch"},
	}},
}

// Profile is one compiled validation profile.
type Profile struct {
	Name        string
	Version     string // SDM-MR model version (templateId extension; "2017" when none)
	Schematrons []*schematron.Schema
}

// Engine holds the compiled XSD, schematrons and value sets of a kit.
type Engine struct {
	Kit      string
	xsd      *xsd.Schema
	profiles map[string]*Profile
	byVer    map[string]*Profile
	// CompileErrors lists the rules that failed to compile at load time,
	// each once; they are left out, the rest runs.
	CompileErrors []error
	// MissingValueSets lists, once each and sorted, the value-set files named
	// by a schematron but absent from the kit: codes checked against them
	// always fail. See MissingFromOfficialKit.
	MissingValueSets []string
	vsets            []types.Document
}

// officiallyMissing names the value-set files the ANS schematrons refer to
// that the official ANS releases do not ship either: ANS's own Saxon chain
// fails the same codes, so their absence is not a fault of the local kit.
var officiallyMissing = map[string]bool{
	"JDV_ClinicalStatusCodes_CISIS.xml": true, // named by kit-3.0's schematrons, absent from TestContenuCDA 3.0
}

// MissingFromOfficialKit tells whether a file of MissingValueSets is one
// the official ANS kit lacks as well.
func MissingFromOfficialKit(path string) bool {
	return officiallyMissing[filepath.Base(path)]
}

// Load compiles the XSD and every profile of the kit in kitDir once.
func Load(ctx context.Context, kitDir string) (*Engine, error) {
	e := &Engine{Kit: kitDir, profiles: map[string]*Profile{}, byVer: map[string]*Profile{}}
	xsdPath := filepath.Join(kitDir, XSDPath)
	if _, err := os.Stat(xsdPath); err != nil {
		return nil, fmt.Errorf("%s is not a CI-SIS kit folder (it should hold kit-3.0/, kit-2.41/ and kit-2.22/): %w", kitDir, err)
	}
	var s *xsd.Schema
	var err error
	schematron.Quietly(func() { s, err = xsd.ParseFromFile(xsdPath) })
	if err != nil {
		return nil, fmt.Errorf("loading the CDA schema %s: %w", xsdPath, err)
	}
	e.xsd = s

	docs := map[string]uintptr{}
	loadDoc := func(path string) (uintptr, error) {
		if d, ok := docs[path]; ok {
			return d, nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		d, err := parser.New(parser.XMLParseNoNet).Parse(data)
		if err != nil {
			return 0, fmt.Errorf("parsing %s: %w", path, err)
		}
		schematron.OrderDoc(d)
		e.vsets = append(e.vsets, d)
		docs[path] = d.Pointer()
		return d.Pointer(), nil
	}
	compiled := map[string]*schematron.Schema{}
	for _, ps := range profileSpecs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := &Profile{Name: ps.name, Version: ps.version}
		for _, sp := range ps.schs {
			file := filepath.Join(kitDir, filepath.FromSlash(sp.file))
			sch, ok := compiled[file]
			if !ok {
				sch, err = schematron.Compile(sp.name, file, schematron.Options{Docs: loadDoc})
				if err != nil {
					return nil, fmt.Errorf("profile %s: %w", ps.name, err)
				}
				compiled[file] = sch
				e.CompileErrors = append(e.CompileErrors, sch.CompileErrors...)
				e.MissingValueSets = append(e.MissingValueSets, sch.MissingDocs...)
			}
			p.Schematrons = append(p.Schematrons, sch)
		}
		e.profiles[p.Name] = p
		e.byVer[p.Version] = p
	}
	// Several schematrons name the same value sets.
	sort.Strings(e.MissingValueSets)
	e.MissingValueSets = slices.Compact(e.MissingValueSets)
	return e, nil
}

// Close frees the compiled schemas, the XSD and the value sets. No
// validation may be running or start afterwards.
func (e *Engine) Close() {
	seen := map[*schematron.Schema]bool{}
	for _, p := range e.profiles {
		for _, s := range p.Schematrons {
			if !seen[s] {
				seen[s] = true
				s.Free()
			}
		}
	}
	for _, d := range e.vsets {
		d.Free()
	}
	e.xsd.Free()
	e.profiles, e.byVer, e.vsets = nil, nil, nil
}

// Profiles lists the profile names.
func (e *Engine) Profiles() []string {
	var out []string
	for n := range e.profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ProfileFor chooses the profile from the document's SDM-MR templateId.
// Errors wrap cda.ErrNotSDMMR or ErrUnknownVersion.
func (e *Engine) ProfileFor(doc types.Document) (*Profile, error) {
	v, err := cda.ModelVersion(doc)
	if err != nil {
		return nil, err
	}
	p, ok := e.byVer[v]
	if !ok {
		return nil, fmt.Errorf("%w %q (templateId %s extension): the hub validates %s", ErrUnknownVersion, v, cda.TemplateSDMMR, strings.Join(e.versions(), ", "))
	}
	return p, nil
}

func (e *Engine) versions() []string {
	var out []string
	for v := range e.byVer {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Profile returns the profile of that name (SDM-MR_2024.01, …).
func (e *Engine) Profile(name string) (*Profile, error) {
	p, ok := e.profiles[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownProfile, name, strings.Join(e.Profiles(), ", "))
	}
	return p, nil
}

// Options tune one validation.
type Options struct {
	// Profile forces a profile by name instead of reading the document's version.
	Profile string
}

// SchematronReport is what one schematron of the profile reported.
type SchematronReport struct {
	Name     string               `json:"name"`
	Failures []schematron.Failure `json:"failures"` // failed asserts and fired reports
	// EvalErrors are expressions that failed at run time (none on the
	// conformance corpus); informational, they do not change the verdict.
	EvalErrors []string `json:"eval_errors,omitempty"`
}

// Report is the verdict on one document.
type Report struct {
	Profile     string             `json:"profile"`
	Valid       bool               `json:"valid"` // XSD valid and no failed assert
	XSDValid    bool               `json:"xsd_valid"`
	XSDErrors   []string           `json:"xsd_errors,omitempty"` // libxml2's messages, line first
	Schematrons []SchematronReport `json:"schematrons"`          // in profile order
}

// Validate checks an already parsed document (the extractor reads the same
// tree afterwards). It numbers the document's elements for XPath
// (xmlXPathOrderDocElems), which leaves the tree otherwise unchanged.
func (e *Engine) Validate(ctx context.Context, doc types.Document, opt Options) (*Report, error) {
	var p *Profile
	var err error
	if opt.Profile != "" {
		p, err = e.Profile(opt.Profile)
	} else {
		p, err = e.ProfileFor(doc)
	}
	if err != nil {
		return nil, err
	}
	rep := &Report{Profile: p.Name, XSDValid: true}
	xerrs, err := schematron.ValidateXSD(e.xsd, doc)
	if err != nil {
		return nil, err
	}
	rep.XSDValid = len(xerrs) == 0
	rep.XSDErrors = xerrs
	schematron.OrderDoc(doc)
	ix := schematron.NewIndex(doc.Pointer())
	rep.Valid = rep.XSDValid
	for _, s := range p.Schematrons {
		r, err := s.Validate(ctx, doc, ix)
		if err != nil {
			return nil, fmt.Errorf("schematron %s: %w", s.Name, err)
		}
		sr := SchematronReport{Name: s.Name, Failures: r.Failures, EvalErrors: r.EvalErrors}
		for _, f := range r.Failures {
			if f.Kind == "assert" {
				rep.Valid = false
			}
		}
		rep.Schematrons = append(rep.Schematrons, sr)
	}
	return rep, nil
}

// Failures converts the report into the events the hub publishes: XSD
// errors first, then every failed assert and fired report.
func (r *Report) Failures() []events.Failure {
	var out []events.Failure
	for _, x := range r.XSDErrors {
		out = append(out, events.Failure{Source: "XSD", Text: x})
	}
	for _, s := range r.Schematrons {
		for _, f := range s.Failures {
			out = append(out, events.Failure{Source: s.Name, Pattern: f.Pattern, Location: f.Location, Text: f.Text})
		}
	}
	return out
}

// ConformanceProfile is the profile of a document of the CI-SIS
// conformance corpus (ci-sis/conformance/docs), routed by its file-name
// prefix as the reference chain routed it (a mutant may have lost the
// templateId that names its version); "" for a name of no version.
func ConformanceProfile(name string) string {
	if strings.HasPrefix(name, "SDM-MR_v2.3_2017") {
		return "SDM-MR_2017"
	}
	for _, v := range []string{"2021.01", "2022.01", "2024.01"} {
		if strings.HasPrefix(name, "SDM-MR_"+v) {
			return "SDM-MR_" + v
		}
	}
	return ""
}

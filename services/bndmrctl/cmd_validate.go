package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/bndmr/hub/pkg/cisis"
	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/schematron"
	"github.com/bndmr/hub/pkg/service"
	"github.com/bndmr/hub/pkg/xmldoc"
	"github.com/lestrrat-go/libxml2/types"
)

const validateUsage = `usage: bndmrctl validate [--kit DIR] [--profile NAME] [--jsonl] PATH...

Validates CDA documents as the ANS CI-SIS reference chain does: XSD
(CDA_extended.xsd), then the schematron of the document's SDM-MR version and
the generic profiles of its kit. PATH is a file or a folder of .xml files.

  --kit DIR       CI-SIS kit folder (env BNDMR_KIT; default $CISIS_KIT, else ../shared/ci-sis
                  beside the repository holding the binary, else the working
                  directory's)
  --profile NAME  force a profile (SDM-MR_2017, SDM-MR_2021.01, SDM-MR_2022.01,
                  SDM-MR_2024.01) instead of the document's own version
  --jsonl         one JSON object per document, as conformance/reference.jsonl

Exit status: 0 all documents valid, 1 some are not, 2 usage or kit error.
`

// jsonReport is one line of --jsonl output, in the shape of the reference.
// XSDValid is null when the document was refused before the XSD ran (not
// XML, not a CDA, not an SDM-MR, unknown version): Error says why.
type jsonReport struct {
	Doc         string                          `json:"doc"`
	Valid       bool                            `json:"valid"`
	XSDValid    *bool                           `json:"xsd_valid"`
	XSDErrors   []string                        `json:"xsd_errors"`
	Schematrons map[string][]schematron.Failure `json:"schematrons"`
	Profile     string                          `json:"profile,omitempty"`
	Error       string                          `json:"error,omitempty"` // the document could not be validated
}

type docResult struct {
	path string
	rep  *cisis.Report
	err  error
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, paths, ok := parseValidate(args, stderr)
	if !ok {
		return 2
	}
	files, err := xmlFiles(paths)
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl validate: %v\n", err)
		return 2
	}
	eng, err := loadKit(ctx, o.kitDir, stderr)
	if err == nil && o.profile != "" {
		_, err = eng.Profile(o.profile)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl validate: %v\n", err)
		return 2
	}
	results := make([]chan docResult, len(files))
	for i := range results {
		results[i] = make(chan docResult, 1)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		eachInParallel(ctx, len(files), func(i int) {
			rep, err := validateFile(ctx, eng, files[i], o.profile)
			results[i] <- docResult{files[i], rep, err}
		})
	}()
	status := 0
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	valid := 0
	for i := range files {
		var r docResult
		select {
		case r = <-results[i]:
		case <-ctx.Done():
			fmt.Fprintln(stderr, "bndmrctl validate: interrupted")
			return 2
		}
		if r.err == nil && r.rep.Valid {
			valid++
		} else {
			status = 1
		}
		if !o.jsonl {
			printHuman(stdout, r)
		} else if err := enc.Encode(toJSON(r)); err != nil {
			fmt.Fprintf(stderr, "bndmrctl validate: %v\n", err)
			return 2
		}
	}
	<-done
	if !o.jsonl {
		fmt.Fprintf(stdout, "\n%d of %d documents valid\n", valid, len(files))
	}
	return status
}

// validateOptions are the flags of bndmrctl validate.
type validateOptions struct {
	kitDir, profile string
	jsonl           bool
}

// parseValidate reads the flags and paths of validate, flags before or
// after the paths; ok false: the usage has been printed.
func parseValidate(args []string, stderr io.Writer) (o validateOptions, paths []string, ok bool) {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the usage is validateUsage
	service.On(fs).String(&o.kitDir, "kit", "", "")
	fs.StringVar(&o.profile, "profile", "", "")
	fs.BoolVar(&o.jsonl, "jsonl", false, "")
	for {
		if err := fs.Parse(args); err != nil {
			fmt.Fprintf(stderr, "bndmrctl validate: %v\n\n%s", err, validateUsage)
			return o, nil, false
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0)) // flags may also follow paths
		args = fs.Args()[1:]
	}
	if len(paths) == 0 {
		fmt.Fprint(stderr, validateUsage)
		return o, nil, false
	}
	return o, paths, true
}

// loadKit loads the validation engine of the kit in dir (default: the
// current kit) and says on stderr what it leaves out: rules that do not
// compile, value sets the kit lacks (once, at load: a property of the kit,
// not of the documents).
func loadKit(ctx context.Context, dir string, stderr io.Writer) (*cisis.Engine, error) {
	if dir == "" {
		d, err := kit.Dir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	eng, err := cisis.Load(ctx, dir)
	if err != nil {
		return nil, err
	}
	for _, e := range eng.CompileErrors {
		fmt.Fprintf(stderr, "warning: rule left out: %v\n", e)
	}
	for _, m := range eng.MissingValueSets {
		fmt.Fprintln(stderr, missingValueSetNote(dir, m))
	}
	return eng, nil
}

// eachInParallel calls do(i) for every i in [0, n), on one worker per CPU,
// and returns once the calls have returned; it hands out no more once ctx
// ends.
func eachInParallel(ctx context.Context, n int, do func(i int)) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				do(i)
			}
		}()
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
}

func validateFile(ctx context.Context, eng *cisis.Engine, path, profile string) (*cisis.Report, error) {
	doc, err := parseFile(path)
	if err != nil {
		return nil, err
	}
	defer doc.Free()
	return eng.Validate(ctx, doc, cisis.Options{Profile: profile})
}

// parseFile parses the document at path as the validator does (no DTD, no
// network, the default limits); the caller frees it.
func parseFile(path string) (types.Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return xmldoc.Parse(data, xmldoc.DefaultLimits)
}

// missingValueSetNote is the load-time note on a value set the kit's
// schematrons name but the kit lacks.
func missingValueSetNote(kitDir, path string) string {
	name := path
	if rel, err := filepath.Rel(kitDir, path); err == nil && !strings.HasPrefix(rel, "..") {
		name = rel
	}
	if cisis.MissingFromOfficialKit(path) {
		return fmt.Sprintf("note: the value set %s, named by the kit's schematrons, is missing from the official ANS kit as well: codes checked against it fail, as they do with ANS's Saxon chain", name)
	}
	return fmt.Sprintf("warning: the value set %s, named by the kit's schematrons, is missing from this kit: codes checked against it fail", name)
}

// notRun is added to the reason of a document refused before validation.
const notRun = "not validated: the XSD and the schematrons were not run"

func toJSON(r docResult) jsonReport {
	j := jsonReport{Doc: filepath.Base(r.path), XSDErrors: []string{}, Schematrons: map[string][]schematron.Failure{}}
	if r.err != nil {
		j.Error = r.err.Error() + "; " + notRun
		return j
	}
	xsdValid := r.rep.XSDValid
	j.Valid, j.XSDValid, j.Profile = r.rep.Valid, &xsdValid, r.rep.Profile
	j.XSDErrors = append(j.XSDErrors, r.rep.XSDErrors...)
	for _, s := range r.rep.Schematrons {
		j.Schematrons[s.Name] = append([]schematron.Failure{}, s.Failures...)
	}
	return j
}

func printHuman(w io.Writer, r docResult) {
	name := filepath.Base(r.path)
	switch {
	case r.err != nil:
		fmt.Fprintf(w, "REFUSED  %s: %v; %s\n", name, r.err, notRun)
		return
	case r.rep.Valid:
		fmt.Fprintf(w, "valid    %s (%s)\n", name, r.rep.Profile)
		return
	}
	fmt.Fprintf(w, "INVALID  %s (%s)\n", name, r.rep.Profile)
	for _, x := range r.rep.XSDErrors {
		fmt.Fprintf(w, "    XSD  %s\n", x)
	}
	for _, s := range r.rep.Schematrons {
		for _, f := range s.Failures {
			fmt.Fprintf(w, "    %s %s/%s at %s\n        %s\n", f.Kind, s.Name, f.Pattern, f.Location, f.Text)
		}
	}
}

// xmlFiles expands folders into their .xml files (recursively, sorted).
func xmlFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.EqualFold(filepath.Ext(q), ".xml") {
				found = append(found, q)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, errors.New(p + ": no .xml file in this folder")
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

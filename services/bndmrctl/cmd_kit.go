package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bndmr/hub/pkg/cisis"
	"github.com/bndmr/hub/pkg/kit"
)

// cmdKit checks a CI-SIS kit before the hub switches to it: the visible
// conformance corpus (documents and the ANS reference chain's verdicts) is
// validated under the new kit, and every verdict must be the reference's.
func cmdKit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runSubcommand(ctx, "kit", kitUsage, map[string]runFunc{"check": kitCheck}, args, stdout, stderr)
}

const kitUsage = "usage: bndmrctl kit check --kit NEW [--corpus DIR]   (docs/operations.md, \"Switch the CI-SIS kit\")"

func kitCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("kit check", kitUsage, stderr)
	newKit := fs.String("kit", "", "the kit to switch to (the folder holding kit-3.0/, kit-2.41/, kit-2.22/); required")
	corpus := fs.String("corpus", "", "conformance corpus (docs/ and reference.jsonl); default: the new kit's conformance/, else the current kit's ("+kit.DefaultHelp+")")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil || fs.NArg() != 0 || *newKit == "" {
		fs.Usage()
		return 2
	}
	if *corpus == "" {
		*corpus = filepath.Join(*newKit, "conformance")
		if _, err := os.Stat(filepath.Join(*corpus, "reference.jsonl")); err != nil {
			cur, err := kit.Dir()
			if err != nil {
				fmt.Fprintf(stderr, "bndmrctl kit check: the new kit has no conformance/ and the current kit is not found: %v\n", err)
				return 2
			}
			*corpus = filepath.Join(cur, "conformance")
		}
	}
	refs, err := readReference(filepath.Join(*corpus, "reference.jsonl"))
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl kit check: %v\n", err)
		return 2
	}
	eng, err := loadKit(ctx, *newKit, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl kit check: kit %s: %v\n", *newKit, err)
		return 2
	}
	diffs := make([]string, len(refs))
	eachInParallel(ctx, len(refs), func(i int) {
		diffs[i] = checkDoc(ctx, eng, filepath.Join(*corpus, "docs", refs[i].Doc), refs[i])
	})
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "bndmrctl kit check: interrupted")
		return 2
	}
	bad := 0
	for i, d := range diffs {
		if d != "" {
			bad++
			fmt.Fprintf(stdout, "%s: %s\n", refs[i].Doc, d)
		}
	}
	fmt.Fprintf(stdout, "kit %s: %d of %d documents of %s have the reference verdict\n", *newKit, len(refs)-bad, len(refs), *corpus)
	if bad > 0 {
		return 1
	}
	return 0
}

// refVerdict is what the check compares of a reference.jsonl line.
type refVerdict struct {
	Doc      string `json:"doc"`
	Valid    bool   `json:"valid"`
	XSDValid bool   `json:"xsd_valid"`
}

func readReference(path string) ([]refVerdict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("conformance reference: %w", err)
	}
	defer f.Close()
	var refs []refVerdict
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r refVerdict
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Doc == "" {
			return nil, fmt.Errorf("%s line %d: not a reference verdict: %v", path, len(refs)+1, err)
		}
		refs = append(refs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("%s: no document", path)
	}
	return refs, nil
}

// checkDoc says how the new kit's verdict on one document differs from the
// reference ("" when it does not).
func checkDoc(ctx context.Context, eng *cisis.Engine, path string, ref refVerdict) string {
	rep, err := validateFile(ctx, eng, path, cisis.ConformanceProfile(ref.Doc))
	if err != nil {
		return fmt.Sprintf("not validated (%v); reference valid=%v", err, ref.Valid)
	}
	if rep.Valid != ref.Valid || rep.XSDValid != ref.XSDValid {
		return fmt.Sprintf("valid=%v xsd_valid=%v, reference valid=%v xsd_valid=%v", rep.Valid, rep.XSDValid, ref.Valid, ref.XSDValid)
	}
	return ""
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"time"

	"github.com/bndmr/hub/pkg/cda"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pseudonymisation"
)

// cmdExtract prints the extraction of CDA documents, or with --key the
// sdmmr.record the pseudonymisation service would publish for them.
func cmdExtract(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("extract", "usage: bndmrctl extract [--kit DIR] [--key FILE] [--jsonl] FILE...", stderr)
	kitDir := kitFlag(fs, "CI-SIS kit folder; with no FILE, extract its official SDM-MR examples ("+kit.DefaultHelp+")")
	keyFile := fs.String("key", "", "pseudonymisation key file or directory: print the pseudonymised sdmmr.record instead")
	rotation := fs.Bool("rotation", false, "with --key holding several keys: also compute the pseudonyms of the non-primary keys")
	jsonl := fs.Bool("jsonl", false, "one compact JSON object per line (with --key: exactly the bytes the service publishes)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	files := fs.Args()
	if len(files) == 0 {
		var err error
		if files, err = kitExamples(*kitDir); err != nil {
			fmt.Fprintf(stderr, "bndmrctl extract: %v\n", err)
			return 2
		}
	}
	var ps *pseudonymisation.Pseudonymiser
	if *keyFile != "" {
		keys, err := pseudonymisation.LoadKeys(*keyFile)
		if err != nil {
			fmt.Fprintf(stderr, "bndmrctl extract: %v\n", err)
			return 2
		}
		ps = pseudonymisation.New(keys, pseudonymisation.Options{Rotation: *rotation})
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	failed := 0
	for i, f := range files {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "bndmrctl extract: interrupted")
			return 1
		}
		v, err := extractFile(f, i, ps)
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "bndmrctl extract: %s: %v\n", f, err)
			continue
		}
		if err := writeJSON(w, v, *jsonl); err != nil {
			fmt.Fprintf(stderr, "bndmrctl extract: writing output: %v\n", err)
			return 1
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "bndmrctl extract: writing output: %v\n", err)
		return 1
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "bndmrctl extract: %d of %d documents could not be extracted\n", failed, len(files))
		return 1
	}
	return 0
}

// extractFile returns the extraction of one file, or its record when ps is
// set.
func extractFile(path string, index int, ps *pseudonymisation.Pseudonymiser) (any, error) {
	doc, err := parseFile(path)
	if err != nil {
		return nil, err
	}
	defer doc.Free()
	d, err := cda.Extract(doc)
	if err != nil {
		return nil, err
	}
	if ps == nil {
		return d, nil
	}
	ext := events.Extracted{
		V: events.ExtractedV, DocIndex: index, DocName: filepath.Base(path),
		ReceivedAt: time.Now().UTC().Truncate(time.Second), Header: d.Header, Document: d,
	}
	rec, err := ps.Record(ext)
	if err != nil {
		return nil, err
	}
	return rec, nil
}

func writeJSON(w io.Writer, v any, compact bool) error {
	var b []byte
	var err error
	if compact {
		b, err = json.Marshal(v)
	} else {
		b, err = json.MarshalIndent(v, "", "  ")
	}
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// kitExamples lists the official SDM-MR examples of the kit.
func kitExamples(dir string) ([]string, error) {
	if dir == "" {
		var err error
		if dir, err = kit.Dir(); err != nil {
			return nil, err
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "examples", "sdm-mr", "*.xml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, errors.New("no FILE given and no examples/sdm-mr/*.xml in the kit " + dir)
	}
	sort.Strings(files)
	return files, nil
}

package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/kit"
)

// subsetCorpus links the first n documents of the kit's conformance corpus
// into a folder, with their reference lines; flip inverts the verdict of
// the first one.
func subsetCorpus(t *testing.T, kitDir string, n int, flip bool) string {
	t.Helper()
	src := filepath.Join(kitDir, "conformance")
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(src, "reference.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var lines []string
	for sc.Scan() && len(lines) < n {
		line := sc.Text()
		refs, err := readReferenceLine(line)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(src, "docs", refs), filepath.Join(dir, "docs", refs)); err != nil {
			t.Fatal(err)
		}
		if flip && len(lines) == 0 {
			if strings.Contains(line, `"valid": true`) {
				line = strings.Replace(line, `"valid": true`, `"valid": false`, 1)
			} else {
				line = strings.Replace(line, `"valid": false`, `"valid": true`, 1)
			}
		}
		lines = append(lines, line)
	}
	if err := os.WriteFile(filepath.Join(dir, "reference.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readReferenceLine(line string) (string, error) {
	i := strings.Index(line, `"doc": "`)
	if i < 0 {
		return "", os.ErrInvalid
	}
	rest := line[i+len(`"doc": "`):]
	return rest[:strings.Index(rest, `"`)], nil
}

// TestKitCheck: the current kit gives the reference verdicts on a slice of
// the visible corpus (exit 0); a corpus whose reference disagrees fails the
// check (1) and names the document; a missing kit is a usage error (2).
func TestKitCheck(t *testing.T) {
	kitDir, err := kit.Dir()
	if err != nil {
		t.Fatal(err)
	}
	good := subsetCorpus(t, kitDir, 24, false)
	bad := subsetCorpus(t, kitDir, 24, true)
	for _, tc := range []ctlCase{
		{"the current kit on the corpus", []string{"kit", "check", "--kit", kitDir, "--corpus", good}, 0, ": 24 of 24 documents of " + good + " have the reference verdict", ""},
		{"a verdict that differs", []string{"kit", "check", "--kit", kitDir, "--corpus", bad}, 1, "SDM-MR_2021.01.xml: valid=true xsd_valid=true, reference valid=false", ""},
		{"no such kit", []string{"kit", "check", "--kit", filepath.Join(t.TempDir(), "none"), "--corpus", good}, 2, "", "none is not a CI-SIS kit folder"},
		{"no --kit", []string{"kit", "check"}, 2, "", "usage: bndmrctl kit check --kit NEW"},
		{"help", []string{"kit", "check", "-h"}, 0, "", "usage: bndmrctl kit check --kit NEW"},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, context.Background()) })
	}
}

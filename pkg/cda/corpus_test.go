package cda

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/xmldoc"
)

// The conformance corpus (the official examples and 560 mutants): every
// document the reference validator accepts is extracted, and the others
// either are or fail with a reason, never a panic.
func TestExtractConformanceCorpus(t *testing.T) {
	dir, err := kit.Dir()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "conformance", "reference.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	n, failed := 0, 0
	for sc.Scan() {
		var ref struct {
			Doc   string `json:"doc"`
			Valid bool   `json:"valid"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ref); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, "conformance", "docs", ref.Doc))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := xmldoc.Parse(data, xmldoc.DefaultLimits)
		if err != nil {
			if ref.Valid {
				t.Errorf("%s: valid but unparsable: %v", ref.Doc, err)
			}
			continue
		}
		n++
		d, err := Extract(doc)
		doc.Free()
		if err != nil {
			failed++
			// The schematrons do not require setId/versionNumber; the hub
			// does (ErrUnversioned), so a valid document may still fail so.
			if ref.Valid && !errors.Is(err, ErrUnversioned) {
				t.Errorf("%s: valid per the reference, not extracted: %v", ref.Doc, err)
			}
			if !errors.Is(err, ErrNotSDMMR) && !errors.Is(err, ErrUnversioned) && !strings.Contains(err.Error(), "no id") {
				t.Errorf("%s: unexpected error %v", ref.Doc, err)
			}
			continue
		}
		if ref.Valid && d.Body.File == nil && d.Header.ModelVersion == "2024.01" {
			t.Errorf("%s: valid 2024.01 document without its FR-Dossier", ref.Doc)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 500 {
		t.Fatalf("only %d documents read", n)
	}
	t.Logf("%d documents, %d not extracted", n, failed)
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/cisis"
	"github.com/bndmr/hub/pkg/cisis/cisistest"
	"github.com/bndmr/hub/pkg/schematron"
)

// What `bndmrctl validate` says of files that are not SDM-MR documents, and
// that its --jsonl lines keep the shape of conformance/reference.jsonl.
func TestValidateRefusals(t *testing.T) {
	kitDir := cisistest.KitDir(t)
	eng := cisistest.Engine(t)
	tmp := t.TempDir()
	binary := filepath.Join(tmp, "scan.xml")
	if err := os.WriteFile(binary, []byte("%PDF-1.4\n\x00\x01\x02\xff\xfe binary"), 0o644); err != nil {
		t.Fatal(err)
	}
	metadata := filepath.Join(tmp, "METADATA.XML")
	if err := os.WriteFile(metadata, []byte(`<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"/>`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path, says string
		valid      bool
	}{
		{metadata, "not a CDA document (root element SubmitObjectsRequest", false},
		{binary, "the document is not XML", false},
		{filepath.Join(kitDir, "examples/other-cda/VAC_2023.01.xml"), "not an SDM-MR document", false},
		{filepath.Join(kitDir, "examples/sdm-mr/SDM-MR_2024.01_nouveau-ne.xml"), "", true},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			rep, err := validateFile(context.Background(), eng, c.path, "")
			r := docResult{c.path, rep, err}
			line, err := json.Marshal(toJSON(r))
			if err != nil {
				t.Fatal(err)
			}
			// The reference's own reader: xsd_valid must still decode into a bool.
			var ref struct {
				Doc         string                          `json:"doc"`
				Valid       bool                            `json:"valid"`
				XSDValid    bool                            `json:"xsd_valid"`
				XSDErrors   []string                        `json:"xsd_errors"`
				Schematrons map[string][]schematron.Failure `json:"schematrons"`
			}
			if err := json.Unmarshal(line, &ref); err != nil {
				t.Fatalf("%s does not read as a reference line: %v", line, err)
			}
			var human bytes.Buffer
			printHuman(&human, r)
			if c.valid {
				if !ref.Valid || !ref.XSDValid || !bytes.Contains(line, []byte(`"xsd_valid":true`)) {
					t.Errorf("valid document reported as %s", line)
				}
				return
			}
			if ref.Valid || !bytes.Contains(line, []byte(`"xsd_valid":null`)) || ref.XSDErrors == nil || ref.Schematrons == nil {
				t.Errorf("a refused document must have xsd_valid null and empty lists: %s", line)
			}
			for _, out := range []string{string(line), human.String()} {
				if !strings.Contains(out, c.says) || !strings.Contains(out, "the XSD and the schematrons were not run") ||
					strings.Contains(out, "declared UTF-8") {
					t.Errorf("%q should say %q and that the XSD was not run", out, c.says)
				}
			}
		})
	}
	for _, m := range eng.MissingValueSets {
		if note := missingValueSetNote(kitDir, m); cisis.MissingFromOfficialKit(m) &&
			(!strings.Contains(note, "missing from the official ANS kit as well") || strings.Contains(note, kitDir)) {
			t.Errorf("note %q", note)
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bndmr/hub/pkg/mssante"
)

// unpackDoc is one document in the --jsonl output.
type unpackDoc struct {
	Size int64  `json:"size"`
	SHA1 string `json:"sha1"`
	unpackEntry
	// Duplicates are the other entries holding the same bytes, taken once.
	Duplicates []unpackEntry `json:"duplicates,omitempty"`
}

// unpackEntry is an entry of the mail's zip (or MIME part) holding a
// document: the document itself, or another entry with the same bytes.
type unpackEntry struct {
	Name           string   `json:"name"`
	Source         string   `json:"source"`
	MetadataHashOK *bool    `json:"metadata_hash_ok"`
	MetadataSizeOK *bool    `json:"metadata_size_ok"`
	PatientID      string   `json:"patient_id,omitempty"`
	FormatCode     string   `json:"format_code,omitempty"`
	UniqueID       string   `json:"unique_id,omitempty"`
	Warnings       []string `json:"warnings"`
}

// unpackResult is one mail in the --jsonl output.
type unpackResult struct {
	File      string               `json:"file"`
	MessageID string               `json:"message_id"`
	From      string               `json:"from"`
	Subject   string               `json:"subject"`
	IsReport  bool                 `json:"is_report"`
	Documents []unpackDoc          `json:"documents"`
	Warnings  []string             `json:"warnings"`
	Rejected  *mssante.RejectError `json:"rejected"`
	Error     string               `json:"error,omitempty"` // the file could not be read at all
}

// cmdUnpack reads raw mails (RFC 5322 files) and shows what the validator
// stage would receive from each.
func cmdUnpack(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("unpack", "usage: bndmrctl unpack [--jsonl] [--strict] [--out DIR] FILE...\n\nUnpack raw MSSanté mails as the validator would see them.\nExit status: 0 when every mail yields at least one document, 1 otherwise, 2 on usage error.", stderr)
	jsonl := fs.Bool("jsonl", false, "print one JSON object per mail")
	strict := fs.Bool("strict", false, "reject mails whose METADATA.XML does not match their files")
	out := fs.String("out", "", "also write every document found into this folder, as MAILFILE-N.xml (for bndmrctl validate)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	lim := mssante.DefaultLimits()
	lim.StrictMetadata = *strict
	status := 0
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			fmt.Fprintf(stderr, "bndmrctl unpack: %v\n", err)
			return 2
		}
	}
	for _, file := range fs.Args() {
		res := unpackFile(ctx, file, lim, *out)
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "bndmrctl unpack: interrupted")
			return 1
		}
		if len(res.Documents) == 0 {
			status = 1
		}
		if *jsonl {
			if err := enc.Encode(res); err != nil {
				fmt.Fprintf(stderr, "bndmrctl unpack: writing the result: %v\n", err)
				return 1
			}
			continue
		}
		printUnpack(stdout, res)
	}
	return status
}

// unpackFile unpacks one mail; with out set, it also writes each document
// found there as MAILFILE-N.xml (N from 1, in the order of m.Documents).
func unpackFile(ctx context.Context, file string, lim mssante.Limits, out string) unpackResult {
	res := unpackResult{File: file, Documents: []unpackDoc{}, Warnings: []string{}}
	raw, err := readLimited(file, lim.MaxMailBytes)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	m, err := mssante.Unpack(ctx, raw, lim)
	var rej *mssante.RejectError
	switch {
	case errors.As(err, &rej):
		res.Rejected = rej
	case err != nil:
		res.Error = err.Error()
	}
	if m == nil {
		return res
	}
	res.MessageID, res.From, res.Subject, res.IsReport = m.MessageID, m.From, m.Subject, m.IsReport
	res.Warnings = append(res.Warnings, m.Warnings...)
	for i, d := range m.Documents {
		if out != "" {
			name := fmt.Sprintf("%s-%d.xml", strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)), i+1)
			if err := os.WriteFile(filepath.Join(out, name), d.Data, 0o644); err != nil {
				res.Error = fmt.Sprintf("writing %s: %v", name, err)
			}
		}
		ud := unpackDoc{Size: d.Size, SHA1: d.SHA1, unpackEntry: unpackEntry{
			Name: d.Name, Source: d.Source, MetadataHashOK: d.MetadataHashOK, MetadataSizeOK: d.MetadataSizeOK,
			PatientID: d.PatientID, FormatCode: d.FormatCode, UniqueID: d.UniqueID,
			Warnings: append([]string{}, d.Warnings...),
		}}
		for _, x := range d.Duplicates {
			ud.Duplicates = append(ud.Duplicates, unpackEntry{Name: x.Name, Source: x.Source,
				MetadataHashOK: x.MetadataHashOK, MetadataSizeOK: x.MetadataSizeOK,
				PatientID: x.PatientID, FormatCode: x.FormatCode, UniqueID: x.UniqueID,
				Warnings: append([]string{}, x.Warnings...)})
		}
		res.Documents = append(res.Documents, ud)
	}
	return res
}

// readLimited reads a file, refusing one larger than limit+1 bytes without
// loading it (Unpack then reports too_large on the limit+1 bytes read).
func readLimited(file string, limit int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}

func printUnpack(w io.Writer, r unpackResult) {
	fmt.Fprintf(w, "%s\n", r.File)
	if r.Error != "" {
		fmt.Fprintf(w, "  ERROR: %s\n\n", r.Error)
		return
	}
	fmt.Fprintf(w, "  Message-ID: %s\n  From:       %s\n  Subject:    %s\n", r.MessageID, r.From, r.Subject)
	if r.IsReport {
		fmt.Fprintln(w, "  (a delivery or read report: never acknowledged)")
	}
	if r.Rejected != nil {
		fmt.Fprintf(w, "  REJECTED %s: %s\n", r.Rejected.Code, r.Rejected.Reason)
		if r.Rejected.ReasonFR != "" {
			fmt.Fprintf(w, "  REJETÉ %s : %s\n", r.Rejected.Code, r.Rejected.ReasonFR)
		}
	}
	for i, d := range r.Documents {
		fmt.Fprintf(w, "  document %d: %s (%s, %d bytes, sha1 %s)\n", i+1, d.Name, d.Source, d.Size, d.SHA1)
		if d.MetadataHashOK != nil {
			fmt.Fprintf(w, "    METADATA: hash %s, size %s, patientId %s, formatCode %s, uniqueId %s\n",
				okText(*d.MetadataHashOK), okText(*d.MetadataSizeOK), d.PatientID, d.FormatCode, d.UniqueID)
		} else {
			fmt.Fprintln(w, "    METADATA: not listed")
		}
		for _, warn := range d.Warnings {
			fmt.Fprintf(w, "    warning: %s\n", warn)
		}
		for _, x := range d.Duplicates {
			fmt.Fprintf(w, "    same bytes also as: %s (%s)", x.Name, x.Source)
			if x.MetadataHashOK != nil {
				fmt.Fprintf(w, ", METADATA: hash %s, size %s, patientId %s, uniqueId %s",
					okText(*x.MetadataHashOK), okText(*x.MetadataSizeOK), x.PatientID, x.UniqueID)
			}
			fmt.Fprintln(w)
		}
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", strings.TrimSpace(warn))
	}
	fmt.Fprintln(w)
}

func okText(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISMATCH"
}

package mssante

import (
	"fmt"
	"strings"
	"unicode"
)

// Rejection codes. They are stable: the validator publishes them in the
// mail outcome, the acknowledgement maps them to the CI-SIS error 906 with
// the reason as label, and operators grep for them.
const (
	// CodeTooLarge: the raw mail is bigger than Limits.MaxMailBytes.
	CodeTooLarge = "too_large"
	// CodeUnreadableMIME: the mail is not parseable MIME (bad header block,
	// multipart without boundary or truncated, undecodable base64...).
	CodeUnreadableMIME = "unreadable_mime"
	// CodeTooComplex: MIME nesting deeper than Limits.MaxDepth or more parts
	// than Limits.MaxParts.
	CodeTooComplex = "too_complex"
	// CodeReport: a delivery or disposition report (DSN, MDN), a bounce
	// (null Return-Path) or an automatic reply (Auto-Submitted:
	// auto-replied): it never carries a submission and must never be
	// acknowledged.
	CodeReport = "report"
	// CodeNoCDA: neither an XDM archive nor an attachment holds a CDA document.
	CodeNoCDA = "no_cda"
	// CodeBadZip: an attachment that claims or looks like a zip cannot be read
	// (corrupt, truncated, checksum error, unsupported compression, duplicate
	// entry names).
	CodeBadZip = "bad_zip"
	// CodeEncryptedZip: a zip entry is encrypted.
	CodeEncryptedZip = "encrypted_zip"
	// CodeNestedZip: a zip inside the zip.
	CodeNestedZip = "nested_zip"
	// CodeZipBomb: too many entries, an entry or the total too large once
	// uncompressed, or a compression ratio above Limits.MaxRatio.
	CodeZipBomb = "zip_bomb"
	// CodePathTraversal: a zip entry name that is absolute, climbs with "..",
	// carries a drive letter or a NUL byte.
	CodePathTraversal = "path_traversal"
	// CodeSeveralPatients: the documents of the mail concern more than one
	// patient (Référentiel socle MSSanté #2, ECO.2.1.1: one patient per mail).
	CodeSeveralPatients = "several_patients"
	// CodeBadMetadata: METADATA.XML is hostile (declares a DTD), or, with
	// StrictMetadata, unreadable.
	CodeBadMetadata = "bad_metadata"
	// CodeMetadataMismatch: with StrictMetadata only, METADATA.XML does not
	// describe the files (hash, size, missing or unlisted document).
	CodeMetadataMismatch = "metadata_mismatch"
	// CodeInternal: a bug in this package (a recovered panic). Never expected;
	// the mail should be quarantined and the bug reported.
	CodeInternal = "internal_error"
)

// RejectionCodes lists every code Unpack may return, for documentation and
// for consumers that map codes to acknowledgement labels.
func RejectionCodes() []string {
	return []string{CodeTooLarge, CodeUnreadableMIME, CodeTooComplex, CodeReport, CodeNoCDA, CodeBadZip,
		CodeEncryptedZip, CodeNestedZip, CodeZipBomb, CodePathTraversal, CodeSeveralPatients,
		CodeBadMetadata, CodeMetadataMismatch, CodeInternal}
}

// RejectError is why a whole mail yields no document. Reason is English,
// ReasonFR French; both name the part or file at fault.
type RejectError struct {
	Code     string `json:"code"`
	Reason   string `json:"reason"`
	ReasonFR string `json:"reason_fr,omitempty"`
}

func (e *RejectError) Error() string {
	return "mail rejected (" + e.Code + "): " + e.Reason
}

// Bilingual returns "French / English", for a label read by people of both
// sides (the MDN text, the operator report).
func (e *RejectError) Bilingual() string {
	if e.ReasonFR == "" {
		return e.Reason
	}
	return e.ReasonFR + " / " + e.Reason
}

// reject builds a RejectError; en and fr are format strings over the same
// arguments in the same order.
func reject(code, en, fr string, args ...any) *RejectError {
	return &RejectError{Code: code, Reason: cleanReason(fmt.Sprintf(en, args...)), ReasonFR: cleanReason(fmt.Sprintf(fr, args...))}
}

// maxReasonRunes bounds a reason: it quotes names and parser messages that
// come from the mail, and it ends up in an MDN subject line and in logs.
const maxReasonRunes = 1000

// cleanReason turns control characters (from a hostile header or file name)
// into spaces, collapses white space and bounds the length.
func cleanReason(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxReasonRunes {
		s = string(r[:maxReasonRunes]) + "…"
	}
	return s
}

// Package mssante turns MSSanté mails into the CDA documents they carry, and
// builds such mails for tests and for the synthetic mail generator. The MDN
// (acknowledgement) builder lives in mdn*.go.
//
// # Unpacking
//
// Unpack reads one raw RFC 5322 mail: MIME with go-message (nested
// multiparts, forwarded message/rfc822 parts, RFC 2047 subjects and file
// names, RFC 2231 parameters, base64 and quoted-printable, any charset of the
// text part), then every zip attachment as an IHE XDM archive
// (README.TXT, INDEX.HTM, IHE_XDM/SUBSET01/METADATA.XML and the documents),
// and every XML attachment whose root is a ClinicalDocument as a bare CDA
// (the degraded path some connectors take).
//
// METADATA.XML (XDS ebRIM 3.0) is parsed with encoding/xml, refusing any
// DTD. Each XDSDocumentEntry is matched to its file through its URI slot,
// relative to the folder of METADATA.XML, ignoring case and separators; its
// hash (SHA-1) and size are checked against the bytes, and its patientId,
// uniqueId and formatCode are kept on the Document for the validator's
// cross-checks with the CDA header.
//
// # What comes before the header, and where it ends
//
// A UTF-8 byte-order mark, an mbox "From " separator line and white space
// before the first header field are skipped, each with a warning (Mail.Header
// then starts at the first field); so are they in a forwarded message. When no blank line separates the header
// from the body and the first line that is not a field is the boundary the
// header's Content-Type declares, the header ends there, with a warning. A
// header that still cannot be parsed is read leniently for the
// acknowledgement: the first occurrence of a field wins, and a boundary line
// ends it.
//
// # Warnings and rejections
//
// What real archives get wrong is a warning on the document or the mail,
// not a rejection: hash or size mismatches (the ANS samples have them), a
// file listed in another case, a CDA the metadata does not list (taken), a
// listed file that is missing or not a CDA (skipped), a missing METADATA.XML.
// Identical bytes found twice (two XDM subsets, a bare copy beside the
// archive, one METADATA.XML listing a file twice) give one Document; each
// other listing is kept in Document.Duplicates with its metadata, checked
// like the first's, and its warnings are repeated on the Document under its
// name.
// Limits.StrictMetadata turns these into rejections.
//
// A mail as a whole is rejected, with a stable code and a French and an
// English reason (RejectError), when it is hostile or unusable:
//
//	too_large          the raw mail exceeds Limits.MaxMailBytes
//	unreadable_mime    bad header block, multipart without boundary, truncated mail, undecodable base64
//	too_complex        MIME nesting deeper than Limits.MaxDepth or more than Limits.MaxParts parts
//	report             a DSN, an MDN, a bounce (null Return-Path) or an automatic reply
//	                   (Auto-Submitted: auto-replied): never a submission, never acknowledged
//	no_cda             no XDM archive and no attachment holds a CDA document
//	bad_zip            unreadable, truncated or ambiguous zip, unsupported compression method
//	encrypted_zip      an encrypted zip entry
//	nested_zip         a zip inside the zip
//	zip_bomb           too many entries, an entry or the total too large once inflated, ratio above
//	                   Limits.MaxRatio, or an entry inflating beyond its declared size
//	path_traversal     an entry name that is absolute, has a drive letter, climbs with "..", or holds NUL
//	several_patients   the documents concern more than one patient (one per mail, Ref#2 ECO.2.1.1)
//	bad_metadata       METADATA.XML declares a DTD, is too large or lists more documents than
//	                   Limits.MaxZipEntries (or, strict, is missing or unreadable)
//	metadata_mismatch  strict only: METADATA.XML does not describe the files
//	internal_error     a recovered panic: a bug, never expected
//
// Sizes are counted while inflating: a zip header's declared sizes are only
// used to refuse early. Nothing is ever written to disk.
//
// The synthetic mails of the tests are built by pkg/mailbuild; the CDA
// header sniffer is pkg/cdasniff's, the XDS identifiers pkg/xds's.
package mssante

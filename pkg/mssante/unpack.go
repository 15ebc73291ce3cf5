package mssante

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"golang.org/x/text/encoding/charmap"

	"github.com/bndmr/hub/pkg/cdasniff"
)

// Where a document came from.
const (
	SourceXDM        = "xdm"        // a file of an IHE_XDM.zip archive
	SourceAttachment = "attachment" // a bare CDA attached to the mail (degraded path: no metadata)
)

// Mail is what the validator receives for one raw mail: the headers the
// acknowledgement needs and the CDA documents found.
type Mail struct {
	// MessageID is the Message-ID header as written, with its angle
	// brackets (what an MDN puts in Original-Message-ID).
	MessageID string
	// From, ReturnPath and DispositionNotificationTo are bare addresses
	// (local@domain), so they can be compared (RFC 8098 §2.1: no automatic
	// MDN when Disposition-Notification-To differs from Return-Path).
	From, ReturnPath, DispositionNotificationTo string
	// OriginalRecipient is the Original-Recipient header as written.
	OriginalRecipient string
	// Subject is decoded (RFC 2047) to UTF-8.
	Subject string
	Date    time.Time
	// IsReport is true for a multipart/report (MDN or DSN), a bounce (null
	// Return-Path) or an Auto-Submitted mail: it must never be acknowledged
	// (RFC 3834, RFC 8098). Reports and automatic replies are rejected with
	// code "report"; an Auto-Submitted: auto-generated mail (a DPI sending on
	// its own) still has its documents taken.
	IsReport bool
	// Header is the raw header block of the outer message, blank line
	// excluded (a copy: it does not alias the raw mail).
	Header []byte
	// XMSSCodeCDA and XMSSINS are the X-MSS-CODECDA and X-MSS-INS headers as
	// written: logged, not trusted (senders set them best-effort).
	XMSSCodeCDA, XMSSINS string
	// Text is the first text/plain part, decoded to UTF-8 (at most 64 KiB).
	Text string
	// Forwarded lists the messages found inside message/rfc822 parts
	// (a secretary forwarding the hospital's mail); documents may come from them.
	Forwarded []Envelope
	Documents []Document
	Warnings  []string

	report string // why the mail is a report that carries no submission, "" otherwise
}

// Envelope is the identity of a forwarded message.
type Envelope struct {
	MessageID, From, DispositionNotificationTo, Subject string
	Date                                                time.Time
}

// Document is one CDA document found in a mail.
type Document struct {
	// Name is the path of the file in its archive ("IHE_XDM/SUBSET01/DOC00001.XML",
	// separators normalised to "/"), or the attachment's file name.
	Name string
	Data []byte
	Size int64
	SHA1 string // lower-case hex of Data
	// MetadataHashOK and MetadataSizeOK say whether METADATA.XML's hash and
	// size slots match the file; nil when METADATA.XML does not list it.
	MetadataHashOK, MetadataSizeOK *bool
	// From METADATA.XML when it lists the document: the XDS patientId
	// ("ext^^^&root&ISO", the INS), formatCode, uniqueId and a few more, for
	// cross-checks with the CDA header.
	PatientID, FormatCode, UniqueID string
	TypeCode, MimeType, Title       string
	AuthorInstitution               string
	// Source is SourceXDM or SourceAttachment; Archive names the zip
	// attachment for SourceXDM.
	Source, Archive string
	// Forwarded is true when the document was inside a forwarded message.
	Forwarded bool
	Warnings  []string
	// Duplicates are the other entries of the mail that hold the same
	// bytes (a second XDM subset, a bare copy beside the archive): the
	// document is taken once, and what their metadata said is kept here.
	// Their warnings are also on Warnings, prefixed with their name.
	Duplicates []Duplicate

	cda *cdasniff.Header
}

// Duplicate is an entry of the mail whose bytes are those of a Document
// already taken: its name and the metadata METADATA.XML gave it.
type Duplicate struct {
	Name, Source, Archive           string
	PatientID, FormatCode, UniqueID string
	MetadataHashOK, MetadataSizeOK  *bool
	Warnings                        []string
}

// maxTextBytes bounds Mail.Text; maxHeaderBytes the outer header block
// (go-message's own default).
const (
	maxTextBytes   = 64 << 10
	maxHeaderBytes = 1 << 20
)

// Unpack parses a raw RFC 5322 mail and returns the CDA documents it carries.
// The error is a *RejectError when the mail as a whole is refused; the Mail
// is then still returned with the headers that could be read, so that an
// acknowledgement can be sent. The only other error is ctx's.
func Unpack(ctx context.Context, raw []byte, lim Limits) (*Mail, error) {
	lim = lim.withDefaults()
	start, lead := skipLeader(raw[:min(len(raw), maxHeaderBytes)])
	body := raw[start:]
	end, noBlank := headerEnd(body[:min(len(body), maxHeaderBytes)])
	m := &Mail{Header: bytes.Clone(body[:end]), Warnings: lead}
	err := guarded(m, func() error { return unpack(ctx, raw, lim, m, body, end, noBlank) })
	return m, err
}

// guarded runs f and turns a panic in it (a bug of this package on some
// input) into an internal-error rejection of the mail, with no document: the
// mail is acknowledged as refused instead of taking the validator down.
func guarded(m *Mail, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			m.Documents = nil
			err = reject(CodeInternal, "internal error while unpacking the mail (%v); please report it",
				"erreur interne pendant le dépaquetage du courriel (%v) ; merci de la signaler", r)
		}
	}()
	return f()
}

// unpack is Unpack past the header block's bounds: m holds the raw header.
func unpack(ctx context.Context, raw []byte, lim Limits, m *Mail, body []byte, end int, noBlank bool) error {
	if int64(len(raw)) > lim.MaxMailBytes {
		readOuterHeader(m, m.Header)
		return reject(CodeTooLarge, "the mail is %d bytes, more than the limit of %d",
			"le courriel fait %d octets, plus que la limite de %d", len(raw), lim.MaxMailBytes)
	}
	if len(m.Header) >= maxHeaderBytes {
		readOuterHeader(m, m.Header)
		return reject(CodeUnreadableMIME, "the mail's header block is larger than %d bytes",
			"le bloc d'en-tête du courriel dépasse %d octets", maxHeaderBytes)
	}
	if noBlank {
		m.Warnings = append(m.Warnings, "no blank line between the mail's header and its first MIME boundary; the header is taken to end at the boundary")
	}
	br := bufio.NewReader(headerSource(body, end, noBlank))
	h, herr := textproto.ReadHeader(br)
	if herr != nil {
		readOuterHeader(m, m.Header)
		return reject(CodeUnreadableMIME, "the mail's header cannot be read: %v",
			"l'en-tête du courriel est illisible : %v", herr)
	}
	fillHeaders(m, h)
	if m.report != "" {
		return reject(CodeReport, "the mail is a delivery or read report or an automatic reply (%s), not a submission; it is not acknowledged",
			"le courriel est un accusé de réception ou de lecture ou une réponse automatique (%s), pas un envoi ; il n'est pas acquitté", m.report)
	}
	if m.IsReport {
		m.Warnings = append(m.Warnings, "Auto-Submitted mail: its documents are taken, but no acknowledgement may be sent to it (RFC 3834)")
	}
	w := &walker{ctx: ctx, lim: lim, mail: m, budget: zipBudget{left: lim.MaxTotalBytes}}
	if rej := w.entity(h, br, 0, "0", false); rej != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return rej
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if rej := w.finish(); rej != nil {
		return rej
	}
	return nil
}

// headerSource returns the message to parse: body itself, or, when its
// header stops at the first boundary line without a blank line (ANS's own
// MDN example has this shape), body with the blank line put back at end.
func headerSource(body []byte, end int, noBlank bool) io.Reader {
	if !noBlank {
		return bytes.NewReader(body)
	}
	return io.MultiReader(bytes.NewReader(body[:end]), strings.NewReader("\r\n"), bytes.NewReader(body[end:]))
}

// utf8BOM is what some .NET mail libraries write before the first header.
const utf8BOM = "\xef\xbb\xbf"

// skipLeader returns where the mail's first header starts, past what some
// producers write before it: a UTF-8 byte-order mark (.NET mail
// libraries), the "From " separator line of an mbox (a mail exported from
// Thunderbird or taken from a spool), white space (a webmail export padded
// the file). Nothing of it is part of RFC 5322, and none of it can be
// mistaken for a header. White space is skipped only when a header field
// follows it. Each skip is told in a warning.
func skipLeader(raw []byte) (start int, warnings []string) {
	for i := 0; i < 3; i++ { // BOM, mbox line, white space: in any order, each once
		rest := raw[start:]
		switch {
		case bytes.HasPrefix(rest, []byte(utf8BOM)):
			start += len(utf8BOM)
			warnings = append(warnings, "the mail starts with a UTF-8 byte-order mark; skipped")
		case isMboxFromLine(rest):
			nl := bytes.IndexByte(rest, '\n')
			if nl < 0 {
				return start, warnings
			}
			start += nl + 1
			warnings = append(warnings, fmt.Sprintf("the mail starts with an mbox separator line %q (a mail exported from a mail client or spool); skipped",
				strings.TrimRight(string(rest[:min(nl, 120)]), "\r")))
		default:
			n := len(rest) - len(bytes.TrimLeft(rest, " \t\r\n"))
			if n == 0 || !isHeaderField(rest[n:]) {
				return start, warnings
			}
			start += n
			warnings = append(warnings, fmt.Sprintf("the mail starts with %d bytes of white space before its first header (a webmail export?); skipped", n))
		}
	}
	return start, warnings
}

// isMboxFromLine tells an mbox separator ("From sender date") from the
// obsolete header form "From : address" (RFC 5322 §4.5.3).
func isMboxFromLine(b []byte) bool {
	rest, ok := bytes.CutPrefix(b, []byte("From "))
	return ok && !bytes.HasPrefix(bytes.TrimLeft(rest, " \t"), []byte(":"))
}

// isHeaderField tells whether line starts with a header field name and its
// colon (RFC 5322 §2.2: printable ASCII but the colon).
func isHeaderField(line []byte) bool {
	for i, c := range line {
		switch {
		case c == ':':
			return i > 0
		case c < 33 || c > 126:
			return false
		}
	}
	return false
}

// headerEnd returns the length of the header block: everything before the
// first empty line. When a line that opens the multipart body (the
// boundary the header's Content-Type declares) comes first, the block ends
// there and noBlank is true: some producers, ANS's MDN example among them,
// write no blank line before the first boundary.
func headerEnd(raw []byte) (end int, noBlank bool) {
	checked := false
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			return len(raw), false
		}
		line := bytes.TrimSuffix(raw[i:i+j], []byte("\r"))
		if len(line) == 0 {
			return i, false
		}
		// Only the first line that is neither a field nor a continuation
		// can be the boundary: the header is unreadable past it anyway.
		if !checked && !isHeaderField(line) && line[0] != ' ' && line[0] != '\t' {
			checked = true
			if b := outerBoundary(raw[:i]); i > 0 && b != "" && strings.TrimRight(string(line), " \t") == "--"+b {
				return i, true
			}
		}
		i += j + 1
	}
	return len(raw), false
}

// outerBoundary is the boundary parameter of the first Content-Type field
// of a header block, "" when there is none.
func outerBoundary(block []byte) string {
	h := lenientHeader(block)
	mh := message.Header{Header: h}
	if _, params, err := mh.ContentType(); err == nil {
		return params["boundary"]
	}
	return ""
}

// readOuterHeader reads what it can of a header block that textproto
// refused or that was not parsed (too large a mail), for the acknowledgement.
func readOuterHeader(m *Mail, block []byte) {
	fillHeaders(m, lenientHeader(block))
}

// lenientHeader reads the header fields of a block that may not be valid:
// lines that are not fields are left out, the block ends at the first
// boundary line ("--…"), and the first occurrence of a field wins (a later
// one may well be a body part's, when the blank line is missing).
func lenientHeader(block []byte) textproto.Header {
	type field struct{ k, v string }
	var fields []field
	for _, line := range unfoldHeader(block) {
		if strings.HasPrefix(line, "--") {
			break
		}
		if i := strings.IndexByte(line, ':'); i > 0 && !strings.ContainsAny(line[:i], " \t") {
			fields = append(fields, field{line[:i], strings.TrimSpace(line[i+1:])})
		}
	}
	// Header.Add prepends to the fields of the same key, and Get returns the
	// first: adding from the last line up keeps the mail's order.
	var h textproto.Header
	for i := len(fields) - 1; i >= 0; i-- {
		h.Add(fields[i].k, fields[i].v)
	}
	return h
}

// unfoldHeader splits a header block into logical lines.
func unfoldHeader(block []byte) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(string(block), "\r\n", "\n"), "\n") {
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(out) > 0 {
			out[len(out)-1] += " " + strings.TrimSpace(l)
			continue
		}
		out = append(out, l)
	}
	return out
}

func fillHeaders(m *Mail, h textproto.Header) {
	mh := mail.Header{Header: message.Header{Header: h}}
	m.MessageID = collapseSpace(h.Get("Message-Id"))
	m.From = address(mh, "From")
	m.ReturnPath = strings.Trim(strings.TrimSpace(h.Get("Return-Path")), "<>")
	m.ReturnPath = strings.TrimSpace(m.ReturnPath)
	m.DispositionNotificationTo = address(mh, "Disposition-Notification-To")
	m.OriginalRecipient = collapseSpace(h.Get("Original-Recipient"))
	m.XMSSCodeCDA = collapseSpace(h.Get("X-Mss-Codecda"))
	m.XMSSINS = collapseSpace(h.Get("X-Mss-Ins"))
	if s, err := mh.Subject(); err == nil {
		m.Subject = s
	} else {
		m.Subject = h.Get("Subject")
		m.Warnings = append(m.Warnings, fmt.Sprintf("the subject cannot be decoded (%v); kept as written", err))
	}
	if !utf8.ValidString(m.Subject) {
		// Raw 8-bit header from a legacy sender: Latin-1 is the usual guess.
		if dec, err := charmap.ISO8859_1.NewDecoder().String(m.Subject); err == nil {
			m.Subject = dec
			m.Warnings = append(m.Warnings, "the subject is raw 8-bit text, not RFC 2047: read as ISO-8859-1")
		}
	}
	if h.Has("Date") {
		if d, err := mh.Date(); err == nil {
			m.Date = d
		} else {
			m.Warnings = append(m.Warnings, fmt.Sprintf("the Date header %q cannot be read: %v", h.Get("Date"), err))
		}
	}
	mt, _, _ := mh.ContentType()
	m.report = reportKind(h, mt)
	auto, _, _ := strings.Cut(strings.ToLower(h.Get("Auto-Submitted")), ";")
	auto = strings.TrimSpace(auto)
	m.IsReport = m.report != "" || (auto != "" && auto != "no")
}

// reportKind tells a mail that carries no submission: a DSN or MDN, a
// bounce (only reports travel with a null envelope sender), an automatic
// reply. It returns what gave it away, or "".
func reportKind(h textproto.Header, mt string) string {
	auto, _, _ := strings.Cut(strings.ToLower(h.Get("Auto-Submitted")), ";")
	switch {
	case mt == "multipart/report" || mt == "message/disposition-notification" || mt == "message/delivery-status":
		return "Content-Type " + mt
	case strings.TrimSpace(auto) == "auto-replied":
		return "Auto-Submitted: auto-replied"
	case h.Has("Return-Path") && strings.Trim(strings.TrimSpace(h.Get("Return-Path")), "<> ") == "":
		return "null Return-Path"
	}
	return ""
}

// address returns the bare address of the first mailbox of a header field,
// or the field as written when it does not parse.
func address(mh mail.Header, key string) string {
	v := strings.TrimSpace(mh.Get(key))
	if v == "" {
		return ""
	}
	if l, err := mh.AddressList(key); err == nil && len(l) > 0 {
		return l[0].Address
	}
	// Not RFC 5322: take the last <...>, else the field itself.
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return strings.TrimSpace(v[i+1 : i+j])
		}
	}
	return strings.Trim(v, "<> ")
}

// walker walks the MIME tree of one mail.
type walker struct {
	ctx      context.Context
	lim      Limits
	mail     *Mail
	budget   zipBudget
	parts    int
	docs     []*Document
	seen     []string // one line per leaf part, for the no_cda reason
	sawSMIME bool
}

// entity handles one MIME entity whose header has been read and whose body
// is r (still transfer-encoded). where is its section number, as IMAP
// numbers them ("2.1"), "0" for the whole message.
func (w *walker) entity(h textproto.Header, r io.Reader, depth int, where string, forwarded bool) *RejectError {
	if err := w.ctx.Err(); err != nil {
		return reject(CodeInternal, "unpacking interrupted: %v", "dépaquetage interrompu : %v", err)
	}
	w.parts++
	if w.parts > w.lim.MaxParts {
		return reject(CodeTooComplex, "the mail has more than %d MIME parts",
			"le courriel contient plus de %d parties MIME", w.lim.MaxParts)
	}
	if depth > w.lim.MaxDepth {
		return reject(CodeTooComplex, "the mail nests MIME parts deeper than %d levels (MIME part %s)",
			"le courriel imbrique des parties MIME sur plus de %d niveaux (partie MIME %s)", w.lim.MaxDepth, where)
	}
	mh := message.Header{Header: h}
	mt, params, err := mh.ContentType()
	switch {
	case !h.Has("Content-Type"):
		mt = "text/plain"
	case err != nil:
		// Content-Type: a broken one is read as opaque data, which is
		// then sniffed like any attachment.
		w.mail.Warnings = append(w.mail.Warnings, fmt.Sprintf("MIME part %s: Content-Type %q cannot be read (%v); content sniffed", where, h.Get("Content-Type"), err))
		mt, params = "application/octet-stream", nil
	}
	switch {
	case mt == "multipart/report" && depth > 0:
		w.mail.Warnings = append(w.mail.Warnings, fmt.Sprintf("MIME part %s: a delivery or read report inside the mail; not opened", where))
		w.seen = append(w.seen, "["+where+"] multipart/report (not opened)")
		return nil
	case strings.HasPrefix(mt, "multipart/"):
		return w.multipart(r, params["boundary"], mt, depth, where, forwarded)
	case mt == "message/rfc822" || mt == "message/global":
		return w.forwarded(h, r, depth, where)
	}
	switch cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))); cte {
	case "", "7bit", "8bit", "binary", "base64", "quoted-printable":
	default:
		w.mail.Warnings = append(w.mail.Warnings, fmt.Sprintf("MIME part %s: unknown Content-Transfer-Encoding %q; read as is", where, cte))
	}
	// No size check: the raw mail is at most MaxMailBytes and no transfer
	// decoding yields more bytes than it reads (TestTransferDecodingNeverExpands).
	data, err := io.ReadAll(transferDecoder(h.Get("Content-Transfer-Encoding"), r))
	if err != nil {
		return reject(CodeUnreadableMIME, "MIME part %s (%s) cannot be decoded: %v",
			"la partie MIME %s (%s) ne peut pas être décodée : %v", where, mt, err)
	}
	return w.leaf(mh, mt, params, data, where, forwarded)
}

// subSection numbers the i-th part of section where.
func subSection(where string, i int) string {
	if where == "0" {
		return fmt.Sprint(i)
	}
	return fmt.Sprintf("%s.%d", where, i)
}

func (w *walker) multipart(r io.Reader, boundary, mt string, depth int, where string, forwarded bool) *RejectError {
	if boundary == "" {
		return reject(CodeUnreadableMIME, "MIME part %s is %s without a boundary parameter",
			"la partie MIME %s est de type %s sans paramètre boundary", where, mt)
	}
	if mt == "multipart/signed" {
		w.mail.Warnings = append(w.mail.Warnings, fmt.Sprintf("MIME part %s: S/MIME signed content; the signature is not verified", where))
	}
	mr := textproto.NewMultipartReader(r, boundary)
	for i := 1; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			if i == 1 {
				return reject(CodeUnreadableMIME, "MIME part %s (%s) has no part: its boundary %q never appears",
					"la partie MIME %s (%s) n'a aucune sous-partie : sa frontière %q n'apparaît jamais", where, mt, boundary)
			}
			return nil
		}
		if err != nil {
			return reject(CodeUnreadableMIME, "MIME part %s (%s): sub-part %d cannot be read (truncated mail?): %v",
				"la partie MIME %s (%s) : la sous-partie %d est illisible (courriel tronqué ?) : %v", where, mt, i, err)
		}
		if rej := w.entity(p.Header, p, depth+1, subSection(where, i), forwarded); rej != nil {
			return rej
		}
	}
}

func (w *walker) forwarded(h textproto.Header, r io.Reader, depth int, where string) *RejectError {
	// Read whole, to find where its header starts and ends as for the
	// outer mail (a forwarded .NET or exported mail has the same quirks).
	// Bounded by the raw mail, as in entity.
	data, err := io.ReadAll(transferDecoder(h.Get("Content-Transfer-Encoding"), r))
	if err != nil {
		return reject(CodeUnreadableMIME, "MIME part %s is a forwarded message that cannot be decoded: %v",
			"la partie MIME %s est un message transféré qui ne peut pas être décodé : %v", where, err)
	}
	start, lead := skipLeader(data[:min(len(data), maxHeaderBytes)])
	body := data[start:]
	end, noBlank := headerEnd(body[:min(len(body), maxHeaderBytes)])
	for _, l := range lead {
		w.mail.Warnings = append(w.mail.Warnings, fmt.Sprintf("MIME part %s (forwarded message): %s", where, l))
	}
	if noBlank {
		w.mail.Warnings = append(w.mail.Warnings, fmt.Sprintf("MIME part %s (forwarded message): no blank line between its header and its first MIME boundary; the header is taken to end at the boundary", where))
	}
	br := bufio.NewReader(headerSource(body, end, noBlank))
	ih, err := textproto.ReadHeader(br)
	if err != nil {
		return reject(CodeUnreadableMIME, "MIME part %s is a forwarded message whose header cannot be read: %v",
			"la partie MIME %s est un message transféré dont l'en-tête est illisible : %v", where, err)
	}
	inner := &Mail{}
	fillHeaders(inner, ih)
	env := Envelope{MessageID: inner.MessageID, From: inner.From, DispositionNotificationTo: inner.DispositionNotificationTo,
		Subject: inner.Subject, Date: inner.Date}
	w.mail.Forwarded = append(w.mail.Forwarded, env)
	if inner.report != "" {
		w.mail.Warnings = append(w.mail.Warnings, fmt.Sprintf("MIME part %s: a forwarded delivery or read report; not opened", where))
		w.seen = append(w.seen, "["+where+"] forwarded report (not opened)")
		return nil
	}
	w.mail.Warnings = append(w.mail.Warnings, fmt.Sprintf("MIME part %s: forwarded message %s from %s; its documents are taken", where, orNone(env.MessageID), orNone(env.From)))
	return w.entity(ih, br, depth+1, where, true)
}

// leaf handles a decoded single part: an XDM zip, a bare CDA, the text, or
// something else (the PDF copy) that is noted and left.
func (w *walker) leaf(mh message.Header, mt string, params map[string]string, data []byte, where string, forwarded bool) *RejectError {
	name := filename(mh, params)
	desc := mt
	if name != "" {
		desc += fmt.Sprintf(" %q", name)
	}
	lname := strings.ToLower(name)
	switch {
	case mt == "application/pkcs7-mime" || mt == "application/x-pkcs7-mime" || strings.HasSuffix(lname, ".p7m"):
		w.sawSMIME = true
		w.mail.Warnings = append(w.mail.Warnings, fmt.Sprintf("MIME part %s: S/MIME enveloped content (%s); the hub does not open it", where, desc))
		w.seen = append(w.seen, "["+where+"] "+desc+" (S/MIME, not opened)")
		return nil
	case isZip(data, mt, lname):
		archive := name
		if archive == "" {
			archive = "MIME part " + where
		}
		entries, warns, rej := readZip(w.ctx, data, archive, w.lim, &w.budget)
		if rej != nil {
			return rej
		}
		w.mail.Warnings = append(w.mail.Warnings, warns...)
		if !strings.EqualFold(name, "IHE_XDM.zip") {
			w.mail.Warnings = append(w.mail.Warnings, fmt.Sprintf("MIME part %s: zip attachment named %q rather than IHE_XDM.zip; read as an XDM archive", where, name))
		}
		docs, warns, rej := xdmDocuments(entries, archive, w.lim)
		if rej != nil {
			return rej
		}
		w.mail.Warnings = append(w.mail.Warnings, warns...)
		w.seen = append(w.seen, fmt.Sprintf("[%s] %s (%d files, %d CDA)", where, desc, len(entries), len(docs)))
		for _, d := range docs {
			d.Forwarded = forwarded
		}
		w.docs = append(w.docs, docs...)
		return nil
	}
	if cdasniff.LooksLikeXML(data) {
		if h, ok := cdasniff.ReadPatient(data); ok {
			sum := sha1.Sum(data)
			if name == "" {
				name = "MIME part " + where
			}
			w.docs = append(w.docs, &Document{
				Name: name, Data: data, Size: int64(len(data)), SHA1: hex.EncodeToString(sum[:]),
				Source: SourceAttachment, MimeType: mt, Forwarded: forwarded, cda: h,
				Warnings: []string{"bare CDA attachment, outside any IHE_XDM.zip: no METADATA.XML to check it against"},
			})
			w.seen = append(w.seen, "["+where+"] "+desc+" (CDA)")
			return nil
		}
	}
	if mt == "text/plain" && name == "" && w.mail.Text == "" {
		w.mail.Text = decodeText(params["charset"], data)
	}
	w.seen = append(w.seen, "["+where+"] "+desc)
	return nil
}

// finish checks the documents of the mail as a set.
func (w *walker) finish() *RejectError {
	m := w.mail
	if len(w.docs) == 0 {
		extra, extraFR := "", ""
		if w.sawSMIME {
			extra, extraFR = " (S/MIME encrypted content is not opened)", " (le contenu chiffré S/MIME n'est pas ouvert)"
		}
		held := strings.Join(w.seen, "; ")
		return &RejectError{Code: CodeNoCDA,
			Reason:   cleanReason(fmt.Sprintf("no CDA document found in the mail%s; it holds: %s", extra, held)),
			ReasonFR: cleanReason(fmt.Sprintf("aucun document CDA dans le courriel%s ; il contient : %s", extraFR, held))}
	}
	// Every entry is checked against its own metadata and the patient of
	// the mail before duplicates are folded: a second subset listing the
	// same bytes under another patient or uniqueId must not go unseen.
	if rej := checkOnePatient(w.docs); rej != nil {
		return rej
	}
	// Same bytes twice (the XDM plus a bare copy, the forwarded original
	// beside the forward, two XDM subsets): one document, which keeps what
	// the others' metadata said.
	bySHA := map[string]*Document{}
	docs := make([]*Document, 0, len(w.docs))
	for _, d := range w.docs {
		first, dup := bySHA[d.SHA1]
		if !dup {
			bySHA[d.SHA1] = d
			docs = append(docs, d)
			continue
		}
		first.Duplicates = append(first.Duplicates, Duplicate{Name: d.Name, Source: d.Source, Archive: d.Archive,
			PatientID: d.PatientID, FormatCode: d.FormatCode, UniqueID: d.UniqueID,
			MetadataHashOK: d.MetadataHashOK, MetadataSizeOK: d.MetadataSizeOK, Warnings: d.Warnings})
		m.Warnings = append(m.Warnings, fmt.Sprintf("%q%s is the same file as %q%s; taken once, its metadata checked as well",
			d.Name, uniqueIDNote(d.UniqueID), first.Name, uniqueIDNote(first.UniqueID)))
		if d.UniqueID != "" && first.UniqueID != "" && d.UniqueID != first.UniqueID {
			first.Warnings = append(first.Warnings, fmt.Sprintf("the same file is also listed as %q with another uniqueId, %s", d.Name, d.UniqueID))
		}
		for _, dw := range d.Warnings {
			first.Warnings = append(first.Warnings, fmt.Sprintf("the same file listed as %q: %s", d.Name, dw))
		}
	}
	if !strings.Contains(m.Subject, "XDM/1.0/DDM") && hasXDM(docs) {
		m.Warnings = append(m.Warnings, "the subject lacks the XDM/1.0/DDM marker of an MSSanté XDM mail")
	}
	for _, d := range docs {
		m.Documents = append(m.Documents, *d)
	}
	return nil
}

func uniqueIDNote(id string) string {
	if id == "" {
		return ""
	}
	return " (uniqueId " + id + ")"
}

func hasXDM(docs []*Document) bool {
	for _, d := range docs {
		if d.Source == SourceXDM {
			return true
		}
	}
	return false
}

// checkOnePatient groups the documents by patient: two documents concern the
// same patient when they share an identifier, taken from METADATA.XML's
// patientId and from the CDA recordTarget. The CI-SIS allows one patient per
// mail. A METADATA id that the CDA does not carry is noted on the document;
// the validator does the full cross-check.
func checkOnePatient(docs []*Document) *RejectError {
	ids := make([]map[cdasniff.ID]bool, len(docs))
	for i, d := range docs {
		ids[i] = map[cdasniff.ID]bool{}
		var meta cdasniff.ID
		var hasMeta bool
		if d.PatientID != "" {
			if meta, hasMeta = parseCX(d.PatientID); hasMeta {
				ids[i][meta] = true
			} else {
				d.Warnings = append(d.Warnings, fmt.Sprintf("METADATA.XML patientId %q is not an XDS CX identifier (ext^^^&root&ISO)", d.PatientID))
			}
		}
		if d.cda != nil {
			for _, id := range d.cda.PatientIDs {
				if id.Root != "" && id.Ext != "" {
					ids[i][id] = true
				}
			}
			if hasMeta && len(d.cda.PatientIDs) > 0 && !containsCX(d.cda.PatientIDs, meta) {
				d.Warnings = append(d.Warnings, fmt.Sprintf("METADATA.XML patientId %s is not among the CDA recordTarget ids", meta))
			}
		}
	}
	// Union-find over shared identifiers.
	parent := make([]int, len(docs))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[cdasniff.ID]int{}
	for i := range docs {
		for id := range ids[i] {
			if j, ok := owner[id]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[id] = i
			}
		}
	}
	groups := map[int][]string{}
	for i, d := range docs {
		if len(ids[i]) == 0 {
			continue // no identifier at all: the validator will refuse it
		}
		groups[find(i)] = append(groups[find(i)], fmt.Sprintf("%s (%s)", d.Name, patientLabel(d, ids[i])))
	}
	if len(groups) <= 1 {
		return nil
	}
	var desc []string
	for _, g := range groups {
		desc = append(desc, strings.Join(g, ", "))
	}
	sort.Strings(desc)
	return reject(CodeSeveralPatients, "the documents concern %d different patients, one per mail is allowed: %s",
		"les documents concernent %d patients différents, un seul par courriel est permis : %s", len(groups), strings.Join(desc, " | "))
}

func patientLabel(d *Document, ids map[cdasniff.ID]bool) string {
	if c, ok := parseCX(d.PatientID); ok {
		return c.String()
	}
	if d.cda != nil {
		if ins, ok := d.cda.INS(); ok {
			return ins.String()
		}
	}
	var l []string
	for id := range ids {
		l = append(l, id.String())
	}
	sort.Strings(l)
	return strings.Join(l, ", ")
}

func containsCX(l []cdasniff.ID, c cdasniff.ID) bool {
	for _, x := range l {
		if x == c {
			return true
		}
	}
	return false
}

// isZip recognises a zip by its magic number, or by what the sender
// declares (a declared zip that is not one then fails as bad_zip).
func isZip(data []byte, mt, lname string) bool {
	return bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("PK\x05\x06")) ||
		strings.HasSuffix(lname, ".zip") || mt == "application/zip" || mt == "application/x-zip" ||
		strings.HasSuffix(mt, "-zip-compressed")
}

// filename returns the attachment's file name: Content-Disposition's
// filename (RFC 2231 handled by mime.ParseMediaType), else Content-Type's
// name; both may also be RFC 2047 encoded by older senders.
func filename(mh message.Header, params map[string]string) string {
	if _, dp, err := mh.ContentDisposition(); err == nil && dp["filename"] != "" {
		return decodeWords(dp["filename"])
	}
	return decodeWords(params["name"])
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

func decodeWords(s string) string {
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		return strings.TrimSpace(d)
	}
	return strings.TrimSpace(s)
}

// transferDecoder undoes the Content-Transfer-Encoding, leaving the bytes
// otherwise untouched (no charset conversion: a CDA's bytes must stay as
// sent for the hash). Base64 tolerates line breaks and stray white space.
func transferDecoder(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &spaceStripper{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	default:
		return r
	}
}

// spaceStripper drops the white space some producers leave in base64 bodies
// (indented lines, trailing blanks), which encoding/base64 does not skip.
type spaceStripper struct{ r io.Reader }

func (s *spaceStripper) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			if c != ' ' && c != '\t' {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}

// decodeText converts a text part to UTF-8; an unknown charset is kept as
// bytes (the text is informative only).
func decodeText(cs string, data []byte) string {
	if len(data) > maxTextBytes {
		data = data[:maxTextBytes]
	}
	if cs == "" || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "us-ascii") {
		return strings.ToValidUTF8(string(data), "\uFFFD")
	}
	r, err := charset.Reader(cs, bytes.NewReader(data))
	if err != nil {
		return strings.ToValidUTF8(string(data), "\uFFFD")
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return strings.ToValidUTF8(string(data), "\uFFFD")
	}
	return string(out)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// collapseSpace trims and collapses white-space runs: pretty-printers break
// lines inside values ("CABINET M.\n      MEDECIN5729").
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

package mssante

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Dispositions of the CI-SIS volet "transmission au LPS de documents CDA
// provenant d'un courriel MSSanté" (RFC 8098 §3.2.6).
const (
	mdnDispositionPrefix = "automatic-action/MDN-sent-automatically; "
	DispositionOK        = mdnDispositionPrefix + "processed"
	DispositionError     = mdnDispositionPrefix + "processed/error"
	// ErrorCondition closes the Error field: the code is an HL7
	// applicationErrorCondition (ERR-5), as the sender's ZAM^Z03 expects.
	ErrorCondition = "applicationErrorCondition"
	// SubjectKOPrefix starts the subject of a failure MDN; the code follows
	// in brackets.
	SubjectKOPrefix = "[KO Intégration système !]"
)

// MDNError is the CI-SIS code (902–906) and its label.
type MDNError struct {
	Code  int
	Label string
}

// MDN is a disposition notification (RFC 8098) to build. Every field is
// rendered deterministically: the same MDN gives the same bytes, so a resend
// after a crash is recognisable.
type MDN struct {
	From      string   // the hub's applicative mailbox (addr-spec)
	To        []string // the notification addresses (addr-spec)
	MessageID string   // of the MDN, see MDNMessageID
	Date      time.Time
	// Subject as a person reads it (UTF-8); encoded here. A failure MDN gets
	// SubjectKOPrefix and the code in front of it.
	Subject string

	ReportingUA       string // "host; product"
	OriginalRecipient string // the original's Original-Recipient, if any
	FinalRecipient    string // the hub's address
	OriginalMessageID string // the original's Message-ID; empty when it had none

	// Error is nil when every document was integrated.
	Error *MDNError
	// LegacyError writes the error in the older published form
	// "processed/Error: <code>^<label>" (not RFC 8098: the modifier is no
	// atom) for platforms that parse only that; the Error field stays.
	LegacyError bool

	// Text is the human-readable part, in French, UTF-8.
	Text string

	// Original is the whole original message; when nil, OriginalHeader (its
	// header block) is returned as text/rfc822-headers instead.
	Original       []byte
	OriginalHeader []byte
}

// MDNMessageID derives the MDN's Message-ID from the original's (or, when the
// original had none, from the hub's mail id): one original, one Message-ID.
func MDNMessageID(originalMessageID, mailID, domain string) string {
	key := "msgid\x00" + AngleID(originalMessageID)
	if AngleID(originalMessageID) == "" {
		key = "mail\x00" + mailID
	}
	sum := sha256.Sum256([]byte("bndmr-mdn\x00" + key))
	return "<mdn." + hex.EncodeToString(sum[:16]) + "@" + domain + ">"
}

// AngleID returns a message id with its angle brackets, whether it had them.
func AngleID(id string) string {
	id = strings.TrimSpace(id)
	if id == "" {
		return ""
	}
	id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	return "<" + id + ">"
}

// FullSubject is the subject the MDN carries.
func (m *MDN) FullSubject() string {
	s := mdnOneLine(m.Subject)
	if r := []rune(s); len(r) > 400 {
		s = string(r[:400]) + "…"
	}
	if m.Error == nil {
		return s
	}
	p := SubjectKOPrefix + "[" + strconv.Itoa(m.Error.Code) + "]"
	if s == "" {
		return p
	}
	return p + " " + s
}

// DispositionField is the value of the Disposition field.
func (m *MDN) DispositionField() string {
	switch {
	case m.Error == nil:
		return DispositionOK
	case m.LegacyError:
		return mdnDispositionPrefix + "processed/Error: " + strconv.Itoa(m.Error.Code) + "^" + mdnHl7Text(m.Error.Label)
	default:
		return DispositionError
	}
}

// ErrorField is the value of the Error field, empty on success.
func (m *MDN) ErrorField() string {
	if m.Error == nil {
		return ""
	}
	return strconv.Itoa(m.Error.Code) + "^" + mdnHl7Text(m.Error.Label) + "^" + ErrorCondition
}

// Bytes renders the MDN as an RFC 5322 message with CRLF line ends.
func (m *MDN) Bytes() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	text, err := mdnQpEncode(m.Text)
	if err != nil {
		return nil, err
	}
	report := m.dispositionReport()
	origType, orig := "message/rfc822", mdnCrlf(m.Original)
	if m.Original == nil {
		origType, orig = "text/rfc822-headers", mdnHeaderBlock(m.OriginalHeader)
	}
	origCTE := ""
	if mdnHas8Bit(orig) {
		// message/rfc822 allows only 7bit, 8bit or binary (RFC 2046 §5.2.1).
		origCTE = "8bit"
	}
	boundary := m.boundary([][]byte{text, report, orig})

	var b bytes.Buffer
	m.writeHeader(&b, boundary)
	b.WriteString("This is a MIME-encapsulated message disposition notification (RFC 8098).\r\n")

	b.WriteString("\r\n--" + boundary + "\r\n")
	mdnWriteField(&b, "Content-Type", "text/plain; charset=UTF-8")
	mdnWriteField(&b, "Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	b.Write(text)

	b.WriteString("\r\n--" + boundary + "\r\n")
	mdnWriteField(&b, "Content-Type", "message/disposition-notification")
	b.WriteString("\r\n")
	b.Write(report)

	b.WriteString("\r\n--" + boundary + "\r\n")
	mdnWriteField(&b, "Content-Type", origType)
	if origCTE != "" {
		mdnWriteField(&b, "Content-Transfer-Encoding", origCTE)
	}
	b.WriteString("\r\n")
	b.Write(orig)
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.Bytes(), nil
}

// dispositionReport is the message/disposition-notification part. Its
// fields stay on one line each (values are bounded well under 998
// octets): the sender's integration platform may read them line by line,
// without unfolding.
func (m *MDN) dispositionReport() []byte {
	var report bytes.Buffer
	line := func(name, value string) {
		value = mdnOneLine(value)
		if len(value) > 900 { // only a hostile original gets here
			value = value[:900]
		}
		report.WriteString(name + ": " + value + "\r\n")
	}
	if m.ReportingUA != "" {
		line("Reporting-UA", mdnAscii(m.ReportingUA))
	}
	if r := strings.TrimSpace(m.OriginalRecipient); r != "" {
		line("Original-Recipient", mdnAddrType(r))
	}
	line("Final-Recipient", mdnAddrType(m.FinalRecipient))
	if m.OriginalMessageID != "" {
		line("Original-Message-ID", AngleID(mdnAscii(m.OriginalMessageID)))
	}
	line("Disposition", m.DispositionField())
	if e := m.ErrorField(); e != "" {
		line("Error", e)
	}
	return report.Bytes()
}

// writeHeader writes the header block of the MDN, up to the blank line.
func (m *MDN) writeHeader(b *bytes.Buffer, boundary string) {
	mdnWriteField(b, "From", m.From)
	mdnWriteField(b, "To", strings.Join(m.To, ", "))
	mdnWriteField(b, "Subject", mdnEncodeWords(m.FullSubject()))
	mdnWriteField(b, "Date", m.Date.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	mdnWriteField(b, "Message-ID", m.MessageID)
	if m.OriginalMessageID != "" {
		id := AngleID(mdnAscii(m.OriginalMessageID))
		mdnWriteField(b, "In-Reply-To", id)
		mdnWriteField(b, "References", id)
	}
	// RFC 3834: an automatic answer says so, so no one answers it in turn.
	mdnWriteField(b, "Auto-Submitted", "auto-replied")
	mdnWriteField(b, "MIME-Version", "1.0")
	mdnWriteField(b, "Content-Type", `multipart/report; report-type=disposition-notification; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
}

// Has8Bit says whether msg needs BODY=8BITMIME on submission.
func Has8Bit(msg []byte) bool { return mdnHas8Bit(msg) }

func (m *MDN) check() error {
	var errs []error
	if !IsAddrSpec(m.From) {
		errs = append(errs, fmt.Errorf("MDN From %q is not a mail address", m.From))
	}
	if len(m.To) == 0 {
		errs = append(errs, errors.New("MDN has no recipient"))
	}
	for _, to := range m.To {
		if !IsAddrSpec(to) {
			errs = append(errs, fmt.Errorf("MDN recipient %q is not a mail address", to))
		}
	}
	if !IsAddrSpec(m.FinalRecipient) {
		errs = append(errs, fmt.Errorf("MDN Final-Recipient %q is not a mail address", m.FinalRecipient))
	}
	if m.MessageID == "" || mdnAscii(m.MessageID) != m.MessageID || !strings.HasPrefix(m.MessageID, "<") || !strings.HasSuffix(m.MessageID, ">") {
		errs = append(errs, fmt.Errorf("MDN Message-ID %q is not <id@domain>", m.MessageID))
	}
	if m.Date.IsZero() {
		errs = append(errs, errors.New("MDN has no date"))
	}
	if m.Error != nil && (m.Error.Code < 100 || m.Error.Code > 999) {
		errs = append(errs, fmt.Errorf("MDN error code %d is not a three-digit code", m.Error.Code))
	}
	return errors.Join(errs...)
}

// boundary is derived from the Message-ID, and moved on in the unlikely case
// a part contains it.
func (m *MDN) boundary(parts [][]byte) string {
	for i := 0; ; i++ {
		sum := sha256.Sum256([]byte(m.MessageID + "\x00" + strconv.Itoa(i)))
		b := "=_bndmr-mdn_" + hex.EncodeToString(sum[:12])
		clash := false
		for _, p := range parts {
			if bytes.Contains(p, []byte("--"+b)) {
				clash = true
				break
			}
		}
		if !clash {
			return b
		}
	}
}

// IsAddrSpec reports whether a is a bare local@domain in printable ASCII,
// with no quoting, comment or list: the address comes from an untrusted
// header and goes into SMTP commands and our headers. Hospitals' MSSanté
// addresses are all of this form.
func IsAddrSpec(a string) bool {
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 || len(a) > 254 {
		return false
	}
	for _, r := range a {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`<>()[],;:\"`, r) {
			return false
		}
	}
	return true
}

func mdnAddrType(a string) string {
	a = mdnAscii(a)
	if strings.Contains(a, ";") {
		return a // already "rfc822;addr"
	}
	return "rfc822;" + a
}

// mdnWriteField writes one header field, folded at spaces before 78 columns
// where it can be (RFC 5322 §2.2.3).
func mdnWriteField(b *bytes.Buffer, name, value string) {
	value = mdnOneLine(value)
	line := name + ":"
	col := len(line)
	for i, w := range strings.Split(value, " ") {
		if i > 0 && col+1+len(w) > 76 && col > len(name)+1 {
			b.WriteString(line + "\r\n")
			line, col = "", 0
		}
		line += " " + w
		col += 1 + len(w)
	}
	b.WriteString(line + "\r\n")
}

// mdnOneLine removes line breaks and control characters, which would let an
// untrusted value inject header fields.
func mdnOneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// mdnAscii folds accents away (é → e) and drops what is left outside printable
// ASCII: the fields of message/disposition-notification are 7-bit.
func mdnAscii(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(mdnOneLine(s)) {
		switch {
		case r >= ' ' && r < 0x7f:
			b.WriteRune(r)
		case r == 'Œ':
			b.WriteString("OE")
		case r == 'œ':
			b.WriteString("oe")
		case r == 'Æ':
			b.WriteString("AE")
		case r == 'æ':
			b.WriteString("ae")
		case r == 'ß':
			b.WriteString("ss")
		case unicode.Is(unicode.Mn, r):
		case unicode.IsSpace(r) || unicode.IsPunct(r):
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// mdnHl7Text makes a label safe inside an HL7 component: the separators
// ^ | ~ \ & would split it on the sender's side.
func mdnHl7Text(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`^|~\&`, r) {
			return ' '
		}
		return r
	}, mdnAscii(s))
	s = strings.Join(strings.Fields(s), " ")
	const max = 300
	if len(s) > max {
		s = strings.TrimSpace(s[:max-3]) + "..."
	}
	return s
}

// mdnEncodeWords encodes a header text as RFC 2047 words when it is not ASCII.
func mdnEncodeWords(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return mime.QEncoding.Encode("UTF-8", s)
		}
	}
	return s
}

func mdnQpEncode(s string) ([]byte, error) {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	if _, err := w.Write([]byte(strings.ReplaceAll(s, "\r\n", "\n"))); err != nil {
		return nil, fmt.Errorf("encoding the MDN text: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encoding the MDN text: %w", err)
	}
	out := b.Bytes()
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out, nil
}

// mdnCrlf turns bare LF (and bare CR) into CRLF, as SMTP wants, and ends the
// message with a line break.
func mdnCrlf(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/40+2)
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\r' && i+1 < len(b) && b[i+1] == '\n':
			out = append(out, '\r', '\n')
			i++
		case c == '\r' || c == '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

// mdnHeaderBlock returns the header lines of h, without the blank line that
// ends a header and without anything after it.
func mdnHeaderBlock(h []byte) []byte {
	h = mdnCrlf(h)
	if i := bytes.Index(h, []byte("\r\n\r\n")); i >= 0 {
		h = h[:i+2]
	}
	return bytes.TrimLeft(h, "\r\n")
}

func mdnHas8Bit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

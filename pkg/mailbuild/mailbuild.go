// Package mailbuild writes synthetic MSSanté mails for tests, benchmarks,
// the synthetic load (pkg/synth) and bndmrctl: BuildXDM writes a realistic
// IHE_XDM.zip around CDA documents (metadata read from their headers),
// BuildMail an MSSanté mail around it, ForwardMail a forward of a mail,
// SubjectFor the XDM/1.0/DDM subject. Its output is deterministic.
//
// It is the counterpart of pkg/mssante (which unpacks what senders make)
// and shares with it only the CDA header sniffer (pkg/cdasniff) and the XDS
// identifiers (pkg/xds), so that mssante's tests can build their inputs.
package mailbuild

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"

	"github.com/bndmr/hub/pkg/cdasniff"
	"github.com/bndmr/hub/pkg/xds"
)

// XDMDocument is one document to put in an XDM archive. Metadata left empty
// is read from the CDA header (id, recordTarget, title, effectiveTime,
// custodian), so a CDA alone makes a realistic entry.
type XDMDocument struct {
	// Name is the file name in IHE_XDM/SUBSET01/; default DOC0000n.XML.
	Name string
	Data []byte
	// XDS metadata; defaults from the CDA header and the SDM-MR volet.
	UniqueID, PatientID, Title, AuthorInstitution, CreationTime string
	FormatCode, TypeCode, MimeType                              string
	// Test knobs: a wrong hash or size, or an entry METADATA.XML does not list.
	HashOverride string
	SizeOverride int64 // used when > 0
	Unlisted     bool
}

// XDMFile is any other file of the archive (stylesheet, signature...).
type XDMFile struct {
	Name string // path in the zip, "/" separators
	Data []byte
}

// XDM describes an IHE XDM archive as MSSanté senders make it: README.TXT,
// INDEX.HTM, IHE_XDM/SUBSET01/METADATA.XML and the documents.
type XDM struct {
	Documents []XDMDocument
	Extra     []XDMFile
	// SubmissionTime defaults to the first document's effectiveTime.
	SubmissionTime time.Time
	// Sender is the emitter named in README.TXT; default the custodian.
	Sender string
	// NoMetadata leaves METADATA.XML out.
	NoMetadata bool
}

// BuildXDM writes the archive. It is deterministic: the same input gives the
// same bytes (entry times come from SubmissionTime).
func BuildXDM(x XDM) ([]byte, error) {
	if len(x.Documents) == 0 {
		return nil, fmt.Errorf("building an XDM archive: no document")
	}
	docs := make([]XDMDocument, len(x.Documents))
	var first *cdasniff.Header
	for i, d := range x.Documents {
		h, _ := cdasniff.Read(d.Data)
		if i == 0 {
			first = h
		}
		docs[i] = fillXDMDocument(d, h, i)
	}
	when := x.SubmissionTime
	if when.IsZero() && first != nil {
		when, _ = parseHL7Time(first.EffectiveTime)
	}
	if when.IsZero() {
		when = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	sender := x.Sender
	if sender == "" && first != nil {
		sender = first.CustodianName
	}
	if sender == "" {
		sender = "Établissement émetteur"
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: when})
		if err != nil {
			return fmt.Errorf("building an XDM archive: %w", err)
		}
		_, err = w.Write(data)
		return err
	}
	if err := add("README.TXT", xdmReadme(sender, docs)); err != nil {
		return nil, err
	}
	if err := add("INDEX.HTM", xdmIndex(sender, docs)); err != nil {
		return nil, err
	}
	if !x.NoMetadata {
		if err := add("IHE_XDM/SUBSET01/METADATA.XML", xdmMetadata(docs, first, when)); err != nil {
			return nil, err
		}
	}
	for _, d := range docs {
		if err := add("IHE_XDM/SUBSET01/"+d.Name, d.Data); err != nil {
			return nil, err
		}
	}
	for _, f := range x.Extra {
		if err := add(f.Name, f.Data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("building an XDM archive: %w", err)
	}
	return buf.Bytes(), nil
}

func fillXDMDocument(d XDMDocument, h *cdasniff.Header, i int) XDMDocument {
	if d.Name == "" {
		d.Name = fmt.Sprintf("DOC%05d.XML", i+1)
	}
	if d.MimeType == "" {
		d.MimeType = "text/xml"
	}
	if d.FormatCode == "" {
		d.FormatCode = xds.FormatCodeSDMMR
	}
	if d.TypeCode == "" {
		d.TypeCode = xds.TypeCodeSDMMR
	}
	if h != nil {
		if d.UniqueID == "" {
			d.UniqueID = h.ID.String()
		}
		if d.PatientID == "" {
			if ins, ok := h.INS(); ok {
				d.PatientID = ins.XDS()
			} else if len(h.PatientIDs) > 0 {
				d.PatientID = h.PatientIDs[0].XDS()
			}
		}
		if d.Title == "" {
			d.Title = h.Title
		}
		if d.CreationTime == "" {
			if t, err := parseHL7Time(h.EffectiveTime); err == nil {
				d.CreationTime = t.UTC().Format("20060102150405")
			}
		}
		if d.AuthorInstitution == "" && h.Custodian.Root != "" {
			d.AuthorInstitution = fmt.Sprintf("%s^^^^^&%s&ISO^IDNST^^^%s", h.CustodianName, h.Custodian.Root, h.Custodian.Ext)
		}
	}
	return d
}

// parseHL7Time reads an HL7 TS ("20240228", "20240228143000+0100").
func parseHL7Time(s string) (time.Time, error) {
	for _, layout := range []string{"20060102150405-0700", "200601021504-0700", "20060102150405", "200601021504", "20060102"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an HL7 time stamp", s)
}

func xdmReadme(sender string, docs []XDMDocument) []byte {
	var b strings.Builder
	b.WriteString("Emetteur :\r\n========\r\n\t. Organisme : " + sender + "\r\n\r\n")
	b.WriteString("Application de l'émetteur :\r\n=========================\r\n\t. Nom : bndmr-hub (générateur de test)\r\n\r\n")
	b.WriteString("Instructions :\r\n============\r\n\t. Consultez les fichiers reçus par messagerie sécurisée de santé dans votre logiciel de professionnel de santé.\r\n\r\n")
	b.WriteString("Arborescence :\r\n============\r\n\tREADME.TXT\r\n\tINDEX.HTM\r\n\t+ IHE_XDM\r\n\t\t+SUBSET01\r\n\t\t\tMETADATA.XML\r\n")
	for _, d := range docs {
		b.WriteString("\t\t\t" + d.Name + "\r\n")
	}
	return []byte(b.String())
}

func xdmIndex(sender string, docs []XDMDocument) []byte {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head><title>IHE XDM</title></head>\r\n<body>\r\n")
	b.WriteString("\tEmetteur : " + esc(sender) + "<br/><br/>\r\n\tVoir le fichier <a href=\"README.TXT\">ReadMe</a><br/>\r\n")
	for _, d := range docs {
		fmt.Fprintf(&b, "\t<a href=\"IHE_XDM/SUBSET01/%s\">%s</a><br/>\r\n", esc(d.Name), esc(orDefault(d.Title, d.Name)))
	}
	b.WriteString("</body>\r\n</html>\r\n")
	return []byte(b.String())
}

// xdmMetadata writes an XDS ebRIM 3.0 SubmitObjectsRequest in the shape of
// the ANS samples: the submission set, then an entry and its association
// per listed document.
func xdmMetadata(docs []XDMDocument, first *cdasniff.Header, when time.Time) []byte {
	m := &metaWriter{}
	m.w("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	m.w("<lcm:SubmitObjectsRequest xmlns:lcm=\"urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0\" xmlns:rim=\"urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0\">\n")
	m.w("  <rim:RegistryObjectList>\n")
	m.submissionSet(docs, when)
	n := 0
	for _, d := range docs {
		if d.Unlisted {
			continue
		}
		n++
		m.documentEntry(fmt.Sprintf("Document%02d", n), d, first)
		m.w("  <rim:Association id=\"Association%02d\" associationType=\"urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember\" sourceObject=\"SubmissionSet01\" targetObject=\"Document%02d\">\n", n, n)
		m.slot("    ", "SubmissionSetStatus", "Original")
		m.w("  </rim:Association>\n")
	}
	m.w("  </rim:RegistryObjectList>\n</lcm:SubmitObjectsRequest>\n")
	return []byte(m.b.String())
}

// metaWriter writes the ebRIM elements of METADATA.XML.
type metaWriter struct{ b strings.Builder }

func (m *metaWriter) w(format string, args ...any) { fmt.Fprintf(&m.b, format, args...) }

func (m *metaWriter) slot(indent, name string, values ...string) {
	m.w("%s<rim:Slot name=\"%s\"><rim:ValueList>", indent, esc(name))
	for _, v := range values {
		m.w("<rim:Value>%s</rim:Value>", esc(v))
	}
	m.w("</rim:ValueList></rim:Slot>\n")
}

func (m *metaWriter) str(indent, elem, v string) {
	m.w("%s<rim:%s><rim:LocalizedString xml:lang=\"fr-FR\" charset=\"UTF-8\" value=\"%s\"/></rim:%s>\n", indent, elem, esc(v), elem)
}

func (m *metaWriter) class(id, scheme, obj, node, coding, display string) {
	m.w("    <rim:Classification id=\"%s\" classificationScheme=\"%s\" classifiedObject=\"%s\" nodeRepresentation=\"%s\">\n", id, scheme, obj, esc(node))
	m.slot("      ", "codingScheme", coding)
	m.str("      ", "Name", display)
	m.w("    </rim:Classification>\n")
}

func (m *metaWriter) extid(id, obj, scheme, value, name string) {
	m.w("    <rim:ExternalIdentifier id=\"%s\" registryObject=\"%s\" identificationScheme=\"%s\" value=\"%s\">\n", id, obj, scheme, esc(value))
	m.str("      ", "Name", name)
	m.w("    </rim:ExternalIdentifier>\n")
}

// submissionSet writes the RegistryPackage: its patient and author are the
// first listed document's, its uniqueId derives from the documents' bytes.
func (m *metaWriter) submissionSet(docs []XDMDocument, when time.Time) {
	setPatient, setAuthor := "", ""
	for _, d := range docs {
		if !d.Unlisted {
			setPatient, setAuthor = d.PatientID, d.AuthorInstitution
			break
		}
	}
	sum := sha1.New()
	for _, d := range docs {
		sum.Write(d.Data)
	}
	setUID := "2.25." + new(bigHex).from(sum.Sum(nil)[:12])
	m.w("  <rim:RegistryPackage id=\"SubmissionSet01\" objectType=\"urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage\">\n")
	m.slot("    ", "submissionTime", when.UTC().Format("20060102150405"))
	m.str("    ", "Name", "Set de données minimum maladies rares")
	m.w("    <rim:Classification id=\"SubmissionSet01_c001\" classificationScheme=\"%s\" classifiedObject=\"SubmissionSet01\" nodeRepresentation=\"\">\n", xds.SchemeSetAuthor)
	m.slot("      ", "authorInstitution", setAuthor)
	m.w("    </rim:Classification>\n")
	m.class("SubmissionSet01_c002", "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500", "SubmissionSet01", "04", "1.2.250.1.213.1.1.4.12", "Hospitalisation")
	m.w("    <rim:Classification id=\"SubmissionSet01_c003\" classifiedObject=\"SubmissionSet01\" classificationNode=\"urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd\"/>\n")
	m.extid("SubmissionSet01_e001", "SubmissionSet01", xds.SchemeSetPatientID, setPatient, "XDSSubmissionSet.patientId")
	m.extid("SubmissionSet01_e002", "SubmissionSet01", xds.SchemeSetSourceID, "1.2.250.1.213.1.1.9", "XDSSubmissionSet.sourceId")
	m.extid("SubmissionSet01_e003", "SubmissionSet01", xds.SchemeSetUniqueID, setUID, "XDSSubmissionSet.uniqueId")
	m.w("  </rim:RegistryPackage>\n")
}

// documentEntry writes the ExtrinsicObject of d; the patient's traits are
// the first document's.
func (m *metaWriter) documentEntry(id string, d XDMDocument, first *cdasniff.Header) {
	hash := d.HashOverride
	if hash == "" {
		s := sha1.Sum(d.Data)
		hash = hex.EncodeToString(s[:])
	}
	size := int64(len(d.Data))
	if d.SizeOverride > 0 {
		size = d.SizeOverride
	}
	m.w("  <rim:ExtrinsicObject id=\"%s\" mimeType=\"%s\" objectType=\"%s\">\n", id, esc(d.MimeType), xds.ObjectTypeDocEntry)
	m.slot("    ", "hash", hash)
	m.slot("    ", "size", fmt.Sprint(size))
	m.slot("    ", "URI", d.Name)
	if d.CreationTime != "" {
		m.slot("    ", "creationTime", d.CreationTime)
	}
	m.slot("    ", "languageCode", "fr-FR")
	if d.PatientID != "" {
		m.slot("    ", "sourcePatientId", d.PatientID)
	}
	if first != nil {
		m.slot("    ", "sourcePatientInfo", "PID-5|"+first.Family+"^"+first.Given+"^^^^^L", "PID-7|"+first.BirthTime, "PID-8|"+first.Gender)
	}
	m.str("    ", "Name", orDefault(d.Title, "Set de données minimum maladies rares"))
	m.w("    <rim:Classification id=\"%s_c1\" classificationScheme=\"%s\" classifiedObject=\"%s\" nodeRepresentation=\"\">\n", id, xds.SchemeDocAuthor, id)
	m.slot("      ", "authorInstitution", d.AuthorInstitution)
	m.w("    </rim:Classification>\n")
	m.class(id+"_c2", xds.SchemeClassCode, id, "11", "1.2.250.1.213.1.1.4.1", "Synthèse")
	m.class(id+"_c3", "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f", id, "N", "2.16.840.1.113883.5.25", "Normal")
	m.class(id+"_c4", xds.SchemeFormatCode, id, d.FormatCode, xds.FormatCodeSystemOID, "Set de données minimum maladies rares")
	m.class(id+"_c5", "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1", id, "SA01", "1.2.250.1.71.4.2.4", "Etablissement public de santé")
	m.class(id+"_c6", "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead", id, "ETABLISSEMENT", "1.2.250.1.213.1.1.4.9", "Etablissement de santé")
	m.class(id+"_c7", xds.SchemeTypeCode, id, d.TypeCode, "2.16.840.1.113883.6.1", "Synthèse d'épisode de soins")
	m.extid(id+"_e1", id, xds.SchemeDocPatientID, d.PatientID, "XDSDocumentEntry.patientId")
	m.extid(id+"_e2", id, xds.SchemeDocUniqueID, d.UniqueID, "XDSDocumentEntry.uniqueId")
	m.w("  </rim:ExtrinsicObject>\n")
}

// bigHex renders bytes as a decimal number for a 2.25 (UUID-derived) OID arc.
type bigHex struct{}

func (bigHex) from(b []byte) string {
	// Decimal of a big-endian unsigned integer, by repeated division.
	digits := []byte{0}
	for _, c := range b {
		carry := int(c)
		for i := range digits {
			v := int(digits[i])*256 + carry
			digits[i] = byte(v % 10)
			carry = v / 10
		}
		for carry > 0 {
			digits = append(digits, byte(carry%10))
			carry /= 10
		}
	}
	out := make([]byte, len(digits))
	for i, d := range digits {
		out[len(digits)-1-i] = '0' + d
	}
	s := strings.TrimLeft(string(out), "0")
	if s == "" {
		s = "0"
	}
	return s
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// HeaderField is one extra mail header field.
type HeaderField struct{ Name, Value string }

// Part is one MIME part of a built mail.
type Part struct {
	// ContentType is the full field value, e.g. `text/plain; charset="ISO-8859-1"`.
	ContentType string
	// Filename, when set, adds Content-Disposition: attachment (RFC 2231
	// encoded when not ASCII).
	Filename string
	// Encoding is the Content-Transfer-Encoding: base64 (default for
	// non-text), quoted-printable (default for text/*), 7bit, 8bit.
	Encoding string
	Header   []HeaderField
	Data     []byte
}

// MailSpec describes an MSSanté mail: multipart/mixed with a text part, the
// IHE_XDM.zip and usually the PDF copy, then any extra parts.
type MailSpec struct {
	From, To string
	// Subject defaults to "XDM/1.0/DDM+<title> <NOM> <prénom> <JJ/MM/AAAA>"
	// read from the documents of XDM (or from bare CDA parts). It is RFC 2047
	// encoded when not ASCII.
	Subject string
	// MessageID defaults to one derived from the content: "<hex@From's domain>".
	MessageID string
	// Date defaults to 2024-01-01T12:00:00Z, so that a built mail is reproducible.
	Date                                                     time.Time
	DispositionNotificationTo, ReturnPath, OriginalRecipient string
	// Header holds extra fields (X-MSS-CODECDA, Auto-Submitted...).
	Header []HeaderField
	// Text is the body text; default a short French note. TextCharset is
	// "utf-8" (default) or "iso-8859-1"; TextEncoding "quoted-printable"
	// (default), "8bit" or "base64".
	Text, TextCharset, TextEncoding string
	// XDM is attached as XDMName (default IHE_XDM.zip), base64.
	XDM     []byte
	XDMName string
	// PDF is attached as PDFName (default document.pdf), base64.
	PDF     []byte
	PDFName string
	Parts   []Part
	// ContentType of the outer message, default multipart/mixed.
	ContentType string
}

// BuildMail writes the mail as RFC 5322 bytes with CRLF line ends.
func BuildMail(s MailSpec) ([]byte, error) {
	if s.From == "" || s.To == "" {
		return nil, fmt.Errorf("building a mail: From and To are required")
	}
	parts, err := mailParts(s)
	if err != nil {
		return nil, err
	}
	bodies := make([][]byte, len(parts))
	sum := sha1.New()
	for i, p := range parts {
		b, err := encodePart(p)
		if err != nil {
			return nil, err
		}
		bodies[i] = b
		sum.Write(b)
	}
	// The Message-ID and the boundary derive from the content: the same
	// spec gives the same bytes.
	digest := hex.EncodeToString(sum.Sum(nil))
	boundary := "=_bndmr_" + digest[:28]
	var b bytes.Buffer
	writeMailHeader(&b, s, digest, boundary)
	b.WriteString("\r\nThis is a multi-part message in MIME format.\r\n")
	for _, body := range bodies {
		b.WriteString("\r\n--" + boundary + "\r\n")
		b.Write(body)
	}
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.Bytes(), nil
}

// mailParts lists the parts of s in order: the text, the XDM, the PDF, then
// s.Parts.
func mailParts(s MailSpec) ([]Part, error) {
	text := s.Text
	if text == "" {
		text = "Bonjour,\n\nVeuillez trouver ci-joint le set de données minimum maladies rares du patient.\n\nCordialement.\n"
	}
	cs := strings.ToLower(orDefault(s.TextCharset, "utf-8"))
	tb := []byte(text)
	if cs == "iso-8859-1" || cs == "latin1" {
		enc, err := charmap.ISO8859_1.NewEncoder().Bytes(tb)
		if err != nil {
			return nil, fmt.Errorf("building a mail: the text cannot be written in ISO-8859-1: %w", err)
		}
		tb = enc
	}
	parts := []Part{{ContentType: fmt.Sprintf("text/plain; charset=%q", strings.ToUpper(cs)), Encoding: orDefault(s.TextEncoding, "quoted-printable"), Data: tb}}
	if s.XDM != nil {
		parts = append(parts, Part{ContentType: "application/zip", Filename: orDefault(s.XDMName, "IHE_XDM.zip"), Data: s.XDM})
	}
	if s.PDF != nil {
		parts = append(parts, Part{ContentType: "application/pdf", Filename: orDefault(s.PDFName, "document.pdf"), Data: s.PDF})
	}
	return append(parts, s.Parts...), nil
}

// mailSubject is s.Subject, else the subject of the XDM's documents, else
// that of the bare CDA parts.
func mailSubject(s MailSpec) string {
	if s.Subject != "" {
		return s.Subject
	}
	if s.XDM != nil {
		if subject := subjectFromXDM(s.XDM); subject != "" {
			return subject
		}
	}
	var cdas [][]byte
	for _, p := range s.Parts {
		if _, ok := cdasniff.ReadPatient(p.Data); ok {
			cdas = append(cdas, p.Data)
		}
	}
	if len(cdas) > 0 {
		return SubjectFor(cdas...)
	}
	return ""
}

// writeMailHeader writes the header fields of s, the Message-ID (unless
// given) and the boundary derived from the content's digest.
func writeMailHeader(b *bytes.Buffer, s MailSpec, digest, boundary string) {
	date := s.Date
	if date.IsZero() {
		date = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	}
	msgID := s.MessageID
	if msgID == "" {
		domain := "mssante.test"
		if i := strings.LastIndexByte(s.From, '@'); i >= 0 {
			domain = s.From[i+1:]
		}
		msgID = "<" + digest[:24] + "@" + domain + ">"
	}
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	if s.ReturnPath != "" {
		hdr("Return-Path", "<"+s.ReturnPath+">")
	}
	hdr("Date", date.Format(time.RFC1123Z))
	hdr("From", s.From)
	hdr("To", s.To)
	hdr("Message-ID", msgID)
	hdr("Subject", encodeSubject(mailSubject(s)))
	if s.DispositionNotificationTo != "" {
		hdr("Disposition-Notification-To", s.DispositionNotificationTo)
	}
	if s.OriginalRecipient != "" {
		hdr("Original-Recipient", s.OriginalRecipient)
	}
	for _, f := range s.Header {
		hdr(f.Name, f.Value)
	}
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", fmt.Sprintf("%s; boundary=%q", orDefault(s.ContentType, "multipart/mixed"), boundary))
}

// ForwardMail wraps an original mail in a new one, as a secretary's
// "forward as attachment" does: the original becomes a message/rfc822 part.
func ForwardMail(original []byte, s MailSpec) ([]byte, error) {
	s.Parts = append([]Part{{ContentType: "message/rfc822", Encoding: "8bit", Data: original}}, s.Parts...)
	if s.Subject == "" {
		s.Subject = "TR: " + subjectOf(original)
	}
	return BuildMail(s)
}

// subjectOf reads the decoded subject of a raw mail, "" when there is none
// or the header cannot be read.
func subjectOf(raw []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return m.Header.Get("Subject")
	}
	return subject
}

// encodePart writes the part header and its encoded body.
func encodePart(p Part) ([]byte, error) {
	var b bytes.Buffer
	ct := orDefault(p.ContentType, "application/octet-stream")
	enc := strings.ToLower(p.Encoding)
	if enc == "" {
		enc = "base64"
		if strings.HasPrefix(ct, "text/") {
			enc = "quoted-printable"
		}
	}
	if p.Filename != "" && !strings.Contains(ct, "name=") {
		ct += "; " + mimeParam("name", p.Filename)
	}
	b.WriteString("Content-Type: " + ct + "\r\n")
	b.WriteString("Content-Transfer-Encoding: " + enc + "\r\n")
	if p.Filename != "" {
		b.WriteString("Content-Disposition: attachment; " + mimeParam("filename", p.Filename) + "\r\n")
	}
	for _, f := range p.Header {
		b.WriteString(f.Name + ": " + f.Value + "\r\n")
	}
	b.WriteString("\r\n")
	switch enc {
	case "base64":
		s := base64.StdEncoding.EncodeToString(p.Data)
		for len(s) > 76 {
			b.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		b.WriteString(s)
	case "quoted-printable":
		qw := quotedprintable.NewWriter(&b)
		if _, err := qw.Write(p.Data); err != nil {
			return nil, fmt.Errorf("building a mail: %w", err)
		}
		if err := qw.Close(); err != nil {
			return nil, fmt.Errorf("building a mail: %w", err)
		}
	case "7bit", "8bit", "binary":
		b.Write(bytes.TrimRight(p.Data, "\r\n"))
	default:
		return nil, fmt.Errorf("building a mail: unknown Content-Transfer-Encoding %q", p.Encoding)
	}
	return b.Bytes(), nil
}

// mimeParam formats a parameter, RFC 2231 encoded when not ASCII.
func mimeParam(k, v string) string {
	return strings.TrimPrefix(mime.FormatMediaType("x/x", map[string]string{k: v}), "x/x; ")
}

// encodeSubject RFC 2047-encodes a non-ASCII subject, folding between
// encoded words.
func encodeSubject(s string) string {
	e := mime.QEncoding.Encode("UTF-8", s)
	return strings.ReplaceAll(e, "?= =?", "?=\r\n =?")
}

// The bounds of reading an archive for its subject: a hostile archive a
// test attaches (a zip bomb) gives the bare subject, as the unpacker
// refuses it.
const (
	maxSubjectEntries    = 1000
	maxSubjectEntryBytes = 32 << 20
)

// subjectFromXDM builds the Ref#2 ECO.2.1.3 subject from the archive's CDA
// documents; "XDM/1.0/DDM" when the archive cannot be read.
func subjectFromXDM(zipData []byte) string {
	zr, err := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData)))
	if err != nil || len(zr.File) > maxSubjectEntries {
		return "XDM/1.0/DDM"
	}
	var heads []*cdasniff.Header
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || f.UncompressedSize64 > maxSubjectEntryBytes {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxSubjectEntryBytes))
		rc.Close()
		if err != nil {
			continue
		}
		if h, ok := cdasniff.Read(data); ok {
			heads = append(heads, h)
		}
	}
	return xdmSubject(heads...)
}

// xdmSubject returns "XDM/1.0/DDM+<libellé> <NOM> <prénom> <JJ/MM/AAAA>" for
// the CDA headers (Référentiel socle MSSanté #2 ECO.2.1.3):
// the libellé is the document's title (at most 40 characters) or "N documents",
// the name upper case without accents.
func xdmSubject(heads ...*cdasniff.Header) string {
	if len(heads) == 0 {
		return "XDM/1.0/DDM"
	}
	h := heads[0]
	label := orDefault(h.DisplayName, h.Title)
	if len(heads) > 1 {
		label = fmt.Sprintf("%d documents", len(heads))
	}
	if r := []rune(label); len(r) > 40 {
		label = string(r[:40])
	}
	parts := []string{"XDM/1.0/DDM+" + label, strings.ToUpper(stripAccents(h.Family)), firstWord(h.Given)}
	if t, err := parseHL7Time(h.BirthTime); err == nil {
		parts = append(parts, t.Format("02/01/2006"))
	}
	return strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
}

// SubjectFor is xdmSubject for raw CDA documents.
func SubjectFor(cdas ...[]byte) string {
	var heads []*cdasniff.Header
	for _, c := range cdas {
		if h, ok := cdasniff.Read(c); ok {
			heads = append(heads, h)
		}
	}
	return xdmSubject(heads...)
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

func stripAccents(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

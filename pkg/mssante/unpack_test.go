package mssante

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/unicode"

	"github.com/bndmr/hub/pkg/mailbuild"
)

func TestUnpackStandardMail(t *testing.T) {
	cda := exampleCDA(t, newborn)
	raw := mailWith(t, mailbuild.MailSpec{
		XDM:                       mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda}}}),
		PDF:                       []byte("%PDF-1.4 fake"),
		PDFName:                   "20240228_SDM-MR_DECOURCY_Léa_123.pdf",
		ReturnPath:                "dpi@chu-exemple.mssante.fr",
		DispositionNotificationTo: "DPI <dpi@chu-exemple.mssante.fr>",
		OriginalRecipient:         "rfc822;bamara@bndmr.mssante.fr",
		MessageID:                 "<abc.123@chu-exemple.mssante.fr>",
		Date:                      time.Date(2025, 3, 4, 10, 11, 12, 0, time.UTC),
		Header:                    []mailbuild.HeaderField{{Name: "X-MSS-CODECDA", Value: "34133-9"}, {Name: "X-MSS-INS", Value: "O"}},
		Text:                      "Bonjour,\nci-joint le SDM-MR de l'enfant, né à Évry.\n",
	})
	m := unpackOK(t, raw, DefaultLimits())
	want := Mail{
		MessageID: "<abc.123@chu-exemple.mssante.fr>", From: "dpi@chu-exemple.mssante.fr",
		ReturnPath: "dpi@chu-exemple.mssante.fr", DispositionNotificationTo: "dpi@chu-exemple.mssante.fr",
		OriginalRecipient: "rfc822;bamara@bndmr.mssante.fr",
		Subject:           "XDM/1.0/DDM+Synthèse d'épisode de soins DECOURCY Léa 28/02/2024",
		XMSSCodeCDA:       "34133-9", XMSSINS: "O",
		Text: "Bonjour,\r\nci-joint le SDM-MR de l'enfant, né à Évry.\r\n",
	}
	got := *m
	if got.MessageID != want.MessageID || got.From != want.From || got.ReturnPath != want.ReturnPath ||
		got.DispositionNotificationTo != want.DispositionNotificationTo || got.OriginalRecipient != want.OriginalRecipient ||
		got.Subject != want.Subject || got.XMSSCodeCDA != want.XMSSCodeCDA || got.XMSSINS != want.XMSSINS ||
		strings.ReplaceAll(got.Text, "\r\n", "\n") != strings.ReplaceAll(want.Text, "\r\n", "\n") {
		t.Errorf("headers:\n got %+v\nwant %+v", got, want)
	}
	if !m.Date.Equal(time.Date(2025, 3, 4, 10, 11, 12, 0, time.UTC)) || m.IsReport {
		t.Errorf("date %v report %v", m.Date, m.IsReport)
	}
	if !bytes.HasPrefix(m.Header, []byte("Return-Path:")) || !bytes.HasSuffix(m.Header, []byte("\r\n")) ||
		bytes.Contains(m.Header, []byte("\r\n\r\n")) || !bytes.HasPrefix(raw, m.Header) {
		t.Errorf("raw header block: %q", m.Header)
	}
	if len(m.Documents) != 1 || !bytes.Equal(m.Documents[0].Data, cda) || m.Documents[0].Forwarded {
		t.Fatalf("documents: %d", len(m.Documents))
	}
	if len(m.Warnings) != 0 {
		t.Errorf("warnings: %q", m.Warnings)
	}
}

// Text parts in the charsets and encodings older senders use.
func TestUnpackTextPart(t *testing.T) {
	text := "Données médicales à intégrer — ça marche.\n"
	latin := "Données médicales à intégrer, ça marche.\n"
	cases := []struct {
		name, charset, enc, in, want string
	}{
		{"utf-8 quoted-printable", "utf-8", "quoted-printable", text, text},
		{"utf-8 base64", "utf-8", "base64", text, text},
		{"utf-8 8bit", "utf-8", "8bit", text, text},
		{"latin-1 quoted-printable", "iso-8859-1", "quoted-printable", latin, latin},
		{"latin-1 8bit", "iso-8859-1", "8bit", latin, latin},
	}
	z := mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: exampleCDA(t, newborn)}}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := mailWith(t, mailbuild.MailSpec{XDM: z, Text: c.in, TextCharset: c.charset, TextEncoding: c.enc})
			if c.enc == "quoted-printable" && !bytes.Contains(raw, []byte("Donn=")) {
				t.Fatalf("the text is not quoted-printable")
			}
			m := unpackOK(t, raw, DefaultLimits())
			if got := strings.ReplaceAll(strings.TrimRight(m.Text, "\r\n"), "\r\n", "\n"); got != strings.TrimRight(c.want, "\n") {
				t.Errorf("text %q, want %q", got, c.want)
			}
		})
	}
}

// Subjects as they arrive: RFC 2047 in UTF-8 or Latin-1, B or Q, split.
func TestUnpackSubject(t *testing.T) {
	cases := []struct{ header, want string }{
		{"=?UTF-8?Q?XDM/1.0/DDM+Synth=C3=A8se_DECOURCY_L=C3=A9a_28/02/2024?=", "XDM/1.0/DDM+Synthèse DECOURCY Léa 28/02/2024"},
		{"=?ISO-8859-1?Q?XDM/1.0/DDM+Synth=E8se_M=DCLLER_J=E9r=F4me?=", "XDM/1.0/DDM+Synthèse MÜLLER Jérôme"},
		{"=?utf-8?B?WERNLzEuMC9ERE0rU3ludGjDqHNl?=\r\n =?utf-8?Q?_DUPONT_H=C3=A9l=C3=A8ne?=", "XDM/1.0/DDM+Synthèse DUPONT Hélène"},
		{"[Annule et remplace] XDM/1.0/DDM+SDM-MR DUPONT Jean", "[Annule et remplace] XDM/1.0/DDM+SDM-MR DUPONT Jean"},
		{"XDM/1.0/DDM+SDM-MR H\xc9L\xc8NE", "XDM/1.0/DDM+SDM-MR HÉLÈNE"},         // raw Latin-1
		{"XDM/1.0/DDM+SDM-MR H\xc3\x89L\xc3\x88NE", "XDM/1.0/DDM+SDM-MR HÉLÈNE"}, // raw UTF-8 (RFC 6532)
	}
	z := mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: exampleCDA(t, newborn)}}})
	for _, c := range cases {
		raw := mailWith(t, mailbuild.MailSpec{XDM: z, Subject: "PLACEHOLDER"})
		raw = bytes.Replace(raw, []byte("Subject: PLACEHOLDER"), []byte("Subject: "+c.header), 1)
		m := unpackOK(t, raw, DefaultLimits())
		if m.Subject != c.want {
			t.Errorf("subject %q, want %q", m.Subject, c.want)
		}
		if hasWarning(m.Warnings, "XDM/1.0/DDM marker") {
			t.Errorf("marker not found in %q", m.Subject)
		}
	}
	// Built subjects with accents are encoded, and read back.
	raw := mailWith(t, mailbuild.MailSpec{XDM: z, Subject: "XDM/1.0/DDM+Synthèse d'épisode de soins ÉLODIE Zoé 01/02/2003"})
	if !bytes.Contains(raw, []byte("=?UTF-8?q?")) {
		t.Errorf("the subject is not RFC 2047 encoded")
	}
	if m := unpackOK(t, raw, DefaultLimits()); m.Subject != "XDM/1.0/DDM+Synthèse d'épisode de soins ÉLODIE Zoé 01/02/2003" {
		t.Errorf("subject %q", m.Subject)
	}
}

// The degraded path: a CDA attached as such, without XDM.
func TestUnpackBareCDA(t *testing.T) {
	cda := exampleCDA(t, newborn)
	latin := []byte(`<?xml version="1.0" encoding="ISO-8859-1"?>` + "\r\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>Synth\xe8se</title></ClinicalDocument>\r\n")
	cases := []struct {
		name string
		part mailbuild.Part
		data []byte
		file string
	}{
		{"application/xml base64, RFC 2231 name", mailbuild.Part{ContentType: "application/xml", Filename: "cda médical.xml", Data: cda}, cda, "cda médical.xml"},
		{"text/xml latin-1 quoted-printable, bytes untouched", mailbuild.Part{ContentType: `text/xml; charset="ISO-8859-1"`, Filename: "cda.xml", Data: latin}, latin, "cda.xml"},
		{"octet-stream, RFC 2047 name", mailbuild.Part{ContentType: `application/octet-stream; name="=?UTF-8?Q?r=C3=A9sum=C3=A9.xml?="`, Header: []mailbuild.HeaderField{{Name: "Content-Disposition", Value: "attachment"}}, Data: cda}, cda, "résumé.xml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := unpackOK(t, mailWith(t, mailbuild.MailSpec{Subject: "SDM-MR", Parts: []mailbuild.Part{c.part}}), DefaultLimits())
			d := m.Documents[0]
			if len(m.Documents) != 1 || !bytes.Equal(d.Data, c.data) || d.Name != c.file || d.Source != SourceAttachment ||
				d.MetadataHashOK != nil || d.MetadataSizeOK != nil || !hasWarning(d.Warnings, "bare CDA attachment") {
				t.Errorf("got %d documents, name %q source %s, same bytes %v, warnings %q",
					len(m.Documents), d.Name, d.Source, bytes.Equal(d.Data, c.data), d.Warnings)
			}
		})
	}
	t.Run("UTF-16 CDA", func(t *testing.T) {
		u16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes(
			[]byte(`<?xml version="1.0" encoding="UTF-16"?><ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole><id root="1.2.250.1.213.1.4.8" extension="1234567890123"/></patientRole></recordTarget></ClinicalDocument>`))
		if err != nil {
			t.Fatal(err)
		}
		m := unpackOK(t, mailWith(t, mailbuild.MailSpec{Parts: []mailbuild.Part{{ContentType: "application/xml", Filename: "cda16.xml", Data: u16}}}), DefaultLimits())
		if d := m.Documents[0]; !bytes.Equal(d.Data, u16) || d.cda == nil || len(d.cda.PatientIDs) != 1 {
			t.Errorf("UTF-16 document not read: %+v", d.cda)
		}
	})
	t.Run("the zip and a bare copy give one document", func(t *testing.T) {
		z := mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda}}})
		m := unpackOK(t, mailWith(t, mailbuild.MailSpec{XDM: z, Parts: []mailbuild.Part{{ContentType: "text/xml", Filename: "copie.xml", Encoding: "base64", Data: cda}}}), DefaultLimits())
		if len(m.Documents) != 1 || m.Documents[0].Source != SourceXDM || !hasWarning(m.Warnings, "same file") {
			t.Errorf("%d documents, warnings %q", len(m.Documents), m.Warnings)
		}
	})
}

// A secretary forwards the hospital's mail: the XDM sits in message/rfc822.
func TestUnpackForwarded(t *testing.T) {
	cda := exampleCDA(t, newborn)
	original := mailWith(t, mailbuild.MailSpec{XDM: mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda}}}),
		MessageID: "<orig@chu.mssante.fr>", DispositionNotificationTo: "dpi@chu-exemple.mssante.fr"})
	for _, enc := range []string{"8bit", "base64", "7bit"} {
		t.Run(enc, func(t *testing.T) {
			fwd, err := mailbuild.BuildMail(mailbuild.MailSpec{From: "secretariat@chu-exemple.mssante.fr", To: "bamara@bndmr.mssante.fr",
				Text: "Pour intégration.", Parts: []mailbuild.Part{{ContentType: "message/rfc822", Encoding: enc, Data: original}}})
			if err != nil {
				t.Fatal(err)
			}
			m := unpackOK(t, fwd, DefaultLimits())
			if m.From != "secretariat@chu-exemple.mssante.fr" || m.DispositionNotificationTo != "" {
				t.Errorf("outer headers: %s %s", m.From, m.DispositionNotificationTo)
			}
			if len(m.Forwarded) != 1 || m.Forwarded[0].MessageID != "<orig@chu.mssante.fr>" ||
				m.Forwarded[0].DispositionNotificationTo != "dpi@chu-exemple.mssante.fr" || !strings.HasPrefix(m.Forwarded[0].Subject, "XDM/1.0/DDM+") {
				t.Errorf("forwarded: %+v", m.Forwarded)
			}
			if len(m.Documents) != 1 || !m.Documents[0].Forwarded || !bytes.Equal(m.Documents[0].Data, cda) || !*m.Documents[0].MetadataHashOK {
				t.Errorf("documents: %+v", m.Documents)
			}
			if !hasWarning(m.Warnings, "forwarded message <orig@chu.mssante.fr>") {
				t.Errorf("warnings %q", m.Warnings)
			}
		})
	}
	t.Run("ForwardMail", func(t *testing.T) {
		fwd, err := mailbuild.ForwardMail(original, mailbuild.MailSpec{From: "secretariat@chu-exemple.mssante.fr", To: "bamara@bndmr.mssante.fr"})
		if err != nil {
			t.Fatal(err)
		}
		m := unpackOK(t, fwd, DefaultLimits())
		if !strings.HasPrefix(m.Subject, "TR: XDM/1.0/DDM+") || len(m.Documents) != 1 {
			t.Errorf("subject %q, %d documents", m.Subject, len(m.Documents))
		}
	})
}

func TestUnpackPatients(t *testing.T) {
	a := exampleCDA(t, newborn)
	a2 := append(bytes.Clone(a), []byte("<!-- v2 -->")...)
	b := exampleCDA(t, pregnant)
	t.Run("two documents, one patient", func(t *testing.T) {
		m := unpackOK(t, mailWith(t, mailbuild.MailSpec{XDM: mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: a}, {Data: a2}}})}), DefaultLimits())
		if len(m.Documents) != 2 || m.Documents[0].PatientID != m.Documents[1].PatientID {
			t.Errorf("%d documents", len(m.Documents))
		}
		if !strings.Contains(m.Subject, "2 documents") {
			t.Errorf("subject %q", m.Subject)
		}
	})
	t.Run("two patients in the XDM", func(t *testing.T) {
		_, rej := unpackRejected(t, mailWith(t, mailbuild.MailSpec{XDM: mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: a}, {Data: b}}})}), DefaultLimits(), CodeSeveralPatients)
		if !strings.Contains(rej.Reason, "DOC00001.XML") || !strings.Contains(rej.Reason, "DOC00002.XML") {
			t.Errorf("reason %s", rej.Reason)
		}
	})
	t.Run("XDM and a bare CDA of another patient", func(t *testing.T) {
		unpackRejected(t, mailWith(t, mailbuild.MailSpec{XDM: mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: a}}}),
			Parts: []mailbuild.Part{{ContentType: "application/xml", Filename: "autre.xml", Data: b}}}), DefaultLimits(), CodeSeveralPatients)
	})
	t.Run("METADATA says another patient than its CDA", func(t *testing.T) {
		// The CDA links the two documents: one patient, and the METADATA
		// inconsistency is left to the validator's cross-check, with a warning.
		m := unpackOK(t, mailWith(t, mailbuild.MailSpec{XDM: mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: a}, {Data: a2, PatientID: "1234567890123^^^&1.2.250.1.213.1.4.8&ISO"}}})}),
			DefaultLimits())
		if len(m.Documents) != 2 || !hasWarning(m.Documents[1].Warnings, "not among the CDA recordTarget ids") || len(m.Documents[0].Warnings) != 0 {
			t.Errorf("%q / %q", m.Documents[0].Warnings, m.Documents[1].Warnings)
		}
	})
	t.Run("METADATA of two patients over CDA without ids", func(t *testing.T) {
		bare := []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><title>x</title></ClinicalDocument>`)
		bare2 := []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><title>y</title></ClinicalDocument>`)
		unpackRejected(t, mailWith(t, mailbuild.MailSpec{XDM: mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{
			{Data: bare, PatientID: "1111111111111^^^&1.2.250.1.213.1.4.8&ISO"},
			{Data: bare2, PatientID: "2222222222222^^^&1.2.250.1.213.1.4.8&ISO"}}})}), DefaultLimits(), CodeSeveralPatients)
	})
	t.Run("METADATA patientId absent from the CDA is noted", func(t *testing.T) {
		m := unpackOK(t, mailWith(t, mailbuild.MailSpec{XDM: mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: a, PatientID: "1234567890123^^^&1.2.250.1.213.1.4.8&ISO"}}})}), DefaultLimits())
		if !hasWarning(m.Documents[0].Warnings, "not among the CDA recordTarget ids") {
			t.Errorf("%q", m.Documents[0].Warnings)
		}
	})
}

// Mails that must never be acknowledged.
func TestUnpackReports(t *testing.T) {
	z := mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: exampleCDA(t, newborn)}}})
	cases := []mailbuild.MailSpec{
		{ContentType: "multipart/report; report-type=disposition-notification", Parts: []mailbuild.Part{{ContentType: "message/disposition-notification", Encoding: "7bit", Data: []byte("Disposition: automatic-action/MDN-sent-automatically; processed\r\n")}}},
		{ContentType: "multipart/report; report-type=delivery-status", XDM: z},
		{Header: []mailbuild.HeaderField{{Name: "Auto-Submitted", Value: "auto-replied"}}, XDM: z},
		{Header: []mailbuild.HeaderField{{Name: "Return-Path", Value: "<>"}}, XDM: z},
	}
	for _, s := range cases {
		m, _ := unpackRejected(t, mailWith(t, s), DefaultLimits(), CodeReport)
		if !m.IsReport || m.MessageID == "" {
			t.Errorf("IsReport %v, Message-ID %q", m.IsReport, m.MessageID)
		}
	}
	m := unpackOK(t, mailWith(t, mailbuild.MailSpec{XDM: z, Header: []mailbuild.HeaderField{{Name: "Auto-Submitted", Value: "no"}}}), DefaultLimits())
	if m.IsReport {
		t.Error("Auto-Submitted: no is not a report")
	}
	// A DPI sending on its own: documents taken, never acknowledged.
	m = unpackOK(t, mailWith(t, mailbuild.MailSpec{XDM: z, Header: []mailbuild.HeaderField{{Name: "Auto-Submitted", Value: "auto-generated; owner=dpi"}}}), DefaultLimits())
	if !m.IsReport || len(m.Documents) != 1 || !hasWarning(m.Warnings, "no acknowledgement") {
		t.Errorf("auto-generated: IsReport %v, %d documents, %q", m.IsReport, len(m.Documents), m.Warnings)
	}
}

func TestUnpackRejections(t *testing.T) {
	cda := exampleCDA(t, newborn)
	z := mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda}}})
	good := mailWith(t, mailbuild.MailSpec{XDM: z, DispositionNotificationTo: "dpi@chu-exemple.mssante.fr"})
	tiny := DefaultLimits()
	tiny.MaxMailBytes = int64(len(good) - 1)
	shallow := DefaultLimits()
	shallow.MaxDepth = 2
	few := DefaultLimits()
	few.MaxParts = 2

	nest := func(inner []byte, n int) []byte {
		for i := 0; i < n; i++ {
			b := "b" + strings.Repeat("x", i)
			inner = []byte("Content-Type: multipart/mixed; boundary=\"" + b + "\"\r\n\r\n--" + b + "\r\n" + string(inner) + "\r\n--" + b + "--\r\n")
		}
		return inner
	}
	deep := append([]byte("From: a@b.fr\r\nMessage-ID: <deep@b.fr>\r\nMIME-Version: 1.0\r\n"), nest([]byte("Content-Type: text/plain\r\n\r\nhello"), 4)...)
	badB64 := bytes.Replace(good, []byte("Content-Disposition: attachment; filename=IHE_XDM.zip\r\n\r\n"), []byte("Content-Disposition: attachment; filename=IHE_XDM.zip\r\n\r\n!!!!"), 1)
	if bytes.Equal(badB64, good) {
		t.Fatal("could not corrupt the base64")
	}
	end := bytes.LastIndex(good, []byte("\r\n--=_bndmr_"))
	cases := []struct {
		name string
		raw  []byte
		lim  Limits
		code string
	}{
		{"too large", good, tiny, CodeTooLarge},
		{"no CDA", mailWith(t, mailbuild.MailSpec{PDF: []byte("%PDF-1.4"), DispositionNotificationTo: "dpi@chu-exemple.mssante.fr"}), DefaultLimits(), CodeNoCDA},
		{"S/MIME only", mailWith(t, mailbuild.MailSpec{Parts: []mailbuild.Part{{ContentType: "application/pkcs7-mime; smime-type=enveloped-data", Filename: "smime.p7m", Data: []byte("0\x82")}}}), DefaultLimits(), CodeNoCDA},
		{"header garbage", []byte("this is not a mail\r\nat all\r\n\r\nbody"), DefaultLimits(), CodeUnreadableMIME},
		{"multipart without boundary", []byte("From: a@b.fr\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\n\r\nhello\r\n--x--\r\n"), DefaultLimits(), CodeUnreadableMIME},
		{"boundary never appears", []byte("From: a@b.fr\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--x\r\n\r\nhello\r\n--x--\r\n"), DefaultLimits(), CodeUnreadableMIME},
		{"truncated", good[:end-100], DefaultLimits(), CodeUnreadableMIME},
		{"bad base64", badB64, DefaultLimits(), CodeUnreadableMIME},
		{"too deep", deep, shallow, CodeTooComplex},
		{"too many parts", good, few, CodeTooComplex},
		{"header block too large", append([]byte("Message-ID: <big@b.fr>\r\nX-Pad: "+strings.Repeat("a", maxHeaderBytes)+"\r\n\r\n"), good...), DefaultLimits(), CodeUnreadableMIME},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, rej := unpackRejected(t, c.raw, c.lim, c.code)
			t.Logf("%s: %s | %s", rej.Code, rej.Reason, rej.ReasonFR)
			if bytes.HasPrefix(c.raw, []byte("Date:")) && m.MessageID == "" {
				t.Errorf("the headers were not kept: %+v", m)
			}
		})
	}
	t.Run("too large keeps the acknowledgement headers", func(t *testing.T) {
		m, _ := unpackRejected(t, good, tiny, CodeTooLarge)
		if m.DispositionNotificationTo != "dpi@chu-exemple.mssante.fr" || m.MessageID == "" || m.Subject == "" {
			t.Errorf("%+v", m)
		}
	})
	t.Run("no CDA names what the mail holds", func(t *testing.T) {
		_, rej := unpackRejected(t, mailWith(t, mailbuild.MailSpec{PDF: []byte("%PDF-1.4")}), DefaultLimits(), CodeNoCDA)
		if !strings.Contains(rej.Reason, `[2] application/pdf "document.pdf"`) || !strings.Contains(rej.ReasonFR, "aucun document CDA") {
			t.Errorf("%+v", rej)
		}
	})
}

// Shapes of mails seen in practice that must still work.
func TestUnpackVariants(t *testing.T) {
	cda := exampleCDA(t, newborn)
	z := mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda}}})
	std := mailWith(t, mailbuild.MailSpec{XDM: z})
	single := []byte("From: dpi@chu.fr\r\nMessage-ID: <s@chu.fr>\r\nSubject: XDM/1.0/DDM+x\r\nMIME-Version: 1.0\r\nContent-Type: application/zip; name=IHE_XDM.ZIP\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(z) + "\r\n")
	nested := mailWith(t, mailbuild.MailSpec{ContentType: "multipart/mixed", Parts: []mailbuild.Part{{ContentType: "multipart/alternative; boundary=alt",
		Encoding: "7bit", Data: []byte("--alt\r\nContent-Type: text/plain\r\n\r\nbonjour\r\n--alt\r\nContent-Type: text/html\r\n\r\n<p>bonjour</p>\r\n--alt--")}}, XDM: z})
	cases := []struct {
		name string
		raw  []byte
		warn string
	}{
		{"LF line ends", bytes.ReplaceAll(std, []byte("\r\n"), []byte("\n")), ""},
		{"single part zip, upper-case name", single, ""},
		{"zip as octet-stream with another name", mailWith(t, mailbuild.MailSpec{Parts: []mailbuild.Part{{ContentType: "application/octet-stream", Filename: "envoi.bin", Data: z}}}), `rather than IHE_XDM.zip`},
		{"x-zip-compressed", mailWith(t, mailbuild.MailSpec{Parts: []mailbuild.Part{{ContentType: "application/x-zip-compressed", Filename: "IHE_XDM.zip", Data: z}}}), ""},
		{"nested alternative", nested, ""},
		{"base64 with indented lines", bytes.ReplaceAll(std, []byte("\r\nUEsD"), []byte("\r\n  UEsD")), ""},
		{"no subject marker", mailWith(t, mailbuild.MailSpec{XDM: z, Subject: "Envoi SDM-MR"}), "XDM/1.0/DDM marker"},
		{"signed", mailWith(t, mailbuild.MailSpec{ContentType: "multipart/signed; protocol=\"application/pkcs7-signature\"", XDM: z,
			Parts: []mailbuild.Part{{ContentType: "application/pkcs7-signature", Filename: "smime.p7s", Data: []byte("sig")}}}), "signature is not verified"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := unpackOK(t, c.raw, DefaultLimits())
			if len(m.Documents) != 1 || !bytes.Equal(m.Documents[0].Data, cda) {
				t.Fatalf("%d documents", len(m.Documents))
			}
			if c.warn != "" && !hasWarning(m.Warnings, c.warn) {
				t.Errorf("warnings %q lack %q", m.Warnings, c.warn)
			}
		})
	}
}

func TestAddress(t *testing.T) {
	cases := []struct{ field, want string }{
		{"dpi@chu.fr", "dpi@chu.fr"},
		{"DPI du CHU <dpi@chu.fr>", "dpi@chu.fr"},
		{"=?UTF-8?Q?Secr=C3=A9tariat?= <secretariat@chu.fr>", "secretariat@chu.fr"},
		{"dpi@chu.fr <dpi@chu.fr>", "dpi@chu.fr"}, // not RFC 5322, seen in the wild
		{"<dpi@chu.fr>", "dpi@chu.fr"},
		{"", ""},
	}
	for _, c := range cases {
		raw := []byte("From: " + c.field + "\r\nDisposition-Notification-To: " + c.field + "\r\n\r\nbody")
		m, _ := Unpack(context.Background(), raw, DefaultLimits())
		if m.From != c.want || m.DispositionNotificationTo != c.want {
			t.Errorf("%q: From %q, Disposition-Notification-To %q, want %q", c.field, m.From, m.DispositionNotificationTo, c.want)
		}
	}
}

func TestUnpackContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	raw := mailWith(t, mailbuild.MailSpec{XDM: mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: exampleCDA(t, newborn)}}})})
	_, err := Unpack(ctx, raw, DefaultLimits())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

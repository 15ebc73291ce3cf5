package mssante

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
)

// fuzzLimits keep each fuzz iteration cheap while exercising every limit.
func fuzzLimits() Limits {
	l := DefaultLimits()
	l.MaxMailBytes = 1 << 20
	l.MaxEntryBytes = 512 << 10
	l.MaxTotalBytes = 2 << 20
	l.MinRatioBytes = 64 << 10
	l.MaxZipEntries = 32
	l.MaxParts = 32
	return l
}

// tinyCDA is a small CDA header, so that the fuzzer mutates a document it
// can afford to rewrite.
func tinyCDA(ins string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2.3" extension="` + ins + `"/><code code="34133-9" displayName="SDM-MR"/>
<title>SDM-MR</title><effectiveTime value="20240228120000+0100"/>
<recordTarget><patientRole><id root="1.2.250.1.213.1.4.10" extension="` + ins + `"/><patient><name><family>DUPONT</family><given>Zoé</given></name>
<administrativeGenderCode code="F"/><birthTime value="20240228"/></patient></patientRole></recordTarget>
<custodian><assignedCustodian><representedCustodianOrganization><id root="1.2.250.1.71.4.2.2" extension="1750000000"/><name>CHU</name></representedCustodianOrganization></assignedCustodian></custodian>
<component/></ClinicalDocument>
`)
}

// seedZips returns archives covering the XDM reader's paths.
func seedZips(t testing.TB) [][]byte {
	a, b := tinyCDA("123"), tinyCDA("456")
	md := func(uri string, data []byte) []byte {
		z := mustXDM(t, XDM{Documents: []XDMDocument{{Name: uri, Data: data}}})
		m, _, _ := readZip(context.Background(), z, "x", DefaultLimits(), &zipBudget{left: 1 << 30})
		for _, e := range m {
			if e.key == "ihe_xdm/subset01/metadata.xml" {
				return e.Data
			}
		}
		return nil
	}
	return [][]byte{
		mustXDM(t, XDM{Documents: []XDMDocument{{Data: a}}}),
		mustXDM(t, XDM{Documents: []XDMDocument{{Data: a}, {Data: b, Unlisted: true}}}),
		mustXDM(t, XDM{Documents: []XDMDocument{{Data: a, HashOverride: "00", SizeOverride: 3}}, NoMetadata: false}),
		mustXDM(t, XDM{Documents: []XDMDocument{{Data: a}}, NoMetadata: true}),
		zipFiles(t, XDMFile{`IHE_XDM\SUBSET01\METADATA.XML`, md("DOC00001.XML", a)}, XDMFile{`ihe_xdm\subset01\doc00001.xml`, a}),
		zipFiles(t, XDMFile{"../x", a}),
		zipFiles(t, XDMFile{"a.zip", []byte("PK\x03\x04")}),
		zipFiles(t, XDMFile{"IHE_XDM/SUBSET01/METADATA.XML", []byte(`<!DOCTYPE x><x/>`)}, XDMFile{"IHE_XDM/SUBSET01/DOC00001.XML", a}),
		zipFiles(t, XDMFile{"big", make([]byte, 200<<10)}),
		quirkTwoSubsetsZip(t),
	}
}

// seedMails returns mails covering the MIME walker's paths.
func seedMails(t testing.TB) [][]byte {
	a := tinyCDA("123")
	z := mustXDM(t, XDM{Documents: []XDMDocument{{Data: a}}})
	std := mailWith(t, MailSpec{XDM: z, DispositionNotificationTo: "x@y.fr", Subject: "XDM/1.0/DDM+SDM-MR DUPONT Zoé"})
	out := [][]byte{
		std,
		mailWith(t, MailSpec{Parts: []Part{{ContentType: "application/xml", Filename: "cda é.xml", Data: a}}}),
		mailWith(t, MailSpec{Parts: []Part{{ContentType: "message/rfc822", Encoding: "8bit", Data: std}}}),
		mailWith(t, MailSpec{XDM: z, TextCharset: "iso-8859-1", Text: "Données", TextEncoding: "8bit"}),
		mailWith(t, MailSpec{XDM: mustXDM(t, XDM{Documents: []XDMDocument{{Data: a}, {Data: tinyCDA("456")}}})}),
		mailWith(t, MailSpec{ContentType: "multipart/report; report-type=delivery-status", XDM: z}),
		mailWith(t, MailSpec{PDF: []byte("%PDF")}),
		std[:len(std)/2],
		[]byte("From: a@b\r\nContent-Type: multipart/mixed\r\n\r\nx"),
		[]byte("Subject: =?ISO-8859-1?Q?caf=E9?=\r\nContent-Type: text/xml\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + string(a)),
	}
	for _, zz := range seedZips(t) {
		out = append(out, mailWith(t, MailSpec{XDM: zz}))
	}
	// The shapes of issue 12, as third-party systems write them.
	for _, q := range quirkFixtures(t) {
		out = append(out, q)
	}
	return out
}

// checkOutcome holds for every input: documents or a known rejection, never both.
func checkOutcome(t *testing.T, m *Mail, err error) {
	if m == nil {
		t.Fatalf("nil Mail (err %v)", err)
	}
	if err != nil {
		var rej *RejectError
		if !errors.As(err, &rej) {
			t.Fatalf("error is not a rejection: %v", err)
		}
		if rej.Code == CodeInternal || !slices.Contains(RejectionCodes(), rej.Code) || rej.Reason == "" || rej.ReasonFR == "" {
			t.Fatalf("bad rejection %+v", rej)
		}
		if len(m.Documents) != 0 {
			t.Fatalf("rejected with %d documents", len(m.Documents))
		}
		return
	}
	if len(m.Documents) == 0 {
		t.Fatal("accepted without documents")
	}
	checkDocuments(t, m.Documents)
}

func checkDocuments(t *testing.T, docs []Document) {
	for _, d := range docs {
		sum := sha1.Sum(d.Data)
		if d.SHA1 != hex.EncodeToString(sum[:]) || d.Size != int64(len(d.Data)) {
			t.Fatalf("%s: SHA1/size do not describe the data", d.Name)
		}
		if (d.MetadataHashOK == nil) != (d.MetadataSizeOK == nil) {
			t.Fatalf("%s: hash and size checks disagree on being listed", d.Name)
		}
		if _, ok := sniffCDA(d.Data); !ok {
			t.Fatalf("%s: not a CDA", d.Name)
		}
	}
}

func FuzzUnpack(f *testing.F) {
	for _, s := range seedMails(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Unpack(context.Background(), raw, fuzzLimits())
		checkOutcome(t, m, err)
		start, _ := skipLeader(raw[:min(len(raw), maxHeaderBytes)])
		if m != nil && !bytes.HasPrefix(raw[start:], m.Header) {
			t.Fatal("Header is not the start of the mail (past a byte-order mark, mbox line or white space)")
		}
		if m != nil && bytes.Contains(m.Header, []byte("\r\n\r\n")) {
			t.Fatal("Header holds a blank line")
		}
	})
}

func FuzzXDM(f *testing.F) {
	for _, z := range seedZips(f) {
		f.Add(z)
	}
	f.Fuzz(func(t *testing.T, z []byte) {
		lim := fuzzLimits()
		budget := zipBudget{left: lim.MaxTotalBytes}
		entries, _, rej := readZip(context.Background(), z, "IHE_XDM.zip", lim, &budget)
		if rej != nil {
			if rej.Code == CodeInternal || rej.Reason == "" {
				t.Fatalf("bad rejection %+v", rej)
			}
			return
		}
		var total int64
		for _, e := range entries {
			total += int64(len(e.Data))
			if int64(len(e.Data)) > lim.MaxEntryBytes {
				t.Fatalf("entry %s beyond the limit", e.Name)
			}
		}
		if total > lim.MaxTotalBytes {
			t.Fatal("total beyond the limit")
		}
		docs, _, rej := xdmDocuments(entries, "IHE_XDM.zip", lim)
		if rej != nil {
			return
		}
		var plain []Document
		for _, d := range docs {
			plain = append(plain, *d)
		}
		checkDocuments(t, plain)
		_ = checkOnePatient(docs)
	})
}

func FuzzMetadata(f *testing.F) {
	for _, z := range seedZips(f) {
		entries, _, _ := readZip(context.Background(), z, "x", DefaultLimits(), &zipBudget{left: 1 << 30})
		for _, e := range entries {
			if e.key == "ihe_xdm/subset01/metadata.xml" {
				f.Add(e.Data)
			}
		}
	}
	f.Add([]byte(`<a:SubmitObjectsRequest><ExtrinsicObject><Slot name="URI"><ValueList><Value>1|a</Value><Value>2|b</Value></ValueList></Slot></ExtrinsicObject></a:SubmitObjectsRequest>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		md, err := parseMetadata(data)
		if err == nil && md == nil {
			t.Fatal("nil metadata without error")
		}
	})
}

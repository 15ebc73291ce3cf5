package mssante

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/bndmr/hub/pkg/cdasniff"
	"github.com/bndmr/hub/pkg/mailbuild"
	"github.com/bndmr/hub/pkg/testsupport"
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
		return metadataOf(t, mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Name: uri, Data: data}}}))
	}
	return [][]byte{
		mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: a}}}),
		mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: a}, {Data: b, Unlisted: true}}}),
		mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: a, HashOverride: "00", SizeOverride: 3}}, NoMetadata: false}),
		mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: a}}, NoMetadata: true}),
		zipFiles(t, mailbuild.XDMFile{Name: `IHE_XDM\SUBSET01\METADATA.XML`, Data: md("DOC00001.XML", a)}, mailbuild.XDMFile{Name: `ihe_xdm\subset01\doc00001.xml`, Data: a}),
		zipFiles(t, mailbuild.XDMFile{Name: "../x", Data: a}),
		zipFiles(t, mailbuild.XDMFile{Name: "a.zip", Data: []byte("PK\x03\x04")}),
		zipFiles(t, mailbuild.XDMFile{Name: "IHE_XDM/SUBSET01/METADATA.XML", Data: []byte(`<!DOCTYPE x><x/>`)}, mailbuild.XDMFile{Name: "IHE_XDM/SUBSET01/DOC00001.XML", Data: a}),
		zipFiles(t, mailbuild.XDMFile{Name: "big", Data: make([]byte, 200<<10)}),
		quirkTwoSubsetsZip(t),
		// Flagged encrypted (traditional PKWARE, bit 0) and WinZip AES
		// (method 99), the bytes left in clear.
		rawZip(t, rawEntry{name: "IHE_XDM/SUBSET01/DOC00001.XML", data: a, flags: 0x1}),
		rawZip(t, rawEntry{name: "IHE_XDM/SUBSET01/DOC00001.XML", data: a, method: 99}),
		// Lying sizes: the local and central headers declare fewer, then
		// more, uncompressed bytes than the entry holds.
		rawZip(t, rawEntry{name: "IHE_XDM/SUBSET01/DOC00001.XML", data: a, size: 10}),
		rawZip(t, rawEntry{name: "IHE_XDM/SUBSET01/DOC00001.XML", data: a, size: 1 << 40}),
	}
}

// rawEntry is a stored zip entry written with headers as given.
type rawEntry struct {
	name   string
	data   []byte
	flags  uint16
	method uint16 // 0: stored
	size   uint64 // declared uncompressed size; 0: the true one
}

// rawZip writes entries without archive/zip's checks, as a hostile or
// broken producer would.
func rawZip(t testing.TB, es ...rawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range es {
		h := &zip.FileHeader{Name: e.name, Method: e.method, Flags: e.flags, CRC32: crc32.ChecksumIEEE(e.data),
			CompressedSize64: uint64(len(e.data)), UncompressedSize64: uint64(len(e.data))}
		if e.size != 0 {
			h.UncompressedSize64 = e.size
		}
		w, err := zw.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// seedMails returns mails covering the MIME walker's paths.
func seedMails(t testing.TB) [][]byte {
	a := tinyCDA("123")
	z := mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: a}}})
	std := mailWith(t, mailbuild.MailSpec{XDM: z, DispositionNotificationTo: "x@y.fr", Subject: "XDM/1.0/DDM+SDM-MR DUPONT Zoé"})
	out := [][]byte{
		std,
		mailWith(t, mailbuild.MailSpec{Parts: []mailbuild.Part{{ContentType: "application/xml", Filename: "cda é.xml", Data: a}}}),
		mailWith(t, mailbuild.MailSpec{Parts: []mailbuild.Part{{ContentType: "message/rfc822", Encoding: "8bit", Data: std}}}),
		mailWith(t, mailbuild.MailSpec{XDM: z, TextCharset: "iso-8859-1", Text: "Données", TextEncoding: "8bit"}),
		mailWith(t, mailbuild.MailSpec{XDM: mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: a}, {Data: tinyCDA("456")}}})}),
		mailWith(t, mailbuild.MailSpec{ContentType: "multipart/report; report-type=delivery-status", XDM: z}),
		mailWith(t, mailbuild.MailSpec{PDF: []byte("%PDF")}),
		std[:len(std)/2],
		[]byte("From: a@b\r\nContent-Type: multipart/mixed\r\n\r\nx"),
		[]byte("Subject: =?ISO-8859-1?Q?caf=E9?=\r\nContent-Type: text/xml\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + string(a)),
	}
	for _, zz := range seedZips(t) {
		out = append(out, mailWith(t, mailbuild.MailSpec{XDM: zz}))
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
		if _, ok := cdasniff.Read(d.Data); !ok {
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
		// A document is taken once, whatever number of copies the mail
		// holds; an archived one names its archive.
		seen := map[string]bool{}
		for _, d := range m.Documents {
			if seen[d.SHA1] {
				t.Fatalf("%s: the same bytes taken twice", d.Name)
			}
			seen[d.SHA1] = true
			if (d.Source == SourceXDM) == (d.Archive == "") || d.Source != SourceXDM && d.Source != SourceAttachment {
				t.Fatalf("%s: source %q, archive %q", d.Name, d.Source, d.Archive)
			}
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
		// Read independently with archive/zip: each document is the content
		// of the entry it names, and what METADATA.XML is said to confirm,
		// it does.
		zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
		if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
			t.Fatalf("accepted an archive archive/zip cannot read: %v", err)
		}
		files := map[string][]byte{}
		for _, f := range zr.File {
			name := f.Name
			if !utf8.ValidString(name) {
				// Names without the UTF-8 flag are CP437; the hub decodes
				// them so that the acknowledgement shows what the sender's
				// tool showed.
				name, _ = charmap.CodePage437.NewDecoder().String(name)
			}
			name = path.Clean(strings.ReplaceAll(name, `\`, "/")) // "a//b" is "a/b", for the hub too
			if name != f.Name && files[name] != nil {
				continue
			}
			if rc, err := f.Open(); err == nil {
				b, _ := io.ReadAll(io.LimitReader(rc, lim.MaxEntryBytes+1))
				rc.Close()
				files[strings.ToLower(name)] = b
			}
		}
		// The hub reads every METADATA.XML, whatever its folder (SUBSET02,
		// misspelt folders), and falls back to file names to match URIs.
		var mds []*metadata
		for name, b := range files {
			if path.Base(name) != "metadata.xml" {
				continue
			}
			if md, err := parseMetadata(b); err == nil {
				mds = append(mds, md)
			}
		}
		for _, d := range plain {
			if b, ok := files[strings.ToLower(d.Name)]; !ok || !bytes.Equal(b, d.Data) {
				t.Fatalf("%s: not the bytes of the archive's entry of that name", d.Name)
			}
			if d.MetadataHashOK == nil {
				continue
			}
			if len(mds) == 0 {
				t.Fatalf("%s: checked against a METADATA.XML that does not parse", d.Name)
			}
			hashOK, sizeOK := false, false
			for _, md := range mds {
				for _, e := range md.Entries {
					hashOK = hashOK || strings.EqualFold(strings.TrimSpace(e.Hash), d.SHA1)
					sizeOK = sizeOK || strings.TrimSpace(e.Size) == fmt.Sprint(len(d.Data))
				}
			}
			if *d.MetadataHashOK && !hashOK || *d.MetadataSizeOK && !sizeOK {
				t.Fatalf("%s: hash/size said to match METADATA.XML, which has no such entry", d.Name)
			}
		}
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
	f.Add([]byte("\xef\xbb\xbf<SubmitObjectsRequest><ExtrinsicObject id=\"d&amp;1\"><Slot name=\"hash\"><ValueList><Value> ab&#x43;d </Value></ValueList></Slot>" +
		`<Slot name="size"><ValueList><Value><![CDATA[12]]></Value></ValueList></Slot>` +
		`<ExternalIdentifier identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" value="1^^^&amp;1.2.250.1.213.1.4.10&amp;ISO"/></ExtrinsicObject></SubmitObjectsRequest>`))
	f.Add([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?><SubmitObjectsRequest><ExtrinsicObject><Name><LocalizedString value="Synth\xe8se"/></Name></ExtrinsicObject></SubmitObjectsRequest>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		md, err := parseMetadata(data)
		if err == nil && md == nil {
			t.Fatal("nil metadata without error")
		}
		if err != nil || !testsupport.PlainUTF8(data) {
			return // values are checked against the text where it is plain UTF-8
		}
		// Nothing is invented: every value read is written in the input,
		// in its character data or an attribute (as a plain tokenizer reads
		// them: entities decoded, CDATA opened), white space aside.
		var b strings.Builder
		d := xml.NewDecoder(bytes.NewReader(cdasniff.TrimXMLStart(data)))
		for {
			tok, err := d.RawToken() // as parseMetadata: end tags unmatched
			if err != nil {
				break
			}
			switch x := tok.(type) {
			case xml.CharData:
				b.Write(x)
			case xml.StartElement:
				for _, a := range x.Attr {
					b.WriteString("\x00" + a.Value + "\x00")
				}
			}
		}
		text := squeeze(b.String())
		for _, e := range md.Entries {
			for _, v := range []string{e.ID, e.MimeType, e.Hash, e.Size, e.CreationTime, e.Title, e.UniqueID, e.FormatCode, e.TypeCode, e.ClassCode} {
				if !strings.Contains(text, squeeze(v)) {
					t.Fatalf("value %q is not in the input", v)
				}
			}
		}
	})
}

// squeeze drops white space, which XML parsing may normalise.
func squeeze(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
}

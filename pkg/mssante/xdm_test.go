package mssante

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"os"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/cdasniff"
	"github.com/bndmr/hub/pkg/mailbuild"
	"github.com/bndmr/hub/pkg/xds"
)

// The ANS sample archives of the kit, zipped at run time: their METADATA.XML
// hash and size do not match the files, which must give warnings, not a
// rejection (and a rejection in strict mode).
func TestSampleArchives(t *testing.T) {
	upper := func(n string) string { return n }
	messy := func(n string) string { // Windows separators, lower-case names
		return strings.ReplaceAll(strings.ToLower(n), "/", `\`)
	}
	cases := []struct {
		sample  string
		rename  func(string) string
		docs    []string
		patient string
	}{
		{"XDM_VSM", upper, []string{"IHE_XDM/SUBSET01/DOC00001.XML"}, "0218805328320789819507^^^&1.2.250.1.213.1.4.2&ISO"},
		// DOC00001 of this sample is a "self-presenting" CDA: an XSL stylesheet
		// wrapping the ClinicalDocument. It is listed but not a CDA: a warning.
		{"XDM_2-CR-BIO", upper, []string{"IHE_XDM/SUBSET01/DOC00002.XML"}, "0218805328320789819507^^^&1.2.250.1.213.1.4.2&ISO"},
		{"XDM_2-CR-BIO", messy, []string{"ihe_xdm/subset01/doc00002.xml"}, "0218805328320789819507^^^&1.2.250.1.213.1.4.2&ISO"},
	}
	for _, c := range cases {
		t.Run(c.sample, func(t *testing.T) {
			root := kitPath(t, "examples", "xdm", c.sample, "IHE_XDM")
			z := zipTree(t, root, c.rename)
			raw := mailWith(t, mailbuild.MailSpec{XDM: z, Subject: "XDM/1.0/DDM+Synthèse SAUVEUR Sylvaine 01/03/1975"})
			m := unpackOK(t, raw, DefaultLimits())
			if c.sample == "XDM_2-CR-BIO" && !hasWarning(m.Warnings, "root element xsl:stylesheet, not ClinicalDocument") {
				t.Errorf("the self-presenting CDA is not reported: %q", m.Warnings)
			}
			if len(m.Documents) != len(c.docs) {
				t.Fatalf("got %d documents, want %d", len(m.Documents), len(c.docs))
			}
			for i, d := range m.Documents {
				if d.Name != c.docs[i] {
					t.Errorf("document %d is %q, want %q", i, d.Name, c.docs[i])
				}
				want, err := os.ReadFile(path.Join(root, "IHE_XDM", "SUBSET01", path.Base(strings.ToUpper(d.Name))))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(d.Data, want) {
					t.Errorf("%s: the bytes differ from the sample file", d.Name)
				}
				sum := sha1.Sum(want)
				if d.SHA1 != hex.EncodeToString(sum[:]) || d.Size != int64(len(want)) {
					t.Errorf("%s: SHA1/size %s/%d do not describe the file", d.Name, d.SHA1, d.Size)
				}
				if d.MetadataHashOK == nil || *d.MetadataHashOK || d.MetadataSizeOK == nil || *d.MetadataSizeOK {
					t.Errorf("%s: the sample's hash and size are wrong, got hashOK=%v sizeOK=%v", d.Name, deref(d.MetadataHashOK), deref(d.MetadataSizeOK))
				}
				if !hasWarning(d.Warnings, "differs from the file's SHA-1") || !hasWarning(d.Warnings, "differs from the file's") {
					t.Errorf("%s: warnings do not name the mismatch: %q", d.Name, d.Warnings)
				}
				if d.PatientID != c.patient {
					t.Errorf("%s: patient %q, want %q", d.Name, d.PatientID, c.patient)
				}
				if d.Source != SourceXDM || d.UniqueID == "" || d.FormatCode == "" {
					t.Errorf("%s: metadata not kept: %+v", d.Name, d)
				}
			}
			strict := DefaultLimits()
			strict.StrictMetadata = true
			_, rej := unpackRejected(t, raw, strict, CodeMetadataMismatch)
			if !strings.Contains(strings.ToUpper(rej.Reason), path.Base(strings.ToUpper(c.docs[0]))) {
				t.Errorf("strict reason does not name the file: %s", rej.Reason)
			}
		})
	}
}

func deref(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

// A built archive round-trips: METADATA.XML is realistic and matches.
func TestBuildXDMRoundTrip(t *testing.T) {
	cda := exampleCDA(t, newborn)
	second := append(bytes.Clone(cda), []byte("\n<!-- version 2 -->\n")...)
	z := mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda}, {Data: second}},
		Extra: []mailbuild.XDMFile{{Name: "IHE_XDM/SUBSET01/CDA-FO.XSL", Data: []byte("<xsl:stylesheet/>")}, {Name: "IHE_XDM/SUBSET01/style.css", Data: []byte("p{}")}}})
	if again := mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda}, {Data: second}},
		Extra: []mailbuild.XDMFile{{Name: "IHE_XDM/SUBSET01/CDA-FO.XSL", Data: []byte("<xsl:stylesheet/>")}, {Name: "IHE_XDM/SUBSET01/style.css", Data: []byte("p{}")}}}); !bytes.Equal(z, again) {
		t.Error("BuildXDM is not deterministic")
	}
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var meta []byte
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Name == "IHE_XDM/SUBSET01/METADATA.XML" {
			rc, _ := f.Open()
			var b bytes.Buffer
			b.ReadFrom(rc)
			meta = b.Bytes()
		}
	}
	want := "README.TXT INDEX.HTM IHE_XDM/SUBSET01/METADATA.XML IHE_XDM/SUBSET01/DOC00001.XML IHE_XDM/SUBSET01/DOC00002.XML IHE_XDM/SUBSET01/CDA-FO.XSL IHE_XDM/SUBSET01/style.css"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("entries %q, want %q", got, want)
	}
	md, err := parseMetadata(meta)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := cdasniff.Read(cda)
	ins, _ := h.INS()
	if md.SetPatientID != ins.XDS() || len(md.Entries) != 2 {
		t.Fatalf("submission set: %+v", md)
	}
	for i, e := range md.Entries {
		data := [][]byte{cda, second}[i]
		sum := sha1.Sum(data)
		if e.FormatCode != xds.FormatCodeSDMMR || e.TypeCode != xds.TypeCodeSDMMR || e.MimeType != "text/xml" ||
			e.Hash != hex.EncodeToString(sum[:]) || e.Size != strconv.Itoa(len(data)) || e.PatientID != ins.XDS() ||
			e.URI != []string{"DOC00001.XML", "DOC00002.XML"}[i] || e.UniqueID != h.ID.String() ||
			len(e.AuthorInstitution) != 1 || !strings.Contains(e.AuthorInstitution[0], h.Custodian.Root) {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	m := unpackOK(t, mailWith(t, mailbuild.MailSpec{XDM: z}), DefaultLimits())
	if len(m.Documents) != 2 {
		t.Fatalf("got %d documents, want 2 (stylesheets are not documents)", len(m.Documents))
	}
	for _, d := range m.Documents {
		if !*d.MetadataHashOK || !*d.MetadataSizeOK || len(d.Warnings) != 0 {
			t.Errorf("%s: %v %v %q", d.Name, *d.MetadataHashOK, *d.MetadataSizeOK, d.Warnings)
		}
	}
	if len(m.Warnings) != 0 {
		t.Errorf("warnings on a clean mail: %q", m.Warnings)
	}
}

// METADATA.XML variants: mismatches, unlisted and missing files, URIs that
// differ in case or need a fallback.
func TestXDMMetadataCases(t *testing.T) {
	cda := exampleCDA(t, newborn)
	other := append(bytes.Clone(cda), []byte("<!-- second -->")...)
	cases := []struct {
		name     string
		x        mailbuild.XDM
		strictOK bool
		check    func(t *testing.T, m *Mail)
	}{
		{"hash mismatch", mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda, HashOverride: strings.Repeat("ab", 20)}}}, false,
			func(t *testing.T, m *Mail) {
				d := m.Documents[0]
				if *d.MetadataHashOK || !*d.MetadataSizeOK || !hasWarning(d.Warnings, "differs from the file's SHA-1") {
					t.Errorf("%v %v %q", *d.MetadataHashOK, *d.MetadataSizeOK, d.Warnings)
				}
			}},
		{"md5 instead of sha1", mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda, HashOverride: strings.Repeat("cd", 16)}}}, false,
			func(t *testing.T, m *Mail) {
				if d := m.Documents[0]; *d.MetadataHashOK || !hasWarning(d.Warnings, "32 hex digits") {
					t.Errorf("%q", d.Warnings)
				}
			}},
		{"upper-case hash is fine", mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda, HashOverride: upperSHA1(cda)}}}, true,
			func(t *testing.T, m *Mail) {
				if d := m.Documents[0]; !*d.MetadataHashOK {
					t.Errorf("%q", d.Warnings)
				}
			}},
		{"size mismatch", mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda, SizeOverride: int64(len(cda) + 5)}}}, false,
			func(t *testing.T, m *Mail) {
				if d := m.Documents[0]; !*d.MetadataHashOK || *d.MetadataSizeOK || !hasWarning(d.Warnings, "size") {
					t.Errorf("%q", d.Warnings)
				}
			}},
		{"unlisted CDA is taken", mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda}, {Data: other, Unlisted: true}}}, false,
			func(t *testing.T, m *Mail) {
				if len(m.Documents) != 2 {
					t.Fatalf("%d documents", len(m.Documents))
				}
				d := m.Documents[1]
				if d.MetadataHashOK != nil || d.MetadataSizeOK != nil || d.PatientID != "" || !hasWarning(d.Warnings, "not listed in METADATA.XML") {
					t.Errorf("%+v", d.Warnings)
				}
			}},
		{"no METADATA.XML", mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda}}, NoMetadata: true}, false,
			func(t *testing.T, m *Mail) {
				if d := m.Documents[0]; d.MetadataHashOK != nil || !hasWarning(m.Warnings, "no METADATA.XML") {
					t.Errorf("%q", m.Warnings)
				}
			}},
		{"URI in another case", mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda, Name: "cr-rtn.xml"}}}, true,
			func(t *testing.T, m *Mail) {
				if d := m.Documents[0]; d.Name != "IHE_XDM/SUBSET01/cr-rtn.xml" || !*d.MetadataHashOK {
					t.Errorf("%s %q", d.Name, d.Warnings)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := mailWith(t, mailbuild.MailSpec{XDM: mustXDM(t, c.x)})
			c.check(t, unpackOK(t, raw, DefaultLimits()))
			strict := DefaultLimits()
			strict.StrictMetadata = true
			if c.strictOK {
				unpackOK(t, raw, strict)
			} else {
				_, err := Unpack(t.Context(), raw, strict)
				if err == nil {
					t.Error("strict mode accepted the mail")
				}
			}
		})
	}
}

func upperSHA1(b []byte) string {
	s := sha1.Sum(b)
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

// metadataFor returns a METADATA.XML listing one document.
func metadataFor(t *testing.T, uri string, data []byte) []byte {
	t.Helper()
	z := mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Name: uri, Data: data}}})
	zr, _ := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "METADATA.XML") {
			rc, _ := f.Open()
			var b bytes.Buffer
			b.ReadFrom(rc)
			return b.Bytes()
		}
	}
	t.Fatal("no METADATA.XML built")
	return nil
}

// Hand-made archives: layout variants and a missing listed file.
func TestXDMLayouts(t *testing.T) {
	cda := exampleCDA(t, newborn)
	md := metadataFor(t, "DOC00001.XML", cda)
	cases := []struct {
		name  string
		files []mailbuild.XDMFile
		doc   string
		warn  string
	}{
		{"extra top folder", []mailbuild.XDMFile{{Name: "envoi/IHE_XDM/SUBSET01/METADATA.XML", Data: md}, {Name: "envoi/IHE_XDM/SUBSET01/DOC00001.XML", Data: cda}}, "envoi/IHE_XDM/SUBSET01/DOC00001.XML", ""},
		{"no IHE_XDM folder (nhin-d)", []mailbuild.XDMFile{{Name: "SUBSET01/METADATA.xml", Data: md}, {Name: "SUBSET01/DOC00001.xml", Data: cda}}, "SUBSET01/DOC00001.xml", ""},
		{"other subset name", []mailbuild.XDMFile{{Name: "IHE_XDM/SS000001/METADATA.XML", Data: md}, {Name: "IHE_XDM/SS000001/DOC00001.XML", Data: cda}}, "IHE_XDM/SS000001/DOC00001.XML", ""},
		{"file elsewhere, found by name", []mailbuild.XDMFile{{Name: "IHE_XDM/SUBSET01/METADATA.XML", Data: md}, {Name: "IHE_XDM/DOCS/DOC00001.XML", Data: cda}}, "IHE_XDM/DOCS/DOC00001.XML", "resolved by file name only"},
		{"stray files", []mailbuild.XDMFile{{Name: "README.TXT", Data: []byte("x")}, {Name: "IHE_XDM/SUBSET01/METADATA.XML", Data: md}, {Name: "IHE_XDM/SUBSET01/DOC00001.XML", Data: cda},
			{Name: "IHE_XDM/SUBSET01/CDA.XSL", Data: []byte(`<?xml version="1.0"?><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"/>`)},
			{Name: "IHE_XDM/SUBSET01/SIGNATURE.XML", Data: []byte(`<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/>`)}}, "IHE_XDM/SUBSET01/DOC00001.XML", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := unpackOK(t, mailWith(t, mailbuild.MailSpec{XDM: zipFiles(t, c.files...)}), DefaultLimits())
			if len(m.Documents) != 1 {
				t.Fatalf("%d documents", len(m.Documents))
			}
			d := m.Documents[0]
			if d.Name != c.doc || d.MetadataHashOK == nil || !*d.MetadataHashOK {
				t.Errorf("got %s hashOK=%v", d.Name, deref(d.MetadataHashOK))
			}
			if c.warn != "" && !hasWarning(d.Warnings, c.warn) {
				t.Errorf("warnings %q lack %q", d.Warnings, c.warn)
			}
		})
	}
	t.Run("CP437 file name", func(t *testing.T) {
		md := metadataFor(t, "DOCÉ.XML", cda)
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, f := range []mailbuild.XDMFile{{Name: "IHE_XDM/SUBSET01/METADATA.XML", Data: md}, {Name: "IHE_XDM/SUBSET01/DOC\x90.XML", Data: cda}} {
			w, _ := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, NonUTF8: true})
			w.Write(f.Data)
		}
		zw.Close()
		m := unpackOK(t, mailWith(t, mailbuild.MailSpec{XDM: buf.Bytes()}), DefaultLimits())
		if d := m.Documents[0]; d.Name != "IHE_XDM/SUBSET01/DOCÉ.XML" || d.MetadataHashOK == nil || !*d.MetadataHashOK {
			t.Errorf("%q %q", d.Name, d.Warnings)
		}
	})
	t.Run("listed file missing", func(t *testing.T) {
		other := append(bytes.Clone(cda), ' ')
		files := []mailbuild.XDMFile{{Name: "IHE_XDM/SUBSET01/METADATA.XML", Data: md}, {Name: "IHE_XDM/SUBSET01/DOC00009.XML", Data: other}}
		m := unpackOK(t, mailWith(t, mailbuild.MailSpec{XDM: zipFiles(t, files...)}), DefaultLimits())
		if !hasWarning(m.Warnings, `lists "DOC00001.XML"`) || !hasWarning(m.Documents[0].Warnings, "not listed") {
			t.Errorf("%q / %q", m.Warnings, m.Documents[0].Warnings)
		}
	})
	t.Run("listed file is not a CDA", func(t *testing.T) {
		files := []mailbuild.XDMFile{{Name: "IHE_XDM/SUBSET01/METADATA.XML", Data: md}, {Name: "IHE_XDM/SUBSET01/DOC00001.XML", Data: []byte("<html/>")}}
		_, rej := unpackRejected(t, mailWith(t, mailbuild.MailSpec{XDM: zipFiles(t, files...)}), DefaultLimits(), CodeNoCDA)
		if !strings.Contains(rej.Reason, "0 CDA") {
			t.Errorf("reason: %s", rej.Reason)
		}
	})
}

// Hostile archives, each with its code.
func TestHostileZips(t *testing.T) {
	cda := exampleCDA(t, newborn)
	md := metadataFor(t, "DOC00001.XML", cda)
	good := []mailbuild.XDMFile{{Name: "IHE_XDM/SUBSET01/METADATA.XML", Data: md}, {Name: "IHE_XDM/SUBSET01/DOC00001.XML", Data: cda}}
	with := func(extra ...mailbuild.XDMFile) []byte {
		return zipFiles(t, append(append([]mailbuild.XDMFile{}, good...), extra...)...)
	}
	random := make([]byte, 128<<10)
	rand.Read(random)
	small := DefaultLimits()
	small.MaxEntryBytes = 100 << 10
	fewEntries := DefaultLimits()
	fewEntries.MaxZipEntries = 3
	smallTotal := DefaultLimits()
	smallTotal.MaxTotalBytes = int64(len(cda) + len(md) + 1000)

	cases := []struct {
		name string
		zip  []byte
		lim  Limits
		code string
	}{
		{"deflate bomb (ratio)", with(mailbuild.XDMFile{Name: "IHE_XDM/SUBSET01/BOMB.XML", Data: make([]byte, 8<<20)}), DefaultLimits(), CodeZipBomb},
		{"entry too large", with(mailbuild.XDMFile{Name: "IHE_XDM/SUBSET01/BIG.BIN", Data: random}), small, CodeZipBomb},
		{"too many entries", with(mailbuild.XDMFile{Name: "a", Data: []byte("a")}, mailbuild.XDMFile{Name: "b", Data: []byte("b")}), fewEntries, CodeZipBomb},
		{"total too large", with(mailbuild.XDMFile{Name: "IHE_XDM/SUBSET01/R.BIN", Data: random}), smallTotal, CodeZipBomb},
		{"lying sizes", lyingZip(t, 1<<20, 4<<20), Limits{MaxEntryBytes: 1 << 20, MaxRatio: 1e9}, CodeZipBomb},
		{"actual size above declared", lyingZip(t, 1000, 64<<10), DefaultLimits(), CodeZipBomb},
		{"dot-dot", with(mailbuild.XDMFile{Name: "IHE_XDM/../../etc/passwd", Data: []byte("x")}), DefaultLimits(), CodePathTraversal},
		{"dot-dot backslash", with(mailbuild.XDMFile{Name: `IHE_XDM\..\..\evil.xml`, Data: []byte("x")}), DefaultLimits(), CodePathTraversal},
		{"absolute", with(mailbuild.XDMFile{Name: "/etc/cron.d/x", Data: []byte("x")}), DefaultLimits(), CodePathTraversal},
		{"drive letter", with(mailbuild.XDMFile{Name: `C:\Windows\x.xml`, Data: []byte("x")}), DefaultLimits(), CodePathTraversal},
		{"nested zip by name", with(mailbuild.XDMFile{Name: "IHE_XDM/SUBSET01/INNER.ZIP", Data: zipFiles(t, good...)}), DefaultLimits(), CodeNestedZip},
		{"nested zip by content", with(mailbuild.XDMFile{Name: "IHE_XDM/SUBSET01/DOC00002.XML", Data: zipFiles(t, good...)}), DefaultLimits(), CodeNestedZip},
		{"encrypted entry", encryptedZip(t, cda), DefaultLimits(), CodeEncryptedZip},
		{"duplicate names", with(mailbuild.XDMFile{Name: "ihe_xdm/subset01/doc00001.xml", Data: cda}), DefaultLimits(), CodeBadZip},
		{"not a zip", []byte("PK\x03\x04 this is not really a zip"), DefaultLimits(), CodeBadZip},
		{"truncated", with()[:len(with())/2], DefaultLimits(), CodeBadZip},
		{"DOCTYPE in METADATA", zipFiles(t, mailbuild.XDMFile{Name: "IHE_XDM/SUBSET01/METADATA.XML", Data: []byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><SubmitObjectsRequest>&e;</SubmitObjectsRequest>`)}, good[1]), DefaultLimits(), CodeBadMetadata},
		{"unsupported method", methodZip(t, 12, cda), DefaultLimits(), CodeBadZip},
		{"METADATA listing too many documents", zipFiles(t, mailbuild.XDMFile{Name: "IHE_XDM/SUBSET01/METADATA.XML", Data: []byte("<SubmitObjectsRequest>" + strings.Repeat(`<ExtrinsicObject id="x"/>`, 300) + "</SubmitObjectsRequest>")}, good[1]), DefaultLimits(), CodeBadMetadata},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, rej := unpackRejected(t, mailWith(t, mailbuild.MailSpec{XDM: c.zip, DispositionNotificationTo: "dpi@chu-exemple.mssante.fr"}), c.lim, c.code)
			if m.DispositionNotificationTo != "dpi@chu-exemple.mssante.fr" || m.MessageID == "" {
				t.Errorf("headers not kept with the rejection: %+v", m)
			}
			t.Logf("%s: %s", rej.Code, rej.Reason)
		})
	}
}

// lyingZip holds one deflated entry of actual zero bytes whose header
// declares declared bytes.
func lyingZip(t *testing.T, declared, actual int) []byte {
	t.Helper()
	data := make([]byte, actual)
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(data)
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "IHE_XDM/SUBSET01/DOC00001.XML", Method: zip.Deflate,
		CRC32: crc32.ChecksumIEEE(data), CompressedSize64: uint64(comp.Len()), UncompressedSize64: uint64(declared)})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	return buf.Bytes()
}

// encryptedZip marks an entry as encrypted (general purpose flag bit 0).
func encryptedZip(t *testing.T, data []byte) []byte {
	return rawZip(t, rawEntry{name: "IHE_XDM/SUBSET01/DOC00001.XML", method: zip.Store, flags: 0x1, data: data})
}

// methodZip stores an entry under another compression method number (12 is bzip2).
func methodZip(t *testing.T, method uint16, data []byte) []byte {
	return rawZip(t, rawEntry{name: "IHE_XDM/SUBSET01/DOC00001.XML", method: method, data: data})
}

func TestCheckEntryName(t *testing.T) {
	cases := []struct {
		in, want string
		bad      bool
	}{
		{"IHE_XDM/SUBSET01/DOC00001.XML", "IHE_XDM/SUBSET01/DOC00001.XML", false},
		{`IHE_XDM\SUBSET01\DOC00001.XML`, "IHE_XDM/SUBSET01/DOC00001.XML", false},
		{"./IHE_XDM//SUBSET01/./a.xml", "IHE_XDM/SUBSET01/a.xml", false},
		{"IHE_XDM/", "IHE_XDM/", false},
		{"a..b/c", "a..b/c", false},
		{"../a", "", true},
		{"a/../../b", "", true},
		{`a\..\b`, "", true},
		{"/a", "", true},
		{`\a`, "", true},
		{"c:/a", "", true},
		{"Z:a", "", true},
		{"a\x00b", "", true},
	}
	for _, c := range cases {
		got, rej := checkEntryName(c.in, "IHE_XDM.zip")
		if (rej != nil) != c.bad || (!c.bad && got != c.want) {
			t.Errorf("checkEntryName(%q) = %q, %v; want %q, bad=%v", c.in, got, rej, c.want, c.bad)
		}
		if rej != nil && rej.Code != CodePathTraversal {
			t.Errorf("checkEntryName(%q): code %s", c.in, rej.Code)
		}
	}
}

// TestMetadataRejections: the METADATA.XML branches that refuse a mail, by
// code, in lenient and strict mode (the code is what the acknowledgement
// and the reception report show).
func TestMetadataRejections(t *testing.T) {
	cda := exampleCDA(t, newborn)
	unreadable := mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda}}, NoMetadata: true,
		Extra: []mailbuild.XDMFile{{Name: "IHE_XDM/SUBSET01/METADATA.XML", Data: []byte("<not xml")}}}
	small := DefaultLimits()
	small.MaxMetadataBytes = 64
	for _, tc := range []struct {
		name            string
		x               mailbuild.XDM
		lim             Limits
		lenient, strict string // rejection code, "" when the mail is taken
		lenientWarning  string
	}{
		{"METADATA.XML over its size limit", mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda}}}, small, CodeBadMetadata, CodeBadMetadata, ""},
		{"METADATA.XML that is not XML", unreadable, DefaultLimits(), "", CodeBadMetadata, "cannot be read"},
		{"no METADATA.XML", mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda}}, NoMetadata: true}, DefaultLimits(), "", CodeBadMetadata, "no METADATA.XML"},
		{"hash that does not match", mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda, HashOverride: strings.Repeat("0", 40)}}}, DefaultLimits(), "", CodeMetadataMismatch, "hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := mailWith(t, mailbuild.MailSpec{XDM: mustXDM(t, tc.x)})
			for _, mode := range []struct {
				strict bool
				want   string
			}{{false, tc.lenient}, {true, tc.strict}} {
				lim := tc.lim
				lim.StrictMetadata = mode.strict
				m, err := Unpack(t.Context(), raw, lim)
				var rej *RejectError
				switch {
				case mode.want == "" && err != nil:
					t.Errorf("strict=%v: refused: %v", mode.strict, err)
				case mode.want == "" && (len(m.Documents) != 1 || !hasWarning(append(m.Warnings, m.Documents[0].Warnings...), tc.lenientWarning)):
					t.Errorf("strict=%v: %d documents, warnings %q; want the document with a warning about %q", mode.strict, len(m.Documents), m.Warnings, tc.lenientWarning)
				case mode.want != "" && (!errors.As(err, &rej) || rej.Code != mode.want):
					t.Errorf("strict=%v: %v, want %s", mode.strict, err, mode.want)
				}
			}
		})
	}
}

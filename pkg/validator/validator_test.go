package validator

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/cisis/cisistest"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/mailbuild"
	"github.com/bndmr/hub/pkg/mssante"
	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/synth"
)

func testValidator(t *testing.T, cfg Config) *Validator {
	t.Helper()
	return New(cfg, cisistest.Engine(t), zap.NewNop(), nil)
}

// goodMail is the first mail of the synthetic generator with seed 5: one
// valid document, described by gen.
func goodMail(t *testing.T) (raw []byte, gen synth.Document) {
	t.Helper()
	g, err := synth.New(synth.Options{Seed: 5, Kit: cisistest.KitDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	raw, gen, err = g.Next()
	if err != nil {
		t.Fatal(err)
	}
	return raw, gen
}

// firstCDA is the first document of a mail, as Unpack reads it.
func firstCDA(t *testing.T, raw []byte) []byte {
	t.Helper()
	m, err := mssante.Unpack(context.Background(), raw, mssante.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return m.Documents[0].Data
}

func mailWith(t *testing.T, docs ...mailbuild.XDMDocument) []byte {
	t.Helper()
	xdm, err := mailbuild.BuildXDM(mailbuild.XDM{Documents: docs})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := mailbuild.BuildMail(mailbuild.MailSpec{From: "dpi@chu.test", To: "hub@bndmr.test", DispositionNotificationTo: "dpi@chu.test", XDM: xdm})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// twoSubsets builds a mail whose XDM holds cda twice, in SUBSET01 and
// SUBSET02, each listed by its own METADATA.XML (second describes the copy).
func twoSubsets(t *testing.T, cda []byte, second mailbuild.XDMDocument) []byte {
	t.Helper()
	metadata := func(d mailbuild.XDMDocument) []byte {
		d.Data = cda
		z, err := mailbuild.BuildXDM(mailbuild.XDM{Documents: []mailbuild.XDMDocument{d}})
		if err != nil {
			t.Fatal(err)
		}
		zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
		if err != nil {
			t.Fatal(err)
		}
		f, err := zr.Open("IHE_XDM/SUBSET01/METADATA.XML")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"IHE_XDM/SUBSET01/METADATA.XML", metadata(mailbuild.XDMDocument{})},
		{"IHE_XDM/SUBSET01/DOC00001.XML", cda},
		{"IHE_XDM/SUBSET02/METADATA.XML", metadata(second)},
		{"IHE_XDM/SUBSET02/DOC00001.XML", cda},
	} {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := mailbuild.BuildMail(mailbuild.MailSpec{From: "dpi@chu.test", To: "hub@bndmr.test", DispositionNotificationTo: "dpi@chu.test", XDM: buf.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func readKit(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cisistest.KitDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheck(t *testing.T) {
	v := testValidator(t, Config{})
	good, gen := goodMail(t)
	goodCDA := firstCDA(t, good)
	for _, tc := range []struct {
		name        string
		raw         []byte
		mailCode    string // whole-mail rejection code, or ""
		accepted    int
		docCode     string // rejection code of the first document
		cisis       int
		withReason  string
		mailWarning string // a warning the outcome must carry, for the acknowledgement text
	}{
		{name: "generated SDM-MR 2024.01", raw: good, accepted: 1},
		{name: "vaccination note, not an SDM-MR", raw: mailWith(t, mailbuild.XDMDocument{Data: readKit(t, "examples/other-cda/VAC_2023.01.xml")}),
			docCode: "not_sdmmr", cisis: 906, withReason: "SDM-MR"},
		{name: "mutated document failing IHE", raw: mailWith(t, mailbuild.XDMDocument{Data: readKit(t, "conformance/docs/SDM-MR_2024.01_nouveau-ne__m1_002.xml")}),
			docCode: "invalid", cisis: 906, withReason: "SDM-MR_2024.01"},
		{name: "METADATA names another patient", raw: mailWith(t, mailbuild.XDMDocument{Data: goodCDA, PatientID: "299999999999999^^^&1.2.250.1.213.1.4.10&ISO"}),
			docCode: "ins_inconsistent", cisis: 904, withReason: "METADATA"},
		{name: "the same document in two XDM subsets", raw: twoSubsets(t, goodCDA, mailbuild.XDMDocument{UniqueID: "1.2.250.1.999.2"}),
			accepted: 1, mailWarning: `"IHE_XDM/SUBSET02/DOC00001.XML" (uniqueId 1.2.250.1.999.2) is the same file as "IHE_XDM/SUBSET01/DOC00001.XML"`},
		{name: "the same document in two XDM subsets, the second's METADATA names another patient",
			raw:     twoSubsets(t, goodCDA, mailbuild.XDMDocument{PatientID: "299999999999999^^^&1.2.250.1.213.1.4.10&ISO"}),
			docCode: "ins_inconsistent", cisis: 904, withReason: "IHE_XDM/SUBSET02/DOC00001.XML", mailWarning: "is the same file as"},
		{name: "not a mail at all", raw: []byte("\x00\x01 garbage"), mailCode: "unreadable_mime"},
		{name: "a mail without CDA", raw: func() []byte {
			b, _ := mailbuild.BuildMail(mailbuild.MailSpec{From: "a@chu.test", To: "hub@bndmr.test", Text: "bonjour"})
			return b
		}(), mailCode: "no_cda"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := v.Check(context.Background(), events.MailRaw{V: 1, MailID: "m1"}, tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			o := res.Outcome
			if tc.mailCode != "" {
				if o.Rejected == nil || o.Rejected.Code != tc.mailCode || o.Rejected.CISIS != events.CodeOther {
					t.Fatalf("mail rejection = %+v, want code %s", o.Rejected, tc.mailCode)
				}
				return
			}
			if o.Rejected != nil {
				t.Fatalf("mail rejected: %+v", o.Rejected)
			}
			if tc.mailWarning != "" && !slices.ContainsFunc(o.Warnings, func(w string) bool { return strings.Contains(w, tc.mailWarning) }) {
				t.Errorf("outcome warnings %q lack %q", o.Warnings, tc.mailWarning)
			}
			if len(res.Extracted) != tc.accepted {
				t.Fatalf("%d accepted, want %d: %+v", len(res.Extracted), tc.accepted, o.Documents)
			}
			d := o.Documents[0]
			if tc.accepted > 0 {
				e := res.Extracted[0]
				if !d.Accepted || e.Header.SetID != gen.SetID || e.Header.VersionNumber != gen.VersionNumber || e.Document == nil ||
					d.FINESS != gen.FINESS || e.MetadataPatientID == "" {
					t.Fatalf("accepted document %+v / %+v does not match the generated %+v", d, e.Header, gen)
				}
				return
			}
			if d.Accepted || d.Rejection == nil || d.Rejection.Code != tc.docCode || d.Rejection.CISIS != tc.cisis ||
				!strings.Contains(d.Rejection.Reason, tc.withReason) {
				t.Fatalf("document outcome %+v, want code %s (%d) mentioning %q", d.Rejection, tc.docCode, tc.cisis, tc.withReason)
			}
			if tc.docCode == "invalid" && (len(d.Failures) == 0 || d.Failures[0].Location == "" || d.SetID == "") {
				t.Fatalf("a validation failure must carry readable failed asserts and the document's ids: %+v", d)
			}
		})
	}
}

func TestCheckRequireINS(t *testing.T) {
	v := testValidator(t, Config{RequireINS: true})
	cda := readKit(t, "examples/sdm-mr/SDM-MR_2022.01.xml")
	// Remove the INS: the document stays valid, the hub then refuses it (903).
	noINS := strings.Replace(string(cda), `root="1.2.250.1.213.1.4.10"`, `root="1.2.3.4.567.8.9.99"`, 1)
	res, err := v.Check(context.Background(), events.MailRaw{V: 1, MailID: "m2"}, mailWith(t, mailbuild.XDMDocument{Data: []byte(noINS)}))
	if err != nil {
		t.Fatal(err)
	}
	d := res.Outcome.Documents[0]
	if d.Rejection == nil || d.Rejection.CISIS != events.CodeINSAbsent {
		t.Fatalf("outcome %+v, want 903", d)
	}
}

// TestCheckINS: the identity rules of the acknowledgement volet, rule by
// rule (903 when required, 905 for an INS without every trait, 904 when
// METADATA.XML's patient id differs by extension or by root).
func TestCheckINS(t *testing.T) {
	const ins, test, prod = "2790351215189", "1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.8"
	full := sdmmr.Patient{INS: ins, INSRoot: test, BirthFamily: "DUPONT", BirthGiven: "LEA", BirthTime: "19790315", Sex: "F"}
	without := func(edit func(*sdmmr.Patient)) sdmmr.Patient { p := full; edit(&p); return p }
	for _, tc := range []struct {
		name       string
		require    bool
		p          sdmmr.Patient
		metadataID string
		want       int
		mentions   string
	}{
		{"complete, METADATA agrees", false, full, ins + "^^^&" + test + "&ISO", 0, ""},
		{"complete, no METADATA patient id", false, full, "", 0, ""},
		{"no INS, not required", false, sdmmr.Patient{BirthFamily: "DUPONT"}, "", 0, ""},
		{"no INS, required", true, sdmmr.Patient{BirthFamily: "DUPONT"}, "", events.CodeINSAbsent, "INS"},
		{"no birth family name", false, without(func(p *sdmmr.Patient) { p.BirthFamily = "" }), "", events.CodeINSIncomplete, "nom de naissance"},
		{"no first given name", false, without(func(p *sdmmr.Patient) { p.BirthGiven = " " }), "", events.CodeINSIncomplete, "premier prénom"},
		{"no birth date", false, without(func(p *sdmmr.Patient) { p.BirthTime = "" }), "", events.CodeINSIncomplete, "date de naissance"},
		{"no sex", false, without(func(p *sdmmr.Patient) { p.Sex = "" }), "", events.CodeINSIncomplete, "sexe"},
		{"METADATA names another INS", false, full, "2850505123456^^^&" + test + "&ISO", events.CodeINSInconsistent, "METADATA"},
		{"METADATA has the production root, the document the test root", false, full, ins + "^^^&" + prod + "&ISO", events.CodeINSInconsistent, "METADATA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &Validator{cfg: Config{RequireINS: tc.require}}
			code, reason := v.checkINS(&sdmmr.Document{Header: sdmmr.Header{Patient: tc.p}}, mssante.Document{PatientID: tc.metadataID})
			if code != tc.want || !strings.Contains(reason, tc.mentions) {
				t.Errorf("checkINS = %d %q, want %d mentioning %q", code, reason, tc.want, tc.mentions)
			}
		})
	}
}

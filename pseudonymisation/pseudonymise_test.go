package pseudonymisation

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/sdmmr"
)

func testPseudonymiser(t *testing.T, opts Options, keys ...*Key) *Pseudonymiser {
	t.Helper()
	if len(keys) == 0 {
		k, err := NewKey("k1", testSecret(1), true)
		if err != nil {
			t.Fatal(err)
		}
		keys = []*Key{k}
	}
	kr, err := NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return New(kr, opts)
}

func mustKey(t *testing.T, id string, fill byte, primary bool) *Key {
	t.Helper()
	k, err := NewKey(id, testSecret(fill), primary)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func header() sdmmr.Header {
	return sdmmr.Header{
		DocumentID: "1.2.3.4^doc-1", SetID: "1.2.3.4^set-1", VersionNumber: 2,
		EffectiveTime: "20240228160000+0100", ModelVersion: "2024.01",
		CustodianID: "1750803454", FINESS: "750803454",
		Patient: sdmmr.Patient{
			INS: "279035121518989", INSRoot: sdmmr.OIDINSNIR,
			IPP:         []sdmmr.ID{{Root: "1.2.3.4.567.8.9.10", Extension: "IPP123"}},
			BirthFamily: "Lévêque-D'Arc", BirthGiven: "Zoé", Given: "Zoé Anne",
			Sex: "F", BirthTime: "19790312", BirthPlace: "2A004", ResidenceCode: "97411",
			DeceasedTime: "20240105",
		},
		Consents: []sdmmr.Consent{{Kind: sdmmr.ConsentERN, Code: sdmmr.Code{Code: "GEN-320", System: "1.2.250.1.213.1.1.4.322"}, Source: "header"}},
	}
}

func extracted(h sdmmr.Header, b sdmmr.Body) events.Extracted {
	return events.Extracted{V: events.ExtractedV, MailID: "m1", DocIndex: 0, ReceivedAt: time.Unix(1700000000, 0).UTC(),
		Header: h, Document: &sdmmr.Document{Header: h, Body: b}}
}

func TestRecordGeneralises(t *testing.T) {
	p := testPseudonymiser(t, Options{})
	r, err := p.Record(extracted(header(), sdmmr.Body{}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"key_id", r.KeyID, "k1"},
		{"birth_year_month", r.BirthYearMonth, "1979-03"},
		{"death_year_month", r.DeathYearMonth, "2024-01"},
		{"residence", r.ResidenceDepartement, "974"},
		{"birthplace", r.BirthplaceDepartement, "2A"},
		{"sex", r.Sex, "F"},
		{"finess", r.FINESS, "750803454"},
		{"set_id", r.SetID, "1.2.3.4^set-1"},
		{"consents", strings.Join(r.Consents, ","), "GEN-320"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	for name, v := range map[string]string{"ins": r.PatientINSPseudonym, "traits": r.PatientTraitsPseudonym, "document": r.DocumentKey} {
		if len(v) != 64 {
			t.Errorf("%s pseudonym %q: want 64 hex digits", name, v)
		}
	}
	if len(r.IPPKeys) != 1 || len(r.IPPKeys[0]) != 64 {
		t.Errorf("ipp keys %v", r.IPPKeys)
	}
	j, _ := json.Marshal(r)
	for _, leak := range []string{"279035121518989", "2790351215189", "IPP123", "LEVEQUE", "Lévêque", "Zoé", "19790312", "2A004", "97411", "doc-1"} {
		if strings.Contains(string(j), leak) {
			t.Errorf("record carries %q: %s", leak, j)
		}
	}
}

// Spelling variants of one identity give one pseudonym; a different
// identity, key or scope gives another.
func TestPseudonymsLink(t *testing.T) {
	p := testPseudonymiser(t, Options{})
	rec := func(mod func(h *sdmmr.Header)) events.Record {
		h := header()
		mod(&h)
		r, err := p.Record(extracted(h, sdmmr.Body{}))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	base := rec(func(*sdmmr.Header) {})
	same := []struct {
		name string
		mod  func(*sdmmr.Header)
	}{
		{"INS without key", func(h *sdmmr.Header) { h.Patient.INS = "2790351215189" }},
		{"INS with spaces", func(h *sdmmr.Header) { h.Patient.INS = "2 79 03 51 215 189 89" }},
		{"names without accents", func(h *sdmmr.Header) { h.Patient.BirthFamily = "LEVEQUE D ARC"; h.Patient.BirthGiven = "zoe" }},
		{"given from the list", func(h *sdmmr.Header) { h.Patient.BirthGiven = "" }},
		{"birth time with hour", func(h *sdmmr.Header) { h.Patient.BirthTime = "197903120830+0100" }},
		{"other document", func(h *sdmmr.Header) { h.DocumentID = "other"; h.VersionNumber = 3 }},
	}
	for _, s := range same {
		r := rec(s.mod)
		if r.PatientINSPseudonym != base.PatientINSPseudonym || r.PatientTraitsPseudonym != base.PatientTraitsPseudonym {
			t.Errorf("%s: pseudonyms changed", s.name)
		}
	}
	diff := []struct {
		name   string
		mod    func(*sdmmr.Header)
		traits bool
	}{
		{"other INS", func(h *sdmmr.Header) { h.Patient.INS = "279035121518889" }, false},
		{"test INS root", func(h *sdmmr.Header) { h.Patient.INSRoot = sdmmr.OIDINSNIRTest }, false},
		{"other birth day", func(h *sdmmr.Header) { h.Patient.BirthTime = "19790313" }, true},
		{"other sex", func(h *sdmmr.Header) { h.Patient.Sex = "M" }, true},
		{"other name", func(h *sdmmr.Header) { h.Patient.BirthFamily = "LEVEQUES" }, true},
	}
	for _, d := range diff {
		r := rec(d.mod)
		if d.traits && r.PatientTraitsPseudonym == base.PatientTraitsPseudonym {
			t.Errorf("%s: traits pseudonym unchanged", d.name)
		}
		if !d.traits && r.PatientINSPseudonym == base.PatientINSPseudonym {
			t.Errorf("%s: INS pseudonym unchanged", d.name)
		}
	}
	// The IPP and document keys are scoped to the establishment.
	other := rec(func(h *sdmmr.Header) { h.FINESS = "130786049"; h.CustodianID = "1130786049" })
	if other.IPPKeys[0] == base.IPPKeys[0] || other.DocumentKey == base.DocumentKey {
		t.Error("IPP or document key not scoped to the establishment")
	}
	if other.PatientINSPseudonym != base.PatientINSPseudonym {
		t.Error("the INS pseudonym must not depend on the establishment")
	}
	// Another key, other pseudonyms.
	r2, err := testPseudonymiser(t, Options{}, mustKey(t, "k2", 2, true)).Record(extracted(header(), sdmmr.Body{}))
	if err != nil {
		t.Fatal(err)
	}
	if r2.PatientINSPseudonym == base.PatientINSPseudonym || r2.PatientTraitsPseudonym == base.PatientTraitsPseudonym {
		t.Error("two keys give the same pseudonyms")
	}
}

func TestIncompleteTraitsGiveNoPseudonym(t *testing.T) {
	p := testPseudonymiser(t, Options{})
	for _, mod := range []func(*sdmmr.Patient){
		func(pt *sdmmr.Patient) { pt.BirthFamily = "" },
		func(pt *sdmmr.Patient) { pt.BirthGiven, pt.Given = "", "" },
		func(pt *sdmmr.Patient) { pt.BirthTime = "197903" },
		func(pt *sdmmr.Patient) { pt.Sex = "" },
	} {
		h := header()
		mod(&h.Patient)
		r, err := p.Record(extracted(h, sdmmr.Body{}))
		if err != nil {
			t.Fatal(err)
		}
		if r.PatientTraitsPseudonym != "" {
			t.Errorf("traits pseudonym from incomplete traits %+v", h.Patient)
		}
	}
	h := header()
	h.Patient.INS, h.Patient.INSRoot = "", ""
	r, err := p.Record(extracted(h, sdmmr.Body{}))
	if err != nil {
		t.Fatal(err)
	}
	if r.PatientINSPseudonym != "" || r.PatientTraitsPseudonym == "" {
		t.Errorf("without INS: ins %q traits %q", r.PatientINSPseudonym, r.PatientTraitsPseudonym)
	}
}

func TestOpposition(t *testing.T) {
	h := header()
	h.Consents = append(h.Consents, sdmmr.Consent{Kind: sdmmr.ConsentOpposition, Code: sdmmr.Code{Code: "GEN-315"}, Source: "header"})
	yes := true
	b := sdmmr.Body{Consanguinity: &yes, Diagnoses: []sdmmr.Diagnosis{{Disease: &sdmmr.Code{Code: "513"}}}}
	r, err := testPseudonymiser(t, Options{}).Record(extracted(h, b))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Opposition {
		t.Fatal("record not flagged opposition")
	}
	if r.SetID == "" || r.VersionNumber != 2 || r.FINESS == "" || r.EffectiveTime == "" || r.DocumentKey == "" {
		t.Errorf("an opposed document must still count for the indicators: %+v", r)
	}
	j, _ := json.Marshal(r)
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"v": true, "mail_id": true, "doc_index": true, "received_at": true, "key_id": true, "document_key": true,
		"set_id": true, "version_number": true, "effective_time": true, "model_version": true, "finess": true, "opposition": true}
	for f := range m {
		if !allowed[f] {
			t.Errorf("opposed record carries %q: %s", f, j)
		}
	}
}

func TestRotation(t *testing.T) {
	old := mustKey(t, "2025", 1, false)
	cur := mustKey(t, "2026", 2, true)
	r, err := testPseudonymiser(t, Options{Rotation: true}, old, cur).Record(extracted(header(), sdmmr.Body{}))
	if err != nil {
		t.Fatal(err)
	}
	oldOnly, err := testPseudonymiser(t, Options{}, mustKey(t, "2025", 1, true)).Record(extracted(header(), sdmmr.Body{}))
	if err != nil {
		t.Fatal(err)
	}
	if r.KeyID != "2026" || len(r.PreviousKeys) != 1 {
		t.Fatalf("key %q previous %+v", r.KeyID, r.PreviousKeys)
	}
	pk := r.PreviousKeys[0]
	if pk.KeyID != "2025" || pk.PatientINSPseudonym != oldOnly.PatientINSPseudonym ||
		pk.PatientTraitsPseudonym != oldOnly.PatientTraitsPseudonym || pk.DocumentKey != oldOnly.DocumentKey ||
		len(pk.IPPKeys) != 1 || pk.IPPKeys[0] != oldOnly.IPPKeys[0] {
		t.Errorf("previous-key pseudonyms %+v differ from those the old key makes alone", pk)
	}
	if pk.PatientINSPseudonym == r.PatientINSPseudonym {
		t.Error("old and new key give the same pseudonym")
	}
	noRot, err := testPseudonymiser(t, Options{}, old, cur).Record(extracted(header(), sdmmr.Body{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(noRot.PreviousKeys) != 0 || noRot.PatientINSPseudonym != r.PatientINSPseudonym {
		t.Error("without rotation: previous keys computed, or primary pseudonyms differ")
	}
}

func TestNoEstablishment(t *testing.T) {
	h := header()
	h.FINESS, h.CustodianID = "", ""
	_, err := testPseudonymiser(t, Options{}).Record(extracted(h, sdmmr.Body{}))
	if err != ErrNoEstablishment {
		t.Fatalf("err %v, want ErrNoEstablishment", err)
	}
}

func TestNormaliseName(t *testing.T) {
	for in, want := range map[string]string{
		"Lévêque-D'Arc":   "LEVEQUEDARC",
		"  zoé  ":         "ZOE",
		"Œdipe Ærø":       "OEDIPEAERO",
		"Müller-Weiß":     "MULLERWEISS",
		"Ñúñez 2":         "NUNEZ",
		"O'Connor":        "OCONNOR",
		"Łukasz Đorđević": "LUKASZDORDEVIC",
		"":                "",
	} {
		if got := normaliseName(in); got != want {
			t.Errorf("normaliseName(%q) = %q, want %q", in, got, want)
		}
	}
}

// A family's first case links to that relative's own records.
func TestFirstCaseLinksToRelative(t *testing.T) {
	p := testPseudonymiser(t, Options{})
	relative := header()
	relative.Patient.IPP = []sdmmr.ID{{Root: "1.2.3.4.567.8.9.10", Extension: "REL42"}}
	rr, err := p.Record(extracted(relative, sdmmr.Body{}))
	if err != nil {
		t.Fatal(err)
	}
	b := sdmmr.Body{FamilyHistory: []sdmmr.FamilyHistory{{FirstCaseID: &sdmmr.ID{Root: "1.2.3.4.567.8.9.10", Extension: "REL42"}, FirstCaseSex: "M", DiseaseText: "Dupont's cousin"}}}
	r, err := p.Record(extracted(header(), b))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.FamilyHistory) != 1 || r.FamilyHistory[0].FirstCaseKey != rr.IPPKeys[0] {
		t.Errorf("first case key %+v, relative's IPP key %v", r.FamilyHistory, rr.IPPKeys)
	}
	if j, _ := json.Marshal(r); strings.Contains(string(j), "Dupont") || strings.Contains(string(j), "REL42") {
		t.Errorf("free text or id in the record: %s", j)
	}
}

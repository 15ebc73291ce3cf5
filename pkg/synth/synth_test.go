package synth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/cda"
	"github.com/bndmr/hub/pkg/cisis"
	"github.com/bndmr/hub/pkg/cisis/cisistest"
	"github.com/bndmr/hub/pkg/mailbuild"
	"github.com/bndmr/hub/pkg/mssante"
	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/xmldoc"
)

func TestGeneratedMailsAreValidAndCarryTheirIdentity(t *testing.T) {
	ctx := context.Background()
	eng := cisistest.Engine(t)
	g := testGenerator(t, Options{Seed: 7})
	seen := map[string]bool{}
	for i := 0; i < 40; i++ {
		mail, want := nextUnpacked(t, g)
		if len(mail.Documents) != 1 {
			t.Fatalf("%s: %d documents", want.File, len(mail.Documents))
		}
		d := mail.Documents[0]
		if !strings.HasPrefix(d.PatientID, want.INS+"^^^") {
			t.Errorf("%s: METADATA patientId %q does not carry INS %s", want.File, d.PatientID, want.INS)
		}
		doc, err := xmldoc.Parse(d.Data, xmldoc.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := eng.Validate(ctx, doc, cisis.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Valid {
			t.Errorf("%s (from %s) is not valid: %+v", want.File, want.Example, rep.Failures())
		}
		h, err := cda.ExtractHeader(doc)
		if err != nil {
			t.Fatal(err)
		}
		doc.Free()
		got := [...]string{h.SetID, h.DocumentID, h.FINESS, h.Patient.INS, h.Patient.BirthFamily, h.Patient.BirthGiven, h.Patient.BirthTime, h.Patient.ResidenceCode}
		exp := [...]string{want.SetID, want.DocumentID, want.FINESS, want.INS, want.Family, want.Given, want.BirthTime, want.Residence.Code}
		if got != exp || h.VersionNumber != want.VersionNumber {
			t.Errorf("%s: header %v v%d, want %v v%d", want.File, got, h.VersionNumber, exp, want.VersionNumber)
		}
		key := want.SetID + "/" + string(rune('0'+want.VersionNumber))
		if seen[key] {
			t.Errorf("%s: set %s version %d generated twice", want.File, want.SetID, want.VersionNumber)
		}
		seen[key] = true
	}
}

func TestSameSeedSameMails(t *testing.T) {
	a := testGenerator(t, Options{Seed: 3})
	b := testGenerator(t, Options{Seed: 3})
	c := testGenerator(t, Options{Seed: 4})
	for i := 0; i < 5; i++ {
		ma, _, _ := a.Next()
		mb, _, _ := b.Next()
		mc, _, _ := c.Next()
		if string(ma) != string(mb) {
			t.Fatalf("mail %d differs for the same seed", i)
		}
		if string(ma) == string(mc) {
			t.Fatalf("mail %d is the same for two seeds", i)
		}
	}
}

// TestInvalidDocumentsAreRefused: with InvalidRate, that share of the
// documents really fails the CI-SIS validation, on the check named, and
// the others pass.
func TestInvalidDocumentsAreRefused(t *testing.T) {
	ctx := context.Background()
	eng := cisistest.Engine(t)
	const n, rate = 60, 0.05
	g := testGenerator(t, Options{Seed: 11, InvalidRate: rate})
	kinds := map[string]int{}
	for i := 0; i < n; i++ {
		mail, want := nextUnpacked(t, g)
		doc, err := xmldoc.Parse(mail.Documents[0].Data, xmldoc.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := eng.Validate(ctx, doc, cisis.Options{})
		doc.Free()
		if err != nil {
			t.Fatal(err)
		}
		if rep.Valid != want.Accepted() {
			t.Errorf("%s (invalid %q): valid %v", want.File, want.Invalid, rep.Valid)
			continue
		}
		if want.Invalid == "" {
			continue
		}
		kinds[want.Invalid]++
		// The failure is the one intended, not another.
		xsd, sch := len(rep.XSDErrors), 0
		for _, s := range rep.Schematrons {
			sch += len(s.Failures)
		}
		if (want.Invalid == InvalidXSD) != (xsd > 0 && sch == 0) || (want.Invalid == InvalidSchematron) != (sch > 0 && xsd == 0) {
			t.Errorf("%s (invalid %q): %d XSD and %d schematron failures: %+v", want.File, want.Invalid, xsd, sch, rep.Failures())
		}
	}
	if got := kinds[InvalidXSD] + kinds[InvalidSchematron]; got != int(n*rate) || kinds[InvalidXSD] == 0 || kinds[InvalidSchematron] == 0 {
		t.Errorf("invalid documents %v out of %d, want %d of both kinds", kinds, n, int(n*rate))
	}
}

// TestHostileMailsAreRefused: each hostile kind is refused whole by the
// unpacker with its own rejection code.
func TestHostileMailsAreRefused(t *testing.T) {
	ctx := context.Background()
	g := testGenerator(t, Options{Seed: 12, HostileRate: 0.25, NotifyTo: "hospital@chu.test", MessageIDTag: "run7"})
	got := map[string]int{}
	for i := 0; i < 24; i++ {
		raw, want, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(want.MessageID, "<run7.12.") || !strings.Contains(string(raw), "Disposition-Notification-To: hospital@chu.test") {
			t.Errorf("%s: Message-ID %s, or no acknowledgement asked to hospital@chu.test", want.File, want.MessageID)
		}
		_, err = mssante.Unpack(ctx, raw, mssante.DefaultLimits())
		var rej *mssante.RejectError
		switch {
		case want.Hostile == "" && err != nil:
			t.Errorf("%s: a plain mail refused: %v", want.File, err)
		case want.Hostile == "":
		case !errors.As(err, &rej) || rej.Code != want.Hostile:
			t.Errorf("%s: hostile %s, unpacked with %v", want.File, want.Hostile, err)
		default:
			got[want.Hostile]++
		}
	}
	for _, k := range HostileKinds {
		if got[k] != 2 {
			t.Errorf("%d mails refused with %s, want 2 (24 mails, rate 1/4, %d kinds in turn): %v", got[k], k, len(HostileKinds), got)
		}
	}
	if _, err := HostileMail("virus", mailbuild.MailSpec{From: "a@b.test", To: "c@d.test"}, nil); err == nil {
		t.Error("an unknown hostile kind was built")
	}
}

// TestORPHACodesAreSkewed: a few diseases gather most files, the tail is
// long, every code is a listed one, and each file keeps its disease.
func TestORPHACodesAreSkewed(t *testing.T) {
	g := testGenerator(t, Options{Seed: 13})
	// Drawing only: building 2000 documents would take seconds for nothing.
	const n = 20000
	count := map[string]int{}
	for range n {
		count[g.disease().Code]++
	}
	freq := make([]int, len(Diseases))
	for k, d := range Diseases {
		freq[k] = count[d.Code]
		delete(count, d.Code)
	}
	if len(count) != 0 {
		t.Errorf("codes drawn outside Diseases: %v", count)
	}
	top3 := freq[0] + freq[1] + freq[2]
	last10 := 0
	for _, f := range freq[len(freq)-10:] {
		last10 += f
	}
	// 1/k over 35 codes: the first three about 44 %, the last ten about 8 %.
	if top3 < n*38/100 || last10 > n*12/100 || freq[0] < 10*freq[len(freq)-1] || freq[len(freq)-1] == 0 {
		t.Errorf("not a Zipf-like skew: first three %d, last ten %d of %d; frequencies %v", top3, last10, n, freq)
	}

	// In the documents: each set's versions carry the same disease and centre.
	bySet := map[string][2]string{}
	for i := 0; i < 30; i++ {
		raw, d, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), "IHE_XDM.zip") || d.ORPHA == "" || d.Centre == "" {
			t.Fatalf("%s: no ORPHA code or centre: %+v", d.File, d)
		}
		if prev, ok := bySet[d.SetID]; ok && prev != [2]string{d.ORPHA, d.Centre} {
			t.Errorf("set %s changed disease or centre: %v then %s %s", d.SetID, prev, d.ORPHA, d.Centre)
		}
		bySet[d.SetID] = [2]string{d.ORPHA, d.Centre}
	}
}

// TestCentresListSilentCentres: the labelled-centre list reads as `bndmrctl
// import centres` reads it, names every centre the documents name, and
// some that no document names.
func TestCentresListSilentCentres(t *testing.T) {
	var b strings.Builder
	if err := WriteCentresCSV(&b); err != nil {
		t.Fatal(err)
	}
	cs, err := store.ParseCentresCSV(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	labelled := map[string]string{}
	for _, c := range cs {
		labelled[c.CentreID] = c.FINESS
	}
	g := testGenerator(t, Options{Seed: 14})
	named := map[string]bool{}
	for i := 0; i < 150; i++ {
		_, d, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		if labelled[d.Centre] != d.FINESS {
			t.Errorf("%s: centre %s of %s is not labelled for it", d.File, d.Centre, d.FINESS)
		}
		named[d.Centre] = true
	}
	var silent []string
	for id := range labelled {
		if !named[id] {
			silent = append(silent, id)
		}
	}
	if len(silent) < 3 || len(named) < len(labelled)/2 {
		t.Errorf("%d labelled centres, %d named by 150 documents, never named: %v", len(labelled), len(named), silent)
	}
	for _, c := range Centres {
		if c.Silent && named[c.ID] {
			t.Errorf("silent centre %s was named", c.ID)
		}
	}
	var e strings.Builder
	if err := WriteEstablishmentsCSV(&e); err != nil {
		t.Fatal(err)
	}
	if es, err := store.ParseEstablishmentsCSV(strings.NewReader(e.String())); err != nil || len(es) != len(Establishments) {
		t.Errorf("establishments CSV: %d rows, %v", len(es), err)
	}
}

// testGenerator is New with opts, on the CI-SIS kit when opts names none.
func testGenerator(t *testing.T, opts Options) *Generator {
	t.Helper()
	if opts.Kit == "" {
		opts.Kit = cisistest.KitDir(t)
	}
	g, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// nextUnpacked is g's next mail, unpacked, and what the generator says of
// it; a mail the unpacker refuses fails the test.
func nextUnpacked(t *testing.T, g *Generator) (*mssante.Mail, Document) {
	t.Helper()
	raw, want, err := g.Next()
	if err != nil {
		t.Fatal(err)
	}
	mail, err := mssante.Unpack(context.Background(), raw, mssante.DefaultLimits())
	if err != nil {
		t.Fatalf("%s: %v", want.File, err)
	}
	return mail, want
}

package synth

import (
	"context"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/cda"
	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/mssante"
	"github.com/bndmr/hub/pkg/validate"
	"github.com/bndmr/hub/pkg/xmldoc"
)

func TestGeneratedMailsAreValidAndCarryTheirIdentity(t *testing.T) {
	dir, err := kit.Dir()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eng, err := validate.Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Seed: 7, Kit: dir})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 40; i++ {
		raw, want, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		mail, err := mssante.Unpack(ctx, raw, mssante.DefaultLimits())
		if err != nil {
			t.Fatalf("%s: %v", want.File, err)
		}
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
		rep, err := eng.Validate(ctx, doc, validate.Options{})
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
	dir, err := kit.Dir()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := New(Options{Seed: 3, Kit: dir})
	b, _ := New(Options{Seed: 3, Kit: dir})
	c, _ := New(Options{Seed: 4, Kit: dir})
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

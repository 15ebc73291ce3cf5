// Package synthtest gives end-to-end tests the mails they send: synthetic
// submissions re-addressed to the test's hospital mailbox, and the CI-SIS
// kit's conformance documents in an XDM mail. Test support: only _test.go
// files import it.
package synthtest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/bndmr/hub/pkg/cisis/cisistest"
	"github.com/bndmr/hub/pkg/mailbuild"
	"github.com/bndmr/hub/pkg/synth"
)

// Refused is a conformance document of the kit that conforms to the XSD and
// breaks an IHE rule: the hub refuses it with CI-SIS code 906.
const Refused = "SDM-MR_2024.01_nouveau-ne__m1_002.xml"

// Generator is the synthetic-mail generator of the kit with seed.
func Generator(t testing.TB, seed uint64) *synth.Generator {
	t.Helper()
	g, err := synth.New(synth.Options{Seed: seed, Kit: cisistest.KitDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Next is g's next mail, sent by from under messageID instead of the ones
// it was generated with (so that its MDN reaches the test's mailbox and is
// known by its id).
func Next(t testing.TB, g *synth.Generator, from, messageID string) []byte {
	t.Helper()
	m, d, err := g.Next()
	if err != nil {
		t.Fatal(err)
	}
	m = bytes.ReplaceAll(m, []byte(d.From), []byte(from))
	return bytes.Replace(m, []byte(d.MessageID), []byte(messageID), 1)
}

// KitMail is the kit's conformance document name (conformance/docs) alone
// in the XDM of a mail from from to to, under messageID, asking from for
// an MDN.
func KitMail(t testing.TB, name, from, to, messageID string) []byte {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(cisistest.KitDir(t), "conformance", "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	xdm, err := mailbuild.BuildXDM(mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: doc}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := mailbuild.BuildMail(mailbuild.MailSpec{From: from, To: to, MessageID: messageID,
		DispositionNotificationTo: from, ReturnPath: from, XDM: xdm})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

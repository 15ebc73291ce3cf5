package chaos

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/mailbuild"
	"github.com/bndmr/hub/pkg/mssante"
	"github.com/bndmr/hub/pkg/synth"
)

// mailSet is the set every case delivers: the same documents in every case
// (same seed, same pseudonyms, so the same ClickHouse keys), with
// Message-IDs of the case, so that the ingest content keys and the MDN
// records of an earlier case do not apply.
type mailSet struct {
	mails [][]byte
	// ids: one per distinct mail (a duplicate repeats an id).
	ids                                  []string
	valid, rejected, duplicates, hostile int
}

const (
	hospital = "hospital@chu.test"
	hubAddr  = "hub@bndmr.test"
)

// buildMails makes n valid synthetic mails, refused documents, byte-identical
// duplicates and hostile mails (zip bomb, path traversal, not MIME).
func buildMails(t testing.TB, tag string, n int, seed uint64) mailSet {
	t.Helper()
	kitDir, err := kit.Dir()
	if err != nil {
		t.Fatal(err)
	}
	g, err := synth.New(synth.Options{Seed: seed, Kit: kitDir})
	if err != nil {
		t.Fatal(err)
	}
	var s mailSet
	add := func(m []byte, id string) { s.mails, s.ids = append(s.mails, m), append(s.ids, id) }
	for i := 0; i < n; i++ {
		m, d, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("<chaos.%s.%d@chu.test>", tag, i)
		m = bytes.ReplaceAll(m, []byte(d.From), []byte(hospital))
		m = bytes.Replace(m, []byte(d.MessageID), []byte(id), 1)
		add(m, id)
	}
	s.valid = n
	build := func(id string, x mailbuild.XDM) []byte {
		xdm, err := mailbuild.BuildXDM(x)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mailbuild.BuildMail(mailbuild.MailSpec{From: hospital, To: hubAddr, MessageID: id,
			DispositionNotificationTo: hospital, ReturnPath: hospital, XDM: xdm})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// Refused documents: mutations of the CI-SIS conformance set.
	for i, f := range []string{"SDM-MR_2024.01_nouveau-ne__m1_002.xml", "SDM-MR_2021.01__m1_005.xml", "SDM-MR_2021.01__m1_050.xml",
		"SDM-MR_2021.01__m1_100.xml", "SDM-MR_2021.01__m1_140.xml"} {
		doc, err := os.ReadFile(filepath.Join(kitDir, "conformance", "docs", f))
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("<chaos.%s.ko%d@chu.test>", tag, i)
		add(build(id, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: doc}}}), id)
		s.rejected++
	}
	// Hostile mails (zip bomb, path traversal, not MIME), as the generator makes them.
	doc, err := os.ReadFile(filepath.Join(kitDir, "conformance", "docs", "SDM-MR_2024.01_nouveau-ne__m1_002.xml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct{ kind, name string }{{mssante.CodeZipBomb, "bomb"}, {mssante.CodePathTraversal, "traversal"},
		{mssante.CodeUnreadableMIME, "notmime"}} {
		id := fmt.Sprintf("<chaos.%s.%s@chu.test>", tag, k.name)
		m, err := synth.HostileMail(k.kind, mailbuild.MailSpec{From: hospital, To: hubAddr, MessageID: id,
			DispositionNotificationTo: hospital, ReturnPath: hospital}, doc)
		if err != nil {
			t.Fatal(err)
		}
		add(m, id)
	}
	s.hostile = 3
	// Byte-identical duplicates of the first valid mails, delivered last.
	dups := min(10, n)
	for i := 0; i < dups; i++ {
		s.mails = append(s.mails, s.mails[i])
	}
	s.duplicates = dups
	return s
}

// distinct are the Message-IDs of the set, once each.
func (s mailSet) distinct() []string { return s.ids }

func (s mailSet) String() string {
	return fmt.Sprintf("%d mails: %d valid, %d refused documents, %d hostile, %d byte-identical duplicates",
		len(s.mails), s.valid, s.rejected, s.hostile, s.duplicates)
}

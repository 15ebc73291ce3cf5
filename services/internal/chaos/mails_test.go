package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/bndmr/hub/pkg/cisis/cisistest"
	"github.com/bndmr/hub/pkg/mailbuild"
	"github.com/bndmr/hub/pkg/mssante"
	"github.com/bndmr/hub/pkg/synth"
	"github.com/bndmr/hub/pkg/synth/synthtest"
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
	g := synthtest.Generator(t, seed)
	var s mailSet
	add := func(m []byte, id string) { s.mails, s.ids = append(s.mails, m), append(s.ids, id) }
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("<chaos.%s.%d@chu.test>", tag, i)
		add(synthtest.Next(t, g, hospital, id), id)
	}
	s.valid = n
	// Refused documents: mutations of the CI-SIS conformance set.
	for i, f := range []string{synthtest.Refused, "SDM-MR_2021.01__m1_005.xml", "SDM-MR_2021.01__m1_050.xml",
		"SDM-MR_2021.01__m1_100.xml", "SDM-MR_2021.01__m1_140.xml"} {
		id := fmt.Sprintf("<chaos.%s.ko%d@chu.test>", tag, i)
		add(synthtest.KitMail(t, f, hospital, hubAddr, id), id)
		s.rejected++
	}
	// Hostile mails (zip bomb, path traversal, not MIME), as the generator makes them.
	doc, err := os.ReadFile(filepath.Join(cisistest.KitDir(t), "conformance", "docs", synthtest.Refused))
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

// Package rotation tests a key rotation of the pseudonymisation end to end:
// pseudonymiser, store and indicators (docs/operations.md, "Key rotation").
package rotation

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/cisis/cisistest"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/indicators"
	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/store/storetest"
	"github.com/bndmr/hub/pkg/synth"
	"github.com/bndmr/hub/pkg/validator"
	"github.com/bndmr/hub/pseudonymisation"
)

const mails = 120

// TestRotationKeepsFigures: a stream of versions is loaded twice, once under
// one key throughout, once with the key rotated in its middle: a third under
// the old key, a third while the rotation runs (records carry both keys'
// pseudonyms), a third under the new key alone, then the rotation is
// finished (bndmrctl rotation finish). During the rotation and after its
// end, the patient counts, the ORPHA prevalences (every epidemiology table)
// and MR.2 are those of the run without rotation, and no patient is left
// under the old key but those never seen again.
func TestRotationKeepsFigures(t *testing.T) {
	ctx := context.Background()
	exts := extractions(t)
	secretA, secretB := secret(t), secret(t)
	keyring := func(keys ...*pseudonymisation.Key) *pseudonymisation.Keyring {
		kr, err := pseudonymisation.NewKeyring(keys...)
		if err != nil {
			t.Fatal(err)
		}
		return kr
	}
	key := func(id string, s []byte, primary bool) *pseudonymisation.Key {
		k, err := pseudonymisation.NewKey(id, s, primary)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	onlyA := pseudonymisation.New(keyring(key("key-a", secretA, true)), pseudonymisation.Options{})
	rotating := pseudonymisation.New(keyring(key("key-b", secretB, true), key("key-a", secretA, false)), pseudonymisation.Options{Rotation: true})
	onlyB := pseudonymisation.New(keyring(key("key-b", secretB, true)), pseudonymisation.Options{})

	// The phases. A version of the last third whose patient was seen in
	// the first but not during the rotation moves into the rotation: a
	// patient absent for the whole rotation cannot be re-linked
	// (docs/operations.md says how long a rotation lasts for that reason).
	n := len(exts)
	phase := make([]int, n)
	seen := [3]map[string]bool{{}, {}, {}}
	patient := func(e events.Extracted) string { r, _ := onlyA.Record(e); return store.PatientKey(&r) }
	for i, e := range exts {
		phase[i] = min(3*i/n, 2)
		if phase[i] == 2 && seen[0][patient(e)] && !seen[1][patient(e)] {
			phase[i] = 1
		}
		if p := patient(e); p != "" { // not under opposition
			seen[phase[i]][p] = true
		}
	}
	moved := 0
	for i := range exts {
		if phase[i] == 1 && 3*i/n == 2 {
			moved++
		}
	}
	both := 0
	for p := range seen[0] {
		if seen[1][p] {
			both++
		}
	}
	t.Logf("%d documents; %d patients before the rotation, %d during it (%d of them seen before), %d after; %d versions moved into the rotation",
		n, len(seen[0]), len(seen[1]), both, len(seen[2]), moved)
	if both == 0 {
		t.Fatal("no patient seen both before and during the rotation: the scenario tests nothing")
	}

	load := func(s *store.Store, p *pseudonymisation.Pseudonymiser, which func(int) bool) {
		t.Helper()
		var recs []events.Record
		for i, e := range exts {
			if !which(i) {
				continue
			}
			r, err := p.Record(e)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
		if err := s.InsertDocuments(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	upTo := func(k int) func(int) bool { return func(i int) bool { return phase[i] <= k } }
	in := func(k int) func(int) bool { return func(i int) bool { return phase[i] == k } }

	ref, rot := testStore(t, "ref"), testStore(t, "rot")
	// During the rotation: the same figures as without.
	load(ref, onlyA, upTo(1))
	load(rot, onlyA, in(0))
	load(rot, rotating, in(1))
	same(t, "during the rotation", figures(t, ref), figures(t, rot))

	// The new key alone, then the end of the rotation.
	load(ref, onlyA, in(2))
	load(rot, onlyB, in(2))
	rep, err := rot.FinishRotation(ctx, "key-a", "key-b", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("finish: links %v, %d mutations, %d documents (%d patients) left under key-a, in %s", rep.Links, rep.Mutations, rep.StillOld, rep.Unlinked, rep.FinishedIn)
	same(t, "after the rotation", figures(t, ref), figures(t, rot))
	if rep.Links[store.LinkPatient] != len(seen[1]) {
		t.Errorf("%d patient links, want one per patient seen during the rotation (%d)", rep.Links[store.LinkPatient], len(seen[1]))
	}
	// Left under the old key: exactly the patients never seen again.
	gone := 0
	for p := range seen[0] {
		if !seen[1][p] && !seen[2][p] {
			gone++
		}
	}
	if rep.Unlinked != uint64(gone) {
		t.Errorf("%d patients left under key-a, want the %d seen only before the rotation", rep.Unlinked, gone)
	}
	// Finishing again changes nothing.
	rep2, err := rot.FinishRotation(ctx, "key-a", "key-b", "")
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Unlinked != rep.Unlinked || rep2.StillOld != rep.StillOld {
		t.Errorf("second finish: %d/%d left under key-a, first %d/%d", rep2.StillOld, rep2.Unlinked, rep.StillOld, rep.Unlinked)
	}
	same(t, "after finishing twice", figures(t, ref), figures(t, rot))

	// The links go; the figures stay.
	if err := rot.ForgetLinks(ctx, "key-a", "key-b", ""); err != nil {
		t.Fatal(err)
	}
	rep3, err := rot.FinishRotation(ctx, "key-a", "key-b", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep3.Links) != 0 || rep3.Mutations != 0 {
		t.Errorf("after forget: links %v, %d mutations, want none", rep3.Links, rep3.Mutations)
	}
	same(t, "after forgetting the links", figures(t, ref), figures(t, rot))
}

// figures is what must not move: every epidemiology table and statistic
// (patient counts, ORPHA prevalences) without suppression, and MR.2 over
// the whole window for every establishment.
func figures(t *testing.T, s *store.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	x := indicators.New(s)
	out := map[string]string{}
	epi, err := x.Epidemiology(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range epi.Tables {
		b, _ := json.Marshal(tb)
		out["epi "+tb.Title] = string(b)
	}
	b, _ := json.Marshal(epi.Stats)
	out["epi stats"] = string(b)
	mr2, err := x.MR2(ctx, indicators.Period{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}, "")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(mr2)
	out["mr2"] = string(b)
	if len(epi.Tables) == 0 || len(mr2) == 0 {
		t.Fatalf("no figures: %d epidemiology tables, %d MR.2 rows", len(epi.Tables), len(mr2))
	}
	return out
}

func same(t *testing.T, when string, want, got map[string]string) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s, %s:\nwithout rotation %s\nwith rotation    %s", when, k, w, got[k])
		}
	}
}

// extractions validates a synthetic stream of mails and returns its
// accepted documents, in order.
func extractions(t *testing.T) []events.Extracted {
	t.Helper()
	ctx := context.Background()
	kitDir := cisistest.KitDir(t)
	eng := cisistest.Engine(t)
	v := validator.New(validator.Config{}, eng, zap.NewNop(), nil)
	g, err := synth.New(synth.Options{Seed: 21, Kit: kitDir, End: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC), Months: 6})
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Extracted
	for i := 0; i < mails; i++ {
		raw, _, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(fmt.Sprint("rotation", i)))
		m := events.MailRaw{V: events.MailRawV, MailID: hex.EncodeToString(sum[:]), Mailbox: "hub@bndmr.test", UID: uint32(i + 1),
			ReceivedAt: time.Date(2026, 9, 15, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * 17 * time.Minute)}
		res, err := v.Check(ctx, m, raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Extracted...)
	}
	return out
}

func secret(t *testing.T) []byte {
	b := make([]byte, pseudonymisation.KeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// testStore opens a fresh, migrated database on the ClickHouse that `make
// up` started (BNDMR_TEST_CLICKHOUSE).
func testStore(t *testing.T, name string) *store.Store {
	return storetest.Store(t, "test_rotation_"+name)
}

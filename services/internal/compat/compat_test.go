package compat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/chcompat"
	"github.com/bndmr/hub/pkg/cisis/cisistest"
	"github.com/bndmr/hub/pkg/events"
	figs "github.com/bndmr/hub/pkg/figures"
	"github.com/bndmr/hub/pkg/indicators"
	"github.com/bndmr/hub/pkg/mailbuild"
	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/store/storetest"
	"github.com/bndmr/hub/pkg/synth"
	"github.com/bndmr/hub/pkg/validator"
	"github.com/bndmr/hub/pseudonymisation"
)

// mails is the size of the load: enough for every establishment and month
// of the window to have versions, rejections and sets seen more than once.
const mails = 150

// mutatedMails carry a document of the kit's conformance set each.
const mutatedMails = 8

func TestCompatibilityEndToEnd(t *testing.T) {
	s := testStore(t)
	srv, err := chcompat.ServerFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	w := load(t, s)
	t.Logf("%d mails validated, pseudonymised and loaded into ClickHouse 18.16 in %v", mails, time.Since(start).Round(time.Millisecond))

	e := chcompat.OpenEngine(t, srv, "../../..")
	p := &chcompat.Pair{Server: srv, Engine: e, DB: s.Database()}
	chcompat.Check(t, p, w, append(store.Statements(), indicators.Statements()...), 120)
}

// load runs synthetic mails through the validator and the pseudonymisation
// and writes what the loader would: receipts, records, and the reference
// data an operator imports (centres named by the documents, and one that
// sends nothing; establishments, one with a start of transmission; a
// declared count).
func load(t *testing.T, s *store.Store) chcompat.Window {
	t.Helper()
	ctx := context.Background()
	kitDir := cisistest.KitDir(t)
	eng := cisistest.Engine(t)
	v := validator.New(validator.Config{}, eng, zap.NewNop(), nil)
	keyFile := filepath.Join(t.TempDir(), "key.json")
	if err := pseudonymisation.WriteKeyFile(keyFile, "compat-key"); err != nil {
		t.Fatal(err)
	}
	keys, err := pseudonymisation.LoadKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ps := pseudonymisation.New(keys, pseudonymisation.Options{})
	end := time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)
	g, err := synth.New(synth.Options{Seed: 18, Kit: kitDir, End: end, Months: 6})
	if err != nil {
		t.Fatal(err)
	}
	received := time.Date(2026, 9, 15, 9, 0, 0, 0, time.UTC)
	var recs []events.Record
	var outs []events.MailOutcome
	rejecting := "" // an establishment with rejected documents: the reception report's
	for i := 0; i < mails; i++ {
		raw, _, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		if i%25 == 7 {
			raw = raw[:len(raw)/3] // a truncated mail: rejected
		}
		sum := sha256.Sum256([]byte(fmt.Sprint("compat", i)))
		m := events.MailRaw{V: events.MailRawV, MailID: hex.EncodeToString(sum[:]), Mailbox: "hub@bndmr.test",
			UID: uint32(i + 1), ReceivedAt: received.Add(time.Duration(i) * 17 * time.Minute)}
		res, err := v.Check(ctx, m, raw)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, res.Outcome)
		if i%10 == 3 && len(res.Outcome.Documents) == 1 && res.Outcome.Documents[0].Accepted {
			// The same document sent the day before and rejected: the
			// hospital fixed it and sent it again.
			rej := res.Outcome
			rej.MailID += "-rejected"
			rej.ReceivedAt = rej.ReceivedAt.Add(-24 * time.Hour)
			d := rej.Documents[0]
			d.Accepted = false
			d.Rejection = &events.Rejection{Code: []string{"schematron", "xsd", "ins_mismatch"}[i%3], CISIS: 906, Reason: "synthétique"}
			rej.Documents = []events.DocumentOutcome{d}
			outs = append(outs, rej)
			if rejecting == "" {
				rejecting = d.FINESS
			}
		}
		for _, ext := range res.Extracted {
			r, err := ps.Record(ext)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
	}
	// Documents of the kit's conformance set, each changed to break one
	// rule: refused with the rules they fail (the acknowledgement's and the
	// reception report's text, the analysts' refusals by rule).
	mutated, err := filepath.Glob(filepath.Join(kitDir, "conformance", "docs", "SDM-MR_2024.01_*__m1_*.xml"))
	if err != nil || len(mutated) < mutatedMails {
		t.Fatalf("the kit's conformance set has %d mutated SDM-MR 2024.01 documents (%v)", len(mutated), err)
	}
	sort.Strings(mutated)
	for i, f := range mutated[:mutatedMails] {
		cdaBytes, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		xdm, err := mailbuild.BuildXDM(mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cdaBytes}}})
		if err != nil {
			t.Fatal(err)
		}
		from := "dpi@" + synth.Establishments[i%len(synth.Establishments)].Domain
		raw, err := mailbuild.BuildMail(mailbuild.MailSpec{From: from, To: "hub@bndmr.test", DispositionNotificationTo: from, XDM: xdm})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(fmt.Sprint("compat-mutated", i)))
		res, err := v.Check(ctx, events.MailRaw{V: events.MailRawV, MailID: hex.EncodeToString(sum[:]), Mailbox: "hub@bndmr.test",
			UID: uint32(mails + i + 1), ReceivedAt: received.Add(time.Duration(i) * 13 * time.Minute)}, raw)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, res.Outcome)
		for _, ext := range res.Extracted {
			r, err := ps.Record(ext)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
	}
	// Twice, as a redelivery would: no figure may change. Through the
	// loader's path, which keeps the figures.
	kept := figs.NewKeeper(s)
	for range 2 {
		if err := kept.WriteReceipts(ctx, outs); err != nil {
			t.Fatal(err)
		}
		if err := kept.Write(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	if len(recs) < mails/2 {
		t.Fatalf("only %d of %d mails accepted: the load does not look like the hub's", len(recs), mails)
	}
	sites := map[string]string{}
	for _, r := range recs {
		for _, c := range r.CareEpisodes {
			if c.SiteCode != "" {
				sites[c.SiteCode] = r.FINESS
			}
		}
		for _, d := range r.Diagnoses {
			if d.SiteCode != "" {
				sites[d.SiteCode] = r.FINESS
			}
		}
	}
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	fin := synth.Establishments[0].FINESS
	centres := []store.Centre{{FINESS: fin, CentreID: "SILENT", Filiere: "F0", Type: "competence", From: day("2020-01-01"), To: day("2030-12-31")}}
	codes := make([]string, 0, len(sites))
	for c := range sites {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for i, c := range codes {
		centres = append(centres, store.Centre{FINESS: sites[c], CentreID: c, Filiere: fmt.Sprintf("F%d", i%3+1),
			Type: []string{"coordonnateur", "constitutif", "competence"}[i%3], From: day("2020-01-01"), To: day("2030-12-31")})
	}
	if err := s.InsertCentres(ctx, centres); err != nil {
		t.Fatal(err)
	}
	// The import asked for a recount, which the loader does before its
	// next batch.
	if err := kept.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	var ests []store.Establishment
	for i, e := range synth.Establishments {
		est := store.Establishment{FINESS: e.FINESS, Name: e.Name}
		if i == 1 {
			est.TransmissionStart = day("2026-07-01")
		}
		ests = append(ests, est)
	}
	if err := s.InsertEstablishments(ctx, ests); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertDPIUpdates(ctx, "csv", []store.DPIUpdates{{FINESS: fin, Month: day("2026-09-01"), Count: 40}}); err != nil {
		t.Fatal(err)
	}
	return chcompat.Window{From: day("2026-05-01"), To: day("2026-10-01"), FINESS: rejecting}
}

// testStore opens a fresh, migrated database on the ClickHouse that `make up`
// started (BNDMR_TEST_CLICKHOUSE).
func testStore(t *testing.T) *store.Store { return storetest.Store(t, "test_compat") }

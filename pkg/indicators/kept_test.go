package indicators

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/events"
	figs "github.com/bndmr/hub/pkg/figures"
	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/store"
)

// keptWriter is the loader's insert path on s: a keeper that has counted s
// as it is (empty, in the tests), so that what the test writes next goes
// through the differences, not through a recount.
func keptWriter(t testing.TB, s *store.Store) *figs.Keeper {
	t.Helper()
	k := figs.NewKeeper(s)
	if err := k.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	return k
}

// keptWorld is files of a few patients and ORPHA codes, at versions 1 to 4
// in any order, some written twice, some under opposition, some moving to
// another patient, in batches of any size.
func keptWorld(rng *rand.Rand) [][]events.Record {
	var recs []events.Record
	for f := range 300 {
		set := fmt.Sprintf("1.2.250.1.999.%d", f)
		patient := fmt.Sprintf("p%02d", rng.Intn(60))
		for v := 1; v <= 4; v++ {
			if rng.Intn(4) == 0 {
				continue // a version never received
			}
			if rng.Intn(10) == 0 {
				patient = fmt.Sprintf("p%02d", rng.Intn(60)) // the identity corrected
			}
			r := events.Record{V: events.RecordV, MailID: fmt.Sprintf("m%d-%d", f, v), FINESS: finA, SetID: set, VersionNumber: v,
				EffectiveTime: fmt.Sprintf("2026%02d10", 6+v), ReceivedAt: time.Now(), PatientTraitsPseudonym: patient, Sex: "F"}
			for range rng.Intn(3) {
				r.Diagnoses = append(r.Diagnoses, sdmmr.RecordDiagnosis{
					Disease: &sdmmr.Code{Code: fmt.Sprint(100 + rng.Intn(8)), System: "1.2.250.1.213.2.49.1"}})
			}
			if rng.Intn(12) == 0 {
				r.Opposition, r.PatientTraitsPseudonym, r.Diagnoses = true, "", nil
			}
			recs = append(recs, r)
			if rng.Intn(8) == 0 {
				recs = append(recs, r) // redelivered
			}
		}
	}
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	var batches [][]events.Record
	for len(recs) > 0 {
		n := min(len(recs), 1+rng.Intn(80))
		batches = append(batches, recs[:n])
		recs = recs[n:]
	}
	return batches
}

// rowsOf runs a statement and returns its rows as text.
func rowsOf(t *testing.T, s *store.Store, st store.Statement, args ...any) []string {
	t.Helper()
	rows, err := s.Query(context.Background(), st, args...)
	if err != nil {
		t.Fatalf("%s: %v", st.Name, err)
	}
	defer rows.Close()
	var out []string
	types := rows.ColumnTypes()
	for rows.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatalf("%s: %v", st.Name, err)
		}
		line := ""
		for _, v := range vals {
			line += fmt.Sprintf("%v|", reflect.ValueOf(v).Elem().Interface())
		}
		out = append(out, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", st.Name, err)
	}
	return out
}

// sameAsHistory wants each kept statement's rows equal to its statement
// over the history, and not empty.
func sameAsHistory(t *testing.T, s *store.Store, when string) {
	t.Helper()
	pairs := [][2]store.Statement{{topORPHA, topORPHAKept}}
	for _, tb := range epiTables {
		if tb.kept != nil {
			pairs = append(pairs, [2]store.Statement{tb.query, tb.kept.query}, [2]store.Statement{tb.total, tb.kept.total})
		}
	}
	for _, p := range pairs {
		var args []any
		if p[0] == topORPHA {
			args = []any{uint64(1), 1000}
		}
		history, kept := rowsOf(t, s, p[0], args...), rowsOf(t, s, p[1], args...)
		if len(history) == 0 {
			t.Fatalf("%s: %s gave no row", when, p[0].Name)
		}
		if !reflect.DeepEqual(history, kept) {
			t.Errorf("%s: %s gives\n%v\nwhere %s gives\n%v", when, p[1].Name, kept, p[0].Name, history)
		}
	}
}

// TestKeptFiguresMatchHistory: the figures kept batch by batch, counted
// again by a new keeper, and counted again on request give the rows of the
// statements that read the whole history.
func TestKeptFiguresMatchHistory(t *testing.T) {
	ctx := context.Background()
	s := testStore(t)
	k := keptWriter(t, s)
	batches := keptWorld(rand.New(rand.NewSource(2026)))
	gen := k.Generation()
	for _, b := range batches[:len(batches)/2] {
		if err := k.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	sameAsHistory(t, s, "half the batches")
	if k.Generation() != gen {
		t.Fatalf("the keeper counted again (generation %d -> %d): the differences were not tested", gen, k.Generation())
	}

	// A second loader takes over: it counts everything again under a new
	// generation; the first sees it at its next batch and counts again too.
	k2 := figs.NewKeeper(s)
	if err := k2.Write(ctx, batches[len(batches)/2]); err != nil {
		t.Fatal(err)
	}
	if k2.Generation() <= gen {
		t.Fatalf("the second keeper writes generation %d, not above %d", k2.Generation(), gen)
	}
	sameAsHistory(t, s, "after a second keeper's recount")
	for _, b := range batches[len(batches)/2+1:] {
		if err := k.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if k.Generation() <= k2.Generation() {
		t.Fatalf("the first keeper kept writing generation %d after the second began %d", k.Generation(), k2.Generation())
	}
	sameAsHistory(t, s, "every batch")

	// A rebuild asked for (the end of a key rotation) is done at the next batch.
	before := k.Generation()
	if err := s.RequestFiguresRebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if err := k.Write(ctx, batches[0]); err != nil {
		t.Fatal(err)
	}
	if k.Generation() <= before {
		t.Fatalf("generation %d after a rebuild was asked, was %d", k.Generation(), before)
	}
	sameAsHistory(t, s, "after a rebuild asked for")
	e, err := New(s).Epidemiology(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if e.Tables[0].Total.N == 0 {
		t.Fatal("the epidemiology read no patient per ORPHA code")
	}
}

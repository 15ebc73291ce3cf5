package store_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/chddl"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/store"
)

// currentRows lists, per table, the (set, version) of the rows
// store.CurrentVersions keeps, once each (GROUP BY: DISTINCT with ORDER BY
// returned a pair twice on ClickHouse 18.16, once in CI).
func currentRows(t *testing.T, s *store.Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, tb := range []string{"documents", "diagnoses", "care_episodes", "patients"} {
		rows, err := s.Conn().Query(context.Background(), `SELECT set_id, version_number FROM `+tb+
			` WHERE `+store.CurrentVersions+` GROUP BY set_id, version_number ORDER BY set_id, version_number SETTINGS `+store.DistributedLocal)
		if err != nil {
			t.Fatalf("%s: %v", tb, err)
		}
		for rows.Next() {
			var set string
			var v uint32
			if err := rows.Scan(&set, &v); err != nil {
				t.Fatal(err)
			}
			out[tb] = append(out[tb], fmt.Sprintf("%s v%d", set, v))
		}
		rows.Close()
	}
	return out
}

func versionRecord(set string, v int) events.Record {
	mail := fmt.Sprintf("mail-%s-%d", set, v)
	return events.Record{V: events.RecordV, MailID: mail, FINESS: "750000001", SetID: set, VersionNumber: v,
		EffectiveTime: "20260301", ReceivedAt: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), KeyID: "k", DocumentKey: "dk-" + mail,
		PatientTraitsPseudonym: "pat-" + set, Sex: "F",
		Diagnoses:    []sdmmr.RecordDiagnosis{{Key: "d", Disease: &sdmmr.Code{Code: "558", System: "1.2.250.1.213.2.5"}}},
		CareEpisodes: []sdmmr.RecordCareEpisode{{Key: "c", SiteCode: "S1"}}}
}

// TestCurrentVersions: whatever order the versions of a file arrive in,
// however far apart their numbers, and however often a batch is written,
// the rows kept are those of the file's highest version, in every table
// the epidemiology reads.
func TestCurrentVersions(t *testing.T) {
	ctx := context.Background()
	s := singleDB(t)
	batches := [][]struct {
		set string
		v   int
	}{
		{{"a", 1}, {"a", 2}, {"a", 3}, {"b", 3}, {"f", 1}, {"e", 9}},
		{{"b", 1}, {"c", 5000}, {"e", 9}},             // lower after higher; a batch's record again
		{{"c", 7}, {"c", 4097}, {"d", 1<<24 + 3}},     // below 5000, one in its block, one below it
		{{"d", 2}, {"d", 1 << 25}, {"g", 1<<31 + 5}},  // a super-block above
		{{"g", 1<<31 + 4}, {"g", 4096}, {"g", 70000}}, // all below g's highest
		{{"e", 9}}, // the same again
		{{"h", 4095}, {"h", 4096}, {"i", 8192}, {"i", 4095}}, // block edges
	}
	highest := map[string]int{}
	for _, b := range batches {
		var recs []events.Record
		for _, x := range b {
			recs = append(recs, versionRecord(x.set, x.v))
			highest[x.set] = max(highest[x.set], x.v)
		}
		if err := s.InsertDocuments(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for _, set := range slices.Sorted(maps.Keys(highest)) {
		want = append(want, fmt.Sprintf("%s v%d", set, highest[set]))
	}
	for tb, got := range currentRows(t, s) {
		if !slices.Equal(got, want) {
			t.Errorf("%s: current %v\nwant %v", tb, got, want)
		}
	}
	if n := len(currentRows(t, s)); n != 4 {
		t.Errorf("%d tables have current rows, want 4", n)
	}
}

// A store loaded before migration 0014 has an empty superseded table; the
// migration's back-fill writes what the loader would have written, row for
// row, and the current state and the epidemiology come out the same.
func TestSupersededBackFill(t *testing.T) {
	ctx := context.Background()
	s := singleDB(t)
	recs, _ := generate(12, 400)
	recs = append(recs, versionRecord("far", 4097), versionRecord("far", 2), versionRecord("farther", 1<<24+1<<13+5))
	if err := s.InsertDocuments(ctx, recs); err != nil {
		t.Fatal(err)
	}
	superseded := func() []string {
		rows, err := s.Conn().Query(ctx, `SELECT set_id, level, idx, key FROM superseded GROUP BY set_id, level, idx, key ORDER BY set_id, level, idx`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var set string
			var level uint8
			var idx uint32
			var key uint64
			if err := rows.Scan(&set, &level, &idx, &key); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %d %d %d", set, level, idx, key))
		}
		return out
	}
	loaded, current, epi := superseded(), currentRows(t, s), allEpidemiology(t, s)
	if len(loaded) == 0 {
		t.Fatal("the loader wrote no superseded rows")
	}
	if err := s.Conn().Exec(ctx, "TRUNCATE TABLE superseded"); err != nil {
		t.Fatal(err)
	}
	if allEpidemiology(t, s) == epi {
		t.Fatal("the epidemiology does not change when superseded is empty: it does not read it")
	}
	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	inserts := 0
	for _, m := range ms {
		for _, stmt := range chddl.SplitStatements(m.SQL) {
			if m.Version == 14 && strings.Contains(stmt, "INSERT INTO superseded") {
				if err := s.Conn().Exec(ctx, stmt); err != nil {
					t.Fatalf("migration %s: %v", m.Name, err)
				}
				inserts++
			}
		}
	}
	if inserts != 1 {
		t.Fatalf("%d back-fill statements in migration 0014, want 1", inserts)
	}
	// Not the same rows (the loader names the versions below each version
	// it loads, the back-fill those below each file's highest, at other
	// levels when they are far apart), but the same current state.
	if got := superseded(); len(got) == 0 {
		t.Errorf("the back-fill wrote no rows (the loader wrote %d)", len(loaded))
	}
	if got := currentRows(t, s); !maps.EqualFunc(got, current, slices.Equal) {
		t.Errorf("current state after the back-fill differs from the loader's")
	}
	if got := allEpidemiology(t, s); got != epi {
		t.Errorf("epidemiology after the back-fill differs:\n got %s\nwant %s", got, epi)
	}
}

package figures

import (
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"testing"

	"github.com/bndmr/hub/pkg/store"
)

func v(set string, n uint32, patient string, codes ...string) store.FileVersion {
	return store.FileVersion{SetID: set, Version: n, PatientKey: patient, ORPHACodes: codes}
}

// counts applies versions in order, one batch each, and returns the sum of
// the differences per cell of the ORPHA figures, as a query sums
// figure_counts (the others are compared with the history's statements in
// pkg/indicators, TestKeptFiguresMatchHistory).
func counts(vs ...store.FileVersion) map[string]int64 {
	s, sum := newState(nil, nil), map[string]int64{}
	for _, x := range vs {
		d := map[item]int64{}
		s.apply(x, d)
		for _, fd := range s.deltas(d) {
			if fd.Figure == ORPHA || fd.Figure == ORPHAPatients {
				sum[fd.Figure+"/"+fd.Cell] += fd.Delta
			}
		}
	}
	for c, n := range sum {
		if n == 0 {
			delete(sum, c)
		}
	}
	return sum
}

// direct counts the same from the current versions, as the history query
// does: the highest version of each file, opposition (no patient) out.
func direct(vs ...store.FileVersion) map[string]int64 {
	cur := map[string]store.FileVersion{}
	for _, x := range vs {
		if c, ok := cur[x.SetID]; !ok || x.Version >= c.Version {
			cur[x.SetID] = x
		}
	}
	per := map[string]map[string]bool{}
	for _, x := range cur {
		if x.PatientKey == "" {
			continue
		}
		for _, c := range x.ORPHACodes {
			if per[c] == nil {
				per[c] = map[string]bool{}
			}
			per[c][x.PatientKey] = true
		}
	}
	out := map[string]int64{}
	withCode := map[string]bool{}
	for c, ps := range per {
		out[ORPHA+"/"+c] = int64(len(ps))
		for p := range ps {
			withCode[p] = true
		}
	}
	if len(withCode) > 0 {
		out[ORPHAPatients+"/"] = int64(len(withCode))
	}
	return out
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name string
		vs   []store.FileVersion
		want map[string]int64
	}{
		{"one file", []store.FileVersion{v("s1", 1, "p1", "558", "99")},
			map[string]int64{"orpha/558": 1, "orpha/99": 1, "orpha_patients/": 1}},
		{"a patient counts once per code, whatever its files",
			[]store.FileVersion{v("s1", 1, "p1", "558"), v("s2", 1, "p1", "558")},
			map[string]int64{"orpha/558": 1, "orpha_patients/": 1}},
		{"a new version replaces the codes", []store.FileVersion{v("s1", 1, "p1", "558"), v("s1", 2, "p1", "99")},
			map[string]int64{"orpha/99": 1, "orpha_patients/": 1}},
		{"a lower version arriving late changes nothing", []store.FileVersion{v("s1", 3, "p1", "99"), v("s1", 2, "p1", "558")},
			map[string]int64{"orpha/99": 1, "orpha_patients/": 1}},
		{"the code stays while another file holds it",
			[]store.FileVersion{v("s1", 1, "p1", "558"), v("s2", 1, "p1", "558"), v("s1", 2, "p1")},
			map[string]int64{"orpha/558": 1, "orpha_patients/": 1}},
		{"opposition takes the file out", []store.FileVersion{v("s1", 1, "p1", "558"), v("s1", 2, "")},
			map[string]int64{}},
		{"a version under opposition keeps a late lower one out", []store.FileVersion{v("s1", 2, ""), v("s1", 1, "p1", "558")},
			map[string]int64{}},
		{"a file moving to another patient", []store.FileVersion{v("s1", 1, "p1", "558"), v("s1", 2, "p2", "558")},
			map[string]int64{"orpha/558": 1, "orpha_patients/": 1}},
		{"a batch written twice", []store.FileVersion{v("s1", 1, "p1", "558"), v("s1", 1, "p1", "558")},
			map[string]int64{"orpha/558": 1, "orpha_patients/": 1}},
		{"a patient without code", []store.FileVersion{v("s1", 1, "p1")}, map[string]int64{}},
		{"a code listed twice in a version", []store.FileVersion{v("s1", 1, "p1", "558", "558"), v("s1", 2, "p1")},
			map[string]int64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := counts(tc.vs...); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestApplyAnyOrder: random files, patients, codes and versions, in random
// order and with repeats, give the counts of their current versions.
func TestApplyAnyOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(17))
	for round := range 200 {
		var vs []store.FileVersion
		for range 1 + rng.Intn(60) {
			p := fmt.Sprintf("p%d", rng.Intn(6))
			if rng.Intn(8) == 0 {
				p = ""
			}
			var codes []string
			if p != "" {
				for range rng.Intn(3) {
					codes = append(codes, fmt.Sprint(rng.Intn(5)))
				}
				sort.Strings(codes)
				codes = dedupe(codes)
			}
			vs = append(vs, v(fmt.Sprintf("s%d", rng.Intn(8)), uint32(1+rng.Intn(5)), p, codes...))
		}
		// Versions of one number carry one content, as one document does.
		first := map[string]store.FileVersion{}
		for i, x := range vs {
			k := fmt.Sprint(x.SetID, x.Version)
			if f, ok := first[k]; ok {
				vs[i] = f
			} else {
				first[k] = x
			}
		}
		if got, want := counts(vs...), direct(vs...); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: %v: got %v, want %v", round, vs, got, want)
		}
	}
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

package store

import (
	"math"
	"math/rand/v2"
	"testing"
)

// names says whether the rows name version u: as the queries read them
// (store.CurrentVersions), u's own key at level 0, its block's at level 1,
// its super-block's at level 2.
func names(rows []supersededRow, u uint32) bool {
	for _, r := range rows {
		switch {
		case r.Level == 0 && r.Idx == u,
			r.Level == 1 && r.Idx == u>>blockBits,
			r.Level == 2 && r.Idx == u>>(2*blockBits):
			return true
		}
	}
	return false
}

// TestSupersededBy: the rows of version v name every version below it and
// none at or above it, in at most 4095 + 4095 + 255 rows.
func TestSupersededBy(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 1))
	for _, tc := range []struct {
		v    uint32
		rows int // -1: only bounded
	}{
		{1, 0},
		{2, 1},
		{3, 2},
		{4095, 4094},
		{4096, 1}, // block 0 at level 1
		{4097, 2}, // 4096 itself, block 0
		{8193, 1 + 2},
		{1 << 24, 1},
		{1<<24 + 4097, 1 + 1 + 1},
		{math.MaxUint32, -1},
		{1<<31 + 12345, -1},
	} {
		rows := supersededBy(tc.v)
		if tc.rows >= 0 && len(rows) != tc.rows {
			t.Errorf("v=%d: %d rows, want %d", tc.v, len(rows), tc.rows)
		}
		if len(rows) > 4095+4095+255 {
			t.Errorf("v=%d: %d rows, more than the bound", tc.v, len(rows))
		}
		probe := []uint32{tc.v, tc.v - 1, tc.v &^ (blockSize - 1), 1, 4095, 4096}
		for range 2000 {
			probe = append(probe, rng.Uint32N(tc.v), tc.v+rng.Uint32N(math.MaxUint32-tc.v+1))
		}
		for _, u := range probe {
			if u == 0 {
				continue // not a version
			}
			if got, want := names(rows, u), u < tc.v; got != want {
				t.Errorf("v=%d names u=%d: %v, want %v", tc.v, u, got, want)
			}
		}
	}
}

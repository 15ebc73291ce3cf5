package store

// The current state of a file is its highest version. Rather than find each
// file's highest version at every query (a GROUP BY over the whole history:
// 4.6 s of each epidemiology statement on five national years), the loader
// writes, with each version v, the keys of every version u < v of the same
// file into superseded (migration 0014): a row of documents, diagnoses,
// care_episodes or patients is current when its version_key is not there.
// This is exact before any merge, needs no read before the write (two
// loaders cannot contradict each other, whatever order versions arrive in),
// and a batch written twice writes the same keys again.
//
// So that one version numbered in the billions does not write billions of
// rows, the versions below v are named at three levels of blocks of 4096:
// the versions of v's own block one by one (level 0), the lower blocks of
// v's super-block (level 1), the lower super-blocks (level 2). At most
// 4095 + 4095 + 255 rows per version; v − 1 rows when v < 4096, that is
// always in practice.

const (
	blockBits = 12
	blockSize = 1 << blockBits
)

// supersededBy lists the (level, index) pairs that name every version below
// v of a file, and none at or above it. Version 0 does not exist (a loaded
// version is at least 1): it is not named.
func supersededBy(v uint32) []supersededRow {
	var out []supersededRow
	levels := [3]uint32{v, v >> blockBits, v >> (2 * blockBits)}
	for level, n := range levels {
		from := n &^ (blockSize - 1)
		if level == 2 {
			from = 0
		}
		for i := from; i < n; i++ {
			if level == 0 && i == 0 {
				continue
			}
			out = append(out, supersededRow{Level: uint8(level), Idx: i})
		}
	}
	return out
}

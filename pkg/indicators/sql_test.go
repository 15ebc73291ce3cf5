package indicators

import (
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/store"
)

// Every statement that reads the current state says how a cluster runs it:
// each shard filters its own files (store.DistributedLocal), and the
// shards' groupings are merged bucket by bucket (mergeByBucket: five
// national years on the 2 × 2 test cluster ran out of memory without it).
func TestCurrentStateStatementsSayHowAClusterRunsThem(t *testing.T) {
	n := 0
	for _, st := range Statements() {
		if !strings.Contains(st.SQL, store.CurrentVersions) {
			continue
		}
		n++
		i := strings.LastIndex(st.SQL, " SETTINGS ")
		if i < 0 {
			t.Errorf("%s reads the current state without SETTINGS", st.Name)
			continue
		}
		for _, want := range []string{store.DistributedLocal, mergeByBucket} {
			if !strings.Contains(st.SQL[i:], want) {
				t.Errorf("%s: its SETTINGS lack %s", st.Name, want)
			}
		}
	}
	// The prevalence, and the epidemiology's tables, totals and
	// distributions; not the figures kept as they arrive, which read none.
	want := 1
	for _, st := range epiStatements() {
		if !strings.HasSuffix(st.Name, "_kept") {
			want++
		}
	}
	if n < want {
		t.Errorf("%d statements read the current state, want at least %d", n, want)
	}
}

package indicators

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/chcompat"
	"github.com/bndmr/hub/pkg/chtest"
	"github.com/bndmr/hub/pkg/store"
)

// TestCompatibility runs every statement of the store and of the indicators
// on the fixture, on ClickHouse 18.16 and on chDB (the version production
// runs), and wants the same rows from both. MR.1 and MR.2 among them.
func TestCompatibility(t *testing.T) {
	s := testStore(t)
	srv, err := chcompat.ServerFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	newFixture().load(t, s)
	engine := chcompat.OpenEngine(t, srv, "../..")
	p := &chcompat.Pair{Server: srv, Engine: engine, DB: s.Database()}
	w := chcompat.Window{From: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), FINESS: finA}
	chcompat.Check(t, p, w, append(store.Statements(), Statements()...), 40)
}

// TestCompatibilityOldJoinsRefused keeps the reason for the aliases: the
// form MR.2 had up to ClickHouse 18 (a joined subquery without alias) is
// refused by the version production runs, with or without the analyzer.
func TestCompatibilityOldJoinsRefused(t *testing.T) {
	e := chtest.ChDB(t)
	old := `SELECT * FROM (SELECT 1 AS k, 2 AS a) ANY LEFT JOIN (SELECT 1 AS k, 3 AS b) USING k`
	for _, settings := range []string{"", " SETTINGS enable_analyzer = 0"} {
		if _, err := e.Query(context.Background(), old+settings, "TabSeparated"); err == nil || !strings.Contains(err.Error(), "ALIAS_REQUIRED") {
			t.Errorf("%q: %v, want ALIAS_REQUIRED", settings, err)
		}
	}
	out, err := e.Query(context.Background(), `SELECT * FROM (SELECT 1 AS k, 2 AS a) AS l ALL LEFT JOIN (SELECT 1 AS k, 3 AS b) AS r USING k`+
		joinSettings, "TabSeparated")
	if err != nil || string(out) != "1\t2\t3\n" {
		t.Errorf("aliased form: %q, %v", out, err)
	}
}

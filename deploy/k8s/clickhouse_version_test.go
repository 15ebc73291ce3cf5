package k8s_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestClickHouseVersionAgreed: the ClickHouse every overlay runs is the
// version docs/store.md says production runs, and the version of the engine
// the compatibility suite tests the hub's SQL on (chDB, fetched by
// scripts/chdb.sh). Upgrading means changing the three together, after the
// suite has passed on the new engine (docs/store.md, "ClickHouse versions").
func TestClickHouseVersionAgreed(t *testing.T) {
	doc, err := os.ReadFile("../../docs/store.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`Production runs ClickHouse \*\*(\d+\.\d+)\*\*`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/store.md does not say which ClickHouse production runs (\"Production runs ClickHouse **X.Y**\")")
	}
	documented := string(m[1])
	script, err := os.ReadFile("../../scripts/chdb.sh")
	if err != nil {
		t.Fatal(err)
	}
	c := regexp.MustCompile(`(?m)^version=(\d+\.\d+)\.`).FindSubmatch(script)
	if c == nil {
		t.Fatal("scripts/chdb.sh has no version=X.Y.Z… line")
	}
	if tested := string(c[1]); tested != documented {
		t.Errorf("docs/store.md says production runs %s, the compatibility suite tests %s (scripts/chdb.sh)", documented, tested)
	}
	for _, ov := range overlays(t) {
		servers := 0
		for _, w := range workloads(objects(t, ov)) {
			for _, ctr := range containers(&w.pod.Spec) {
				for _, img := range []string{"clickhouse/clickhouse-server", "clickhouse/clickhouse-keeper"} {
					tag, ok := strings.CutPrefix(ctr.Image, img+":")
					if !ok {
						continue
					}
					servers++
					if tag != documented {
						t.Errorf("%s: %s container %s runs %s:%s, docs/store.md says %s", ov, w.obj, ctr.Name, img, tag, documented)
					}
				}
			}
		}
		if servers == 0 {
			t.Errorf("%s: no ClickHouse container found", ov)
		}
	}
}

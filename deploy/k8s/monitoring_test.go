package k8s_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/bndmr/hub/deploy/k8s/render"
)

const monitoring = "monitoring"

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(monitoring, "bndmr.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(b, &rf); err != nil {
		t.Fatalf("bndmr.rules.yml: %v", err)
	}
	return rf
}

// TestAlertRules: promtool accepts the rules and their unit tests pass; the
// PrometheusRule carries exactly the same groups; every alert has a
// runbook entry in docs/operations.md.
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not installed: `make deps` installs Debian's prometheus package")
	}
	for _, args := range [][]string{{"check", "rules", "bndmr.rules.yml"}, {"test", "rules", "bndmr.rules_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = monitoring
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	rf := readRules(t)
	b, err := os.ReadFile(filepath.Join(monitoring, "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		Kind string   `json:"kind"`
		Spec ruleFile `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &pr); err != nil {
		t.Fatal(err)
	}
	if pr.Kind != "PrometheusRule" || !reflect.DeepEqual(pr.Spec, rf) {
		t.Error("prometheusrule.yaml does not carry the groups of bndmr.rules.yml: copy them again")
	}
	ops, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			n++
			anchor := "docs/operations.md#" + strings.ToLower(r.Alert)
			if r.Annotations["runbook"] != anchor {
				t.Errorf("%s: runbook %q, want %q", r.Alert, r.Annotations["runbook"], anchor)
			}
			if !bytes.Contains(ops, []byte("#### "+r.Alert+"\n")) {
				t.Errorf("%s: no runbook heading \"#### %s\" in docs/operations.md", r.Alert, r.Alert)
			}
		}
	}
	if n < 11 {
		t.Errorf("%d alerts, want at least the 11 the operators rely on", n)
	}
}

// TestMonitoringRenders: the monitoring kustomization builds, with the
// dashboard ConfigMap for Grafana's sidecar.
func TestMonitoringRenders(t *testing.T) {
	out, err := render.YAML(monitoring)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kind: PrometheusRule", "grafana_dashboard: \"1\"", "bndmr-pipeline.json"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("rendered monitoring lacks %q", want)
		}
	}
}

var metricName = regexp.MustCompile(`\bbndmr_[a-z_]+[a-z]\b`)

// MonitoringMetrics lists the metric names the rules and the dashboard use,
// with histogram suffixes removed.
func monitoringMetrics(t *testing.T) []string {
	t.Helper()
	var exprs []string
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	b, err := os.ReadFile(filepath.Join(monitoring, "bndmr-pipeline.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	seen := map[string]bool{}
	for _, e := range exprs {
		for _, m := range metricName.FindAllString(e, -1) {
			seen[strings.TrimSuffix(m, "_bucket")] = true
		}
	}
	var out []string
	for m := range seen {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// TestMonitoringMetricsDeclared: every metric the rules and the dashboard
// read is declared by the hub's code, so that a renamed metric fails here
// rather than silencing an alert.
func TestMonitoringMetricsDeclared(t *testing.T) {
	declared := map[string]bool{}
	decl := regexp.MustCompile(`"(bndmr_[a-z_]+)"`)
	for _, dir := range []string{"../../pkg", "../../services", "../../pseudonymisation"} {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			b, err := os.ReadFile(p)
			for _, m := range decl.FindAllSubmatch(b, -1) {
				declared[string(m[1])] = true
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range monitoringMetrics(t) {
		if !declared[m] {
			t.Errorf("the rules or the dashboard read %s, which no code declares", m)
		}
	}
}

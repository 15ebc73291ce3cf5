package k8s_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// pendingSettings are set by the manifests but not yet read by the code:
// each names what the code must do. The test fails when one of them appears
// in the code, so that this list only ever shrinks.
var pendingSettings = map[string]string{}

var (
	envLiteral = regexp.MustCompile(`"((?:BNDMR|CISIS)_[A-Z0-9_]+)"`)
	docSetting = regexp.MustCompile("`((?:BNDMR|CISIS)_[A-Z0-9_]*[A-Z0-9])(?:=[^`]*)?`")
	docShort   = regexp.MustCompile("^`(_[A-Z0-9_]+)`$")
)

// codeSettings lists the environment variable names the code reads: those
// the Go code names, and those of the flags, which follow from each flag's
// name by one rule (pkg/service, EnvOf) and so appear nowhere as a
// literal. A flag's variable is taken from the documentation's settings
// (README.md and docs/*.md), which services/bndmrctl's TestDocsSettings
// checks against the flag sets of the hub, every service and every
// bndmrctl command: a setting of a manifest is read by the code when it is
// a literal of the code or a documented setting.
func codeSettings(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	paths, _ := filepath.Glob("../../docs/*.md")
	for _, p := range append(paths, "../../README.md") {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range docSetting.FindAllStringSubmatch(string(b), -1) {
			known[m[1]] = true
		}
		// A table cell's shorthand: `_TLS` after `BNDMR_SMTP_ADDR` is
		// BNDMR_SMTP_TLS.
		for _, line := range strings.Split(string(b), "\n") {
			for _, cell := range strings.Split(line, "|") {
				prefix := ""
				for _, tok := range regexp.MustCompile("`[^`]+`").FindAllString(cell, -1) {
					if m := docSetting.FindStringSubmatch(tok); m != nil {
						prefix = m[1][:strings.LastIndex(m[1], "_")]
					} else if m := docShort.FindStringSubmatch(tok); m != nil && prefix != "" {
						known[prefix+m[1]] = true
					}
				}
			}
		}
	}
	for _, dir := range []string{"../../services", "../../pkg", "../../pseudonymisation"} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range envLiteral.FindAllStringSubmatch(string(b), -1) {
				known[m[1]] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(known) == 0 {
		t.Fatal("no setting found in the code")
	}
	return known
}

// TestSettingsKnownToTheCode: every BNDMR_* or CISIS_* variable a hub
// container gets is one the code reads; a misspelt or renamed setting would
// otherwise be ignored without a word.
func TestSettingsKnownToTheCode(t *testing.T) {
	known := codeSettings(t)
	for name, why := range pendingSettings {
		if known[name] {
			t.Errorf("%s is now read by the code: remove it from pendingSettings (%s)", name, why)
		}
	}
	for _, ov := range overlays(t) {
		objs := objects(t, ov)
		cms := map[string]*corev1.ConfigMap{}
		for _, o := range objs {
			if cm, ok := o.Value.(*corev1.ConfigMap); ok {
				cms[cm.Name] = cm
			}
		}
		for _, w := range workloads(objs) {
			for _, c := range w.pod.Spec.Containers {
				if !strings.HasPrefix(c.Image, "bndmr/") {
					continue
				}
				var names []string
				for _, e := range c.Env {
					names = append(names, e.Name)
				}
				for _, ef := range c.EnvFrom {
					if ef.ConfigMapRef == nil {
						continue
					}
					cm, ok := cms[ef.ConfigMapRef.Name]
					if !ok {
						t.Errorf("%s: %s reads ConfigMap %s, not rendered", ov, w.obj, ef.ConfigMapRef.Name)
						continue
					}
					for k := range cm.Data {
						names = append(names, k)
					}
				}
				sort.Strings(names)
				for _, n := range names {
					if !envLiteral.MatchString(`"`+n+`"`) || known[n] {
						continue
					}
					if _, ok := pendingSettings[n]; ok {
						continue
					}
					t.Errorf("%s: %s: %s is not a setting the code reads", ov, w.obj, n)
				}
			}
		}
	}
}

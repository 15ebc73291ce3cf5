package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunWritesEveryOverlay(t *testing.T) {
	out := t.TempDir()
	if err := run("../..", out, nil); err != nil {
		t.Fatal(err)
	}
	for _, ov := range []string{"dev", "prod"} {
		b, err := os.ReadFile(filepath.Join(out, ov+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "kind: Deployment") {
			t.Errorf("%s.yaml holds no Deployment", ov)
		}
	}
}

func TestRunRefusesMissingOverlay(t *testing.T) {
	if err := run("../..", t.TempDir(), []string{"../../overlays/nope"}); err == nil {
		t.Fatal("rendered an overlay that does not exist")
	}
}

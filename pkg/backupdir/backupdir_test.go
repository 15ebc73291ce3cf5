package backupdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmpty(t *testing.T) {
	root := t.TempDir()
	full := filepath.Join(root, "full")
	if err := os.MkdirAll(full, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "manifest.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, dir, err string
	}{
		{"made when missing", filepath.Join(root, "new", "backup"), ""},
		{"existing and empty", t.TempDir(), ""},
		{"holding a folder", filepath.Join(root, "new"), "not empty"}, // the first case made new/backup
		{"holding a file", full, "not empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Empty(c.dir)
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if fi, err := os.Stat(c.dir); err != nil || !fi.IsDir() {
					t.Fatalf("%s: %v", c.dir, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("Empty(%s) = %v, want an error saying %q", c.dir, err, c.err)
			}
		})
	}
}

func TestReadManifest(t *testing.T) {
	dir := t.TempDir()
	var man struct{ Version int }
	if err := ReadManifest(dir, "manifest.json", &man); err == nil || !strings.Contains(err.Error(), "interrupted backup") {
		t.Errorf("missing manifest: %v, want an error saying the backup may have been interrupted", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"Version": `), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ReadManifest(dir, "manifest.json", &man); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "manifest.json")) {
		t.Errorf("truncated manifest: %v, want an error naming the file", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"Version": 3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ReadManifest(dir, "manifest.json", &man); err != nil || man.Version != 3 {
		t.Errorf("manifest read as %+v, %v; want Version 3", man, err)
	}
}

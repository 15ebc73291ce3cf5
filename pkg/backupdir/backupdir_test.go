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

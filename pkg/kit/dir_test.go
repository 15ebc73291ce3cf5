package kit

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDirFromTheBinaryFirst: the kit beside the repository that holds the
// binary is found whatever the working directory.
func TestDirFromTheBinaryFirst(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"repo/bin", "shared/ci-sis/kit-3.0", "elsewhere/deep"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "repo", "go.work"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(root, "shared", "ci-sis")
	for _, tc := range []struct {
		name   string
		starts []string
		ok     bool
	}{
		{"binary in bin/, working directory elsewhere", []string{filepath.Join(root, "repo/bin"), filepath.Join(root, "elsewhere/deep")}, true},
		{"binary elsewhere, working directory in the repository", []string{filepath.Join(root, "elsewhere/deep"), filepath.Join(root, "repo")}, true},
		{"neither", []string{filepath.Join(root, "elsewhere/deep"), "/"}, false},
	} {
		got, err := dirFrom(tc.starts...)
		if tc.ok && (err != nil || got != want) || !tc.ok && err == nil {
			t.Errorf("%s: got %q, %v", tc.name, got, err)
		}
	}
}

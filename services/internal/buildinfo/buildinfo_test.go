package buildinfo_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const root = "../../.."

// varPath is the variable the builds set, read from the Makefile.
func varPath(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^VERSION_VAR\s*:?=\s*(\S+)`).FindSubmatch(b)
	if m == nil || !regexp.MustCompile(`(?m)-ldflags "-X \$\(VERSION_VAR\)=\$\(VERSION\)"`).Match(b) {
		t.Fatal("Makefile: no VERSION_VAR, or `make build` does not pass it with -ldflags -X")
	}
	if !regexp.MustCompile(`(?m)^VERSION\s*\?=.*git describe`).Match(b) {
		t.Error("Makefile: VERSION does not come from git describe")
	}
	return string(m[1])
}

// TestEveryBinaryPrintsItsBuildVersion builds every main of services/ as
// the Makefile and the Dockerfile do (-ldflags -X on the same variable)
// and runs each with --version.
func TestEveryBinaryPrintsItsBuildVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every binary")
	}
	v := varPath(t)
	docker, err := os.ReadFile(filepath.Join(root, "deploy/docker/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(docker), "-X "+v+"=${VERSION}") || !strings.Contains(string(docker), "ARG VERSION") {
		t.Errorf("deploy/docker/Dockerfile does not set %s from its VERSION build argument", v)
	}
	mains, err := filepath.Glob(filepath.Join(root, "services", "*", "main.go"))
	if err != nil || len(mains) < 8 {
		t.Fatalf("found mains %v (%v), want every service, bndmrctl and hub", mains, err)
	}
	var pkgs []string
	for _, m := range mains {
		pkgs = append(pkgs, "./"+filepath.Base(filepath.Dir(m)))
	}
	out := t.TempDir()
	const want = "v9.8.7-test-1-gabcdef"
	build := exec.Command("go", append([]string{"build", "-ldflags", "-X " + v + "=" + want, "-o", out + "/"}, pkgs...)...)
	build.Dir = filepath.Join(root, "services")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	for _, p := range pkgs {
		name := filepath.Base(p)
		b, err := exec.Command(filepath.Join(out, name), "--version").Output()
		if err != nil {
			t.Errorf("%s --version: %v", name, err)
			continue
		}
		if got := strings.TrimSpace(string(b)); got != name+" "+want {
			t.Errorf("%s --version printed %q, want %q", name, got, name+" "+want)
		}
	}
}

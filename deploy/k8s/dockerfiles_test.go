package k8s_test

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Docker cannot run here: these tests parse the Dockerfiles with BuildKit's
// own parser and check what the images promise (non-root, no shell in the
// service image, every Go module in the build context).

const dockerDir = "../docker"

func parseDockerfile(t *testing.T, name string) ([]instructions.Stage, []instructions.ArgCommand) {
	t.Helper()
	f, err := os.Open(filepath.Join(dockerDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, w := range res.Warnings {
		t.Errorf("%s: %s", name, w.Short)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(stages) == 0 {
		t.Fatalf("%s: no stage", name)
	}
	return stages, metaArgs
}

func argDefault(args []instructions.ArgCommand, name string) string {
	for _, a := range args {
		for _, kv := range a.Args {
			if kv.Key == name && kv.Value != nil {
				return *kv.Value
			}
		}
	}
	return ""
}

// finalStageChecks are what a runtime stage must hold.
func finalStageChecks(t *testing.T, name string, st instructions.Stage) {
	t.Helper()
	var user string
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				t.Errorf("%s: ENTRYPOINT in shell form needs a shell: use the exec form", name)
			}
		case *instructions.CmdCommand:
			if c.PrependShell {
				t.Errorf("%s: CMD in shell form needs a shell: use the exec form", name)
			}
		case *instructions.CopyCommand:
			if c.From != "" && c.From != "build" {
				t.Errorf("%s: final stage copies from %q", name, c.From)
			}
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || uid == "0" || uid == "root" {
		t.Errorf("%s: the image runs as %q: set USER to a non-root uid", name, user)
	}
}

func TestServiceDockerfile(t *testing.T) {
	stages, meta := parseDockerfile(t, "Dockerfile")
	if len(stages) != 2 {
		t.Fatalf("Dockerfile: %d stages, want build and runtime", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	if goImg := argDefault(meta, "GO_IMAGE"); !strings.HasPrefix(goImg, "golang:1.26") || !strings.Contains(goImg, "bookworm") {
		t.Errorf("builder image %q, want golang:1.26-bookworm", goImg)
	}
	if rt := argDefault(meta, "RUNTIME_IMAGE"); !strings.Contains(rt, "distroless") || !strings.Contains(rt, "debian12") {
		t.Errorf("runtime image %q, want distroless on Debian 12 (the builder's release)", rt)
	}
	var buildText strings.Builder
	for _, c := range build.Commands {
		buildText.WriteString(c.Name() + " ")
		if r, ok := c.(*instructions.RunCommand); ok {
			buildText.WriteString(strings.Join(r.CmdLine, " "))
		}
		if e, ok := c.(*instructions.EnvCommand); ok {
			for _, kv := range e.Env {
				buildText.WriteString(kv.Key + "=" + kv.Value + " ")
			}
		}
		buildText.WriteString("\n")
	}
	for _, want := range []string{"libxml2-dev", "CGO_ENABLED=1", "go build", "ldd"} {
		if !strings.Contains(buildText.String(), want) {
			t.Errorf("build stage lacks %q", want)
		}
	}
	// No shell in the runtime image: nothing may RUN there.
	for _, c := range final.Commands {
		if _, ok := c.(*instructions.RunCommand); ok {
			t.Errorf("runtime stage runs %q: distroless has no shell", c)
		}
	}
	finalStageChecks(t, "Dockerfile", final)

	// Every module of go.work is in the context and its go.mod copied first.
	mods := workModules(t)
	ignore := readLines(t, filepath.Join(dockerDir, "Dockerfile.dockerignore"))
	var copied []string
	for _, c := range build.Commands {
		if cp, ok := c.(*instructions.CopyCommand); ok {
			copied = append(copied, cp.SourcePaths...)
		}
	}
	for _, m := range mods {
		if !slices.Contains(ignore, "!"+m+"/") {
			t.Errorf("module %s is not in the build context (Dockerfile.dockerignore)", m)
		}
		if !slices.Contains(copied, m+"/go.*") {
			t.Errorf("module %s: its go.mod is not copied before the sources", m)
		}
	}
	if !slices.Contains(ignore, "!go.work") {
		t.Error("go.work is not in the build context")
	}
}

func TestKitDockerfile(t *testing.T) {
	stages, _ := parseDockerfile(t, "cisis-kit.Dockerfile")
	finalStageChecks(t, "cisis-kit.Dockerfile", stages[len(stages)-1])
	// The kit lands where the validator's init container copies it from.
	var dest string
	for _, c := range stages[len(stages)-1].Commands {
		if cp, ok := c.(*instructions.CopyCommand); ok {
			dest = cp.DestPath
		}
	}
	if dest != "/kit/" {
		t.Errorf("kit copied to %q, want /kit/ (the init container copies /kit/.)", dest)
	}
	ignore := readLines(t, filepath.Join(dockerDir, "cisis-kit.Dockerfile.dockerignore"))
	for _, k := range []string{"kit-3.0", "kit-2.41", "kit-2.22"} {
		if !slices.Contains(ignore, "!"+k+"/") {
			t.Errorf("%s is left out of the kit image", k)
		}
	}
}

// workModules reads the `use` entries of the repository's go.work.
func workModules(t *testing.T) []string {
	t.Helper()
	var mods []string
	inUse := false
	for _, l := range readLines(t, "../../go.work") {
		switch {
		case strings.HasPrefix(l, "use ("):
			inUse = true
		case inUse && l == ")":
			inUse = false
		case inUse && l != "":
			mods = append(mods, strings.TrimPrefix(strings.TrimSuffix(l, "/"), "./"))
		case strings.HasPrefix(l, "use "):
			mods = append(mods, strings.TrimPrefix(strings.TrimPrefix(l, "use "), "./"))
		}
	}
	if len(mods) == 0 {
		t.Fatal("go.work names no module")
	}
	return mods
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

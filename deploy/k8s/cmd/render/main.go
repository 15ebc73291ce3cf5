// Command render prints the hub's Kubernetes manifests: every overlay under
// deploy/k8s/overlays, or the ones named, as `kustomize build` would, after
// checking that every object decodes strictly into its Kubernetes type.
//
//	cd deploy/k8s && GOWORK=off go run ./cmd/render            # all overlays to stdout
//	cd deploy/k8s && GOWORK=off go run ./cmd/render -out DIR   # DIR/<overlay>.yaml
//	cd deploy/k8s && GOWORK=off go run ./cmd/render overlays/prod
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bndmr/hub/deploy/k8s/render"
)

func main() {
	root := flag.String("root", ".", "the deploy/k8s directory")
	out := flag.String("out", "", "write each overlay to `DIR`/<overlay>.yaml instead of stdout")
	flag.Parse()
	if err := run(*root, *out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(root, out string, dirs []string) error {
	if len(dirs) == 0 {
		var err error
		if dirs, err = render.Overlays(root); err != nil {
			return err
		}
	}
	for _, dir := range dirs {
		y, err := render.YAML(dir)
		if err != nil {
			return err
		}
		if _, err := render.Decode(y); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		if out == "" {
			fmt.Printf("# ---- overlay %s ----\n%s", filepath.Base(dir), y)
			continue
		}
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		f := filepath.Join(out, filepath.Base(dir)+".yaml")
		if err := os.WriteFile(f, y, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "wrote", f)
	}
	return nil
}

// Package kit locates the official ANS CI-SIS kit (XSD, schematrons, value
// sets). The hub never embeds it: production points CISIS_KIT at the unpacked
// official release; development uses ../shared/ci-sis beside the repository.
package kit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvVar names the setting that points at the kit.
const EnvVar = "CISIS_KIT"

// Dir returns the kit directory: $CISIS_KIT when set, otherwise the first
// "../shared/ci-sis" found beside the repository root (the folder holding
// go.work), walking up from the working directory.
func Dir() (string, error) {
	if d := os.Getenv(EnvVar); d != "" {
		return check(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("locating the CI-SIS kit: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return check(filepath.Join(d, "..", "shared", "ci-sis"))
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", errors.New("CI-SIS kit not found: set CISIS_KIT to the unpacked ANS kit folder (the one holding kit-3.0/)")
}

func check(d string) (string, error) {
	abs, err := filepath.Abs(d)
	if err != nil {
		return "", fmt.Errorf("CI-SIS kit path %q: %w", d, err)
	}
	if _, err := os.Stat(filepath.Join(abs, "kit-3.0")); err != nil {
		return "", fmt.Errorf("CI-SIS kit %q has no kit-3.0 folder (set %s to the unpacked ANS kit): %w", abs, EnvVar, err)
	}
	return abs, nil
}

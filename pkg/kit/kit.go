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

// Dir returns the kit directory: $CISIS_KIT when set, otherwise
// "../shared/ci-sis" beside the repository root (the folder holding go.work)
// found walking up from the running binary's folder (bin/ of a checkout),
// then from the working directory. The working directory alone would make
// the answer depend on where the operator stands.
func Dir() (string, error) {
	if d := os.Getenv(EnvVar); d != "" {
		return check(d)
	}
	var starts []string
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		starts = append(starts, filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	return dirFrom(starts...)
}

// DefaultHelp says, for a flag's help, where the kit is looked for.
const DefaultHelp = "default $" + EnvVar + ", else ../shared/ci-sis beside the repository holding the binary, else the working directory's"

// dirFrom looks for the repository root walking up from each start in turn.
func dirFrom(starts ...string) (string, error) {
	for _, start := range starts {
		for d := start; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
				if k, err := check(filepath.Join(d, "..", "shared", "ci-sis")); err == nil {
					return k, nil
				}
				break
			}
			if filepath.Dir(d) == d {
				break
			}
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

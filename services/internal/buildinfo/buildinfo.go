// Package buildinfo holds the version a binary was built as.
package buildinfo

import (
	"fmt"
	"io"
)

// version is set at link time: `make build` passes `git describe`, the
// Dockerfile its VERSION build argument, both as
// -ldflags "-X github.com/bndmr/hub/services/internal/buildinfo.version=V".
// It is the only package variable of the binaries: the linker can set
// nothing else.
var version = "dev"

// Version is the build version ("dev" when the build did not set it).
func Version() string { return version }

// IsVersionFlag says whether args ask for the version alone.
func IsVersionFlag(args []string) bool {
	return len(args) == 1 && (args[0] == "--version" || args[0] == "-version")
}

// Print writes "NAME VERSION" on w.
func Print(w io.Writer, name string) { fmt.Fprintf(w, "%s %s\n", name, version) }

package main

import (
	"context"
	"fmt"
	"os"
)

// cmdUnpack is not written yet: it belongs to its own issue.
func cmdUnpack(ctx context.Context, args []string) int {
	fmt.Fprintln(os.Stderr, "bndmrctl unpack: not available in this build yet")
	return 2
}

package main

import (
	"context"
	"fmt"
	"os"
)

// cmdExtract is not written yet: it belongs to its own issue.
func cmdExtract(ctx context.Context, args []string) int {
	fmt.Fprintln(os.Stderr, "bndmrctl extract: not available in this build yet")
	return 2
}

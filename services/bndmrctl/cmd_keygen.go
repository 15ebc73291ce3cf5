package main

import (
	"context"
	"fmt"
	"os"
)

// cmdKeygen is not written yet: it belongs to its own issue.
func cmdKeygen(ctx context.Context, args []string) int {
	fmt.Fprintln(os.Stderr, "bndmrctl keygen: not available in this build yet")
	return 2
}

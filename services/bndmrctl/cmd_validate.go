package main

import (
	"context"
	"fmt"
	"os"
)

// cmdValidate is not written yet: it belongs to its own issue.
func cmdValidate(ctx context.Context, args []string) int {
	fmt.Fprintln(os.Stderr, "bndmrctl validate: not available in this build yet")
	return 2
}

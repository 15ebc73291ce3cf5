package main

import (
	"context"
	"fmt"
	"os"
)

func cmdGen(ctx context.Context, args []string) int {
	fmt.Fprintln(os.Stderr, "bndmrctl gen: not available in this build yet")
	return 2
}

// Package pause waits a while unless the context ends first: the one
// cancellable sleep of the hub's retry and poll loops.
package pause

import (
	"context"
	"time"
)

// For waits d, or until ctx ends: then it returns ctx's error at once.
func For(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

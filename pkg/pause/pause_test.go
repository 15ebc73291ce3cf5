package pause

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	if err := For(context.Background(), time.Millisecond); err != nil {
		t.Errorf("a pause that ran its course: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// An hour: the test only ends because the pause does not wait for it.
	if err := For(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("a pause whose context ended: %v, want context.Canceled", err)
	}
}

package testsupport

import (
	"testing"
	"time"
)

func TestWaitFor(t *testing.T) {
	n := 0
	WaitFor(t, "the third look", time.Minute, func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("cond called %d times, want 3 (until it held)", n)
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("BNDMR_TESTSUPPORT_X", "v")
	if got := Env(t, "BNDMR_TESTSUPPORT_X", "nothing"); got != "v" {
		t.Errorf("Env = %q, want v", got)
	}
}

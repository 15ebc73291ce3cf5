package testsupport

import (
	"fmt"
	"net"
	"os"
	"os/exec"
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

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("port %d is not free: %v", p, err)
	}
	ln.Close()
}

func TestDiff(t *testing.T) {
	got := Diff([]string{"a", "b", "b", "c"}, []string{"c", "b", "d"})
	if want := "+ d (×1)\n- a (×1)\n- b (×1)"; got != want {
		t.Errorf("Diff = %q, want %q", got, want)
	}
	if got := Diff([]string{"x", "y"}, []string{"y", "x"}); got != "" {
		t.Errorf("Diff of the same lines in another order = %q, want nothing", got)
	}
}

func TestProcessGone(t *testing.T) {
	if ProcessGone(os.Getpid()) {
		t.Error("the test's own process is said to be gone")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if !ProcessGone(cmd.Process.Pid) {
		t.Errorf("process %d, reaped, is not said to be gone", cmd.Process.Pid)
	}
}

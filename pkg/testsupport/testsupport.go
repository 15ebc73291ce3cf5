// Package testsupport holds the small helpers the tests of several packages
// share (pkg/chtest and pkg/store/storetest give them their ClickHouse
// databases). Test support: only _test.go files import it.
package testsupport

import (
	"net"
	"os"
	"testing"
	"time"
)

// Env is the value of the test environment's setting name (a server that
// `make up` started); without it the test is skipped, saying so.
func Env(t testing.TB, name, server string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("%s not set: run through `make test`, which starts %s", name, server)
	}
	return v
}

// WaitFor polls cond until it holds; after d the test fails, naming what
// it waited for.
func WaitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreePort is a loopback TCP port nothing listens on now: for a server a
// test starts itself (another process may take it meanwhile, rarely).
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

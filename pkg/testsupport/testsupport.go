// Package testsupport holds the small helpers the tests of several packages
// share (pkg/chtest and pkg/store/storetest give them their ClickHouse
// databases). Test support: only _test.go files import it.
package testsupport

import (
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

// Package testsupport holds the small helpers the tests of several packages
// share (pkg/chtest and pkg/store/storetest give them their ClickHouse
// databases). Test support: only _test.go files import it.
package testsupport

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
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

// CPUTime is the CPU time (user and system) of the process so far: a
// benchmark on a shared machine reports it, since wall time measures the
// neighbours as much as the code.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PlainUTF8 reports whether data is UTF-8 with no encoding declared but
// UTF-8: the text an XML document's values can be looked for in.
func PlainUTF8(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	head := bytes.ToLower(data[:min(len(data), 200)])
	i := bytes.Index(head, []byte("encoding"))
	if i < 0 {
		return !bytes.Contains(bytes.ToLower(data), []byte("encoding"))
	}
	rest := bytes.TrimLeft(head[i+len("encoding"):], " \t\r\n=\"'")
	return bytes.HasPrefix(rest, []byte("utf-8")) && bytes.Count(bytes.ToLower(data), []byte("encoding")) == 1
}

// Diff lists, sorted, the lines only one side has, counted ("- line (×2)"
// for want's, "+ line (×1)" for got's), at most 20 of them: the message
// of a test comparing two lists of rows or lines.
func Diff(want, got []string) string {
	count := map[string]int{}
	for _, w := range want {
		count[w]++
	}
	for _, g := range got {
		count[g]--
	}
	var lines []string
	for k, n := range count {
		switch {
		case n > 0:
			lines = append(lines, fmt.Sprintf("- %s (×%d)", k, n))
		case n < 0:
			lines = append(lines, fmt.Sprintf("+ %s (×%d)", k, -n))
		}
	}
	sort.Strings(lines)
	if len(lines) > 20 {
		lines = append(lines[:20], fmt.Sprintf("... and %d more", len(lines)-20))
	}
	return strings.Join(lines, "\n")
}

// ProcessGone reports whether the process pid is gone: no such process, or
// only its zombie (a server a test killed, which its parent has not
// reaped). It reads /proc: Linux only, as the test servers are.
func ProcessGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: the state follows the last ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

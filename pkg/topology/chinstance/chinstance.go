// Package chinstance runs, for a test, a ClickHouse server of the test's
// own (scripts/clickhouse-instance.sh): one it may kill, restart or start
// with another configuration without touching the servers other tests
// share. Test support: only _test.go files import it.
//
// It lives in the dependency-free pkg/topology module so that deploy/k8s,
// kept out of go.work, shares it with the pkg and services tests.
package chinstance

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Config is one server.
type Config struct {
	Dir       string // its state, config files and console.log
	TCP, HTTP int    // the ports the script writes in its configuration
	// Extra, when set, is a configuration file merged over the script's
	// (a secure native port, another time zone...).
	Extra string
	// Listen is the port waited for (a secure port Extra adds); 0: TCP.
	Listen int
	Env    map[string]string // added to the environment (from_env passwords)
}

// Server is a running server.
type Server struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start starts the server and waits until it listens (60 s at most); a
// server that exits meanwhile fails the test with its console and error
// logs. It is killed when the test ends, if not before.
func Start(t testing.TB, c Config) *Server {
	t.Helper()
	if _, err := exec.LookPath("clickhouse-server"); err != nil {
		t.Fatal("clickhouse-server is not installed: run through `make test` (make deps installs it)")
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	args := []string{c.Dir, strconv.Itoa(c.TCP), strconv.Itoa(c.HTTP)}
	if c.Extra != "" {
		args = append(args, c.Extra)
	}
	cmd := exec.Command(script(t), args...)
	cmd.Env = os.Environ()
	for k, v := range c.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// Appended to: a restarted server's console follows the first one's.
	log, err := os.OpenFile(filepath.Join(c.Dir, "console.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("starting ClickHouse: %v", err)
	}
	s := &Server{cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); log.Close(); close(s.exited) }()
	t.Cleanup(s.Kill)
	port := c.Listen
	if port == 0 {
		port = c.TCP
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			conn.Close()
			return s
		}
		select {
		case <-s.exited:
			b, _ := os.ReadFile(filepath.Join(c.Dir, "console.log"))
			e, _ := os.ReadFile(filepath.Join(c.Dir, "log", "error.log"))
			t.Fatalf("ClickHouse exited at start: %s\n%s", b, e)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClickHouse did not listen on %d within 60 s", port)
		}
	}
}

// Kill stops the server with SIGKILL and waits for the process to go; a
// server already gone is left as it is.
func (s *Server) Kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// script is scripts/clickhouse-instance.sh of the repository the test runs
// in: looked for from the test's folder (its package's) upwards.
func script(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "scripts", "clickhouse-instance.sh")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("scripts/clickhouse-instance.sh not found above the test's folder")
		}
		dir = up
	}
}

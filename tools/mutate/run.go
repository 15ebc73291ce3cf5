package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"
)

// Outcome is what became of one mutant.
type Outcome int

const (
	Killed    Outcome = iota // the test binary built, ran, and failed
	Survived                 // it built, ran the tests, and they passed
	NotViable                // it did not build: not a kill, counted apart
	TimedOut                 // it ran past the timeout (often an infinite loop)
)

func (o Outcome) String() string {
	return [...]string{"killed", "survived", "not viable", "timed out"}[o]
}

// A Runner builds and runs the test binary of one package.
type Runner struct {
	Root    string   // workspace root, where go commands run
	Dir     string   // package directory, relative to Root
	Flags   []string // flags for the test binary (-test.run, -test.skip, -test.short)
	Timeout time.Duration
	Tmp     string // scratch directory, removed by the caller
}

// Result of one mutant run.
type Result struct {
	Outcome Outcome
	Detail  string // build error, first failing test, or why a run looked wrong
	Elapsed time.Duration
}

// Baseline builds and runs the unmutated tests once: they must pass, and
// they must actually run tests (a -test.run that matches nothing would make
// every mutant survive). It returns how many tests ran and skipped.
func (r *Runner) Baseline(ctx context.Context) (ran, skipped int, elapsed time.Duration, err error) {
	bin := filepath.Join(r.Tmp, "base.test")
	if msg, err := r.build(ctx, "", bin); err != nil {
		return 0, 0, 0, fmt.Errorf("building the unmutated tests of %s: %w\n%s", r.Dir, err, msg)
	}
	start := time.Now()
	out, code, timedOut := r.run(ctx, bin, true, 4*r.Timeout)
	elapsed = time.Since(start)
	if timedOut || code != 0 {
		return 0, 0, elapsed, fmt.Errorf("the unmutated tests of %s do not pass (exit %d, timed out %v):\n%s", r.Dir, code, timedOut, tail(out, 2000))
	}
	ran = len(regexp.MustCompile(`(?m)^--- (PASS|FAIL)`).FindAll(out, -1))
	skipped = len(regexp.MustCompile(`(?m)^--- SKIP`).FindAll(out, -1))
	if ran == 0 {
		return 0, skipped, elapsed, fmt.Errorf("the test flags %v run no test in %s", r.Flags, r.Dir)
	}
	return ran, skipped, elapsed, nil
}

// Run builds the test binary with the mutated file laid over the original
// (go test -overlay: the source tree is never written) and runs it.
func (r *Runner) Run(ctx context.Context, m Mutant, src []byte) Result {
	start := time.Now()
	mutated := filepath.Join(r.Tmp, "mutant.go")
	overlay := filepath.Join(r.Tmp, "overlay.json")
	if err := os.WriteFile(mutated, src, 0o644); err != nil {
		return Result{Outcome: NotViable, Detail: err.Error()}
	}
	ov, _ := json.Marshal(map[string]map[string]string{"Replace": {m.File: mutated}})
	if err := os.WriteFile(overlay, ov, 0o644); err != nil {
		return Result{Outcome: NotViable, Detail: err.Error()}
	}
	bin := filepath.Join(r.Tmp, "mutant.test")
	os.Remove(bin)
	if msg, err := r.build(ctx, overlay, bin); err != nil {
		return Result{Outcome: NotViable, Detail: "build: " + firstLine(firstError(msg)), Elapsed: time.Since(start)}
	}
	out, code, timedOut := r.run(ctx, bin, false, r.Timeout)
	res := Result{Elapsed: time.Since(start)}
	switch {
	case timedOut:
		res.Outcome, res.Detail = TimedOut, fmt.Sprintf("still running after %s", r.Timeout)
	case code == 0 && bytes.Contains(out, []byte("PASS")):
		res.Outcome = Survived
	case code == 0:
		// Exit 0 without PASS: the binary did not run the tests (a
		// mutant that exits in init, say). Not a kill, not a survivor.
		res.Outcome, res.Detail = NotViable, "the test binary exited 0 without running the tests"
	default:
		res.Outcome, res.Detail = Killed, firstFailure(out)
	}
	return res
}

func (r *Runner) build(ctx context.Context, overlay, bin string) (string, error) {
	// -s -w: no symbol table nor DWARF, a faster link (the binary is run once).
	args := []string{"test", "-c", "-vet=off", "-ldflags=-s -w", "-o", bin}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./"+r.Dir)...)
	cmd.Dir = r.Root
	out, err := cmd.CombinedOutput()
	if err == nil {
		if _, statErr := os.Stat(bin); statErr != nil {
			// go test -c writes nothing for a package without tests.
			return string(out), fmt.Errorf("no test binary: %w", statErr)
		}
	}
	return string(out), err
}

// run starts the test binary in the package directory (where the tests
// find their testdata) in its own process group, so that a timeout also
// ends whatever the tests started.
func (r *Runner) run(ctx context.Context, bin string, verbose bool, timeout time.Duration) (out []byte, code int, timedOut bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := append([]string{"-test.count=1", "-test.failfast"}, r.Flags...)
	if verbose {
		args = append(args, "-test.v")
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = filepath.Join(r.Root, r.Dir)
	setProcessGroup(cmd)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return buf.Bytes(), -1, true
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return buf.Bytes(), exit.ExitCode(), false
	}
	if err != nil {
		return []byte(err.Error()), -1, false
	}
	return buf.Bytes(), 0, false
}

var failRE = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)|^panic: .*`)

func firstFailure(out []byte) string {
	if m := failRE.FindSubmatch(out); m != nil {
		if len(m[1]) > 0 {
			return string(m[1])
		}
		return firstLine(string(m[0]))
	}
	return firstLine(string(tail(out, 200)))
}

var errLineRE = regexp.MustCompile(`(?m)^\S+\.go:\d+:\d+: .*$`)

func firstError(msg string) string {
	if m := errLineRE.FindString(msg); m != "" {
		return m
	}
	return msg
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

package main

// What every command shares: its flag set, sub-commands, the NATS connection.

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/pkg/bus"
)

// newFlagSet is the flag set of a command: parse errors and the usage go to
// stderr, the usage being text followed by the flags and their defaults.
func newFlagSet(name, text string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, text)
		fs.PrintDefaults()
	}
	return fs
}

// parseSubcommand parses the flags of a command that has sub-commands
// (flags may come before or after the sub-command) and checks that the
// sub-command is one of subs, followed by as many arguments as subs says.
// When ok is false the usage has been printed: the exit status is 2.
func parseSubcommand(fs *flag.FlagSet, args []string, subs map[string]int) (sub string, rest []string, ok bool) {
	if err := fs.Parse(args); err != nil {
		return "", nil, false
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return "", nil, false
	}
	sub = fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return "", nil, false
	}
	n, known := subs[sub]
	if !known || fs.NArg() != n {
		fs.Usage()
		return "", nil, false
	}
	return sub, fs.Args(), true
}

// runSubcommand runs the sub-command args[0] of command cmd, one of subs
// (bndmrctl backup nats, key split): none, or one unknown, prints the
// usage and gives 2; -h prints it and gives 0.
func runSubcommand(ctx context.Context, cmd, usage string, subs map[string]runFunc, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(stderr, usage)
		return 0
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	run, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "bndmrctl %s: unknown sub-command %q\n%s\n", cmd, args[0], usage)
		return 2
	}
	return run(ctx, args[1:], stdout, stderr)
}

// connectNATS connects command cmd to NATS as client bndmrctl-CMD. ok
// false: the error has been printed, the exit status is 1. The caller
// closes the connection.
func connectNATS(ctx context.Context, c bus.Config, cmd string, stderr io.Writer) (nc *nats.Conn, js jetstream.JetStream, ok bool) {
	nc, js, err := bus.Connect(ctx, c, "bndmrctl-"+cmd)
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl %s: %v\n", cmd, err)
		return nil, nil, false
	}
	return nc, js, true
}

// fail says err as command cmd's and returns its exit status, 1.
func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "bndmrctl %s: %v\n", cmd, err)
	return 1
}

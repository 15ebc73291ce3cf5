// Command bndmrctl is the operator's tool: it generates test mails, validates,
// unpacks and extracts documents offline, and manages the hub's state.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/bndmr/hub/services/internal/buildinfo"
)

// command runs one sub-command and returns the process exit status. It
// prints its results to stdout and its usage, progress and errors to
// stderr, never to the process's own: the tests read what it prints.
type command struct {
	summary string
	run     runFunc
}

// runFunc runs a command or a sub-command and returns its exit status.
type runFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) int

func commands() map[string]command {
	return map[string]command{
		"gen":        {"generate synthetic MSSanté mails carrying SDM-MR documents", cmdGen},
		"deliver":    {"append mails to an IMAP mailbox (demo and tests)", cmdDeliver},
		"mdn":        {"print the acknowledgements (MDN) the hub sent for given mails, read from the sender's mailbox", cmdMDN},
		"streams":    {"declare the JetStream streams, object store and buckets (provisioning)", cmdStreams},
		"quarantine": {"list, inspect and replay the mails the hub could not handle", cmdQuarantine},
		"reprocess":  {"send original mails through the pipeline again (new kit, expired identified documents)", cmdReprocess},
		"purge":      {"erase one mail's identified traces from NATS (mail, object, identified documents, quarantine)", cmdPurge},
		"dashboard":  {"serve the indicators dashboard and API straight from ClickHouse (no NATS)", cmdDashboard},
		"migrate":    {"apply the ClickHouse migrations (idempotent)", cmdMigrate},
		"rotation":   {"show or finish a pseudonymisation key rotation in ClickHouse (re-link the patients)", cmdRotation},
		"import":     {"import reference data: labelled centres, declared DPI update counts (CSV)", cmdImport},
		"export":     {"export indicators (DGOS MR.1/MR.2, reception report) as xlsx, csv or json", cmdExport},
		"validate":   {"validate CDA documents against the CI-SIS rules (XSD + schematrons)", cmdValidate},
		"unpack":     {"unpack raw MSSanté mails as the validator would see them", cmdUnpack},
		"extract":    {"extract (and with --key pseudonymise) SDM-MR documents", cmdExtract},
		"keygen":     {"create a pseudonymisation key file", cmdKeygen},
		"key":        {"escrow of the pseudonymisation key: split it into 3 shares (any 2 rebuild it), join shares", cmdKey},
		"backup":     {"back up JetStream (every stream, consumers included) or ClickHouse; print the state a restore must give back", cmdBackup},
		"restore":    {"restore a JetStream or ClickHouse backup into an empty NATS or database", cmdRestore},
		"crl":        {"refresh the CRL file of the MSSanté TLS Secrets from the authorities' CRLs (crl refresh; CronJob crl-refresh)", cmdCRL},
		"kit":        {"check a CI-SIS kit before switching to it: the conformance corpus under the new kit (kit check)", cmdKit},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if buildinfo.IsVersionFlag(args) {
		buildinfo.Print(stdout, "bndmrctl")
		return 0
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		return 2
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "bndmrctl: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(stderr io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(stderr, "usage: bndmrctl COMMAND [flags] [args]   (bndmrctl --version: %s)\n\ncommands:\n", buildinfo.Version())
	for _, n := range names {
		fmt.Fprintf(stderr, "  %-10s %s\n", n, cmds[n].summary)
	}
}

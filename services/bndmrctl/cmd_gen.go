package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/synth"
)

// cmdGen writes synthetic MSSanté mails and a manifest of what they carry.
func cmdGen(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("gen", "usage: bndmrctl gen --seed N --count N --out DIR [--invalid-rate R] [--hostile-rate R] [--notify-to ADDR] [--message-id-tag TAG]", stderr)
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same mails")
	count := fs.Int("count", 200, "number of mails (one SDM-MR document each)")
	out := fs.String("out", "", "output folder (mails as .eml files and manifest.jsonl)")
	kitDir := kitFlag(fs, "CI-SIS kit folder holding examples/sdm-mr ("+kit.DefaultHelp+")")
	to := fs.String("to", "hub@bndmr.test", "the hub's mailbox address")
	invalid := fs.Float64("invalid-rate", 0, "share of documents (0-1) made to fail the CI-SIS validation (XSD or schematron)")
	hostile := fs.Float64("hostile-rate", 0, "share of mails (0-1) that are hostile: zip bomb, path traversal, not MIME")
	notify := fs.String("notify-to", "", "where every mail asks its acknowledgement to go (default: its sender)")
	tag := fs.String("message-id-tag", "", "prefix of every Message-ID, to tell one run's mails and acknowledgements from another's")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || *count < 1 {
		fs.Usage()
		return 2
	}
	if *kitDir == "" {
		d, err := kit.Dir()
		if err != nil {
			fmt.Fprintln(stderr, "bndmrctl gen:", err)
			return 2
		}
		*kitDir = d
	}
	docs, err := synth.WriteDir(ctx, synth.Options{Seed: *seed, Count: *count, Kit: *kitDir, To: *to,
		InvalidRate: *invalid, HostileRate: *hostile, NotifyTo: *notify, MessageIDTag: *tag}, *out)
	if err != nil {
		fmt.Fprintln(stderr, "bndmrctl gen:", err)
		return 1
	}
	f, err := os.Create(filepath.Join(*out, "manifest.jsonl"))
	if err != nil {
		fmt.Fprintln(stderr, "bndmrctl gen:", err)
		return 1
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	enc.SetEscapeHTML(false) // Message-IDs as written: <…@…>, for grep
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			fmt.Fprintln(stderr, "bndmrctl gen:", err)
			return 1
		}
	}
	// The senders and their labelled centres, for `bndmrctl import`.
	for name, write := range map[string]func(io.Writer) error{"establishments.csv": synth.WriteEstablishmentsCSV, "centres.csv": synth.WriteCentresCSV} {
		f, err := os.Create(filepath.Join(*out, name))
		if err == nil {
			err = write(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, "bndmrctl gen:", err)
			return 1
		}
	}
	accepted := 0
	for _, d := range docs {
		if d.Accepted() {
			accepted++
		}
	}
	fmt.Fprintf(stdout, "gen: %d mails in %s, %d documents to accept (manifest.jsonl lists the synthetic identities: test data only; "+
		"establishments.csv the senders, centres.csv their labelled centres)\n", len(docs), *out, accepted)
	return 0
}

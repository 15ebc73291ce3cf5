package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/synth"
)

// cmdGen writes synthetic MSSanté mails and a manifest of what they carry.
func cmdGen(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same mails")
	count := fs.Int("count", 200, "number of mails (one SDM-MR document each)")
	out := fs.String("out", "", "output folder (mails as .eml files and manifest.jsonl)")
	kitDir := fs.String("kit", "", "CI-SIS kit folder holding examples/sdm-mr (default $CISIS_KIT, else ../shared/ci-sis)")
	to := fs.String("to", "hub@bndmr.test", "the hub's mailbox address")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: bndmrctl gen --seed N --count N --out DIR")
		fs.PrintDefaults()
	}
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
			fmt.Fprintln(os.Stderr, "bndmrctl gen:", err)
			return 2
		}
		*kitDir = d
	}
	docs, err := synth.WriteDir(ctx, synth.Options{Seed: *seed, Count: *count, Kit: *kitDir, To: *to}, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bndmrctl gen:", err)
		return 1
	}
	f, err := os.Create(filepath.Join(*out, "manifest.jsonl"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bndmrctl gen:", err)
		return 1
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			fmt.Fprintln(os.Stderr, "bndmrctl gen:", err)
			return 1
		}
	}
	// The senders, for `bndmrctl import establishments`.
	var est strings.Builder
	est.WriteString("finess;nom;debut_transmission\n")
	for _, e := range synth.Establishments {
		fmt.Fprintf(&est, "%s;%s;\n", e.FINESS, e.Name)
	}
	if err := os.WriteFile(filepath.Join(*out, "establishments.csv"), []byte(est.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bndmrctl gen:", err)
		return 1
	}
	fmt.Printf("gen: %d mails in %s (manifest.jsonl lists the synthetic identities: test data only; establishments.csv the senders)\n", len(docs), *out)
	return 0
}

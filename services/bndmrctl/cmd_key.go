package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bndmr/hub/pseudonymisation"
)

// cmdKey: bndmrctl key split|join, the escrow of the pseudonymisation key
// (docs/security.md, "Key escrow").
func cmdKey(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: bndmrctl key split --key FILE --out DIR | bndmrctl key join --out FILE SHARE_FILE...")
		return 2
	}
	switch args[0] {
	case "split":
		return keySplit(args[1:])
	case "join":
		return keyJoin(args[1:])
	}
	fmt.Fprintf(os.Stderr, "bndmrctl key: unknown action %q (split, join)\n", args[0])
	return 2
}

func keySplit(args []string) int {
	fs := flag.NewFlagSet("key split", flag.ContinueOnError)
	key := fs.String("key", "", "the key file to split")
	out := fs.String("out", "", "new folder for share-1.txt, share-2.txt, share-3.txt (one per custodian)")
	if err := fs.Parse(args); err != nil || *key == "" || *out == "" || fs.NArg() != 0 {
		fmt.Fprintln(fs.Output(), "usage: bndmrctl key split --key FILE --out DIR")
		fs.PrintDefaults()
		return 2
	}
	data, err := os.ReadFile(*key)
	if err != nil {
		return fail("key split", err)
	}
	defer clear(data)
	ids, err := pseudonymisation.KeyFileIDs(data)
	if err != nil {
		return fail("key split", fmt.Errorf("%s: %w", *key, err))
	}
	shares, err := pseudonymisation.SplitKeyFile(data)
	if err != nil {
		return fail("key split", err)
	}
	if err := os.Mkdir(*out, 0o700); err != nil {
		return fail("key split", fmt.Errorf("%w (give a new folder: shares are never overwritten)", err))
	}
	for i, s := range shares {
		p := filepath.Join(*out, fmt.Sprintf("share-%d.txt", i+1))
		if err := os.WriteFile(p, []byte(s+"\n"), 0o600); err != nil {
			return fail("key split", err)
		}
	}
	fmt.Fprintf(os.Stderr, "bndmrctl key split: key(s) %s split into %d shares in %s; any %d rebuild it. Give one to each custodian, then delete the folder.\n",
		strings.Join(ids, ", "), len(shares), *out, pseudonymisation.SharesNeeded)
	return 0
}

func keyJoin(args []string) int {
	fs := flag.NewFlagSet("key join", flag.ContinueOnError)
	out := fs.String("out", "", "key file to write (refuses to overwrite; mode 0600)")
	if err := fs.Parse(args); err != nil || *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(fs.Output(), "usage: bndmrctl key join --out FILE SHARE_FILE... (- reads share lines typed on standard input)")
		fs.PrintDefaults()
		return 2
	}
	var lines []string
	for _, a := range fs.Args() {
		if a == "-" {
			sc := bufio.NewScanner(os.Stdin)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				if l := strings.TrimSpace(sc.Text()); l != "" {
					lines = append(lines, l)
				}
			}
			continue
		}
		b, err := os.ReadFile(a)
		if err != nil {
			return fail("key join", err)
		}
		lines = append(lines, strings.TrimSpace(string(b)))
	}
	data, err := pseudonymisation.JoinShares(lines)
	if err != nil {
		return fail("key join", err)
	}
	defer clear(data)
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fail("key join", fmt.Errorf("%s already exists: a key file is never overwritten", *out))
		}
		return fail("key join", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fail("key join", err)
	}
	if err := f.Close(); err != nil {
		return fail("key join", err)
	}
	ids, _ := pseudonymisation.KeyFileIDs(data)
	fmt.Fprintf(os.Stderr, "bndmrctl key join: key(s) %s rebuilt and checked, written to %s\n", strings.Join(ids, ", "), *out)
	return 0
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bndmr/hub/pseudonymisation"
)

// cmdKey: bndmrctl key split|join, the escrow of the pseudonymisation key
// (docs/security.md, "Key escrow").
func cmdKey(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runSubcommand(ctx, "key", "usage: bndmrctl key split --key FILE --out DIR | bndmrctl key join --out FILE SHARE_FILE...",
		map[string]runFunc{"split": keySplit, "join": keyJoin}, args, stdout, stderr)
}

func keySplit(_ context.Context, args []string, _, stderr io.Writer) int {
	fs := newFlagSet("key split", "usage: bndmrctl key split --key FILE --out DIR", stderr)
	key := fs.String("key", "", "the key file to split")
	out := fs.String("out", "", "new folder for share-1.txt, share-2.txt, share-3.txt (one per custodian)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *key == "" || *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	data, err := os.ReadFile(*key)
	if err != nil {
		return fail(stderr, "key split", err)
	}
	defer clear(data)
	ids, err := pseudonymisation.KeyFileIDs(data)
	if err != nil {
		return fail(stderr, "key split", fmt.Errorf("%s: %w", *key, err))
	}
	shares, err := pseudonymisation.SplitKeyFile(data)
	if err != nil {
		return fail(stderr, "key split", err)
	}
	if err := os.Mkdir(*out, 0o700); err != nil {
		return fail(stderr, "key split", fmt.Errorf("%w (give a new folder: shares are never overwritten)", err))
	}
	for i, s := range shares {
		p := filepath.Join(*out, fmt.Sprintf("share-%d.txt", i+1))
		if err := os.WriteFile(p, []byte(s+"\n"), 0o600); err != nil {
			return fail(stderr, "key split", err)
		}
	}
	fmt.Fprintf(stderr, "bndmrctl key split: key(s) %s split into %d shares in %s; any %d rebuild it. Give one to each custodian, then delete the folder.\n",
		strings.Join(ids, ", "), len(shares), *out, pseudonymisation.SharesNeeded)
	return 0
}

func keyJoin(_ context.Context, args []string, _, stderr io.Writer) int {
	fs := newFlagSet("key join", "usage: bndmrctl key join --out FILE SHARE_FILE... (- reads share lines typed on standard input)", stderr)
	out := fs.String("out", "", "key file to write (refuses to overwrite; mode 0600)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() == 0 {
		fs.Usage()
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
			return fail(stderr, "key join", err)
		}
		lines = append(lines, strings.TrimSpace(string(b)))
	}
	data, err := pseudonymisation.JoinShares(lines)
	if err != nil {
		return fail(stderr, "key join", err)
	}
	defer clear(data)
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fail(stderr, "key join", fmt.Errorf("%s already exists: a key file is never overwritten", *out))
		}
		return fail(stderr, "key join", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fail(stderr, "key join", err)
	}
	if err := f.Close(); err != nil {
		return fail(stderr, "key join", err)
	}
	ids, _ := pseudonymisation.KeyFileIDs(data)
	fmt.Fprintf(stderr, "bndmrctl key join: key(s) %s rebuilt and checked, written to %s\n", strings.Join(ids, ", "), *out)
	return 0
}

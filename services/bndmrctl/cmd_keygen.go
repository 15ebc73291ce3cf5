package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/bndmr/hub/pseudonymisation"
)

// cmdKeygen writes a new pseudonymisation key file (JSON {key_id, key,
// primary}, mode 0600). It never prints the key.
func cmdKeygen(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("keygen", "usage: bndmrctl keygen --out FILE [--id KEY_ID]", stderr)
	out := fs.String("out", "", "key file to create (refuses to overwrite)")
	id := fs.String("id", time.Now().UTC().Format("2006-01-02"), "key id carried in every record")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	if err := pseudonymisation.WriteKeyFile(*out, *id); err != nil {
		fmt.Fprintf(stderr, "bndmrctl keygen: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "bndmrctl keygen: wrote key %q to %s\n", *id, *out)
	return 0
}

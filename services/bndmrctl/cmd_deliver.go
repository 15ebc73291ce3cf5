package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bndmr/hub/pkg/mailbox"
)

// cmdDeliver appends .eml files to an IMAP mailbox, as a hospital's mail
// would arrive there.
func cmdDeliver(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("deliver", "usage: bndmrctl deliver [--imap ADDR --user U --password P] DIR|FILE.eml...", stderr)
	cfg := imapFlags(fs, "hub@bndmr.test", "IMAP user")
	folder := fs.String("folder", "INBOX", "folder to append to")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var files []string
	for _, p := range fs.Args() {
		st, err := os.Stat(p)
		if err != nil {
			fmt.Fprintln(stderr, "bndmrctl deliver:", err)
			return 2
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		m, _ := filepath.Glob(filepath.Join(p, "*.eml"))
		sort.Strings(m)
		files = append(files, m...)
	}
	var readErr error
	n, err := mailbox.Deliver(ctx, *cfg, *folder, func(yield func([]byte) bool) {
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				readErr = err
				return
			}
			if !yield(b) {
				return
			}
		}
	})
	if err == nil {
		err = readErr
	}
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl deliver: %v (%d delivered)\n", err, n)
		return 1
	}
	fmt.Fprintf(stdout, "deliver: %d mails appended to %s of %s on %s\n", n, *folder, cfg.User, strings.TrimSpace(cfg.Addr))
	return 0
}

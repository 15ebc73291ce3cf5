package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bndmr/hub/pkg/mailbox"
	"github.com/bndmr/hub/pkg/mssante"
)

// cmdMDN reads, from a sender's mailbox, the acknowledgements (MDNs) the
// hub sent for given mails, and prints them as the hospital's IT team reads
// them; or deletes the acknowledgements of earlier runs (demo).
func cmdMDN(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("mdn", flag.ContinueOnError)
	cfg := imapFlags(fs, "hospital@chu.test", "IMAP user: the mailbox the acknowledgements go to")
	folder := fs.String("folder", "INBOX", "folder to read")
	wait := fs.Duration("wait", 0, "wait this long for acknowledgements not yet arrived")
	del := fs.String("delete-matching", "", "instead: delete the acknowledgements whose In-Reply-To contains this text")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: bndmrctl mdn [--imap-addr ADDR --imap-user U --imap-password P] [--wait 30s] MESSAGE-ID...\n"+
			"       bndmrctl mdn [--imap-addr ADDR --imap-user U --imap-password P] --delete-matching TEXT")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || (fs.NArg() == 0) == (*del == "") {
		fs.Usage()
		return 2
	}
	if *del != "" {
		n, err := mailbox.DeleteReplies(ctx, *cfg, *folder, *del)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bndmrctl mdn:", err)
			return 1
		}
		fmt.Printf("mdn: %d acknowledgements answering %q deleted from %s of %s\n", n, *del, *folder, cfg.User)
		return 0
	}
	ids := make([]string, fs.NArg())
	for i, id := range fs.Args() {
		ids[i] = mssante.AngleID(id)
	}
	deadline := time.Now().Add(*wait)
	for {
		got, err := mailbox.Replies(ctx, *cfg, *folder, ids)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bndmrctl mdn:", err)
			return 1
		}
		if len(got) == len(ids) || !time.Now().Before(deadline) {
			return printMDNs(os.Stdout, ids, got)
		}
		select {
		case <-ctx.Done():
			return 1
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// printMDNs writes the latest acknowledgement of each id; 1 when one is
// missing or unreadable.
func printMDNs(w io.Writer, ids []string, got map[string][][]byte) int {
	code := 0
	for i, id := range ids {
		if i > 0 {
			fmt.Fprintln(w)
		}
		replies := got[id]
		if len(replies) == 0 {
			fmt.Fprintf(w, "no acknowledgement answers %s\n", id)
			code = 1
			continue
		}
		m, err := mssante.ReadMDN(replies[len(replies)-1])
		if err != nil {
			fmt.Fprintf(w, "the acknowledgement of %s cannot be read: %v\n", id, err)
			code = 1
			continue
		}
		fmt.Fprintf(w, "From:    %s\nTo:      %s\nDate:    %s\nSubject: %s\n", m.From, m.To, m.Date.Format(time.RFC1123Z), m.Subject)
		fmt.Fprintf(w, "  Original-Message-ID: %s\n  Disposition: %s\n", m.OriginalMessageID, m.Disposition)
		if m.Error != "" {
			fmt.Fprintf(w, "  Error: %s\n", m.Error)
		}
		fmt.Fprintln(w)
		for _, l := range strings.Split(strings.TrimRight(m.Text, "\n"), "\n") {
			fmt.Fprintln(w, strings.TrimRight("  | "+l, " "))
		}
	}
	return code
}

// Package mailboxtest opens IMAP sessions on the test Dovecot (`make up`,
// scripts/up.sh) and gives a test folders of its own there. Test support:
// only _test.go files import it.
package mailboxtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Password is the password of every user of the test Dovecot.
const Password = "secret"

// Login opens a session as user on the test Dovecot at addr (no TLS on
// loopback); the caller closes it.
func Login(t testing.TB, addr, user string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatalf("IMAP %s: %v", addr, err)
	}
	if err := c.Login(user, Password).Wait(); err != nil {
		c.Close()
		t.Fatalf("IMAP login as %s: %v", user, err)
	}
	return c
}

// Folders creates the folders in user's mailbox; they are deleted, with
// what they hold, when the test ends.
func Folders(t testing.TB, addr, user string, names ...string) {
	t.Helper()
	c := Login(t, addr, user)
	defer c.Close()
	for _, f := range names {
		if err := c.Create(f, nil).Wait(); err != nil {
			t.Fatalf("creating %s in %s's mailbox: %v", f, user, err)
		}
	}
	t.Cleanup(func() {
		c, err := imapclient.DialInsecure(addr, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if c.Login(user, Password).Wait() != nil {
			return
		}
		for _, f := range names {
			_ = c.Delete(f).Wait()
		}
	})
}

// Pair creates an inbox and a processed folder of the test's own in user's
// mailbox ("t<nanoseconds>" and the same with "-done"), so that tests never
// see each other's mail; they are deleted when the test ends.
func Pair(t testing.TB, addr, user string) (inbox, processed string) {
	t.Helper()
	inbox = fmt.Sprintf("t%d", time.Now().UnixNano())
	processed = inbox + "-done"
	Folders(t, addr, user, inbox, processed)
	return inbox, processed
}

// UIDNext is the UID the next mail of user's INBOX will have: mails from
// there on are the ones of what the test does next.
func UIDNext(t testing.TB, addr, user string) imap.UID {
	t.Helper()
	c := Login(t, addr, user)
	defer c.Close()
	st, err := c.Status("INBOX", &imap.StatusOptions{UIDNext: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return st.UIDNext
}

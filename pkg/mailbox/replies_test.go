package mailbox

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestRepliesAndDeleteReplies: replies are found by the id they answer,
// and deleting by a match removes those alone.
func TestRepliesAndDeleteReplies(t *testing.T) {
	addr := dovecot(t)
	inbox, _ := testFolders(t, addr)
	cfg := Config{Addr: addr, TLS: "none", Auth: "plain", User: "hub@bndmr.test", Password: "secret"}
	reply := func(to, body string) []byte {
		return []byte(fmt.Sprintf("From: hub@bndmr.test\r\nTo: hospital@chu.test\r\nSubject: MDN\r\nMessage-ID: <r.%s>\r\n"+
			"In-Reply-To: %s\r\n\r\n%s\r\n", strings.Trim(to, "<>"), to, body))
	}
	mails := [][]byte{reply("<demo1.1@a.test>", "one"), reply("<demo1.2@a.test>", "two"), reply("<other.3@a.test>", "three"),
		[]byte("From: x@a.test\r\nSubject: no reply\r\n\r\nfour\r\n")}
	ctx := context.Background()
	if _, err := Deliver(ctx, cfg, inbox, func(yield func([]byte) bool) {
		for _, m := range mails {
			if !yield(m) {
				return
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	got, err := Replies(ctx, cfg, inbox, []string{"<demo1.2@a.test>", "<other.3@a.test>", "<none@a.test>"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got["<demo1.2@a.test>"]) != 1 || !strings.Contains(string(got["<demo1.2@a.test>"][0]), "two") ||
		len(got["<other.3@a.test>"]) != 1 {
		t.Errorf("replies: %q", got)
	}
	if _, err := DeleteReplies(ctx, cfg, inbox, ""); err == nil {
		t.Error("an empty match was accepted")
	}
	n, err := DeleteReplies(ctx, cfg, inbox, "<demo1.")
	if err != nil || n != 2 {
		t.Fatalf("deleted %d, %v; want 2", n, err)
	}
	if left, err := Waiting(ctx, Config{Addr: addr, TLS: "none", Auth: "plain", User: "hub@bndmr.test", Password: "secret", Inbox: inbox}); err != nil || left != 2 {
		t.Errorf("%d messages left, %v; want 2 (the other reply and the plain mail)", left, err)
	}
}

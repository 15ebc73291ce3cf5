package mailbox

import (
	"context"
	"fmt"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Replies returns, for each of the message ids given, the raw messages of
// the folder that answer it (In-Reply-To contains the id: IMAP SEARCH
// HEADER matches substrings), oldest first: how a hospital, a demo or a
// test reads the acknowledgements of the mails it sent. An id nothing
// answers yet is absent from the map.
func Replies(ctx context.Context, cfg Config, folder string, ids []string) (map[string][][]byte, error) {
	c, done, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer done()
	if _, err := c.Select(folderOr(folder, cfg), &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return nil, fmt.Errorf("SELECT %s: %w", folderOr(folder, cfg), err)
	}
	out := map[string][][]byte{}
	for _, id := range ids {
		uids, err := searchInReplyTo(c, id)
		if err != nil {
			return nil, err
		}
		if len(uids) == 0 {
			continue
		}
		section := &imap.FetchItemBodySection{Peek: true}
		msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		if err != nil {
			return nil, fmt.Errorf("FETCH the replies to %s: %w", id, err)
		}
		for _, m := range msgs {
			out[id] = append(out[id], m.FindBodySection(section))
		}
	}
	_ = c.Logout().Wait()
	return out, nil
}

// DeleteReplies removes from the folder the messages whose In-Reply-To
// contains match (a substring, never empty) and returns how many: a demo
// clears the acknowledgements of its earlier runs, and nothing else.
func DeleteReplies(ctx context.Context, cfg Config, folder, match string) (int, error) {
	if match == "" {
		return 0, fmt.Errorf("deleting replies: an empty match would select every reply")
	}
	c, done, err := open(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer done()
	if _, err := c.Select(folderOr(folder, cfg), nil).Wait(); err != nil {
		return 0, fmt.Errorf("SELECT %s: %w", folderOr(folder, cfg), err)
	}
	uids, err := searchInReplyTo(c, match)
	if err != nil || len(uids) == 0 {
		return 0, err
	}
	set := imap.UIDSetNum(uids...)
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return 0, fmt.Errorf("flagging %d replies deleted: %w", len(uids), err)
	}
	// UID EXPUNGE: only these, not what another client flagged meanwhile.
	if err := c.UIDExpunge(set).Close(); err != nil {
		return 0, fmt.Errorf("expunging %d replies: %w", len(uids), err)
	}
	_ = c.Logout().Wait()
	return len(uids), nil
}

// searchInReplyTo: the UIDs of the selected folder's messages whose
// In-Reply-To contains s.
func searchInReplyTo(c *imapclient.Client, s string) ([]imap.UID, error) {
	data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "In-Reply-To", Value: s}}}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("SEARCH HEADER In-Reply-To %q: %w", s, err)
	}
	return data.AllUIDs(), nil
}

func folderOr(folder string, cfg Config) string {
	switch {
	case folder != "":
		return folder
	case cfg.Inbox != "":
		return cfg.Inbox
	}
	return "INBOX"
}

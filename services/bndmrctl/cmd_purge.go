package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/pkg/bus"
)

// cmdPurge removes one mail's identified traces from NATS on request (a
// patient's objection, a mail sent to the hub by mistake): its messages in
// BNDMR_MAIL, its object in the object store, the BNDMR_IDENTIFIED messages
// of its documents and the quarantine entries naming it. Each is erased
// with SecureDeleteMsg (the bytes overwritten in the store, not only
// unindexed). Pseudonymised rows in ClickHouse are not touched.
func cmdPurge(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("purge", "usage: bndmrctl purge --mail MAIL_ID [flags]", stderr)
	var c bus.Config
	natsFlags(fs, &c, "NATS user allowed to read and delete the messages of the mail and identified streams")
	mailID := fs.String("mail", "", "MAIL_ID (hex, as in the quarantine, the logs and the receipts) of the mail to purge")
	timeout := fs.Duration("timeout", 10*time.Minute, "longest run (the streams are scanned message by message)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 || *mailID == "" {
		fs.Usage()
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	nc, js, ok := connectNATS(ctx, c, "purge", stderr)
	if !ok {
		return 1
	}
	defer nc.Close()
	n, err := purgeMail(ctx, js, *mailID, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl purge: %v (%d erased before the error)\n", err, n)
		return 1
	}
	fmt.Fprintf(stdout, "mail %s: %d messages erased\n", *mailID, n)
	return 0
}

// naming is what a message of the hub's streams says of the mail it is
// about, wherever it puts it.
type naming struct {
	MailID string `json:"mail_id"` // MailRaw, Extracted
	Object string `json:"object"`  // MailRaw of a large mail
	Mail   *struct {
		MailID string `json:"mail_id"`
		Object string `json:"object"`
	} `json:"mail"` // Quarantined by the validator
	Event *struct {
		MailID string `json:"mail_id"`
	} `json:"event"` // Quarantined by a later stage
}

func (n naming) names(mailID string) bool {
	return n.MailID == mailID || (n.Mail != nil && n.Mail.MailID == mailID) || (n.Event != nil && n.Event.MailID == mailID)
}

// purgeMail erases every message naming mailID and the objects they refer
// to, and returns how many messages (object chunks included) it erased.
func purgeMail(ctx context.Context, js jetstream.JetStream, mailID string, w io.Writer) (int, error) {
	erased := 0
	objects := map[string]bool{}
	for _, name := range []string{bus.StreamMail, bus.StreamIdentified, bus.StreamQuarantine} {
		stream, err := js.Stream(ctx, name)
		if err != nil {
			return erased, fmt.Errorf("opening stream %s: %w", name, err)
		}
		n, err := eraseMatching(ctx, stream, func(m *jetstream.RawStreamMsg) bool {
			var v naming
			if json.Unmarshal(m.Data, &v) != nil || !v.names(mailID) {
				return false
			}
			if v.Object != "" {
				objects[v.Object] = true
			}
			if v.Mail != nil && v.Mail.Object != "" {
				objects[v.Mail.Object] = true
			}
			return true
		})
		erased += n
		fmt.Fprintf(w, "%s: %d erased\n", name, n)
		if err != nil {
			return erased, err
		}
	}
	if len(objects) == 0 {
		return erased, nil
	}
	obs, err := js.ObjectStore(ctx, bus.ObjectStore)
	if err != nil {
		return erased, fmt.Errorf("opening object store %s: %w", bus.ObjectStore, err)
	}
	objStream, err := js.Stream(ctx, "OBJ_"+bus.ObjectStore)
	if err != nil {
		return erased, fmt.Errorf("opening the object store's stream: %w", err)
	}
	for name := range objects {
		info, err := obs.GetInfo(ctx, name, jetstream.GetObjectInfoShowDeleted())
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			continue
		}
		if err != nil {
			return erased, fmt.Errorf("object %s: %w", name, err)
		}
		// The chunks, erased in place, then the object's metadata.
		chunks := "$O." + bus.ObjectStore + ".C." + info.NUID
		chunked, err := eraseMatching(ctx, objStream, func(m *jetstream.RawStreamMsg) bool { return m.Subject == chunks })
		erased += chunked
		if err != nil {
			return erased, err
		}
		if !info.Deleted {
			if err := obs.Delete(ctx, name); err != nil {
				return erased, fmt.Errorf("deleting object %s: %w", name, err)
			}
		}
		meta := "$O." + bus.ObjectStore + ".M."
		n, err := eraseMatching(ctx, objStream, func(m *jetstream.RawStreamMsg) bool {
			var v struct {
				Name string `json:"name"`
			}
			return len(m.Subject) > len(meta) && m.Subject[:len(meta)] == meta && json.Unmarshal(m.Data, &v) == nil && v.Name == name
		})
		erased += n
		fmt.Fprintf(w, "object %s: %d chunks and %d records erased\n", name, chunked, n)
		if err != nil {
			return erased, err
		}
	}
	return erased, nil
}

// eraseMatching scans stream and securely deletes each message match picks.
func eraseMatching(ctx context.Context, stream jetstream.Stream, match func(*jetstream.RawStreamMsg) bool) (int, error) {
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading stream: %w", err)
	}
	name, st := info.Config.Name, info.State
	n := 0
	for seq := st.FirstSeq; seq > 0 && seq <= st.LastSeq; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("%s message %d: %w", name, seq, err)
		}
		if !match(m) {
			continue
		}
		if err := stream.SecureDeleteMsg(ctx, seq); err != nil {
			return n, fmt.Errorf("erasing %s message %d: %w", name, seq, err)
		}
		n++
	}
	return n, nil
}

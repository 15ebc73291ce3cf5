package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/validator"
)

// cmdQuarantine lists, inspects and replays the mails the hub quarantined
// (stream BNDMR_QUARANTINE). The ID of a quarantined mail is its sequence in
// that stream, as `list` prints it.
func cmdQuarantine(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("quarantine", `usage: bndmrctl quarantine [flags] list
       bndmrctl quarantine [flags] inspect ID
       bndmrctl quarantine [flags] replay ID

list     the quarantined mails, most recent last (ID = sequence in BNDMR_QUARANTINE)
inspect  the reason, the mail's identity and its header block (--raw: the whole mail)
replay   publish the mail again on bndmr.mail.raw (Nats-Msg-Id MailID/replay/ID), so
         the validator sees it again; an entry a later stage made (loader, ack)
         republishes the message it kept on its own subject (--from-mail: the
         original mail instead); an entry of the identified stage
         (pseudonymisation), which keeps no copy, replays the original mail
         from BNDMR_MAIL; replaying the same ID twice is deduplicated`, stderr)
	var c bus.Config
	natsFlags(fs, &c, "NATS user allowed to read the quarantine and publish mails")
	limit := fs.Int("limit", 100, "list: the most recent N entries (0: all)")
	raw := fs.Bool("raw", false, "inspect: write the raw mail to stdout instead of the summary")
	fromMail := fs.Bool("from-mail", false, "replay: an entry a later stage made goes through the whole pipeline again from its original mail, rather than republishing the message it kept")
	sub, rest, ok := parseSubcommand(fs, args, map[string]int{"list": 0, "inspect": 1, "replay": 1})
	if !ok {
		return 2
	}
	var seq uint64
	if len(rest) == 1 {
		var err error
		if seq, err = strconv.ParseUint(rest[0], 10, 64); err != nil || seq == 0 {
			fmt.Fprintf(stderr, "bndmrctl quarantine %s: ID %q is not a sequence number from `quarantine list`\n", sub, rest[0])
			return 2
		}
	}

	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	nc, js, ok := connectNATS(ctx, c, "quarantine", stderr)
	if !ok {
		return 1
	}
	defer nc.Close()
	stream, err := js.Stream(ctx, bus.StreamQuarantine)
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl quarantine: opening stream %s: %v\n", bus.StreamQuarantine, err)
		return 1
	}
	switch sub {
	case "list":
		err = listQuarantine(ctx, stream, *limit, stdout)
	case "inspect":
		err = inspectQuarantine(ctx, js, stream, seq, *raw, stdout)
	case "replay":
		err = replayQuarantine(ctx, js, stream, seq, *fromMail, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl quarantine %s: %v\n", sub, err)
		return 1
	}
	return 0
}

func listQuarantine(ctx context.Context, stream jetstream.Stream, limit int, w io.Writer) error {
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading %s: %w", bus.StreamQuarantine, err)
	}
	st := info.State
	first := st.FirstSeq
	if limit > 0 && st.LastSeq >= uint64(limit) && st.LastSeq-uint64(limit)+1 > first {
		first = st.LastSeq - uint64(limit) + 1
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAT\tSTAGE\tCODE\tMAILBOX\tMAIL_ID\tSIZE\tREASON")
	for seq := first; st.Msgs > 0 && seq <= st.LastSeq; seq++ {
		q, err := getQuarantined(ctx, stream, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // removed by retention or by an operator
		}
		if err != nil {
			fmt.Fprintf(tw, "%d\t\t\t\t\t\t\t(unreadable entry: %v)\n", seq, err)
			continue
		}
		from, mailID, size := q.Mail.Mailbox, q.Mail.MailID, q.Mail.Size
		if e := q.Event; e != nil {
			// A later stage's message: where it came from instead of a mailbox.
			from, mailID, size = e.Stream, e.MailID, int64(len(e.Data))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", seq, q.At.Format(time.RFC3339), q.Stage, q.Code, from,
			short(mailID, 16), size, short(oneLine(q.Reason), 100))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d quarantined mails in %s\n", st.Msgs, bus.StreamQuarantine)
	return nil
}

func inspectQuarantine(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, seq uint64, raw bool, w io.Writer) error {
	q, err := getQuarantined(ctx, stream, seq)
	if err != nil {
		return err
	}
	if q.Event != nil {
		return inspectEvent(seq, q, raw, w)
	}
	body, rawErr := mailBytes(ctx, js, q.Mail)
	if raw {
		if rawErr != nil {
			return rawErr
		}
		_, err := w.Write(body)
		return err
	}
	m := q.Mail
	fmt.Fprintf(w, "ID:           %d\nQuarantined:  %s by %s\nCode:         %s\nReason:       %s\n", seq, q.At.Format(time.RFC3339), q.Stage, q.Code, q.Reason)
	fmt.Fprintf(w, "Mail ID:      %s\nMailbox:      %s (UIDVALIDITY %d, UID %d)\nReceived:     %s\nSize:         %d bytes, SHA-256 %s\n",
		m.MailID, m.Mailbox, m.UIDValidity, m.UID, m.ReceivedAt.Format(time.RFC3339), m.Size, m.SHA256)
	if m.Object != "" {
		fmt.Fprintf(w, "Stored in:    object %s of %s\n", m.Object, bus.ObjectStore)
	}
	if rawErr != nil {
		fmt.Fprintf(w, "Raw mail:     not available: %v\n", rawErr)
		return nil
	}
	fmt.Fprintf(w, "Header:\n%s\n", indent(headerBlock(body, 8<<10)))
	return nil
}

func replayQuarantine(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, seq uint64, fromMail bool, w io.Writer) error {
	q, err := getQuarantined(ctx, stream, seq)
	if err != nil {
		return err
	}
	if e := q.Event; e != nil {
		if len(e.Data) > 0 && !fromMail {
			return replayEvent(ctx, js, seq, q, w)
		}
		if e.MailID == "" {
			return fmt.Errorf("entry %d (%s) names no mail: nothing to replay it from", seq, q.Code)
		}
		m, mailSeq, err := originalMail(ctx, js, e.MailID, e.MailSeq)
		if err != nil {
			return fmt.Errorf("entry %d (%s): %w", seq, q.Code, err)
		}
		fmt.Fprintf(w, "entry %d (%s, %s): replaying from the original mail, %s sequence %d\n", seq, q.Stage, q.Code, bus.StreamMail, mailSeq)
		q.Mail = m
	}
	m := q.Mail
	if m.MailID == "" || m.MailID == "unreadable" || m.V != events.MailRawV {
		return fmt.Errorf("entry %d holds no usable mail event (%s: %s); nothing to replay", seq, q.Code, q.Reason)
	}
	// The bytes must still be there: a replay of a reference to nothing would
	// only come back to the quarantine.
	if _, err := mailBytes(ctx, js, m); err != nil {
		return err
	}
	id := fmt.Sprintf("%s/replay/%d", m.MailID, seq)
	ack, err := bus.Publish(ctx, js, events.SubjectMailRaw, id, m)
	if err != nil {
		return err
	}
	if ack.Duplicate {
		fmt.Fprintf(w, "entry %d was already replayed (Nats-Msg-Id %s, stream sequence %d)\n", seq, id, ack.Sequence)
		return nil
	}
	fmt.Fprintf(w, "replayed entry %d: mail %s republished on %s (Nats-Msg-Id %s, stream %s sequence %d)\n",
		seq, m.MailID, events.SubjectMailRaw, id, ack.Stream, ack.Sequence)
	return nil
}

func getQuarantined(ctx context.Context, stream jetstream.Stream, seq uint64) (events.Quarantined, error) {
	var q events.Quarantined
	msg, err := stream.GetMsg(ctx, seq)
	if err != nil {
		return q, fmt.Errorf("entry %d of %s: %w", seq, bus.StreamQuarantine, err)
	}
	if err := json.Unmarshal(msg.Data, &q); err != nil {
		return q, fmt.Errorf("entry %d of %s is not a quarantine event: %w", seq, bus.StreamQuarantine, err)
	}
	if q.V != events.QuarantineV {
		return q, fmt.Errorf("entry %d of %s has schema version %d, this tool reads %d", seq, bus.StreamQuarantine, q.V, events.QuarantineV)
	}
	return q, nil
}

// mailBytes returns the raw mail, inline or from the object store, as the
// validator reads it; an event that carries neither is an error here.
func mailBytes(ctx context.Context, js jetstream.JetStream, m events.MailRaw) ([]byte, error) {
	if m.Object == "" && m.Raw == nil {
		return nil, errors.New("the event carries neither the mail nor an object reference")
	}
	return validator.Raw(ctx, js, m)
}

// headerBlock is the mail up to its first empty line, at most max bytes.
func headerBlock(b []byte, max int) string {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		b = b[:i]
	} else if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		b = b[:i]
	}
	if len(b) > max {
		b = append(b[:max:max], []byte("\n[…]")...)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\n  ")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// inspectEvent shows an entry a later stage made (pkg/stage): the message
// that failed rather than a mail.
func inspectEvent(seq uint64, q events.Quarantined, raw bool, w io.Writer) error {
	e := q.Event
	if raw {
		if len(e.Data) == 0 {
			return fmt.Errorf("entry %d keeps no copy of its message (identified data stays in %s)", seq, e.Stream)
		}
		_, err := w.Write(e.Data)
		return err
	}
	fmt.Fprintf(w, "ID:           %d\nQuarantined:  %s by %s\nCode:         %s\nReason:       %s\n", seq, q.At.Format(time.RFC3339), q.Stage, q.Code, q.Reason)
	fmt.Fprintf(w, "Message:      %s sequence %d, subject %s, Nats-Msg-Id %s\nPublished:    %s, delivered %d time(s)\nMail ID:      %s\n",
		e.Stream, e.Seq, e.Subject, e.MsgID, e.Published.Format(time.RFC3339), e.Deliveries, e.MailID)
	if len(e.Data) == 0 {
		fmt.Fprintln(w, "Content:      not kept (identified data); replay takes the original mail from "+bus.StreamMail)
	} else {
		fmt.Fprintf(w, "Content:      %d bytes (--raw writes them)\n", len(e.Data))
	}
	return nil
}

// originalMail finds the mail mailID in BNDMR_MAIL: at seq when the entry
// gives it, else by scanning the stream (its first publication; a replay
// republishes the same mail).
func originalMail(ctx context.Context, js jetstream.JetStream, mailID string, seq uint64) (events.MailRaw, uint64, error) {
	stream, err := js.Stream(ctx, bus.StreamMail)
	if err != nil {
		return events.MailRaw{}, 0, fmt.Errorf("opening stream %s: %w", bus.StreamMail, err)
	}
	read := func(seq uint64) (events.MailRaw, error) {
		var m events.MailRaw
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			return m, err
		}
		if err := json.Unmarshal(msg.Data, &m); err != nil {
			return m, err
		}
		return m, nil
	}
	if seq > 0 {
		if m, err := read(seq); err == nil && m.MailID == mailID {
			return m, seq, nil
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return events.MailRaw{}, 0, fmt.Errorf("reading stream %s: %w", bus.StreamMail, err)
	}
	for s := info.State.FirstSeq; s > 0 && s <= info.State.LastSeq; s++ {
		m, err := read(s)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return events.MailRaw{}, 0, fmt.Errorf("%s message %d: %w", bus.StreamMail, s, err)
		}
		if m.MailID == mailID {
			return m, s, nil
		}
	}
	return events.MailRaw{}, 0, fmt.Errorf("mail %s is no longer in %s (kept %s, see bndmrctl streams --nats-mail-max-age): it cannot be replayed; ask the hospital to send the document again",
		mailID, bus.StreamMail, info.Config.MaxAge)
}

// replayEvent publishes the kept message again on its subject, for the stage
// that quarantined it. The stages' writes are idempotent, and the id makes a
// second replay of the same entry a duplicate.
func replayEvent(ctx context.Context, js jetstream.JetStream, seq uint64, q events.Quarantined, w io.Writer) error {
	e := q.Event
	if len(e.Data) == 0 {
		return fmt.Errorf("entry %d (%s, mail %s) keeps no copy of its identified message; replay the mail it came from", seq, q.Code, e.MailID)
	}
	id := e.MsgID
	if id == "" {
		id = fmt.Sprintf("%s/%d", e.Stream, e.Seq)
	}
	id = fmt.Sprintf("%s/replay/%d", id, seq)
	msg := &nats.Msg{Subject: e.Subject, Data: e.Data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, id)
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		return fmt.Errorf("republishing entry %d on %s: %w", seq, e.Subject, err)
	}
	if ack.Duplicate {
		fmt.Fprintf(w, "entry %d was already replayed (Nats-Msg-Id %s, stream sequence %d)\n", seq, id, ack.Sequence)
		return nil
	}
	fmt.Fprintf(w, "replayed entry %d: message republished on %s (Nats-Msg-Id %s, stream %s sequence %d)\n", seq, e.Subject, id, ack.Stream, ack.Sequence)
	return nil
}

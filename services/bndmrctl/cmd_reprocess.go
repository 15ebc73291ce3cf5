package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/events"
)

// reprocessOptions says which mails to send again.
type reprocessOptions struct {
	since, until time.Time
	finess       string
	all          bool // every mail, not only those with a refusal
	run          string
	dryRun       bool
}

// cmdReprocess sends original mails through the pipeline again, from
// BNDMR_MAIL: after a kit or validator fix (documents refused by mistake
// now pass) or after identified documents expired unread
// (docs/operations.md, "Reprocessing from the originals").
func cmdReprocess(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("reprocess", `usage: bndmrctl reprocess --since TIME [--until TIME] [--finess FINESS] [--all] [--run NAME] [--dry-run] [flags]

Reads the outcomes (BNDMR_OUTCOME) of the mails received in the window, picks
those with a refused document (or every mail with --all), and publishes each
original mail again from BNDMR_MAIL on bndmr.mail.raw. The validator running
now (its kit, its settings) checks them again; what passes is pseudonymised
and loaded under the keys it always had in ClickHouse (no duplicate row); the
receipts take the new verdict; the sender gets no second acknowledgement.`, stderr)
	var c bus.Config
	natsFlags(fs, &c, "NATS user allowed to read BNDMR_OUTCOME and BNDMR_MAIL and to publish mails")
	since := fs.String("since", "", "mails received from this time (RFC 3339 or YYYY-MM-DD, UTC); required")
	until := fs.String("until", "", "and before this time (default: now)")
	var o reprocessOptions
	fs.StringVar(&o.finess, "finess", "", "only the mails with a document of this establishment (FINESS); a mail refused as a whole names none and is left out")
	fs.BoolVar(&o.all, "all", false, "every mail of the window, not only those with a refused document (after identified documents expired, or a pseudonymisation fix)")
	fs.StringVar(&o.run, "run", "", "name of this run, part of every Nats-Msg-Id (MailID/reprocess/RUN): the same run again publishes nothing twice; default: the time of the run")
	fs.BoolVar(&o.dryRun, "dry-run", false, "list the mails, publish nothing")
	timeout := fs.Duration("timeout", 30*time.Minute, "longest run")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	var err error
	if o.since, err = parseWhen(*since); err != nil || *since == "" {
		fmt.Fprintf(stderr, "bndmrctl reprocess: --since %q: want RFC 3339 or YYYY-MM-DD\n", *since)
		return 2
	}
	o.until = time.Now().UTC()
	if *until != "" {
		if o.until, err = parseWhen(*until); err != nil {
			fmt.Fprintf(stderr, "bndmrctl reprocess: --until %q: want RFC 3339 or YYYY-MM-DD\n", *until)
			return 2
		}
	}
	if o.run == "" {
		o.run = time.Now().UTC().Format("20060102T150405Z")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	nc, js, ok := connectNATS(ctx, c, "reprocess", stderr)
	if !ok {
		return 1
	}
	defer nc.Close()
	sum, err := reprocessMails(ctx, js, o, stdout)
	fmt.Fprintf(stdout, "run %s: %d outcomes read, %d mails picked, %d published, %d already published by this run, %d no longer in %s\n",
		o.run, sum.outcomes, sum.picked, sum.published, sum.duplicates, sum.missing, bus.StreamMail)
	if err != nil {
		fmt.Fprintln(stderr, "bndmrctl reprocess:", err)
		return 1
	}
	if sum.missing > 0 {
		return 1
	}
	return 0
}

func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

type reprocessSummary struct {
	outcomes, picked, published, duplicates, missing int
}

// reprocessMails picks the mails from their latest outcome and publishes
// their originals again.
func reprocessMails(ctx context.Context, js jetstream.JetStream, o reprocessOptions, w io.Writer) (reprocessSummary, error) {
	var sum reprocessSummary
	latest, err := latestOutcomes(ctx, js, o.since, o.until, &sum)
	if err != nil {
		return sum, err
	}
	var picked []events.MailOutcome
	for _, out := range latest {
		if pick(out, o) {
			picked = append(picked, out)
		}
	}
	sort.Slice(picked, func(i, j int) bool { return picked[i].MailSeq < picked[j].MailSeq })
	sum.picked = len(picked)
	for _, out := range picked {
		m, seq, err := originalMail(ctx, js, out.MailID, out.MailSeq)
		if err != nil {
			sum.missing++
			fmt.Fprintf(w, "mail %s (received %s): %v\n", out.MailID, out.ReceivedAt.Format(time.RFC3339), err)
			continue
		}
		if _, err := mailBytes(ctx, js, m); err != nil {
			sum.missing++
			fmt.Fprintf(w, "mail %s: %v\n", out.MailID, err)
			continue
		}
		id := fmt.Sprintf("%s/reprocess/%s", m.MailID, o.run)
		if o.dryRun {
			fmt.Fprintf(w, "would publish mail %s (%s sequence %d, received %s) as %s\n", m.MailID, bus.StreamMail, seq, m.ReceivedAt.Format(time.RFC3339), id)
			continue
		}
		ack, err := bus.Publish(ctx, js, events.SubjectMailRaw, id, m)
		if err != nil {
			return sum, err
		}
		if ack.Duplicate {
			sum.duplicates++
			continue
		}
		sum.published++
		fmt.Fprintf(w, "published mail %s (%s sequence %d) as %s\n", m.MailID, bus.StreamMail, seq, id)
	}
	return sum, nil
}

// pick: a mail of the window with a refusal (or any, with all), and a
// document of the establishment when one is asked for.
func pick(out events.MailOutcome, o reprocessOptions) bool {
	if out.ReceivedAt.Before(o.since) || !out.ReceivedAt.Before(o.until) || out.IsReport {
		return false
	}
	refused := out.Rejected != nil
	ofFINESS := false
	for _, d := range out.Documents {
		refused = refused || !d.Accepted
		ofFINESS = ofFINESS || d.FINESS == o.finess
	}
	return (o.all || refused) && (o.finess == "" || ofFINESS)
}

// latestOutcomes reads BNDMR_OUTCOME from since (an outcome is published
// after its mail was received) and keeps the last outcome of each mail: a
// mail replayed or reprocessed before has its latest verdict. It reads
// message by message (no consumer: the operator's NATS user may read the
// stream, not create consumers on it), from the first message published
// at or after since, found by bisection.
func latestOutcomes(ctx context.Context, js jetstream.JetStream, since, until time.Time, sum *reprocessSummary) (map[string]events.MailOutcome, error) {
	stream, err := js.Stream(ctx, bus.StreamOutcome)
	if err != nil {
		return nil, fmt.Errorf("opening stream %s: %w", bus.StreamOutcome, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading stream %s: %w", bus.StreamOutcome, err)
	}
	out := map[string]events.MailOutcome{}
	first, last := info.State.FirstSeq, info.State.LastSeq
	if info.State.Msgs == 0 {
		return out, nil
	}
	get := func(seq uint64) (*jetstream.RawStreamMsg, error) {
		m, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s message %d: %w", bus.StreamOutcome, seq, err)
		}
		return m, nil
	}
	// The stream only loses messages at its head (retention), so a
	// missing message counts as before since.
	lo, hi := first, last+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		m, err := get(mid)
		if err != nil {
			return nil, err
		}
		if m == nil || m.Time.Before(since) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	for seq := lo; seq <= last; seq++ {
		m, err := get(seq)
		if err != nil {
			return nil, err
		}
		if m == nil {
			continue
		}
		var o events.MailOutcome
		if err := json.Unmarshal(m.Data, &o); err != nil || o.V != events.OutcomeV || o.MailID == "" {
			continue
		}
		sum.outcomes++
		if o.ReceivedAt.Before(until) {
			out[o.MailID] = o
		}
	}
	return out, nil
}

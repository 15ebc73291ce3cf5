package validator

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/bus/bustest"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/mssante"
	"github.com/bndmr/hub/pkg/stage"
)

// TestHandlePublishes runs handle on a real raw-mail delivery (embedded
// NATS): the accepted document and the outcome are published under ids
// derived from the raw message's own id, and the outcome carries the raw
// message's stream sequence, by which the acknowledgement finds the
// original mail.
func TestHandlePublishes(t *testing.T) {
	v := testValidator(t, Config{})
	js := bustest.Start(t).JS
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	good, _ := goodMail(t)
	// Two mails before ours, so that its sequence is not 1.
	for i := range 3 {
		m := events.MailRaw{V: events.MailRawV, MailID: fmt.Sprintf("m%d", i), Raw: good, ReceivedAt: time.Now()}
		if _, err := bus.Publish(ctx, js, events.SubjectMailRaw, fmt.Sprintf("raw-%d", i), m); err != nil {
			t.Fatal(err)
		}
	}
	d := lastDelivery(ctx, t, js)
	if err := v.handle(ctx, js, d); err != nil {
		t.Fatal(err)
	}
	var out events.MailOutcome
	if id := lastOn(ctx, t, js, events.SubjectOutcome, &out); id != "raw-2" {
		t.Errorf("outcome published as %q, want raw-2", id)
	}
	if out.MailSeq != d.Meta.Sequence.Stream || out.MailSeq != 3 || out.MailID != "m2" {
		t.Errorf("outcome mail %s, sequence %d; want m2, %d", out.MailID, out.MailSeq, d.Meta.Sequence.Stream)
	}
	var ext events.Extracted
	if id := lastOn(ctx, t, js, events.SubjectExtracted, &ext); id != "raw-2/0" || ext.MailID != "m2" {
		t.Errorf("document published as %q (mail %s), want raw-2/0 (m2)", id, ext.MailID)
	}

	// A mail refused for what it holds is answered, not quarantined.
	bad := events.MailRaw{V: events.MailRawV, MailID: "bad", Raw: []byte("not a mail"), ReceivedAt: time.Now()}
	if _, err := bus.Publish(ctx, js, events.SubjectMailRaw, "raw-bad", bad); err != nil {
		t.Fatal(err)
	}
	if err := v.handle(ctx, js, lastDelivery(ctx, t, js)); err != nil {
		t.Fatal(err)
	}
	if id := lastOn(ctx, t, js, events.SubjectOutcome, &out); id != "raw-bad" || out.Rejected == nil {
		t.Errorf("outcome of the refused mail: %q, %+v", id, out.Rejected)
	}
	if n := messagesOn(ctx, t, js, events.SubjectQuarantine); n != 0 {
		t.Errorf("%d messages quarantined for a refused mail, want 0", n)
	}

	// A mail the hub cannot read at all is kept in the quarantine.
	if err := v.quarantine(ctx, js, d.Event, mssante.CodeInternal, "boom"); err != nil {
		t.Fatal(err)
	}
	var q events.Quarantined
	if id := lastOn(ctx, t, js, events.SubjectQuarantine, &q); id != "validator/m2/"+mssante.CodeInternal || q.Reason != "boom" || q.Mail.MailID != "m2" {
		t.Errorf("quarantined as %q: %+v", id, q)
	}
	if got := testutil.ToFloat64(v.mails.WithLabelValues("quarantined")); got != 1 {
		t.Errorf("quarantined count %v, want 1", got)
	}
}

// lastDelivery reads the last raw mail as the stage runtime hands it over.
func lastDelivery(ctx context.Context, t *testing.T, js jetstream.JetStream) stage.Delivery[events.MailRaw] {
	t.Helper()
	name, err := js.StreamNameBySubject(ctx, events.SubjectMailRaw)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.SubjectMailRaw}, DeliverPolicy: jetstream.DeliverLastPolicy})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := msg.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	var m events.MailRaw
	if err := json.Unmarshal(msg.Data(), &m); err != nil {
		t.Fatal(err)
	}
	return stage.Delivery[events.MailRaw]{Event: m, Msg: msg, Meta: meta}
}

// streamOf is the stream that holds subject.
func streamOf(ctx context.Context, t *testing.T, js jetstream.JetStream, subject string) jetstream.Stream {
	t.Helper()
	name, err := js.StreamNameBySubject(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// messagesOn counts the messages of the stream that holds subject.
func messagesOn(ctx context.Context, t *testing.T, js jetstream.JetStream, subject string) uint64 {
	t.Helper()
	info, err := streamOf(ctx, t, js, subject).Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// lastOn decodes the last message on subject into v and returns its id.
func lastOn(ctx context.Context, t *testing.T, js jetstream.JetStream, subject string, v any) string {
	t.Helper()
	raw, err := streamOf(ctx, t, js, subject).GetLastMsgForSubject(ctx, subject)
	if err != nil {
		t.Fatalf("nothing on %s: %v", subject, err)
	}
	if err := json.Unmarshal(raw.Data, v); err != nil {
		t.Fatal(err)
	}
	return raw.Header.Get(jetstream.MsgIDHeader)
}

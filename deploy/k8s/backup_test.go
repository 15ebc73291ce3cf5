package k8s_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestNATSBackupUser: with the rendered configuration, the user `backup`
// takes a stream's snapshot (request, chunks to its inbox, an answer to
// each chunk) and opens a restore (request, a chunk sent), as `bndmrctl
// backup nats` and `restore nats` do (pkg/jsbackup proves the round trip
// with the same permission list); it publishes, consumes, reads one by one
// and deletes nothing.
func TestNATSBackupUser(t *testing.T) {
	s, pw := natsServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prov := connect(t, s, pw, "provisioner")
	provisionStreams(t, ctx, prov.js)
	ing := connect(t, s, pw, "ingest")
	if _, err := ing.js.Publish(ctx, "bndmr.mail.raw", []byte(`{"mail":1}`), jetstream.WithMsgID("m1")); err != nil {
		t.Fatal(err)
	}
	b := connect(t, s, pw, "backup")

	// Snapshot of the mail stream: the request, every chunk answered, the
	// end marked by an empty message without error status.
	inbox := b.nc.NewInbox()
	sub, err := b.nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(map[string]any{"deliver_subject": inbox})
	resp, err := b.nc.RequestWithContext(ctx, "$JS.API.STREAM.SNAPSHOT.BNDMR_MAIL", req)
	if err != nil {
		t.Fatalf("backup: snapshot request: %v", err)
	}
	var sr struct {
		Error  *struct{ Description string } `json:"error"`
		Config json.RawMessage               `json:"config"`
		State  json.RawMessage               `json:"state"`
	}
	if err := json.Unmarshal(resp.Data, &sr); err != nil || sr.Error != nil {
		t.Fatalf("backup: snapshot refused: %s %v", resp.Data, err)
	}
	var snapshot []byte
	for {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("backup: waiting for a chunk: %v", err)
		}
		if len(m.Data) == 0 {
			if st := m.Header.Get("Status"); st != "" && st != "204" {
				t.Fatalf("backup: snapshot ended with status %s %s", st, m.Header.Get("Description"))
			}
			break
		}
		snapshot = append(snapshot, m.Data...)
		if m.Reply != "" {
			if err := m.Respond(nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(snapshot) == 0 {
		t.Fatal("backup: empty snapshot")
	}

	// Restore under another name: the request is accepted and a chunk is
	// taken (the end of the transfer is pkg/jsbackup's test).
	var cfg map[string]any
	json.Unmarshal(sr.Config, &cfg)
	cfg["name"], cfg["subjects"] = "BNDMR_MAIL_RESTORED", []string{"bndmr.restored.mail"}
	rq, _ := json.Marshal(map[string]any{"config": cfg, "state": sr.State})
	resp, err = b.nc.RequestWithContext(ctx, "$JS.API.STREAM.RESTORE.BNDMR_MAIL_RESTORED", rq)
	if err != nil {
		t.Fatalf("backup: restore request: %v", err)
	}
	var rr struct {
		Error          *struct{ Description string } `json:"error"`
		DeliverSubject string                        `json:"deliver_subject"`
	}
	if err := json.Unmarshal(resp.Data, &rr); err != nil || rr.Error != nil || rr.DeliverSubject == "" {
		t.Fatalf("backup: restore refused: %s %v", resp.Data, err)
	}
	if ack, err := b.nc.RequestWithContext(ctx, rr.DeliverSubject, snapshot); err != nil || len(ack.Data) != 0 {
		t.Fatalf("backup: sending a restore chunk: %v %v", ack, err)
	}
	if _, err := b.nc.RequestWithContext(ctx, rr.DeliverSubject, nil); err != nil {
		t.Fatalf("backup: ending the restore: %v", err)
	}
	b.noViolation(t)

	for _, subj := range []string{
		"bndmr.mail.raw",
		"bndmr.identified.sdmmr.extracted",
		"$JS.API.STREAM.CREATE.X",
		"$JS.API.STREAM.DELETE.BNDMR_MAIL",
		"$JS.API.STREAM.PURGE.BNDMR_MAIL",
		"$JS.API.STREAM.MSG.GET.BNDMR_IDENTIFIED",
		"$JS.API.STREAM.MSG.DELETE.BNDMR_MAIL",
		"$JS.API.DIRECT.GET.BNDMR_MAIL.bndmr.mail.raw",
		"$JS.API.CONSUMER.CREATE.BNDMR_MAIL.backup",
		"$JS.API.CONSUMER.DELETE.BNDMR_MAIL.validator",
		"$JS.API.CONSUMER.MSG.NEXT.BNDMR_MAIL.validator",
		"$KV.BNDMR_MDN_SENT.x",
	} {
		b.mustNotPublish(t, subj)
	}
	b.mustNotSubscribe(t, "bndmr.identified.>")
	b.mustNotSubscribe(t, "_INBOX_validator.x")
}

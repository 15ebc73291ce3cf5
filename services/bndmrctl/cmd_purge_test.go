package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/events"
)

// TestPurge erases one mail's identified traces from a real (embedded)
// JetStream, clear on disk so the test can look: its raw mail, its large
// mail's object, its identified document and the quarantine entries naming
// it are gone from the streams and from the store's files; another mail's
// stay.
func TestPurge(t *testing.T) {
	dir := t.TempDir()
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc, js, err := bus.Connect(ctx, bus.Config{URL: srv.ClientURL()}, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		t.Fatal(err)
	}
	const gone, kept = "mail-gone", "mail-kept"
	secret := "DUPONT-Jeanne-INS-2801275123456"
	large := []byte("From: b@chu.test\r\n\r\n" + strings.Repeat(secret+" ", 400))
	obs, err := js.ObjectStore(ctx, bus.ObjectStore)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.PutBytes(ctx, gone+"-obj", large); err != nil {
		t.Fatal(err)
	}
	pub := func(subject, id string, v any) {
		t.Helper()
		if _, err := bus.Publish(ctx, js, subject, id, v); err != nil {
			t.Fatal(err)
		}
	}
	inline := []byte("From: a@chu.test\r\n\r\n" + secret)
	pub(events.SubjectMailRaw, "1", events.MailRaw{V: events.MailRawV, MailID: gone, Raw: inline})
	pub(events.SubjectMailRaw, "2", events.MailRaw{V: events.MailRawV, MailID: gone, Object: gone + "-obj"})
	pub(events.SubjectMailRaw, "3", events.MailRaw{V: events.MailRawV, MailID: kept, Raw: []byte("From: c@chu.test\r\n\r\nkept")})
	pub(events.SubjectExtracted, "4", map[string]any{"v": 1, "mail_id": gone, "patient": secret})
	pub(events.SubjectExtracted, "5", map[string]any{"v": 1, "mail_id": kept})
	pub(events.SubjectQuarantine, "6", events.Quarantined{V: events.QuarantineV, Mail: events.MailRaw{MailID: gone, Raw: inline}, Stage: "validator"})
	pub(events.SubjectQuarantine, "7", events.Quarantined{V: events.QuarantineV, Stage: "pseudonymisation",
		Event: &events.Failed{Stream: bus.StreamIdentified, MailID: gone}})
	pub(events.SubjectQuarantine, "8", events.Quarantined{V: events.QuarantineV, Mail: events.MailRaw{MailID: kept}, Stage: "validator"})

	var out, errb bytes.Buffer
	if code := cmdPurge(ctx, []string{"--nats-url", srv.ClientURL(), "--mail", gone}, &out, &errb); code != 0 {
		t.Fatalf("purge: exit %d: %s", code, errb.String())
	}
	t.Log(out.String())

	left := map[string]int{}
	for _, name := range []string{bus.StreamMail, bus.StreamIdentified, bus.StreamQuarantine, "OBJ_" + bus.ObjectStore} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := s.Info(ctx)
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if err != nil {
				continue
			}
			if bytes.Contains(m.Data, []byte(gone)) || bytes.Contains(m.Data, []byte(secret)) {
				t.Errorf("%s message %d still names %s", name, seq, gone)
			}
			if bytes.Contains(m.Data, []byte(kept)) {
				left[name]++
			}
		}
	}
	if left[bus.StreamMail] != 1 || left[bus.StreamIdentified] != 1 || left[bus.StreamQuarantine] != 1 {
		t.Errorf("the other mail's messages: %v, want one in each stream", left)
	}
	if _, err := obs.GetInfo(ctx, gone+"-obj"); err == nil {
		t.Error("the object is still in the object store")
	}
	// Erased, not only unindexed: the identity is in no file of the store.
	nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s still holds the identity", p)
		}
		return nil
	})
}

package bus

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/topology"
)

// The embedded server's store holds the raw mails and the identified
// documents: with a key, no byte of them is on disk in clear; without
// one (the control), they are. A store an earlier hub wrote with
// ChaCha20-Poly1305 opens with today's AES-GCM configuration and keeps its
// messages.
func TestEmbeddedStoreEncryptedAtRest(t *testing.T) {
	identity := []byte("DUPONT-Jeanne-INS-2801275123456")
	for _, tc := range []struct {
		name     string
		key      string
		chacha   bool // written first with ChaCha20, as before issue 15
		wantSeen bool
	}{
		{"clear (control)", "", false, true},
		{"encrypted", "a-test-key-of-the-hub-0123456789", false, false},
		{"encrypted with ChaCha20 by an earlier hub", "a-test-key-of-the-hub-0123456789", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			srv, err := StartEmbedded(EmbeddedConfig{Port: -1, StoreDir: dir, StoreKey: tc.key, chacha: tc.chacha})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			nc, js, err := Connect(ctx, Config{URL: srv.ClientURL()}, "test")
			if err != nil {
				t.Fatal(err)
			}
			if err := EnsureStreams(ctx, js, Config{}); err != nil {
				t.Fatal(err)
			}
			for _, subj := range []string{topology.SubjectMailRaw, topology.SubjectExtracted} {
				if _, err := Publish(ctx, js, subj, subj, map[string]string{"patient": string(identity)}); err != nil {
					t.Fatal(err)
				}
			}
			nc.Close()
			srv.Shutdown()
			srv.WaitForShutdown()
			seen := false
			err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				if bytes.Contains(b, identity) {
					seen = true
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if seen != tc.wantSeen {
				t.Errorf("identity found in the store files: %v, want %v", seen, tc.wantSeen)
			}
			// The same key opens the store again and reads the messages.
			srv, err = StartEmbedded(EmbeddedConfig{Port: -1, StoreDir: dir, StoreKey: tc.key})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Shutdown()
			nc, js, err = Connect(ctx, Config{URL: srv.ClientURL()}, "test")
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			s, err := js.Stream(ctx, topology.StreamMail)
			if err != nil {
				t.Fatal(err)
			}
			m, err := s.GetMsg(ctx, 1)
			if err != nil || !bytes.Contains(m.Data, identity) {
				t.Fatalf("reading the mail back after a restart: %v", err)
			}
		})
	}
}

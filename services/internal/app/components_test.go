package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/service"
	"github.com/bndmr/hub/pseudonymisation"
)

// TestIngestMailboxesFile reads the Kubernetes example of --mailboxes-file
// as the ingest service does, so that the file an operator copies parses.
func TestIngestMailboxesFile(t *testing.T) {
	var c Ingest
	f := service.NewFlags("ingest")
	c.Flags(f, NewShared(f))
	if err := f.Parse([]string{"--mailboxes-file", "../../../deploy/k8s/base/services/ingest-mailboxes.json"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if len(c.cfg.Mailboxes) != 1 {
		t.Fatalf("%d mailboxes, want 1", len(c.cfg.Mailboxes))
	}
	m := c.cfg.Mailboxes[0]
	if m.Auth != "external" || m.TLS != "implicit" || m.CertFile == "" || m.PollInterval != 30*time.Second || m.CommandTimeout != 2*time.Minute {
		t.Errorf("mailbox read as %+v", m)
	}
}

// TestCommonSettings: the settings every process shares are checked at
// start, with a message naming the setting; the mail retention defaults to
// 30 days and may not fall under the 8 days the acknowledgement needs.
func TestCommonSettings(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		env     map[string]string
		wantErr string
		check   func(Common) bool
	}{
		{args: nil, check: func(c Common) bool { return c.Bus.MailMaxAge == 30*24*time.Hour && c.Bus.Replicas == 1 }},
		{args: []string{"--nats-mail-max-age", "240h"}, check: func(c Common) bool { return c.Bus.MailMaxAge == 240*time.Hour }},
		{env: map[string]string{"BNDMR_NATS_MAIL_MAX_AGE": "2160h"}, check: func(c Common) bool { return c.Bus.MailMaxAge == 90*24*time.Hour }},
		{args: []string{"--nats-mail-max-age", "72h"}, wantErr: "--nats-mail-max-age 72h0m0s: must be at least 8 days"},
		{args: []string{"--nats-replicas", "7"}, wantErr: "--nats-replicas 7"},
		{args: []string{"--nats-cert", "c.pem"}, wantErr: "--nats-cert and --nats-key go together"},
		{args: []string{"--nats-max-msg", "12"}, wantErr: "--nats-max-msg 12: must be between"},
	} {
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		var c Common
		f := service.NewFlags("test")
		c.Flags(f, ":0")
		err := f.Parse(tc.args)
		if err == nil {
			err = c.check()
		}
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%v %v: error %v, want %q", tc.args, tc.env, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("%v %v: %v", tc.args, tc.env, err)
		case tc.wantErr == "" && !tc.check(c):
			t.Errorf("%v %v: settings read as %+v", tc.args, tc.env, c.Bus)
		}
	}
}

// TestRotationNeedsTwoKeys: rotation mode with other than two keys is
// refused at start, with the reason: the loader keeps the pseudonyms of the
// one previous key as the warehouse's (one rotation at a time).
func TestRotationNeedsTwoKeys(t *testing.T) {
	for _, tc := range []struct {
		keys     []string // ids; the first is primary
		rotation bool
		refused  bool
	}{
		{[]string{"k3", "k2", "k1"}, true, true},
		{[]string{"k1"}, true, true},
		// Accepted settings go on to start the service (not here: Env is
		// empty); TestRotationKeepsFigures runs a two-key rotation.
	} {
		dir := t.TempDir()
		for i, id := range tc.keys {
			data, err := pseudonymisation.GenerateKeyFile(id)
			if err != nil {
				t.Fatal(err)
			}
			if i > 0 {
				data = []byte(strings.Replace(string(data), `"primary": true`, `"primary": false`, 1))
			}
			if err := os.WriteFile(filepath.Join(dir, id+".json"), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		c := &Pseudonymisation{cfg: pseudonymisation.Config{KeyFile: dir, Rotation: tc.rotation}}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // a component that starts returns at once
		err := c.Run(ctx, Env{})
		refused := err != nil && strings.Contains(err.Error(), "needs exactly two keys")
		if refused != tc.refused {
			t.Errorf("keys %v, rotation %v: error %v, want refused=%v", tc.keys, tc.rotation, err, tc.refused)
		}
	}
}

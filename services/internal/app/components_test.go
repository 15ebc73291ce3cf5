package app

import (
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/service"
)

// TestIngestMailboxesFile reads the Kubernetes example of --mailboxes-file
// as the ingest service does, so that the file an operator copies parses.
func TestIngestMailboxesFile(t *testing.T) {
	var c Ingest
	f := service.NewFlags("ingest")
	c.Flags(f)
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

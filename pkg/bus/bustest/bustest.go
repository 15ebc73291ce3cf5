// Package bustest starts, for a test, an embedded NATS JetStream server
// with the hub's streams, and connects to it: the one helper the packages'
// tests share instead of each writing it again.
package bustest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/pkg/bus"
)

// Server is a running test server and a connection to it.
type Server struct {
	URL string
	Dir string // the JetStream store, for a test that reads its files
	NC  *nats.Conn
	JS  jetstream.JetStream
}

// Start starts the server on a free loopback port, its store in a temporary
// folder, declares the hub's streams, and stops everything with the test.
func Start(t testing.TB) Server {
	t.Helper()
	dir := t.TempDir()
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{Host: "127.0.0.1", Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		t.Fatal(err)
	}
	return Server{URL: srv.ClientURL(), Dir: dir, NC: nc, JS: js}
}

// Pending says what the hub's streams still hold for the stages: an
// identified document not yet pseudonymised, or a consumer of the mail,
// outcome or record stream with messages pending or unacknowledged, or no
// consumer yet; "" when the streams are drained. A pipeline test polls it
// (with its inbox) to know that a run is over.
func Pending(ctx context.Context, js jetstream.JetStream) string {
	// BNDMR_IDENTIFIED is a work queue: a message leaves once pseudonymised.
	st, err := js.Stream(ctx, bus.StreamIdentified)
	if err != nil {
		return err.Error()
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs > 0 {
		return fmt.Sprintf("identified documents waiting (%v)", err)
	}
	for _, name := range []string{bus.StreamMail, bus.StreamOutcome, bus.StreamRecord} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			return err.Error()
		}
		n := 0
		lister := st.ListConsumers(ctx)
		for c := range lister.Info() {
			n++
			if c.NumPending > 0 || c.NumAckPending > 0 {
				return fmt.Sprintf("%s/%s: %d pending, %d unacknowledged", name, c.Name, c.NumPending, c.NumAckPending)
			}
		}
		if err := lister.Err(); err != nil {
			return err.Error()
		}
		if n == 0 {
			return name + ": no consumer yet"
		}
	}
	return ""
}

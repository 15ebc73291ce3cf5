// Package bustest starts, for a test, an embedded NATS JetStream server
// with the hub's streams, and connects to it: the one helper the packages'
// tests share instead of each writing it again.
package bustest

import (
	"context"
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

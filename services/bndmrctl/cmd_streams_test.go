package main

import (
	"context"
	"testing"

	"github.com/bndmr/hub/pkg/bus"
)

// TestStreams: the provisioning job declares the streams on an empty
// JetStream and lists them; running it again changes nothing and says the
// same; a replica count out of range is a usage error.
func TestStreams(t *testing.T) {
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	url := srv.ClientURL()
	for _, tc := range []ctlCase{
		{"declare", []string{"streams", "--nats-url", url}, 0, "stream " + bus.StreamMail + " ", ""},
		{"declare again", []string{"streams", "--nats-url", url}, 0, "object store " + bus.ObjectStore + ", key-value buckets", ""},
		{"too many replicas", []string{"streams", "--nats-url", url, "--nats-replicas", "7"}, 2, "", `--nats-replicas`},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, context.Background()) })
	}
	ctx := context.Background()
	_, js, err := bus.Connect(ctx, bus.Config{URL: url}, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range bus.StreamConfigs(bus.Config{}) {
		if _, err := js.Stream(ctx, sc.Name); err != nil {
			t.Errorf("stream %s was not declared: %v", sc.Name, err)
		}
	}
}

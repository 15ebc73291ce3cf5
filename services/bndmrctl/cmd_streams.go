package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/service"
)

// cmdStreams declares the hub's JetStream streams, object store and
// key-value buckets: the provisioning job of a deployment where the services
// themselves may not change streams.
func cmdStreams(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("streams", "usage: bndmrctl streams [--nats-url URL] [--nats-replicas N] [--nats-max-msg N] [--nats-mail-max-age D]", stderr)
	var c bus.Config
	natsFlags(fs, &c, "NATS user allowed to manage streams")
	// The sizing of the services (--nats-replicas, --nats-max-msg,
	// --nats-mail-max-age): the Job nats-streams gives them through
	// bndmr-common (BNDMR_NATS_REPLICAS=3 in prod), as every service gets them.
	sf := service.On(fs)
	c.RegisterStreamFlags(sf, "nats")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := errors.Join(sf.Err(), c.Check("nats")); err != nil {
		fmt.Fprintf(stderr, "bndmrctl streams: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	nc, js, ok := connectNATS(ctx, c, "streams", stderr)
	if !ok {
		return 1
	}
	defer nc.Close()
	if err := bus.EnsureStreams(ctx, js, c); err != nil {
		fmt.Fprintln(stderr, "bndmrctl streams:", err)
		return 1
	}
	for _, sc := range bus.StreamConfigs(c) {
		fmt.Fprintf(stdout, "stream %-18s %s\n", sc.Name, sc.Subjects[0])
	}
	fmt.Fprintf(stdout, "object store %s, key-value buckets %s, %s and %s, %d replicas each\n", bus.ObjectStore, bus.BucketMDNSent, bus.BucketIngested, bus.BucketLeases, c.Replicas)
	return 0
}

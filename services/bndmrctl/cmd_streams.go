package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/bndmr/hub/pkg/bus"
)

// cmdStreams declares the hub's JetStream streams, object store and
// key-value bucket: the provisioning job of a deployment where the services
// themselves may not change streams.
func cmdStreams(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("streams", "usage: bndmrctl streams [--nats-url URL] [--replicas N] [--nats-mail-max-age D]", stderr)
	var c bus.Config
	natsFlags(fs, &c, "NATS user allowed to manage streams")
	mailMaxAge := envOr("BNDMR_NATS_MAIL_MAX_AGE", bus.DefaultMailMaxAge.String())
	fs.StringVar(&mailMaxAge, "nats-mail-max-age", mailMaxAge, "retention of the identified original mails, e.g. 720h (env BNDMR_NATS_MAIL_MAX_AGE)")
	// The Job nats-streams gives the replicas through bndmr-common
	// (BNDMR_NATS_REPLICAS=3 in prod), as every service gets them.
	replicas := envOr("BNDMR_NATS_REPLICAS", "1")
	fs.StringVar(&replicas, "replicas", replicas, "replicas of every stream, 3 on a NATS cluster (env BNDMR_NATS_REPLICAS)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	n, err := strconv.Atoi(replicas)
	if err != nil || n < 1 || n > 5 {
		fmt.Fprintf(stderr, "bndmrctl streams: --replicas %q: must be between 1 and 5\n", replicas)
		return 2
	}
	c.Replicas = n
	if c.MailMaxAge, err = time.ParseDuration(mailMaxAge); err != nil || c.MailMaxAge < 8*24*time.Hour {
		fmt.Fprintf(stderr, "bndmrctl streams: --nats-mail-max-age %q: a duration of at least 192h (the acknowledgement quotes the original for up to 7 days)\n", mailMaxAge)
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
	fmt.Fprintf(stdout, "object store %s, key-value buckets %s and %s, %d replicas each\n", bus.ObjectStore, bus.BucketMDNSent, bus.BucketIngested, c.Replicas)
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

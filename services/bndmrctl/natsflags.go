package main

import (
	"flag"
	"os"

	"github.com/bndmr/hub/pkg/bus"
)

// natsFlags declares the NATS connection settings of a command, with the
// services' environment fallbacks: URL, user and password, and the TLS
// files (the CA of the servers, the client certificate they require).
// userHelp says which user the command needs.
func natsFlags(fs *flag.FlagSet, c *bus.Config, userHelp string) {
	fs.StringVar(&c.URL, "nats-url", envOr("BNDMR_NATS_URL", "nats://127.0.0.1:4222"), "NATS server URL (env BNDMR_NATS_URL)")
	fs.StringVar(&c.User, "nats-user", os.Getenv("BNDMR_NATS_USER"), userHelp+" (env BNDMR_NATS_USER)")
	fs.StringVar(&c.Password, "nats-password", os.Getenv("BNDMR_NATS_PASSWORD"), "its password (env BNDMR_NATS_PASSWORD)")
	fs.StringVar(&c.CAFile, "nats-ca", os.Getenv("BNDMR_NATS_CA"), "CA bundle of the NATS servers; set, TLS is required (env BNDMR_NATS_CA)")
	fs.StringVar(&c.CertFile, "nats-cert", os.Getenv("BNDMR_NATS_CERT"), "client certificate for NATS (env BNDMR_NATS_CERT)")
	fs.StringVar(&c.KeyFile, "nats-key", os.Getenv("BNDMR_NATS_KEY"), "its key (env BNDMR_NATS_KEY)")
}

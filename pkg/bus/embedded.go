package bus

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedConfig configures an in-process NATS server with JetStream, used by
// the all-in-one hub and by tests.
type EmbeddedConfig struct {
	Host     string // default 127.0.0.1
	Port     int    // -1 picks a free port
	StoreDir string // JetStream file storage
	// MaxPayload of a NATS message.
	MaxPayload int32
	// StoreKey encrypts the JetStream store at rest (AES-256-GCM, which the
	// CPU does in hardware; ChaCha20 cost the hub 3 % of its CPU, issue 15):
	// the mails and the identified documents are never on disk in clear.
	// Empty: no encryption. An existing clear store is encrypted when it
	// is first opened with a key, and a store written with ChaCha20 by an
	// earlier version is converted by nats-server when opened; the key must
	// never be lost.
	StoreKey string
	// MaxStore bounds the JetStream file store in bytes (0: the disk).
	MaxStore int64
	// chacha: encrypt with ChaCha20-Poly1305 as hubs before issue 15 did
	// (tests of the conversion).
	chacha bool
}

// StartEmbedded starts a NATS server with JetStream in this process and waits
// until it accepts connections.
func StartEmbedded(c EmbeddedConfig) (*server.Server, error) {
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = 8 << 20
	}
	opts := &server.Options{
		ServerName: "bndmr-hub",
		Host:       c.Host,
		Port:       c.Port,
		JetStream:  true,
		StoreDir:   c.StoreDir,
		MaxPayload: c.MaxPayload,
		NoSigs:     true,
		NoLog:      true,
	}
	if c.StoreKey != "" {
		opts.JetStreamKey, opts.JetStreamCipher = c.StoreKey, server.AES
		if c.chacha {
			opts.JetStreamCipher = server.ChaCha
		}
	}
	if c.MaxStore > 0 {
		opts.JetStreamMaxStore = c.MaxStore
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configuring embedded NATS: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded NATS did not start within 10s (store %s)", c.StoreDir)
	}
	return s, nil
}

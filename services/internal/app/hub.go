package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/mailbox"
	"github.com/bndmr/hub/pkg/service"
)

// Hub runs every service in one process over an embedded NATS server: the
// laptop demo and the end-to-end tests.
type Hub struct {
	dataDir   string
	natsPort  int
	untilIdle time.Duration
	ingest    Ingest
	ack       Ack
	comps     []Component
}

// HubMain is the all-in-one hub's main.
func HubMain(args []string) int {
	h := &Hub{}
	h.comps = []Component{&h.ingest, &Validator{}, &Pseudonymisation{}, &Loader{}, &h.ack, &Indicators{}}
	var common Common
	f := service.NewFlags("hub")
	common.Flags(f, "127.0.0.1:8080")
	f.String(&h.dataDir, "data-dir", "BNDMR_HUB_DATA", ".run/hub", "folder of the embedded NATS JetStream storage")
	f.Int(&h.natsPort, "nats-port", "BNDMR_HUB_NATS_PORT", 14222, "loopback port of the embedded NATS server (-1: any free port)")
	f.Duration(&h.untilIdle, "exit-when-idle", "BNDMR_HUB_EXIT_WHEN_IDLE", 0,
		"exit once the mailboxes are empty and every stage has been idle this long (0: run until stopped)")
	for _, c := range h.comps {
		c.Flags(f)
	}
	if err := parse(f, args, &common, h.comps...); err != nil {
		fmt.Fprintf(os.Stderr, "hub: %v\n", err)
		return 2
	}
	log, err := service.NewLogger(common.LogLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hub: %v\n", err)
		return 2
	}
	defer log.Sync()
	ctx, stop := signalContext()
	defer stop()
	if err := h.run(ctx, common, log.With(zap.String("service", "hub"))); err != nil {
		log.Error("hub stopped on error", zap.Error(err))
		return 1
	}
	return 0
}

func (h *Hub) run(ctx context.Context, common Common, log *zap.Logger) error {
	if err := os.MkdirAll(h.dataDir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", h.dataDir, err)
	}
	dir, _ := filepath.Abs(h.dataDir)
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{Port: h.natsPort, StoreDir: dir})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	common.Bus.URL = srv.ClientURL()
	log.Info("embedded NATS JetStream", zap.String("url", common.Bus.URL), zap.String("store", dir))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, common, log, h.comps...) }()
	if h.untilIdle > 0 {
		go func() {
			if err := h.waitIdle(ctx, common, log); err == nil {
				log.Info("mailboxes drained and every stage idle: stopping")
				cancel()
			}
		}()
	}
	err = <-errc
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// durables are the consumers whose backlog must be empty for the hub to be idle.
var durables = []struct{ stream, name string }{
	{bus.StreamMail, "validator"}, {bus.StreamIdentified, "pseudonymisation"}, {bus.StreamRecord, "loader"},
	{bus.StreamOutcome, "loader-receipts"},
}

// waitIdle returns once the inboxes are empty and no consumer has pending or
// unacknowledged messages, continuously for untilIdle.
func (h *Hub) waitIdle(ctx context.Context, common Common, log *zap.Logger) error {
	nc, js, err := bus.Connect(ctx, common.Bus, "bndmr-hub-watch")
	if err != nil {
		return err
	}
	defer nc.Close()
	var idleSince time.Time
	for ctx.Err() == nil {
		sleep(ctx, 500*time.Millisecond)
		busy, err := h.busy(ctx, js)
		if err != nil {
			log.Debug("idle check", zap.Error(err))
			busy = true
		}
		if busy {
			idleSince = time.Time{}
			continue
		}
		if idleSince.IsZero() {
			idleSince = time.Now()
		}
		if time.Since(idleSince) >= h.untilIdle {
			return nil
		}
	}
	return ctx.Err()
}

func (h *Hub) busy(ctx context.Context, js jetstream.JetStream) (bool, error) {
	for _, mc := range h.ingest.Mailboxes() {
		n, err := mailbox.Waiting(ctx, mc)
		if err != nil || n > 0 {
			return true, err
		}
	}
	ds := durables
	if h.ack.cfg.SMTP.Addr != "" {
		ds = append(ds, struct{ stream, name string }{bus.StreamOutcome, "ack"})
	}
	for _, d := range ds {
		c, err := js.Consumer(ctx, d.stream, d.name)
		if err != nil {
			return true, err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return true, err
		}
		if info.NumPending > 0 || info.NumAckPending > 0 {
			return true, nil
		}
	}
	return false, nil
}

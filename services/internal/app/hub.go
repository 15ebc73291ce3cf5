package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/mailbox"
	"github.com/bndmr/hub/pkg/pause"
	"github.com/bndmr/hub/pkg/service"
	"github.com/bndmr/hub/pkg/topology"
	"github.com/bndmr/hub/services/internal/buildinfo"
)

// Hub runs every service in one process over an embedded NATS server: the
// laptop demo and the end-to-end tests.
type Hub struct {
	dataDir   string
	natsPort  int
	storeKey  string
	untilIdle time.Duration
	ingest    Ingest
	ack       Ack
	comps     []Component
}

// HubMain is the all-in-one hub's main.
func HubMain(args []string) int {
	if buildinfo.IsVersionFlag(args) {
		buildinfo.Print(os.Stdout, "hub")
		return 0
	}
	h := &Hub{}
	var common Common
	f := h.flags(&common)
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
	err = h.run(ctx, common, log.With(zap.String("service", "hub")))
	var ex *exitError
	switch {
	case errors.As(err, &ex):
		log.Error(ex.msg)
		fmt.Fprintf(os.Stderr, "hub: %s\n", ex.msg)
		return ex.code
	case err != nil:
		log.Error("hub stopped on error", zap.Error(err))
		return 1
	}
	return 0
}

// flags declares the hub's settings: its own, and every component's under
// the names each service has (one set: --clickhouse and --kit once).
func (h *Hub) flags(common *Common) *service.Flags {
	h.comps = []Component{&h.ingest, &Validator{}, &Pseudonymisation{}, &Loader{}, &h.ack, &Indicators{}}
	f := service.NewFlags("hub")
	f.String(&h.dataDir, "data-dir", ".run/hub", "folder of the embedded NATS JetStream storage")
	f.Int(&h.natsPort, "nats-port", 14222, "loopback port of the embedded NATS server (-1: any free port)")
	f.String(&h.storeKey, "nats-store-key-file", "",
		"file holding the key that encrypts the embedded JetStream store at rest (empty: DATA_DIR/store.key, made on first start)")
	f.Duration(&h.untilIdle, "exit-when-idle", 0,
		"exit once the mailboxes are empty, every stream is acknowledged and no stage retries, for this long (0: run until stopped); "+
			"exit status 3 if stopped while a dependency is away, 4 if anything was quarantined during the run")
	declare(f, common, "127.0.0.1:8080", h.comps...)
	return f
}

// FlagSets are the flag sets of the hub and of each service, by name, as
// their mains declare them: the tests walk them (every flag's variable
// follows service.EnvOf; every setting is documented).
func FlagSets() map[string]*flag.FlagSet {
	out := map[string]*flag.FlagSet{}
	var hc Common
	out["hub"] = (&Hub{}).flags(&hc).FS
	for _, c := range []Component{&Ingest{}, &Validator{}, &Pseudonymisation{}, &Loader{}, &Ack{}, &Indicators{}} {
		out[c.Name()] = serviceFlags(c, &Common{}).FS
	}
	return out
}

// exitError is an honest end: the hub stopped, but not everything is done.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// Exit statuses of the hub besides 0 (all done) and 1 (stopped on error).
const (
	// ExitNotReady: stopped while a dependency was away or a stage retried;
	// the messages wait in the streams for the next start.
	ExitNotReady = 3
	// ExitQuarantined: drained, but messages went to the quarantine during
	// the run (bndmrctl quarantine list).
	ExitQuarantined = 4
)

func (h *Hub) run(ctx context.Context, common Common, log *zap.Logger) error {
	if err := os.MkdirAll(h.dataDir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", h.dataDir, err)
	}
	dir, _ := filepath.Abs(h.dataDir)
	key, err := storeKey(h.storeKey, dir)
	if err != nil {
		return err
	}
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{Port: h.natsPort, StoreDir: dir, StoreKey: key})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	common.Bus.URL = srv.ClientURL()
	log.Info("embedded NATS JetStream", zap.String("url", common.Bus.URL), zap.String("store", dir))

	nc, js, err := bus.Connect(ctx, common.Bus, "bndmr-hub-watch")
	if err != nil {
		return err
	}
	defer nc.Close()
	if common.EnsureStreams {
		if err := bus.EnsureStreams(ctx, js, common.Bus); err != nil {
			return err
		}
	}
	qStart, err := quarantineLastSeq(ctx, js)
	if err != nil {
		return err
	}

	rt := NewRuntime()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- Serve(runCtx, common, log, rt, h.comps...) }()
	watch := &watcher{h: h, js: js, rt: rt}
	idle := make(chan struct{})
	go func() {
		if watch.run(runCtx, log) == nil {
			log.Info("mailboxes drained, every stream acknowledged, no stage retrying: stopping")
			close(idle)
			cancel()
		}
	}()
	err = <-errc
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if err != nil {
		return err
	}
	// What was quarantined during this run is said, whatever the ending.
	sum, qerr := quarantinedSince(context.WithoutCancel(ctx), js, qStart)
	if qerr != nil {
		return qerr
	}
	select {
	case <-idle:
	default:
		if nr := watch.lastNotReady(); nr != nil {
			return &exitError{code: ExitNotReady, msg: "stopped while not ready, messages wait in the streams: " + nr.Error() + quarantineNote(sum)}
		}
	}
	if sum != "" {
		return &exitError{code: ExitQuarantined, msg: "quarantined during this run: " + sum + " (bndmrctl quarantine list)"}
	}
	return nil
}

func quarantineNote(sum string) string {
	if sum == "" {
		return ""
	}
	return "; quarantined during this run: " + sum
}

// watcher follows the hub: its readiness, and whether everything is done.
type watcher struct {
	h  *Hub
	js jetstream.JetStream
	rt *Runtime

	mu       sync.Mutex
	notReady error
}

func (w *watcher) lastNotReady() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.notReady
}

// run records the readiness every half second and, with --exit-when-idle,
// returns nil once the hub has been idle that long; otherwise it returns
// when ctx ends.
func (w *watcher) run(ctx context.Context, log *zap.Logger) error {
	var idleSince time.Time
	for ctx.Err() == nil {
		_ = pause.For(ctx, 500*time.Millisecond)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		nr := w.rt.Ops.Check(cctx)
		cancel()
		if ctx.Err() != nil {
			break
		}
		w.mu.Lock()
		w.notReady = nr
		w.mu.Unlock()
		if w.h.untilIdle <= 0 {
			continue
		}
		busy, err := w.h.busy(ctx, w.js, w.rt)
		if err != nil {
			log.Debug("idle check", zap.Error(err))
			busy = true
		}
		if busy || nr != nil {
			idleSince = time.Time{}
			continue
		}
		if idleSince.IsZero() {
			idleSince = time.Now()
		}
		if time.Since(idleSince) >= w.h.untilIdle {
			return nil
		}
	}
	return ctx.Err()
}

// busy reports whether anything is left to do: a mail waiting in a
// mailbox, a message a consumer of pkg/topology has not acknowledged, or a
// stage holding one for a retry.
func (h *Hub) busy(ctx context.Context, js jetstream.JetStream, rt *Runtime) (bool, error) {
	if rt.Stages.Busy() {
		return true, nil
	}
	for _, mc := range h.ingest.Mailboxes() {
		n, err := mailbox.Waiting(ctx, mc)
		if err != nil || n > 0 {
			return true, err
		}
	}
	for _, d := range topology.Consumers {
		if d.Optional && h.ack.cfg.SMTP.Addr == "" {
			continue
		}
		c, err := js.Consumer(ctx, d.Stream, d.Durable)
		if err != nil {
			return true, err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return true, err
		}
		if info.NumPending > 0 || info.NumAckPending > 0 || info.NumRedelivered > 0 {
			return true, nil
		}
	}
	return false, nil
}

// quarantineLastSeq is the quarantine stream's last sequence.
func quarantineLastSeq(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	s, err := js.Stream(ctx, topology.StreamQuarantine)
	if err != nil {
		return 0, fmt.Errorf("opening the quarantine stream: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the quarantine stream: %w", err)
	}
	return info.State.LastSeq, nil
}

// quarantinedSince summarises the entries after sequence from, as
// "stage code×n, …" ("" when there are none).
func quarantinedSince(ctx context.Context, js jetstream.JetStream, from uint64) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, topology.StreamQuarantine)
	if err != nil {
		return "", fmt.Errorf("opening the quarantine stream: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the quarantine stream: %w", err)
	}
	counts := map[string]int{}
	for seq := from + 1; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading quarantine entry %d: %w", seq, err)
		}
		var q events.Quarantined
		if err := json.Unmarshal(m.Data, &q); err != nil {
			counts["unreadable entry"]++
			continue
		}
		counts[q.Stage+" "+q.Code]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, counts[k])
	}
	return strings.Join(parts, ", "), nil
}

// storeKey reads the JetStream store key from file, or, with no file named,
// from dir/store.key, which it makes (random, mode 0600) on first start: the
// mails and identified documents are never on the laptop's disk in clear.
// In production the key comes from a Secret (deploy/k8s).
func storeKey(file, dir string) (string, error) {
	if file == "" {
		file = filepath.Join(dir, "store.key")
		if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return "", fmt.Errorf("making the JetStream store key: %w", err)
			}
			if err := os.WriteFile(file, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
				return "", fmt.Errorf("writing the JetStream store key %s: %w", file, err)
			}
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the JetStream store key: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if len(key) < 32 {
		return "", fmt.Errorf("the JetStream store key in %s is %d characters; it needs at least 32", file, len(key))
	}
	return key, nil
}

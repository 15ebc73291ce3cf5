// Package app assembles the hub's services from their packages: flags with
// environment fallbacks, logger, operations endpoint and NATS connection.
// Each service main runs one component; the all-in-one hub runs them all in
// one process over an embedded NATS server.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/pause"
	"github.com/bndmr/hub/pkg/service"
	"github.com/bndmr/hub/pkg/stage"
	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/services/internal/buildinfo"
)

// Env is what a running component gets.
type Env struct {
	JS  jetstream.JetStream
	Log *zap.Logger
	Ops *service.Ops
	// Stages: the process's stage runtime (metrics, readiness, quarantine
	// summary), shared by its components.
	Stages *stage.Set
}

// Component is one service of the hub.
type Component interface {
	Name() string
	// Flags declares the component's settings; the settings several
	// components read (ClickHouse, the CI-SIS kit) come from shared,
	// which declares each once per process.
	Flags(f *service.Flags, shared *Shared)
	// Check validates the settings before anything starts.
	Check() error
	// Run works until ctx ends.
	Run(ctx context.Context, env Env) error
}

// Common settings of every process.
type Common struct {
	LogLevel string
	HTTPAddr string
	// PprofAddr: a loopback listener serving net/http/pprof (with block and
	// mutex profiling on) for profiling under load; empty: off.
	PprofAddr string
	Bus       bus.Config
	// storeLimit: the NATS servers' max_file_store, for the store-usage
	// metric (JetStream does not tell clients the server's limit).
	storeLimit int
	// EnsureStreams: declare the streams at start. Off in production, where
	// services have no right to change streams and a provisioning job runs
	// `bndmrctl streams` under its own NATS user.
	EnsureStreams bool
}

// Flags declares the common settings; defHTTP is the default operations address.
func (c *Common) Flags(f *service.Flags, defHTTP string) {
	f.String(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.String(&c.HTTPAddr, "http-addr", defHTTP, "address of /healthz, /readyz and /metrics (empty: off)")
	f.String(&c.PprofAddr, "pprof-addr", "", "loopback address of a Go pprof debug listener (/debug/pprof/, block and mutex profiles on); empty: off")
	c.Bus = bus.Defaults()
	c.Bus.RegisterFlags(f, "nats")
	c.Bus.RegisterStreamFlags(f, "nats")
	f.Bool(&c.EnsureStreams, "nats-ensure-streams", true, "create or update the JetStream streams at start (off where a provisioning job does it)")
	f.Int(&c.storeLimit, "nats-store-limit", 0, "the NATS servers' JetStream max_file_store in bytes, exported beside the store's use for the alert (0: not exported)")
}

func (c *Common) check() error {
	if err := c.Bus.Check("nats"); err != nil {
		return err
	}
	if err := checkLoopback(c.PprofAddr); err != nil {
		return fmt.Errorf("--pprof-addr %s: %w", c.PprofAddr, err)
	}
	return nil
}

// Shared declares, once per process, the settings several components read:
// in the hub the loader and the indicators share one --clickhouse, the
// validator and the indicators one --kit.
type Shared struct {
	f   *service.Flags
	ch  *store.Config
	kit *string
}

// NewShared returns the shared settings of the process whose flags are f.
func NewShared(f *service.Flags) *Shared { return &Shared{f: f} }

// ClickHouse is the ClickHouse connection (--clickhouse and its TLS files).
func (s *Shared) ClickHouse() *store.Config {
	if s.ch == nil {
		c := store.Defaults()
		c.RegisterFlags(s.f, "clickhouse")
		s.ch = &c
	}
	return s.ch
}

// Kit is the CI-SIS kit folder (--kit); empty: kit.Dir().
func (s *Shared) Kit() *string {
	if s.kit == nil {
		s.kit = new(string)
		s.f.String(s.kit, "kit", "", "CI-SIS kit folder ("+kit.DefaultHelp+"); the validator needs it, the indicators name codes with it (none: codes alone)")
	}
	return s.kit
}

// declare declares the common settings and every component's.
func declare(f *service.Flags, common *Common, defHTTP string, comps ...Component) {
	common.Flags(f, defHTTP)
	shared := NewShared(f)
	for _, c := range comps {
		c.Flags(f, shared)
	}
}

// Main runs one component as its own process: parse flags, connect to NATS,
// make sure the streams exist, serve the operations endpoint, run.
func Main(comp Component, args []string) int {
	if buildinfo.IsVersionFlag(args) {
		buildinfo.Print(os.Stdout, comp.Name())
		return 0
	}
	var common Common
	f := serviceFlags(comp, &common)
	if err := parse(f, args, &common, comp); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", comp.Name(), err)
		return 2
	}
	log, err := service.NewLogger(common.LogLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", comp.Name(), err)
		return 2
	}
	defer log.Sync()
	log = log.With(zap.String("service", comp.Name()))
	ctx, stop := signalContext()
	defer stop()
	if err := Serve(ctx, common, log, NewRuntime(), comp); err != nil {
		log.Error("stopped on error", zap.Error(err))
		return 1
	}
	return 0
}

// serviceFlags declares the settings of a service running comp alone.
func serviceFlags(comp Component, common *Common) *service.Flags {
	f := service.NewFlags(comp.Name())
	declare(f, common, ":8080", comp)
	return f
}

func parse(f *service.Flags, args []string, common *Common, comps ...Component) error {
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.FS.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", f.FS.Args())
	}
	errs := []error{common.check()}
	for _, c := range comps {
		errs = append(errs, c.Check())
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return checkAcross(*common, comps...)
}

// Runtime is what the components of one process share: the operations
// endpoint (metrics, readiness) and the stage runtime's state.
type Runtime struct {
	Ops    *service.Ops
	Stages *stage.Set
}

// NewRuntime returns a Runtime whose stages report on its registry and
// readiness: a process is not ready while one of its stages retries.
func NewRuntime() *Runtime {
	ops := service.NewOps()
	stages := stage.NewSet(ops.Registry)
	ops.Ready("stages", stages.Ready)
	return &Runtime{Ops: ops, Stages: stages}
}

// Serve connects to NATS and runs the components until ctx ends.
func Serve(ctx context.Context, common Common, log *zap.Logger, rt *Runtime, comps ...Component) error {
	nc, js, err := bus.Connect(ctx, common.Bus, "bndmr-"+comps[0].Name())
	if err != nil {
		return err
	}
	defer nc.Close()
	// Streams are declared by whoever starts first: the same idempotent
	// configuration from every service.
	for common.EnsureStreams {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = bus.EnsureStreams(cctx, js, common.Bus)
		cancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		log.Warn("JetStream not ready; retrying", zap.Error(err))
		_ = pause.For(ctx, 2*time.Second)
	}
	// Each component has its own connection, as each service has in
	// production: one connection shared by every stage of the hub made its
	// lock and its single writer a queue (issue 15: the mutex profile showed
	// the publishes and acknowledgements of every stage waiting on it).
	conns := []*nats.Conn{nc}
	streams := []jetstream.JetStream{js}
	for _, c := range comps[1:] {
		cnc, cjs, err := bus.Connect(ctx, common.Bus, "bndmr-"+c.Name())
		if err != nil {
			return err
		}
		defer cnc.Close()
		conns, streams = append(conns, cnc), append(streams, cjs)
	}
	ops := rt.Ops
	ops.Ready("nats", func(context.Context) error {
		for _, c := range conns {
			if !c.IsConnected() {
				return errors.New("not connected to NATS")
			}
		}
		return nil
	})
	go watchStore(ctx, js, common.storeLimit, ops.Registry)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return ops.Serve(gctx, common.HTTPAddr, log, nil) })
	if common.PprofAddr != "" {
		g.Go(func() error { return servePprof(gctx, common.PprofAddr, log) })
	}
	for i, c := range comps {
		env := Env{JS: streams[i], Log: log, Ops: ops, Stages: rt.Stages}
		g.Go(func() error {
			if err := c.Run(gctx, env.with(c.Name())); err != nil {
				return fmt.Errorf("%s: %w", c.Name(), err)
			}
			return nil
		})
	}
	return g.Wait()
}

func (e Env) with(name string) Env {
	e.Log = e.Log.With(zap.String("component", name))
	return e
}

// watchStore exports how much of the JetStream store the hub's account uses,
// and its limit: the account's, or the servers' max_file_store as
// configured. A full store stops ingest (the mails wait in the mailboxes).
func watchStore(ctx context.Context, js jetstream.JetStream, limit int, reg prometheus.Registerer) {
	used := prometheus.NewGauge(prometheus.GaugeOpts{Name: "bndmr_jetstream_store_bytes",
		Help: "JetStream file storage used by the hub's account (every stream, the object store, the buckets)."})
	max := prometheus.NewGauge(prometheus.GaugeOpts{Name: "bndmr_jetstream_store_limit_bytes",
		Help: "JetStream file storage limit: the account's, or the servers' max_file_store (--nats-store-limit)."})
	var err error
	if used, err = service.Register(reg, used); err != nil {
		return
	}
	if max, err = service.Register(reg, max); err != nil {
		return
	}
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		info, err := js.AccountInfo(cctx)
		cancel()
		if err == nil {
			used.Set(float64(info.Store))
			switch {
			case info.Limits.MaxStore > 0:
				max.Set(float64(info.Limits.MaxStore))
			case limit > 0:
				max.Set(float64(limit))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(30 * time.Second):
		}
	}
}

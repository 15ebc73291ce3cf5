// Package service holds what every hub service shares at run time: the
// structured logger, the operations HTTP endpoints (/healthz, /readyz,
// /metrics) and flags with environment fallbacks.
package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// NewLogger returns a JSON logger at level ("debug", "info", "warn", "error").
// Log lines carry ids and counts, never an identity: callers log mail ids,
// set ids and FINESS, not names or INS.
func NewLogger(level string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.EncoderConfig.TimeKey = "ts"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	return cfg.Build()
}

// Ops is the operations endpoint of a service.
type Ops struct {
	Registry *prometheus.Registry
	mu       sync.Mutex
	checks   map[string]func(context.Context) error
}

// NewOps returns an Ops with a fresh registry holding the Go and process
// collectors.
func NewOps() *Ops {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Ops{Registry: reg, checks: map[string]func(context.Context) error{}}
}

// Ready adds a readiness check; /readyz answers 503 while any fails.
func (o *Ops) Ready(name string, check func(context.Context) error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.checks[name] = check
}

// Check runs every readiness check: nil when all pass, else what fails,
// check by check, in name order.
func (o *Ops) Check(ctx context.Context) error {
	o.mu.Lock()
	names := make([]string, 0, len(o.checks))
	for k := range o.checks {
		names = append(names, k)
	}
	checks := make(map[string]func(context.Context) error, len(o.checks))
	for k, v := range o.checks {
		checks[k] = v
	}
	o.mu.Unlock()
	sort.Strings(names)
	var failed []string
	for _, name := range names {
		if err := checks[name](ctx); err != nil {
			failed = append(failed, name+": "+err.Error())
		}
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

// Handler serves /healthz, /readyz and /metrics.
func (o *Ops) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := o.Check(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("/metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{Registry: o.Registry}))
	return mux
}

// Serve runs the operations endpoint on addr until ctx ends. An empty addr
// disables it. extra, when not nil, is mounted at "/" (the indicators service
// serves its pages there).
func (o *Ops) Serve(ctx context.Context, addr string, log *zap.Logger, extra http.Handler) error {
	if addr == "" {
		return nil
	}
	h := o.Handler()
	if extra != nil {
		mux := http.NewServeMux()
		mux.Handle("/healthz", h)
		mux.Handle("/readyz", h)
		mux.Handle("/metrics", h)
		mux.Handle("/", extra)
		h = mux
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s for /healthz, /readyz, /metrics: %w", addr, err)
	}
	log.Info("operations endpoint", zap.String("addr", ln.Addr().String()))
	if err := Serve(ctx, ln, h, ShutdownGrace); err != nil {
		return fmt.Errorf("operations endpoint: %w", err)
	}
	return nil
}

// Flags declares flags whose defaults come from environment variables, so a
// service runs the same from a shell, a Kubernetes ConfigMap or a test.
type Flags struct {
	FS   *flag.FlagSet
	errs []error
	// shared are later declarations of a flag already declared (the
	// all-in-one hub declares every service's flags in one set): they get
	// the first declaration's value after Parse.
	shared []func()
}

// NewFlags returns a flag set named for the service.
func NewFlags(name string) *Flags {
	return &Flags{FS: flag.NewFlagSet(name, flag.ContinueOnError)}
}

func (f *Flags) usage(env, usage string) string {
	return fmt.Sprintf("%s (env %s)", usage, env)
}

// String declares a string flag.
func (f *Flags) String(p *string, name, env, def, usage string) {
	if fl := f.FS.Lookup(name); fl != nil {
		f.shared = append(f.shared, func() { *p = fl.Value.String() })
		return
	}
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	f.FS.StringVar(p, name, def, f.usage(env, usage))
}

// Int declares an int flag.
func (f *Flags) Int(p *int, name, env string, def int, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q is not a whole number", env, v))
		} else {
			def = n
		}
	}
	f.FS.IntVar(p, name, def, f.usage(env, usage))
}

// Bool declares a boolean flag.
func (f *Flags) Bool(p *bool, name, env string, def bool, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q is not true or false", env, v))
		} else {
			def = b
		}
	}
	f.FS.BoolVar(p, name, def, f.usage(env, usage))
}

// Duration declares a duration flag.
func (f *Flags) Duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q is not a duration (e.g. 30s, 5m)", env, v))
		} else {
			def = d
		}
	}
	f.FS.DurationVar(p, name, def, f.usage(env, usage))
}

// Parse parses args and reports bad environment values first.
func (f *Flags) Parse(args []string) error {
	if len(f.errs) > 0 {
		return errors.Join(f.errs...)
	}
	if err := f.FS.Parse(args); err != nil {
		return err
	}
	for _, set := range f.shared {
		set()
	}
	return nil
}

// Register adds c to reg, or returns the collector of the same description
// already there: a component restarted in the same process (the hub, tests)
// keeps counting on the metrics the registry serves.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// Package service holds what every hub service shares at run time: the
// structured logger, the operations HTTP endpoints (/healthz, /readyz,
// /metrics) and flags with environment fallbacks.
//
// Configuration: every flag's environment variable follows from its name
// by one rule (EnvOf); each component's configuration registers its own
// flags once (RegisterFlags(f, prefix)) and holds its defaults in one
// place (Defaults()). See Flags.
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
//
// One rule names the variable of every flag: EnvOf(name), BNDMR_ followed
// by the flag's name in capitals with - written _ (--nats-url:
// BNDMR_NATS_URL). No flag has a variable of its own choosing.
//
// Each component's configuration declares its own flags once, with a
// method RegisterFlags(f *Flags, prefix string): prefix names the flags of
// the group (RegisterFlags(f, "nats") declares --nats-url, --nats-user…),
// so the hub, each service and bndmrctl declare a setting with the same
// name, help and variable.
//
// Defaults have one source and are applied one way. A package's Defaults()
// returns its configuration with every default set; RegisterFlags takes
// the values its receiver holds as the flags' defaults, so a process starts
// from Defaults() (or changes a default first, as bndmrctl does for the
// loopback test servers) and -h shows them. The package's entry points
// (New, Run, Connect) apply the configuration's WithDefaults, which gives a
// field left zero its value from Defaults(): a test sets only what it
// needs. Validate judges a configuration as WithDefaults completes it and
// changes nothing. Settings that depend on each other are checked once the
// flags are parsed (bus.Config.Check, ingest.Config.CheckMessageSize,
// store.Config.Check), before anything starts.
type Flags struct {
	FS   *flag.FlagSet
	errs []error
}

// NewFlags returns a flag set named for the service.
func NewFlags(name string) *Flags {
	return On(flag.NewFlagSet(name, flag.ContinueOnError))
}

// On declares flags on fs, a flag set made elsewhere (a bndmrctl command's).
// Bad environment values are reported by Parse, or by Err for a caller
// that parses fs itself.
func On(fs *flag.FlagSet) *Flags {
	return &Flags{FS: fs}
}

// EnvOf is the environment variable of the flag name: BNDMR_NATS_URL for
// nats-url.
func EnvOf(name string) string {
	return "BNDMR_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// EnvOfUsage returns the variable a flag's usage names, "" for none: tests
// walk a flag set with it to check that each one follows EnvOf.
func EnvOfUsage(usage string) string {
	i := strings.LastIndex(usage, "(env ")
	if i < 0 || !strings.HasSuffix(usage, ")") {
		return ""
	}
	return usage[i+len("(env ") : len(usage)-1]
}

// Name joins a prefix and a name: "nats" and "url" give "nats-url"; an
// empty name gives the prefix alone (--clickhouse, the DSN), an empty
// prefix the name alone.
func Name(prefix, name string) string {
	switch {
	case prefix == "":
		return name
	case name == "":
		return prefix
	}
	return prefix + "-" + name
}

func (f *Flags) usage(name, usage string) string {
	return fmt.Sprintf("%s (env %s)", usage, EnvOf(name))
}

// env reads the flag's variable, if set, with parse; a value parse refuses
// is reported by Parse and Err.
func (f *Flags) env(name, kind string, parse func(string) error) {
	v, ok := os.LookupEnv(EnvOf(name))
	if !ok {
		return
	}
	if err := parse(v); err != nil {
		f.errs = append(f.errs, fmt.Errorf("%s=%q (--%s) is not %s", EnvOf(name), v, name, kind))
	}
}

// String declares a string flag.
func (f *Flags) String(p *string, name, def, usage string) {
	f.env(name, "", func(v string) error { def = v; return nil })
	f.FS.StringVar(p, name, def, f.usage(name, usage))
}

// Int declares an int flag.
func (f *Flags) Int(p *int, name string, def int, usage string) {
	f.env(name, "a whole number", func(v string) (err error) { def, err = strconv.Atoi(v); return err })
	f.FS.IntVar(p, name, def, f.usage(name, usage))
}

// Bool declares a boolean flag.
func (f *Flags) Bool(p *bool, name string, def bool, usage string) {
	f.env(name, "true or false", func(v string) (err error) { def, err = strconv.ParseBool(v); return err })
	f.FS.BoolVar(p, name, def, f.usage(name, usage))
}

// Duration declares a duration flag.
func (f *Flags) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	f.env(name, "a duration (e.g. 30s, 5m)", func(v string) (err error) { def, err = time.ParseDuration(v); return err })
	f.FS.DurationVar(p, name, def, f.usage(name, usage))
}

// Err reports the environment values that could not be read.
func (f *Flags) Err() error { return errors.Join(f.errs...) }

// Parse parses args and reports bad environment values first.
func (f *Flags) Parse(args []string) error {
	if err := f.Err(); err != nil {
		return err
	}
	return f.FS.Parse(args)
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

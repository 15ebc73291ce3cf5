package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/service"
)

// Rates of the block and mutex profiles while the pprof listener is on: one
// blocking event per 10 µs spent blocked, one mutex contention in 5. They
// cost a little on every lock, so they are set only when asked for.
const (
	blockProfileRate     = 10_000 // nanoseconds
	mutexProfileFraction = 5
)

// checkLoopback refuses a pprof address that is not on loopback: the
// profiles show the process's memory and goroutines.
func checkLoopback(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return errors.New("the pprof listener must be on a loopback address (127.0.0.1:PORT, [::1]:PORT, localhost:PORT)")
	}
	return nil
}

// servePprof serves net/http/pprof on addr until ctx ends, with block and
// mutex profiling turned on for the life of the process.
func servePprof(ctx context.Context, addr string, log *zap.Logger) error {
	runtime.SetBlockProfileRate(blockProfileRate)
	runtime.SetMutexProfileFraction(mutexProfileFraction)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof listener on %s: %w", addr, err)
	}
	log.Info("pprof debug listener", zap.String("addr", ln.Addr().String()))
	if err := service.Serve(ctx, ln, mux, 2*time.Second); err != nil {
		return fmt.Errorf("pprof listener on %s: %w", addr, err)
	}
	return nil
}

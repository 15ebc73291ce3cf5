package stage

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bndmr/hub/pkg/service"
)

// Set holds the stages of one process: their shared metrics, their
// readiness and what they quarantined. A process makes one Set per metrics
// registry.
type Set struct {
	mu     sync.Mutex
	stages map[string]*state

	pending     *prometheus.GaugeVec
	oldest      *prometheus.GaugeVec
	retrying    *prometheus.GaugeVec
	retries     *prometheus.CounterVec
	quarantined *prometheus.CounterVec
	handled     *prometheus.CounterVec
}

// NewSet returns a Set whose metrics go to reg (nil: not exported).
func NewSet(reg prometheus.Registerer) *Set {
	s := &Set{
		stages: map[string]*state{},
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bndmr_stage_pending_messages",
			Help: "Messages of the stage's stream not yet acknowledged by it (waiting or in progress)."}, []string{"stage"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bndmr_stage_oldest_pending_age_seconds",
			Help: "Age of the oldest message the stage has received and not yet acknowledged (0: none)."}, []string{"stage"}),
		retrying: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bndmr_stage_retrying",
			Help: "1 while the stage retries a transient failure (a dependency away), else 0."}, []string{"stage"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bndmr_stage_retries_total",
			Help: "Messages handed back for a later attempt, by cause of the transient failure."}, []string{"stage", "cause"}),
		quarantined: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bndmr_stage_quarantined_total",
			Help: "Messages sent to the quarantine stream, by reason code."}, []string{"stage", "code"}),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bndmr_stage_handled_total",
			Help: "Messages acknowledged after their side effect was done."}, []string{"stage"}),
	}
	if reg != nil {
		// A stage restarted in the same process reuses the registered vectors.
		s.pending = mustRegister(reg, s.pending)
		s.oldest = mustRegister(reg, s.oldest)
		s.retrying = mustRegister(reg, s.retrying)
		s.retries = mustRegister(reg, s.retries)
		s.quarantined = mustRegister(reg, s.quarantined)
		s.handled = mustRegister(reg, s.handled)
	}
	return s
}

func mustRegister[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	c, err := service.Register(reg, c)
	if err != nil {
		panic(fmt.Sprintf("registering stage metrics: %v", err)) // a name clash: a programming error
	}
	return c
}

// state is what the Set knows of one running stage.
type state struct {
	name string
	set  *Set

	mu      sync.Mutex
	failing error     // last transient failure, nil once a message went through
	since   time.Time // when the stage started failing
	// fetching is the last failure to fetch from JetStream, nil once a
	// fetch succeeds: kept apart, since a fetch that works says nothing of
	// the messages handed back for a dependency that is still away.
	fetching      error
	fetchingSince time.Time
	inflight      map[uint64]time.Time
	pendingN      uint64
	pendingOK     bool // pendingN was read from the server
	quarantN      map[string]int
}

// runtimeCodes are the quarantine codes the runtime itself gives.
var runtimeCodes = []string{"bad_event", "bad_version", "panic"}

func (s *Set) add(name, dependency string) *state {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &state{name: name, set: s, inflight: map[uint64]time.Time{}, quarantN: map[string]int{}}
	s.stages[name] = st
	// Known series start at 0, so that a rule sees the first increase and
	// a dashboard shows the stage before anything happened.
	s.retrying.WithLabelValues(name).Set(0)
	s.pending.WithLabelValues(name).Set(0)
	s.oldest.WithLabelValues(name).Set(0)
	s.handled.WithLabelValues(name)
	for _, cause := range []string{dependency, "nats"} {
		s.retries.WithLabelValues(name, cause)
	}
	for _, code := range runtimeCodes {
		s.quarantined.WithLabelValues(name, code)
	}
	return st
}

func (s *Set) list() []*state {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*state, 0, len(s.stages))
	for _, st := range s.stages {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Ready fails while any stage retries a transient failure, naming the stage,
// since when and why: the readiness check of every service.
func (s *Set) Ready(context.Context) error {
	var errs []error
	for _, st := range s.list() {
		st.mu.Lock()
		if st.failing != nil {
			errs = append(errs, fmt.Errorf("%s retrying since %s: %w", st.name, st.since.UTC().Format(time.RFC3339), st.failing))
		}
		if st.fetching != nil {
			errs = append(errs, fmt.Errorf("%s cannot fetch since %s: %w", st.name, st.fetchingSince.UTC().Format(time.RFC3339), st.fetching))
		}
		st.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Busy reports whether any stage is retrying or holds a message it has not
// acknowledged yet.
func (s *Set) Busy() bool {
	for _, st := range s.list() {
		st.mu.Lock()
		busy := st.failing != nil || st.fetching != nil || len(st.inflight) > 0
		st.mu.Unlock()
		if busy {
			return true
		}
	}
	return false
}

// Quarantined summarises what the stages of this process quarantined since
// they started, as "stage code×n, …" ("" when nothing was).
func (s *Set) Quarantined() string {
	var parts []string
	for _, st := range s.list() {
		st.mu.Lock()
		codes := make([]string, 0, len(st.quarantN))
		for c := range st.quarantN {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		for _, c := range codes {
			parts = append(parts, fmt.Sprintf("%s %s×%d", st.name, c, st.quarantN[c]))
		}
		st.mu.Unlock()
	}
	return strings.Join(parts, ", ")
}

func (st *state) failed(cause string, err error, n int) {
	st.mu.Lock()
	if st.failing == nil {
		st.since = time.Now()
	}
	st.failing = fmt.Errorf("%s: %w", cause, err)
	st.mu.Unlock()
	st.set.retrying.WithLabelValues(st.name).Set(1)
	if n > 0 {
		st.set.retries.WithLabelValues(st.name, cause).Add(float64(n))
	}
}

// fetched records the outcome of a fetch from JetStream.
func (st *state) fetched(err error) {
	st.mu.Lock()
	if err != nil && st.fetching == nil {
		st.fetchingSince = time.Now()
	}
	st.fetching = err
	failing := st.failing != nil || st.fetching != nil
	st.mu.Unlock()
	v := 0.0
	if failing {
		v = 1
	}
	st.set.retrying.WithLabelValues(st.name).Set(v)
}

func (st *state) recovered() {
	st.mu.Lock()
	was := st.failing != nil
	st.failing = nil
	still := st.fetching != nil
	st.mu.Unlock()
	if was && !still {
		st.set.retrying.WithLabelValues(st.name).Set(0)
	}
}

func (st *state) received(seq uint64, at time.Time) {
	st.mu.Lock()
	if _, ok := st.inflight[seq]; !ok {
		st.inflight[seq] = at
	}
	st.mu.Unlock()
}

func (st *state) done(seq uint64) {
	st.mu.Lock()
	delete(st.inflight, seq)
	st.mu.Unlock()
}

func (st *state) quarantine(code string) {
	st.mu.Lock()
	st.quarantN[code]++
	st.mu.Unlock()
	st.set.quarantined.WithLabelValues(st.name, code).Inc()
}

func (st *state) acked(n int) { st.set.handled.WithLabelValues(st.name).Add(float64(n)) }

// observe refreshes the gauges: pending from the server's count, the oldest
// age from the messages received and not yet acknowledged.
func (st *state) observe(pending uint64, ok bool) {
	st.mu.Lock()
	if ok {
		st.pendingN, st.pendingOK = pending, true
	}
	var oldest time.Time
	for _, at := range st.inflight {
		if oldest.IsZero() || at.Before(oldest) {
			oldest = at
		}
	}
	st.mu.Unlock()
	if ok {
		st.set.pending.WithLabelValues(st.name).Set(float64(pending))
	}
	age := 0.0
	if !oldest.IsZero() {
		age = time.Since(oldest).Seconds()
	}
	st.set.oldest.WithLabelValues(st.name).Set(age)
}

// Package lease lets one replica of a service at a time do a piece of work
// (the loader's consumption of two JetStream consumers, so that one process
// sees both streams and keeps in-memory counts), by holding a key in a NATS
// JetStream key-value bucket. The bucket's TTL removes the key of a holder
// that stopped renewing it (crashed, cut off from NATS), so that another
// replica takes over.
//
// Timing, with ttl the bucket's TTL: the holder renews the key every ttl/3;
// it gives the lease up (and cancels its work) once no renewal has
// succeeded for ttl/2, while the key lives ttl after its last renewal, so a
// holder in trouble stops before anyone else can start, with ttl/2 to spare.
// A holder that stops cleanly deletes the key, and another replica takes
// over within ttl/3 (the pace at which waiting replicas try to take it).
//
// The lease decides which replica works; correctness must not depend on it.
// A holder learns it lost the key only when a renewal fails: a process
// paused (GC, SIGSTOP, a migrated VM) may still believe it holds the lease
// for up to ttl/2 after its last renewal, and work that is slow to stop may
// still run after another replica took over. Callers fence their writes on
// their own (idempotent inserts, exclusive consumers, revision checks) and
// rely on the lease only to avoid doing the work twice, never to make doing
// it twice safe.
package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// releaseTimeout bounds the deletion of the key when the lease is given
// back: past it, other replicas wait for the key to expire instead.
const releaseTimeout = 5 * time.Second

// Option configures Hold.
type Option func(*options)

type options struct {
	onChange func(held bool)
	onError  func(err error)
}

// OnChange has Hold call f(true) when it has taken the lease, just before
// run starts, and f(false) once run has returned and the lease was given
// back or lost. f runs on Hold's goroutine and must return quickly (set a
// gauge, write a log line).
func OnChange(f func(held bool)) Option {
	return func(o *options) { o.onChange = f }
}

// OnError has Hold call f with the troubles it copes with on its own:
// failed attempts to take or renew the key (finding it held by another
// replica is not one), a lost lease and why, a failed release. Hold goes on
// whatever f does; f is for the logs and must return quickly.
func OnError(f func(err error)) Option {
	return func(o *options) { o.onError = f }
}

// Hold runs run while this process holds the lease key in kv, and only then.
// holder names this process (e.g. "host/pid"), written as the key's value.
// ttl must be the bucket's TTL (KeyValueConfig.TTL): a holder that stops
// renewing loses the key after ttl.
//
// Hold waits for the key, retrying every ttl/3 whatever the failure, and
// runs run with a context derived from ctx once it has it. If the lease is
// lost, that context is cancelled and Hold, once run has returned, waits
// for the key again. Once Hold has cancelled run's context (lease lost, or
// ctx ended), whatever run returns is taken as its way of stopping.
//
// Hold returns nil when ctx ends, after run has returned and the key was
// deleted (a failed deletion goes to OnError; the key then expires), so
// that another replica takes over at once; it keeps renewing
// the key while run stops, so that no other replica starts meanwhile. If
// run returns on its own while the lease is held, Hold releases the key and
// returns run's error, wrapped, or nil. Hold fails at once only on a ttl
// that is not positive or a key that is not a valid key name.
func Hold(ctx context.Context, kv jetstream.KeyValue, key, holder string, ttl time.Duration, run func(ctx context.Context) error, opts ...Option) error {
	if ttl <= 0 {
		return fmt.Errorf("lease %q: ttl must be the bucket's TTL, positive, not %v", key, ttl)
	}
	l := &lease{kv: kv, key: key, value: []byte(holder), ttl: ttl, run: run}
	for _, opt := range opts {
		opt(&l.opts)
	}
	for {
		rev, at, err := l.acquire(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if done, err := l.hold(ctx, rev, at); done {
			return err
		}
	}
}

// lease is the state of one call of Hold.
type lease struct {
	kv    jetstream.KeyValue
	key   string
	value []byte
	ttl   time.Duration
	run   func(ctx context.Context) error
	opts  options
}

// acquire creates the key, retrying every ttl/3 until it succeeds or ctx
// ends. It returns the key's revision and the time the successful attempt
// started: the key expires ttl after it was written, which is later.
func (l *lease) acquire(ctx context.Context) (uint64, time.Time, error) {
	pause := l.ttl / 3
	for {
		at := time.Now()
		cctx, cancel := context.WithTimeout(ctx, pause)
		rev, err := l.kv.Create(cctx, l.key, l.value)
		cancel()
		switch {
		case err == nil:
			return rev, at, nil
		case ctx.Err() != nil:
			return 0, at, ctx.Err()
		case errors.Is(err, jetstream.ErrInvalidKey):
			// Retrying cannot help: the caller's key is wrong.
			return 0, at, fmt.Errorf("lease %q: %w", l.key, err)
		case !conflict(err):
			// A conflict is another replica holding the key: the normal
			// case, not worth a log line. Anything else is NATS in trouble.
			l.report(fmt.Errorf("lease %q: taking the key failed, retrying in %v: %w", l.key, pause, err))
		}
		select {
		case <-ctx.Done():
			return 0, at, ctx.Err()
		case <-time.After(pause):
		}
	}
}

// hold runs l.run under the lease taken at revision rev at time at,
// renewing the key until run has returned. It returns done=false when the
// lease was lost while ctx lives (Hold then waits for the key again), and
// done=true with Hold's result otherwise.
func (l *lease) hold(ctx context.Context, rev uint64, at time.Time) (done bool, err error) {
	l.changed(true)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- l.run(runCtx) }()

	// Renewals go on while run stops after ctx ended, so that no other
	// replica starts before this one has stopped: they need a context that
	// ctx's end does not cancel.
	bg := context.WithoutCancel(ctx)
	every := l.ttl / 3
	lastOK := at // start of the last successful write of the key
	var (
		lastErr error // why the last renewal failed
		lost    error // why the lease was lost; nil while held
		runErr  error
		stopped bool // run's context was cancelled when run returned
	)
	// giveUp stops run on a lost lease; the timer is not re-armed after
	// it, so that only run's return is awaited.
	giveUp := func(why error) {
		lost = why
		l.report(why)
		stop()
	}
	timer := time.NewTimer(every)
	defer timer.Stop()
	ctxDone := ctx.Done()
	for running := true; running; {
		select {
		case <-ctxDone:
			stop()
			ctxDone = nil // keep renewing until run returns
		case runErr = <-ran:
			stopped = runCtx.Err() != nil
			running = false
		case <-timer.C:
			deadline := lastOK.Add(l.ttl / 2)
			if !time.Now().Before(deadline) {
				why := lastErr
				if why == nil { // the timer fired late: this process was paused or starved
					why = errors.New("no renewal could be tried in time")
				}
				giveUp(fmt.Errorf("lease %q lost: not renewed for %v (ttl/2), another replica may take it %v after the last renewal: %w", l.key, l.ttl/2, l.ttl, why))
				break
			}
			start := time.Now()
			// A renewal must settle before the lease would count as lost.
			rctx, cancel := context.WithDeadline(bg, deadline)
			next, err := l.kv.Update(rctx, l.key, l.value, rev)
			cancel()
			switch {
			case err == nil:
				rev, lastOK, lastErr = next, start, nil
				timer.Reset(every)
			case conflict(err):
				giveUp(fmt.Errorf("lease %q lost: the key moved past revision %d (another replica or someone else wrote it, or the reply to a renewal was lost): %w", l.key, rev, err))
			default:
				// NATS away or slow: retry a few times before the deadline,
				// which the next tick turns into a loss.
				lastErr = err
				l.report(fmt.Errorf("lease %q: renewal failed, retrying until %v after the last success: %w", l.key, l.ttl/2, err))
				timer.Reset(min(every/4, time.Until(deadline)))
			}
		}
	}

	if lost == nil {
		l.release(rev)
	}
	l.changed(false)
	switch {
	case !stopped && runErr != nil:
		return true, fmt.Errorf("work under lease %q failed: %w", l.key, runErr)
	case !stopped || ctx.Err() != nil:
		return true, nil
	default: // run was stopped because the lease was lost: compete again
		return false, nil
	}
}

// release deletes the key if it is still at our revision rev, so that
// another replica takes over at once instead of waiting for it to expire.
func (l *lease) release(rev uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(rev))
	switch {
	case err == nil:
	case conflict(err):
		l.report(fmt.Errorf("lease %q: already lost when released (the key moved past revision %d): %w", l.key, rev, err))
	default:
		l.report(fmt.Errorf("lease %q: releasing the key failed, other replicas take over once it expires (ttl %v): %w", l.key, l.ttl, err))
	}
}

func (l *lease) changed(held bool) {
	if l.opts.onChange != nil {
		l.opts.onChange(held)
	}
}

func (l *lease) report(err error) {
	if l.opts.onError != nil {
		l.opts.onError(err)
	}
}

// conflict tells whether err is a write refused because the key is not at
// the expected revision: Create finding the key present, Update or Delete
// finding it moved. Replicated buckets report it with another API code.
func conflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

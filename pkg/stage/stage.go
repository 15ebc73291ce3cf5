// Package stage is the one runtime every JetStream consumer of the hub runs
// on (validator, pseudonymisation, loader records and receipts, ack): fetch
// a batch from a durable pull consumer, decode each event and check its
// version, run the handler, and settle each message by one delivery policy.
//
//   - Success: the message is acknowledged, only after the handler's side
//     effect (a publish acknowledged, an insert done, an MDN accepted).
//   - Transient failure (any error not marked permanent: a dependency away,
//     a timeout, a NATS leader change): handed back with a capped
//     exponential delay, for as long as the stream keeps the message. The
//     consumer has no delivery limit, so nothing ends redelivery silently;
//     the stage reports itself not ready and exports the age of its oldest
//     pending message meanwhile.
//   - Permanent failure (an unreadable event, an unknown version, a handler
//     panic, an error wrapping ErrPermanent): published to the quarantine
//     stream with the reason and the message, logged and counted, then
//     terminated. bndmrctl quarantine replay brings it back.
//
// A batch handler that fails for good is run again one message at a time,
// so that one bad message is quarantined and the others go through. A batch
// is kept in progress while it is handled. A pinned consumer delivers to
// one client at a time; a stage that stops hands its pin over.
package stage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/pause"
	"github.com/bndmr/hub/pkg/topology"
)

// Event is a versioned hub event.
type Event interface {
	EventVersion() int
}

// Delivery is one message handed to a handler, decoded.
type Delivery[T any] struct {
	Event T
	Msg   jetstream.Msg
	Meta  *jetstream.MsgMetadata
}

// MsgID is the Nats-Msg-Id the message was published with ("" if none).
func (d Delivery[T]) MsgID() string { return d.Msg.Headers().Get(jetstream.MsgIDHeader) }

// InProgress tells JetStream the handler is still working on the message,
// so that it is not given to another worker after AckWait.
func (d Delivery[T]) InProgress() { _ = d.Msg.InProgress() }

// Spec declares a stage. Exactly one of HandleOne and HandleBatch is set.
type Spec[T Event] struct {
	// Consumer is the durable consumer, as pkg/topology declares it.
	Consumer topology.Consumer
	// Version is the event version the handler reads; another is quarantined.
	Version int
	// HandleOne handles one message: nil acknowledges it.
	HandleOne func(ctx context.Context, d Delivery[T]) error
	// HandleBatch handles a whole fetched batch at once (the loader's insert).
	HandleBatch func(ctx context.Context, batch []Delivery[T]) error
	// Batch is how many messages one fetch asks for (default 10).
	Batch int
	// MaxWait is how long a fetch waits for a full batch (default 2s): the
	// loader's flush interval.
	MaxWait time.Duration
	// Quiet, for a HandleBatch stage, hands a batch over as soon as no
	// message came for that long, before it is full or MaxWait has passed:
	// under load the batches fill (few large inserts), while a lone
	// message waits only Quiet. 0: a batch waits MaxWait.
	Quiet time.Duration
	// Workers is the number of fetch-and-handle loops (default 1).
	Workers int
	// Dependency names the cause of a transient failure not marked by
	// Transient (default "handler").
	Dependency string
	// Identified keeps the message's bytes out of the quarantine: the entry
	// names the mail (MailID) instead.
	Identified bool
	// MailID names the mail an event belongs to, for the quarantine and logs.
	MailID func(T) string
	// MailSeq, when set, gives the mail's sequence in BNDMR_MAIL for the
	// quarantine entry (Failed.MailSeq).
	MailSeq func(T) uint64
	// Backoff bounds the redelivery delay of a transient failure (default
	// 1s doubling to 1m).
	BackoffMin, BackoffMax time.Duration
	// PollEvery is how often the pending count is read (default 5s).
	PollEvery time.Duration
}

func (s *Spec[T]) defaults() error {
	if (s.HandleOne == nil) == (s.HandleBatch == nil) {
		return fmt.Errorf("stage %s: set exactly one of HandleOne and HandleBatch", s.Consumer.Durable)
	}
	if s.Consumer.Durable == "" || s.Consumer.Stream == "" {
		return errors.New("stage: the consumer has no stream or durable name")
	}
	if s.Batch <= 0 {
		s.Batch = 10
	}
	if s.MaxWait <= 0 {
		s.MaxWait = 2 * time.Second
	}
	if s.Workers <= 0 {
		s.Workers = 1
	}
	if s.Dependency == "" {
		s.Dependency = "handler"
	}
	if s.BackoffMin <= 0 {
		s.BackoffMin = time.Second
	}
	if s.BackoffMax <= 0 {
		s.BackoffMax = time.Minute
	}
	if s.PollEvery <= 0 {
		s.PollEvery = 5 * time.Second
	}
	if s.MailID == nil {
		s.MailID = func(T) string { return "" }
	}
	return nil
}

// Run runs the stage until ctx ends. set may be nil (a private set).
// NATS away at start is waited for, not an error: the messages wait in the
// stream.
func Run[T Event](ctx context.Context, js jetstream.JetStream, set *Set, log *zap.Logger, spec Spec[T]) error {
	if err := spec.defaults(); err != nil {
		return err
	}
	if set == nil {
		set = NewSet(nil)
	}
	if log == nil {
		log = zap.NewNop()
	}
	r := &runner[T]{spec: spec, js: js, st: set.add(spec.Consumer.Durable, spec.Dependency), log: log.With(zap.String("stage", spec.Consumer.Durable))}
	cons, err := r.consumer(ctx)
	if ctx.Err() != nil {
		return nil // stopped while waiting for NATS: nothing was taken
	}
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(spec.Workers + 1)
	go func() { defer wg.Done(); r.poll(ctx, cons) }()
	for range spec.Workers {
		go func() { defer wg.Done(); r.loop(ctx, cons) }()
	}
	wg.Wait()
	r.unpin(cons)
	return nil
}

// unpin hands a pinned consumer over as the stage stops: another replica is
// pinned at its next request, instead of after PinnedTTL (a rolling update,
// a drained node). Only if this client holds the pin: the pin id of the last
// message it received is the consumer's. A crashed process cannot: the pin
// then moves after PinnedTTL.
func (r *runner[T]) unpin(cons jetstream.Consumer) {
	pin, _ := r.pin.Load().(string)
	if !r.spec.Consumer.Pinned || pin == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Unpin(ctx, r.js, r.spec.Consumer, pin); err != nil {
		r.log.Warn("the pinned consumer was not handed over; another replica takes it after the pin's TTL", zap.Error(err))
	}
}

// Unpin unpins consumer c from the client whose pin id is pin, or from any
// client when pin is "", and returns the pin ids it removed. A consumer not
// made yet, or not pinned, has nothing to unpin.
func Unpin(ctx context.Context, js jetstream.JetStream, c topology.Consumer, pin string) ([]string, error) {
	if !c.Pinned {
		return nil, nil
	}
	stream, err := js.Stream(ctx, c.Stream)
	if err != nil {
		return nil, err
	}
	cons, err := stream.Consumer(ctx, c.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, g := range info.PriorityGroups {
		if g.PinnedClientID == "" || pin != "" && g.PinnedClientID != pin {
			continue
		}
		if err := stream.UnpinConsumer(ctx, c.Durable, g.Group); err != nil {
			return removed, err
		}
		removed = append(removed, g.PinnedClientID)
	}
	return removed, nil
}

// ConsumerConfig is the JetStream configuration of a declared consumer: no
// delivery limit, so that only the stream's retention ends a message's life.
func ConsumerConfig(c topology.Consumer) jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:       c.Durable,
		FilterSubject: c.Subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: 1000,
	}
	if c.Pinned {
		cfg.PriorityPolicy, cfg.PriorityGroups, cfg.PinnedTTL = jetstream.PriorityPolicyPinned, []string{topology.PinnedGroup}, topology.PinnedTTL
		if c.PinnedTTL > 0 {
			cfg.PinnedTTL = c.PinnedTTL
		}
	}
	return cfg
}

type runner[T Event] struct {
	spec Spec[T]
	js   jetstream.JetStream
	st   *state
	log  *zap.Logger
	pin  atomic.Value // string: the pin id of the last message of a pinned consumer
}

// consumer creates or updates the durable consumer, waiting for NATS.
func (r *runner[T]) consumer(ctx context.Context) (jetstream.Consumer, error) {
	c := r.spec.Consumer
	for attempt := uint64(1); ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cons, err := r.js.CreateOrUpdateConsumer(cctx, c.Stream, ConsumerConfig(c))
		cancel()
		if err == nil {
			r.st.recovered()
			return cons, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		err = fmt.Errorf("creating consumer %s on stream %s: %w", c.Durable, c.Stream, err)
		r.st.failed("nats", err, 0)
		r.log.Warn("JetStream consumer not available yet; retrying", zap.Error(err))
		_ = pause.For(ctx, r.backoff(attempt))
	}
}

// poll reads the consumer's pending count for the metrics.
func (r *runner[T]) poll(ctx context.Context, cons jetstream.Consumer) {
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		info, err := cons.Info(cctx)
		cancel()
		if err == nil {
			r.st.observe(info.NumPending+uint64(info.NumAckPending), true)
		} else {
			r.st.observe(0, false)
		}
		if pause.For(ctx, r.spec.PollEvery) != nil {
			return
		}
	}
}

func (r *runner[T]) loop(ctx context.Context, cons jetstream.Consumer) {
	var failures uint64
	for ctx.Err() == nil {
		var ds []Delivery[T]
		var err error
		if r.spec.HandleBatch != nil && r.spec.Quiet > 0 {
			ds, err = r.gather(ctx, cons)
		} else {
			_, err = r.fetch(ctx, cons, r.spec.Batch, r.spec.MaxWait, &ds)
		}
		if len(ds) > 0 {
			r.settle(ctx, ds, r.call(ctx, ds))
		}
		if err == nil {
			failures = 0
			r.st.fetched(nil)
			continue
		}
		if ctx.Err() != nil {
			return
		}
		failures++
		r.st.fetched(fmt.Errorf("nats: fetching from %s: %w", r.spec.Consumer.Durable, err))
		var req requestError
		if !errors.As(err, &req) {
			// The request went; its answer was an error (the consumer
			// deleted, a leader moving): wait, and ask again. Recreating
			// the consumer here would start it from the stream's first
			// message, to be delivered all over again.
			_ = pause.For(ctx, r.backoff(failures))
			continue
		}
		r.log.Warn("cannot fetch from JetStream; retrying", zap.Error(err))
		_ = pause.For(ctx, r.backoff(failures))
		if failures%3 == 0 {
			// A handle that keeps failing (no responders after its
			// server restarted): look the consumer up again.
			if c, err := r.consumer(ctx); err == nil {
				cons = c
			}
		}
	}
}

// firstWait bounds how long gather's first fetch waits, so that a stopping
// stage is not held by a long MaxWait: an empty fetch just asks again.
const firstWait = 2 * time.Second

// gather fills a batch for HandleBatch: it waits for a first message, then
// takes what follows until the batch is full, MaxWait has passed since
// that first message, or none came for Quiet.
func (r *runner[T]) gather(ctx context.Context, cons jetstream.Consumer) ([]Delivery[T], error) {
	var ds []Delivery[T]
	if n, err := r.fetch(ctx, cons, 1, min(r.spec.MaxWait, firstWait), &ds); n == 0 || err != nil {
		return ds, err
	}
	first := time.Now()
	for len(ds) < r.spec.Batch && ctx.Err() == nil {
		left := r.spec.MaxWait - time.Since(first)
		if left < 5*time.Millisecond {
			break
		}
		n, err := r.fetch(ctx, cons, r.spec.Batch-len(ds), min(r.spec.Quiet, left), &ds)
		if n == 0 || err != nil {
			return ds, err
		}
	}
	return ds, nil
}

// fetch asks for up to n messages, waiting at most wait for them (the
// server's wait: the client gives its answer a second more). With
// HandleOne each is handled as it arrives; otherwise the readable ones are
// appended to ds. It returns how many messages came, readable or not, and
// a failure to fetch (a fetch that ends with fewer messages is not one).
// It reads the fetch to its end: a message the server sent to it and
// nobody read would wait AckWait (minutes) before coming again.
func (r *runner[T]) fetch(ctx context.Context, cons jetstream.Consumer, n int, wait time.Duration, ds *[]Delivery[T]) (int, error) {
	opts := []jetstream.FetchOpt{jetstream.FetchMaxWait(wait)}
	if r.spec.Consumer.Pinned {
		opts = append(opts, jetstream.FetchPriorityGroup(topology.PinnedGroup))
	}
	batch, err := cons.Fetch(n, opts...)
	if err != nil {
		return 0, requestError{err}
	}
	got := 0
	for msg := range batch.Messages() {
		got++
		if id := msg.Headers().Get("Nats-Pin-Id"); id != "" {
			r.pin.Store(id)
		}
		d, ok := r.decode(ctx, msg)
		switch {
		case !ok:
		case r.spec.HandleOne != nil:
			// As it arrives: a fetch waits MaxWait for a full batch.
			r.settle(ctx, []Delivery[T]{d}, r.call(ctx, []Delivery[T]{d}))
		default:
			*ds = append(*ds, d)
		}
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
		if errors.Is(err, jetstream.ErrPinIDMismatch) {
			// Another client of a pinned consumer has the pin: this one
			// waits its turn, with a fresh request (the client forgot the
			// pin it had), and is not failing.
			return got, nil
		}
		return got, err
	}
	return got, nil
}

// requestError is a pull request that could not be sent (no responders
// after a server restart): the consumer is looked up again.
type requestError struct{ err error }

func (e requestError) Error() string { return e.err.Error() }
func (e requestError) Unwrap() error { return e.err }

// decode reads one message; what cannot be read is quarantined at once.
func (r *runner[T]) decode(ctx context.Context, msg jetstream.Msg) (Delivery[T], bool) {
	d := Delivery[T]{Msg: msg}
	md, err := msg.Metadata()
	if err != nil {
		// Not a JetStream message: nothing to acknowledge or quarantine.
		r.log.Error("message without JetStream metadata ignored", zap.Error(err))
		return d, false
	}
	d.Meta = md
	r.st.received(md.Sequence.Stream, md.Timestamp)
	var derr error
	if err := json.Unmarshal(msg.Data(), &d.Event); err != nil {
		derr = Permanent("bad_event", fmt.Errorf("unreadable %s event: %w", msg.Subject(), err))
	} else if v := d.Event.EventVersion(); v != r.spec.Version {
		derr = Permanent("bad_version", fmt.Errorf("%s event of version %d; this stage reads version %d", msg.Subject(), v, r.spec.Version))
	}
	if derr != nil {
		r.settle(ctx, []Delivery[T]{d}, derr)
		return d, false
	}
	return d, true
}

// call runs the handler, turning a panic into a permanent failure.
func (r *runner[T]) call(ctx context.Context, ds []Delivery[T]) (err error) {
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("handler panicked", zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
			err = panicError(v)
		}
	}()
	if r.spec.HandleOne != nil {
		return r.spec.HandleOne(ctx, ds[0])
	}
	defer r.keepInProgress(ds)()
	return r.spec.HandleBatch(ctx, ds)
}

// keepInProgress tells JetStream, every half AckWait until the returned
// stop is called, that the batch is still being handled: a batch may take
// longer than AckWait (the loader that takes over counts the figures again
// first), and JetStream would hand its messages out a second time.
func (r *runner[T]) keepInProgress(ds []Delivery[T]) (stop func()) {
	every := r.spec.Consumer.AckWait / 2
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, d := range ds {
					d.InProgress()
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// settle applies the delivery policy to ds after the handler returned err.
func (r *runner[T]) settle(ctx context.Context, ds []Delivery[T], err error) {
	switch {
	case err == nil:
		r.st.recovered()
		for _, d := range ds {
			var aerr error
			if len(ds) == 1 {
				aerr = d.Msg.DoubleAck(ctx)
			} else {
				aerr = d.Msg.Ack()
			}
			if aerr != nil {
				// Redelivered after AckWait; the handler's work is idempotent.
				r.log.Warn("acknowledgement not confirmed; the message will come again", zap.Uint64("seq", d.Meta.Sequence.Stream), zap.Error(aerr))
				continue
			}
			r.st.done(d.Meta.Sequence.Stream)
		}
		r.st.acked(len(ds))
	case errors.Is(err, ErrPermanent) && len(ds) > 1:
		// One bad message must not hold the others: one at a time.
		for _, d := range ds {
			one := []Delivery[T]{d}
			r.settle(ctx, one, r.call(ctx, one))
		}
	case errors.Is(err, ErrPermanent):
		r.quarantine(ctx, ds[0], err)
	default:
		if ctx.Err() != nil {
			// Stopping: the message comes back to whoever runs next.
			for _, d := range ds {
				_ = d.Msg.Nak()
			}
			return
		}
		cause := causeOf(err, r.spec.Dependency)
		r.st.failed(cause, err, len(ds))
		delay := r.backoff(ds[0].Meta.NumDelivered)
		r.log.Warn("transient failure; the messages will come again", zap.String("cause", cause), zap.Int("messages", len(ds)),
			zap.Uint64("deliveries", ds[0].Meta.NumDelivered), zap.Duration("delay", delay), zap.Error(err))
		for _, d := range ds {
			_ = d.Msg.NakWithDelay(delay)
		}
	}
}

// quarantine publishes d to the quarantine stream, then terminates it. If
// the quarantine cannot be written, the message is retried instead: it is
// never let go before it is kept somewhere.
func (r *runner[T]) quarantine(ctx context.Context, d Delivery[T], cause error) {
	code := codeOf(cause)
	failed := &events.Failed{
		Stream:     d.Meta.Stream,
		Subject:    d.Msg.Subject(),
		Seq:        d.Meta.Sequence.Stream,
		MsgID:      d.MsgID(),
		Published:  d.Meta.Timestamp.UTC(),
		Deliveries: d.Meta.NumDelivered,
		MailID:     r.spec.MailID(d.Event),
	}
	if !r.spec.Identified {
		failed.Data = d.Msg.Data()
	}
	if r.spec.MailSeq != nil {
		failed.MailSeq = r.spec.MailSeq(d.Event)
	}
	q := events.Quarantined{V: events.QuarantineV, Stage: r.spec.Consumer.Durable, Code: code, Reason: cause.Error(),
		At: time.Now().UTC(), Event: failed}
	id := fmt.Sprintf("stage/%s/%s/%d", r.spec.Consumer.Durable, d.Meta.Stream, d.Meta.Sequence.Stream)
	data, err := json.Marshal(q)
	if err == nil {
		msg := &nats.Msg{Subject: topology.SubjectQuarantine, Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, id)
		_, err = r.js.PublishMsg(ctx, msg)
	}
	if err != nil {
		err = fmt.Errorf("writing the quarantine entry of %s sequence %d: %w", d.Meta.Stream, d.Meta.Sequence.Stream, err)
		r.st.failed("nats", err, 1)
		r.log.Warn("cannot quarantine; the message will come again", zap.Error(err))
		_ = d.Msg.NakWithDelay(r.backoff(d.Meta.NumDelivered))
		return
	}
	if err := d.Msg.TermWithReason("quarantined: " + code); err != nil {
		r.log.Warn("quarantined, but the termination was not confirmed; a redelivery will be quarantined again under the same id", zap.Error(err))
	}
	r.st.done(d.Meta.Sequence.Stream)
	r.st.quarantine(code)
	r.log.Error("message quarantined", zap.String("code", code), zap.String("mail_id", failed.MailID),
		zap.String("stream", failed.Stream), zap.Uint64("seq", failed.Seq), zap.String("reason", cause.Error()))
}

// backoff is the delay before attempt n+1: doubling from BackoffMin, capped.
func (r *runner[T]) backoff(n uint64) time.Duration {
	d := r.spec.BackoffMin
	for i := uint64(1); i < n && d < r.spec.BackoffMax; i++ {
		d *= 2
	}
	return min(d, r.spec.BackoffMax)
}

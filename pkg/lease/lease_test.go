package lease

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ttl of the test bucket: short, so that expiries happen within the test.
const ttl = 1500 * time.Millisecond

// key every holder of a test competes for.
const key = "loader"

// expiryMargin is added to the waits for a key to expire: nats-server
// removes expired messages at most every 250ms, and the test may be slow
// under -race.
const expiryMargin = ttl / 3

// startServer starts a NATS server with JetStream for one test and returns
// its URL.
func startServer(t *testing.T) string {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("NATS server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready within 10s")
	}
	t.Cleanup(srv.Shutdown)
	return srv.ClientURL()
}

// bucket opens the lease bucket on a connection of its own, as a replica
// would.
func bucket(t *testing.T, url string) (*nats.Conn, jetstream.KeyValue) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "leases", TTL: ttl, History: 1})
	if err != nil {
		t.Fatalf("bucket: %v", err)
	}
	return nc, kv
}

// world counts the runs going on at once among the holders of one key.
type world struct {
	active atomic.Int32
	most   atomic.Int32
}

// newWorld returns a world that fails t, once its holders have stopped, if
// two runs ever overlapped.
func newWorld(t *testing.T) *world {
	w := &world{}
	t.Cleanup(func() {
		if n := w.most.Load(); n > 1 {
			t.Errorf("%d runs went on at once; the lease must allow one", n)
		}
	})
	return w
}

// holder is one call of Hold on key, in a goroutine of its own, whose run
// waits for its context, then lingers before returning.
type holder struct {
	name      string
	cancel    context.CancelFunc
	started   chan time.Time // when a run started
	cancelled chan time.Time // when a run's context ended
	done      chan struct{}  // closed when Hold returned, err and at set
	err       error
	at        time.Time
}

func startHolder(t *testing.T, w *world, kv jetstream.KeyValue, name string, linger time.Duration, opts ...Option) *holder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &holder{name: name, cancel: cancel, started: make(chan time.Time, 100),
		cancelled: make(chan time.Time, 100), done: make(chan struct{})}
	run := func(ctx context.Context) error {
		n := w.active.Add(1)
		for m := w.most.Load(); n > m && !w.most.CompareAndSwap(m, n); m = w.most.Load() {
		}
		h.started <- time.Now()
		<-ctx.Done()
		h.cancelled <- time.Now()
		time.Sleep(linger)
		w.active.Add(-1)
		return ctx.Err()
	}
	go func() {
		defer close(h.done)
		h.err = Hold(ctx, kv, key, name, ttl, run, opts...)
		h.at = time.Now()
	}()
	t.Cleanup(func() { cancel(); h.wait(t) })
	return h
}

// wait waits for Hold to return, which it must do soon once its context
// ended, and checks that it returned nil.
func (h *holder) wait(t *testing.T) {
	t.Helper()
	select {
	case <-h.done:
		if h.err != nil {
			t.Errorf("%s: Hold returned %v after its context ended, want nil", h.name, h.err)
		}
	case <-time.After(releaseTimeout + ttl):
		t.Errorf("%s: Hold has not returned %v after its context ended", h.name, releaseTimeout+ttl)
	}
}

// by returns when something came on ch, failing t if nothing came before
// deadline.
func by(t *testing.T, ch <-chan time.Time, deadline time.Time, what string) time.Time {
	t.Helper()
	select {
	case at := <-ch:
		return at
	case <-time.After(time.Until(deadline)):
		t.Fatalf("%s: not by the deadline", what)
		return time.Time{}
	}
}

func within(t *testing.T, ch <-chan time.Time, d time.Duration, what string) time.Time {
	t.Helper()
	return by(t, ch, time.Now().Add(d), what+fmt.Sprintf(" (within %v)", d))
}

// never fails t if something comes on ch within d.
func never(t *testing.T, ch <-chan time.Time, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s", what)
	case <-time.After(d):
	}
}

// valueOf returns the key's value, "" if it has none.
func valueOf(t *testing.T, kv jetstream.KeyValue) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return string(e.Value())
}

// recorder keeps what Hold reported through its options.
type recorder struct {
	mu      sync.Mutex
	changes []bool
	errs    []error
}

func (r *recorder) opts() []Option {
	return []Option{
		OnChange(func(held bool) { r.mu.Lock(); r.changes = append(r.changes, held); r.mu.Unlock() }),
		OnError(func(err error) { r.mu.Lock(); r.errs = append(r.errs, err); r.mu.Unlock() }),
	}
}

func (r *recorder) got() ([]bool, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.changes), slices.Clone(r.errs)
}

// Two replicas: the second waits while the first holds (and renews) the
// key, and takes over through the first's delete when it stops.
func TestHandover(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	_, kvA := bucket(t, url)
	_, kvB := bucket(t, url)
	w := newWorld(t)

	a := startHolder(t, w, kvA, "A", 0)
	within(t, a.started, 5*time.Second, "A starts")
	b := startHolder(t, w, kvB, "B", 0)
	// Longer than ttl: A's key would have expired had A not renewed it.
	never(t, b.started, ttl+ttl/3, "B started while A held the lease")
	if v := valueOf(t, kvB); v != "A" {
		t.Fatalf("key holds %q while A holds the lease, want A", v)
	}

	stoppedAt := time.Now()
	a.cancel()
	tb := within(t, b.started, ttl, "B starts once A stopped")
	// A renews its key every ttl/3: written at most ttl/3 (and a round
	// trip) before A stopped, it could not expire before 2ttl/3 after (and
	// nats-server expires late, never early). B starting within ttl/2
	// proves A's release handed the key over. (A watcher cannot show the
	// delete marker reliably: with History 1, B's write may replace it
	// before the watcher is sent it.)
	if d := tb.Sub(stoppedAt); d > ttl/2 {
		t.Errorf("B took over %v after A stopped, want under ttl/2 = %v (B tries every ttl/3)", d, ttl/2)
	}
	a.wait(t)
	if v := valueOf(t, kvB); v != "B" {
		t.Errorf("key holds %q after the hand-over, want B", v)
	}
}

// A holder cut off from NATS stops its work within ttl/2 of its last
// renewal; the other takes over once the key expired.
func TestCrashedHolderExpires(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	ncA, kvA := bucket(t, url)
	_, kvB := bucket(t, url)
	w := newWorld(t)

	a := startHolder(t, w, kvA, "A", 0)
	within(t, a.started, 5*time.Second, "A starts")
	b := startHolder(t, w, kvB, "B", 0)

	crashedAt := time.Now()
	ncA.Close() // A's renewals fail from now on
	ta := within(t, a.cancelled, ttl/2+ttl/3, "A's run is cancelled once its renewals fail")
	tb := by(t, b.started, crashedAt.Add(ttl+ttl/3+expiryMargin), "B takes over once A's key expired")
	t.Logf("A stopped %v after its connection closed, B started after %v", ta.Sub(crashedAt), tb.Sub(crashedAt))
	// A's key was written at most ttl/3 before the crash: it lived at
	// least 2ttl/3 more, and B must not have had it before.
	if d := tb.Sub(crashedAt); d < ttl/2 {
		t.Errorf("B started %v after A's crash, before A's key could have expired", d)
	}
	if !tb.After(ta) {
		t.Error("B started before A's run was cancelled")
	}
	if v := valueOf(t, kvB); v != "B" {
		t.Errorf("key holds %q after the take-over, want B", v)
	}
}

// Someone overwrites the key: the holder notices at its next renewal,
// stops its work, leaves the other value alone, and takes the key again
// once that value expired.
func TestOverwrittenKey(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	_, kv := bucket(t, url)
	w := newWorld(t)
	var rec recorder
	h := startHolder(t, w, kv, "H", 0, rec.opts()...)
	within(t, h.started, 5*time.Second, "H starts")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	putAt := time.Now()
	if _, err := kv.Put(ctx, key, []byte("intruder")); err != nil {
		t.Fatalf("put: %v", err)
	}
	within(t, h.cancelled, ttl/3+250*time.Millisecond, "H's run is cancelled at its next renewal")
	if v := valueOf(t, kv); v != "intruder" {
		t.Errorf("key holds %q once H gave up, want the intruder's value left alone", v)
	}
	again := by(t, h.started, putAt.Add(ttl+ttl/3+expiryMargin), "H takes the key again once the intruder's value expired")
	if d := again.Sub(putAt); d < ttl*9/10 {
		t.Errorf("H started again %v after the overwrite, before the intruder's value expired (ttl %v)", d, ttl)
	}
	if v := valueOf(t, kv); v != "H" {
		t.Errorf("key holds %q after H took it again, want H", v)
	}

	changes, errs := rec.got()
	if want := []bool{true, false, true}; !slices.Equal(changes, want) {
		t.Errorf("OnChange saw %v, want %v", changes, want)
	}
	if !slices.ContainsFunc(errs, func(err error) bool { return errors.Is(err, jetstream.ErrKeyRevisionMismatch) }) {
		t.Errorf("OnError saw %v, want the loss of the lease to a revision mismatch", errs)
	}
}

// A holder slow to stop keeps renewing the key until its work returned, so
// that the other replica does not start meanwhile, even past ttl.
func TestSlowStopKeepsLease(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	_, kvA := bucket(t, url)
	_, kvB := bucket(t, url)
	w := newWorld(t)

	linger := ttl + ttl/2
	a := startHolder(t, w, kvA, "A", linger)
	within(t, a.started, 5*time.Second, "A starts")
	b := startHolder(t, w, kvB, "B", 0)

	a.cancel()
	select {
	case <-b.started:
		t.Fatal("B started while A's work was still stopping")
	case <-a.done:
	case <-time.After(linger + ttl):
		t.Fatal("A's Hold did not return after its work did")
	}
	tb := within(t, b.started, ttl, "B starts once A returned")
	if d := tb.Sub(a.at); d > ttl/2 {
		t.Errorf("B took over %v after A returned, want under ttl/2 = %v", d, ttl/2)
	}
}

// When run returns on its own, Hold releases the key and returns run's
// result; when ctx ends, Hold stops run, releases the key and returns nil.
func TestRunReturns(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	errBoom := errors.New("boom")
	ownCancel := fmt.Errorf("query: %w", context.Canceled)
	tests := []struct {
		name      string
		run       func(ctx context.Context) error
		cancelCtx bool  // end Hold's context once run started
		want      error // nil: Hold returns nil
	}{
		{"run fails", func(context.Context) error { return errBoom }, false, errBoom},
		// Only the end of Hold's own context makes a context error a stop.
		{"run fails with a context error of its own", func(context.Context) error { return ownCancel }, false, context.Canceled},
		{"run finishes", func(context.Context) error { return nil }, false, nil},
		{"ctx ends", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, kv := bucket(t, url)
			key := strings.ReplaceAll(tc.name, " ", "_") // a key per case, the bucket is shared
			var rec recorder
			started := make(chan struct{})
			run := func(ctx context.Context) error { close(started); return tc.run(ctx) }
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- Hold(ctx, kv, key, "H", ttl, run, rec.opts()...) }()
			select {
			case <-started:
			case <-time.After(5 * time.Second):
				t.Fatal("run did not start")
			}
			if tc.cancelCtx {
				cancel()
			}
			var err error
			select {
			case err = <-errc:
			case <-time.After(ttl / 3): // nothing to wait for but one delete
				t.Fatalf("Hold did not return within ttl/3 after run did")
			}
			switch {
			case tc.want == nil && err != nil:
				t.Errorf("Hold returned %v, want nil", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("Hold returned %v, want an error wrapping %v", err, tc.want)
			case tc.want != nil && !strings.Contains(err.Error(), key):
				t.Errorf("Hold's error %q does not name the lease %q", err, key)
			}

			// The key was written well under ttl ago: gone means deleted.
			gctx, gcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer gcancel()
			if e, err := kv.Get(gctx, key); !errors.Is(err, jetstream.ErrKeyNotFound) {
				t.Errorf("key after Hold returned: %v, %v; want it deleted (ErrKeyNotFound)", e, err)
			}
			changes, errs := rec.got()
			if want := []bool{true, false}; !slices.Equal(changes, want) {
				t.Errorf("OnChange saw %v, want %v", changes, want)
			}
			if len(errs) > 0 {
				t.Errorf("OnError saw %v, want nothing", errs)
			}
		})
	}
}

// Arguments no retry could fix fail at once.
func TestBadArguments(t *testing.T) {
	t.Parallel()
	_, kv := bucket(t, startServer(t))
	tests := []struct {
		name string
		key  string
		ttl  time.Duration
	}{
		{"no ttl", "loader", 0},
		{"negative ttl", "loader", -ttl},
		{"invalid key", "loader jobs*", ttl},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ran := false
			err := Hold(ctx, kv, tc.key, "H", tc.ttl, func(context.Context) error { ran = true; return nil })
			if err == nil || ctx.Err() != nil {
				t.Errorf("Hold returned %v (context: %v), want an error at once", err, ctx.Err())
			}
			if ran {
				t.Error("run ran")
			}
		})
	}
}

package stage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"

	"github.com/bndmr/hub/pkg/bus/bustest"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/testsupport"
	"github.com/bndmr/hub/pkg/topology"
)

type testEvent struct {
	V    int    `json:"v"`
	ID   string `json:"id"`
	Mail string `json:"mail"`
}

func (e testEvent) EventVersion() int { return e.V }

func testJS(t *testing.T) jetstream.JetStream { return bustest.Start(t).JS }

// testConsumer reads the record stream under a durable name of the test's.
func testConsumer(name string) topology.Consumer {
	return topology.Consumer{Stream: topology.StreamRecord, Durable: name, Subject: topology.SubjectRecord, AckWait: 5 * time.Second}
}

func publish(t *testing.T, js jetstream.JetStream, data []byte, id string) {
	t.Helper()
	msg := &nats.Msg{Subject: topology.SubjectRecord, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, id)
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

func publishEvent(t *testing.T, js jetstream.JetStream, e testEvent) {
	t.Helper()
	b, _ := json.Marshal(e)
	publish(t, js, b, e.ID)
}

// run starts spec in the background; the stage stops with the test.
func run(t *testing.T, js jetstream.JetStream, set *Set, spec Spec[testEvent]) {
	t.Helper()
	if spec.BackoffMin == 0 {
		spec.BackoffMin, spec.BackoffMax = 5*time.Millisecond, 20*time.Millisecond
	}
	spec.PollEvery = 50 * time.Millisecond
	if spec.MaxWait == 0 {
		spec.MaxWait = 200 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, js, set, zaptest.NewLogger(t), spec) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stage stopped with %v", err)
		}
	})
}

// settled waits until the consumer has acknowledged every message of the
// stream. The pending counts alone were not enough: once, in CI (2
// December), they read 0 and 0 while five of six messages were still to be
// acknowledged.
func settled(t *testing.T, js jetstream.JetStream, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, topology.StreamRecord)
	if err != nil {
		t.Fatal(err)
	}
	var info *jetstream.ConsumerInfo
	testsupport.WaitFor(t, durable+" to settle", 20*time.Second, func() bool {
		si, err := s.Info(ctx)
		if err != nil {
			return false
		}
		c, err := js.Consumer(ctx, topology.StreamRecord, durable)
		if err != nil {
			return false
		}
		info, err = c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream >= si.State.LastSeq
	})
	return info
}

// quarantined reads every entry of the quarantine stream.
func quarantined(t *testing.T, js jetstream.JetStream) []events.Quarantined {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, topology.StreamQuarantine)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Quarantined
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var q events.Quarantined
		if err := json.Unmarshal(m.Data, &q); err != nil {
			t.Fatal(err)
		}
		out = append(out, q)
	}
	return out
}

// A dependency away for many more deliveries than the old limit of 20:
// the message comes back until it goes through, the stage says it is not
// ready meanwhile, and nothing is quarantined.
func TestTransientFailureRetriedUntilItPasses(t *testing.T) {
	js := testJS(t)
	reg := prometheus.NewRegistry()
	set := NewSet(reg)
	var mu sync.Mutex
	attempts, away := 0, true
	sawNotReady := false
	run(t, js, set, Spec[testEvent]{Consumer: testConsumer("retry"), Version: 1, Dependency: "clickhouse",
		HandleOne: func(ctx context.Context, d Delivery[testEvent]) error {
			mu.Lock()
			defer mu.Unlock()
			attempts++
			if attempts >= 30 {
				away = false
			}
			if away {
				return errors.New("dial tcp 127.0.0.1:19000: connection refused")
			}
			return nil
		}})
	publishEvent(t, js, testEvent{V: 1, ID: "a"})
	testsupport.WaitFor(t, "the stage to report the dependency", 20*time.Second, func() bool {
		err := set.Ready(context.Background())
		if err != nil && strings.Contains(err.Error(), "clickhouse: dial tcp") {
			mu.Lock()
			sawNotReady = true
			mu.Unlock()
			return true
		}
		return false
	})
	info := settled(t, js, "retry")
	if info.Delivered.Consumer < 30 {
		t.Errorf("delivered %d times, want at least 30", info.Delivered.Consumer)
	}
	if err := set.Ready(context.Background()); err != nil {
		t.Errorf("still not ready after the message went through: %v", err)
	}
	if !sawNotReady {
		t.Error("never reported not ready while failing")
	}
	if got := testutil.ToFloat64(set.retries.WithLabelValues("retry", "clickhouse")); got != 29 {
		t.Errorf("retries{cause=clickhouse} = %v, want 29", got)
	}
	if got := testutil.ToFloat64(set.handled.WithLabelValues("retry")); got != 1 {
		t.Errorf("handled = %v, want 1", got)
	}
	if q := quarantined(t, js); len(q) != 0 {
		t.Errorf("quarantined %d entries on a transient failure", len(q))
	}
	c, err := js.Consumer(context.Background(), topology.StreamRecord, "retry")
	if err != nil {
		t.Fatal(err)
	}
	if md := c.CachedInfo().Config.MaxDeliver; md != -1 {
		t.Errorf("consumer MaxDeliver = %d, want -1 (no limit)", md)
	}
}

// Whatever can never succeed goes to the quarantine, with its reason and
// bytes, and the consumer moves on.
func TestPermanentFailuresQuarantined(t *testing.T) {
	js := testJS(t)
	set := NewSet(prometheus.NewRegistry())
	var handled sync.Map
	run(t, js, set, Spec[testEvent]{Consumer: testConsumer("perm"), Version: 1,
		MailID: func(e testEvent) string { return e.Mail },
		HandleOne: func(ctx context.Context, d Delivery[testEvent]) error {
			switch d.Event.ID {
			case "impossible":
				return Permanent("impossible_document", errors.New("no such model version"))
			case "wrapped":
				return fmt.Errorf("checking: %w", ErrPermanent)
			case "panics":
				var m map[string]int
				m["x"]++ // nil map: panics
			}
			handled.Store(d.Event.ID, true)
			return nil
		}})
	publishEvent(t, js, testEvent{V: 1, ID: "impossible", Mail: "m1"})
	publishEvent(t, js, testEvent{V: 1, ID: "wrapped", Mail: "m2"})
	publishEvent(t, js, testEvent{V: 1, ID: "panics", Mail: "m3"})
	publishEvent(t, js, testEvent{V: 2, ID: "future", Mail: "m4"})
	publish(t, js, []byte("{not json"), "garbage")
	publishEvent(t, js, testEvent{V: 1, ID: "fine", Mail: "m5"})
	settled(t, js, "perm")

	want := map[string]string{"m1": "impossible_document", "m2": "permanent", "m3": "panic", "m4": "bad_version", "": "bad_event"}
	q := quarantined(t, js)
	if len(q) != len(want) {
		t.Fatalf("%d quarantine entries, want %d: %+v", len(q), len(want), q)
	}
	for _, e := range q {
		if e.Stage != "perm" || e.Event == nil || e.Event.Stream != topology.StreamRecord || e.Event.Seq == 0 || len(e.Event.Data) == 0 {
			t.Errorf("entry lacks the stage or the failed message: %+v", e)
			continue
		}
		if code, ok := want[e.Event.MailID]; !ok || code != e.Code {
			t.Errorf("mail %q quarantined as %q (%s), want %q", e.Event.MailID, e.Code, e.Reason, code)
		}
		if e.Reason == "" {
			t.Errorf("entry %s has no reason", e.Code)
		}
	}
	if _, ok := handled.Load("fine"); !ok {
		t.Error("the good message after the bad ones was not handled")
	}
	if got := testutil.ToFloat64(set.quarantined.WithLabelValues("perm", "panic")); got != 1 {
		t.Errorf("quarantined{code=panic} = %v", got)
	}
	if s := set.Quarantined(); !strings.Contains(s, "perm bad_event×1") || !strings.Contains(s, "perm panic×1") {
		t.Errorf("summary %q", s)
	}
}

// A batch with one bad message: the others are written, the bad one alone
// is quarantined.
func TestBatchIsolatesTheBadMessage(t *testing.T) {
	js := testJS(t)
	var mu sync.Mutex
	written := map[string]int{}
	calls := 0
	for _, id := range []string{"a", "b", "poison", "c", "d"} {
		publishEvent(t, js, testEvent{V: 1, ID: id, Mail: id})
	}
	run(t, js, nil, Spec[testEvent]{Consumer: testConsumer("batch"), Version: 1, Batch: 10,
		MailID: func(e testEvent) string { return e.Mail },
		HandleBatch: func(ctx context.Context, b []Delivery[testEvent]) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			for _, d := range b {
				if d.Event.ID == "poison" {
					return Permanent("refused", errors.New("type mismatch"))
				}
			}
			for _, d := range b {
				written[d.Event.ID]++
			}
			return nil
		}})
	settled(t, js, "batch")
	mu.Lock()
	defer mu.Unlock()
	for _, id := range []string{"a", "b", "c", "d"} {
		if written[id] != 1 {
			t.Errorf("%s written %d times", id, written[id])
		}
	}
	q := quarantined(t, js)
	if len(q) != 1 || q[0].Event.MailID != "poison" || q[0].Code != "refused" {
		t.Errorf("quarantine %+v, want the poison message alone", q)
	}
}

// A HandleBatch stage with Quiet hands a batch over once no message came
// for Quiet: a lone message does not wait MaxWait, a trickle is gathered
// into one batch, and MaxWait still bounds how long a batch gathers.
func TestQuietBatches(t *testing.T) {
	for _, tc := range []struct {
		name           string
		maxWait, quiet time.Duration
		events         int
		gap            time.Duration
		calls          func(int) bool
		want           string
	}{
		// settled gives up after 20 s: waiting MaxWait would fail.
		{"lone messages wait Quiet, not MaxWait", time.Minute, 100 * time.Millisecond, 3, 0, func(n int) bool { return n == 1 }, "1"},
		{"a trickle is one batch", time.Minute, time.Second, 20, 20 * time.Millisecond, func(n int) bool { return n == 1 }, "1"},
		{"MaxWait bounds the gathering", 300 * time.Millisecond, time.Minute, 20, 50 * time.Millisecond, func(n int) bool { return n >= 2 }, "2 or more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := testJS(t)
			var mu sync.Mutex
			calls, written := 0, map[string]int{}
			run(t, js, nil, Spec[testEvent]{Consumer: testConsumer("quiet"), Version: 1, Batch: 100,
				MaxWait: tc.maxWait, Quiet: tc.quiet,
				HandleBatch: func(ctx context.Context, b []Delivery[testEvent]) error {
					mu.Lock()
					defer mu.Unlock()
					calls++
					for _, d := range b {
						written[d.Event.ID]++
					}
					return nil
				}})
			for i := range tc.events {
				publishEvent(t, js, testEvent{V: 1, ID: fmt.Sprint(i)})
				time.Sleep(tc.gap)
			}
			settled(t, js, "quiet")
			mu.Lock()
			defer mu.Unlock()
			if !tc.calls(calls) {
				t.Errorf("%d batches, want %s", calls, tc.want)
			}
			for i := range tc.events {
				if n := written[fmt.Sprint(i)]; n != 1 {
					t.Errorf("event %d handled %d times", i, n)
				}
			}
		})
	}
}

// Identified data never leaves its stream: the entry names the mail only.
func TestIdentifiedQuarantineHoldsNoContent(t *testing.T) {
	js := testJS(t)
	run(t, js, nil, Spec[testEvent]{Consumer: testConsumer("ident"), Version: 1, Identified: true,
		MailID: func(e testEvent) string { return e.Mail },
		HandleOne: func(ctx context.Context, d Delivery[testEvent]) error {
			return Permanent("pseudonymisation_failed", errors.New("no key"))
		}})
	b, _ := json.Marshal(testEvent{V: 1, ID: "DUPONT Jean 1980-01-01", Mail: "m-ident"})
	publish(t, js, b, "m-ident/0")
	settled(t, js, "ident")
	q := quarantined(t, js)
	if len(q) != 1 {
		t.Fatalf("%d entries", len(q))
	}
	b, _ = json.Marshal(q[0])
	if q[0].Event.MailID != "m-ident" || len(q[0].Event.Data) != 0 || strings.Contains(string(b), "DUPONT") {
		t.Errorf("identified entry holds content: %s", b)
	}
}

// An existing consumer with the old delivery limit is updated to none.
func TestConsumerLimitLifted(t *testing.T) {
	js := testJS(t)
	ctx := context.Background()
	old := ConsumerConfig(testConsumer("old"))
	old.MaxDeliver = 20
	if _, err := js.CreateOrUpdateConsumer(ctx, topology.StreamRecord, old); err != nil {
		t.Fatal(err)
	}
	run(t, js, nil, Spec[testEvent]{Consumer: testConsumer("old"), Version: 1,
		HandleOne: func(context.Context, Delivery[testEvent]) error { return nil }})
	testsupport.WaitFor(t, "the limit to be lifted", 20*time.Second, func() bool {
		c, err := js.Consumer(ctx, topology.StreamRecord, "old")
		return err == nil && c.CachedInfo().Config.MaxDeliver == -1
	})
}

func TestSpecNeedsOneHandler(t *testing.T) {
	for name, spec := range map[string]Spec[testEvent]{
		"none": {Consumer: testConsumer("x")},
		"both": {Consumer: testConsumer("x"), HandleOne: func(context.Context, Delivery[testEvent]) error { return nil },
			HandleBatch: func(context.Context, []Delivery[testEvent]) error { return nil }},
		"no durable": {HandleOne: func(context.Context, Delivery[testEvent]) error { return nil }},
	} {
		if err := Run(context.Background(), nil, nil, nil, spec); err == nil {
			t.Errorf("%s: Run accepted the spec", name)
		}
	}
}

func TestBackoffCapped(t *testing.T) {
	r := &runner[testEvent]{spec: Spec[testEvent]{BackoffMin: time.Second, BackoffMax: time.Minute}}
	for n, want := range map[uint64]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 7: time.Minute, 1000: time.Minute} {
		if got := r.backoff(n); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
}

// A fetch that fails (here: the consumer deleted by hand) makes the stage
// say it cannot fetch; once fetches work again (the consumer declared
// again), it is ready without waiting for a message to go through.
func TestReadyAgainOnceFetchesWork(t *testing.T) {
	js := testJS(t)
	ctx := context.Background()
	set := NewSet(nil)
	handled := make(chan struct{}, 1)
	run(t, js, set, Spec[testEvent]{Consumer: testConsumer("back"), Version: 1,
		HandleOne: func(context.Context, Delivery[testEvent]) error { handled <- struct{}{}; return nil }})
	publishEvent(t, js, testEvent{V: 1, ID: "first"})
	<-handled // the consumer exists and the stage fetches
	if err := js.DeleteConsumer(ctx, topology.StreamRecord, "back"); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, "the stage to report it cannot fetch", 20*time.Second, func() bool {
		err := set.Ready(ctx)
		return err != nil && strings.Contains(err.Error(), "back cannot fetch") && set.Busy()
	})
	if _, err := js.CreateOrUpdateConsumer(ctx, topology.StreamRecord, ConsumerConfig(testConsumer("back"))); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, "the stage to be ready again", 20*time.Second, func() bool { return set.Ready(ctx) == nil && !set.Busy() })
}

// TestPinnedConsumerOneClientAtATime: two stages on a pinned consumer; one
// handles every message while it runs, the other none. Once the first
// stops, it hands the pin over: the second takes over at once (the pin's
// TTL is a minute) and handles the rest.
func TestPinnedConsumerOneClientAtATime(t *testing.T) {
	js := testJS(t)
	c := testConsumer("pinned")
	c.Pinned, c.PinnedTTL = true, time.Minute
	var mu sync.Mutex
	handled := map[string][]string{}
	spec := func(name string) Spec[testEvent] {
		return Spec[testEvent]{Consumer: c, Version: 1, Batch: 5, HandleBatch: func(_ context.Context, ds []Delivery[testEvent]) error {
			mu.Lock()
			defer mu.Unlock()
			for _, d := range ds {
				handled[name] = append(handled[name], d.Event.ID)
			}
			return nil
		}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	firstDone := make(chan error, 1)
	go func() { firstDone <- Run(ctx, js, nil, zaptest.NewLogger(t), spec("first")) }()
	count := func(name string) int { mu.Lock(); defer mu.Unlock(); return len(handled[name]) }
	publishEvent(t, js, testEvent{V: 1, ID: "e0"})
	testsupport.WaitFor(t, "the first stage to be pinned", 10*time.Second, func() bool { return count("first") == 1 })
	run(t, js, nil, spec("second"))
	for i := 1; i < 30; i++ {
		publishEvent(t, js, testEvent{V: 1, ID: fmt.Sprint("e", i)})
		time.Sleep(20 * time.Millisecond)
	}
	testsupport.WaitFor(t, "30 messages handled", 10*time.Second, func() bool { return count("first")+count("second") == 30 })
	if n := count("second"); n != 0 {
		t.Fatalf("the second stage handled %d messages while the first held the pin", n)
	}
	cancel()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	for i := 30; i < 40; i++ {
		publishEvent(t, js, testEvent{V: 1, ID: fmt.Sprint("e", i)})
	}
	testsupport.WaitFor(t, "the second stage to take over", 15*time.Second, func() bool { return count("second") == 10 })
	settled(t, js, c.Durable)
	if n := count("first"); n != 30 {
		t.Errorf("the first stage handled %d messages, want 30", n)
	}
}

// TestLongBatchKeptInProgress: a batch handled for three times AckWait by
// one stage is not handed out again meanwhile to another stage of the same
// consumer (another pod), and is acknowledged once.
func TestLongBatchKeptInProgress(t *testing.T) {
	js := testJS(t)
	c := testConsumer("long")
	c.AckWait = time.Second
	for i := range 3 {
		publishEvent(t, js, testEvent{V: 1, ID: fmt.Sprint("e", i)})
	}
	var mu sync.Mutex
	seen := map[string]int{}
	handle := func(_ context.Context, ds []Delivery[testEvent]) error {
		mu.Lock()
		for _, d := range ds {
			seen[d.Event.ID]++
		}
		mu.Unlock()
		time.Sleep(3 * c.AckWait)
		return nil
	}
	run(t, js, nil, Spec[testEvent]{Consumer: c, Version: 1, Batch: 5, HandleBatch: handle})
	time.Sleep(c.AckWait / 2) // the first stage has the three
	run(t, js, nil, Spec[testEvent]{Consumer: c, Version: 1, Batch: 5, HandleBatch: handle})
	settled(t, js, c.Durable)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Errorf("handled %v, want e0, e1 and e2", seen)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s handled %d times", id, n)
		}
	}
}

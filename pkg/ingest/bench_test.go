package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/mailbox"
	"github.com/bndmr/hub/pkg/mailbox/mailboxtest"
	"github.com/bndmr/hub/pkg/mssante"
	"github.com/bndmr/hub/pkg/stage"
	"github.com/bndmr/hub/pkg/synth"
	"github.com/bndmr/hub/pkg/topology"
)

// BenchmarkIngestUnpack drains a Dovecot mailbox of BNDMR_BENCH_MAILS
// generated mails (default 1000; scripts/bench-ingest.sh asks for 10,000)
// through ingest into an embedded JetStream, while a consumer unpacks each
// mail (pkg/mssante.Unpack). It reports mails/s for ingest alone and for
// ingest + unpacking, and samples the heap and RSS while the mailbox drains:
// memory must stay flat whatever the mailbox holds. pkg/synth makes
// BNDMR_BENCH_DISTINCT distinct mails (default 1000, ~13 ms each); the rest
// are copies with a header of their own, so every mail has its own bytes.
// Run it with -benchtime=1x.
func BenchmarkIngestUnpack(b *testing.B) {
	addr := os.Getenv("BNDMR_TEST_IMAP")
	if addr == "" {
		b.Skip("BNDMR_TEST_IMAP not set: run through scripts/bench-ingest.sh, after `make up`")
	}
	total := envInt(b, "BNDMR_BENCH_MAILS", 1000)
	distinct := min(envInt(b, "BNDMR_BENCH_DISTINCT", 1000), total)
	kitDir, err := kit.Dir()
	if err != nil {
		b.Fatal(err)
	}
	g, err := synth.New(synth.Options{Seed: 42, Kit: kitDir})
	if err != nil {
		b.Fatal(err)
	}
	var corpus [][]byte
	var size int
	for range distinct {
		raw, _, err := g.Next()
		if err != nil {
			b.Fatal(err)
		}
		corpus = append(corpus, raw)
		size += len(raw)
	}
	b.Logf("%d distinct synthetic mails, %d bytes on average", distinct, size/distinct)

	for range b.N {
		b.StopTimer()
		user := "hub@bndmr.test"
		inbox := fmt.Sprintf("bench%d", time.Now().UnixNano())
		cfg := mailbox.Config{Name: user + "/" + inbox, Addr: addr, TLS: "none", User: user, Password: mailboxtest.Password,
			Inbox: inbox, Processed: inbox + "-done", Batch: 20, PollInterval: time.Second}
		fill(b, cfg, corpus, total)
		ctx, cancel := context.WithCancel(context.Background())
		js, closeNATS := benchNATS(b, ctx)
		if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		b.StartTimer()

		start := time.Now()
		var unpacked, failed atomic.Int64
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			_ = Run(ctx, Config{Mailboxes: []mailbox.Config{cfg}}, js, zap.NewNop(), nil)
		}()
		go func() {
			defer wg.Done()
			bench := topology.ConsumerOf(topology.DurableValidator)
			bench.Durable = "bench"
			_ = stage.Run(ctx, js, nil, nil, stage.Spec[events.MailRaw]{Consumer: bench, Version: events.MailRawV, Batch: 50,
				HandleOne: func(ctx context.Context, d stage.Delivery[events.MailRaw]) error {
					raw := d.Event.Raw
					if d.Event.Object != "" {
						obs, err := js.ObjectStore(ctx, bus.ObjectStore)
						if err != nil {
							return err
						}
						if raw, err = obs.GetBytes(ctx, d.Event.Object); err != nil {
							return err
						}
					}
					if _, err := mssante.Unpack(ctx, raw, mssante.DefaultLimits()); err != nil {
						failed.Add(1)
					}
					unpacked.Add(1)
					return nil
				}})
		}()

		var samples []sample
		var ingested time.Duration
		tick := time.NewTicker(250 * time.Millisecond)
		deadline := time.Now().Add(30 * time.Minute)
		for unpacked.Load() < int64(total) {
			<-tick.C
			if time.Now().After(deadline) {
				b.Fatalf("only %d of %d mails unpacked after 30 minutes", unpacked.Load(), total)
			}
			s := takeSample(time.Since(start), streamMsgs(ctx, js), unpacked.Load())
			samples = append(samples, s)
			if ingested == 0 && s.published >= uint64(total) {
				ingested = s.at
			}
		}
		elapsed := time.Since(start)
		if ingested == 0 {
			ingested = elapsed
		}
		tick.Stop()
		b.StopTimer()
		cancel()
		wg.Wait()
		closeNATS()
		if n := streamMsgsAfter(samples); n != uint64(total) {
			b.Errorf("%d mails in the stream, want %d", n, total)
		}
		cleanup(b, cfg)

		b.ReportMetric(float64(total)/ingested.Seconds(), "ingested-mails/s")
		b.ReportMetric(float64(total)/elapsed.Seconds(), "unpacked-mails/s")
		report(b, samples, total, failed.Load())
		b.StartTimer()
	}
}

// benchNATS connects to BNDMR_BENCH_NATS_URL (a nats-server of its own,
// so that the RSS measured is ingest's) with fresh streams, or starts an
// embedded JetStream.
func benchNATS(b *testing.B, ctx context.Context) (jetstream.JetStream, func()) {
	if url := os.Getenv("BNDMR_BENCH_NATS_URL"); url != "" {
		nc, js, err := bus.Connect(ctx, bus.Config{URL: url}, "bench")
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range []string{bus.StreamMail, "KV_" + BucketIngested} {
			if err := js.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				b.Fatal(err)
			}
		}
		return js, nc.Close
	}
	store, err := os.MkdirTemp("", "bndmr-bench-js")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{Port: -1, StoreDir: store})
	if err != nil {
		b.Fatal(err)
	}
	nc, js, err := bus.Connect(ctx, bus.Config{URL: srv.ClientURL()}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	return js, func() {
		nc.Close()
		srv.Shutdown()
		os.RemoveAll(store)
	}
}

type sample struct {
	at        time.Duration
	published uint64
	unpacked  int64
	heap      uint64 // HeapInuse
	rss       uint64 // VmRSS
}

func takeSample(at time.Duration, published uint64, unpacked int64) sample {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return sample{at: at, published: published, unpacked: unpacked, heap: ms.HeapInuse, rss: procStatus("VmRSS")}
}

// report prints the samples at each tenth of the drain and the peaks.
// Without BNDMR_BENCH_NATS_URL the process holds the embedded NATS server
// too, and heap and RSS count JetStream's caches.
func report(b *testing.B, samples []sample, total int, failed int64) {
	var peakHeap, peakRSS uint64
	for _, s := range samples {
		peakHeap, peakRSS = max(peakHeap, s.heap), max(peakRSS, s.rss)
	}
	fmt.Printf("\n  %-8s %-10s %-10s %-10s %-10s\n", "elapsed", "published", "unpacked", "heap MiB", "RSS MiB")
	next := 0
	for _, s := range samples {
		if int(s.published)*10 >= next*total || s == samples[len(samples)-1] {
			fmt.Printf("  %-8s %-10d %-10d %-10.1f %-10.1f\n", s.at.Round(100*time.Millisecond), s.published, s.unpacked, mib(s.heap), mib(s.rss))
			next = int(s.published)*10/total + 1
		}
	}
	hwm := procStatus("VmHWM")
	fmt.Printf("  peak heap in use %.1f MiB, peak RSS sampled %.1f MiB, process RSS high-water mark %.1f MiB (includes generating the mails); %d mails not unpackable\n",
		mib(peakHeap), mib(peakRSS), mib(hwm), failed)
	b.ReportMetric(mib(peakHeap), "peak-heap-MiB")
	b.ReportMetric(mib(peakRSS), "peak-RSS-MiB")
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// procStatus reads a size line (kB) of /proc/self/status, in bytes.
func procStatus(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func streamMsgs(ctx context.Context, js jetstream.JetStream) uint64 {
	s, err := js.Stream(ctx, bus.StreamMail)
	if err != nil {
		return 0
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

func streamMsgsAfter(samples []sample) uint64 {
	if len(samples) == 0 {
		return 0
	}
	return samples[len(samples)-1].published
}

// fill appends total mails to a new folder over 4 IMAP connections; mail i
// is corpus[i%len] with a header naming i.
func fill(b *testing.B, cfg mailbox.Config, corpus [][]byte, total int) {
	c := mailboxtest.Login(b, cfg.Addr, cfg.User)
	for _, f := range []string{cfg.Inbox, cfg.Processed} {
		if err := c.Create(f, nil).Wait(); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	start := time.Now()
	const conns = 4
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := mailbox.Deliver(context.Background(), cfg, cfg.Inbox, func(yield func([]byte) bool) {
				for i := w; i < total; i += conns {
					var buf bytes.Buffer
					fmt.Fprintf(&buf, "X-BNDMR-Bench: %d\r\n", i)
					buf.Write(corpus[i%len(corpus)])
					if !yield(buf.Bytes()) {
						return
					}
				}
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%d mails appended to %s in %s", total, cfg.Inbox, time.Since(start).Round(time.Millisecond))
}

func cleanup(b *testing.B, cfg mailbox.Config) {
	c := mailboxtest.Login(b, cfg.Addr, cfg.User)
	defer c.Close()
	_ = c.Delete(cfg.Inbox).Wait()
	_ = c.Delete(cfg.Processed).Wait()
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q is not a positive number", name, v)
	}
	return n
}

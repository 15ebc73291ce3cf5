package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/bus/bustest"
	"github.com/bndmr/hub/pkg/events"
)

// TestLatestOutcomesFromTime: the outcomes are read from the first one
// published at or after --since (found by bisection), every one after it,
// the latest outcome of each mail kept.
func TestLatestOutcomesFromTime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tb := bustest.Start(t)
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 23
	for i := 0; i < n; i++ {
		// Mails m0-m2 come twice (a replay): their second outcome accepts them.
		mail := fmt.Sprintf("m%d", i%20)
		o := events.MailOutcome{V: events.OutcomeV, MailID: mail, ReceivedAt: old, MailSeq: uint64(i + 1),
			Documents: []events.DocumentOutcome{{Accepted: i >= 20}}}
		if _, err := bus.Publish(ctx, tb.JS, events.SubjectOutcome, fmt.Sprint("o", i), o); err != nil {
			t.Fatal(err)
		}
	}
	stream, err := tb.JS.Stream(ctx, bus.StreamOutcome)
	if err != nil {
		t.Fatal(err)
	}
	times := make([]time.Time, n+1)
	for seq := uint64(1); seq <= n; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		times[seq] = m.Time
	}
	for _, from := range []uint64{1, 2, 7, 13, 21, n} {
		want := 0
		for seq := uint64(1); seq <= n; seq++ {
			if !times[seq].Before(times[from]) {
				want++
			}
		}
		var sum reprocessSummary
		got, err := latestOutcomes(ctx, tb.JS, times[from], old.Add(time.Hour), &sum)
		if err != nil {
			t.Fatal(err)
		}
		if sum.outcomes != want {
			t.Errorf("since message %d: %d outcomes read, want %d", from, sum.outcomes, want)
		}
		if from == 1 {
			if len(got) != 20 || got["m2"].MailSeq != 23 || !got["m2"].Documents[0].Accepted || got["m3"].Documents[0].Accepted {
				t.Errorf("from the start: %d mails, m2 %+v, m3 %+v", len(got), got["m2"], got["m3"])
			}
		}
	}
	// Nothing published since: nothing read.
	var sum reprocessSummary
	if got, err := latestOutcomes(ctx, tb.JS, time.Now().Add(time.Hour), old.Add(time.Hour), &sum); err != nil || len(got) != 0 || sum.outcomes != 0 {
		t.Errorf("a window after the last outcome: %d mails, %d read, %v", len(got), sum.outcomes, err)
	}
}

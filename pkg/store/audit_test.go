package store

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAccessJournal writes journal lines and reads them back the two ways
// an operator does: ReadersOf, and the query of docs/operations.md run as
// written there ("who read establishment X's report last month").
func TestAccessJournal(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	thisMonth := time.Date(now.Year(), now.Month(), 1, 12, 0, 0, 0, time.UTC)
	lastMonth := thisMonth.AddDate(0, -1, 3)
	line := func(at time.Time, sub, role, route, finess, decision string) Access {
		return Access{At: at, Subject: sub, Issuer: "https://idp.test", Role: role, Method: "GET", Route: route, FINESS: finess,
			Period: "2026-10", Decision: decision, Via: "session"}
	}
	if err := s.InsertAccess(ctx,
		line(lastMonth, "u-est", "establishment", "/report", "750000010", "allowed"),
		line(lastMonth.Add(time.Hour), "u-est", "establishment", "/report", "750000010", "allowed"),
		line(lastMonth, "u-min", "ministry", "/api/mr2", "750000010", "allowed"),
		line(lastMonth, "u-other", "establishment", "/report", "750000010", "denied: finess"),
		line(lastMonth, "u-est", "establishment", "/report", "690000011", "allowed"),
		line(thisMonth, "u-late", "operator", "/report", "750000010", "allowed"),
	); err != nil {
		t.Fatal(err)
	}
	rs, err := s.ReadersOf(ctx, "750000010", lastMonth.AddDate(0, 0, -3), thisMonth.AddDate(0, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.Subject+" "+r.Role+" "+r.Route+" "+itoa(r.Requests))
	}
	want := "u-est establishment /report 2|u-min ministry /api/mr2 1"
	if strings.Join(got, "|") != want {
		t.Errorf("ReadersOf: %q, want %q", got, want)
	}
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- audit-readers:[^>]*-->\n```sql\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/operations.md has no audit-readers query")
	}
	rows, err := s.Query(ctx, Statement{Name: "docs.audit_readers", SQL: string(m[1])})
	if err != nil {
		t.Fatalf("the query of docs/operations.md: %v", err)
	}
	got = nil
	for rows.Next() {
		var sub, iss, role, route, period string
		var n uint64
		var first, last time.Time
		if err := rows.Scan(&sub, &iss, &role, &route, &period, &n, &first, &last); err != nil {
			t.Fatal(err)
		}
		got = append(got, sub+" "+role+" "+route+" "+itoa(n))
	}
	rows.Close()
	if strings.Join(got, "|") != want {
		t.Errorf("docs/operations.md query: %q, want %q", got, want)
	}
}

// TestChangeDPIUpdatesKeepsHistory: each change keeps the value it replaced.
func TestChangeDPIUpdatesKeepsHistory(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	oct := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	ch, err := s.ChangeDPIUpdates(ctx, Author{"alice", "operator", SourceHTTP}, []DPIUpdates{{FINESS: "750000010", Month: oct, Count: 5}})
	if err != nil || len(ch) != 1 || ch[0].HadPrevious {
		t.Fatalf("first declaration: %v %+v", err, ch)
	}
	time.Sleep(1100 * time.Millisecond)
	ch, err = s.ChangeDPIUpdates(ctx, Author{"bob", "operator", SourceHTTP}, []DPIUpdates{{FINESS: "750000010", Month: oct.AddDate(0, 0, 14), Count: 7},
		{FINESS: "690000011", Month: oct, Count: 2}})
	if err != nil || len(ch) != 2 || !ch[0].HadPrevious || ch[0].Previous != 5 || ch[1].HadPrevious {
		t.Fatalf("second declaration: %v %+v", err, ch)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

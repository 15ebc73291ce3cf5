package store

import (
	"context"
	"fmt"
	"time"
)

// Access is one line of the access journal (audit_access): who asked the
// indicators service for what, with which role, and what was decided. It
// holds no patient data: a route, an establishment and a period at most.
type Access struct {
	At       time.Time `json:"at"`
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	Name     string    `json:"name,omitempty"`
	Role     string    `json:"role"`
	Method   string    `json:"method"`
	Route    string    `json:"route"`
	FINESS   string    `json:"finess,omitempty"`
	Period   string    `json:"period,omitempty"`
	Decision string    `json:"decision"` // allowed, or "denied: reason"
	Via      string    `json:"via"`      // session, bearer or none
}

// InsertAccess writes lines of the access journal.
func (s *Store) InsertAccess(ctx context.Context, as ...Access) error {
	t := &table{stmt: insertAccess}
	for _, a := range as {
		t.add(a.At.UTC(), a.Subject, a.Issuer, a.Name, a.Role, a.Method, a.Route, a.FINESS, a.Period, a.Decision, a.Via)
	}
	return s.send(ctx, t)
}

// Reader is who read an establishment's figures: one person (or client),
// role, route and period, with how many times and when.
type Reader struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	Role     string    `json:"role"`
	Route    string    `json:"route"`
	Period   string    `json:"period"`
	Requests uint64    `json:"requests"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
}

// ReadersOf lists who was allowed to read the figures of an establishment
// between two days (included), the latest first.
func (s *Store) ReadersOf(ctx context.Context, finess string, from, to time.Time) ([]Reader, error) {
	rows, err := s.Query(ctx, accessReaders, finess, from.Format("2006-01-02"), to.Format("2006-01-02"))
	if err != nil {
		return nil, fmt.Errorf("reading who read establishment %s: %w", finess, err)
	}
	defer rows.Close()
	var out []Reader
	for rows.Next() {
		var r Reader
		if err := rows.Scan(&r.Subject, &r.Issuer, &r.Role, &r.Route, &r.Period, &r.Requests, &r.First, &r.Last); err != nil {
			return nil, fmt.Errorf("reading who read establishment %s: %w", finess, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DPIChange is one declared count changed, with the value it replaced.
type DPIChange struct {
	DPIUpdates
	Previous    uint32 `json:"previous"`
	HadPrevious bool   `json:"had_previous"`
}

// ChangeDPIUpdates records declared counts as InsertDPIUpdates does, and
// first keeps, in dpi_updates_history, each value it replaces with the
// author and role of the change. Two changes of the same month at the same
// instant may both name the same previous value: the history still has both.
func (s *Store) ChangeDPIUpdates(ctx context.Context, author, role, source string, ds []DPIUpdates) ([]DPIChange, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	first, last := monthStart(ds[0].Month), monthStart(ds[0].Month)
	for _, d := range ds[1:] {
		m := monthStart(d.Month)
		if m.Before(first) {
			first = m
		}
		if m.After(last) {
			last = m
		}
	}
	type key struct {
		finess string
		month  string
	}
	current := map[key]uint32{}
	rows, err := s.Query(ctx, declaredInMonths, first.Format("2006-01-02"), last.Format("2006-01-02"))
	if err != nil {
		return nil, fmt.Errorf("reading the declared counts about to change: %w", err)
	}
	for rows.Next() {
		var (
			fin string
			m   time.Time
			n   uint32
		)
		if err := rows.Scan(&fin, &m, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading the declared counts about to change: %w", err)
		}
		current[key{fin, m.Format("2006-01")}] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the declared counts about to change: %w", err)
	}
	now := time.Now().UTC()
	t := &table{stmt: insertDPIHistory}
	changes := make([]DPIChange, 0, len(ds))
	for _, d := range ds {
		m := monthStart(d.Month)
		prev, had := current[key{d.FINESS, m.Format("2006-01")}]
		changes = append(changes, DPIChange{DPIUpdates: d, Previous: prev, HadPrevious: had})
		t.add(d.FINESS, m, prev, boolU8(had), d.Count, author, role, source, now)
	}
	// The history first: a change whose history could not be written is not made.
	if err := s.send(ctx, t); err != nil {
		return nil, err
	}
	if err := s.InsertDPIUpdates(ctx, source, ds); err != nil {
		return nil, err
	}
	return changes, nil
}

func monthStart(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// Journal reports whether table is an append-only journal (plain
// MergeTree): each row is an event of its own, never a version that a merge
// folds, so that the distinct-key rules of the other tables do not apply.
func Journal(table string) bool {
	return table == "audit_access" || table == "dpi_updates_history"
}

package store

import (
	"context"
	"errors"
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
	t := newRows(insertAccess)
	for _, a := range as {
		t.add(accessRow{At: a.At.UTC(), Subject: a.Subject, Issuer: a.Issuer, Name: a.Name, Role: a.Role, Method: a.Method,
			Route: a.Route, FINESS: a.FINESS, Period: a.Period, Decision: a.Decision, Via: a.Via})
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
	var out []Reader
	err := s.Each(ctx, accessReaders, []any{finess, from.Format("2006-01-02"), to.Format("2006-01-02")}, func(rows Scanner) error {
		var r Reader
		if err := rows.Scan(&r.Subject, &r.Issuer, &r.Role, &r.Route, &r.Period, &r.Requests, &r.First, &r.Last); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading who read establishment %s: %w", finess, err)
	}
	return out, nil
}

// DPIChange is one declared count changed, with the value it replaced.
type DPIChange struct {
	DPIUpdates
	Previous    uint32 `json:"previous"`
	HadPrevious bool   `json:"had_previous"`
}

// Sources of a declared-count change, as dpi_updates and
// dpi_updates_history keep them.
const (
	SourceHTTP   = "http"            // POST /api/dpi-updates
	SourceImport = "bndmrctl import" // the operator's CLI (ImportDPIUpdates)
)

// Author is who changes declared counts, as dpi_updates_history keeps them.
type Author struct {
	// Subject: the OpenID Connect subject of the caller, or the operator
	// running bndmrctl.
	Subject string
	// Role the change was made under (operator).
	Role string
	// Source: SourceHTTP or SourceImport.
	Source string
}

// ChangeDPIUpdates records declared counts as InsertDPIUpdates does, and
// first keeps, in dpi_updates_history, each value it replaces with the
// author and role of the change. It is the one way both the service and
// bndmrctl change a declared count. Two changes of the same month at the
// same instant may both name the same previous value: the history still
// has both.
func (s *Store) ChangeDPIUpdates(ctx context.Context, by Author, ds []DPIUpdates) ([]DPIChange, error) {
	if by.Subject == "" || by.Source == "" {
		return nil, errors.New("a declared-count change needs its author and source")
	}
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
	err := s.Each(ctx, declaredInMonths, []any{first.Format("2006-01-02"), last.Format("2006-01-02")}, func(rows Scanner) error {
		var (
			fin string
			m   time.Time
			n   uint32
		)
		if err := rows.Scan(&fin, &m, &n); err != nil {
			return err
		}
		current[key{fin, m.Format("2006-01")}] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the declared counts about to change: %w", err)
	}
	now := time.Now().UTC()
	t := newRows(insertDPIHistory)
	changes := make([]DPIChange, 0, len(ds))
	for _, d := range ds {
		m := monthStart(d.Month)
		prev, had := current[key{d.FINESS, m.Format("2006-01")}]
		changes = append(changes, DPIChange{DPIUpdates: d, Previous: prev, HadPrevious: had})
		t.add(dpiHistoryRow{FINESS: d.FINESS, Month: m, PreviousCount: prev, HadPrevious: boolU8(had), DeclaredCount: d.Count,
			Author: by.Subject, Role: by.Role, Source: by.Source, ChangedAt: now})
	}
	// The history first: a change whose history could not be written is not made.
	if err := s.send(ctx, t); err != nil {
		return nil, err
	}
	if err := s.InsertDPIUpdates(ctx, by.Source, ds); err != nil {
		return nil, err
	}
	return changes, nil
}

// Operator is the person running bndmrctl.
type Operator struct {
	// Author names the person (--author, or their account).
	Author string
	// Account is the system account and host the command ran from: the
	// journal keeps it beside Author, which the person typed.
	Account string
}

// ImportDPIUpdates is how `bndmrctl import dpi` changes declared counts: as
// the service does for an operator's POST /api/dpi-updates, it first writes
// the access journal (one audit_access line per establishment, route
// "bndmrctl import dpi", via "cli"), then makes the change through
// ChangeDPIUpdates, which keeps the previous values and the author. A change
// whose journal line cannot be written is not made.
func (s *Store) ImportDPIUpdates(ctx context.Context, op Operator, ds []DPIUpdates) ([]DPIChange, error) {
	if op.Author == "" {
		return nil, errors.New("importing declared counts needs the operator's name (--author)")
	}
	type span struct{ first, last time.Time }
	months := map[string]*span{}
	var order []string
	for _, d := range ds {
		m := monthStart(d.Month)
		sp, ok := months[d.FINESS]
		if !ok {
			months[d.FINESS] = &span{m, m}
			order = append(order, d.FINESS)
			continue
		}
		if m.Before(sp.first) {
			sp.first = m
		}
		if m.After(sp.last) {
			sp.last = m
		}
	}
	now := time.Now().UTC()
	lines := make([]Access, 0, len(order))
	for _, fin := range order {
		sp := months[fin]
		period := sp.first.Format("2006-01")
		if sp.last.After(sp.first) {
			period += ".." + sp.last.Format("2006-01")
		}
		lines = append(lines, Access{At: now, Subject: op.Author, Name: op.Account, Role: "operator", Method: "IMPORT",
			Route: "bndmrctl import dpi", FINESS: fin, Period: period, Decision: "allowed", Via: "cli"})
	}
	if err := s.InsertAccess(ctx, lines...); err != nil {
		return nil, fmt.Errorf("journalling the import in audit_access (nothing was changed): %w", err)
	}
	return s.ChangeDPIUpdates(ctx, Author{Subject: op.Author, Role: "operator", Source: SourceImport}, ds)
}

func monthStart(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// Journal reports whether table is an append-only journal: each row is an
// event of its own, never a version that a merge folds (the figures'
// differences are summed, a redelivered batch writes none), so that the
// distinct-key rules of the other tables do not apply.
func Journal(table string) bool {
	switch table {
	case "audit_access", "dpi_updates_history", "figure_counts", "figure_generations":
		return true
	}
	return false
}

package store

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Centre is one labelled rare-disease centre (reference list).
type Centre struct {
	FINESS   string    `json:"finess"`
	CentreID string    `json:"centre_id"` // rare-disease site code (1.2.250.1.213.2.61)
	Name     string    `json:"name"`
	Filiere  string    `json:"filiere"`
	Type     string    `json:"type"` // coordonnateur, constitutif, competence
	From     time.Time `json:"valid_from"`
	To       time.Time `json:"valid_to"`
}

// DPIUpdates is the number of SDM-MR versions an establishment declares it
// updated in its DPI in one month (MR.2 denominator).
type DPIUpdates struct {
	FINESS string    `json:"finess"`
	Month  time.Time `json:"month"` // first day of the month
	Count  uint32    `json:"count"`
}

// Establishment holds per-establishment settings.
type Establishment struct {
	FINESS string `json:"finess"`
	Name   string `json:"name"`
	// TransmissionStart: before it, missing first versions of a set created
	// earlier are not counted in the estimated MR.2 denominator. Zero: none.
	TransmissionStart time.Time `json:"transmission_start"`
}

// InsertCentres writes centres; the latest import of a (FINESS, centre, start) wins.
func (s *Store) InsertCentres(ctx context.Context, cs []Centre) error {
	before, err := s.CentreFilieres(ctx)
	if err != nil {
		return err
	}
	t := newRows(insertCentres)
	now := time.Now().UTC()
	for _, c := range cs {
		t.add(centreRow{FINESS: c.FINESS, CentreID: c.CentreID, Name: c.Name, Filiere: c.Filiere, Type: c.Type,
			ValidFrom: c.From, ValidTo: c.To, ImportedAt: now})
	}
	if err := s.send(ctx, t); err != nil {
		return err
	}
	// The kept figures count patients per filière of the centres as they
	// were: when an import adds a centre or changes a centre's filière, the
	// loader counts them again before its next batch, and the indicators
	// read the history until then. The monthly import of an unchanged list
	// asks nothing. (Compared with the rows imported, not read back: two
	// imports in one second tie on imported_at.)
	changed := false
	for _, c := range cs {
		if f, ok := before[c.CentreID]; !ok || f != c.Filiere {
			changed = true
		}
	}
	if changed {
		if err := s.RequestFiguresRebuild(ctx); err != nil {
			return fmt.Errorf("the centres are imported; asking the loader to count the figures again: %w", err)
		}
	}
	return nil
}

// CentreFilieres is the filière of every labelled centre (the latest import).
func (s *Store) CentreFilieres(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	err := s.Each(ctx, centreFilieres, nil, func(r Scanner) error {
		var c, f string
		if err := r.Scan(&c, &f); err != nil {
			return err
		}
		out[c] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the centres' filières: %w", err)
	}
	return out, nil
}

// InsertDPIUpdates records declared counts; the latest declaration of a month wins.
func (s *Store) InsertDPIUpdates(ctx context.Context, source string, ds []DPIUpdates) error {
	t := newRows(insertDPIUpdates)
	now := time.Now().UTC()
	for _, d := range ds {
		m := time.Date(d.Month.Year(), d.Month.Month(), 1, 0, 0, 0, 0, time.UTC)
		t.add(dpiUpdateRow{FINESS: d.FINESS, Month: m, DeclaredCount: d.Count, Source: source, DeclaredAt: now})
	}
	return s.send(ctx, t)
}

// InsertEstablishments records establishment settings; the latest wins.
func (s *Store) InsertEstablishments(ctx context.Context, es []Establishment) error {
	before, err := s.EstablishmentStarts(ctx)
	if err != nil {
		return err
	}
	t := newRows(insertEstablishments)
	now := time.Now().UTC()
	for _, e := range es {
		start := e.TransmissionStart
		if start.IsZero() {
			start = time.Unix(0, 0).UTC() // 0000-00-00 in ClickHouse: no start date
		}
		t.add(establishmentRow{FINESS: e.FINESS, Name: e.Name, TransmissionStart: start, UpdatedAt: now})
	}
	if err := s.send(ctx, t); err != nil {
		return err
	}
	// The kept MR.2 figures count the versions missing before a file's
	// first one by the establishment's start: a start that changes asks
	// for a recount, as a centre's filière does (InsertCentres).
	for _, e := range es {
		if startDay(before[e.FINESS]) != startDay(e.TransmissionStart) {
			if err := s.RequestFiguresRebuild(ctx); err != nil {
				return fmt.Errorf("the establishments are imported; asking the loader to count the figures again: %w", err)
			}
			break
		}
	}
	return nil
}

// startDay is a start of transmission as a day, "" for none (a recount
// asked for when unsure costs a recount, never a wrong figure).
func startDay(t time.Time) string {
	if t.Unix() <= 0 {
		return ""
	}
	return t.Format("2006-01-02")
}

// readCSV reads a CSV as a French spreadsheet saves it (';' or ',', UTF-8
// with or without BOM, header line) into maps keyed by normalised header.
func readCSV(r io.Reader, required ...string) ([]map[string]string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading CSV: %w", err)
	}
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	first, _, _ := bytes.Cut(b, []byte("\n"))
	cr := csv.NewReader(bytes.NewReader(b))
	cr.Comma = ','
	if bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")) {
		cr.Comma = ';'
	}
	cr.TrimLeadingSpace = true
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("reading CSV: %w", err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("CSV is empty: a header line is expected")
	}
	head := make([]string, len(recs[0]))
	for i, h := range recs[0] {
		head[i] = normHeader(h)
	}
	for _, want := range required {
		found := false
		for _, h := range head {
			found = found || h == want
		}
		if !found {
			return nil, fmt.Errorf("CSV has no column %q (columns: %s)", want, strings.Join(head, ", "))
		}
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		m := map[string]string{}
		empty := true
		for i, v := range rec {
			if i < len(head) {
				m[head[i]] = strings.TrimSpace(v)
				empty = empty && strings.TrimSpace(v) == ""
			}
		}
		if !empty {
			out = append(out, m)
		}
	}
	return out, nil
}

// normHeader lower-cases, drops accents and turns spaces and dashes into '_'.
func normHeader(h string) string {
	repl := strings.NewReplacer("é", "e", "è", "e", "ê", "e", "à", "a", "ô", "o", "î", "i", "ç", "c")
	h = repl.Replace(strings.ToLower(strings.TrimSpace(h)))
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return '_'
	}, h)
}

func parseDay(s string) (time.Time, error) {
	for _, l := range []string{"2006-01-02", "02/01/2006", "20060102"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (AAAA-MM-JJ or JJ/MM/AAAA)", s)
}

func parseMonth(s string) (time.Time, error) {
	for _, l := range []string{"2006-01", "01/2006", "200601", "2006-01-02"} {
		if t, err := time.Parse(l, s); err == nil {
			return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a month (AAAA-MM)", s)
}

// ParseCentresCSV reads the labelled-centre list. Columns: finess,
// centre_id, filiere, type, debut, fin (debut/fin or valid_from/valid_to;
// empty fin: still labelled), nom optional.
func ParseCentresCSV(r io.Reader) ([]Centre, error) {
	rows, err := readCSV(r, "finess", "centre_id")
	if err != nil {
		return nil, err
	}
	var out []Centre
	for i, m := range rows {
		c := Centre{FINESS: m["finess"], CentreID: m["centre_id"], Name: first(m, "nom", "name", "centre_name"),
			Filiere: m["filiere"], Type: strings.ToLower(first(m, "type", "centre_type"))}
		if c.FINESS == "" || c.CentreID == "" {
			return nil, fmt.Errorf("centres CSV line %d: finess and centre_id are required", i+2)
		}
		c.From = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
		c.To = time.Date(2105, 12, 31, 0, 0, 0, 0, time.UTC)
		if v := first(m, "debut", "valid_from", "periode_debut"); v != "" {
			if c.From, err = parseDay(v); err != nil {
				return nil, fmt.Errorf("centres CSV line %d: %w", i+2, err)
			}
		}
		if v := first(m, "fin", "valid_to", "periode_fin"); v != "" {
			if c.To, err = parseDay(v); err != nil {
				return nil, fmt.Errorf("centres CSV line %d: %w", i+2, err)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// ParseDPIUpdatesCSV reads declared counts. Columns: finess, mois (AAAA-MM), nombre.
func ParseDPIUpdatesCSV(r io.Reader) ([]DPIUpdates, error) {
	rows, err := readCSV(r, "finess")
	if err != nil {
		return nil, err
	}
	var out []DPIUpdates
	for i, m := range rows {
		month, err := parseMonth(first(m, "mois", "month"))
		if err != nil {
			return nil, fmt.Errorf("DPI updates CSV line %d: %w", i+2, err)
		}
		n, err := strconv.ParseUint(strings.ReplaceAll(first(m, "nombre", "count", "declared_count"), " ", ""), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("DPI updates CSV line %d: the count is not a whole number: %w", i+2, err)
		}
		if m["finess"] == "" {
			return nil, fmt.Errorf("DPI updates CSV line %d: finess is required", i+2)
		}
		out = append(out, DPIUpdates{FINESS: m["finess"], Month: month, Count: uint32(n)})
	}
	return out, nil
}

// ParseEstablishmentsCSV reads establishment settings. Columns: finess, nom,
// debut_transmission (empty: none).
func ParseEstablishmentsCSV(r io.Reader) ([]Establishment, error) {
	rows, err := readCSV(r, "finess")
	if err != nil {
		return nil, err
	}
	var out []Establishment
	for i, m := range rows {
		e := Establishment{FINESS: m["finess"], Name: first(m, "nom", "name")}
		if e.FINESS == "" {
			return nil, fmt.Errorf("establishments CSV line %d: finess is required", i+2)
		}
		if v := first(m, "debut_transmission", "transmission_start"); v != "" {
			if e.TransmissionStart, err = parseDay(v); err != nil {
				return nil, fmt.Errorf("establishments CSV line %d: %w", i+2, err)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func first(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}

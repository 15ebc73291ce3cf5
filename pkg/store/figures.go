package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/bndmr/hub/pkg/events"
)

// Figures kept as they arrive (migration 0017, pkg/figures): the counts the
// dashboards read, written as signed differences by the one loader that
// keeps them, in generations.

// FileVersion is what the figures keep of one version of a file, as
// InsertDocuments writes it: the patient key ("" under opposition) and the
// ORPHA codes of its documents row.
type FileVersion struct {
	SetID      string
	Version    uint32
	PatientKey string
	ORPHACodes []string
}

// FileVersionOf is the FileVersion of a record, derived as its documents
// row is (the warehouse's key while a rotation runs, opposition).
func FileVersionOf(r *events.Record) FileVersion {
	sr, _ := stable(r)
	pk := PatientKey(&sr)
	if sr.Opposition {
		pk = ""
	}
	return FileVersion{SetID: sr.SetID, Version: uint32(sr.VersionNumber), PatientKey: pk, ORPHACodes: orphaCodes(&sr)}
}

// CurrentFiles hands fn the current version of every file loaded. A file
// may come more than once (a version written twice and not merged yet, or
// a batch whose superseded rows a crash left unwritten): keep the highest.
func (s *Store) CurrentFiles(ctx context.Context, fn func(FileVersion) error) error {
	return s.Each(ctx, currentFiles, nil, func(r Scanner) error {
		var f FileVersion
		if err := r.Scan(&f.SetID, &f.Version, &f.PatientKey, &f.ORPHACodes); err != nil {
			return err
		}
		return fn(f)
	})
}

// FigureDelta is a change of one cell of one figure.
type FigureDelta struct {
	Figure, Cell string
	Delta        int64
}

// FigureGenerations returns the highest generation begun and the highest
// completed, 0 when there is none.
func (s *Store) FigureGenerations(ctx context.Context) (begun, completed uint64, err error) {
	if err := s.QueryRow(ctx, figureGenerations).Scan(&begun, &completed); err != nil {
		return 0, 0, fmt.Errorf("reading the figures' generations: %w", err)
	}
	return begun, completed, nil
}

// BeginFigures records that writer begins generation gen: a loader keeping
// an older one sees it at its next batch and stops writing there.
func (s *Store) BeginFigures(ctx context.Context, gen uint64, writer string) error {
	return s.figureGeneration(ctx, figureGenerationRow{Generation: gen, Writer: writer})
}

// CompleteFigures records that generation gen's starting counts are all
// written: the queries read it from then on.
func (s *Store) CompleteFigures(ctx context.Context, gen uint64, writer string) error {
	return s.figureGeneration(ctx, figureGenerationRow{Generation: gen, Writer: writer, Completed: 1})
}

// RequestFiguresRebuild begins a generation no loader keeps: the loader
// that writes counts them again from the documents before its next batch.
// After anything that changes the documents behind the loader's back (a key
// rotation's end, a restore).
func (s *Store) RequestFiguresRebuild(ctx context.Context) error {
	begun, _, err := s.FigureGenerations(ctx)
	if err != nil {
		return err
	}
	return s.figureGeneration(ctx, figureGenerationRow{Generation: begun + 1, Writer: "request"})
}

func (s *Store) figureGeneration(ctx context.Context, r figureGenerationRow) error {
	b := newRows(insertFigureGens)
	b.add(r)
	if err := s.send(ctx, b); err != nil {
		return fmt.Errorf("recording generation %d of the figures: %w", r.Generation, err)
	}
	return nil
}

// AddFigures writes deltas to generation gen, in one insert: one part, all
// or nothing on one server.
func (s *Store) AddFigures(ctx context.Context, gen uint64, deltas []FigureDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return fmt.Errorf("drawing the figures batch number: %w", err)
	}
	batch := binary.LittleEndian.Uint64(nonce[:])
	b := newRows(insertFigureCounts).sized(len(deltas))
	for _, d := range deltas {
		b.add(figureCountRow{Generation: gen, Figure: d.Figure, Cell: d.Cell, Delta: d.Delta, Batch: batch})
	}
	return s.send(ctx, b)
}

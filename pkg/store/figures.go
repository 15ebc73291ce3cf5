package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"
)

// Figures kept as they arrive (migration 0017, pkg/figures): the counts the
// dashboards read, written as signed differences by the one loader that
// keeps them, in generations.

// FileVersion is what the figures count of one version of a file: the
// values of its rows in documents, care_episodes, diagnoses and patients,
// as the loader writes them.
type FileVersion struct {
	SetID      string
	Version    uint32
	PatientKey string // "" under opposition: the version counts for no patient
	FINESS     string
	Date       time.Time // effective_date
	Sex        string
	Dep        string // residence_departement
	BirthYM    string
	ORPHACodes []string
	Sites      []string // the care episodes' site codes that are not empty
	Diagnoses  []Diagnosis
	Deceased   bool      // its patients row says deceased = 1
	DeathYM    string    // death_year_month of that row
	Created    time.Time // the file's creation month (first day) as versions.created holds it; 1970-01-01: unknown
}

// Seen is the row of versions the loader wrote with v.
func (v FileVersion) Seen() VersionSeen {
	return VersionSeen{FINESS: v.FINESS, SetID: v.SetID, Version: v.Version, Date: v.Date, Accepted: true, Created: v.Created}
}

// VersionSeen is a row of versions: a version of a file seen by a loaded
// document or by a receipt, what MR.2 counts.
type VersionSeen struct {
	FINESS, SetID string
	Version       uint32
	Date          time.Time // effective_date
	Accepted      bool
	Created       time.Time // the file's creation month; 1970-01-01: unknown (every receipt)
}

// VersionsSeen hands fn every version seen (the rows of versions of one
// version merged: its first day, accepted if one of them is, the file's
// latest creation month), in no order.
func (s *Store) VersionsSeen(ctx context.Context, fn func(VersionSeen) error) error {
	const buckets = 16
	for i := range buckets {
		err := s.Each(ctx, versionsSeen, []any{uint64(buckets), uint64(i)}, func(r Scanner) error {
			var v VersionSeen
			var day, created uint16
			var acc uint8
			if err := r.Scan(&v.FINESS, &v.SetID, &v.Version, &day, &acc, &created); err != nil {
				return err
			}
			v.Date, v.Accepted, v.Created = dayDate(day), acc == 1, dayDate(created)
			return fn(v)
		})
		if err != nil {
			return fmt.Errorf("reading the versions seen (bucket %d of %d): %w", i+1, buckets, err)
		}
	}
	return nil
}

// dayDate is a Date read as its number of days since 1970-01-01.
func dayDate(d uint16) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// EstablishmentStarts is each establishment's start of transmission (the
// latest settings); an establishment without one is absent.
func (s *Store) EstablishmentStarts(ctx context.Context) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := s.Each(ctx, establishmentStarts, nil, func(r Scanner) error {
		var f string
		var d uint16
		if err := r.Scan(&f, &d); err != nil {
			return err
		}
		if d > 0 {
			out[f] = dayDate(d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the establishments' start of transmission: %w", err)
	}
	return out, nil
}

// Diagnosis is what the figures count of a diagnoses row.
type Diagnosis struct {
	Code, System                  string
	OnsetAge, ClinicalAge, GenAge *float64
}

// batchMarks are the lengths of a batch's row lists before a record's rows.
type batchMarks struct{ care, diagnoses, patients int }

func (b *documentBatch) marks() batchMarks {
	return batchMarks{len(b.care.list), len(b.diagnoses.list), len(b.patients.list)}
}

// fileVersion is the FileVersion of the record whose rows were added last,
// after at.
func (b *documentBatch) fileVersion(at batchMarks) FileVersion {
	d := &b.documents.list[len(b.documents.list)-1]
	vr := &b.versions.list[len(b.versions.list)-1]
	v := FileVersion{Created: vr.Created, SetID: d.SetID, Version: d.VersionNumber, PatientKey: d.PatientKey, FINESS: d.FINESS,
		Date: d.EffectiveDate, Sex: d.Sex, Dep: d.ResidenceDepartement, BirthYM: d.BirthYearMonth, ORPHACodes: d.ORPHACodes}
	for _, c := range b.care.list[at.care:] {
		if c.SiteCode != "" {
			v.Sites = append(v.Sites, c.SiteCode)
		}
	}
	for _, g := range b.diagnoses.list[at.diagnoses:] {
		v.Diagnoses = append(v.Diagnoses, Diagnosis{Code: g.DiseaseCode, System: g.DiseaseSystem,
			OnsetAge: g.OnsetAgeYears, ClinicalAge: g.ClinicalDxAgeYears, GenAge: g.GeneticDxAgeYears})
	}
	for _, p := range b.patients.list[at.patients:] {
		if p.Deceased != nil && *p.Deceased == 1 {
			v.Deceased, v.DeathYM = true, p.DeathYearMonth
		}
	}
	return v
}

// CurrentFiles hands fn the current version of every file loaded, as the
// loader wrote it (FileVersion), once each, in no order.
func (s *Store) CurrentFiles(ctx context.Context, fn func(FileVersion) error) error {
	files := map[versionOf]*FileVersion{}
	err := s.Each(ctx, currentFiles, nil, func(r Scanner) error {
		f := &FileVersion{}
		if err := r.Scan(&f.SetID, &f.Version, &f.PatientKey, &f.ORPHACodes, &f.FINESS, &f.Date, &f.Sex, &f.Dep, &f.BirthYM); err != nil {
			return err
		}
		files[versionOf{f.SetID, f.Version}] = f
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the current documents: %w", err)
	}
	// The clinical rows of the current versions: a row of a version that
	// is not its file's highest (a crash left its superseded rows
	// unwritten) finds no file here and is left out, as the version is.
	for _, c := range []struct {
		what string
		st   Statement
		scan func(r Scanner, k *versionOf) (func(*FileVersion), error)
	}{
		{"care episodes", currentSites, func(r Scanner, k *versionOf) (func(*FileVersion), error) {
			var sites []string
			err := r.Scan(&k.set, &k.v, &sites)
			return func(f *FileVersion) { f.Sites = sites }, err
		}},
		{"diagnoses", currentDiagnoses, func(r Scanner, k *versionOf) (func(*FileVersion), error) {
			var d Diagnosis
			err := r.Scan(&k.set, &k.v, &d.Code, &d.System, &d.OnsetAge, &d.ClinicalAge, &d.GenAge)
			return func(f *FileVersion) { f.Diagnoses = append(f.Diagnoses, d) }, err
		}},
		{"deaths", currentDeaths, func(r Scanner, k *versionOf) (func(*FileVersion), error) {
			var ym string
			err := r.Scan(&k.set, &k.v, &ym)
			return func(f *FileVersion) { f.Deceased, f.DeathYM = true, ym }, err
		}},
	} {
		err := s.Each(ctx, c.st, nil, func(r Scanner) error {
			var k versionOf
			set, err := c.scan(r, &k)
			if err != nil {
				return err
			}
			if f := files[k]; f != nil {
				set(f)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading the current %s: %w", c.what, err)
		}
	}
	for k, f := range files {
		delete(files, k) // handed over: this map lets it go
		if err := fn(*f); err != nil {
			return err
		}
	}
	return nil
}

// versionOf names one version of a file.
type versionOf struct {
	set string
	v   uint32
}

// FigureDelta is a change of one cell of one figure.
type FigureDelta struct {
	Figure, Group, Cell string
	Delta               int64
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
// an older one sees it at its next batch and stops writing there, and the
// queries read the history until it is completed.
func (s *Store) BeginFigures(ctx context.Context, gen uint64, writer string) error {
	return s.figureGeneration(ctx, figureGenerationRow{Generation: gen, Writer: writer})
}

// CompleteFigures records that generation gen's starting counts are all
// written: the queries read it from then on.
func (s *Store) CompleteFigures(ctx context.Context, gen uint64, writer string) error {
	return s.figureGeneration(ctx, figureGenerationRow{Generation: gen, Writer: writer, Completed: 1})
}

// RequestFiguresRebuild begins a generation no loader keeps: the queries
// read the history until the loader that writes has counted everything
// again from the documents, before its next batch. After anything that
// changes what the figures count behind the loader's back (a key rotation's
// end, a reference import, a restore).
//
// A store migrated only up to a version before 0017 has no kept figures to
// count again: nothing is asked.
func (s *Store) RequestFiguresRebuild(ctx context.Context) error {
	begun, _, err := s.FigureGenerations(ctx)
	if tableMissing(err) {
		return nil
	}
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
		b.add(figureCountRow{Generation: gen, Figure: d.Figure, Group: d.Group, Cell: d.Cell, Delta: d.Delta, Batch: batch})
	}
	return s.send(ctx, b)
}

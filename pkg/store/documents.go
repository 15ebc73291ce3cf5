package store

import (
	"context"
	"fmt"
	"time"

	"github.com/bndmr/hub/pkg/events"
)

// Paris is the time zone the programme's months are counted in.
func Paris() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return loc
}

// EffectiveDate turns an HL7 TS (YYYYMMDD[HHMM[SS]][+ZZZZ]) into the day it
// falls on in Paris. A TS without zone is taken as Paris local time.
func EffectiveDate(ts string, paris *time.Location) (time.Time, error) {
	layouts := []string{"20060102150405-0700", "200601021504-0700", "20060102150405", "200601021504", "2006010215", "20060102"}
	for _, l := range layouts {
		if t, err := time.ParseInLocation(l, ts, paris); err == nil {
			t = t.In(paris)
			return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
		}
	}
	return time.Time{}, fmt.Errorf("effectiveTime %q is not an HL7 date", ts)
}

// InsertDocuments writes one batch of records in a single INSERT.
func (s *Store) InsertDocuments(ctx context.Context, recs []events.Record) error {
	if len(recs) == 0 {
		return nil
	}
	paris := Paris()
	batch, err := s.conn.PrepareBatch(ctx, `INSERT INTO documents (finess, set_id, version_number, document_key,
		model_version, effective_time, effective_date, mail_id, doc_index, received_at, key_id,
		patient_ins_pseudonym, patient_traits_pseudonym, sex, birth_year_month, residence_departement, opposition)`)
	if err != nil {
		return fmt.Errorf("preparing documents insert: %w", err)
	}
	for _, r := range recs {
		day, err := EffectiveDate(r.EffectiveTime, paris)
		if err != nil {
			day = r.ReceivedAt.UTC().Truncate(24 * time.Hour)
		}
		if err := batch.Append(r.FINESS, r.SetID, uint32(r.VersionNumber), r.DocumentKey,
			r.ModelVersion, r.EffectiveTime, day, r.MailID, uint16(r.DocIndex), r.ReceivedAt.UTC(), r.KeyID,
			r.PatientINSPseudonym, r.PatientTraitsPseudonym, r.Sex, r.BirthYearMonth, r.ResidenceDepartement, boolU8(r.Opposition)); err != nil {
			return fmt.Errorf("adding document %s v%d to the batch: %w", r.SetID, r.VersionNumber, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("inserting %d documents: %w", len(recs), err)
	}
	return nil
}

// EstablishmentCount is the number of distinct document versions of one
// establishment.
type EstablishmentCount struct {
	FINESS    string
	Versions  uint64
	Sets      uint64
	LastMonth string
}

// DocumentsPerEstablishment counts distinct (set, version) per FINESS.
func (s *Store) DocumentsPerEstablishment(ctx context.Context) ([]EstablishmentCount, error) {
	rows, err := s.conn.Query(ctx, `SELECT finess, uniqExact(set_id, version_number), uniqExact(set_id),
		toString(toYYYYMM(max(effective_date)))
		FROM documents GROUP BY finess ORDER BY finess`)
	if err != nil {
		return nil, fmt.Errorf("counting documents per establishment: %w", err)
	}
	defer rows.Close()
	var out []EstablishmentCount
	for rows.Next() {
		var c EstablishmentCount
		if err := rows.Scan(&c.FINESS, &c.Versions, &c.Sets, &c.LastMonth); err != nil {
			return nil, fmt.Errorf("reading document counts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func boolU8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/bndmr/hub/pkg/events"
)

// Key rotation in the store (docs/operations.md, "Key rotation").
//
// While a rotation runs, the pseudonymisation service puts in every record
// the pseudonyms under the new (primary) key and, in previous_keys, those
// under the key the warehouse already holds. The loader writes the latter
// into the tables, so that a patient's documents before and during the
// rotation keep one patient_key and no count moves, and keeps the pair in
// pseudonym_links. FinishRotation then rewrites, with ALTER UPDATE
// mutations, every old pseudonym that has a link into its new value. A
// pseudonym never seen during the rotation has no link and keeps its old
// value (RotationStatus counts them): links come only from identities, a
// pseudonym cannot be turned into another.

// Link kinds of pseudonym_links.
const (
	LinkPatient = "patient" // patient_key (traits pseudonym, else INS)
	LinkINS     = "ins"
	LinkTraits  = "traits"
	LinkIPP     = "ipp"
)

// stable returns the record as the warehouse stores it: during a rotation,
// with the pseudonyms of the key it already holds (the first of
// previous_keys: one rotation at a time), and the links from those to the
// new key's.
func stable(r *events.Record) (events.Record, [][]any) {
	if len(r.PreviousKeys) == 0 || r.Opposition {
		return *r, nil
	}
	old := r.PreviousKeys[0]
	s := *r
	s.KeyID, s.DocumentKey = old.KeyID, old.DocumentKey
	s.PatientINSPseudonym, s.PatientTraitsPseudonym, s.IPPKeys = old.PatientINSPseudonym, old.PatientTraitsPseudonym, old.IPPKeys
	var links [][]any
	link := func(kind, o, n string) {
		if o != "" && n != "" && o != n {
			links = append(links, []any{old.KeyID, r.KeyID, kind, o, n, r.FINESS})
		}
	}
	link(LinkPatient, PatientKey(&s), PatientKey(r))
	link(LinkINS, s.PatientINSPseudonym, r.PatientINSPseudonym)
	link(LinkTraits, s.PatientTraitsPseudonym, r.PatientTraitsPseudonym)
	if len(old.IPPKeys) == len(r.IPPKeys) {
		for i := range old.IPPKeys {
			link(LinkIPP, old.IPPKeys[i], r.IPPKeys[i])
		}
	}
	return s, links
}

// rekeyTables are the tables whose patient_key a rotation rewrites, each
// with its statement. documents and patients also carry the INS and traits
// pseudonyms (and patients the IPP keys).
var (
	rekeyDocuments = Statement{"store.rekey_documents", `ALTER TABLE documents UPDATE
		patient_key = transform(patient_key, ?, ?, patient_key),
		patient_ins_pseudonym = transform(patient_ins_pseudonym, ?, ?, patient_ins_pseudonym),
		patient_traits_pseudonym = transform(patient_traits_pseudonym, ?, ?, patient_traits_pseudonym),
		key_id = ?
		WHERE key_id = ? AND has(?, patient_key)`}
	rekeyPatients = Statement{"store.rekey_patients", `ALTER TABLE patients UPDATE
		patient_key = transform(patient_key, ?, ?, patient_key),
		patient_ins_pseudonym = transform(patient_ins_pseudonym, ?, ?, patient_ins_pseudonym),
		patient_traits_pseudonym = transform(patient_traits_pseudonym, ?, ?, patient_traits_pseudonym),
		ipp_keys = arrayMap(x -> transform(x, ?, ?, x), ipp_keys)
		WHERE has(?, patient_key)`}
	rekeyClinical = func() []Statement {
		var out []Statement
		for _, t := range []string{"diagnoses", "activities", "care_episodes", "family_history", "active_problems",
			"functional_status", "pregnancies", "births", "research", "treatments"} {
			out = append(out, Statement{"store.rekey_" + t, "ALTER TABLE " + t +
				" UPDATE patient_key = transform(patient_key, ?, ?, patient_key) WHERE has(?, patient_key)"})
		}
		return out
	}()
	// rotationLinks: one new pseudonym per old one and kind (the same
	// identity always gives the same pair).
	rotationLinks = Statement{"store.rotation_links", `SELECT kind, old_pseudonym, any(new_pseudonym)
		FROM pseudonym_links WHERE old_key_id = ? AND new_key_id = ? GROUP BY kind, old_pseudonym ORDER BY kind, old_pseudonym`}
	// rotationKeys: per key, the documents and patients the warehouse holds
	// under it, and how many of its patients have a link to another key.
	rotationKeys = Statement{"store.rotation_keys", `SELECT key_id, toUInt64(count()), toUInt64(uniqExact(patient_key)),
		toUInt64(uniqExactIf(patient_key, patient_key IN (SELECT old_pseudonym FROM pseudonym_links WHERE kind = 'patient')))
		FROM documents WHERE patient_key != '' GROUP BY key_id ORDER BY key_id`}
	// mutationsRunning: mutations of this database not yet done.
	mutationsRunning = Statement{"store.mutations_running", `SELECT toUInt64(count()) FROM system.mutations
		WHERE database = currentDatabase() AND is_done = 0`}
	insertLinks = insertInto("pseudonym_links", "old_key_id, new_key_id, kind, old_pseudonym, new_pseudonym, finess")
)

func rotationStatements() []Statement {
	return append([]Statement{rekeyDocuments, rekeyPatients, rotationLinks, rotationKeys, mutationsRunning}, rekeyClinical...)
}

// KeyState is what the warehouse holds under one key.
type KeyState struct {
	KeyID     string
	Documents uint64
	Patients  uint64
	// Linked patients have a pseudonym under another key (pseudonym_links).
	Linked uint64
}

// RotationStatus returns, per key id, the documents and patients stored
// under it.
func (s *Store) RotationStatus(ctx context.Context) ([]KeyState, error) {
	rows, err := s.Query(ctx, rotationKeys)
	if err != nil {
		return nil, fmt.Errorf("reading the key ids of the documents: %w", err)
	}
	defer rows.Close()
	var out []KeyState
	for rows.Next() {
		var k KeyState
		if err := rows.Scan(&k.KeyID, &k.Documents, &k.Patients, &k.Linked); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RekeyReport is what FinishRotation did.
type RekeyReport struct {
	Links      map[string]int // pairs read, by kind
	Mutations  int            // ALTER UPDATE statements run
	Unlinked   uint64         // patients still under the old key (no link)
	StillOld   uint64         // documents still under the old key
	FinishedIn time.Duration
}

// rekeyBatch bounds the pairs of one mutation: each pair is written out in
// the statement (about 70 bytes per pseudonym), under maxQuerySize.
const (
	rekeyBatch   = 5000
	maxQuerySize = 16 << 20
)

// FinishRotation rewrites every pseudonym of oldKey that has a link to
// newKey into its newKey value, in every table, and waits for the mutations
// to finish. It can run again: what is already rewritten no longer matches.
// Run it once the pseudonymisation service holds newKey alone and the
// loader has drained sdmmr.record (a record pseudonymised during the
// rotation and loaded afterwards would be written under oldKey again; a
// second run rewrites it). On a cluster it is refused: the mutations would
// have to run on every shard's local tables (not done yet).
func (s *Store) FinishRotation(ctx context.Context, oldKey, newKey, cluster string) (RekeyReport, error) {
	start := time.Now()
	rep := RekeyReport{Links: map[string]int{}}
	if cluster != "" {
		return rep, fmt.Errorf("finishing a key rotation on cluster %s is not supported yet: the mutations must run on each shard's local tables", cluster)
	}
	if oldKey == "" || newKey == "" || oldKey == newKey {
		return rep, errors.New("finishing a key rotation needs the old key id and a different new key id")
	}
	pairs := map[string][][2]string{}
	rows, err := s.Query(ctx, rotationLinks, oldKey, newKey)
	if err != nil {
		return rep, fmt.Errorf("reading the links from key %s to key %s: %w", oldKey, newKey, err)
	}
	for rows.Next() {
		var kind, o, n string
		if err := rows.Scan(&kind, &o, &n); err != nil {
			rows.Close()
			return rep, err
		}
		pairs[kind] = append(pairs[kind], [2]string{o, n})
		rep.Links[kind]++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, err
	}
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_query_size": maxQuerySize}))
	// The patient pairs drive every batch; the INS, traits and IPP pairs
	// go with the batch of the patients they belong to only by chance, so
	// they are applied whole with the first batch and again with each
	// following one (an applied pair no longer matches anything).
	ins, traits, ipp := arrays(pairs[LinkINS]), arrays(pairs[LinkTraits]), arrays(pairs[LinkIPP])
	patient := pairs[LinkPatient]
	for i := 0; i < len(patient); i += rekeyBatch {
		batch := arrays(patient[i:min(i+rekeyBatch, len(patient))])
		run := func(st Statement, args ...any) error {
			rep.Mutations++
			if err := s.Exec(ctx, st, args...); err != nil {
				return fmt.Errorf("%s: %w", st.Name, err)
			}
			return nil
		}
		if err := run(rekeyDocuments, batch.old, batch.new, ins.old, ins.new, traits.old, traits.new, newKey, oldKey, batch.old[1:]); err != nil {
			return rep, err
		}
		if err := run(rekeyPatients, batch.old, batch.new, ins.old, ins.new, traits.old, traits.new, ipp.old, ipp.new, batch.old[1:]); err != nil {
			return rep, err
		}
		for _, st := range rekeyClinical {
			if err := run(st, batch.old, batch.new, batch.old[1:]); err != nil {
				return rep, err
			}
		}
		if err := s.waitMutations(ctx); err != nil {
			return rep, err
		}
	}
	st, err := s.RotationStatus(ctx)
	if err != nil {
		return rep, err
	}
	for _, k := range st {
		if k.KeyID == oldKey {
			rep.StillOld, rep.Unlinked = k.Documents, k.Patients
		}
	}
	rep.FinishedIn = time.Since(start)
	return rep, nil
}

// waitMutations waits until every mutation of the database is done:
// ClickHouse 18.16 runs them in the background and has no mutations_sync.
func (s *Store) waitMutations(ctx context.Context) error {
	for {
		var n uint64
		if err := s.QueryRow(ctx, mutationsRunning).Scan(&n); err != nil {
			return fmt.Errorf("reading system.mutations: %w", err)
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d mutations still running (system.mutations): %w", n, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type pairArrays struct{ old, new []string }

// arrays splits pairs into the two arrays transform() takes; never empty
// (an empty array literal has no type): '' maps to itself.
func arrays(pairs [][2]string) pairArrays {
	a := pairArrays{old: []string{""}, new: []string{""}}
	for _, p := range pairs {
		a.old = append(a.old, p[0])
		a.new = append(a.new, p[1])
	}
	return a
}

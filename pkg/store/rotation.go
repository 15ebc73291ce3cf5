package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/pause"
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
func stable(r *events.Record) (events.Record, []linkRow) {
	if len(r.PreviousKeys) == 0 || r.Opposition {
		return *r, nil
	}
	old := r.PreviousKeys[0]
	s := *r
	s.KeyID, s.DocumentKey = old.KeyID, old.DocumentKey
	s.PatientINSPseudonym, s.PatientTraitsPseudonym, s.IPPKeys = old.PatientINSPseudonym, old.PatientTraitsPseudonym, old.IPPKeys
	var links []linkRow
	link := func(kind, o, n string) {
		if o != "" && n != "" && o != n {
			links = append(links, linkRow{OldKeyID: old.KeyID, NewKeyID: r.KeyID, Kind: kind, OldPseudonym: o, NewPseudonym: n, FINESS: r.FINESS})
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
	var out []KeyState
	err := s.Each(ctx, rotationKeys, nil, func(rows Scanner) error {
		var k KeyState
		if err := rows.Scan(&k.KeyID, &k.Documents, &k.Patients, &k.Linked); err != nil {
			return err
		}
		out = append(out, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the key ids of the documents: %w", err)
	}
	return out, nil
}

// RekeyReport is what FinishRotation did.
type RekeyReport struct {
	Links      map[string]int // pairs read, by kind
	Mutations  int            // ALTER UPDATE statements run
	Unlinked   uint64         // patients still under the old key (no link)
	StillOld   uint64         // documents still under the old key
	FinishedIn time.Duration
}

// rekeyBatch bounds the pairs of each kind in one mutation: each pair is
// written out in the statement (about 70 bytes per pseudonym, twice more
// for the WHERE), four kinds at most, under maxQuerySize.
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
// second run rewrites it). On a cluster (its <remote_servers> name) the
// mutations run on each shard's local tables, and every replica is waited
// for.
func (s *Store) FinishRotation(ctx context.Context, oldKey, newKey, cluster string) (RekeyReport, error) {
	start := time.Now()
	rep := RekeyReport{Links: map[string]int{}}
	if oldKey == "" || newKey == "" || oldKey == newKey {
		return rep, errors.New("finishing a key rotation needs the old key id and a different new key id")
	}
	pairs := map[string][][2]string{}
	err := s.Each(ctx, rotationLinks, []any{oldKey, newKey}, func(rows Scanner) error {
		var kind, o, n string
		if err := rows.Scan(&kind, &o, &n); err != nil {
			return err
		}
		pairs[kind] = append(pairs[kind], [2]string{o, n})
		rep.Links[kind]++
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("reading the links from key %s to key %s: %w", oldKey, newKey, err)
	}
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_query_size": maxQuerySize}))
	rounds := 0
	for _, ps := range pairs {
		rounds = max(rounds, (len(ps)+rekeyBatch-1)/rekeyBatch)
	}
	run := func(st Statement, args ...any) error {
		rep.Mutations++
		if err := s.mutate(ctx, cluster, st, args...); err != nil {
			return fmt.Errorf("%s: %w", st.Name, err)
		}
		return nil
	}
	for i := range rounds {
		batch := func(kind string) pairArrays {
			ps := pairs[kind]
			lo, hi := min(i*rekeyBatch, len(ps)), min((i+1)*rekeyBatch, len(ps))
			return arrays(ps[lo:hi])
		}
		p, ins, traits, ipp := batch(LinkPatient), batch(LinkINS), batch(LinkTraits), batch(LinkIPP)
		if err := run(rekeyDocuments, p.old, p.new, ins.old, ins.new, traits.old, traits.new,
			oldKey, p.old, p.new, newKey, oldKey, p.old, p.new, ins.old, ins.new, traits.old, traits.new); err != nil {
			return rep, err
		}
		if err := run(rekeyPatients, p.old, p.new, ins.old, ins.new, traits.old, traits.new, ipp.old, ipp.new,
			p.old, p.new, ins.old, ins.new, traits.old, traits.new, ipp.old, ipp.new); err != nil {
			return rep, err
		}
		if len(p.old) > 1 {
			for _, st := range rekeyClinical {
				if err := run(st, p.old, p.new, p.old, p.new); err != nil {
					return rep, err
				}
			}
		}
		if err := s.waitAllMutations(ctx, cluster); err != nil {
			return rep, err
		}
	}
	// The kept figures know patients by their old pseudonyms: a patient
	// whose next file comes under the new key would count twice.
	if err := s.RequestFiguresRebuild(ctx); err != nil {
		return rep, fmt.Errorf("the pseudonyms are rewritten; asking the loader to count the figures again: %w", err)
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

// ForgetLinks deletes the links of a finished rotation and waits for the
// deletion. Run it once FinishRotation has run after the last record of
// the rotation was loaded: afterwards a straggler under the old key can no
// longer be re-keyed.
func (s *Store) ForgetLinks(ctx context.Context, oldKey, newKey, cluster string) error {
	if err := s.mutate(ctx, cluster, forgetLinks, oldKey, newKey); err != nil {
		return fmt.Errorf("deleting the links from key %s to key %s: %w", oldKey, newKey, err)
	}
	return s.waitAllMutations(ctx, cluster)
}

// waitAllMutations waits for the mutations of this server, or of every
// server of cluster.
func (s *Store) waitAllMutations(ctx context.Context, cluster string) error {
	if cluster == "" {
		return s.waitMutations(ctx)
	}
	return s.waitMutationsOnCluster(ctx, cluster)
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
		if err := pause.For(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("%d mutations still running (system.mutations): %w", n, err)
		}
	}
}

type pairArrays struct{ old, new []string }

// arrays splits pairs into the two arrays transform() takes; never empty
// (an empty array literal has no type): ” maps to itself.
func arrays(pairs [][2]string) pairArrays {
	a := pairArrays{old: []string{""}, new: []string{""}}
	for _, p := range pairs {
		a.old = append(a.old, p[0])
		a.new = append(a.new, p[1])
	}
	return a
}

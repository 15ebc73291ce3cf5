// Package figures keeps the counts the dashboards read up to date as the
// loader writes each batch, instead of recounting the whole history at each
// query (docs/store.md, "Figures kept as they arrive"): every table and
// distribution of the epidemiology, on the current state of every file, and
// MR.2 per establishment and month, on every version seen (documents and
// receipts: the keeper writes both, Write and WriteReceipts).
//
// The loader that keeps them holds the current version of every file in
// memory and writes, for each batch, the difference it makes to each cell
// (figure_counts: a cell is the sum of its rows, exact whatever ClickHouse
// has merged). One loader at a time does it: the one holding the loader's
// lease (pkg/loader). The counts live in
// generations: a keeper that starts, that failed a write it cannot tell
// happened, or that sees a generation it did not begin (another loader took
// over, or a rebuild was asked for), counts everything again from the
// documents under a new one. The queries read the highest completed one.
package figures

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/store"
)

// Keeper keeps the figures for one loader.
type Keeper struct {
	st     *store.Store
	writer string

	mu  sync.Mutex
	gen uint64 // the generation this keeper writes; 0: none, count again first
	s   *state
}

// NewKeeper returns a keeper writing to st; it counts everything at its
// first batch.
func NewKeeper(st *store.Store) *Keeper {
	host, _ := os.Hostname()
	return &Keeper{st: st, writer: fmt.Sprintf("%s/%d", host, os.Getpid())}
}

// Writer names this keeper's process (host/pid), as figure_generations
// records it.
func (k *Keeper) Writer() string { return k.writer }

// Generation is the generation the keeper writes, 0 before its first batch
// or after a failure.
func (k *Keeper) Generation() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.gen
}

// Apply counts versions the loader has just written to the documents. On an
// error the keeper counts everything again at the next call, which then
// includes these versions whether their differences were written or not:
// the batch is retried, its rows written again change nothing.
func (k *Keeper) Apply(ctx context.Context, versions []store.FileVersion) error {
	return k.update(ctx, len(versions), func(s *state, d map[item]int64) {
		for _, v := range versions {
			s.apply(v, d)
			s.applySeen(v.Seen(), d)
		}
	})
}

// ApplySeen counts the rows of versions the loader has just written with
// the receipts (MR.2), as Apply does the documents.
func (k *Keeper) ApplySeen(ctx context.Context, seen []store.VersionSeen) error {
	return k.update(ctx, len(seen), func(s *state, d map[item]int64) {
		for _, v := range seen {
			s.applySeen(v, d)
		}
	})
}

// update applies n versions to the state with fn and writes the
// differences, counting everything again first when this keeper is not the
// writer of the generation begun last.
func (k *Keeper) update(ctx context.Context, n int, fn func(*state, map[item]int64)) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	begun, _, err := k.st.FigureGenerations(ctx)
	if err != nil {
		return err // nothing written: the state holds
	}
	if k.gen == 0 || begun != k.gen {
		if err := k.rebuild(ctx, begun); err != nil {
			k.gen = 0
			return err
		}
	}
	d := map[item]int64{}
	fn(k.s, d)
	if err := k.st.AddFigures(ctx, k.gen, k.s.deltas(d)); err != nil {
		k.gen = 0
		return fmt.Errorf("writing the figures' differences of %d versions: %w", n, err)
	}
	// Another loader may have begun counting while this batch was written
	// (it took the pin over): its count may have read the documents before
	// this batch's rows, and this batch will not come to it again. It is
	// asked to count once more; this keeper is no longer the writer.
	now, _, err := k.st.FigureGenerations(ctx)
	if err != nil {
		// The batch is retried: its versions are counted already, and
		// change nothing the second time.
		return fmt.Errorf("checking the figures' generation after writing: %w", err)
	}
	if now != k.gen {
		k.gen = 0
		if err := k.st.RequestFiguresRebuild(ctx); err != nil {
			return fmt.Errorf("another loader counts the figures; asking it to count again: %w", err)
		}
	}
	return nil
}

// Rebuild counts everything again from the documents under a new
// generation, now.
func (k *Keeper) Rebuild(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	begun, _, err := k.st.FigureGenerations(ctx)
	if err == nil {
		err = k.rebuild(ctx, begun)
	}
	if err != nil {
		k.gen = 0
	}
	return err
}

// rebuild begins a generation above begun, reads the current version of
// every file, writes the counts and completes the generation. The number
// is the clock's when that is higher, so that two loaders beginning at once
// (one of them about to lose its pin) never write into the same one.
func (k *Keeper) rebuild(ctx context.Context, begun uint64) error {
	gen := max(begun+1, uint64(time.Now().UnixNano()))
	if err := k.st.BeginFigures(ctx, gen, k.writer); err != nil {
		return err
	}
	k.gen, k.s = 0, nil // the old state goes before the new one is read
	centres, err := k.st.CentreFilieres(ctx)
	if err != nil {
		return err
	}
	starts, err := k.st.EstablishmentStarts(ctx)
	if err != nil {
		return err
	}
	s, d := newState(centres, startDays(starts)), map[item]int64{}
	err = k.st.CurrentFiles(ctx, func(v store.FileVersion) error {
		s.apply(v, d) // its strings are kept interned, or not at all
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the current version of every file to count the figures: %w", err)
	}
	// MR.2: every version seen merged into its file first, each file
	// counted once at the end (counting a file at each of its rows would
	// count it as many times, undone as many).
	err = k.st.VersionsSeen(ctx, func(v store.VersionSeen) error {
		s.mergeSeen(v, func(*mr2Set) {})
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the versions seen to count MR.2: %w", err)
	}
	for i := range s.sets {
		s.countSet(&s.sets[i], 1, d)
	}
	d[s.item(Kept, "", MR2Kept)] = 1
	if err := k.st.AddFigures(ctx, gen, s.deltas(d)); err != nil {
		return fmt.Errorf("writing the figures of generation %d: %w", gen, err)
	}
	if err := k.st.CompleteFigures(ctx, gen, k.writer); err != nil {
		return err
	}
	k.gen, k.s = gen, s
	return nil
}

// Write writes records to the documents and every clinical table
// (store.InsertDocuments), then counts them: the loader's insert path. The
// figures come after the rows, so that a recount after a failure reads
// them; a failure of either is retried with the whole batch, whose rows
// written again change nothing.
func (k *Keeper) Write(ctx context.Context, recs []events.Record) error {
	vs, err := k.st.WriteDocuments(ctx, recs)
	if err != nil {
		return err
	}
	if err := k.Apply(ctx, vs); err != nil {
		return fmt.Errorf("keeping the figures: %w", err)
	}
	return nil
}

// WriteReceipts writes mail outcomes (store.WriteReceipts), then counts the
// versions they name (MR.2): the loader's insert path of the receipts, the
// same loader as the documents' (both streams are needed to count MR.2).
func (k *Keeper) WriteReceipts(ctx context.Context, outs []events.MailOutcome) error {
	seen, err := k.st.WriteReceipts(ctx, outs)
	if err != nil {
		return err
	}
	if err := k.ApplySeen(ctx, seen); err != nil {
		return fmt.Errorf("keeping the figures: %w", err)
	}
	return nil
}

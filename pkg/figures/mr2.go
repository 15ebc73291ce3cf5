package figures

import (
	"sort"
	"time"

	"github.com/bndmr/hub/pkg/store"
)

// MR.2 figures, per establishment (grp: FINESS) and month (cell: its first
// day, 2006-01-02), counted on the versions seen (versions: every loaded
// document and every receipt) as the history's statement counts them
// (pkg/indicators, mr2SQL): a version counts in the month of its first
// day, accepted if it ever was, with the versions missing before it.
const (
	MR2Seen     = "mr2_seen"     // versions seen
	MR2Accepted = "mr2_accepted" // of which accepted
	MR2Missing  = "mr2_missing"  // versions missing before them
	// Kept marks a generation counted by a keeper that keeps MR.2 (cell
	// MR2Kept, one row): a generation counted before MR.2 was kept has
	// none, and MR.2 is then read from the history.
	Kept    = "kept"
	MR2Kept = "mr2"
)

// mr2Set is what MR.2 counts of one file (finess, set_id): its versions
// seen, sorted by number.
type mr2Set struct {
	finess  uint32 // interned
	created int32  // the file's creation month, days since 1970; 0: unknown
	vers    []mr2Version
}

// mr2Version is one version of a file: its first day and whether it was
// ever accepted.
type mr2Version struct {
	v   uint32
	day int32
	acc bool
}

// days is a date as ClickHouse's Date holds it: days since 1970-01-01, of
// the day t names where it is (a Date read back comes at midnight in the
// server's time zone, one written at midnight UTC).
func days(t time.Time) int32 {
	return int32(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// startDays are the establishments' starts of transmission, in days.
func startDays(starts map[string]time.Time) map[string]int32 {
	out := make(map[string]int32, len(starts))
	for f, t := range starts {
		out[f] = days(t)
	}
	return out
}

// applySeen adds a row of versions to its file, adding to d what it changes
// in the MR.2 cells. A row seen again changes nothing.
func (s *state) applySeen(v store.VersionSeen, d map[item]int64) {
	set, had, changed := s.mergeSeen(v, func(set *mr2Set) { s.countSet(set, -1, d) })
	if changed || !had {
		s.countSet(set, 1, d)
	}
}

// mergeSeen adds a row of versions to its file's versions, calling before
// with the file as it was when the row changes a file seen already.
func (s *state) mergeSeen(v store.VersionSeen, before func(*mr2Set)) (set *mr2Set, had, changed bool) {
	k := keyOf(v.FINESS + "\x00" + v.SetID)
	i, had := s.setIdx[k]
	if !had {
		i = int32(len(s.sets))
		s.setIdx[k] = i
		s.sets = append(s.sets, mr2Set{finess: s.str(v.FINESS)})
	}
	set = &s.sets[i]
	day, created := days(v.Date), max(days(v.Created), 0)
	j := sort.Search(len(set.vers), func(j int) bool { return set.vers[j].v >= v.Version })
	found := j < len(set.vers) && set.vers[j].v == v.Version
	if found && set.vers[j].day <= day && (set.vers[j].acc || !v.Accepted) && set.created >= created {
		return set, had, false
	}
	if had {
		before(set)
	}
	set.created = max(set.created, created)
	if found {
		set.vers[j].day = min(set.vers[j].day, day)
		set.vers[j].acc = set.vers[j].acc || v.Accepted
	} else {
		set.vers = append(set.vers, mr2Version{})
		copy(set.vers[j+1:], set.vers[j:])
		set.vers[j] = mr2Version{v: v.Version, day: day, acc: v.Accepted}
	}
	return set, had, true
}

// countSet adds sign times the file's MR.2 counts to d: each version is
// seen in its month; missing before it is the gap to the version before,
// and before the first, the version less one, unless the file was created
// before the establishment's start of transmission (its creation month
// before the start's month; unknown, its first day before the start).
func (s *state) countSet(set *mr2Set, sign int64, d map[item]int64) {
	fin := s.strs.list[set.finess]
	first := set.vers[0].day
	for _, e := range set.vers[1:] {
		first = min(first, e.day)
	}
	for i, e := range set.vers {
		month := s.monthCell(e.day)
		d[s.item(MR2Seen, fin, month)] += sign
		if e.acc {
			d[s.item(MR2Accepted, fin, month)] += sign
		}
		var miss int64
		switch start := s.starts[fin]; {
		case i > 0:
			miss = int64(e.v) - int64(set.vers[i-1].v) - 1
		case start > 0 && set.created > 0 && set.created < days(monthStart(start)):
			// created before the start: its earlier versions were never due
		case start > 0 && set.created <= 0 && first < start:
			// creation unknown, first seen before the start: the same
		default:
			miss = int64(e.v) - 1
		}
		if miss != 0 {
			d[s.item(MR2Missing, fin, month)] += sign * miss
		}
	}
}

// monthStart is the first day of the month of day d (days since 1970).
func monthStart(d int32) time.Time {
	t := time.Unix(int64(d)*86400, 0).UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// monthCell names the month of day d as the cells do (2006-01-02, the
// first day), each day's name made once.
func (s *state) monthCell(d int32) string {
	if c, ok := s.months[d]; ok {
		return c
	}
	c := monthStart(d).Format("2006-01-02")
	s.months[d] = c
	return c
}

package figures

import (
	"crypto/sha256"
	"sort"

	"github.com/bndmr/hub/pkg/store"
)

// Figure names, as figure_counts holds them.
const (
	// ORPHA counts patients per ORPHA code (cell: the code): the patients
	// holding the code in the current version of at least one of their files.
	ORPHA = "orpha"
	// ORPHAPatients counts the patients holding at least one ORPHA code
	// (cell ""): the total of ORPHA, where a patient counts once.
	ORPHAPatients = "orpha_patients"
)

// key names a file or a patient by a 128-bit hash of its string: half the
// memory of the OIDs and 64-digit pseudonyms, and the chance that two of
// fifteen years' 12 million files share one is about 10⁻²⁵.
type key [16]byte

func keyOf(s string) key {
	sum := sha256.Sum256([]byte(s))
	var k key
	copy(k[:], sum[:16])
	return k
}

// file is the current version of a file and what it counts for.
type file struct {
	version uint32
	patient int32 // index in state.patients; -1: no patient (opposition)
	codes   []uint32
}

// held is how many current files of a patient hold a code.
type held struct {
	code  uint32
	files uint32
}

// state is the current version of every file and, per patient, the codes
// its current files hold. It is what the figures count, kept so that a new
// version's difference is known without reading the store.
type state struct {
	files    map[key]file
	patients map[key]int32
	holds    [][]held // by patient index
	codeIDs  map[string]uint32
	codes    []string
}

func newState() *state {
	return &state{files: map[key]file{}, patients: map[key]int32{}, codeIDs: map[string]uint32{}}
}

// cell is one cell of one figure.
type cell struct {
	figure string
	code   uint32 // index in state.codes; unused for ORPHAPatients
}

// apply makes v its file's current version unless a higher one is there,
// adding to d the cells its patient(s) leave and enter. The same version
// again takes the new row's content, as ClickHouse keeps the last row
// written of a key when it merges; written twice, it changes nothing.
func (s *state) apply(v store.FileVersion, d map[cell]int64) {
	fk := keyOf(v.SetID)
	old, had := s.files[fk]
	if had && old.version > v.Version {
		return
	}
	if had && old.patient >= 0 {
		s.release(old.patient, old.codes, d)
	}
	nf := file{version: v.Version, patient: -1}
	if v.PatientKey != "" {
		nf.patient = s.patient(v.PatientKey)
		nf.codes = s.intern(v.ORPHACodes)
		s.hold(nf.patient, nf.codes, d)
	}
	s.files[fk] = nf
}

func (s *state) patient(pk string) int32 {
	k := keyOf(pk)
	if i, ok := s.patients[k]; ok {
		return i
	}
	i := int32(len(s.holds))
	s.patients[k] = i
	s.holds = append(s.holds, nil)
	return i
}

// intern gives each distinct code of a version its index, once: the
// documents row already lists each code once.
func (s *state) intern(codes []string) []uint32 {
	if len(codes) == 0 {
		return nil
	}
	out := make([]uint32, 0, len(codes))
	for _, c := range codes {
		id, ok := s.codeIDs[c]
		if !ok {
			id = uint32(len(s.codes))
			s.codeIDs[c] = id
			s.codes = append(s.codes, c)
		}
		if !containsCode(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func containsCode(ids []uint32, id uint32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// hold counts codes for patient p: a code the patient held in no current
// file enters its cell.
func (s *state) hold(p int32, codes []uint32, d map[cell]int64) {
	hs := s.holds[p]
	before := len(hs)
	for _, c := range codes {
		i := findHeld(hs, c)
		if i < 0 {
			hs = append(hs, held{code: c, files: 1})
			d[cell{ORPHA, c}]++
			continue
		}
		hs[i].files++
	}
	if before == 0 && len(hs) > 0 {
		d[cell{figure: ORPHAPatients}]++
	}
	s.holds[p] = hs
}

// release is hold undone: a code no other current file of the patient
// holds leaves its cell.
func (s *state) release(p int32, codes []uint32, d map[cell]int64) {
	hs := s.holds[p]
	before := len(hs)
	for _, c := range codes {
		i := findHeld(hs, c)
		if i < 0 {
			continue // cannot happen: the file's codes were held
		}
		if hs[i].files--; hs[i].files == 0 {
			hs[i] = hs[len(hs)-1]
			hs = hs[:len(hs)-1]
			d[cell{ORPHA, c}]--
		}
	}
	if before > 0 && len(hs) == 0 {
		d[cell{figure: ORPHAPatients}]--
		hs = nil
	}
	s.holds[p] = hs
}

func findHeld(hs []held, c uint32) int {
	for i, h := range hs {
		if h.code == c {
			return i
		}
	}
	return -1
}

// deltas are d's non-zero cells, in a stable order.
func (s *state) deltas(d map[cell]int64) []store.FigureDelta {
	out := make([]store.FigureDelta, 0, len(d))
	for c, n := range d {
		if n == 0 {
			continue
		}
		fd := store.FigureDelta{Figure: c.figure, Delta: n}
		if c.figure == ORPHA {
			fd.Cell = s.codes[c.code]
		}
		out = append(out, fd)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Figure != out[j].Figure {
			return out[i].Figure < out[j].Figure
		}
		return out[i].Cell < out[j].Cell
	})
	return out
}

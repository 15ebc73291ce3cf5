package figures

import (
	"crypto/sha256"
	"sort"
	"strconv"
	"time"

	"github.com/bndmr/hub/pkg/store"
)

// Figure names, as figure_counts holds them: the epidemiology's tables,
// each a count of patients per cell (grp, cell) of the current state, and
// the distributions, a count of diagnoses per value.
const (
	ORPHA           = "orpha"            // patients per ORPHA code
	ORPHAPatients   = "orpha_patients"   // patients with an ORPHA code (one cell, "")
	DepSex          = "departement_sex"  // patients per département (grp) and sex, of their most recent file
	SexAge          = "sex_age"          // patients per sex (grp) and age class
	Establishment   = "establishment"    // patients per establishment (FINESS)
	Patients        = "patients"         // every patient (one cell)
	Site            = "site"             // patients per rare-disease site of a care episode
	SitePatients    = "site_patients"    // patients with such a site
	Filiere         = "filiere"          // patients per filière of those sites' labelled centres
	FilierePatients = "filiere_patients" // patients with a site that is a labelled centre
	Diagnosis       = "diagnosis"        // patients with a diagnosis, coded or not
	Deaths          = "deaths"           // deceased patients per year of death
	// The distributions: diagnoses per value (cell: the value's text).
	StatOnset    = "stat_onset_age"
	StatClinical = "stat_clinical_dx_age"
	StatGenetic  = "stat_genetic_dx_age"
	StatDelay    = "stat_diagnostic_delay"
)

// Labels the history's statements give (pkg/indicators/sql.go).
const (
	coded        = "diagnostic codé"
	notDiagnosed = "non diagnostiqué"
	unknownYear  = "inconnue"
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

// item is an interned cell (figure, grp, cell).
type item uint32

type cellName struct{ figure, grp, cell string }

// file is the current version of a file and what it counts for.
type file struct {
	version                  uint32
	patient                  int32  // index in state.patients; -1: no patient (opposition)
	items                    []item // the cells it puts its patient in (a set)
	stats                    []item // a cell per diagnosis value (the distributions)
	day                      int32  // effective date, days since 1970
	sex, dep, birth, death   uint32 // interned strings
	hasDiag, coded, deceased bool
}

// held is how many current files of a patient put it in a cell.
type held struct {
	it    item
	files uint32
}

// patient is what the current files of a patient give it.
type patient struct {
	holds   []held
	files   []int32 // indexes in state.files
	derived []item  // the cells of its most recent file, diagnosis and death
}

// state is the current version of every file and, per patient, the cells
// its current files put it in. It is what the figures count, kept so that a
// new version's difference is known without reading the store.
type state struct {
	fileIdx  map[key]int32
	files    []file
	patients map[key]int32
	pats     []patient
	items    interner[cellName]
	strs     interner[string]
	centres  map[string]string // labelled centre -> filière
	// MR.2: every file's versions seen, and the establishments' starts of
	// transmission (days since 1970).
	setIdx map[key]int32
	sets   []mr2Set
	starts map[string]int32
	months map[int32]string // monthCell's names
}

func newState(centres map[string]string, starts map[string]int32) *state {
	if centres == nil {
		centres = map[string]string{}
	}
	s := &state{fileIdx: map[key]int32{}, patients: map[key]int32{}, centres: centres,
		setIdx: map[key]int32{}, starts: starts, months: map[int32]string{}}
	s.str("") // 0 is the empty string
	return s
}

func (s *state) item(figure, grp, cell string) item {
	return item(s.items.of(cellName{figure, grp, cell}))
}

func (s *state) str(v string) uint32 { return s.strs.of(v) }

// interner gives each distinct value an index, once.
type interner[V comparable] struct {
	idx  map[V]uint32
	list []V
}

func (n *interner[V]) of(v V) uint32 {
	if i, ok := n.idx[v]; ok {
		return i
	}
	if n.idx == nil {
		n.idx = map[V]uint32{}
	}
	i := uint32(len(n.list))
	n.idx[v] = i
	n.list = append(n.list, v)
	return i
}

// apply makes v its file's current version unless a higher one is there,
// adding to d the cells its patient(s) leave and enter. The same version
// again takes the new rows' content, as ClickHouse keeps the last row
// written of a key when it merges; written twice, it changes nothing.
func (s *state) apply(v store.FileVersion, d map[item]int64) {
	fk := keyOf(v.SetID)
	fi, had := s.fileIdx[fk]
	if had && s.files[fi].version > v.Version {
		return
	}
	if !had {
		fi = int32(len(s.files))
		s.fileIdx[fk] = fi
		s.files = append(s.files, file{patient: -1})
	}
	old := s.files[fi]
	for _, it := range old.stats {
		d[it]--
	}
	if old.patient >= 0 {
		s.leave(old.patient, fi, old.items, d)
	}
	nf := s.fileOf(v)
	s.files[fi] = nf
	for _, it := range nf.stats {
		d[it]++
	}
	if nf.patient >= 0 {
		s.enter(nf.patient, fi, nf.items, d)
	}
	// The derived cells come from all the patient's files: counted again
	// once the file is in place, for the patient it left and the one it
	// joined.
	if old.patient >= 0 {
		s.derive(old.patient, d)
	}
	if nf.patient >= 0 && nf.patient != old.patient {
		s.derive(nf.patient, d)
	}
}

// fileOf is the state of a file at version v.
func (s *state) fileOf(v store.FileVersion) file {
	f := file{version: v.Version, patient: -1}
	if v.PatientKey == "" {
		return f
	}
	f.patient = s.patient(v.PatientKey)
	f.day = int32(v.Date.Unix() / 86400)
	f.sex, f.dep, f.birth = s.str(v.Sex), s.str(v.Dep), s.str(v.BirthYM)
	f.deceased = v.Deceased
	if v.Deceased {
		f.death = s.str(prefix(v.DeathYM, 4))
	}
	add := func(it item) {
		for _, x := range f.items {
			if x == it {
				return
			}
		}
		f.items = append(f.items, it)
	}
	add(s.item(Patients, "", ""))
	add(s.item(Establishment, "", v.FINESS))
	for _, c := range v.ORPHACodes {
		add(s.item(ORPHA, "", c))
		add(s.item(ORPHAPatients, "", ""))
	}
	for _, site := range v.Sites {
		add(s.item(Site, "", site))
		add(s.item(SitePatients, "", ""))
		if fil, ok := s.centres[site]; ok {
			add(s.item(Filiere, "", fil))
			add(s.item(FilierePatients, "", ""))
		}
	}
	for _, g := range v.Diagnoses {
		f.hasDiag = true
		if g.Code != "" && (g.System == "ORPHA" || g.System == "CIM-10") {
			f.coded = true
		}
		stat := func(name string, x *float64) {
			if x != nil {
				f.stats = append(f.stats, s.item(name, "", strconv.FormatFloat(*x, 'g', -1, 64)))
			}
		}
		stat(StatOnset, g.OnsetAge)
		stat(StatClinical, g.ClinicalAge)
		stat(StatGenetic, g.GenAge)
		if g.OnsetAge != nil && g.ClinicalAge != nil && *g.ClinicalAge >= *g.OnsetAge {
			delay := *g.ClinicalAge - *g.OnsetAge
			stat(StatDelay, &delay)
		}
	}
	return f
}

func prefix(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (s *state) patient(pk string) int32 {
	k := keyOf(pk)
	if i, ok := s.patients[k]; ok {
		return i
	}
	i := int32(len(s.pats))
	s.patients[k] = i
	s.pats = append(s.pats, patient{})
	return i
}

// enter puts patient p in the cells of its file fi: a cell no other
// current file of the patient gave it is entered.
func (s *state) enter(p, fi int32, items []item, d map[item]int64) {
	pt := &s.pats[p]
	pt.files = append(pt.files, fi)
	for _, it := range items {
		if i := findHeld(pt.holds, it); i >= 0 {
			pt.holds[i].files++
			continue
		}
		pt.holds = append(pt.holds, held{it: it, files: 1})
		d[it]++
	}
}

// leave is enter undone: a cell no other current file gives the patient is
// left.
func (s *state) leave(p, fi int32, items []item, d map[item]int64) {
	pt := &s.pats[p]
	for i, x := range pt.files {
		if x == fi {
			pt.files[i] = pt.files[len(pt.files)-1]
			pt.files = pt.files[:len(pt.files)-1]
			break
		}
	}
	for _, it := range items {
		i := findHeld(pt.holds, it)
		if i < 0 {
			continue // cannot happen: the file's cells were held
		}
		if pt.holds[i].files--; pt.holds[i].files == 0 {
			pt.holds[i] = pt.holds[len(pt.holds)-1]
			pt.holds = pt.holds[:len(pt.holds)-1]
			d[it]--
		}
	}
	if len(pt.files) == 0 {
		pt.files, pt.holds = nil, nil
	}
}

func findHeld(hs []held, it item) int {
	for i, h := range hs {
		if h.it == it {
			return i
		}
	}
	return -1
}

// derive counts patient p again in the cells read from its most recent
// file (département, sex, age) and from all its files (diagnosis, death),
// as the history's per-patient statements do: the most recent by effective
// date, ties broken by the values themselves, so that the choice does not
// depend on the order the files came in (the history's argMax takes any of
// them).
func (s *state) derive(p int32, d map[item]int64) {
	pt := &s.pats[p]
	var now []item
	if len(pt.files) > 0 {
		var latest, death *file
		last := int32(-1 << 31)
		hasDiag, isCoded := false, false
		for _, fi := range pt.files {
			f := &s.files[fi]
			last = max(last, f.day)
			if latest == nil || s.after(f, latest) {
				latest = f
			}
			hasDiag, isCoded = hasDiag || f.hasDiag, isCoded || f.coded
			if f.deceased && (death == nil || f.day > death.day || f.day == death.day && s.strs.list[f.death] > s.strs.list[death.death]) {
				death = f
			}
		}
		sex, dep := s.strs.list[latest.sex], s.strs.list[latest.dep]
		now = append(now, s.item(DepSex, dep, sex), s.item(SexAge, sex, ageClass(last, s.strs.list[latest.birth])))
		if hasDiag {
			state := notDiagnosed
			if isCoded {
				state = coded
			}
			now = append(now, s.item(Diagnosis, "", state))
		}
		if death != nil {
			y := s.strs.list[death.death]
			if y == "" {
				y = unknownYear
			}
			now = append(now, s.item(Deaths, "", y))
		}
	}
	for _, it := range pt.derived {
		d[it]--
	}
	for _, it := range now {
		d[it]++
	}
	pt.derived = now
}

// after: f is more recent than g, or as recent with greater values.
func (s *state) after(f, g *file) bool {
	if f.day != g.day {
		return f.day > g.day
	}
	for _, pair := range [][2]uint32{{f.sex, g.sex}, {f.dep, g.dep}, {f.birth, g.birth}} {
		if a, b := s.strs.list[pair[0]], s.strs.list[pair[1]]; a != b {
			return a > b
		}
	}
	return false
}

// ageClass is the history's class of the age at the most recent file: the
// year of that file less the year of birth, "inconnu" without a birth.
func ageClass(lastDay int32, birth string) string {
	if birth == "" {
		return "inconnu"
	}
	by, err := strconv.Atoi(prefix(birth, 4))
	if err != nil {
		by = 0 // toInt32OrZero
	}
	age := time.Unix(int64(lastDay)*86400, 0).UTC().Year() - by
	switch {
	case age < 0:
		return "inconnu"
	case age < 5:
		return "00-04 ans"
	case age < 10:
		return "05-09 ans"
	case age < 18:
		return "10-17 ans"
	case age < 40:
		return "18-39 ans"
	case age < 60:
		return "40-59 ans"
	}
	return "60 ans et plus"
}

// deltas are d's non-zero cells, in a stable order.
func (s *state) deltas(d map[item]int64) []store.FigureDelta {
	out := make([]store.FigureDelta, 0, len(d))
	for it, n := range d {
		if n == 0 {
			continue
		}
		c := s.items.list[it]
		out = append(out, store.FigureDelta{Figure: c.figure, Group: c.grp, Cell: c.cell, Delta: n})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Figure != b.Figure {
			return a.Figure < b.Figure
		}
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		return a.Cell < b.Cell
	})
	return out
}

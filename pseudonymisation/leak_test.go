package pseudonymisation

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/geo"
	"github.com/bndmr/hub/pkg/synth"
)

// identity is one random family: a mother and her two children, with every
// value a record must never carry.
type identity struct {
	motherFamily, motherUsed, motherGiven, motherGivens string
	childGiven, childGivens, twinGiven, guardianGiven   string
	motherINS, childINS                                 string
	motherIPP, childIPP, fetusIPP, twinIPP, relativeID  string
	street                                              string
	motherBirth, childBirth, death                      string
	residence, birthplace                               string
}

var letters = []rune("abcdefghijklmnopqrstuvwxyzàâäçéèêëîïôöùûüœæ")

func randName(r *rand.Rand) string {
	n := 6 + r.IntN(6)
	var b strings.Builder
	for i := 0; i < n; i++ {
		c := letters[r.IntN(len(letters))]
		if i == 0 || r.IntN(3) == 0 {
			c = []rune(strings.ToUpper(string(c)))[0]
		}
		b.WriteRune(c)
		if i == n/2 && r.IntN(4) == 0 {
			b.WriteString([]string{"-", "'", " "}[r.IntN(3)])
		}
	}
	return b.String()
}

func randDigits(r *rand.Rand, n int) string {
	var b strings.Builder
	b.WriteByte(byte('1' + r.IntN(2)))
	for b.Len() < n {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	return b.String()
}

func randID(r *rand.Rand) string {
	const hexdig = "0123456789abcdefghijklmnopqrstuvwxyz"
	var b strings.Builder
	for b.Len() < 18 {
		b.WriteByte(hexdig[r.IntN(len(hexdig))])
	}
	return b.String()
}

func randDate(r *rand.Rand, fromYear, span int) string {
	return fmt.Sprintf("%04d%02d%02d", fromYear+r.IntN(span), 1+r.IntN(12), 1+r.IntN(28))
}

// randCommune returns a valid COG code, Corsican and overseas included.
func randCommune(r *rand.Rand) string {
	for {
		var c string
		switch r.IntN(6) {
		case 0:
			c = fmt.Sprintf("2%c%03d", "AB"[r.IntN(2)], 1+r.IntN(360))
		case 1:
			c = fmt.Sprintf("97%d%02d", 1+r.IntN(6), 1+r.IntN(30))
		default:
			c = fmt.Sprintf("%02d%03d", 1+r.IntN(95), 1+r.IntN(700))
		}
		if _, err := geo.Departement(c); err == nil {
			return c
		}
	}
}

// randIdentity draws an identity; its dates and communes never occur in the
// templates, so that finding one in a record can only mean a leak.
func randIdentity(r *rand.Rand, templates []string) identity {
	fresh := func(draw func() string) string {
		for {
			v := draw()
			clash := false
			for _, t := range templates {
				if strings.Contains(t, v) {
					clash = true
				}
			}
			if !clash {
				return v
			}
		}
	}
	id := identity{
		motherFamily: strings.ToUpper(randName(r)), motherUsed: strings.ToUpper(randName(r)),
		motherGiven: randName(r), childGiven: randName(r), twinGiven: randName(r), guardianGiven: randName(r),
		motherINS: randDigits(r, 15), childINS: randDigits(r, 15),
		motherIPP: randID(r), childIPP: randID(r), fetusIPP: randID(r), twinIPP: randID(r), relativeID: randID(r),
		street:      fmt.Sprintf("%s des %s", []string{"Rue", "Allée", "Impasse", "Boulevard"}[r.IntN(4)], randName(r)),
		motherBirth: fresh(func() string { return randDate(r, 1950, 40) }),
		childBirth:  fresh(func() string { return randDate(r, 1990, 30) }),
		death:       fresh(func() string { return randDate(r, 2010, 15) }),
		residence:   fresh(func() string { return randCommune(r) }),
		birthplace:  fresh(func() string { return randCommune(r) }),
	}
	id.motherGivens = id.motherGiven + " " + randName(r)
	id.childGivens = id.childGiven + " " + randName(r)
	return id
}

// apply puts id into one of the 2024.01 examples.
func (id identity) apply(src string) string {
	rep := strings.NewReplacer(
		// Longest first: "Ruth Isabelle" before "Ruth".
		">Ruth Isabelle<", ">"+id.motherGivens+"<",
		">Léa Marie<", ">"+id.childGivens+"<",
		"NESSI", id.motherFamily,
		"DECOURCY", id.motherUsed,
		">Ruth<", ">"+id.motherGiven+"<",
		">Léa<", ">"+id.childGiven+"<",
		">Pierre<", ">"+id.twinGiven+"<",
		">Jeanne<", ">"+id.guardianGiven+"<",
		`"277076322082910"`, `"`+id.motherINS+`"`,
		`"224027511583555"`, `"`+id.childINS+`"`,
		`"1234567890121"`, `"`+id.motherIPP+`"`,
		`"9ec5518caaab70962222"`, `"`+id.childIPP+`"`,
		`"8ec5518caaab70961082"`, `"`+id.fetusIPP+`"`,
		`"8ec5518caaab70961083"`, `"`+id.twinIPP+`"`,
		`"1234567890112345678902"`, `"`+id.relativeID+`"`,
		"Avenue de Breteuil", id.street,
		`<birthTime value="19770714"/>`, `<birthTime value="`+id.motherBirth+`"/>`,
		`<birthTime value="20240228"/>`, `<birthTime value="`+id.childBirth+`"/>`,
		`<sdtc:deceasedTime value="20240228"/>`, `<sdtc:deceasedTime value="`+id.death+`"/>`,
		"<county>75056</county>", "<county>"+id.residence+"</county>",
		"<county>75115</county>", "<county>"+id.birthplace+"</county>",
	)
	return rep.Replace(src)
}

// secrets lists what must not appear in a record, each with how to look
// for it.
func (id identity) secrets() (substrings, tokens []string) {
	for _, n := range []string{id.motherFamily, id.motherUsed, id.motherGiven, id.motherGivens, id.childGiven,
		id.childGivens, id.twinGiven, id.guardianGiven, id.street} {
		substrings = append(substrings, n, strings.ToUpper(n), normaliseName(n))
	}
	substrings = append(substrings,
		// Fixed names and places of the examples: professionals,
		// organisations, streets, free text.
		"BOILEAU", "Charles", "MEDIONI", "Stéphane", "PETIT", "ROBERT DEBRE", "Belvédère", "SERURIER", "Sérurier",
		"Compans", "Londres", "Petit Pont", "Escalier", "texte libre", "Association des patients MR1", "VERLOES")
	tokens = []string{id.motherINS, id.motherINS[:13], id.childINS, id.childINS[:13], id.motherIPP, id.childIPP,
		id.fetusIPP, id.twinIPP, id.relativeID, id.motherBirth, id.childBirth, id.death, id.residence, id.birthplace,
		"75056", "75115", "75019", "75007", "75005"}
	return substrings, tokens
}

// Over thousands of documents with random identities, the bytes of
// sdmmr.record carry no name, INS, IPP, street, full date of birth or death,
// or commune code.
func TestNoIdentityLeaks(t *testing.T) {
	templates := []string{readExample(t, exNewborn), readExample(t, exPregnant), readExample(t, exPost)}
	// The replacements must all bite: each template value is checked once.
	for _, want := range []string{"NESSI", "DECOURCY", "Avenue de Breteuil", "<county>75056</county>", "<county>75115</county>"} {
		for i, tpl := range templates {
			if !strings.Contains(tpl, want) {
				t.Fatalf("template %d has no %q: the generator no longer matches the examples", i, want)
			}
		}
	}
	p := testPseudonymiser(t, Options{Rotation: true}, mustKey(t, "old", 1, false), mustKey(t, "new", 2, true))
	r := rand.New(rand.NewPCG(2026, 11))
	const families = 700 // × 3 documents: 2,100
	docs, opposed := 0, 0
	for i := 0; i < families; i++ {
		id := randIdentity(r, templates)
		subs, toks := id.secrets()
		var motherPseudonyms []string
		for j, tpl := range templates {
			src := id.apply(tpl)
			oppose := r.IntN(10) == 0
			if !oppose {
				src = strings.Replace(src, `code="GEN-315"`, `code="GEN-317"`, 1)
			}
			rec, err := p.Record(extract(t, src, j))
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			docs++
			if oppose {
				opposed++
				if !rec.Opposition || rec.PatientINSPseudonym != "" || rec.Diagnoses != nil {
					t.Fatalf("opposed document produced clinical content: %s", s)
				}
			} else if rec.PatientINSPseudonym == "" || rec.PatientTraitsPseudonym == "" || len(rec.Diagnoses) == 0 ||
				rec.ResidenceDepartement == "" || rec.BirthYearMonth == "" {
				t.Fatalf("record lost content (the leak check would be vacuous): %s", s)
			}
			for _, x := range subs {
				if x != "" && strings.Contains(s, x) {
					t.Fatalf("family %d, template %d: %q leaks into the record:\n%s", i, j, x, s)
				}
			}
			for _, x := range toks {
				if synth.ContainsToken(s, x) {
					t.Fatalf("family %d, template %d: %q leaks into the record:\n%s", i, j, x, s)
				}
			}
			if j > 0 && !oppose {
				motherPseudonyms = append(motherPseudonyms, rec.PatientINSPseudonym+rec.PatientTraitsPseudonym)
			}
		}
		if len(motherPseudonyms) == 2 && motherPseudonyms[0] != motherPseudonyms[1] {
			t.Fatalf("family %d: the mother's two documents do not link", i)
		}
	}
	if opposed == 0 || opposed == docs {
		t.Fatalf("%d of %d documents opposed: both cases must be covered", opposed, docs)
	}
	t.Logf("%d documents, %d opposed, no leak", docs, opposed)
}

// Package synth generates synthetic MSSanté mails carrying SDM-MR 2024.01
// documents, derived from the official ANS examples with varied identities,
// establishments, labelled centres, ORPHA diagnoses (skewed as in real
// data), sets and versions; on request, some documents that the CI-SIS
// validation refuses and some hostile mails. Deterministic for a seed. The
// hub's demo, end-to-end tests and benchmarks use it; Go ignores folders
// named testdata, which is why the generator lives here and not under
// testdata/.
package synth

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lestrrat-go/libxml2/xpath"

	"github.com/bndmr/hub/pkg/cda"
	"github.com/bndmr/hub/pkg/mailbuild"
	"github.com/bndmr/hub/pkg/xmldoc"
)

// Examples are the official 2024.01 documents the generator starts from,
// relative to the kit folder.
var Examples = []string{
	"examples/sdm-mr/SDM-MR_2024.01_nouveau-ne.xml",
	"examples/sdm-mr/SDM-MR_2024.01_patiente-enceinte.xml",
	"examples/sdm-mr/SDM-MR_2024.01_patiente-post-grossesse.xml",
}

// Establishment is a synthetic health establishment (FINESS juridique).
type Establishment struct {
	FINESS string
	Name   string
	Domain string // its MSSanté domain
}

// Establishments are the senders the generator draws from.
var Establishments = []Establishment{
	{"750000010", "AP-HP Hôpital Necker (synthétique)", "necker.aphp.mssante.fr"},
	{"690000011", "HCL Hôpital Femme Mère Enfant (synthétique)", "hfme.chu-lyon.mssante.fr"},
	{"130000012", "AP-HM Hôpital de la Timone (synthétique)", "timone.ap-hm.mssante.fr"},
	{"310000013", "CHU de Toulouse (synthétique)", "chu-toulouse.mssante.fr"},
	{"330000014", "CHU de Bordeaux (synthétique)", "chu-bordeaux.mssante.fr"},
	{"590000015", "CHU de Lille (synthétique)", "chu-lille.mssante.fr"},
	{"670000016", "Hôpitaux universitaires de Strasbourg (synthétique)", "chru-strasbourg.mssante.fr"},
	{"440000017", "CHU de Nantes (synthétique)", "chu-nantes.mssante.fr"},
	{"970000018", "CHU de La Réunion (synthétique)", "chu-reunion.mssante.fr"},
	{"2A0000019", "CH d'Ajaccio (synthétique)", "ch-ajaccio.mssante.fr"},
}

var families = []string{"MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "PETIT", "DURAND", "LEFÈVRE", "MOREAU",
	"GARCIA", "FRANÇOIS", "N'DIAYE", "LE GALL", "D'ALMEIDA", "CHÂTEAU", "MÜLLER", "NGUYEN", "BOUCHÉ", "ÉLIE", "HOARAU"}
var givens = []string{"Léa", "Chloé", "Inès", "Zoé", "Anaïs", "Élodie", "Manon", "Camille", "Noémie", "Héloïse",
	"Maëlys", "Océane", "Agnès", "Bérénice", "Gaëlle", "Anne-Sophie", "Marie-Noëlle", "Ophélie", "Aïcha", "Salomé"}
var streets = []string{"rue de la Paix", "avenue Jean Jaurès", "boulevard Victor Hugo", "impasse des Lilas", "chemin du Moulin",
	"place de l'Église", "rue Émile Zola", "allée des Châtaigniers", "quai de Saône", "route de Bastia"}

// Commune is an INSEE commune with its postcode.
type Commune struct{ Code, Postcode, City string }

var communes = []Commune{{"75056", "75015", "PARIS"}, {"69123", "69003", "LYON"}, {"13055", "13005", "MARSEILLE"},
	{"31555", "31000", "TOULOUSE"}, {"33063", "33000", "BORDEAUX"}, {"59350", "59000", "LILLE"},
	{"67482", "67000", "STRASBOURG"}, {"44109", "44000", "NANTES"}, {"97411", "97400", "SAINT-DENIS"},
	{"2A004", "20000", "AJACCIO"}, {"2B033", "20200", "BASTIA"}, {"97209", "97200", "FORT-DE-FRANCE"}}

// Identity is the synthetic patient of a set.
type Identity struct {
	INS, IPP, Family, Given, BirthTime, HouseNumber, Street string
	Residence, Birthplace                                   Commune
}

// Document describes one generated CDA document, for tests to check against.
type Document struct {
	File          string `json:"file"` // the mail file
	MessageID     string `json:"message_id"`
	From          string `json:"from"`
	FINESS        string `json:"finess"`
	SetID         string `json:"set_id"`
	DocumentID    string `json:"document_id"`
	VersionNumber int    `json:"version_number"`
	EffectiveTime string `json:"effective_time"`
	Example       string `json:"example"`
	Opposition    bool   `json:"opposition"`
	ORPHA         string `json:"orpha,omitempty"`  // the diagnosis
	Centre        string `json:"centre,omitempty"` // the site code of the labelled centre
	// Invalid names the CI-SIS check the document was made to fail (one of
	// InvalidKinds); empty for a valid document.
	Invalid string `json:"invalid,omitempty"`
	// Hostile is the rejection code of a hostile mail (one of
	// HostileKinds): the hub refuses the whole mail, which carries no
	// document of a set (SetID and the identity are empty).
	Hostile string `json:"hostile,omitempty"`
	Identity
}

// Accepted says whether the hub must load the document.
func (d Document) Accepted() bool { return d.Invalid == "" && d.Hostile == "" }

// Ways a generated document fails the CI-SIS validation (InvalidRate).
const (
	// InvalidXSD: a quantity written in words (PQ value "un"), which the
	// CDA XSD refuses.
	InvalidXSD = "xsd"
	// InvalidSchematron: the current status of the diagnosis (MED-072)
	// outside JDV_StatutActuelDiagnostic_CISIS, which the SDM-MR schematron
	// refuses.
	InvalidSchematron = "schematron"
)

// InvalidKinds are the ways, used in turn.
var InvalidKinds = []string{InvalidSchematron, InvalidXSD}

// Options drive a run of the generator.
type Options struct {
	Seed  uint64
	Count int // mails, one document each
	// Kit is the CI-SIS kit folder holding examples/sdm-mr.
	Kit string
	// To is the hub's mailbox.
	To string
	// Months: effective times fall in the Months months ending with End.
	End    time.Time
	Months int
	// InvalidRate is the share of documents (0 to 1) broken so that the
	// CI-SIS validation refuses them, spread evenly; 0: all valid.
	InvalidRate float64
	// HostileRate is the share of mails (0 to 1) that are hostile (zip
	// bomb, path traversal, not MIME: HostileKinds in turn), spread evenly.
	HostileRate float64
	// NotifyTo, when set, is where every mail asks its acknowledgement to
	// go (Disposition-Notification-To and Return-Path): the hospital
	// mailbox of a demo. Default: the sender itself.
	NotifyTo string
	// MessageIDTag, when set, starts every Message-ID, so that one run's
	// mails (and their acknowledgements) can be told from another's.
	MessageIDTag string
}

// Generator makes mails.
type Generator struct {
	opts     Options
	rng      *rand.Rand
	examples [][]byte
	sets     []*set
	n        int
	// Accumulated rates: a mail is hostile (a document invalid) when its
	// accumulator passes 1.
	hostileAcc, invalidAcc float64
	hostileN, invalidN     int
	// diseaseCum: cumulative Zipf weights over Diseases.
	diseaseCum []float64
}

type set struct {
	id      string
	example int
	est     Establishment
	who     Identity
	version int
	last    time.Time
	// opposition: the patient opposes reuse in the BNDMR warehouse (GEN-315,
	// as in the official examples); the others carry GEN-317.
	opposition bool
	disease    Disease
	centre     Centre
}

// New reads the examples and returns a generator.
func New(opts Options) (*Generator, error) {
	if opts.To == "" {
		opts.To = "hub@bndmr.test"
	}
	if opts.Months <= 0 {
		opts.Months = 10
	}
	if opts.End.IsZero() {
		opts.End = time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)
	}
	if opts.InvalidRate < 0 || opts.InvalidRate > 1 || opts.HostileRate < 0 || opts.HostileRate > 1 {
		return nil, fmt.Errorf("invalid rate %g and hostile rate %g must lie between 0 and 1", opts.InvalidRate, opts.HostileRate)
	}
	g := &Generator{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5dee7))}
	// Zipf-like: the weight of the disease of rank k is 1/k.
	total := 0.0
	for k := range Diseases {
		total += 1 / float64(k+1)
		g.diseaseCum = append(g.diseaseCum, total)
	}
	for _, e := range Examples {
		b, err := os.ReadFile(filepath.Join(opts.Kit, e))
		if err != nil {
			return nil, fmt.Errorf("reading the official example %s from the kit: %w", e, err)
		}
		g.examples = append(g.examples, b)
	}
	return g, nil
}

func (g *Generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// disease draws an ORPHA code with its Zipf-like weight.
func (g *Generator) disease() Disease {
	x := g.rng.Float64() * g.diseaseCum[len(g.diseaseCum)-1]
	for k, c := range g.diseaseCum {
		if x < c {
			return Diseases[k]
		}
	}
	return Diseases[len(Diseases)-1]
}

// due advances a rate's accumulator and says whether this one is due.
func due(acc *float64, rate float64) bool {
	*acc += rate
	if *acc >= 1 {
		*acc--
		return true
	}
	return false
}

func (g *Generator) identity() Identity {
	birth := time.Date(1975+g.rng.IntN(30), time.Month(1+g.rng.IntN(12)), 1+g.rng.IntN(28), 0, 0, 0, 0, time.UTC)
	res := communes[g.rng.IntN(len(communes))]
	bp := communes[g.rng.IntN(len(communes))]
	return Identity{
		INS:         nir(g.rng, birth, bp.Code),
		IPP:         fmt.Sprintf("%020x", g.rng.Uint64()),
		Family:      g.pick(families),
		Given:       g.pick(givens),
		BirthTime:   birth.Format("20060102"),
		HouseNumber: fmt.Sprint(1 + g.rng.IntN(120)),
		Street:      g.pick(streets),
		Residence:   res,
		Birthplace:  bp,
	}
}

// nir builds a 15-digit INS-NIR of a woman born at birth in commune: 13
// digits (Corsica's 2A/2B written 19/18, as the key computation does) and
// the 97-complement key.
func nir(rng *rand.Rand, birth time.Time, commune string) string {
	num := strings.NewReplacer("2A", "19", "2B", "18").Replace(commune)
	body := fmt.Sprintf("2%02d%02d%s%03d", birth.Year()%100, int(birth.Month()), num, 1+rng.IntN(999))
	var n uint64
	for _, c := range body {
		n = (n*10 + uint64(c-'0')) % 97
	}
	return body + fmt.Sprintf("%02d", 97-n)
}

// Next returns the next mail and the document it carries.
func (g *Generator) Next() ([]byte, Document, error) {
	g.n++
	if due(&g.hostileAcc, g.opts.HostileRate) {
		return g.hostile()
	}
	s := g.nextSet()
	eff := s.last
	doc := Document{
		File:          fmt.Sprintf("mail-%06d.eml", g.n),
		FINESS:        s.est.FINESS,
		SetID:         s.id,
		DocumentID:    fmt.Sprintf("%s.%d", strings.Replace(s.id, ".8.", ".9.", 1), s.version),
		VersionNumber: s.version,
		EffectiveTime: eff.Format("20060102150405") + "+0100",
		Example:       Examples[s.example],
		Opposition:    s.opposition,
		ORPHA:         s.disease.Code,
		Centre:        s.centre.ID,
		Identity:      s.who,
	}
	if due(&g.invalidAcc, g.opts.InvalidRate) {
		doc.Invalid = InvalidKinds[g.invalidN%len(InvalidKinds)]
		g.invalidN++
	}
	cdaBytes, err := g.document(s, doc)
	if err != nil {
		return nil, doc, err
	}
	doc.Identity = s.who // the newborn keeps the example's birth date
	xdm, err := mailbuild.BuildXDM(mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cdaBytes}}})
	if err != nil {
		return nil, doc, fmt.Errorf("building the XDM archive: %w", err)
	}
	doc.From = "dpi@" + s.est.Domain
	doc.MessageID = g.messageID(s.id, s.est)
	notify := cmp.Or(g.opts.NotifyTo, doc.From)
	mail, err := mailbuild.BuildMail(mailbuild.MailSpec{From: doc.From, To: g.opts.To, MessageID: doc.MessageID,
		Date: eff.Add(time.Duration(1+g.rng.IntN(72)) * time.Hour), DispositionNotificationTo: notify, ReturnPath: notify,
		XDM: xdm})
	if err != nil {
		return nil, doc, fmt.Errorf("building the mail: %w", err)
	}
	return mail, doc, nil
}

// messageID is the n-th mail's Message-ID, about the set named.
func (g *Generator) messageID(about string, est Establishment) string {
	tag := ""
	if g.opts.MessageIDTag != "" {
		tag = g.opts.MessageIDTag + "."
	}
	return fmt.Sprintf("<%s%d.%d.%s@%s>", tag, g.opts.Seed, g.n, about, est.Domain)
}

// hostile makes the next hostile mail, from an establishment drawn at
// random, carrying the unmodified first official example.
func (g *Generator) hostile() ([]byte, Document, error) {
	kind := HostileKinds[g.hostileN%len(HostileKinds)]
	g.hostileN++
	est := Establishments[g.rng.IntN(len(Establishments))]
	d := Document{File: fmt.Sprintf("mail-%06d.eml", g.n), From: "dpi@" + est.Domain, FINESS: est.FINESS, Hostile: kind}
	d.MessageID = g.messageID(strings.ReplaceAll(kind, "_", "-"), est)
	notify := cmp.Or(g.opts.NotifyTo, d.From)
	mail, err := HostileMail(kind, mailbuild.MailSpec{From: d.From, To: g.opts.To, MessageID: d.MessageID,
		Date: g.opts.End, DispositionNotificationTo: notify, ReturnPath: notify}, g.examples[0])
	return mail, d, err
}

// nextSet continues an existing set (a new version, sometimes skipping
// versions that were updated in the DPI but not sent) or opens a new one.
func (g *Generator) nextSet() *set {
	if len(g.sets) > 0 && g.rng.IntN(100) < 40 {
		s := g.sets[g.rng.IntN(len(g.sets))]
		step := 1
		if g.rng.IntN(100) < 15 {
			step = 2 // a version made in the DPI and never sent
		}
		s.version += step
		s.last = s.last.Add(time.Duration(1+g.rng.IntN(20*24)) * time.Hour)
		return s
	}
	start := g.opts.End.AddDate(0, -g.opts.Months, 1)
	span := g.opts.End.Sub(start)
	s := &set{
		id:      fmt.Sprintf("1.2.250.1.213.1.1.1.30.8.%d.%d", g.opts.Seed, len(g.sets)+1),
		example: g.rng.IntN(len(g.examples)),
		est:     Establishments[g.rng.IntN(len(Establishments))],
		who:     g.identity(),
		version: 1,
		last:    start.Add(time.Duration(g.rng.Int64N(int64(span) * 2 / 3))).Truncate(time.Minute),
		disease: g.disease(),
	}
	cs := sending(s.est.FINESS)
	s.centre = cs[g.rng.IntN(len(cs))]
	if g.rng.IntN(100) < 10 {
		s.version = 2 + g.rng.IntN(2) // a file created before transmission started
	}
	s.opposition = g.rng.IntN(100) < 5
	g.sets = append(g.sets, s)
	return s
}

// document rewrites the example with the set's identity and version.
func (g *Generator) document(s *set, d Document) ([]byte, error) {
	doc, err := xmldoc.Parse(g.examples[s.example], xmldoc.DefaultLimits)
	if err != nil {
		return nil, fmt.Errorf("parsing example %s: %w", Examples[s.example], err)
	}
	defer doc.Free()
	ctx, err := cda.NewContext(doc)
	if err != nil {
		return nil, err
	}
	defer ctx.Free()
	w := s.who
	const pr = "/cda:ClinicalDocument/cda:recordTarget/cda:patientRole"
	const pt = pr + "/cda:patient"
	edits := []edit{
		{"/cda:ClinicalDocument/cda:id/@root", d.DocumentID, false},
		{"/cda:ClinicalDocument/cda:setId/@root", d.SetID, false},
		{"/cda:ClinicalDocument/cda:versionNumber/@value", fmt.Sprint(d.VersionNumber), false},
		{"/cda:ClinicalDocument/cda:effectiveTime/@value", d.EffectiveTime, false},
		{"/cda:ClinicalDocument/cda:custodian/cda:assignedCustodian/cda:representedCustodianOrganization/cda:id/@extension", "1" + s.est.FINESS, false},
		{"/cda:ClinicalDocument/cda:custodian/cda:assignedCustodian/cda:representedCustodianOrganization/cda:name", s.est.Name, false},
		{pr + "/cda:id[@root='1.2.250.1.213.1.4.10' or @root='1.2.250.1.213.1.4.8']/@extension", w.INS, false},
		{pr + "/cda:id[@root='1.2.3.4.567.8.9.10']/@extension", w.IPP, false},
		{pr + "/cda:addr/cda:houseNumber", w.HouseNumber, false},
		{pr + "/cda:addr/cda:streetName", w.Street, false},
		{pr + "/cda:addr/cda:postalCode", w.Residence.Postcode, false},
		{pr + "/cda:addr/cda:county", w.Residence.Code, false},
		{pr + "/cda:addr/cda:city", w.Residence.City, false},
		{pr + "/cda:telecom[starts-with(@value,'mailto:')]/@value", "mailto:" + w.INS + "@patient.mssante.fr", true},
		{pt + "/cda:name/cda:family", w.Family, false},
		{pt + "/cda:name/cda:given[@qualifier='BR']", w.Given, false},
		{pt + "/cda:name/cda:given[not(@qualifier)]", w.Given, false},
		{pt + "/cda:birthplace/cda:place/cda:addr/cda:county", w.Birthplace.Code, false},
		{pt + "/cda:birthplace/cda:place/cda:addr/cda:city", w.Birthplace.City, true},
		{pt + "/cda:birthplace/cda:place/cda:addr/cda:postalCode", w.Birthplace.Postcode, true},
	}
	if !strings.Contains(Examples[s.example], "nouveau-ne") {
		// The newborn's ages and dates hang on its birth date: keep it.
		edits = append(edits, edit{path: pt + "/cda:birthTime/@value", value: w.BirthTime})
	} else {
		for _, n := range xpath.NodeList(ctx.Find(pt + "/cda:birthTime/@value")) {
			s.who.BirthTime = n.NodeValue()
		}
	}
	// The patient's rare disease, in the diagnosis, the family's first case
	// and the cause of death alike, and in the narrative.
	edits = append(edits,
		edit{`//cda:value[@codeSystem='1.2.250.1.213.2.49.1']/@code`, s.disease.Code, false},
		edit{`//cda:value[@codeSystem='1.2.250.1.213.2.49.1']/@displayName`, s.disease.Label, false},
		edit{`//cda:content[@ID='maladie']`, s.disease.Label + " (code ORPHA : " + s.disease.Code + ")", false},
		edit{`//cda:content[@ID='cause-deces']`, "oui (" + s.disease.Label + ")", true})
	// The labelled centre: the care episode's site, the activity's
	// declaring site and the diagnosing site.
	const site = `//cda:participantRole[cda:id/@root='1.2.250.1.213.2.61']`
	edits = append(edits,
		edit{site + `/cda:id[@root='1.2.250.1.213.2.61']/@extension`, s.centre.ID, false},
		edit{site + `/cda:playingEntity/cda:code[@codeSystem='1.2.250.1.213.2.61']/@code`, s.centre.ID, false},
		edit{site + `/cda:playingEntity/cda:code[@codeSystem='1.2.250.1.213.2.61']/@displayName`, s.centre.Name, false},
		edit{site + `/cda:playingEntity/cda:name`, s.est.Name + " - " + s.centre.Name, false})
	switch d.Invalid {
	case InvalidXSD:
		edits = append(edits, edit{`(//cda:value[@unit])[1]/@value`, "un", false})
	case InvalidSchematron:
		edits = append(edits, edit{`//cda:observation[cda:code/@code='MED-072']/cda:value/@code`, "999999999", false})
	}
	if !s.opposition {
		const consent = "/cda:ClinicalDocument/cda:authorization/cda:consent/cda:code[@code='GEN-315']"
		edits = append(edits,
			edit{path: consent + "/@displayName", value: "Le patient (ou son représentant légal) ne s'oppose pas à la réutilisation de ses données dans l'entrepôt de données de santé BNDMR."},
			edit{path: consent + "/@code", value: "GEN-317"})
	}
	for _, e := range edits {
		if err := set1(ctx, e.path, e.value, e.optional); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	buf.WriteString(doc.Dump(false))
	return buf.Bytes(), nil
}

// edit replaces the value of every node at path; an optional path may be
// absent from an example.
type edit struct {
	path, value string
	optional    bool
}

func set1(ctx *xpath.Context, path, value string, optional bool) error {
	nodes := xpath.NodeList(ctx.Find(path))
	if len(nodes) == 0 && !optional {
		return fmt.Errorf("the example has no %s to vary", path)
	}
	for _, n := range nodes {
		n.SetNodeValue(value)
	}
	return nil
}

// WriteDir writes count mails into dir and returns the documents they carry.
func WriteDir(ctx context.Context, opts Options, dir string) ([]Document, error) {
	g, err := New(opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	var docs []Document
	for i := 0; i < opts.Count; i++ {
		if err := ctx.Err(); err != nil {
			return docs, err
		}
		mail, d, err := g.Next()
		if err != nil {
			return docs, err
		}
		if err := os.WriteFile(filepath.Join(dir, d.File), mail, 0o644); err != nil {
			return docs, fmt.Errorf("writing %s: %w", d.File, err)
		}
		docs = append(docs, d)
	}
	return docs, nil
}

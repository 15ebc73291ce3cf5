package pseudonymisation

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"slices"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/geo"
	"github.com/bndmr/hub/pkg/sdmmr"
)

// Options tune a Pseudonymiser.
type Options struct {
	// Rotation computes, beside the primary key's pseudonyms, those of every
	// other key of the keyring (records then carry previous_keys), so that
	// the store can relink while a key rotation runs.
	Rotation bool
}

// Pseudonymiser makes sdmmr.record events. It is safe for concurrent use.
type Pseudonymiser struct {
	keys *Keyring
	opts Options
}

// New returns a Pseudonymiser over keys.
func New(keys *Keyring, opts Options) *Pseudonymiser {
	return &Pseudonymiser{keys: keys, opts: opts}
}

// String never shows the keys.
func (p Pseudonymiser) String() string { return "pseudonymiser{" + p.keys.String() + "}" }

// GoString never shows the keys.
func (p Pseudonymiser) GoString() string { return p.String() }

// ErrNoEstablishment means the document names no custodian organisation, so
// establishment-scoped keys (IPP, document id) cannot be made.
var ErrNoEstablishment = errors.New("the document has no custodian organisation id (FINESS): establishment-scoped pseudonyms cannot be made")

// hasher computes keyed hashes under one key. Not safe for concurrent use.
type hasher struct {
	mac hash.Hash
	buf []byte
}

func newHasher(k *Key) *hasher { return &hasher{mac: hmac.New(sha256.New, *k.secret)} }

// sum returns hex(HMAC(key, domain ‖ parts)), each piece length-prefixed so
// that no two different inputs share an encoding.
func (h *hasher) sum(domain string, parts ...string) string {
	h.mac.Reset()
	h.buf = h.buf[:0]
	h.buf = binary.BigEndian.AppendUint32(h.buf, uint32(len(domain)))
	h.buf = append(h.buf, domain...)
	for _, p := range parts {
		h.buf = binary.BigEndian.AppendUint32(h.buf, uint32(len(p)))
		h.buf = append(h.buf, p...)
	}
	h.mac.Write(h.buf)
	var out [sha256.Size]byte
	return hex.EncodeToString(h.mac.Sum(out[:0]))
}

// keyed computes every pseudonym of one document under one key.
type keyed struct {
	h      *hasher
	finess string
}

// ins returns the INS pseudonym ("" without an INS-NIR).
func (k keyed) ins(root, ins string) string {
	n := normaliseINS(ins)
	if n == "" {
		return ""
	}
	switch root {
	case sdmmr.OIDINSNIR:
		return k.h.sum("ins", n)
	case sdmmr.OIDINSNIRTest:
		return k.h.sum("ins-test", n)
	}
	return ""
}

// traits returns the identity-traits pseudonym, "" unless all four traits
// are known: a partial identity would link unrelated people.
func (k keyed) traits(p *sdmmr.Patient) string {
	fam := normaliseName(p.BirthFamily)
	giv := normaliseName(firstGiven(p.BirthGiven, p.Given))
	bd := birthDate(p.BirthTime)
	sex := normaliseSex(p.Sex)
	if fam == "" || giv == "" || bd == "" || sex == "" {
		return ""
	}
	return k.h.sum("traits", fam, giv, bd, sex)
}

// local returns the keyed hash of a local identifier (IPP, fetus id, entry
// id, document id) scoped to the establishment.
func (k keyed) local(kind string, id sdmmr.ID) string {
	if id.IsZero() {
		return ""
	}
	return k.h.sum(kind, k.finess, id.Root, id.Extension)
}

func (k keyed) set(keyID string, h *sdmmr.Header) sdmmr.PseudonymSet {
	s := sdmmr.PseudonymSet{
		KeyID:                  keyID,
		DocumentKey:            k.h.sum("document", k.finess, h.DocumentID),
		PatientINSPseudonym:    k.ins(h.Patient.INSRoot, h.Patient.INS),
		PatientTraitsPseudonym: k.traits(&h.Patient),
	}
	for _, id := range h.Patient.IPP {
		s.IPPKeys = append(s.IPPKeys, k.local("ipp", id))
	}
	return s
}

// Record pseudonymises one extraction. Errors never quote identified data.
func (p *Pseudonymiser) Record(ext events.Extracted) (events.Record, error) {
	h := &ext.Header
	var body *sdmmr.Body
	if ext.Document != nil {
		h = &ext.Document.Header
		body = &ext.Document.Body
	}
	finess := h.FINESS
	if finess == "" {
		finess = h.CustodianID
	}
	if finess == "" {
		return events.Record{}, ErrNoEstablishment
	}
	k := keyed{h: newHasher(p.keys.primary), finess: finess}
	r := events.Record{
		V:             events.RecordV,
		MailID:        ext.MailID,
		DocIndex:      ext.DocIndex,
		ReceivedAt:    ext.ReceivedAt,
		KeyID:         p.keys.primary.ID,
		DocumentKey:   k.h.sum("document", finess, h.DocumentID),
		SetID:         h.SetID,
		VersionNumber: h.VersionNumber,
		EffectiveTime: h.EffectiveTime,
		ModelVersion:  h.ModelVersion,
		FINESS:        h.FINESS,
	}
	for _, c := range h.Consents {
		if c.Kind == sdmmr.ConsentOpposition {
			// Counted and acknowledged, nothing more.
			r.Opposition = true
			return r, nil
		}
	}
	for _, c := range h.Consents {
		if c.Code.Code != "" && !slices.Contains(r.Consents, c.Code.Code) {
			r.Consents = append(r.Consents, c.Code.Code)
		}
	}
	set := k.set(r.KeyID, h)
	r.PatientINSPseudonym = set.PatientINSPseudonym
	r.PatientTraitsPseudonym = set.PatientTraitsPseudonym
	r.IPPKeys = set.IPPKeys
	if p.opts.Rotation {
		for _, o := range p.keys.others {
			r.PreviousKeys = append(r.PreviousKeys, keyed{h: newHasher(o), finess: finess}.set(o.ID, h))
		}
	}
	pt := &h.Patient
	r.Sex = normaliseSex(pt.Sex)
	r.BirthYearMonth = yearMonth(pt.BirthTime)
	r.ResidenceDepartement = departement(pt.ResidenceCode)
	r.BirthplaceDepartement = departement(pt.BirthPlace)
	r.Deceased = pt.Deceased
	r.DeathYearMonth = yearMonth(pt.DeceasedTime)
	r.MultipleBirth = pt.MultipleBirth
	if body != nil {
		clinical(&r, body, k)
	}
	return r, nil
}

// departement generalises a commune code; an unreadable code is dropped
// rather than passed on.
func departement(code string) string {
	d, err := geo.Departement(code)
	if err != nil {
		return ""
	}
	return d
}

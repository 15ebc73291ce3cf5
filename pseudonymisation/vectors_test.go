package pseudonymisation

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/sdmmr"
)

// vectors is testdata/vectors-v1.json: fixed key, fixed inputs, fixed
// pseudonyms, computed outside this package.
type vectors struct {
	Scheme    string `json:"scheme"`
	KeyID     string `json:"key_id"`
	KeyBase64 string `json:"key_base64"`
	FINESS    string `json:"finess"`
	Cases     []struct {
		Name  string            `json:"name"`
		Input map[string]string `json:"input"`
		Field string            `json:"field"`
		Want  string            `json:"want"`
	} `json:"cases"`
}

// TestKnownAnswerVectors pins every pseudonym domain (INS, INS test,
// identity traits, IPP, document, file) to the values of scheme v1. A
// derivation that changes by one byte would split every patient of the
// national bank in two: it must be a new scheme with a key rotation, never
// an accident.
func TestKnownAnswerVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/vectors-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	secret, err := base64.StdEncoding.DecodeString(v.KeyBase64)
	if err != nil {
		t.Fatal(err)
	}
	key, err := NewKey(v.KeyID, secret, true)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	p := New(kr, Options{})
	if v.Scheme != "v1" || len(v.Cases) < 8 {
		t.Fatalf("vectors file: scheme %q with %d cases", v.Scheme, len(v.Cases))
	}
	domains := map[string]bool{}
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			in := c.Input
			doc := &sdmmr.Document{Header: sdmmr.Header{FINESS: v.FINESS, DocumentID: in["document_id"],
				Patient: sdmmr.Patient{INS: in["ins"], INSRoot: in["ins_root"], BirthFamily: in["birth_family"],
					BirthGiven: in["birth_given"], Given: in["given"], BirthTime: in["birth_time"], Sex: in["sex"]}}}
			if in["ipp"] != "" {
				doc.Header.Patient.IPP = []sdmmr.ID{{Root: in["ipp_root"], Extension: in["ipp"]}}
			}
			if in["file"] != "" {
				doc.Body.File = &sdmmr.MRFile{ID: sdmmr.ID{Root: in["file_root"], Extension: in["file"]}}
			}
			r, err := p.Record(events.Extracted{V: events.ExtractedV, Header: doc.Header, Document: doc})
			if err != nil {
				t.Fatal(err)
			}
			var got string
			switch c.Field {
			case "patient_ins_pseudonym":
				got = r.PatientINSPseudonym
			case "patient_traits_pseudonym":
				got = r.PatientTraitsPseudonym
			case "ipp_keys":
				if len(r.IPPKeys) == 1 {
					got = r.IPPKeys[0]
				}
			case "document_key":
				got = r.DocumentKey
			case "file_key":
				if r.File != nil {
					got = r.File.Key
				}
			default:
				t.Fatalf("unknown field %q in the vectors file", c.Field)
			}
			domains[c.Field] = true
			if got != c.Want {
				t.Errorf("%s = %q, want %q (scheme v1)", c.Field, got, c.Want)
			}
		})
	}
	if len(domains) != 5 {
		t.Errorf("vectors cover %d of the 5 fields", len(domains))
	}
}

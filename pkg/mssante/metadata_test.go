package mssante

import (
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/bndmr/hub/pkg/cdasniff"
	"github.com/bndmr/hub/pkg/xds"
)

func TestParseMetadataSample(t *testing.T) {
	data, err := os.ReadFile(kitPath(t, "examples", "xdm", "XDM_VSM", "IHE_XDM", "IHE_XDM", "SUBSET01", "METADATA.XML"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := parseMetadata(data)
	if err != nil {
		t.Fatal(err)
	}
	if md.SetPatientID != "0218805328320789819507^^^&1.2.250.1.213.1.4.2&ISO" ||
		md.SetUniqueID != "1.2.250.1.213.1.1.9.8.1.635973781821450393810.2^7" ||
		len(md.SetAuthorInstitution) != 1 || len(md.Entries) != 1 {
		t.Fatalf("submission set: %+v", md)
	}
	want := metaEntry{
		ID: "efbb37ce-cec0-42d4-ba59-71eec9fc789e", MimeType: "text/xml", ObjectType: xds.ObjectTypeDocEntry,
		URI: "DOC00001.XML", Hash: "D9C2470D4C7BAA6903BC5B2B4415593C8C12C9FF", Size: "60582",
		CreationTime: "20160711122758", Title: "Synthèse médicale",
		PatientID:  "0218805328320789819507^^^&1.2.250.1.213.1.4.2&ISO",
		UniqueID:   "1.2.250.1.213.1.1.9.8.1.635973781821450393810.2^7",
		FormatCode: "urn:asip:ci-sis:vsm:2012", TypeCode: "SYNTH", ClassCode: "11",
		// pretty-printed across lines in the file
		AuthorInstitution: []string{"CABINET M. MEDECIN5729^^^^^&1.2.250.1.71.4.2.2&ISO^^^^0B105729400"},
	}
	got := md.Entries[0]
	if strings.Join(got.AuthorInstitution, "|") != strings.Join(want.AuthorInstitution, "|") {
		t.Errorf("authorInstitution %q", got.AuthorInstitution)
	}
	got.AuthorInstitution, want.AuthorInstitution = nil, nil
	if got.ID != want.ID || got.MimeType != want.MimeType || got.ObjectType != want.ObjectType || got.URI != want.URI ||
		got.Hash != want.Hash || got.Size != want.Size || got.CreationTime != want.CreationTime || got.Title != want.Title ||
		got.PatientID != want.PatientID || got.UniqueID != want.UniqueID || got.FormatCode != want.FormatCode ||
		got.TypeCode != want.TypeCode || got.ClassCode != want.ClassCode {
		t.Errorf("entry:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseMetadataVariants(t *testing.T) {
	entry := func(inner string) string {
		return `<?xml version="1.0"?><SubmitObjectsRequest><RegistryObjectList><ExtrinsicObject id="d1" mimeType="text/xml">` + inner + `</ExtrinsicObject></RegistryObjectList></SubmitObjectsRequest>`
	}
	latin, _ := charmap.ISO8859_1.NewEncoder().String(`<?xml version="1.0" encoding="ISO-8859-1"?><SubmitObjectsRequest><ExtrinsicObject id="d1"><Name><LocalizedString value="Synthèse"/></Name></ExtrinsicObject></SubmitObjectsRequest>`)
	cases := []struct {
		name, xml string
		check     func(md *metadata) bool
		err       error
	}{
		{"split URI", entry(`<Slot name="URI"><ValueList><Value>2|SUBSET01/DOC.XML</Value><Value>1|IHE_XDM/</Value></ValueList></Slot>`),
			func(md *metadata) bool { return md.Entries[0].URI == "IHE_XDM/SUBSET01/DOC.XML" }, nil},
		{"undeclared prefix (DRIM-M)", `<ns3:SubmitObjectsRequest><ns3:ExtrinsicObject id="x"><ns3:Slot name="hash"><ns3:ValueList><ns3:Value> AB CD </ns3:Value></ns3:ValueList></ns3:Slot></ns3:ExtrinsicObject></ns3:SubmitObjectsRequest>`,
			func(md *metadata) bool { return md.Entries[0].Hash == "ABCD" }, nil},
		{"identifiers by name only", entry(`<ExternalIdentifier value="1^^^&amp;1.2&amp;ISO"><Name><LocalizedString value="XDSDocumentEntry.patientId"/></Name></ExternalIdentifier>
			<ExternalIdentifier value="9.9.9"><Name><LocalizedString value="XDSDocumentEntry.uniqueId"/></Name></ExternalIdentifier>`),
			func(md *metadata) bool {
				return md.Entries[0].PatientID == "1^^^&1.2&ISO" && md.Entries[0].UniqueID == "9.9.9"
			}, nil},
		{"formatCode by coding scheme", entry(`<Classification nodeRepresentation="urn:asip:ci-sis:sdm-mr:2017"><Slot name="codingScheme"><ValueList><Value>1.2.250.1.213.1.1.4.2.282</Value></ValueList></Slot></Classification>`),
			func(md *metadata) bool { return md.Entries[0].FormatCode == xds.FormatCodeSDMMR }, nil},
		{"latin-1", latin, func(md *metadata) bool { return md.Entries[0].Title == "Synthèse" }, nil},
		{"byte order mark", "\xef\xbb\xbf" + entry(""), func(md *metadata) bool { return len(md.Entries) == 1 }, nil},
		{"DOCTYPE", `<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://evil/x.dtd"><x/>`, nil, errMetadataDTD},
		{"entity bomb", `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><x>&lol2;</x>`, nil, errMetadataDTD},
		{"undefined entity", entry(`<Slot name="URI"><ValueList><Value>&xxe;</Value></ValueList></Slot>`), nil, errAny},
		{"not XML", "PK\x03\x04", nil, errAny},
		{"too deep", strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100), nil, errAny},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			md, err := parseMetadata([]byte(c.xml))
			switch {
			case c.err == errAny:
				if err == nil {
					t.Fatal("accepted")
				}
			case c.err != nil:
				if !errors.Is(err, c.err) {
					t.Fatalf("got %v, want %v", err, c.err)
				}
			case err != nil:
				t.Fatal(err)
			case !c.check(md):
				t.Errorf("got %+v", md)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestParseCX(t *testing.T) {
	cases := []struct {
		in   string
		want cdasniff.ID
		ok   bool
	}{
		{"0218805328320789819507^^^&1.2.250.1.213.1.4.2&ISO", cdasniff.ID{Root: "1.2.250.1.213.1.4.2", Ext: "0218805328320789819507"}, true},
		{" 123 ^^^& 1.2.3 &ISO", cdasniff.ID{Root: "1.2.3", Ext: "123"}, true},
		{"123", cdasniff.ID{}, false},
		{"^^^&1.2.3&ISO", cdasniff.ID{}, false},
		{"123^^^1.2.3", cdasniff.ID{}, false},
	}
	for _, c := range cases {
		got, ok := parseCX(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("parseCX(%q) = %v, %v", c.in, got, ok)
		}
	}
}

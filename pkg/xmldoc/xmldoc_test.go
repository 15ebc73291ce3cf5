package xmldoc

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/kit"
	"github.com/lestrrat-go/libxml2/clib"
	"github.com/lestrrat-go/libxml2/types"
)

const okDoc = `<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><title>Évaluation</title></ClinicalDocument>`

func TestParseHostile(t *testing.T) {
	deep := strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100)
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>`
	tests := []struct {
		name string
		data string
		lim  Limits
		want error
	}{
		{"well-formed CDA", okDoc, DefaultLimits, nil},
		{"external entity", `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><d>&xxe;</d>`, DefaultLimits, ErrDoctype},
		{"external entity over the network", `<!DOCTYPE d [<!ENTITY xxe SYSTEM "http://127.0.0.1:1/x">]><d>&xxe;</d>`, DefaultLimits, ErrDoctype},
		{"billion laughs", laughs, DefaultLimits, ErrDoctype},
		{"external DTD", `<?xml version="1.0"?><!DOCTYPE ClinicalDocument SYSTEM "cda.dtd"><ClinicalDocument/>`, DefaultLimits, ErrDoctype},
		{"entity declaration without doctype keyword", `<d><!ENTITY x "y"></d>`, DefaultLimits, ErrDoctype},
		{"too large", okDoc, Limits{MaxBytes: 50}, ErrTooLarge},
		{"too deep", deep, Limits{MaxDepth: 64}, ErrTooDeep},
		{"deep but allowed", deep, Limits{MaxDepth: 100}, nil},
		{"deep beyond libxml2's own limit", strings.Repeat("<a>", 300) + strings.Repeat("</a>", 300), Limits{}, ErrNotXML},
		{"not XML", "%PDF-1.4 binary", DefaultLimits, ErrNotXML},
		{"truncated", okDoc[:len(okDoc)-10], DefaultLimits, ErrNotXML},
		{"empty", "  \n", DefaultLimits, ErrEmpty},
		{"invalid UTF-8", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><d>caf\xe9</d>", DefaultLimits, ErrCharset},
		{"undeclared Latin-1 bytes", "<d>caf\xe9</d>", DefaultLimits, ErrCharset},
		{"declared ISO-8859-1", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><d>caf\xe9</d>", DefaultLimits, nil},
		{"unsupported encoding", `<?xml version="1.0" encoding="EBCDIC-CP-US"?><d/>`, DefaultLimits, ErrCharset},
		{"UTF-16", "\xff\xfe<\x00d\x00/\x00>\x00", DefaultLimits, ErrCharset},
		{"comment and CDATA do not count as depth", `<a><!-- <b><c><d> --><![CDATA[<x><y><z>]]><b attr="c>d"/></a>`, Limits{MaxDepth: 2}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Parse([]byte(tt.data), tt.lim)
			if doc != nil {
				defer doc.Free()
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseExamples(t *testing.T) {
	dir, err := kit.Dir()
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "examples", "*", "*.xml"))
	if len(paths) < 10 {
		t.Fatalf("found %d examples", len(paths))
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := Parse(data, DefaultLimits)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		doc.Free()
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(okDoc))
	f.Add([]byte(`<!DOCTYPE d [<!ENTITY x "y">]><d>&x;</d>`))
	f.Add([]byte(`<a><![CDATA[<b>]]><!-- <c> --><?pi x?><d e='>'/></a>`))
	f.Add([]byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><d>\xe9</d>"))
	// Depth: at the limit, one beyond, and far beyond.
	for _, n := range []int{32, 33, 200} {
		f.Add([]byte(strings.Repeat("<a>", n) + strings.Repeat("</a>", n)))
	}
	// UTF-16 with a byte-order mark, both orders, and without one.
	utf16 := func(s string, big, bom bool) []byte {
		var b []byte
		if bom {
			b = append(b, 0xff, 0xfe)
			if big {
				b[0], b[1] = 0xfe, 0xff
			}
		}
		for _, r := range s {
			if big {
				b = append(b, byte(r>>8), byte(r))
			} else {
				b = append(b, byte(r), byte(r>>8))
			}
		}
		return b
	}
	u := "<?xml version=\"1.0\" encoding=\"UTF-16\"?><d a=\"é\"><e>€</e></d>"
	f.Add(utf16(u, false, true))
	f.Add(utf16(u, true, true))
	f.Add(utf16(u, false, false))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data, Limits{MaxBytes: 1 << 20, MaxDepth: 32})
		if err != nil {
			if doc != nil {
				t.Fatal("document returned with an error")
			}
			return
		}
		defer doc.Free()
		if bytes.Contains(data, []byte("<!DOCTYPE")) {
			t.Fatal("a DTD was accepted")
		}
		root, err := doc.DocumentElement()
		if err != nil {
			t.Fatalf("accepted document without root: %v", err)
		}
		// The depth limit holds on the tree built, whatever the encoding.
		var deepest func(n types.Node, d int) int
		deepest = func(n types.Node, d int) int {
			max := d
			kids, _ := n.ChildNodes()
			for _, c := range kids {
				if c.NodeType() == clib.ElementNode {
					if k := deepest(c, d+1); k > max {
						max = k
					}
				}
			}
			return max
		}
		if d := deepest(root, 1); d > 32 {
			t.Fatalf("accepted a tree %d elements deep, limit 32", d)
		}
	})
}

// What an operator reads when a file is refused.
func TestParseMessages(t *testing.T) {
	tests := []struct {
		name, data string
		kind       error
		msg        string
	}{
		{"binary file", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", ErrNotXML, "the document is not XML: it does not begin with '<' (a binary file?)"},
		{"zip", "PK\x03\x04\x14\x00\x00\x00\x08\x00", ErrNotXML, "the document is not XML: it does not begin with '<' (a binary file?)"},
		{"text file", "Bonjour, voici le document.", ErrNotXML, "the document is not XML: it does not begin with '<' (a text file?)"},
		{"undeclared Latin-1 bytes", "<d>caf\xe9</d>", ErrCharset, "no encoding declared, so UTF-8 applies, but it holds bytes that are not UTF-8"},
		{"declared UTF-8", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><d>caf\xe9</d>", ErrCharset, "declared UTF-8 but holds bytes that are not UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Parse([]byte(tt.data), DefaultLimits)
			if doc != nil {
				doc.Free()
			}
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v, want %v saying %q", err, tt.kind, tt.msg)
			}
		})
	}
}

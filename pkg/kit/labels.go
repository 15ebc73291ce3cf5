package kit

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Code systems whose codes the hub's exports show.
const (
	// ORPHA is Orphanet's rare diseases (JDV_Orpha_Maladies).
	ORPHA = "1.2.250.1.213.2.49.1"
	// CIM10 is the French ICD-10.
	CIM10 = "2.16.840.1.113883.6.3"
	// AdministrativeGender is HL7's (F, M, UN), the patients' sex.
	AdministrativeGender = "2.16.840.1.113883.5.1"
)

// Labels are the display names the kit's value sets (the JDV files of every
// kit-*/jeuxDeValeurs folder, IHE SVS RetrieveValueSetResponse) give to
// codes, by code system. A code several value sets name keeps the name of
// the newest kit; within a kit, the first file in name order.
type Labels struct {
	names map[string]string // system + " " + code
	files int
}

// LoadLabels reads the value sets of the kit in dir (Dir gives it).
func LoadLabels(dir string) (*Labels, error) {
	kits, err := filepath.Glob(filepath.Join(dir, "kit-*", "jeuxDeValeurs"))
	if err != nil {
		return nil, fmt.Errorf("reading the CI-SIS value sets: %w", err)
	}
	if len(kits) == 0 {
		return nil, fmt.Errorf("reading the CI-SIS value sets: no kit-*/jeuxDeValeurs folder in %s", dir)
	}
	// Newest kit first: kit-3.0 before kit-2.41 before kit-2.22.
	sort.Slice(kits, func(i, j int) bool { return kitVersionLess(kits[j], kits[i]) })
	l := &Labels{names: map[string]string{}}
	for _, k := range kits {
		files, err := filepath.Glob(filepath.Join(k, "*.xml"))
		if err != nil {
			return nil, fmt.Errorf("reading the CI-SIS value sets: %w", err)
		}
		sort.Strings(files)
		for _, f := range files {
			if err := l.read(f); err != nil {
				return nil, err
			}
			l.files++
		}
	}
	return l, nil
}

// read adds the concepts of one value set file, keeping names already known.
func (l *Labels) read(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading value set %s: %w", path, err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	dec.CharsetReader = charsetReader
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading value set %s: %w", path, err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok || el.Name.Local != "Concept" {
			continue
		}
		var code, system, name string
		for _, a := range el.Attr {
			switch a.Name.Local {
			case "code":
				code = strings.TrimSpace(a.Value)
			case "codeSystem":
				system = strings.TrimSpace(a.Value)
			case "displayName":
				name = strings.TrimSpace(a.Value)
			}
		}
		if code == "" || system == "" || name == "" {
			continue
		}
		if _, ok := l.names[system+" "+code]; !ok {
			l.names[system+" "+code] = name
		}
	}
}

// charsetReader reads the encodings older kits declare besides UTF-8:
// ISO-8859-1, whose bytes are the first 256 code points.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1":
		b, err := io.ReadAll(in)
		if err != nil {
			return nil, err
		}
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return strings.NewReader(string(r)), nil
	}
	return nil, fmt.Errorf("encoding %q not read", label)
}

// Label is the display name of code in system, "" when no value set of the
// kit names it. A nil Labels knows no code.
func (l *Labels) Label(system, code string) string {
	if l == nil {
		return ""
	}
	return l.names[system+" "+code]
}

// Len is the number of codes named, over Files value set files.
func (l *Labels) Len() int   { return len(l.names) }
func (l *Labels) Files() int { return l.files }

// kitVersionLess compares kit folders by their version (kit-2.41 < kit-3.0).
func kitVersionLess(a, b string) bool {
	va := strings.Split(strings.TrimPrefix(filepath.Base(filepath.Dir(a)), "kit-"), ".")
	vb := strings.Split(strings.TrimPrefix(filepath.Base(filepath.Dir(b)), "kit-"), ".")
	for i := 0; i < len(va) && i < len(vb); i++ {
		var x, y int
		fmt.Sscan(va[i], &x)
		fmt.Sscan(vb[i], &y)
		if x != y {
			return x < y
		}
	}
	return len(va) < len(vb)
}

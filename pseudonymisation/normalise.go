package pseudonymisation

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// normaliseName returns the traits form of a name: upper case, accents
// removed, letters only ("Lé-a  Marie" → "LEAMARIE"). Ligatures and letters
// that Unicode does not decompose are spelled out the way French civil
// registers write them.
func normaliseName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		switch r {
		case 'œ', 'Œ':
			b.WriteString("OE")
			continue
		case 'æ', 'Æ':
			b.WriteString("AE")
			continue
		case 'ß':
			b.WriteString("SS")
			continue
		case 'ø', 'Ø':
			r = 'O'
		case 'ł', 'Ł':
			r = 'L'
		case 'đ', 'Đ':
			r = 'D'
		}
		if unicode.IsLetter(r) {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

// firstGiven returns the first birth given name: given[@qualifier='BR'] when
// the document has it, otherwise the first of the given names.
func firstGiven(birthGiven, given string) string {
	if g := strings.TrimSpace(birthGiven); g != "" {
		return g
	}
	if f := strings.Fields(given); len(f) > 0 {
		return f[0]
	}
	return ""
}

// normaliseINS keeps the 13 characters of the NIR (digits, and 2A/2B for
// people born in Corsica), dropping separators and the 2-digit control key,
// so that "2 79 03 51 215 189 89" and "2790351215189" give one pseudonym.
func normaliseINS(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r >= '0' && r <= '9' || r == 'A' || r == 'B' {
			b.WriteRune(r)
		}
	}
	n := b.String()
	if len(n) == 15 {
		n = n[:13]
	}
	return n
}

// birthDate returns YYYYMMDD from an HL7 TS, "" when it is less precise.
func birthDate(ts string) string {
	if len(ts) < 8 || !allDigits(ts[:8]) {
		return ""
	}
	return ts[:8]
}

// yearMonth returns YYYY-MM from an HL7 TS, "" when it is less precise.
func yearMonth(ts string) string {
	ts = strings.TrimSpace(ts)
	if len(ts) < 6 || !allDigits(ts[:6]) {
		return ""
	}
	return ts[:4] + "-" + ts[4:6]
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// normaliseSex maps the HL7 administrative gender to F, M or U.
func normaliseSex(s string) string {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "F":
		return "F"
	case "M":
		return "M"
	case "":
		return ""
	}
	return "U"
}

package synth

import "strings"

// ContainsToken reports whether tok appears in s with no ASCII letter or
// digit on either side: how the leak tests look for a generated identity in
// what the hub stored or published. A short code inside a hexadecimal
// pseudonym ("2A004" in "…a2a004b…") is not a leak; the same code as a
// value is.
func ContainsToken(s, tok string) bool {
	for from := 0; ; {
		i := strings.Index(s[from:], tok)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(tok)
		if (i == 0 || !isAlnum(s[i-1])) && (end == len(s) || !isAlnum(s[end])) {
			return true
		}
		from = i + 1
	}
}

func isAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z'
}

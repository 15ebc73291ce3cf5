// Package geo maps French INSEE commune codes (COG) to départements, the
// coarsest place the analytical store keeps.
package geo

import (
	"errors"
	"fmt"
	"strings"
)

// Abroad is the pseudo-département of the 99xxx COG codes (countries: a
// person born abroad).
const Abroad = "99"

// ErrNotCommune means the value is not a 5-character INSEE commune code.
var ErrNotCommune = errors.New("not an INSEE commune code")

// Departement returns the département of an INSEE commune code:
//   - metropolitan codes: the first two digits ("75115" → "75");
//   - Corsica: "2A"/"2B" codes as written, and the pre-1976 numeric codes
//     20000–20190 → "2A" (Corse-du-Sud), 20200 and above → "2B";
//   - overseas: three digits, 971–978 and 984–989 ("97411" → "974");
//   - 99xxx (a foreign country) → "99".
//
// The error never echoes the code: callers may log it.
func Departement(code string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(code))
	if len(c) != 5 {
		return "", fmt.Errorf("%w: expected 5 characters, got %d", ErrNotCommune, len(c))
	}
	if c[0] == '2' && (c[1] == 'A' || c[1] == 'B') {
		if !digits(c[2:]) {
			return "", fmt.Errorf("%w: a Corsican code is 2A or 2B followed by 3 digits", ErrNotCommune)
		}
		return c[:2], nil
	}
	if !digits(c) {
		return "", fmt.Errorf("%w: it must be 5 digits (or 2A/2B and 3 digits)", ErrNotCommune)
	}
	switch d := c[:2]; d {
	case "00":
		return "", fmt.Errorf("%w: département 00 does not exist", ErrNotCommune)
	case "20":
		if c < "20200" {
			return "2A", nil
		}
		return "2B", nil
	case "96":
		return "", fmt.Errorf("%w: département 96 does not exist", ErrNotCommune)
	case "97":
		switch c[2] {
		case '1', '2', '3', '4', '5', '6', '7', '8':
			return c[:3], nil
		}
		return "", fmt.Errorf("%w: no overseas département 97%c", ErrNotCommune, c[2])
	case "98":
		switch c[2] {
		case '4', '6', '7', '8', '9':
			return c[:3], nil
		}
		return "", fmt.Errorf("%w: no overseas collectivity 98%c", ErrNotCommune, c[2])
	case "99":
		return Abroad, nil
	default:
		return d, nil
	}
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

package geo

import (
	"errors"
	"strings"
	"testing"
)

func TestDepartement(t *testing.T) {
	tests := []struct {
		code, want string
	}{
		{"75115", "75"},
		{"75056", "75"},
		{"01001", "01"},
		{"95690", "95"},
		{" 13055 ", "13"},
		{"2A004", "2A"},
		{"2b033", "2B"},
		{"20004", "2A"},
		{"20190", "2A"},
		{"20200", "2B"},
		{"20366", "2B"},
		{"97105", "971"},
		{"97209", "972"},
		{"97302", "973"},
		{"97411", "974"},
		{"97502", "975"},
		{"97611", "976"},
		{"97701", "977"},
		{"97801", "978"},
		{"98415", "984"},
		{"98611", "986"},
		{"98735", "987"},
		{"98818", "988"},
		{"98901", "989"},
		{"99100", "99"},
		{"99351", "99"},
	}
	for _, tt := range tests {
		got, err := Departement(tt.code)
		if err != nil || got != tt.want {
			t.Errorf("Departement(%q) = %q, %v; want %q", tt.code, got, err, tt.want)
		}
	}
}

func TestDepartementRejects(t *testing.T) {
	for _, code := range []string{"", "7511", "751155", "7511X", "2C004", "2A0B4", "00123", "96123", "97912", "97012", "98512", "98012", "ABCDE"} {
		got, err := Departement(code)
		if err == nil {
			t.Errorf("Departement(%q) = %q, want an error", code, got)
			continue
		}
		if !errors.Is(err, ErrNotCommune) {
			t.Errorf("Departement(%q): error %v does not wrap ErrNotCommune", code, err)
		}
		if len(code) >= 4 && strings.Contains(err.Error(), code) {
			t.Errorf("Departement(%q): the error echoes the code: %v", code, err)
		}
	}
}

func FuzzDepartement(f *testing.F) {
	for _, s := range []string{"75115", "2A004", "20200", "97411", "99100", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		d, err := Departement(code)
		if err != nil {
			return
		}
		if len(d) != 2 && len(d) != 3 {
			t.Fatalf("Departement(%q) = %q: not 2 or 3 characters", code, d)
		}
		if c := strings.ToUpper(strings.TrimSpace(code)); !strings.HasPrefix(c, d) && !strings.HasPrefix(c, "20") {
			t.Fatalf("Departement(%q) = %q is not a prefix of the code", code, d)
		}
	})
}

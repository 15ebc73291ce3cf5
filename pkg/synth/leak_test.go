package synth

import "testing"

func TestContainsToken(t *testing.T) {
	for _, tc := range []struct {
		s, tok string
		want   bool
	}{
		{`{"a":"75115"}`, "75115", true},
		{`75115`, "75115", true},
		{`"x":"ab75115cd"`, "75115", false},
		{`"ab75115", "75115"`, "75115", true},
		{`"1975115"`, "75115", false},
		{"2A0000019\t9CF80E2D41\t", "2A004", false},
		{"A2A004\t", "2A004", false},
		{"\t2A004\t", "2A004", true},
		{"12 RUE DES LILAS\t", "12 RUE DES LILAS", true},
		{"112 RUE DES LILAS\t", "12 RUE DES LILAS", false},
		{"", "x", false},
	} {
		if got := ContainsToken(tc.s, tc.tok); got != tc.want {
			t.Errorf("ContainsToken(%q, %q) = %v, want %v", tc.s, tc.tok, got, tc.want)
		}
	}
}

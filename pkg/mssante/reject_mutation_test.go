package mssante

import "testing"

// TestBilingual: the MDN text and the operator report read "French /
// English", and the English alone when a rejection has no French reason.
func TestBilingual(t *testing.T) {
	for _, c := range []struct {
		rej  RejectError
		want string
	}{
		{RejectError{Code: CodeNoCDA, Reason: "no CDA", ReasonFR: "aucun CDA"}, "aucun CDA / no CDA"},
		{RejectError{Code: CodeNoCDA, Reason: "no CDA"}, "no CDA"},
	} {
		if got := c.rej.Bilingual(); got != c.want {
			t.Errorf("Bilingual(%q, %q) = %q, want %q", c.rej.ReasonFR, c.rej.Reason, got, c.want)
		}
	}
}

package indicators

import (
	"regexp"
	"testing"
)

// TestBarsMR1RateCapped: the panel draws a rate above 100 % at full width,
// not past the chart's right edge. MR1 itself never gives one (its sending
// centres are counted among the labelled), but barsMR1 does not rely on
// that, as barsMR2 does not for MR.2, whose rate can pass 100 %.
func TestBarsMR1RateCapped(t *testing.T) {
	over := 1.5
	out := string(barsMR1([]MR1{{FINESS: "1", Labelled: 2, Sending: 3, Rate: &over}}))
	m := regexp.MustCompile(`<rect x="230" y="\d+" width="(\d+)"`).FindStringSubmatch(out)
	if m == nil || m[1] != "400" {
		t.Errorf("bar of a 150 %% rate: %v, want width 400:\n%s", m, out)
	}
}

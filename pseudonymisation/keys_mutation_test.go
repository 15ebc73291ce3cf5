package pseudonymisation

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/stage"
)

// TestKeyIDCharacters: a key_id is 1 to 64 letters, digits, '-', '_' or
// '.'; the characters either side of each range are refused.
func TestKeyIDCharacters(t *testing.T) {
	for _, c := range []struct {
		id string
		ok bool
	}{
		{"k", true}, {strings.Repeat("k", 64), true}, {strings.Repeat("k", 65), false},
		{"a", true}, {"z", true}, {"A", true}, {"Z", true}, {"0", true}, {"9", true},
		{"-", true}, {"_", true}, {".", true},
		{"`", false}, {"{", false}, {"@", false}, {"[", false}, {"/", false}, {":", false}, {"k 1", false},
	} {
		_, err := NewKey(c.id, testSecret(1), true)
		if (err == nil) != c.ok {
			t.Errorf("key_id %q: error %v, want accepted %v", c.id, err, c.ok)
		}
	}
}

// TestServiceRefusesWithoutPublishing: a document that cannot be
// pseudonymised is a permanent failure, counted as an error, and nothing
// is published (the nil JetStream would panic if it were).
func TestServiceRefusesWithoutPublishing(t *testing.T) {
	s := NewService(testPseudonymiser(t, Options{}), zap.NewNop(), nil)
	h := header()
	h.FINESS, h.CustodianID = "", ""
	err := s.handle(t.Context(), nil, events.Extracted{MailID: "m1", Header: h}, "")
	if !errors.Is(err, stage.ErrPermanent) || !errors.Is(err, ErrNoEstablishment) {
		t.Fatalf("handle: %v, want a permanent ErrNoEstablishment", err)
	}
	if got := testutil.ToFloat64(s.records.WithLabelValues("error")); got != 1 {
		t.Errorf("error count %v, want 1", got)
	}
}

// TestKeyringFormatsAsItsIDs: every verb prints the key ids, as String does.
func TestKeyringFormatsAsItsIDs(t *testing.T) {
	kr, err := NewKeyring(mustKey(t, "k1", 1, true), mustKey(t, "k0", 2, false))
	if err != nil {
		t.Fatal(err)
	}
	want := kr.String()
	if !strings.Contains(want, "k1") || !strings.Contains(want, "k0") {
		t.Fatalf("String() = %q, want both key ids", want)
	}
	for _, verb := range []string{"%v", "%+v", "%s", "%#v", "%x"} {
		if got := fmt.Sprintf(verb, *kr); got != want {
			t.Errorf("%s: %q, want %q", verb, got, want)
		}
	}
}

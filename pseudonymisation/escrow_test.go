package pseudonymisation

import (
	"bytes"
	"strings"
	"testing"
)

func TestGF(t *testing.T) {
	// Every non-zero element times its inverse is 1; 0x53·0xCA = 1 is
	// the AES field's textbook pair.
	if gfMul(0x53, 0xca) != 1 {
		t.Fatalf("0x53·0xCA = %#x, want 1", gfMul(0x53, 0xca))
	}
	for a := 1; a < 256; a++ {
		if gfMul(byte(a), gfInv(byte(a))) != 1 {
			t.Fatalf("%#x · inv = %#x", a, gfMul(byte(a), gfInv(byte(a))))
		}
	}
}

// TestEscrowRoundTrip: every pair of the three shares, in either order,
// rebuilds the key file byte for byte; one share alone differs from the
// key file everywhere it could reveal it.
func TestEscrowRoundTrip(t *testing.T) {
	key, err := GenerateKeyFile("2026-escrow")
	if err != nil {
		t.Fatal(err)
	}
	shares, err := SplitKeyFile(key)
	if err != nil {
		t.Fatal(err)
	}
	if len(shares) != SharesTotal {
		t.Fatalf("%d shares", len(shares))
	}
	for i := range shares {
		for j := range shares {
			if i == j {
				continue
			}
			got, err := JoinShares([]string{shares[i], " " + shares[j] + "\n"})
			if err != nil {
				t.Fatalf("shares %d+%d: %v", i+1, j+1, err)
			}
			if !bytes.Equal(got, key) {
				t.Fatalf("shares %d+%d rebuilt another file", i+1, j+1)
			}
		}
	}
	if got, err := JoinShares(shares); err != nil || !bytes.Equal(got, key) {
		t.Errorf("all three: %v", err)
	}
	for _, s := range shares {
		if strings.Contains(s, strings.Split(string(key), `"key": "`)[1][:20]) {
			t.Errorf("a share carries the key in clear: %s", s)
		}
	}
	// Two splits of the same key differ (fresh randomness each time).
	again, _ := SplitKeyFile(key)
	if again[0] == shares[0] {
		t.Error("two splits gave the same share")
	}
}

func TestEscrowRefusals(t *testing.T) {
	key, _ := GenerateKeyFile("k1")
	other, _ := GenerateKeyFile("k2")
	s, err := SplitKeyFile(key)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := SplitKeyFile(other)
	typo := []byte(s[1])
	i := strings.Index(s[1], "data=") + 10
	typo[i] ^= 0x01
	for _, tc := range []struct {
		name   string
		shares []string
		want   string
	}{
		{"one share", s[:1], "1 share(s) given, 2 needed"},
		{"none", nil, "0 share(s) given"},
		{"same twice", []string{s[0], s[0]}, "is share x=1 again"},
		{"typo", []string{s[0], string(typo)}, "share 2 is damaged"},
		{"another key", []string{s[0], o[1]}, "share 2 belongs to another split"},
		{"not a share", []string{s[0], "hello"}, "share 2 is not a BNDMR key share"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := JoinShares(tc.shares)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %d bytes, %v; want an error with %q", len(got), err, tc.want)
			}
		})
	}
	if _, err := SplitKeyFile([]byte(`{"key_id":"x","key":"c2hvcnQ="}`)); err == nil {
		t.Error("a key file with a short key was split")
	}
}

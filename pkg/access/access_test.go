package access

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCheckNoneAddr(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8090": true, "[::1]:8090": true, "localhost:0": true, "127.0.0.2:1": true,
		":8090": false, "0.0.0.0:8090": false, "10.0.0.4:8090": false, "indicators:8090": false, "nonsense": false,
	} {
		if err := CheckNoneAddr(addr); (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

func TestSealer(t *testing.T) {
	if _, err := newSealer([]byte("short")); err == nil {
		t.Error("a 5-byte session secret was accepted")
	}
	s, _ := newSealer([]byte(strings.Repeat("a", 32)))
	other, _ := newSealer([]byte(strings.Repeat("b", 32)))
	v, err := s.seal(sessionCookie, Principal{Subject: "u", Roles: []Role{Analyst}})
	if err != nil {
		t.Fatal(err)
	}
	var p Principal
	if err := s.open(sessionCookie, v, &p); err != nil || p.Subject != "u" {
		t.Fatalf("open: %v %+v", err, p)
	}
	flipped := []byte(v)
	flipped[len(flipped)/2] ^= 1
	for name, c := range map[string]struct {
		s         *sealer
		cookie, v string
	}{
		"changed":    {s, sessionCookie, string(flipped)},
		"other key":  {other, sessionCookie, v},
		"other name": {s, loginCookie, v},
		"not base64": {s, sessionCookie, "!!"},
		"too short":  {s, sessionCookie, "AAAA"},
	} {
		if err := c.s.open(c.cookie, c.v, &p); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

func TestMapping(t *testing.T) {
	m := &Mapping{RolesClaim: "realm_access.roles", Roles: map[string]Role{"ops": Operator, "dgos": Ministry},
		Subjects:      map[string][]Role{"script": {Analyst}},
		Establishment: &StructureClaim{Claim: "SubjectRefPro.exercices.activities.ancienIdentifiantDeLaStructure", Prefix: "1"}}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	psc := func(ids ...any) map[string]any {
		var acts []any
		for _, id := range ids {
			acts = append(acts, map[string]any{"ancienIdentifiantDeLaStructure": id})
		}
		return map[string]any{"exercices": []any{map[string]any{"activities": acts}, map[string]any{}}}
	}
	for _, c := range []struct {
		name   string
		claims map[string]any
		roles  []Role
		finess []string
	}{
		{"group", map[string]any{"realm_access": map[string]any{"roles": []any{"ops", "other"}}}, []Role{Operator}, nil},
		{"group as a string", map[string]any{"realm_access": map[string]any{"roles": "dgos"}}, []Role{Ministry}, nil},
		{"subject", map[string]any{"sub": "script"}, []Role{Analyst}, nil},
		{"nothing", map[string]any{"sub": "x", "groups": []any{"ops"}}, nil, nil},
		{"Pro Santé Connect", map[string]any{"SubjectRefPro": psc("1750000010", "1690000011", "1750000010", "312345678900011", "1ABC", 7)},
			[]Role{Establishment}, []string{"690000011", "750000010"}},
		{"Corsica", map[string]any{"SubjectRefPro": psc("12A0000015")}, []Role{Establishment}, []string{"2A0000015"}},
		{"no FINESS activity", map[string]any{"SubjectRefPro": psc("312345678900011", "41234567890")}, nil, nil},
	} {
		roles, finess := m.Apply(c.claims)
		if !slices.Equal(roles, c.roles) || !slices.Equal(finess, c.finess) {
			t.Errorf("%s: %v %v, want %v %v", c.name, roles, finess, c.roles, c.finess)
		}
	}
	dir := t.TempDir()
	for text, ok := range map[string]bool{
		`{"roles_claim":"groups","roles":{"g":"operator"}}`:      true,
		`{"roles_claim":"groups","roles":{"g":"root"}}`:          false,
		`{"roles_claim":"groups","roles":{"g":"establishment"}}`: false,
		`{"roles":{"g":"operator"}}`:                             false,
		`{"role_claim":"groups"}`:                                false,
		`{}`:                                                     false,
		`{"subjects":{"s":["ministry"]}}`:                        true,
	} {
		p := filepath.Join(dir, "m.json")
		os.WriteFile(p, []byte(text), 0o600)
		if _, err := LoadMapping(p); (err == nil) != ok {
			t.Errorf("%s: %v", text, err)
		}
	}
}

// TestSessionKeepsOldCookies: a session sealed before the ID token was kept
// in it (a bare Principal) still opens, with no ID token (local sign-out),
// and a session with one keeps it.
func TestSessionKeepsOldCookies(t *testing.T) {
	s, _ := newSealer([]byte(strings.Repeat("a", 32)))
	old, _ := s.seal(sessionCookie, Principal{Subject: "u", Roles: []Role{Operator}, CSRF: "c"})
	var ss session
	if err := s.open(sessionCookie, old, &ss); err != nil || ss.Subject != "u" || ss.CSRF != "c" || ss.IDToken != "" {
		t.Fatalf("old cookie: %v %+v", err, ss)
	}
	v, _ := s.seal(sessionCookie, session{Principal: Principal{Subject: "u"}, IDToken: "a.b.c"})
	ss = session{}
	if err := s.open(sessionCookie, v, &ss); err != nil || ss.Subject != "u" || ss.IDToken != "a.b.c" {
		t.Fatalf("new cookie: %v %+v", err, ss)
	}
}

package access

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Mapping turns the claims of a verified token into roles and
// establishments. It is read from a JSON file (--oidc-roles); see
// docs/security.md for an example and the Pro Santé Connect claim.
type Mapping struct {
	// RolesClaim names the claim that lists the caller's groups or roles,
	// a string or a list of strings ("groups", "realm_access.roles": a dotted
	// path walks into objects).
	RolesClaim string `json:"roles_claim"`
	// Roles maps a value of RolesClaim to a role of the service.
	Roles map[string]Role `json:"roles"`
	// Subjects gives roles to given subjects (the sub claim), for script
	// clients whose issuer puts no groups in their tokens.
	Subjects map[string][]Role `json:"subjects"`
	// Establishment, when set, gives the establishment role to whoever
	// carries a FINESS in this claim, for those establishments only.
	Establishment *StructureClaim `json:"establishment"`
}

// StructureClaim says where a token names the professional's structure.
// Pro Santé Connect puts it, for each practice (exercice) and activity, in
// SubjectRefPro.exercices[].activities[].ancienIdentifiantDeLaStructure,
// "1" followed by the FINESS (the same "1" + FINESS as the CDA custodian).
type StructureClaim struct {
	// Claim is a dotted path; lists met on the way are walked, so every
	// activity of every practice counts.
	Claim string `json:"claim"`
	// Prefix is what a value starts with when it is a FINESS; it is cut
	// off. Values without it (a SIRET, an RPPS) are ignored.
	Prefix string `json:"prefix"`
}

// finessPattern: nine characters, Corsica's départements 2A and 2B included.
var finessPattern = regexp.MustCompile(`^[0-9][0-9AB][0-9]{7}$`)

// LoadMapping reads and checks a mapping file.
func LoadMapping(path string) (*Mapping, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the role mapping: %w", err)
	}
	var m Mapping
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("role mapping %s: %w", path, err)
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("role mapping %s: %w", path, err)
	}
	return &m, nil
}

// Check refuses a mapping that names an unknown role or gives nobody any.
func (m *Mapping) Check() error {
	for v, r := range m.Roles {
		if !knownRole(r) {
			return fmt.Errorf("group %q maps to %q, which is not a role (operator, ministry, establishment, analyst)", v, r)
		}
		if r == Establishment {
			return fmt.Errorf("group %q maps to establishment: that role comes with its FINESS, from the establishment claim only", v)
		}
	}
	for s, rs := range m.Subjects {
		for _, r := range rs {
			if !knownRole(r) || r == Establishment {
				return fmt.Errorf("subject %q: %q is not a role a subject can be given (operator, ministry, analyst)", s, r)
			}
		}
	}
	if len(m.Roles) > 0 && m.RolesClaim == "" {
		return errors.New("roles are mapped but roles_claim is empty")
	}
	if m.Establishment != nil && m.Establishment.Claim == "" {
		return errors.New("establishment: claim is empty")
	}
	if len(m.Roles) == 0 && len(m.Subjects) == 0 && m.Establishment == nil {
		return errors.New("it gives no role to anybody")
	}
	return nil
}

// Apply reads the roles and establishments of verified claims.
func (m *Mapping) Apply(claims map[string]any) (roles []Role, finess []string) {
	add := func(r Role) {
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	if m.RolesClaim != "" {
		for _, v := range claimStrings(claims, m.RolesClaim) {
			if r, ok := m.Roles[v]; ok {
				add(r)
			}
		}
	}
	if sub, _ := claims["sub"].(string); sub != "" {
		for _, r := range m.Subjects[sub] {
			add(r)
		}
	}
	if m.Establishment != nil {
		for _, v := range claimStrings(claims, m.Establishment.Claim) {
			f, ok := strings.CutPrefix(v, m.Establishment.Prefix)
			if ok && finessPattern.MatchString(f) && !slices.Contains(finess, f) {
				finess = append(finess, f)
			}
		}
		if len(finess) > 0 {
			add(Establishment)
		}
	}
	slices.Sort(finess)
	return roles, finess
}

// claimStrings walks a dotted path through objects and lists and returns
// the strings found at its end.
func claimStrings(v any, path string) []string {
	var out []string
	var walk func(v any, parts []string)
	walk = func(v any, parts []string) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e, parts)
			}
		case map[string]any:
			if len(parts) > 0 {
				walk(x[parts[0]], parts[1:])
			}
		case string:
			if len(parts) == 0 {
				out = append(out, x)
			}
		}
	}
	walk(v, strings.Split(path, "."))
	return out
}

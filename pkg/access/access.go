// Package access lets people and scripts into the indicators service and
// keeps a trail of what they read and changed.
//
// People sign in with OpenID Connect (authorization code flow, PKCE) and
// keep a sealed session cookie; scripts send a bearer token of the same
// issuer. A Mapping turns the verified claims into roles and, for hospital
// staff, the establishments (FINESS) they may see. A Guard wraps each route
// with the roles it admits, narrows establishment users to their own
// FINESS, checks CSRF on POSTs, sets the security headers and writes one
// line per decision to the access journal and the log.
package access

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// Role is what a signed-in caller may do.
type Role string

// The roles of the indicators service (docs/security.md).
const (
	// Operator: everything, declared counts included.
	Operator Role = "operator"
	// Ministry: every establishment's indicators and the DGOS export.
	Ministry Role = "ministry"
	// Establishment: its own FINESS only (reception report, MR.1, MR.2).
	Establishment Role = "establishment"
	// Analyst: epidemiology.
	Analyst Role = "analyst"
)

// Roles lists the roles from the widest to the narrowest: a caller with
// several is served under the first one a route admits.
var Roles = []Role{Operator, Ministry, Analyst, Establishment}

func knownRole(r Role) bool { return slices.Contains(Roles, r) }

// Principal is who is calling, as the token said and the Mapping read it.
type Principal struct {
	Subject string   `json:"subject"`
	Issuer  string   `json:"issuer"`
	Name    string   `json:"name,omitempty"`
	Roles   []Role   `json:"roles"`
	FINESS  []string `json:"finess,omitempty"` // establishment role: the establishments it may see
	// Via: session (cookie), bearer (Authorization header) or none (--auth none).
	Via     string    `json:"via"`
	Expires time.Time `json:"expires"`
	// CSRF is the session's token, to send back with every POST.
	CSRF string `json:"csrf,omitempty"`
}

// Has reports whether the principal holds a role.
func (p *Principal) Has(r Role) bool { return slices.Contains(p.Roles, r) }

// Owns reports whether an establishment user may see this FINESS.
func (p *Principal) Owns(finess string) bool { return slices.Contains(p.FINESS, finess) }

// Caller is the principal of a request and the role it is served under.
type Caller struct {
	*Principal
	Role Role
}

type callerKey struct{}

// WithCaller returns a context carrying the caller of a request.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerOf returns the caller a Guard let through.
func CallerOf(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok && c.Principal != nil
}

func mustJSON(v any) []byte {
	b, _ := json.MarshalIndent(v, "", "  ")
	return b
}

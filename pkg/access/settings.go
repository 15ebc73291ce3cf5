package access

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Settings is how a service is told to let callers in (flags of the
// indicators service and of `bndmrctl dashboard`).
type Settings struct {
	// Mode: oidc, or none (loopback demos only).
	Mode              string
	Issuer            string
	ClientID          string
	ClientSecretFile  string
	PublicURL         string
	Audiences         string // comma-separated
	Scopes            string // comma-separated
	RolesFile         string
	SessionSecretFile string
	SessionTTL        time.Duration
}

// Guard builds the guard of a service listening on addr.
func (s Settings) Guard(ctx context.Context, addr string, j Journal, log *zap.Logger) (*Guard, error) {
	switch s.Mode {
	case "none":
		if err := CheckNoneAddr(addr); err != nil {
			return nil, err
		}
		return &Guard{Auth: None{}, Journal: j, Log: log}, nil
	case "oidc":
	default:
		return nil, fmt.Errorf("--auth %q: expected oidc or none", s.Mode)
	}
	if s.RolesFile == "" {
		return nil, fmt.Errorf("--auth oidc needs a role mapping (--oidc-roles FILE; docs/security.md)")
	}
	m, err := LoadMapping(s.RolesFile)
	if err != nil {
		return nil, err
	}
	var secret, session []byte
	if s.ClientSecretFile != "" {
		if secret, err = os.ReadFile(s.ClientSecretFile); err != nil {
			return nil, fmt.Errorf("reading the OpenID Connect client secret: %w", err)
		}
	}
	if s.SessionSecretFile == "" {
		return nil, fmt.Errorf("--auth oidc needs --session-secret-file (32 random bytes or more, the same on every replica)")
	}
	if session, err = os.ReadFile(s.SessionSecretFile); err != nil {
		return nil, fmt.Errorf("reading the session secret: %w", err)
	}
	o, err := NewOIDC(ctx, Config{Issuer: s.Issuer, ClientID: s.ClientID, ClientSecret: strings.TrimSpace(string(secret)),
		PublicURL: s.PublicURL, Audiences: list(s.Audiences), Scopes: list(s.Scopes), Mapping: m, SessionSecret: session,
		SessionTTL: s.SessionTTL})
	if err != nil {
		return nil, err
	}
	return &Guard{Auth: o, Journal: j, Log: log}, nil
}

func list(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

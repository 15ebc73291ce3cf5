package access

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/service"
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

// DefaultSettings are the indicators' sign-in defaults: OpenID Connect,
// sessions of 8 hours.
func DefaultSettings() Settings { return Settings{Mode: "oidc", SessionTTL: 8 * time.Hour} }

// RegisterFlags declares the sign-in settings with s's values as defaults
// (the indicators service, `bndmrctl dashboard`): --PREFIX-auth … with an
// empty prefix, --auth, --oidc-issuer, --public-url, --session-ttl….
func (s *Settings) RegisterFlags(f *service.Flags, prefix string) {
	n := func(name string) string { return service.Name(prefix, name) }
	f.String(&s.Mode, n("auth"), s.Mode, "sign-in: oidc, or none (everyone is operator; loopback addresses only)")
	f.String(&s.Issuer, n("oidc-issuer"), s.Issuer, "OpenID Connect issuer URL")
	f.String(&s.ClientID, n("oidc-client-id"), s.ClientID, "OpenID Connect client id of the indicators")
	f.String(&s.ClientSecretFile, n("oidc-client-secret-file"), s.ClientSecretFile, "file holding the client secret")
	f.String(&s.PublicURL, n("public-url"), s.PublicURL, "https:// address people reach the indicators at (callback: /auth/callback)")
	f.String(&s.Audiences, n("oidc-audiences"), s.Audiences, "audiences accepted in scripts' bearer tokens besides the client id (comma-separated)")
	f.String(&s.Scopes, n("oidc-scopes"), s.Scopes, "scopes asked besides openid and profile (Pro Santé Connect: scope_all)")
	f.String(&s.RolesFile, n("oidc-roles"), s.RolesFile, "role mapping file (JSON; docs/security.md)")
	f.String(&s.SessionSecretFile, n("session-secret-file"), s.SessionSecretFile, "file of 32+ random bytes sealing session cookies")
	f.Duration(&s.SessionTTL, n("session-ttl"), s.SessionTTL, "how long a session lasts")
}

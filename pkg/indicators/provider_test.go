package indicators

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// provider is a real OpenID Connect provider on loopback: the OP of
// github.com/zitadel/oidc (discovery, keys, authorization code with PKCE,
// client credentials, userinfo), over the in-memory storage of its example
// server, with the claims of each test user added. Nothing in it is a
// stand-in for the verifier: the service under test reads its discovery
// document and keys and checks its tokens as it would any provider's.
type provider struct {
	URL string
	st  *providerStorage
}

// testUser is a person who signs in with a password through the
// provider's login page.
type testUser struct {
	id, username string
	idClaims     map[string]any // in the ID token (and userinfo)
	infoClaims   map[string]any // in userinfo only, as Pro Santé Connect gives the structure
}

// testScript is a client of the client credentials grant: a script.
type testScript struct {
	id, secret string
	claims     map[string]any
	lifetime   time.Duration // of its access tokens (0: the provider's)
}

const providerPassword = "verysecure"

func newProvider(t *testing.T, clientID, clientSecret, redirectURI string, users []testUser, scripts []testScript) *provider {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	all := map[string]*storage.User{}
	for _, u := range users {
		all[u.id] = &storage.User{ID: u.id, Username: u.username, Password: providerPassword, FirstName: u.username, LastName: "Test",
			Email: u.username + "@example.org", EmailVerified: true}
	}
	b, _ := json.Marshal(all)
	path := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	us, err := storage.StoreFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st := &providerStorage{
		Storage: storage.NewStorageWithClients(us, map[string]*storage.Client{clientID: storage.WebClient(clientID, clientSecret, redirectURI)}),
		users:   map[string]testUser{}, scripts: map[string]testScript{}, audience: clientID,
	}
	for _, u := range users {
		st.users[u.id] = u
	}
	for _, s := range scripts {
		st.scripts[s.id] = s
	}
	srv.Config.Handler = exampleop.SetupServer(issuer, st, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	srv.Start()
	t.Cleanup(srv.Close)
	return &provider{URL: issuer, st: st}
}

// providerStorage adds the test users' claims and the script clients to
// the example storage.
type providerStorage struct {
	*storage.Storage
	users    map[string]testUser
	scripts  map[string]testScript
	audience string
}

func (s *providerStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, token, scopes); err != nil {
		return err
	}
	for k, v := range s.users[token.GetSubject()].idClaims {
		ui.AppendClaims(k, v)
	}
	return nil
}

func (s *providerStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	u := s.users[subject]
	for _, cs := range []map[string]any{u.idClaims, u.infoClaims} {
		for k, v := range cs {
			ui.AppendClaims(k, v)
		}
	}
	return nil
}

func (s *providerStorage) ClientCredentials(ctx context.Context, clientID, clientSecret string) (op.Client, error) {
	sc, ok := s.scripts[clientID]
	if !ok || sc.secret != clientSecret {
		return nil, errors.New("wrong client or secret")
	}
	return scriptClient{sc.id}, nil
}

func (s *providerStorage) ClientCredentialsTokenRequest(ctx context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	if _, ok := s.scripts[clientID]; !ok {
		return nil, errors.New("wrong client")
	}
	return &oidc.JWTTokenRequest{Subject: clientID, Audience: []string{s.audience}, Scopes: scopes}, nil
}

func (s *providerStorage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	id, exp, err := s.Storage.CreateAccessToken(ctx, req)
	if sc, ok := s.scripts[req.GetSubject()]; ok && sc.lifetime > 0 {
		exp = time.Now().Add(sc.lifetime)
	}
	return id, exp, err
}

func (s *providerStorage) GetPrivateClaimsFromScopes(ctx context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	claims, err := s.Storage.GetPrivateClaimsFromScopes(ctx, userID, clientID, scopes)
	if err != nil {
		return nil, err
	}
	if sc, ok := s.scripts[userID]; ok {
		if claims == nil {
			claims = map[string]any{}
		}
		for k, v := range sc.claims {
			claims[k] = v
		}
	}
	return claims, nil
}

// scriptClient: a confidential client of the client credentials grant
// whose access tokens are JWTs, as scripts get from most providers.
type scriptClient struct{ id string }

func (c scriptClient) GetID() string                     { return c.id }
func (scriptClient) RedirectURIs() []string              { return nil }
func (scriptClient) PostLogoutRedirectURIs() []string    { return nil }
func (scriptClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (scriptClient) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (scriptClient) ResponseTypes() []oidc.ResponseType  { return nil }
func (scriptClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeClientCredentials}
}
func (scriptClient) LoginURL(string) string               { return "" }
func (scriptClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (scriptClient) IDTokenLifetime() time.Duration       { return time.Hour }
func (scriptClient) DevMode() bool                        { return false }
func (scriptClient) IsScopeAllowed(string) bool           { return false }
func (scriptClient) IDTokenUserinfoClaimsAssertion() bool { return false }
func (scriptClient) ClockSkew() time.Duration             { return 0 }
func (scriptClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (scriptClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// scriptToken gets an access token with the client credentials grant.
func (p *provider) scriptToken(t *testing.T, id, secret string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials&scope=openid"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error_description"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	if resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("client credentials for %s: %d %s", id, resp.StatusCode, tok.Error)
	}
	return tok.AccessToken
}

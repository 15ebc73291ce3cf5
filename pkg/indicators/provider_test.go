package indicators

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	// noEndSession hides end_session_endpoint from the discovery document,
	// as a provider without RP-initiated logout.
	noEndSession atomic.Bool
	mu           sync.Mutex
	endSessions  []url.Values // the queries of the calls to end_session
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
		webClient: clientID, postLogout: strings.TrimSuffix(redirectURI, "/auth/callback") + "/auth/logged-out",
		tokens: map[string][]string{},
	}
	for _, u := range users {
		st.users[u.id] = u
	}
	for _, s := range scripts {
		st.scripts[s.id] = s
	}
	p := &provider{URL: issuer, st: st}
	handler := exampleop.SetupServer(issuer, st, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/end_session":
			r.ParseForm()
			p.mu.Lock()
			p.endSessions = append(p.endSessions, r.Form)
			p.mu.Unlock()
		case "/.well-known/openid-configuration":
			if p.noEndSession.Load() {
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, r)
				doc := map[string]any{}
				json.Unmarshal(rec.Body.Bytes(), &doc)
				delete(doc, "end_session_endpoint")
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(doc)
				return
			}
		}
		handler.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}

// endSessionCalls returns the queries end_session was called with.
func (p *provider) endSessionCalls() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.endSessions)
}

// providerStorage adds the test users' claims and the script clients to
// the example storage.
type providerStorage struct {
	*storage.Storage
	users    map[string]testUser
	scripts  map[string]testScript
	audience string
	// webClient may come back to postLogout after the provider's sign-out
	// (the example's clients register no post_logout_redirect_uri).
	webClient, postLogout string
	mu                    sync.Mutex
	tokens                map[string][]string // subject: the ids of the access tokens issued to it
	terminated            []string            // "subject client" of each session the provider ended
}

func (s *providerStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err == nil && id == s.webClient {
		c = postLogoutClient{c, []string{s.postLogout}}
	}
	return c, err
}

// postLogoutClient is a client with its post_logout_redirect_uris.
type postLogoutClient struct {
	op.Client
	uris []string
}

func (c postLogoutClient) PostLogoutRedirectURIs() []string { return c.uris }

func (s *providerStorage) TerminateSession(ctx context.Context, userID, clientID string) error {
	s.mu.Lock()
	s.terminated = append(s.terminated, userID+" "+clientID)
	s.mu.Unlock()
	return s.Storage.TerminateSession(ctx, userID, clientID)
}

// liveTokens counts the access tokens issued to subject that the provider
// still honours (its userinfo would answer them).
func (s *providerStorage) liveTokens(subject string) int {
	s.mu.Lock()
	ids := slices.Clone(s.tokens[subject])
	s.mu.Unlock()
	n := 0
	for _, id := range ids {
		if s.Storage.SetUserinfoFromToken(context.Background(), &oidc.UserInfo{}, id, subject, "") == nil {
			n++
		}
	}
	return n
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
	if err == nil {
		s.mu.Lock()
		s.tokens[req.GetSubject()] = append(s.tokens[req.GetSubject()], id)
		s.mu.Unlock()
	}
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

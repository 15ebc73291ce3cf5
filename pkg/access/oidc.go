package access

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.uber.org/zap"
	"golang.org/x/oauth2"
)

// Config configures sign-in with an OpenID Connect provider.
type Config struct {
	// Issuer is the provider's issuer URL (its discovery document is read
	// from Issuer + "/.well-known/openid-configuration").
	Issuer       string
	ClientID     string
	ClientSecret string
	// PublicURL is where people reach the service (https://…); the
	// provider sends them back to PublicURL + "/auth/callback".
	PublicURL string
	// Audiences are accepted in bearer tokens besides ClientID (the
	// audience a provider gives to script clients' access tokens).
	Audiences []string
	// Scopes are asked besides openid and profile (Pro Santé Connect:
	// "scope_all", for the structure of the professional).
	Scopes  []string
	Mapping *Mapping
	// SessionSecret seals the session cookies; every replica needs the same.
	SessionSecret []byte
	// SessionTTL bounds a session (0: 8 hours); signing in again renews it.
	SessionTTL time.Duration
	// HTTPClient reaches the provider (nil: http.DefaultClient).
	HTTPClient *http.Client
}

// OIDC authenticates callers with an OpenID Connect provider: a session
// cookie made at sign-in for people, a bearer token for scripts.
type OIDC struct {
	cfg      Config
	provider *oidc.Provider
	oauth    oauth2.Config
	seal     *sealer
	// endSession is the provider's end_session_endpoint (OpenID Connect
	// RP-Initiated Logout 1.0), empty when its discovery document names none.
	endSession string
	// now is the clock tokens and sessions are checked against.
	now func() time.Time
}

// NewOIDC reads the provider's discovery document and checks the configuration.
func NewOIDC(ctx context.Context, cfg Config) (*OIDC, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("the OpenID Connect issuer is not set (--oidc-issuer)")
	case cfg.ClientID == "":
		return nil, errors.New("the OpenID Connect client id is not set (--oidc-client-id)")
	case cfg.Mapping == nil:
		return nil, errors.New("no role mapping (--oidc-roles)")
	}
	pub, err := url.Parse(cfg.PublicURL)
	if err != nil || (pub.Scheme != "https" && !(pub.Scheme == "http" && loopbackHost(pub.Hostname()))) || pub.Host == "" {
		return nil, fmt.Errorf("public URL %q: give the https:// address people reach the service at (--public-url)", cfg.PublicURL)
	}
	seal, err := newSealer(cfg.SessionSecret)
	if err != nil {
		return nil, err
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	}
	p, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("reading the discovery document of %s: %w", cfg.Issuer, err)
	}
	var disc struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&disc); err != nil {
		return nil, fmt.Errorf("reading the discovery document of %s: %w", cfg.Issuer, err)
	}
	if disc.EndSession != "" {
		u, err := url.Parse(disc.EndSession)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, fmt.Errorf("the discovery document of %s names an end_session_endpoint that is not a URL: %q", cfg.Issuer, disc.EndSession)
		}
	}
	o := &OIDC{cfg: cfg, provider: p, seal: seal, endSession: disc.EndSession, now: time.Now}
	o.oauth = oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: strings.TrimSuffix(cfg.PublicURL, "/") + "/auth/callback",
		Scopes:      append([]string{oidc.ScopeOpenID, "profile"}, cfg.Scopes...)}
	return o, nil
}

func (o *OIDC) ctx(ctx context.Context) context.Context {
	if o.cfg.HTTPClient != nil {
		return oidc.ClientContext(ctx, o.cfg.HTTPClient)
	}
	return ctx
}

// errNoCredentials: the request carries neither a bearer token nor a session.
var errNoCredentials = errors.New("not signed in")

// Authenticate returns the caller of a request: the bearer token when
// there is one, else the session cookie.
func (o *OIDC) Authenticate(r *http.Request) (*Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		raw, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, errors.New("the Authorization header is not a bearer token")
		}
		return o.bearer(r.Context(), strings.TrimSpace(raw))
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, errNoCredentials
	}
	var ss session
	if err := o.seal.open(sessionCookie, c.Value, &ss); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	if !o.now().Before(ss.Expires) {
		return nil, errors.New("the session has expired: sign in again")
	}
	p := ss.Principal
	p.Via = "session"
	return &p, nil
}

// session is what the session cookie holds: the caller, and the ID token of
// the sign-in, sent back to the provider as id_token_hint at sign-out. The
// Principal is embedded so that its fields stay where they were in the
// cookie: a session opened before the ID token was kept still opens (and
// signs out locally only).
type session struct {
	Principal
	IDToken string `json:"id_token,omitempty"`
}

// maxCookie is the longest session cookie value kept with its ID token:
// browsers drop cookies past 4096 bytes (name and attributes included).
const maxCookie = 3800

// bearer verifies a token from a script: signed by the issuer's keys, of
// the issuer, not expired, and meant for this service (ClientID or one of
// Audiences).
func (o *OIDC) bearer(ctx context.Context, raw string) (*Principal, error) {
	v := o.provider.Verifier(&oidc.Config{SkipClientIDCheck: true, Now: o.now})
	tok, err := v.Verify(o.ctx(ctx), raw)
	if err != nil {
		return nil, fmt.Errorf("bearer token refused: %w", err)
	}
	accepted := append([]string{o.cfg.ClientID}, o.cfg.Audiences...)
	if !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(accepted, a) }) {
		return nil, fmt.Errorf("bearer token refused: its audience %v is not this service", tok.Audience)
	}
	claims := map[string]any{}
	if err := tok.Claims(&claims); err != nil {
		return nil, fmt.Errorf("bearer token: %w", err)
	}
	p := o.principal(tok, claims)
	p.Via = "bearer"
	p.Expires = tok.Expiry
	return p, nil
}

func (o *OIDC) principal(tok *oidc.IDToken, claims map[string]any) *Principal {
	roles, finess := o.cfg.Mapping.Apply(claims)
	p := &Principal{Subject: tok.Subject, Issuer: tok.Issuer, Roles: roles, FINESS: finess}
	for _, k := range []string{"name", "preferred_username", "client_id"} {
		if s, _ := claims[k].(string); s != "" {
			p.Name = s
			break
		}
	}
	return p
}

// loginState is what the browser keeps between /auth/login and the callback.
type loginState struct {
	State, Nonce, Verifier, Next string
	Expires                      time.Time
}

// mount registers the sign-in routes.
func (o *OIDC) mount(mux *http.ServeMux, g *Guard) {
	mux.HandleFunc("GET /auth/login", o.login)
	mux.HandleFunc("GET /auth/callback", func(w http.ResponseWriter, r *http.Request) { o.callback(w, r, g) })
	mux.Handle("POST /auth/logout", g.Headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { o.logout(w, r, g) })))
	mux.Handle("GET /auth/logged-out", g.Headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.page(w, r, http.StatusOK, "Déconnecté", "Votre session est close ici et chez le fournisseur d'identité.")
	})))
}

// postLogoutPath is where the provider sends the browser back after
// ending its session: register PublicURL + postLogoutPath at the provider
// as a post_logout_redirect_uri of the client.
const postLogoutPath = "/auth/logged-out"

// logout closes the session here, then, when the provider advertises an
// end_session_endpoint and the session holds the ID token of its sign-in,
// sends the browser there (OpenID Connect RP-Initiated Logout 1.0) to close
// the provider's session too: otherwise the next "Se connecter" on a shared
// workstation would sign the same person in again without a password.
// Without either, the sign-out is local only and the page says so.
func (o *OIDC) logout(w http.ResponseWriter, r *http.Request, g *Guard) {
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		g.page(w, r, http.StatusForbidden, "Requête refusée", "Une déconnexion venue d'un autre site est refusée.")
		return
	}
	var ss session
	if c, err := r.Cookie(sessionCookie); err == nil {
		_ = o.seal.open(sessionCookie, c.Value, &ss) // an unreadable session is closed all the same
	}
	setCookie(w, sessionCookie, "", time.Time{})
	g.logSignOut(r, &ss.Principal, o.endSession != "" && ss.IDToken != "")
	switch {
	case o.endSession != "" && ss.IDToken != "":
		http.Redirect(w, r, o.EndSessionURL(ss.IDToken), http.StatusSeeOther)
	case o.endSession != "":
		g.page(w, r, http.StatusOK, "Déconnecté ici seulement",
			"Votre session est close sur ce service. Elle n'a pas pu l'être chez le fournisseur d'identité (la session ne gardait pas "+
				"le jeton d'identité de la connexion) : fermez le navigateur ou déconnectez-vous chez lui.")
	default:
		g.page(w, r, http.StatusOK, "Déconnecté ici seulement",
			"Votre session est close sur ce service. Le fournisseur d'identité ne propose pas de déconnexion aux services "+
				"(pas d'end_session_endpoint) : votre session chez lui reste ouverte ; fermez le navigateur ou déconnectez-vous chez lui.")
	}
}

// EndSessionURL is where the browser is sent to end the provider's session:
// the end_session_endpoint with the ID token of the sign-in as id_token_hint,
// the client id and where to come back. Empty when the provider has none.
func (o *OIDC) EndSessionURL(idToken string) string {
	if o.endSession == "" {
		return ""
	}
	u, _ := url.Parse(o.endSession) // checked by NewOIDC
	q := u.Query()
	q.Set("id_token_hint", idToken)
	q.Set("client_id", o.cfg.ClientID)
	q.Set("post_logout_redirect_uri", strings.TrimSuffix(o.cfg.PublicURL, "/")+postLogoutPath)
	u.RawQuery = q.Encode()
	return u.String()
}

// endSessionOrigin is the origin of the provider's end_session_endpoint,
// which the pages' CSP must admit as a form-action: browsers apply
// form-action to the redirects that follow a form's POST as well.
func (o *OIDC) endSessionOrigin() string {
	if o.endSession == "" {
		return ""
	}
	u, _ := url.Parse(o.endSession)
	return u.Scheme + "://" + u.Host
}

// login starts the authorization code flow, with PKCE and a nonce.
func (o *OIDC) login(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		next = "/" // only paths of this service: no open redirect
	}
	st := loginState{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(), Next: next,
		Expires: o.now().Add(10 * time.Minute)}
	v, err := o.seal.seal(loginCookie, st)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	setCookie(w, loginCookie, v, st.Expires)
	http.Redirect(w, r, o.oauth.AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)), http.StatusFound)
}

// callback ends the flow: exchanges the code, verifies the ID token (issuer,
// audience, expiry, signature, nonce), reads the userinfo (Pro Santé Connect
// gives the structure there), maps the claims and opens the session.
func (o *OIDC) callback(w http.ResponseWriter, r *http.Request, g *Guard) {
	fail := func(f *loginFailure) {
		g.logDenied(r, "", "callback: "+f.reason, f.err)
		g.page(w, r, http.StatusUnauthorized, "Connexion impossible", f.reason+" Recommencez depuis la page d'accueil.")
	}
	st, f := o.callbackState(w, r)
	if f != nil {
		fail(f)
		return
	}
	idt, raw, claims, f := o.identify(o.ctx(r.Context()), r, st)
	if f != nil {
		fail(f)
		return
	}
	p := o.principal(idt, claims)
	p.Expires = o.now().Add(o.cfg.SessionTTL)
	p.CSRF = randomToken()
	v, err := o.seal.seal(sessionCookie, session{Principal: *p, IDToken: raw})
	if err == nil && len(v) > maxCookie {
		// Too long a cookie would be dropped: keep the session, sign out locally only.
		if g.Log != nil {
			g.Log.Warn("the ID token is too long to keep in the session: sign-out will be local only", zap.Int("cookie_bytes", len(v)))
		}
		v, err = o.seal.seal(sessionCookie, session{Principal: *p})
	}
	if err != nil {
		fail(&loginFailure{"La session n'a pas pu être ouverte.", err})
		return
	}
	setCookie(w, sessionCookie, v, p.Expires)
	g.logSignIn(r, p)
	http.Redirect(w, r, st.Next, http.StatusFound)
}

// loginFailure is why a sign-in ends: the reason shown to the person, the
// error logged.
type loginFailure struct {
	reason string
	err    error
}

// callbackState reads (and clears) the login cookie the sign-in started
// with, and checks the provider's answer belongs to it.
func (o *OIDC) callbackState(w http.ResponseWriter, r *http.Request) (loginState, *loginFailure) {
	var st loginState
	c, err := r.Cookie(loginCookie)
	if err != nil {
		return st, &loginFailure{"La connexion n'a pas été commencée ici (ou a pris plus de dix minutes).", err}
	}
	setCookie(w, loginCookie, "", time.Time{})
	if err := o.seal.open(loginCookie, c.Value, &st); err != nil || !o.now().Before(st.Expires) {
		return st, &loginFailure{"La connexion a expiré.", err}
	}
	if e := r.URL.Query().Get("error"); e != "" {
		return st, &loginFailure{"Le fournisseur d'identité a refusé la connexion (" + e + ").", nil}
	}
	if subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("state")), []byte(st.State)) != 1 {
		return st, &loginFailure{"La réponse du fournisseur d'identité ne correspond pas à cette connexion.", nil}
	}
	return st, nil
}

// identify exchanges the code for tokens and returns the verified ID token
// (and its raw form) with the claims of the person: the ID token's, over
// the user info endpoint's when the provider has one.
func (o *OIDC) identify(ctx context.Context, r *http.Request, st loginState) (*oidc.IDToken, string, map[string]any, *loginFailure) {
	tok, err := o.oauth.Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return nil, "", nil, &loginFailure{"Le code de connexion a été refusé.", err}
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := o.provider.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, Now: o.now}).Verify(ctx, raw)
	if err != nil {
		return nil, "", nil, &loginFailure{"Le jeton d'identité est invalide.", err}
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return nil, "", nil, &loginFailure{"Le jeton d'identité ne correspond pas à cette connexion.", nil}
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, "", nil, &loginFailure{"Le jeton d'identité est illisible.", err}
	}
	if o.provider.UserInfoEndpoint() == "" {
		return idt, raw, claims, nil
	}
	ui, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, "", nil, &loginFailure{"Les informations du compte n'ont pas pu être lues.", err}
	}
	extra := map[string]any{}
	if err := ui.Claims(&extra); err != nil {
		return nil, "", nil, &loginFailure{"Les informations du compte sont illisibles.", err}
	}
	if ui.Subject != idt.Subject {
		return nil, "", nil, &loginFailure{"Les informations du compte sont celles d'un autre sujet.", nil}
	}
	// The ID token wins where both speak: it is the signed one.
	maps.Copy(extra, claims)
	return idt, raw, extra, nil
}

// None lets everyone in as a demonstration user holding every role. It is
// for loopback demos only: CheckNoneAddr refuses any other address.
type None struct{}

// Authenticate returns the demonstration user.
func (None) Authenticate(*http.Request) (*Principal, error) {
	return &Principal{Subject: "demo", Name: "démonstration (--auth none)", Roles: slices.Clone(Roles), Via: "none"}, nil
}

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>{{.Title}} — indicateurs BNDMR</title>
<style>body{font-family:"DejaVu Sans",Arial,sans-serif;margin:48px;color:#1e1e1e}h1{color:#000091;font-size:22px}</style></head>
<body><h1>{{.Title}}</h1><p>{{.Text}}</p>
{{if .Who}}<p>Connecté en tant que <b>{{.Who}}</b>{{if .Roles}} (rôles : {{.Roles}}){{end}}.</p>{{end}}
<p>{{if .Login}}<a href="/auth/login?next={{.Next}}">Se connecter</a>{{else}}<a href="/">Accueil</a>{{end}}</p>
{{if .Logout}}<form method="post" action="/auth/logout"><button>Se déconnecter</button></form>{{end}}
</body></html>
`))

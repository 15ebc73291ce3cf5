package access

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/store"
)

// Authenticator says who is calling.
type Authenticator interface {
	Authenticate(r *http.Request) (*Principal, error)
}

// Journal keeps the access journal (store.Store writes audit_access).
type Journal interface {
	InsertAccess(ctx context.Context, as ...store.Access) error
}

// Guard admits callers to routes by role, narrows establishment users to
// their own FINESS, checks CSRF on POSTs, sets the security headers and
// journals every decision.
type Guard struct {
	Auth    Authenticator
	Journal Journal
	Log     *zap.Logger
	now     func() time.Time
}

// Rule says who may call a route.
type Rule struct {
	// Roles admitted, in any order; a caller holding several is served under
	// the widest (Roles order).
	Roles []Role
	// Scoped routes take ?finess=: an establishment user gets only its own,
	// and its own by default when it has one.
	Scoped bool
}

// Mount registers the sign-in routes (/auth/login, /auth/callback,
// /auth/logout, /auth/logged-out) when callers sign in with OpenID Connect, and /auth/me,
// which tells the caller who they are and the CSRF token to send with POSTs.
func (g *Guard) Mount(mux *http.ServeMux) {
	if o, ok := g.Auth.(*OIDC); ok {
		o.mount(mux, g)
	}
	mux.Handle("GET /auth/me", g.Headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := g.Auth.Authenticate(r)
		if err != nil {
			g.unauthenticated(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprintf(w, "%s\n", mustJSON(p))
	})))
}

// Headers sets the security headers of every answer: a CSP that allows
// only this service's own resources and inline styles (the pages have no
// script), no framing, no MIME sniffing, no referrer (query strings carry
// FINESS and periods), and no caching of figures.
func (g *Guard) Headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		formAction := "'self'"
		if o, ok := g.Auth.(*OIDC); ok && o.endSessionOrigin() != "" {
			// The sign-out form's POST is redirected to the provider.
			formAction += " " + o.endSessionOrigin()
		}
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "+
			"form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		if _, ok := g.Auth.(*OIDC); ok {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.ServeHTTP(w, r)
	})
}

// Route wraps a handler with the rule of its route; route names it in the
// journal (its path, without parameters).
func (g *Guard) Route(route string, rule Rule, h http.Handler) http.Handler {
	return g.Headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := g.Auth.Authenticate(r)
		if err != nil {
			g.logDenied(r, route, "not signed in", err)
			g.unauthenticated(w, r, err)
			return
		}
		a := store.Access{At: g.clock(), Subject: p.Subject, Issuer: p.Issuer, Name: p.Name, Method: r.Method, Route: route,
			FINESS: r.URL.Query().Get("finess"), Period: period(r), Via: p.Via}
		deny := func(reason, text string) {
			a.Decision = "denied: " + reason
			g.journal(r.Context(), a)
			g.pageFor(w, r, p, http.StatusForbidden, "Accès refusé", text)
		}
		var role Role
		for _, x := range Roles {
			if p.Has(x) && slices.Contains(rule.Roles, x) {
				role = x
				break
			}
		}
		if role == "" {
			deny("role", "Vos rôles ne donnent pas accès à cette page ("+roleList(rule.Roles)+" seulement).")
			return
		}
		a.Role = string(role)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if reason := g.csrf(r, p); reason != "" {
				deny("csrf", reason)
				return
			}
		}
		if rule.Scoped && role == Establishment {
			fin := r.URL.Query().Get("finess")
			switch {
			case fin == "" && len(p.FINESS) == 1:
				fin = p.FINESS[0]
				q := r.URL.Query()
				q.Set("finess", fin)
				r.URL.RawQuery = q.Encode()
				a.FINESS = fin
			case fin == "":
				deny("finess", "Choisissez l'établissement (?finess=) parmi les vôtres : "+strings.Join(p.FINESS, ", ")+".")
				return
			case !p.Owns(fin):
				deny("finess", "Votre compte donne accès aux chiffres de "+strings.Join(p.FINESS, ", ")+" seulement.")
				return
			}
		}
		a.Decision = "allowed"
		if err := g.journal(r.Context(), a); err != nil {
			// Nothing is served that the journal does not record.
			http.Error(w, "the access journal cannot be written; nothing is served without a trace", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), Caller{Principal: p, Role: role})))
	}))
}

// csrf checks a POST made with a session cookie: it must come from this
// site (Sec-Fetch-Site / Origin, net/http's CrossOriginProtection) and carry
// the session's token (X-CSRF-Token header or csrf form field). A bearer
// token is not sent by a browser on its own, so it needs neither.
func (g *Guard) csrf(r *http.Request, p *Principal) string {
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		return "Une requête venue d'un autre site est refusée."
	}
	if p.Via != "session" {
		return ""
	}
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		tok = r.PostFormValue("csrf")
	}
	if p.CSRF == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(p.CSRF)) != 1 {
		return "Le jeton anti-CSRF de la session manque ou ne correspond pas (en-tête X-CSRF-Token, donné par /auth/me)."
	}
	return ""
}

func (g *Guard) clock() time.Time {
	if g.now != nil {
		return g.now()
	}
	return time.Now()
}

// journal writes one decision to the log and to audit_access.
func (g *Guard) journal(ctx context.Context, a store.Access) error {
	if g.Log != nil {
		g.Log.Info("access", zap.String("subject", a.Subject), zap.String("issuer", a.Issuer), zap.String("role", a.Role),
			zap.String("method", a.Method), zap.String("route", a.Route), zap.String("finess", a.FINESS),
			zap.String("period", a.Period), zap.String("decision", a.Decision), zap.String("via", a.Via))
	}
	if g.Journal == nil {
		return errors.New("no access journal")
	}
	// The journal outlives a caller that hangs up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := g.Journal.InsertAccess(ctx, a); err != nil {
		if g.Log != nil {
			g.Log.Error("writing the access journal", zap.Error(err))
		}
		return err
	}
	return nil
}

// logDenied logs a refusal that has no caller to journal (no or a bad token).
func (g *Guard) logDenied(r *http.Request, route, reason string, err error) {
	if g.Log != nil {
		g.Log.Info("access refused", zap.String("route", route), zap.String("method", r.Method),
			zap.String("reason", reason), zap.Error(err))
	}
}

func (g *Guard) logSignIn(r *http.Request, p *Principal) {
	if g.Log != nil {
		g.Log.Info("signed in", zap.String("subject", p.Subject), zap.String("issuer", p.Issuer),
			zap.Strings("roles", rolesStrings(p.Roles)), zap.Strings("finess", p.FINESS))
	}
}

func (g *Guard) logSignOut(r *http.Request, p *Principal, atProvider bool) {
	if g.Log != nil {
		g.Log.Info("signed out", zap.String("subject", p.Subject), zap.String("issuer", p.Issuer), zap.Bool("at_provider", atProvider))
	}
}

// unauthenticated sends a browser to sign in, and a script a 401.
func (g *Guard) unauthenticated(w http.ResponseWriter, r *http.Request, err error) {
	_, oidcAuth := g.Auth.(*OIDC)
	if oidcAuth && r.Method == http.MethodGet && r.Header.Get("Authorization") == "" &&
		strings.Contains(r.Header.Get("Accept"), "text/html") && errors.Is(err, errNoCredentials) {
		http.Redirect(w, r, "/auth/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="bndmr-indicators"`)
	text := "Connectez-vous pour voir cette page."
	if !errors.Is(err, errNoCredentials) {
		text = "Vos identifiants ont été refusés : " + err.Error()
	}
	g.page(w, r, http.StatusUnauthorized, "Connexion requise", text)
}

type pageData struct {
	Title, Text, Who, Roles, Next string
	Login, Logout                 bool
}

func (g *Guard) page(w http.ResponseWriter, r *http.Request, status int, title, text string) {
	g.pageFor(w, r, nil, status, title, text)
}

// pageFor answers an error as a short page for a browser, as text otherwise.
func (g *Guard) pageFor(w http.ResponseWriter, r *http.Request, p *Principal, status int, title, text string) {
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Error(w, title+": "+text, status)
		return
	}
	d := pageData{Title: title, Text: text, Next: r.URL.RequestURI(), Login: status == http.StatusUnauthorized}
	if p != nil {
		d.Who, d.Roles, d.Logout = p.Subject, roleList(p.Roles), p.Via == "session"
		if p.Name != "" {
			d.Who = p.Name
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	pageTmpl.Execute(w, d)
}

// period is what the request asks about: from..to, or a month.
func period(r *http.Request) string {
	q := r.URL.Query()
	if m := q.Get("month"); m != "" {
		return m
	}
	from, to := q.Get("from"), q.Get("to")
	if to == "" || to == from {
		return from
	}
	return from + ".." + to
}

func roleList(rs []Role) string { return strings.Join(rolesStrings(rs), ", ") }

func rolesStrings(rs []Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// CheckNoneAddr refuses --auth none unless the service listens on loopback
// only: without sign-in, anyone who reaches the port can change the
// declared counts.
func CheckNoneAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if !loopbackHost(host) {
		return fmt.Errorf("--auth none serves everyone as operator: it listens on loopback only (127.0.0.1:PORT), not on %q", addr)
	}
	return nil
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

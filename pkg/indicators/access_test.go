package indicators

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/access"
	"github.com/bndmr/hub/pkg/store"
)

const (
	clientID     = "bndmr-indicateurs"
	clientSecret = "client-secret-of-the-test"
)

// structure is how Pro Santé Connect names a professional's structures in
// userinfo: "1" + FINESS for an establishment, "3" + SIRET for a company.
func structure(ids ...string) map[string]any {
	var acts []any
	for _, id := range ids {
		acts = append(acts, map[string]any{"ancienIdentifiantDeLaStructure": id, "raisonSocialeSite": "site " + id})
	}
	return map[string]any{"SubjectRefPro": map[string]any{"codeCivilite": "DR",
		"exercices": []any{map[string]any{"codeProfession": "10", "activities": acts}}}}
}

const mappingJSON = `{
  "roles_claim": "groups",
  "roles": {"bndmr-operateurs": "operator", "dgos": "ministry", "bndmr-analystes": "analyst"},
  "subjects": {"script-dgos": ["ministry"]},
  "establishment": {"claim": "SubjectRefPro.exercices.activities.ancienIdentifiantDeLaStructure", "prefix": "1"}
}`

// world is the indicators service behind sign-in, on the fixture, with a
// real provider beside it.
type world struct {
	t   *testing.T
	st  *store.Store
	svc *httptest.Server
	idp *provider
}

func newWorld(t *testing.T) *world { t.Helper(); return openWorld(t, true) }

// openWorld: endSession false makes the provider advertise no
// end_session_endpoint (no RP-initiated logout).
func openWorld(t *testing.T, endSession bool) *world {
	t.Helper()
	s := testStore(t)
	newFixture().load(t, s)
	svc := httptest.NewUnstartedServer(nil)
	svc.StartTLS()
	t.Cleanup(svc.Close)
	idp := newProvider(t, clientID, clientSecret, svc.URL+"/auth/callback", []testUser{
		{id: "u-op", username: "operatrice", idClaims: map[string]any{"groups": []any{"bndmr-operateurs"}}},
		{id: "u-min", username: "dgos", idClaims: map[string]any{"groups": []any{"dgos"}}},
		{id: "u-ana", username: "analyste", idClaims: map[string]any{"groups": []any{"bndmr-analystes"}}},
		{id: "u-est", username: "medecin-a", infoClaims: structure("1"+finA, "312345678900011")},
		{id: "u-none", username: "inconnu"},
	}, []testScript{
		{id: "script-op", secret: "s1", claims: map[string]any{"groups": []any{"bndmr-operateurs"}}},
		{id: "script-dgos", secret: "s2"},
		{id: "script-short", secret: "s3", claims: map[string]any{"groups": []any{"bndmr-operateurs"}}, lifetime: time.Second},
	})
	idp.noEndSession.Store(!endSession)
	mpath := filepath.Join(t.TempDir(), "roles.json")
	os.WriteFile(mpath, []byte(mappingJSON), 0o600)
	m, err := access.LoadMapping(mpath)
	if err != nil {
		t.Fatal(err)
	}
	o, err := access.NewOIDC(context.Background(), access.Config{Issuer: idp.URL, ClientID: clientID, ClientSecret: clientSecret,
		PublicURL: svc.URL, Mapping: m, SessionSecret: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	svc.Config.Handler = (&Server{X: New(s), Access: &access.Guard{Auth: o, Journal: s, Log: zap.NewNop()}}).Handler()
	return &world{t: t, st: s, svc: svc, idp: idp}
}

// browser is a person's browser: cookies, TLS to the service, and no
// automatic redirects once signed in (the test looks at each answer).
func (w *world) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := *w.svc.Client()
	c.Jar = jar
	return &c
}

// signIn goes through the authorization code flow: the service sends the
// browser to the provider, whose login page takes the password, and the
// provider sends it back to the service's callback.
func (w *world) signIn(username string) *http.Client {
	t := w.t
	t.Helper()
	c := w.browser()
	resp, err := c.Get(w.svc.URL + "/auth/login?next=/auth/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("sign-in did not reach the provider's login page: %s", resp.Request.URL)
	}
	resp, err = c.PostForm(w.idp.URL+"/login/username", url.Values{"username": {username}, "password": {providerPassword}, "id": {id}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/auth/me" {
		t.Fatalf("sign-in of %s ended at %s: %d %s", username, resp.Request.URL, resp.StatusCode, b)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func (w *world) me(c *http.Client) access.Principal {
	var p access.Principal
	resp, err := c.Get(w.svc.URL + "/auth/me")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&p)
	return p
}

type answer struct {
	status int
	body   string
	header http.Header
}

func do(t *testing.T, c *http.Client, method, u, token string, body string, hdr map[string]string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header}
}

// TestAccessRolesAgainstProvider signs each kind of user in at a real
// provider and checks that each role sees exactly its scope.
func TestAccessRolesAgainstProvider(t *testing.T) {
	w := newWorld(t)
	paths := []string{
		"/",
		"/api/mr2?from=2026-10",
		"/api/mr2?from=2026-10&finess=" + finA,
		"/api/mr2?from=2026-10&finess=" + finB,
		"/api/mr1?from=2026-10&finess=" + finB,
		"/api/dgos?month=2026-10",
		"/api/epidemiology",
		"/report?finess=" + finA + "&from=2026-11",
		"/report?finess=" + finB + "&from=2026-11",
		"/report?from=2026-11&format=json",
		"/api/documents-per-establishment",
	}
	want := map[string][]int{
		"operatrice": {200, 200, 200, 200, 200, 200, 200, 200, 200, 400, 200},
		"dgos":       {200, 200, 200, 200, 200, 200, 403, 200, 200, 400, 200},
		"analyste":   {403, 403, 403, 403, 403, 403, 200, 403, 403, 403, 403},
		// Its own FINESS only; its own by default; the dashboard sends it to its report.
		"medecin-a": {302, 200, 200, 403, 403, 403, 403, 200, 403, 200, 403},
		"inconnu":   {403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403},
	}
	for user, codes := range want {
		t.Run(user, func(t *testing.T) {
			c := w.signIn(user)
			for i, p := range paths {
				a := do(t, c, "GET", w.svc.URL+p, "", "", map[string]string{"Accept": "text/html"})
				if a.status != codes[i] {
					t.Errorf("%s GET %s: %d, want %d (%.200s)", user, p, a.status, codes[i], a.body)
				}
				if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") ||
					a.header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("%s GET %s: security headers missing: %v", user, p, a.header)
				}
			}
		})
	}
	// The establishment user's MR.2 without ?finess= is its own, not everyone's.
	c := w.signIn("medecin-a")
	if p := w.me(c); len(p.FINESS) != 1 || p.FINESS[0] != finA || p.Via != "session" {
		t.Errorf("establishment user: %+v (the SIRET of its other activity is not a FINESS)", p)
	}
	var rows []MR2
	a := do(t, c, "GET", w.svc.URL+"/api/mr2?from=2026-10", "", "", nil)
	if err := json.Unmarshal([]byte(a.body), &rows); err != nil || len(rows) != 1 || rows[0].FINESS != finA {
		t.Errorf("establishment MR.2: %v %s", err, a.body)
	}
	// Changing the query to another FINESS, or adding a second one, does not widen it.
	for _, q := range []string{"finess=" + finB, "finess=" + finB + "&finess=" + finA, "finess=" + finA + "&finess=" + finB} {
		a = do(t, c, "GET", w.svc.URL+"/api/mr2?from=2026-10&"+q, "", "", nil)
		if a.status == 200 && strings.Contains(a.body, finB) {
			t.Errorf("establishment user read %s with ?%s", finB, q)
		}
	}
	if a = do(t, c, "GET", w.svc.URL+"/", "", "", nil); a.status != 302 || a.header.Get("Location") != "/report" {
		t.Errorf("dashboard for an establishment: %d %v", a.status, a.header.Get("Location"))
	}
	// The ministry sees every establishment.
	cm := w.signIn("dgos")
	a = do(t, cm, "GET", w.svc.URL+"/api/mr2?from=2026-10", "", "", nil)
	if json.Unmarshal([]byte(a.body), &rows); len(rows) != 3 {
		t.Errorf("ministry MR.2: %s", a.body)
	}
	// Not signed in: a browser is sent to sign in, a script gets a 401.
	anon := w.browser()
	anon.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	a = do(t, anon, "GET", w.svc.URL+"/?month=2026-10", "", "", map[string]string{"Accept": "text/html"})
	if a.status != 302 || !strings.HasPrefix(a.header.Get("Location"), "/auth/login?next=") {
		t.Errorf("anonymous browser: %d %s", a.status, a.header.Get("Location"))
	}
	if a = do(t, anon, "GET", w.svc.URL+"/api/mr2", "", "", nil); a.status != 401 || a.header.Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous script: %d %v", a.status, a.header)
	}
	// A session cookie changed by its holder does not open.
	u, _ := url.Parse(w.svc.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if strings.Contains(ck.Name, "session") {
			ck.Value = ck.Value[:len(ck.Value)-4] + "AAAA"
			c.Jar.SetCookies(u, []*http.Cookie{ck})
		}
	}
	if a = do(t, c, "GET", w.svc.URL+"/api/mr2?finess="+finA, "", "", nil); a.status != 401 {
		t.Errorf("tampered session cookie: %d", a.status)
	}
}

// TestAccessTokensAgainstProvider: scripts' bearer tokens from the provider
// are accepted for their roles; an expired, foreign-issuer or tampered one
// is refused.
func TestAccessTokensAgainstProvider(t *testing.T) {
	w := newWorld(t)
	c := w.svc.Client()
	op := w.idp.scriptToken(t, "script-op", "s1")
	dgos := w.idp.scriptToken(t, "script-dgos", "s2")
	short := w.idp.scriptToken(t, "script-short", "s3")
	if a := do(t, c, "GET", w.svc.URL+"/api/epidemiology", op, "", nil); a.status != 200 {
		t.Errorf("operator script: %d %s", a.status, a.body)
	}
	if a := do(t, c, "GET", w.svc.URL+"/api/dgos?month=2026-10", dgos, "", nil); a.status != 200 {
		t.Errorf("ministry script: %d %s", a.status, a.body)
	}
	if a := do(t, c, "GET", w.svc.URL+"/api/epidemiology", dgos, "", nil); a.status != 403 {
		t.Errorf("ministry script on epidemiology: %d", a.status)
	}
	// Foreign issuer: a provider of its own, same client, same claims.
	other := newProvider(t, clientID, clientSecret, w.svc.URL+"/auth/callback", nil,
		[]testScript{{id: "script-op", secret: "s1", claims: map[string]any{"groups": []any{"bndmr-operateurs"}}}})
	foreign := other.scriptToken(t, "script-op", "s1")
	// Tampered: the payload of a ministry token given the operators' group, signature kept.
	parts := strings.Split(dgos, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	json.Unmarshal(payload, &claims)
	claims["groups"] = []any{"bndmr-operateurs"}
	payload, _ = json.Marshal(claims)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	time.Sleep(2100 * time.Millisecond) // short's token expires after a second
	for name, tok := range map[string]string{"expired": short, "foreign issuer": foreign, "tampered": tampered, "garbage": "abc.def.ghi"} {
		if a := do(t, c, "GET", w.svc.URL+"/api/epidemiology", tok, "", nil); a.status != 401 || strings.Contains(a.body, "ORPHA") {
			t.Errorf("%s token: %d %.200s", name, a.status, a.body)
		}
	}
}

// TestAccessDeclaredCounts: only an operator changes the MR.2 denominators,
// a session POST needs its CSRF token and to come from the site, and every
// change keeps the value it replaced and its author.
func TestAccessDeclaredCounts(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	csv := func(n string) string { return "finess;mois;nombre\n" + finA + ";2026-10;" + n + "\n" }
	declared := func() string {
		rows, err := New(w.st).MR2(ctx, Period{From: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}, finA)
		if err != nil || len(rows) != 1 {
			t.Fatalf("MR.2: %v %v", err, rows)
		}
		return rows[0].DenominatorSource + ":" + itoa(rows[0].Denominator)
	}
	if got := declared(); got != "estimated:8" {
		t.Fatalf("before: %s", got)
	}
	post := func(c *http.Client, token, body string, hdr map[string]string) int {
		h := map[string]string{"Content-Type": "text/csv"}
		for k, v := range hdr {
			h[k] = v
		}
		return do(t, c, "POST", w.svc.URL+"/api/dpi-updates", token, body, h).status
	}
	cm, ce, co := w.signIn("dgos"), w.signIn("medecin-a"), w.signIn("operatrice")
	refused := []struct {
		name   string
		c      *http.Client
		token  string
		hdr    map[string]string
		status int
	}{
		{"anonymous", w.svc.Client(), "", nil, 401},
		{"ministry with its CSRF token", cm, "", map[string]string{"X-CSRF-Token": w.me(cm).CSRF}, 403},
		{"establishment with its CSRF token", ce, "", map[string]string{"X-CSRF-Token": w.me(ce).CSRF}, 403},
		{"ministry script", w.svc.Client(), w.idp.scriptToken(t, "script-dgos", "s2"), nil, 403},
		{"operator without CSRF token", co, "", nil, 403},
		{"operator with another session's token", co, "", map[string]string{"X-CSRF-Token": w.me(cm).CSRF}, 403},
		{"operator from another site", co, "", map[string]string{"X-CSRF-Token": w.me(co).CSRF, "Sec-Fetch-Site": "cross-site"}, 403},
	}
	for _, r := range refused {
		if got := post(r.c, r.token, csv("1"), r.hdr); got != r.status {
			t.Errorf("%s: %d, want %d", r.name, got, r.status)
		}
	}
	if got := declared(); got != "estimated:8" {
		t.Fatalf("a refused POST changed the denominator: %s", got)
	}
	if got := post(co, "", csv("5"), map[string]string{"X-CSRF-Token": w.me(co).CSRF, "Sec-Fetch-Site": "same-origin"}); got != 200 {
		t.Fatalf("operator session: %d", got)
	}
	time.Sleep(1100 * time.Millisecond) // declared_at has seconds: the next declaration is later
	if got := post(w.svc.Client(), w.idp.scriptToken(t, "script-op", "s1"), csv("6"), nil); got != 200 {
		t.Fatalf("operator script: %d", got)
	}
	if got := declared(); got != "declared:6" {
		t.Errorf("after the operators' changes: %s", got)
	}
	hist := store.Statement{Name: "test.history", SQL: `SELECT previous_count, had_previous, declared_count, author, role
		FROM dpi_updates_history WHERE finess = ? ORDER BY changed_at`}
	rows, err := w.st.Query(ctx, hist, finA)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var prev, n uint32
		var had uint8
		var author, role string
		rows.Scan(&prev, &had, &n, &author, &role)
		got = append(got, strings.Join([]string{itoa(int(prev)), itoa(int(had)), itoa(int(n)), author, role}, " "))
	}
	rows.Close()
	if want := []string{"0 0 5 u-op operator", "5 1 6 script-op operator"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("history:\n%q\nwant\n%q", got, want)
	}
}

// TestSignOutEndsProviderSession: signing out closes the session here and,
// the provider advertising an end_session_endpoint, sends the browser there
// with the ID token of the sign-in (OpenID Connect RP-Initiated Logout 1.0),
// which ends the provider's session (the tokens it issued for the sign-in
// stop working) and sends the browser back to /auth/logged-out. A provider
// without the endpoint: local sign-out, and the page says so.
func TestSignOutEndsProviderSession(t *testing.T) {
	w := newWorld(t)
	c := w.signIn("operatrice")
	if n := w.idp.st.liveTokens("u-op"); n == 0 {
		t.Fatal("control: the provider holds no token of the sign-in")
	}
	page := do(t, c, "GET", w.svc.URL+"/auth/me", "", "", map[string]string{"Accept": "text/html"})
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' "+w.idp.URL+";") {
		t.Errorf("the CSP does not let the sign-out form be redirected to the provider: %s", csp)
	}
	out := do(t, c, "POST", w.svc.URL+"/auth/logout", "", "", map[string]string{"Accept": "text/html"})
	loc, _ := url.Parse(out.header.Get("Location"))
	if out.status != http.StatusSeeOther || loc == nil || !strings.HasPrefix(loc.String(), w.idp.URL+"/end_session?") {
		t.Fatalf("sign-out: %d to %q, want 303 to the provider's end_session_endpoint", out.status, out.header.Get("Location"))
	}
	if strings.Contains(out.header.Get("Set-Cookie"), "__Host-bndmr-session=") && !strings.Contains(out.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("the session cookie is not cleared: %s", out.header.Get("Set-Cookie"))
	}
	// The browser follows: the provider ends its session and sends it back.
	c.CheckRedirect = nil
	resp, err := c.Get(loc.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.String() != w.svc.URL+"/auth/logged-out" ||
		!strings.Contains(string(body), "chez le fournisseur d'identité") {
		t.Fatalf("after the provider's sign-out: %d at %s: %s", resp.StatusCode, resp.Request.URL, body)
	}
	calls := w.idp.endSessionCalls()
	if len(calls) != 1 {
		t.Fatalf("end_session called %d times, want 1", len(calls))
	}
	q := calls[0]
	if q.Get("client_id") != clientID || q.Get("post_logout_redirect_uri") != w.svc.URL+"/auth/logged-out" {
		t.Errorf("end_session query: %v", q)
	}
	var hint struct {
		Sub string `json:"sub"`
		Aud any    `json:"aud"`
		Iss string `json:"iss"`
	}
	if parts := strings.Split(q.Get("id_token_hint"), "."); len(parts) == 3 {
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		json.Unmarshal(b, &hint)
	}
	if hint.Sub != "u-op" || hint.Iss != w.idp.URL || !strings.Contains(fmt.Sprint(hint.Aud), clientID) {
		t.Errorf("id_token_hint is not the ID token of the sign-in: %+v", hint)
	}
	w.idp.st.mu.Lock()
	ended := slices.Clone(w.idp.st.terminated)
	w.idp.st.mu.Unlock()
	if strings.Join(ended, "|") != "u-op "+clientID {
		t.Errorf("sessions the provider ended: %q, want the operator's", ended)
	}
	if n := w.idp.st.liveTokens("u-op"); n != 0 {
		t.Errorf("%d token(s) of the sign-in still work at the provider", n)
	}
	if p := w.me(c); p.Subject != "" {
		t.Errorf("still signed in here as %q", p.Subject)
	}

	// A provider without end_session_endpoint: signed out here only, said on the page.
	local := openWorld(t, false)
	lc := local.signIn("operatrice")
	out = do(t, lc, "POST", local.svc.URL+"/auth/logout", "", "", map[string]string{"Accept": "text/html"})
	if out.status != 200 || !strings.Contains(out.body, "Déconnecté ici seulement") || !strings.Contains(out.body, "reste ouverte") {
		t.Errorf("local sign-out: %d %s", out.status, out.body)
	}
	if n := len(local.idp.endSessionCalls()); n != 0 {
		t.Errorf("end_session called %d times though the provider does not advertise it", n)
	}
	if csp := out.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self';") {
		t.Errorf("CSP without end_session_endpoint: %s", csp)
	}
	if p := local.me(lc); p.Subject != "" {
		t.Errorf("still signed in here as %q", p.Subject)
	}
}

func itoa[T ~int | ~uint32 | ~uint64](n T) string { return strconv.FormatUint(uint64(n), 10) }

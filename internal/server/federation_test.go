package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/federation"
	"github.com/hexabase/hexabase-ai/internal/federation/oidctest"
	"github.com/hexabase/hexabase-ai/internal/identity"
)

// startFederated runs the platform with the in-test OIDC provider
// configured as "corp".
func startFederated(t *testing.T) (*testServer, *oidctest.Provider) {
	t.Helper()
	op := oidctest.Start(t)
	ts := startServerWith(t, func(c *config.Config) {
		c.Providers = []config.Provider{{ID: "corp", Name: "Corp SSO", Issuer: op.Issuer(), ClientID: "hks", ClientSecret: "corp-secret"}}
	})
	op.AddClient(oidctest.Client{ID: "hks", Secret: "corp-secret", RedirectURIs: []string{ts.URL() + "/auth/callback/corp"}})
	return ts, op
}

// newWebBrowser is a browser with the User-Agent ua that asks for JSON
// answers when wantJSON.
func newWebBrowser(t *testing.T, ts *testServer, ua string, wantJSON bool) *browser {
	b := newBrowser(t, ts)
	b.ua = ua
	if wantJSON {
		b.accept = "application/json"
	}
	return b
}

func redirectTo(t *testing.T, a answer) string {
	t.Helper()
	if a.status < 300 || a.status > 399 || a.header.Get("Location") == "" {
		t.Fatalf("want a redirect, got %d: %s", a.status, a.body)
	}
	return a.header.Get("Location")
}

// signInAt walks /auth/login/{provider} → the provider → the callback and
// returns the callback's answer.
func (b *browser) signInAt(op *oidctest.Provider, provider, returnTo string) answer {
	b.t.Helper()
	u := b.ts.URL() + "/auth/login/" + provider
	if returnTo != "" {
		u += "?return_to=" + url.QueryEscape(returnTo)
	}
	authz := redirectTo(b.t, b.get(u).answer())
	au, err := url.Parse(authz)
	if err != nil || !strings.HasPrefix(authz, op.Issuer()+"/authorize?") || au.Query().Get("code_challenge_method") != "S256" || au.Query().Get("nonce") == "" {
		b.t.Fatalf("not an authorization request with PKCE S256 and nonce: %s", authz)
	}
	cb := redirectTo(b.t, b.get(authz).answer())
	if !strings.HasPrefix(cb, b.ts.URL()+"/auth/callback/"+provider+"?") {
		b.t.Fatalf("the provider sent the browser to %s", cb)
	}
	return b.get(cb).answer()
}

type callbackAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	MFARequired  bool   `json:"mfa_required"`
	MFAToken     string `json:"mfa_token"`
}

func TestFederationRoutesMounted(t *testing.T) {
	ts := startServer(t, "")
	a := ts.do("GET", "/auth/providers", "", nil)
	if a.status != 200 || strings.TrimSpace(string(a.body)) != `{"items":[]}` {
		t.Fatalf("providers without configuration: %d %s", a.status, a.body)
	}
	wantProblem(t, ts.do("GET", "/auth/login/corp", "", nil), 404, "not-found", "")
	wantProblem(t, ts.do("GET", "/auth/callback/corp?code=x&state=y", "", nil), 404, "not-found", "")

	fts, _ := startFederated(t)
	a = fts.do("GET", "/auth/providers", "", nil)
	if a.status != 200 || strings.TrimSpace(string(a.body)) != `{"items":[{"id":"corp","name":"Corp SSO","type":"oidc"}]}` {
		t.Fatalf("providers: %d %s", a.status, a.body)
	}
	wantProblem(t, fts.do("GET", "/auth/login/corp?return_to=https%3A%2F%2Fevil.example", "", nil), 422, "validation", "return_to")
	wantProblem(t, fts.do("GET", "/auth/callback/corp?code=x", "", nil), 422, "validation", "state")
	wantProblem(t, fts.do("GET", "/auth/callback/corp?code=x&state=y", "", nil), 400, "federation-state", "")
}

// TestFederatedBrowserSignIn: a browser gets session cookies and is sent
// to return_to; with 2FA enabled it is sent to the second-factor page
// with the mfa_token in the fragment and no session.
func TestFederatedBrowserSignIn(t *testing.T) {
	ts, op := startFederated(t)
	op.SetUser(oidctest.User{Subject: "web-1", Email: "web@example.com", EmailVerified: true})
	b := newWebBrowser(t, ts, "browser/1", false)
	a := b.signInAt(op, "corp", "/orgs")
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/orgs" {
		t.Fatalf("callback: %d %v %s", a.status, a.header, a.body)
	}
	cookies := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		cookies[c.Name] = c
	}
	access := cookies[identity.AccessCookie]
	if access == nil || !access.HttpOnly || cookies[identity.RefreshCookie] == nil || cookies[identity.CSRFCookie] == nil {
		t.Fatalf("session cookies: %v", a.header["Set-Cookie"])
	}
	if c := cookies[federation.StateCookie]; c == nil || c.MaxAge >= 0 {
		t.Fatalf("state cookie not cleared: %v", a.header["Set-Cookie"])
	}
	me := ts.do("GET", "/auth/me", access.Value, nil)
	if me.status != 200 || !strings.Contains(string(me.body), `"email":"web@example.com"`) {
		t.Fatalf("me: %d %s", me.status, me.body)
	}

	ts.enrol(access.Value)
	a = newWebBrowser(t, ts, "browser/1", false).signInAt(op, "corp", "/orgs")
	loc := redirectTo(t, a)
	if !strings.HasPrefix(loc, federation.MFAPage+"?return_to=%2Forgs#mfa_token=") || len(loc) < 60 {
		t.Fatalf("2FA user sent to %s", loc)
	}
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == identity.AccessCookie || c.Name == identity.RefreshCookie {
			t.Fatalf("a sign-in awaiting its second factor set %s", c.Name)
		}
	}
}

// TestFederatedSignInEndToEnd is the acceptance test of federated sign-in: a user
// signs in through the in-test OIDC provider with PKCE, enrols TOTP, signs
// in again with the code, refreshes, and is refused after refresh-token
// reuse.
func TestFederatedSignInEndToEnd(t *testing.T) {
	ts, op := startFederated(t)
	const ua = "e2e-browser/1.0"
	op.SetUser(oidctest.User{Subject: "e2e-user", Email: "e2e@example.com", EmailVerified: true})

	// 1. First sign-in through the provider: authorization code + PKCE
	// S256 + state + nonce, answered as JSON.
	var first callbackAnswer
	a := newWebBrowser(t, ts, ua, true).signInAt(op, "corp", "")
	if a.status != 200 {
		t.Fatalf("first sign-in: %d %s", a.status, a.body)
	}
	a.json(t, &first)
	if first.MFARequired || first.AccessToken == "" || first.RefreshToken == "" {
		t.Fatalf("first sign-in answer %s", a.body)
	}
	if me := ts.do("GET", "/auth/me", first.AccessToken, nil); me.status != 200 || !strings.Contains(string(me.body), `"email":"e2e@example.com"`) {
		t.Fatalf("me: %d %s", me.status, me.body)
	}

	// 2. Enrol TOTP.
	secret, backup := ts.enrol(first.AccessToken)
	if len(backup) != 10 {
		t.Fatalf("%d backup codes", len(backup))
	}

	// 3. Sign in again: the provider's answer is not enough any more.
	var second callbackAnswer
	a = newWebBrowser(t, ts, ua, true).signInAt(op, "corp", "")
	if a.status != 200 {
		t.Fatalf("second sign-in: %d %s", a.status, a.body)
	}
	a.json(t, &second)
	if !second.MFARequired || second.MFAToken == "" || second.AccessToken != "" || second.RefreshToken != "" {
		t.Fatalf("second sign-in must ask for the second factor: %s", a.body)
	}
	ts.nextStep() // the enrolment spent the current step's code
	wantProblem(t, ts.doUA("POST", "/auth/login/mfa", "", ua, map[string]string{"mfa_token": second.MFAToken, "code": wrongCode(ts.code(secret, 0))}), 401, "", "")
	a = ts.doUA("POST", "/auth/login/mfa", "", ua, map[string]string{"mfa_token": second.MFAToken, "code": ts.code(secret, 0)})
	if a.status != 200 {
		t.Fatalf("second factor: %d %s", a.status, a.body)
	}
	var tp api.TokenPair
	a.json(t, &tp)
	if tp.AccessToken == "" || tp.RefreshToken == "" {
		t.Fatalf("tokens after the second factor: %s", a.body)
	}
	if me := ts.do("GET", "/auth/me", tp.AccessToken, nil); me.status != 200 {
		t.Fatalf("me after 2FA: %d %s", me.status, me.body)
	}

	// 4. Refresh: the refresh token rotates.
	a = ts.doUA("POST", "/auth/refresh", "", ua, map[string]string{"refresh_token": tp.RefreshToken})
	if a.status != 200 {
		t.Fatalf("refresh: %d %s", a.status, a.body)
	}
	var rotated api.TokenPair
	a.json(t, &rotated)
	if rotated.RefreshToken == "" || rotated.RefreshToken == tp.RefreshToken {
		t.Fatalf("refresh did not rotate: %s", a.body)
	}
	if me := ts.do("GET", "/auth/me", rotated.AccessToken, nil); me.status != 200 {
		t.Fatalf("me after refresh: %d %s", me.status, me.body)
	}

	// 5. Reusing the spent refresh token is refused and revokes the
	// session: the token that replaced it stops working too, and so does
	// the access token once the revocation cache has expired.
	wantProblem(t, ts.doUA("POST", "/auth/refresh", "", ua, map[string]string{"refresh_token": tp.RefreshToken}), 401, "unauthorized", "")
	wantProblem(t, ts.doUA("POST", "/auth/refresh", "", ua, map[string]string{"refresh_token": rotated.RefreshToken}), 401, "unauthorized", "")
	ts.offset.Add(int64(identity.MaxRevocationCacheTTL + time.Second))
	wantProblem(t, ts.do("GET", "/auth/me", rotated.AccessToken, nil), 401, "unauthorized", "")

	// The first session (before 2FA) is another session and unaffected by
	// the reuse in this one.
	if a := ts.do("GET", "/auth/me", first.AccessToken, nil); a.status != 200 {
		t.Fatalf("the other session was revoked too: %d %s", a.status, a.body)
	}

	// The user's own security log shows both federated sign-ins.
	a = ts.do("GET", "/auth/security-logs", first.AccessToken, nil)
	if a.status != 200 {
		t.Fatalf("security logs: %d %s", a.status, a.body)
	}
	var logs struct {
		Items []struct {
			Action, Detail, Result string
		} `json:"items"`
	}
	a.json(t, &logs)
	seen := map[string]bool{}
	for _, r := range logs.Items {
		if r.Detail == "oidc:corp" && r.Result == "success" {
			seen[r.Action] = true
		}
	}
	if !seen["auth.login"] || !seen["auth.login.mfa_required"] {
		t.Fatalf("the federated sign-ins are not in the security log: %s", a.body)
	}
}

// wrongCode returns a 6-digit code other than c.
func wrongCode(c string) string {
	if c == "000000" {
		return "111111"
	}
	return "000000"
}

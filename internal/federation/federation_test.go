package federation_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/federation"
	"github.com/hexabase/hexabase-ai/internal/federation/oidctest"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/store"
)

func TestNewRejectsMissingDependencies(t *testing.T) {
	p := startPlatform(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	full := federation.Config{Store: p.st, Identity: p.id, Sealer: p.id.StateSealer(), Logger: log, Now: time.Now, BaseURL: p.url}
	if _, err := federation.New(full); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*federation.Config){
		"store":    func(c *federation.Config) { c.Store = nil },
		"identity": func(c *federation.Config) { c.Identity = nil },
		"sealer":   func(c *federation.Config) { c.Sealer = nil },
		"logger":   func(c *federation.Config) { c.Logger = nil },
		"now":      func(c *federation.Config) { c.Now = nil },
		"base url": func(c *federation.Config) { c.BaseURL = "/relative" },
		"unvalidated provider": func(c *federation.Config) {
			c.Providers = []config.Provider{{ID: "x", ClientID: "y"}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := full
			mutate(&c)
			if _, err := federation.New(c); err == nil {
				t.Errorf("New without %s succeeded", name)
			}
		})
	}
}

func TestProviders(t *testing.T) {
	p := startPlatform(t)
	r := p.browser(t, false).get(p.url + "/auth/providers")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"id": "corp", "name": "Corp SSO", "type": "oidc"},
		{"id": "trusted", "name": "trusted", "type": "oidc"},
		{"id": "github", "name": "github", "type": "github"},
		{"id": "down", "name": "down", "type": "oidc"},
	}
	if got, _ := json.Marshal(list.Items); string(got) != mustJSON(t, want) {
		t.Fatalf("providers = %s, want %s", got, mustJSON(t, want))
	}
	if strings.Contains(string(r.body), "secret") || strings.Contains(string(r.body), p.op.Issuer()) {
		t.Fatalf("the provider list leaks configuration: %s", r.body)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOIDCSignIn walks the authorization-code flow with PKCE through the
// real provider and checks what went over the wire.
func TestOIDCSignIn(t *testing.T) {
	p := startPlatform(t)
	p.op.SetUser(oidctest.User{Subject: "corp-42", Email: "Jane@Corp.example", EmailVerified: true})
	b := p.browser(t, true)
	r := b.get(p.url + "/auth/login/corp?return_to=%2Fdashboard")
	if r.status != http.StatusFound || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("login: %d %v", r.status, r.header)
	}
	sc := r.cookie(federation.StateCookie)
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/auth/callback/" || sc.MaxAge != 600 || sc.Secure {
		t.Fatalf("state cookie %+v", sc)
	}
	loc, err := url.Parse(r.location(t))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), p.op.Issuer()+"/authorize?") || q.Get("response_type") != "code" || q.Get("client_id") != "hks-corp" ||
		q.Get("redirect_uri") != p.url+"/auth/callback/corp" || q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 ||
		len(q.Get("state")) < 32 || len(q.Get("nonce")) < 32 || q.Get("scope") != "openid email profile" {
		t.Fatalf("authorization request %s", loc)
	}
	if strings.Contains(loc.String(), "secret") || strings.Contains(sc.Value, q.Get("state")) {
		t.Fatal("the secret travels to the browser, or the state cookie is not encrypted")
	}
	cb := b.get(loc.String()).location(t)
	a := b.get(cb)
	if a.cookie(federation.StateCookie) == nil || a.cookie(federation.StateCookie).MaxAge >= 0 {
		t.Errorf("the callback does not clear the state cookie: %v", a.header["Set-Cookie"])
	}
	tp := a.tokens(t)
	if tp.TokenType != "Bearer" || tp.RefreshToken == "" || tp.MFARequired || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("tokens %+v %v", tp, a.header)
	}
	c, err := p.id.Verify(context.Background(), tp.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	u, err := p.st.GetUser(context.Background(), c.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "Jane@Corp.example" || u.PasswordHash != "" || u.PlatformAdmin {
		t.Fatalf("created user %+v", u)
	}
	// Without a local password the user cannot sign in with one.
	if _, err := p.id.Login(context.Background(), "jane@corp.example", "", identity.ClientMeta{}); err == nil {
		t.Fatal("a federated user signed in with an empty password")
	}
	fi, err := p.st.GetFederatedIdentity(context.Background(), "corp", "corp-42")
	if err != nil || fi.UserID != u.ID {
		t.Fatalf("link %+v %v", fi, err)
	}

	// Signing in again reaches the same user, even if the email changed.
	p.op.SetUser(oidctest.User{Subject: "corp-42", Email: "jane.doe@corp.example", EmailVerified: true})
	tp2 := p.signIn(t, "corp")
	c2, err := p.id.Verify(context.Background(), tp2.AccessToken)
	if err != nil || c2.UserID != u.ID || c2.SessionID == c.SessionID {
		t.Fatalf("second sign-in: %+v %v", c2, err)
	}
	if fi, _ := p.st.GetFederatedIdentity(context.Background(), "corp", "corp-42"); fi.Email != "jane.doe@corp.example" {
		t.Fatalf("the link's email was not refreshed: %+v", fi)
	}
	if n := p.users(); n != 1 {
		t.Fatalf("%d users, want 1", n)
	}
	// Both sign-ins are in the audit log, with who, from where and how.
	recs := p.audit("auth.login")
	if len(recs) != 2 {
		t.Fatalf("%d auth.login records, want 2", len(recs))
	}
	for _, r := range recs {
		if r.ActorID != u.ID || r.Result != store.AuditSuccess || r.Detail != "oidc:corp" || r.IP != "127.0.0.1" || r.UserAgent == "" ||
			r.RequestID == "" || r.Status != 200 || r.TargetID != u.ID {
			t.Fatalf("audit record %+v", r)
		}
	}
	// The refresh token works with the identity service.
	if _, err := p.id.Refresh(context.Background(), tp2.RefreshToken, identity.ClientMeta{UserAgent: "Go-http-client/1.1"}); err != nil {
		t.Fatalf("refresh: %v", err)
	}
}

// TestBrowserSignIn checks the cookie answer of a browser callback.
func TestBrowserSignIn(t *testing.T) {
	p := startPlatform(t)
	b := p.browser(t, false)
	a := b.get(b.start(p, "corp", "/workspaces?tab=1"))
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/workspaces?tab=1" {
		t.Fatalf("callback: %d %v %s", a.status, a.header, a.body)
	}
	access, refresh, csrf := a.cookie(identity.AccessCookie), a.cookie(identity.RefreshCookie), a.cookie(identity.CSRFCookie)
	switch {
	case access == nil || !access.HttpOnly || access.Path != "/" || access.SameSite != http.SameSiteLaxMode || access.MaxAge < 800:
		t.Fatalf("access cookie %+v", access)
	case refresh == nil || !refresh.HttpOnly || refresh.Path != "/auth" || refresh.SameSite != http.SameSiteStrictMode || refresh.MaxAge != int(p.id.RefreshTTL()/time.Second):
		t.Fatalf("refresh cookie %+v", refresh)
	case csrf == nil || csrf.HttpOnly || csrf.Path != "/" || len(csrf.Value) < 32:
		t.Fatalf("csrf cookie %+v", csrf)
	}
	if _, err := p.id.Verify(context.Background(), access.Value); err != nil {
		t.Fatalf("access cookie does not verify: %v", err)
	}
	// Default return_to.
	b2 := p.browser(t, false)
	if a := b2.get(b2.start(p, "corp", "")); a.status != http.StatusSeeOther || a.header.Get("Location") != "/" {
		t.Fatalf("default return_to: %d %v", a.status, a.header)
	}
}

// refusal is one way a sign-in must fail.
type refusal struct {
	name   string
	status int
	typ    string // problem type slug
	detail string // substring of the detail
	run    func(t *testing.T, p *platform) response
}

func TestRefusals(t *testing.T) {
	withCookie := func(t *testing.T, p *platform, u string, c *http.Cookie) response {
		req, err := http.NewRequest("GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "application/json")
		if c != nil {
			req.AddCookie(c)
		}
		fresh := p.browser(t, true)
		return fresh.do(req)
	}
	misbehave := func(m oidctest.Misbehaviour) func(t *testing.T, p *platform) response {
		return func(t *testing.T, p *platform) response {
			p.op.Misbehave(m)
			b := p.browser(t, true)
			return b.get(b.start(p, "corp", ""))
		}
	}
	tests := []refusal{
		{"unknown provider at login", 404, "not-found", "provider not found", func(t *testing.T, p *platform) response {
			return p.browser(t, true).get(p.url + "/auth/login/nope")
		}},
		{"unknown provider at callback", 404, "not-found", "provider not found", func(t *testing.T, p *platform) response {
			return p.browser(t, true).get(p.url + "/auth/callback/nope?code=x&state=y")
		}},
		{"missing state", 422, "validation", "state: is required", withoutParam("state")},
		{"state does not match", 400, "federation-state", "state does not match", func(t *testing.T, p *platform) response {
			b := p.browser(t, true)
			cb, _ := url.Parse(b.start(p, "corp", ""))
			q := cb.Query()
			q.Set("state", "forged-"+q.Get("state"))
			cb.RawQuery = q.Encode()
			return b.get(cb.String())
		}},
		{"state cookie missing", 400, "federation-state", "cookie is missing", func(t *testing.T, p *platform) response {
			cb := p.browser(t, true).start(p, "corp", "")
			return withCookie(t, p, cb, nil) // another browser: no cookie
		}},
		{"state cookie tampered", 400, "federation-state", "cookie is invalid", func(t *testing.T, p *platform) response {
			b := p.browser(t, true)
			cb := b.start(p, "corp", "")
			c := b.stateCookie(p, "corp")
			v := []byte(c.Value)
			i := len(v) / 2
			v[i] = map[bool]byte{true: 'B', false: 'A'}[v[i] == 'A']
			return withCookie(t, p, cb, &http.Cookie{Name: c.Name, Value: string(v)})
		}},
		{"state cookie of another provider", 400, "federation-state", "for another provider", func(t *testing.T, p *platform) response {
			b := p.browser(t, true)
			cb := b.start(p, "corp", "")
			c := b.stateCookie(p, "corp")
			return withCookie(t, p, strings.Replace(cb, "/auth/callback/corp", "/auth/callback/trusted", 1), c)
		}},
		{"state expired", 400, "federation-state", "took too long", func(t *testing.T, p *platform) response {
			b := p.browser(t, true)
			cb := b.start(p, "corp", "")
			p.offset.Store(int64(federation.StateTTL + time.Minute))
			return b.get(cb)
		}},
		{"replayed code", 401, "federation-denied", "(invalid_grant)", func(t *testing.T, p *platform) response {
			b := p.browser(t, true)
			cb := b.start(p, "corp", "")
			c := b.stateCookie(p, "corp")
			b.get(cb).tokens(t) // the first use succeeds
			r := withCookie(t, p, cb, c)
			lastTokenError(t, p, "the code was used already")
			return r
		}},
		{"wrong PKCE verifier", 401, "federation-denied", "(invalid_grant)", func(t *testing.T, p *platform) response {
			// A code issued for one sign-in (challenge A) is injected
			// into another (verifier B) of the same browser: the state
			// matches, but the provider refuses the verifier.
			b := p.browser(t, true)
			first, _ := url.Parse(b.start(p, "corp", ""))
			second, _ := url.Parse(b.start(p, "corp", ""))
			q := second.Query()
			q.Set("code", first.Query().Get("code"))
			second.RawQuery = q.Encode()
			r := b.get(second.String())
			lastTokenError(t, p, "PKCE verification failed")
			return r
		}},
		{"missing code", 422, "validation", "code: is required", withoutParam("code")},
		{"access denied", 401, "federation-denied", "refused the sign-in: access_denied", misbehave(oidctest.Misbehaviour{Deny: true})},
		{"bad nonce", 401, "federation-invalid-token", "nonce does not match", misbehave(oidctest.Misbehaviour{WrongNonce: true})},
		{"expired ID token", 401, "federation-invalid-token", "has expired", misbehave(oidctest.Misbehaviour{Expired: true})},
		{"ID token signed by another key", 401, "federation-invalid-token", "failed verification", misbehave(oidctest.Misbehaviour{OtherKey: true})},
		{"ID token for another audience", 401, "federation-invalid-token", "failed verification", misbehave(oidctest.Misbehaviour{WrongAudience: true})},
		{"ID token from another issuer", 401, "federation-invalid-token", "failed verification", misbehave(oidctest.Misbehaviour{WrongIssuer: true})},
		{"no ID token", 502, "federation-provider", "without an ID token", misbehave(oidctest.Misbehaviour{NoIDToken: true})},
		{"provider unreachable", 502, "federation-provider", "discovery document could not be fetched", func(t *testing.T, p *platform) response {
			return p.browser(t, true).get(p.url + "/auth/login/down")
		}},
		{"unverified email", 403, "federation-unverified-email", "verified email", func(t *testing.T, p *platform) response {
			p.op.SetUser(oidctest.User{Subject: "u-9", Email: "new@example.com"})
			b := p.browser(t, true)
			return b.get(b.start(p, "corp", ""))
		}},
	}
	for _, rt := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "dashboard", "/a\nb", "/" + strings.Repeat("a", 1100)} {
		tests = append(tests, refusal{"return_to " + rt[:min(len(rt), 20)], 422, "validation", "return_to: must be a path on this site", func(t *testing.T, p *platform) response {
			return p.browser(t, true).get(p.url + "/auth/login/corp?return_to=" + url.QueryEscape(rt))
		}})
	}
	p := startPlatform(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p.t = t
			p.op.Misbehave(oidctest.Misbehaviour{})
			p.op.SetUser(oidctest.User{Subject: "refused", Email: "refused@example.com", EmailVerified: true})
			p.offset.Store(0)
			before := p.users()
			r := tc.run(t, p)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			pr := r.problem(t)
			if pr["type"] != "https://hexabase.ai/problems/"+tc.typ || !strings.Contains(pr["detail"].(string), tc.detail) {
				t.Fatalf("problem %v, want type %s and detail containing %q", pr, tc.typ, tc.detail)
			}
			if r.cookie(identity.AccessCookie) != nil || r.cookie(identity.RefreshCookie) != nil || strings.Contains(string(r.body), "access_token") {
				t.Fatal("a refusal carries a session")
			}
			if strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") && strings.Contains(r.problem(t)["detail"].(string), "oauth2:") {
				t.Fatalf("a refusal leaks library text: %s", r.body)
			}
			if tc.name != "replayed code" && p.users() != before {
				t.Fatal("a refused sign-in created a user")
			}
			if r.status != 404 && !strings.HasPrefix(tc.name, "return_to") && tc.name != "provider unreachable" {
				failed := p.audit("auth.login.failed")
				if len(failed) == 0 || failed[0].RequestID != r.header.Get("X-Request-Id") || failed[0].Result != store.AuditFailure ||
					failed[0].Status != tc.status || !strings.HasSuffix(failed[0].Detail, ": "+tc.typ) {
					t.Fatalf("no audit record of the refusal: %+v", failed)
				}
				if c := r.cookie(federation.StateCookie); c == nil || c.MaxAge >= 0 {
					t.Fatalf("the refusal does not clear the state cookie: %v", r.header["Set-Cookie"])
				}
			}
		})
	}
}

// lastTokenError checks why the provider refused the last token request.
func lastTokenError(t *testing.T, p *platform, want string) {
	t.Helper()
	errs := p.op.TokenErrors()
	if len(errs) == 0 || errs[len(errs)-1] != want {
		t.Fatalf("the provider's token errors are %q, want the last to be %q", errs, want)
	}
}

func TestLinkByVerifiedEmail(t *testing.T) {
	p := startPlatform(t)
	ctx := context.Background()
	local, err := p.id.CreateUser(ctx, "alice@example.com", "alice-password", false)
	if err != nil {
		t.Fatal(err)
	}
	p.op.SetUser(oidctest.User{Subject: "alice-at-idp", Email: "ALICE@example.com", EmailVerified: true})

	// corp does not link by email: the existing account is not taken over.
	b := p.browser(t, true)
	r := b.get(b.start(p, "corp", ""))
	if r.status != http.StatusConflict || r.problem(t)["type"] != "https://hexabase.ai/problems/federation-email-taken" {
		t.Fatalf("corp: %d %s", r.status, r.body)
	}
	if _, err := p.st.GetFederatedIdentity(ctx, "corp", "alice-at-idp"); err == nil {
		t.Fatal("corp linked the account")
	}

	// trusted links by verified email only.
	p.op.SetUser(oidctest.User{Subject: "alice-at-idp", Email: "alice@example.com", EmailVerified: false})
	b = p.browser(t, true)
	if r := b.get(b.start(p, "trusted", "")); r.status != http.StatusForbidden {
		t.Fatalf("trusted, unverified: %d %s", r.status, r.body)
	}
	p.op.SetUser(oidctest.User{Subject: "alice-at-idp", Email: "ALICE@example.com", EmailVerified: true})
	tp := p.signIn(t, "trusted")
	c, err := p.id.Verify(ctx, tp.AccessToken)
	if err != nil || c.UserID != local.ID {
		t.Fatalf("trusted sign-in reached %+v (%v), want user %s", c, err, local.ID)
	}
	// The link holds by subject afterwards, whatever the email.
	p.op.SetUser(oidctest.User{Subject: "alice-at-idp", Email: "someone-else@example.com", EmailVerified: false})
	tp = p.signIn(t, "trusted")
	if c, _ := p.id.Verify(ctx, tp.AccessToken); c.UserID != local.ID {
		t.Fatalf("linked identity reached %s", c.UserID)
	}
	// The local password still works.
	if _, err := p.id.Login(ctx, "alice@example.com", "alice-password", identity.ClientMeta{}); err != nil {
		t.Fatal(err)
	}
	if n := p.users(); n != 1 {
		t.Fatalf("%d users, want 1", n)
	}
}

func TestGitHubSignIn(t *testing.T) {
	p := startPlatform(t)
	ctx := context.Background()
	tp := p.signIn(t, "github")
	c, err := p.id.Verify(ctx, tp.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	u, err := p.st.GetUser(ctx, c.UserID)
	if err != nil || u.Email != "octocat@example.com" || u.PasswordHash != "" {
		t.Fatalf("user %+v %v", u, err)
	}
	fi, err := p.st.GetFederatedIdentity(ctx, "github", "583231")
	if err != nil || fi.UserID != u.ID {
		t.Fatalf("link %+v %v", fi, err)
	}
	// Again: the same user.
	if c2, _ := p.id.Verify(ctx, p.signIn(t, "github").AccessToken); c2.UserID != u.ID {
		t.Fatal("second GitHub sign-in reached another user")
	}

	// A replayed code is refused (GitHub answers 200 with an error).
	b := p.browser(t, true)
	cb := b.start(p, "github", "")
	sc := b.stateCookie(p, "github")
	b.get(cb).tokens(t)
	req, _ := http.NewRequest("GET", cb, nil)
	req.AddCookie(sc)
	if r := p.browser(t, true).do(req); r.status != 401 || !strings.Contains(string(r.body), "bad_verification_code") {
		t.Fatalf("replayed GitHub code: %d %s", r.status, r.body)
	}

	// A new GitHub account whose primary email is unverified is refused.
	p.gh.mu.Lock()
	p.gh.id = 99
	p.gh.mu.Unlock()
	p.gh.setEmails(ghEmail{Email: "other@example.com", Verified: true}, ghEmail{Email: "new@example.com", Primary: true})
	b = p.browser(t, true)
	if r := b.get(b.start(p, "github", "")); r.status != 403 {
		t.Fatalf("unverified primary email: %d %s", r.status, r.body)
	}
	if _, err := p.st.GetFederatedIdentity(ctx, "github", "99"); err == nil {
		t.Fatal("an unverified GitHub account was linked")
	}

	// The authorization request carried state and PKCE.
	b = p.browser(t, true)
	r := b.get(p.url + "/auth/login/github")
	loc, _ := url.Parse(r.location(t))
	q := loc.Query()
	if loc.Path != "/login/oauth/authorize" || q.Get("state") == "" || q.Get("code_challenge_method") != "S256" || q.Get("scope") != "read:user user:email" || q.Get("nonce") != "" {
		t.Fatalf("GitHub authorization request %s", loc)
	}
}

// TestConcurrentFirstSignIn: two first sign-ins of one identity race; both
// succeed and reach one user.
func TestConcurrentFirstSignIn(t *testing.T) {
	p := startPlatform(t)
	p.op.SetUser(oidctest.User{Subject: "racer", Email: "racer@example.com", EmailVerified: true})
	var cbs [2]string
	var bs [2]*browser
	for i := range bs {
		bs[i] = p.browser(t, true)
		cbs[i] = bs[i].start(p, "corp", "")
	}
	results := make(chan response, 2)
	for i := range bs {
		go func() {
			req, _ := http.NewRequest("GET", cbs[i], nil)
			req.Header.Set("Accept", "application/json")
			resp, err := bs[i].c.Do(req)
			if err != nil {
				results <- response{status: 599}
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			results <- response{status: resp.StatusCode, header: resp.Header, body: body}
		}()
	}
	ids := map[string]bool{}
	for range bs {
		r := <-results
		if r.status != 200 {
			t.Fatalf("racing sign-in: %d %s", r.status, r.body)
		}
		var tp tokens
		_ = json.Unmarshal(r.body, &tp)
		c, err := p.id.Verify(context.Background(), tp.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		ids[c.UserID] = true
	}
	if len(ids) != 1 || p.users() != 1 {
		t.Fatalf("racing first sign-ins made users %v", ids)
	}
	if _, err := p.st.GetUserByEmail(context.Background(), "racer@example.com"); err != nil {
		t.Fatal(err)
	}
}

// TestSecureCookiesBehindHTTPS: with an https external URL (TLS, or a
// TLS-terminating proxy) the state cookie is Secure and the redirect_uri
// is the https callback.
func TestSecureCookiesBehindHTTPS(t *testing.T) {
	p := startPlatform(t)
	p.op.AddClient(oidctest.Client{ID: "tls", Secret: "s", RedirectURIs: []string{"https://hks.example/auth/callback/corp"}})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	fed, err := federation.New(federation.Config{Store: p.st, Identity: p.id, Sealer: p.id.StateSealer(), Logger: log, Now: time.Now,
		BaseURL: "https://hks.example/", Providers: []config.Provider{{ID: "corp", Name: "corp", Type: "oidc", Issuer: p.op.Issuer(), ClientID: "tls", ClientSecret: "s", Scopes: []string{"openid"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var login func(*http.Request) (any, error)
	for _, rt := range fed.Routes() {
		if rt.Path == "/auth/login/{provider}" {
			login = rt.Handle
		}
	}
	req := httptest.NewRequest("GET", "https://hks.example/auth/login/corp", nil)
	req.SetPathValue("provider", "corp")
	v, err := login(req)
	if err != nil {
		t.Fatal(err)
	}
	resp := v.(*httpapi.Response)
	c := (&http.Response{Header: resp.Header}).Cookies()
	if len(c) != 1 || c[0].Name != federation.StateCookie || !c[0].Secure || !c[0].HttpOnly {
		t.Fatalf("cookies %v", resp.Header["Set-Cookie"])
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("redirect_uri") != "https://hks.example/auth/callback/corp" {
		t.Fatalf("redirect_uri %s", loc.Query().Get("redirect_uri"))
	}
}

// withoutParam calls back from the provider without the query parameter
// name.
func withoutParam(name string) func(t *testing.T, p *platform) response {
	return func(t *testing.T, p *platform) response {
		b := p.browser(t, true)
		cb, _ := url.Parse(b.start(p, "corp", ""))
		q := cb.Query()
		q.Del(name)
		cb.RawQuery = q.Encode()
		return b.get(cb.String())
	}
}

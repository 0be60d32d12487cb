package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/cli"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/oauthserver"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// browser plays a web browser: a cookie jar, redirects not followed (the
// test follows them, to see where they go), a User-Agent and, when set, an
// Accept header.
type browser struct {
	t          *testing.T
	ts         *testServer
	c          *http.Client
	ua, accept string
}

func newBrowser(t *testing.T, ts *testServer) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, ts: ts, ua: "Mozilla/5.0 (test browser)", c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	req.Header.Set("User-Agent", b.ua)
	if b.accept != "" {
		req.Header.Set("Accept", b.accept)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.ts.URL() + u
	}
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(path string, v url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest("POST", b.ts.URL()+path, strings.NewReader(v.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// answer is the page as an API answer.
func (p page) answer() answer {
	return answer{status: p.status, header: p.header, body: []byte(p.body)}
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// form returns the hidden fields of the page's form.
func (p page) form(t *testing.T) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(p.body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("csrf") == "" {
		t.Fatalf("no form with a csrf field (status %d): %s", p.status, p.body)
	}
	return v
}

// callback is the CLI's loopback listener: it records the redirects.
type callback struct {
	srv *httptest.Server
	got chan url.Values
}

func newCallback(t *testing.T) *callback {
	c := &callback{got: make(chan url.Values, 8)}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.got <- r.URL.Query()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *callback) uri() string { return c.srv.URL + "/callback" }

// follow sends the browser to a redirect's Location (the loopback
// listener) and returns the query the listener received.
func (b *browser) follow(p page, c *callback) url.Values {
	b.t.Helper()
	if p.status != http.StatusFound {
		b.t.Fatalf("status %d, want a redirect: %s", p.status, p.body)
	}
	loc := p.header.Get("Location")
	if !strings.HasPrefix(loc, c.uri()+"?") {
		b.t.Fatalf("redirect to %q, want the loopback listener", loc)
	}
	b.get(loc)
	select {
	case q := <-c.got:
		return q
	case <-time.After(10 * time.Second):
		b.t.Fatal("the loopback listener got nothing")
		return nil
	}
}

func pkcePair() (verifier, challenge string) {
	verifier = "verifier-" + strings.Repeat("x", 30) + base64.RawURLEncoding.EncodeToString([]byte(time.Now().String()))
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func authorizeURL(redirect, state, challenge string) string {
	v := url.Values{"response_type": {"code"}, "client_id": {oauthserver.CLIClientID}, "redirect_uri": {redirect},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {state}, "scope": {"openid email"}}
	return "/auth/authorize?" + v.Encode()
}

// signInForCode walks the authorization page with a password and returns
// the code the loopback listener received.
func (b *browser) signInForCode(c *callback, email, state, challenge string) string {
	b.t.Helper()
	p := b.get(authorizeURL(c.uri(), state, challenge))
	if p.status != 200 || !strings.Contains(p.body, `name="password"`) {
		b.t.Fatalf("authorize: %d %s", p.status, p.body)
	}
	f := p.form(b.t)
	f.Set("email", email)
	f.Set("password", "password-"+email)
	q := b.follow(b.post("/auth/authorize", f), c)
	if q.Get("state") != state || q.Get("code") == "" {
		b.t.Fatalf("callback got %v", q)
	}
	return q.Get("code")
}

func (ts *testServer) exchange(code, verifier, redirect string) answer {
	ts.t.Helper()
	return ts.form("/auth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"redirect_uri": {redirect}, "client_id": {oauthserver.CLIClientID}})
}

func wantOAuthError(t *testing.T, a answer, status int, code string) {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	a.json(t, &e)
	if a.status != status || e.Error != code {
		t.Fatalf("got %d %s, want %d %s", a.status, a.body, status, code)
	}
}

// TestAuthorizationCodeFlow: the CLI's authorization code grant with PKCE
// end to end over HTTP, and every refusal.
func TestAuthorizationCodeFlow(t *testing.T) {
	ts := startServer(t, "")
	ts.user("alice@example.com")
	cb := newCallback(t)
	b := newBrowser(t, ts)

	// The page: sign-in form, restrictive CSP, nothing from elsewhere.
	verifier, challenge := pkcePair()
	p := b.get(authorizeURL(cb.uri(), "st-1", challenge))
	if p.status != 200 || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
		t.Fatalf("authorize page: %d %v", p.status, p.header)
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	if strings.Contains(p.body, "https://") || strings.Contains(p.body, "<script") {
		t.Fatalf("page loads something: %s", p.body)
	}

	// A wrong password shows the form again.
	f := p.form(t)
	f.Set("email", "alice@example.com")
	f.Set("password", "wrong")
	if p := b.post("/auth/authorize", f); p.status != 401 || !strings.Contains(p.body, "Invalid email or password") {
		t.Fatalf("wrong password: %d %s", p.status, p.body)
	}
	// A form without the CSRF cookie's token is refused.
	bad := url.Values{}
	for k, v := range f {
		bad[k] = v
	}
	bad.Set("csrf", "forged")
	bad.Set("password", "password-alice@example.com")
	if p := b.post("/auth/authorize", bad); p.status != 403 {
		t.Fatalf("forged csrf: %d %s", p.status, p.body)
	}
	if p := newBrowser(t, ts).post("/auth/authorize", f); p.status != 403 {
		t.Fatalf("no form cookie: %d %s", p.status, p.body)
	}

	// Sign in: redirect to the loopback listener with the code and state.
	code := b.signInForCode(cb, "alice@example.com", "st-1", challenge)
	a := ts.exchange(code, verifier, cb.uri())
	if a.status != 200 || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("exchange: %d %s", a.status, a.body)
	}
	var tp api.TokenPair
	a.json(t, &tp)
	if tp.AccessToken == "" || tp.RefreshToken == "" || tp.TokenType != "Bearer" || tp.ExpiresIn <= 0 {
		t.Fatalf("tokens: %+v", tp)
	}
	if a := ts.do("GET", "/auth/me", tp.AccessToken, nil); a.status != 200 {
		t.Fatalf("me: %d %s", a.status, a.body)
	}
	// The refresh_token grant rotates the refresh token.
	a = ts.form("/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tp.RefreshToken}, "client_id": {oauthserver.CLIClientID}})
	if a.status != 200 {
		t.Fatalf("refresh grant: %d %s", a.status, a.body)
	}
	var tp2 api.TokenPair
	a.json(t, &tp2)
	wantOAuthError(t, ts.form("/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}), 400, "invalid_grant")

	// A replayed code is refused and revokes the session it started.
	wantOAuthError(t, ts.exchange(code, verifier, cb.uri()), 400, "invalid_grant")
	if a := ts.do("GET", "/auth/me", tp2.AccessToken, nil); a.status != 401 {
		t.Fatalf("session of a replayed code still works: %d", a.status)
	}

	// The browser's sign-in session itself was only the proof: ended.
	// A browser signed in to the platform (access cookie) gets no code
	// without the user's say (RFC 8252 §8.6): a consent page, whose
	// Allow issues the code and whose Deny refuses.
	_, tok := ts.user("bob@example.com")
	cookieBrowser := newBrowser(t, ts)
	u, _ := url.Parse(ts.URL())
	cookieBrowser.c.Jar.SetCookies(u, []*http.Cookie{{Name: identity.AccessCookie, Value: tok, Path: "/"},
		{Name: identity.CSRFCookie, Value: "platform-csrf", Path: "/"}})
	v2, c2 := pkcePair()
	p = cookieBrowser.get(authorizeURL(cb.uri(), "st-2", c2))
	if p.status != 200 || p.header.Get("Location") != "" || !strings.Contains(p.body, "Sign in the hks command-line tool as bob@example.com?") ||
		!strings.Contains(p.body, `value="allow"`) || !strings.Contains(p.body, `value="deny"`) || strings.Contains(p.body, `name="password"`) {
		t.Fatalf("signed-in browser: want the consent page, got %d %v %s", p.status, p.header, p.body)
	}
	consent := p.form(t)
	if consent.Get("csrf_token") != "platform-csrf" {
		t.Fatalf("consent form without the platform CSRF token: %v", consent)
	}
	withDecision := func(d string) url.Values {
		v := url.Values{}
		for k, x := range consent {
			v[k] = x
		}
		v.Set("decision", d)
		return v
	}
	// Forged or missing form token: refused, no code.
	forged := withDecision("allow")
	forged.Set("csrf", "forged")
	if p := cookieBrowser.post("/auth/authorize", forged); p.status != 403 || p.header.Get("Location") != "" {
		t.Fatalf("forged consent: %d %v %s", p.status, p.header, p.body)
	}
	if p := cookieBrowser.post("/auth/authorize", withDecision("maybe")); p.status != 400 || p.header.Get("Location") != "" {
		t.Fatalf("unknown decision: %d %v %s", p.status, p.header, p.body)
	}
	// Deny: the client gets access_denied and the state.
	q := cookieBrowser.follow(cookieBrowser.post("/auth/authorize", withDecision("deny")), cb)
	if q.Get("error") != "access_denied" || q.Get("state") != "st-2" || q.Get("code") != "" {
		t.Fatalf("deny: %v", q)
	}
	// The denied form is spent: its Allow gives no code.
	if p := cookieBrowser.post("/auth/authorize", withDecision("allow")); p.status != 409 || p.header.Get("Location") != "" {
		t.Fatalf("allow after deny: %d %v %s", p.status, p.header, p.body)
	}
	// Allow on a fresh page: the code.
	consent = cookieBrowser.get(authorizeURL(cb.uri(), "st-2", c2)).form(t)
	q = cookieBrowser.follow(cookieBrowser.post("/auth/authorize", withDecision("allow")), cb)
	if q.Get("state") != "st-2" || q.Get("code") == "" {
		t.Fatalf("cookie browser: %v", q)
	}
	a = ts.exchange(q.Get("code"), v2, cb.uri())
	a.json(t, &tp)
	if a.status != 200 {
		t.Fatalf("cookie browser exchange: %d %s", a.status, a.body)
	}
	if a := ts.do("GET", "/auth/me", tp.AccessToken, nil); a.status != 200 || !strings.Contains(string(a.body), "bob@example.com") {
		t.Fatalf("me: %d %s", a.status, a.body)
	}

	t.Run("token refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			mutate func(v url.Values)
			status int
			code   string
		}{
			{"wrong verifier", func(v url.Values) { v.Set("code_verifier", strings.Repeat("a", 43)) }, 400, "invalid_grant"},
			{"redirect_uri mismatch", func(v url.Values) { v.Set("redirect_uri", cb.uri()+"x") }, 400, "invalid_grant"},
			{"unknown client", func(v url.Values) { v.Set("client_id", "evil") }, 401, "invalid_client"},
			{"client secret", func(v url.Values) { v.Set("client_secret", "s") }, 401, "invalid_client"},
			{"no verifier", func(v url.Values) { v.Del("code_verifier") }, 400, "invalid_request"},
			{"short verifier", func(v url.Values) { v.Set("code_verifier", "abc") }, 400, "invalid_request"},
			{"unknown code", func(v url.Values) { v.Set("code", "nope") }, 400, "invalid_grant"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				verifier, challenge := pkcePair()
				code := b.signInForCode(cb, "alice@example.com", "s", challenge)
				v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
					"redirect_uri": {cb.uri()}, "client_id": {oauthserver.CLIClientID}}
				tc.mutate(v)
				wantOAuthError(t, ts.form("/auth/token", v), tc.status, tc.code)
			})
		}
		t.Run("expired code", func(t *testing.T) {
			verifier, challenge := pkcePair()
			code := b.signInForCode(cb, "alice@example.com", "s", challenge)
			ts.offset.Add(int64(oauthserver.CodeTTL + time.Second))
			wantOAuthError(t, ts.exchange(code, verifier, cb.uri()), 400, "invalid_grant")
		})
	})

	t.Run("lockout shared with the password login", func(t *testing.T) {
		ts.user("mallory-target@example.com")
		_, challenge := pkcePair()
		lb := newBrowser(t, ts)
		f := lb.get(authorizeURL(cb.uri(), "st", challenge)).form(t)
		f.Set("email", "mallory-target@example.com")
		f.Set("password", "guess")
		locked := false
		for i := 0; i < 30 && !locked; i++ {
			switch p := lb.post("/auth/authorize", f); p.status {
			case 401:
			case 429:
				locked = strings.Contains(p.body, "Too many failed sign-ins")
			default:
				t.Fatalf("attempt %d: %d %s", i, p.status, p.body)
			}
		}
		if !locked {
			t.Fatal("never locked out")
		}
		f.Set("password", "password-mallory-target@example.com")
		if p := lb.post("/auth/authorize", f); p.status != 429 {
			t.Fatalf("right password while locked: %d", p.status)
		}
		a := ts.raw("POST", "/auth/login", "application/json", `{"email":"mallory-target@example.com","password":"password-mallory-target@example.com"}`)
		if a.status != 429 {
			t.Fatalf("POST /auth/login while locked by the form: %d %s", a.status, a.body)
		}
	})

	t.Run("authorize refusals", func(t *testing.T) {
		_, challenge := pkcePair()
		base := func() url.Values {
			return url.Values{"response_type": {"code"}, "client_id": {oauthserver.CLIClientID}, "redirect_uri": {cb.uri()},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"st"}}
		}
		// Shown as a page, never redirected.
		for name, mutate := range map[string]func(url.Values){
			"unknown client":         func(v url.Values) { v.Set("client_id", "evil") },
			"no client":              func(v url.Values) { v.Del("client_id") },
			"remote redirect":        func(v url.Values) { v.Set("redirect_uri", "http://evil.example:8080/cb") },
			"https loopback":         func(v url.Values) { v.Set("redirect_uri", "https://127.0.0.1:8080/cb") },
			"other loopback":         func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.2:8080/cb") },
			"no port":                func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1/cb") },
			"redirect with query":    func(v url.Values) { v.Set("redirect_uri", cb.uri()+"?x=1") },
			"redirect userinfo":      func(v url.Values) { v.Set("redirect_uri", "http://evil@127.0.0.1:80/cb") },
			"repeated redirect":      func(v url.Values) { v.Add("redirect_uri", "http://127.0.0.1:1/") },
			"no redirect":            func(v url.Values) { v.Del("redirect_uri") },
			"javascript redirect":    func(v url.Values) { v.Set("redirect_uri", "javascript:alert(1)") },
			"localhost.evil.example": func(v url.Values) { v.Set("redirect_uri", "http://localhost.evil.example:80/cb") },
		} {
			t.Run(name, func(t *testing.T) {
				v := base()
				mutate(v)
				p := b.get("/auth/authorize?" + v.Encode())
				if p.status != 400 || p.header.Get("Location") != "" || !strings.Contains(p.body, "invalid") {
					t.Errorf("%s: %d %q %s", name, p.status, p.header.Get("Location"), p.body)
				}
			})
		}
		// Sent back to the (valid) redirect URI with an error.
		for _, tc := range []struct {
			name, code, state string
			mutate            func(url.Values)
		}{
			{"missing state", "invalid_request", "", func(v url.Values) { v.Del("state") }},
			{"missing PKCE", "invalid_request", "st", func(v url.Values) { v.Del("code_challenge") }},
			{"plain PKCE", "invalid_request", "st", func(v url.Values) { v.Set("code_challenge_method", "plain") }},
			{"no method", "invalid_request", "st", func(v url.Values) { v.Del("code_challenge_method") }},
			{"token response", "unsupported_response_type", "st", func(v url.Values) { v.Set("response_type", "token") }},
			{"unknown scope", "invalid_scope", "st", func(v url.Values) { v.Set("scope", "openid admin") }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				v := base()
				tc.mutate(v)
				q := b.follow(b.get("/auth/authorize?"+v.Encode()), cb)
				if q.Get("error") != tc.code || q.Get("state") != tc.state || q.Get("code") != "" {
					t.Errorf("%s: %v", tc.name, q)
				}
			})
		}
	})
}

// TestAuthorizeWithSecondFactor: a user with TOTP answers the second form.
func TestAuthorizeWithSecondFactor(t *testing.T) {
	ts := startServer(t, "")
	_, tok := ts.user("carol@example.com")
	secret, _ := ts.enrol(tok)
	ts.nextStep()
	cb := newCallback(t)
	b := newBrowser(t, ts)
	verifier, challenge := pkcePair()
	f := b.get(authorizeURL(cb.uri(), "st", challenge)).form(t)
	f.Set("email", "carol@example.com")
	f.Set("password", "password-carol@example.com")
	p := b.post("/auth/authorize", f)
	f = p.form(t)
	if p.status != 200 || f.Get("mfa_token") == "" || !strings.Contains(p.body, `name="code"`) {
		t.Fatalf("second factor form: %d %s", p.status, p.body)
	}
	f.Set("code", "000000")
	if p := b.post("/auth/authorize", f); p.status != 200 || !strings.Contains(p.body, "Wrong or used code") {
		t.Fatalf("wrong code: %d %s", p.status, p.body)
	}
	f.Set("code", ts.code(secret, 0))
	q := b.follow(b.post("/auth/authorize", f), cb)
	if a := ts.exchange(q.Get("code"), verifier, cb.uri()); a.status != 200 {
		t.Fatalf("exchange: %d %s", a.status, a.body)
	}
}

type deviceAuth struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

func (ts *testServer) deviceCode() deviceAuth {
	ts.t.Helper()
	a := ts.form("/auth/device/code", url.Values{"client_id": {oauthserver.CLIClientID}, "scope": {"openid"}})
	if a.status != 200 {
		ts.t.Fatalf("device code: %d %s", a.status, a.body)
	}
	var d deviceAuth
	a.json(ts.t, &d)
	return d
}

func (ts *testServer) poll(d deviceAuth) answer {
	ts.t.Helper()
	return ts.form("/auth/token", url.Values{"grant_type": {oauthserver.GrantDeviceCode}, "device_code": {d.DeviceCode}, "client_id": {oauthserver.CLIClientID}})
}

// decide approves or denies a user code in the browser, signing in.
func (b *browser) decide(userCode, decision, email string) page {
	b.t.Helper()
	p := b.get("/auth/device?user_code=" + url.QueryEscape(userCode))
	f := p.form(b.t)
	f.Set("decision", decision)
	if email != "" {
		f.Set("email", email)
		f.Set("password", "password-"+email)
	}
	return b.post("/auth/device", f)
}

// TestDeviceFlow: RFC 8628 end to end: pending, slow_down, approval in
// the browser, tokens once; denial; expiry; limited wrong codes.
func TestDeviceFlow(t *testing.T) {
	ts := startServer(t, "")
	ts.user("dave@example.com")
	d := ts.deviceCode()
	if !regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`).MatchString(d.UserCode) ||
		d.ExpiresIn != 600 || d.Interval != 5 || d.VerificationURI != ts.URL()+"/auth/device" ||
		d.VerificationURIComplete != d.VerificationURI+"?user_code="+d.UserCode || len(d.DeviceCode) < 40 {
		t.Fatalf("device authorization: %+v", d)
	}
	wantOAuthError(t, ts.poll(d), 400, "authorization_pending")
	wantOAuthError(t, ts.poll(d), 400, "slow_down") // at once: too fast
	ts.offset.Add(int64(11 * time.Second))          // the interval is now 10 s
	wantOAuthError(t, ts.poll(d), 400, "authorization_pending")

	// The browser enters the code in lower case without the dash, signs
	// in and approves.
	b := newBrowser(t, ts)
	if p := b.get("/auth/device"); p.status != 200 || !strings.Contains(p.body, `name="user_code"`) {
		t.Fatalf("enter code page: %d %s", p.status, p.body)
	}
	loose := strings.ToLower(strings.ReplaceAll(d.UserCode, "-", ""))
	p := b.decide(loose, "approve", "dave@example.com")
	if p.status != 200 || !strings.Contains(p.body, "Device approved") {
		t.Fatalf("approve: %d %s", p.status, p.body)
	}
	ts.offset.Add(int64(11 * time.Second))
	a := ts.poll(d)
	var tp api.TokenPair
	a.json(t, &tp)
	if a.status != 200 || tp.RefreshToken == "" {
		t.Fatalf("tokens: %d %s", a.status, a.body)
	}
	if a := ts.do("GET", "/auth/me", tp.AccessToken, nil); a.status != 200 || !strings.Contains(string(a.body), "dave@example.com") {
		t.Fatalf("me: %d %s", a.status, a.body)
	}
	ts.offset.Add(int64(11 * time.Second))
	wantOAuthError(t, ts.poll(d), 400, "invalid_grant") // once only
	ts.offset.Add(int64(11 * time.Second))
	wantOAuthError(t, ts.form("/auth/device/token", url.Values{"device_code": {d.DeviceCode}, "client_id": {oauthserver.CLIClientID}}), 400, "invalid_grant")
	// The code cannot be decided again.
	if p := b.get("/auth/device?user_code=" + d.UserCode); p.status != 400 {
		t.Fatalf("used code page: %d", p.status)
	}

	// Deny.
	d2 := ts.deviceCode()
	if p := newBrowser(t, ts).decide(d2.UserCode, "deny", ""); p.status != 200 || !strings.Contains(p.body, "Device denied") {
		t.Fatalf("deny: %d %s", p.status, p.body)
	}
	wantOAuthError(t, ts.poll(d2), 400, "access_denied")
	ts.offset.Add(int64(11 * time.Second))
	wantOAuthError(t, ts.form("/auth/device/token", url.Values{"device_code": {d2.DeviceCode}, "client_id": {oauthserver.CLIClientID}}), 400, "access_denied")
	wantOAuthError(t, ts.form("/auth/device/token", url.Values{"grant_type": {"password"}, "device_code": {d2.DeviceCode}}), 400, "unsupported_grant_type")

	// Wrong password keeps the code pending.
	d3 := ts.deviceCode()
	f := newBrowser(t, ts)
	pg := f.get("/auth/device?user_code=" + d3.UserCode)
	v := pg.form(t)
	v.Set("decision", "approve")
	v.Set("email", "dave@example.com")
	v.Set("password", "wrong")
	if p := f.post("/auth/device", v); p.status != 401 {
		t.Fatalf("wrong password: %d %s", p.status, p.body)
	}
	wantOAuthError(t, ts.poll(d3), 400, "authorization_pending")
	// Expiry.
	ts.offset.Add(int64(oauthserver.DeviceCodeTTL + time.Second))
	wantOAuthError(t, ts.poll(d3), 400, "expired_token")
	if p := f.get("/auth/device?user_code=" + d3.UserCode); p.status != 400 {
		t.Fatalf("expired code page: %d", p.status)
	}

	// Refusals of the device authorization endpoint.
	wantOAuthError(t, ts.form("/auth/device/code", url.Values{"client_id": {"evil"}}), 401, "invalid_client")
	wantOAuthError(t, ts.form("/auth/device/code", url.Values{}), 400, "invalid_request")
	wantOAuthError(t, ts.form("/auth/device/code", url.Values{"client_id": {oauthserver.CLIClientID}, "scope": {"admin"}}), 400, "invalid_scope")
	wantOAuthError(t, ts.form("/auth/token", url.Values{"grant_type": {oauthserver.GrantDeviceCode}, "device_code": {"nope"}, "client_id": {oauthserver.CLIClientID}}), 400, "invalid_grant")

	// Limited wrong user codes per client (in a fresh window).
	ts.offset.Add(int64(11 * time.Minute))
	g := newBrowser(t, ts)
	for i := range oauthserver.MaxUserCodeTry {
		if p := g.get("/auth/device?user_code=BBBB-BBB" + string("BCDFGHJKLM"[i])); p.status != 400 {
			t.Fatalf("wrong code %d: %d", i, p.status)
		}
	}
	d4 := ts.deviceCode()
	if p := g.get("/auth/device?user_code=" + d4.UserCode); p.status != 429 {
		t.Fatalf("after %d wrong codes: %d", oauthserver.MaxUserCodeTry, p.status)
	}
}

// TestCLIBrowserAndDeviceLogin: the CLI's browser and device sign-ins
// against a real server, the test playing the user's browser.
func TestCLIBrowserAndDeviceLogin(t *testing.T) {
	ts := startServer(t, "")
	ts.user("erin@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("browser", func(t *testing.T) {
		b := newBrowser(t, ts)
		var out strings.Builder
		opened := make(chan string, 1)
		o := cli.BrowserLoginOptions{Server: ts.URL(), HTTP: &http.Client{Timeout: 10 * time.Second}, Out: &out, Timeout: 30 * time.Second,
			OpenURL: func(u string) error { opened <- u; return nil }}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the user's browser
			defer wg.Done()
			u := <-opened
			if !strings.HasPrefix(u, ts.URL()+"/auth/authorize?") {
				t.Errorf("opened %q", u)
				return
			}
			p := b.get(u)
			f := p.form(t)
			f.Set("email", "erin@example.com")
			f.Set("password", "password-erin@example.com")
			p = b.post("/auth/authorize", f)
			loc := p.header.Get("Location")
			if p.status != 302 || !strings.HasPrefix(loc, "http://127.0.0.1:") {
				t.Errorf("sign in: %d %q", p.status, loc)
				return
			}
			if p := b.get(loc); p.status != 200 {
				t.Errorf("loopback: %d %s", p.status, p.body)
			}
		}()
		creds, err := cli.BrowserLogin(ctx, o)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), ts.URL()+"/auth/authorize?") {
			t.Fatalf("the URL is not printed: %s", out.String())
		}
		if a := ts.do("GET", "/auth/me", creds.AccessToken, nil); a.status != 200 || !strings.Contains(string(a.body), "erin@example.com") {
			t.Fatalf("me: %d %s", a.status, a.body)
		}
		// The stored refresh token works from the CLI (same client).
		c := &cli.Client{HTTP: &http.Client{Timeout: 10 * time.Second}, Creds: creds}
		c.Creds.ExpiresAt = time.Now() // force a refresh
		if err := c.Do(ctx, "GET", "/auth/me", nil, nil); err != nil {
			t.Fatalf("refresh from the CLI: %v", err)
		}
	})

	t.Run("browser refused", func(t *testing.T) {
		o := cli.BrowserLoginOptions{Server: ts.URL(), HTTP: &http.Client{Timeout: 10 * time.Second}, Timeout: 30 * time.Second,
			OpenURL: func(u string) error {
				// The user's browser comes back with an error (and
				// someone else's redirect with a wrong state is ignored).
				pu, _ := url.Parse(u)
				q := pu.Query()
				redirect := q.Get("redirect_uri")
				go func() {
					_, _ = http.Get(redirect + "?code=stolen&state=wrong")
					_, _ = http.Get(redirect + "?error=access_denied&state=" + url.QueryEscape(q.Get("state")))
				}()
				return nil
			}}
		_, err := cli.BrowserLogin(ctx, o)
		if err == nil || !strings.Contains(err.Error(), "access_denied") {
			t.Fatalf("err = %v", err)
		}
	})

	// The CLI waits the server's poll interval (5s) before it asks for
	// the token: the two device sign-ins wait at the same time.
	t.Run("device flows", func(t *testing.T) {
		t.Run("device", func(t *testing.T) {
			t.Parallel()
			pr, pw := io.Pipe()
			o := cli.BrowserLoginOptions{Server: ts.URL(), HTTP: &http.Client{Timeout: 10 * time.Second}, Out: pw, Timeout: 40 * time.Second}
			type res struct {
				creds cli.Credentials
				err   error
			}
			done := make(chan res, 1)
			go func() {
				c, err := cli.DeviceLogin(ctx, o)
				pw.Close()
				done <- res{c, err}
			}()
			// Read the user code the CLI prints, approve it in the browser.
			uc := readUserCode(t, pr)
			if p := newBrowser(t, ts).decide(uc, "approve", "erin@example.com"); p.status != 200 {
				t.Fatalf("approve: %d %s", p.status, p.body)
			}
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			if a := ts.do("GET", "/auth/me", r.creds.AccessToken, nil); a.status != 200 {
				t.Fatalf("me: %d %s", a.status, a.body)
			}
		})

		t.Run("device denied", func(t *testing.T) {
			t.Parallel()
			pr, pw := io.Pipe()
			o := cli.BrowserLoginOptions{Server: ts.URL(), HTTP: &http.Client{Timeout: 10 * time.Second}, Out: pw, Timeout: 40 * time.Second}
			done := make(chan error, 1)
			go func() {
				_, err := cli.DeviceLogin(ctx, o)
				pw.Close()
				done <- err
			}()
			uc := readUserCode(t, pr)
			newBrowser(t, ts).decide(uc, "deny", "")
			if err := <-done; err == nil || !strings.Contains(err.Error(), "access_denied") {
				t.Fatalf("err = %v", err)
			}
		})
	})
}

var printedUserCode = regexp.MustCompile(`\b[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}\b`)

// readUserCode reads the CLI's output until it shows the user code and
// the verification page, then drains the rest.
func readUserCode(t *testing.T, r io.Reader) string {
	t.Helper()
	buf := make([]byte, 4096)
	var printed strings.Builder
	for !printedUserCode.MatchString(printed.String()) || !strings.Contains(printed.String(), "Waiting") {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatalf("CLI output %q: %v", printed.String(), err)
		}
		printed.Write(buf[:n])
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
	if !strings.Contains(printed.String(), "/auth/device") {
		t.Fatalf("printed %q", printed.String())
	}
	return printedUserCode.FindString(printed.String())
}

// TestHTTPSBehindProxy: TLS ends at a proxy (https external URL, plain
// HTTP to the server): answers still carry HSTS, and cookies are Secure.
func TestHTTPSBehindProxy(t *testing.T) {
	ts := startServerWith(t, func(c *config.Config) { c.ExternalURL = "https://hks.example.com" })
	if !strings.HasPrefix(ts.URL(), "http://") {
		t.Fatalf("URL %s: want plain HTTP behind the proxy", ts.URL())
	}
	for _, path := range []string{"/healthz", "/no-such-route"} {
		t.Run(testutil.CaseName(path), func(t *testing.T) {
			if a := ts.do("GET", path, "", nil); a.header.Get("Strict-Transport-Security") != httpapi.HSTSValue {
				t.Errorf("%s: HSTS %q, want %q", path, a.header.Get("Strict-Transport-Security"), httpapi.HSTSValue)
			}
		})
	}
	_, challenge := pkcePair()
	p := newBrowser(t, ts).get(authorizeURL("http://127.0.0.1:9/callback", "s", challenge))
	if p.status != 200 || p.header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("authorize page: %d %v", p.status, p.header)
	}
	for _, c := range p.header["Set-Cookie"] {
		if !strings.Contains(c, "; Secure") {
			t.Errorf("cookie not Secure: %s", c)
		}
	}
}

// TestConsentCrossSite: a page of another site (or a sibling subdomain
// that planted the CSRF cookie) cannot post the consent form of a
// signed-in browser.
func TestConsentCrossSite(t *testing.T) {
	ts := startServer(t, "")
	_, tok := ts.user("carol@example.com")
	cb := newCallback(t)
	b := newBrowser(t, ts)
	u, _ := url.Parse(ts.URL())
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: identity.AccessCookie, Value: tok, Path: "/"},
		{Name: identity.CSRFCookie, Value: "planted", Path: "/"}})
	_, challenge := pkcePair()
	f := b.get(authorizeURL(cb.uri(), "st", challenge)).form(t)
	f.Set("decision", "allow")
	for _, site := range []string{"same-site", "cross-site"} {
		t.Run(site, func(t *testing.T) {
			req, err := http.NewRequest("POST", ts.URL()+"/auth/authorize", strings.NewReader(f.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", site)
			if p := b.do(req); p.status != 403 || p.header.Get("Location") != "" || !strings.Contains(p.body, "Sec-Fetch-Site") {
				t.Fatalf("%s consent: %d %v %s", site, p.status, p.header, p.body)
			}
		})
	}
	req, _ := http.NewRequest("POST", ts.URL()+"/auth/authorize", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if q := b.follow(b.do(req), cb); q.Get("code") == "" || q.Get("state") != "st" {
		t.Fatalf("same-origin consent: %v", q)
	}
}

// consentBrowser is a browser signed in to the platform with token (its
// access cookie and a platform CSRF cookie).
func consentBrowser(t *testing.T, ts *testServer, token string) *browser {
	t.Helper()
	b := newBrowser(t, ts)
	u, _ := url.Parse(ts.URL())
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: identity.AccessCookie, Value: token, Path: "/"},
		{Name: identity.CSRFCookie, Value: "platform-csrf", Path: "/"}})
	return b
}

// consentForm is the answer to the consent page b gets for an
// authorization request to cb with challenge, with the decision allow.
func (b *browser) consentForm(cb *callback, state, challenge string) url.Values {
	b.t.Helper()
	p := b.get(authorizeURL(cb.uri(), state, challenge))
	if p.status != 200 || !strings.Contains(p.body, `value="allow"`) {
		b.t.Fatalf("want the consent page: %d %s", p.status, p.body)
	}
	f := p.form(b.t)
	f.Set("decision", "allow")
	return f
}

// refusedWithoutCode checks that a form post was refused with want and
// issued no code.
func refusedWithoutCode(t *testing.T, p page, want int) {
	t.Helper()
	if p.status != want || p.header.Get("Location") != "" || strings.Contains(p.body, "code=") {
		t.Fatalf("status %d (want %d), Location %q: %s", p.status, want, p.header.Get("Location"), p.body)
	}
}

// TestConsentFormIsBoundToItsRequestAndSession: the consent form answers
// only the authorization request it was shown for, only from the session
// it was shown to, and only once.
func TestConsentFormIsBoundToItsRequestAndSession(t *testing.T) {
	ts := startServer(t, "")
	_, tok := ts.user("dave@example.com")
	other, err := ts.identity.Login(t.Context(), "dave@example.com", "password-dave@example.com", identity.ClientMeta{IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	cb := newCallback(t)
	b := consentBrowser(t, ts, tok)
	_, otherChallenge := pkcePair()
	for _, tc := range []struct {
		name   string
		change func(f url.Values)
		status int
	}{
		{"redirect_uri changed", func(f url.Values) { f.Set("redirect_uri", "http://127.0.0.1:9/callback") }, 400},
		{"code_challenge changed", func(f url.Values) { f.Set("code_challenge", otherChallenge) }, 400},
		{"client_id changed", func(f url.Values) { f.Set("client_id", "evil") }, 400},
		{"state changed", func(f url.Values) { f.Set("state", "other") }, 400},
		{"scope changed", func(f url.Values) { f.Set("scope", "openid email groups offline_access") }, 400},
		{"consent missing", func(f url.Values) { f.Del("consent") }, 403},
		{"consent forged", func(f url.Values) { f.Set("consent", "AAAA") }, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.t = t
			_, challenge := pkcePair()
			f := b.consentForm(cb, "st", challenge)
			tc.change(f)
			refusedWithoutCode(t, b.post("/auth/authorize", f), tc.status)
		})
	}
	b.t = t

	t.Run("another session's form", func(t *testing.T) {
		_, challenge := pkcePair()
		f := b.consentForm(cb, "st", challenge)
		// The other session's browser, with its own form cookie and
		// token, posts the form shown to the first.
		ob := consentBrowser(t, ts, other.AccessToken)
		own := ob.consentForm(cb, "st", challenge)
		f.Set("csrf", own.Get("csrf"))
		refusedWithoutCode(t, ob.post("/auth/authorize", f), 403)
	})

	t.Run("the longest state", func(t *testing.T) {
		b.t = t
		state := strings.Repeat("<", 512) // escaped to \u003c when sealed
		_, challenge := pkcePair()
		if q := b.follow(b.post("/auth/authorize", b.consentForm(cb, state, challenge)), cb); q.Get("code") == "" || q.Get("state") != state {
			t.Fatalf("consent with the longest state: %v", q)
		}
	})

	t.Run("replayed form", func(t *testing.T) {
		b.t = t
		verifier, challenge := pkcePair()
		f := b.consentForm(cb, "st", challenge)
		q := b.follow(b.post("/auth/authorize", f), cb)
		if q.Get("code") == "" || q.Get("state") != "st" {
			t.Fatalf("honest consent: %v", q)
		}
		refusedWithoutCode(t, b.post("/auth/authorize", f), 409)
		// The first code is unharmed.
		if a := ts.exchange(q.Get("code"), verifier, cb.uri()); a.status != 200 {
			t.Fatalf("exchange: %d %s", a.status, a.body)
		}
	})
}

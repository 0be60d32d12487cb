package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// TestCookieSessionSignIn: a browser's sign-in with session "cookie" gets
// the access and refresh tokens only as HttpOnly cookies (never in the
// body, where a script could read them), plus the CSRF double-submit
// cookie the page echoes; the cookie then authenticates API calls, and a
// state-changing call without the CSRF header is refused.
func TestCookieSessionSignIn(t *testing.T) {
	ts := startServer(t, "")
	ts.user("browser@example.com")
	a := ts.do("POST", "/auth/login", "", map[string]string{"email": "browser@example.com", "password": "password-browser@example.com", "session": "cookie"})
	if a.status != 200 {
		t.Fatalf("login: %d %s", a.status, a.body)
	}
	if strings.Contains(string(a.body), "access_token") || strings.Contains(string(a.body), "refresh_token") {
		t.Fatalf("a cookie sign-in answered tokens in the body: %s", a.body)
	}
	cookies := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		cookies[c.Name] = c
	}
	for _, name := range []string{"hks_access", "hks_refresh"} {
		if c := cookies[name]; c == nil || !c.HttpOnly || c.Value == "" {
			t.Fatalf("cookie %s: %+v, want an HttpOnly cookie with the token", name, c)
		}
	}
	csrf := cookies["hks_csrf"]
	if csrf == nil || csrf.HttpOnly || csrf.Value == "" {
		t.Fatalf("csrf cookie %+v, want one the page can read", csrf)
	}
	jar := "hks_access=" + cookies["hks_access"].Value + "; hks_csrf=" + csrf.Value
	me := ts.doWith("GET", "/auth/me", "", nil, http.Header{"Cookie": {jar}})
	if me.status != 200 || !strings.Contains(string(me.body), "browser@example.com") {
		t.Fatalf("GET /auth/me with the cookie: %d %s", me.status, me.body)
	}
	post := ts.doWith("POST", "/api/v1/organizations", "", map[string]string{"name": "Cookie Org"}, http.Header{"Cookie": {jar}})
	if post.status != 403 {
		t.Fatalf("POST without the CSRF header: %d %s, want 403", post.status, post.body)
	}
	post = ts.doWith("POST", "/api/v1/organizations", "", map[string]string{"name": "Cookie Org"}, http.Header{"Cookie": {jar}, "X-CSRF-Token": {csrf.Value}})
	if post.status != 201 {
		t.Fatalf("POST with the CSRF header: %d %s, want 201", post.status, post.body)
	}
}

// TestConsoleIsServedAtRoot: the console (or, in a binary built without
// it, the page saying how to build it) answers the page paths with the
// page's Content-Security-Policy, while unknown paths of the API stay
// problem+json 404s and other methods never get the page.
func TestConsoleIsServedAtRoot(t *testing.T) {
	ts := startServer(t, "")
	for _, p := range []string{"/", "/orgs/acme/workspaces/web", "/login"} {
		a := ts.do("GET", p, "", nil)
		if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s: %d %s", p, a.status, a.header.Get("Content-Type"))
		}
		if csp := a.header.Get("Content-Security-Policy"); csp != httpapi.PageContentSecurityPolicy {
			t.Fatalf("GET %s: CSP %q", p, csp)
		}
	}
	for _, tt := range []struct{ method, path string }{
		{"GET", "/api/v1/nothing-here"}, {"GET", "/api/nothing"}, {"GET", "/auth/nothing"},
		{"GET", "/.well-known/nothing"}, {"GET", "/k8s"}, {"POST", "/orgs"}, {"DELETE", "/"},
	} {
		a := ts.do(tt.method, tt.path, "", nil)
		if a.status != 404 && a.status != 405 && a.status != 401 {
			t.Fatalf("%s %s: %d, want the API's 404", tt.method, tt.path, a.status)
		}
		a.problem(t)
	}
}

// TestCookieSignInIsSameOriginJSON: a sign-in that would start a cookie
// session is refused unless it is JSON from this site, so that a page of
// another origin cannot sign the browser into the attacker's account
// (login CSRF); the same sign-in for tokens (a CLI) is unaffected.
func TestCookieSignInIsSameOriginJSON(t *testing.T) {
	ts := startServer(t, "")
	ts.user("victim@example.com")
	body := `{"email":"victim@example.com","password":"password-victim@example.com","session":"cookie"}`
	for _, tc := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"no content type", http.Header{"Content-Type": {""}}, 415},
		{"text/plain (no preflight)", http.Header{"Content-Type": {"text/plain"}}, 415},
		{"another site", http.Header{"Content-Type": {"application/json"}, "Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}, 403},
		{"another port of this host", http.Header{"Content-Type": {"application/json"}, "Sec-Fetch-Site": {"same-site"}, "Origin": {"http://127.0.0.1:9"}}, 403},
		{"this site", http.Header{"Content-Type": {"application/json"}, "Sec-Fetch-Site": {"same-origin"}}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := ts.doWith("POST", "/auth/login", "", body, tc.header)
			if a.status != tc.want {
				t.Fatalf("%d %s, want %d", a.status, a.body, tc.want)
			}
			if tc.want != 200 {
				a.problem(t)
				if len(a.header.Values("Set-Cookie")) > 0 && strings.Contains(strings.Join(a.header.Values("Set-Cookie"), ";"), "hks_access") {
					t.Fatal("a refused sign-in set the session cookie")
				}
			}
		})
	}
	cli := ts.doWith("POST", "/auth/login", "", `{"email":"victim@example.com","password":"password-victim@example.com"}`, http.Header{"Content-Type": {""}})
	if cli.status != 200 || !strings.Contains(string(cli.body), "access_token") {
		t.Fatalf("a token sign-in without a content type: %d %s", cli.status, cli.body)
	}
}

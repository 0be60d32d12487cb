package oidctest_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/federation/oidctest"
)

// TestProviderRefuses checks the provider enforces what it claims, so that
// tests relying on it cannot pass against a lenient one.
func TestProviderRefuses(t *testing.T) {
	p := oidctest.Start(t)
	const redirect = "http://127.0.0.1:1/cb"
	p.AddClient(oidctest.Client{ID: "rp", Secret: "s", RedirectURIs: []string{redirect}})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])

	authorize := func(t *testing.T, q url.Values) *http.Response {
		t.Helper()
		resp, err := noFollow.Get(p.Issuer() + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	good := func() url.Values {
		return url.Values{"response_type": {"code"}, "client_id": {"rp"}, "redirect_uri": {redirect}, "scope": {"openid email"},
			"state": {"st"}, "nonce": {"n"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	}
	code := func(t *testing.T) string {
		t.Helper()
		resp := authorize(t, good())
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st" {
			t.Fatalf("authorize: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		return loc.Query().Get("code")
	}

	t.Run("authorize", func(t *testing.T) {
		for name, tc := range map[string]struct {
			mutate func(url.Values)
			status int
			err    string
		}{
			"unknown client":      {func(q url.Values) { q.Set("client_id", "x") }, 400, ""},
			"unregistered uri":    {func(q url.Values) { q.Set("redirect_uri", redirect+"/x") }, 400, ""},
			"no PKCE":             {func(q url.Values) { q.Del("code_challenge") }, 302, "invalid_request"},
			"plain PKCE":          {func(q url.Values) { q.Set("code_challenge_method", "plain") }, 302, "invalid_request"},
			"no openid scope":     {func(q url.Values) { q.Set("scope", "email") }, 302, "invalid_scope"},
			"token response type": {func(q url.Values) { q.Set("response_type", "token") }, 302, "unsupported_response_type"},
		} {
			t.Run(name, func(t *testing.T) {
				q := good()
				tc.mutate(q)
				resp := authorize(t, q)
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
				}
				if tc.err != "" {
					loc, _ := url.Parse(resp.Header.Get("Location"))
					if loc.Query().Get("error") != tc.err || loc.Query().Get("state") != "st" {
						t.Fatalf("redirect %s, want error %s", loc, tc.err)
					}
				}
			})
		}
	})

	t.Run("token", func(t *testing.T) {
		exchange := func(t *testing.T, form url.Values, user, pass string) (int, map[string]any) {
			t.Helper()
			req, _ := http.NewRequest("POST", p.Issuer()+"/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if user != "" {
				req.SetBasicAuth(user, pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			return resp.StatusCode, m
		}
		form := func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
		}
		for name, tc := range map[string]struct {
			form       func(c string) url.Values
			user, pass string
			status     int
			err        string
		}{
			"wrong secret":       {form, "rp", "wrong", 401, "invalid_client"},
			"no client auth":     {form, "", "", 401, "invalid_client"},
			"wrong verifier":     {func(c string) url.Values { f := form(c); f.Set("code_verifier", strings.Repeat("w", 43)); return f }, "rp", "s", 400, "invalid_grant"},
			"no verifier":        {func(c string) url.Values { f := form(c); f.Del("code_verifier"); return f }, "rp", "s", 400, "invalid_grant"},
			"other redirect_uri": {func(c string) url.Values { f := form(c); f.Set("redirect_uri", redirect+"/x"); return f }, "rp", "s", 400, "invalid_grant"},
			"unknown code":       {func(string) url.Values { return form("nope") }, "rp", "s", 400, "invalid_grant"},
		} {
			t.Run(name, func(t *testing.T) {
				status, m := exchange(t, tc.form(code(t)), tc.user, tc.pass)
				if status != tc.status || m["error"] != tc.err {
					t.Fatalf("%d %v, want %d %s", status, m, tc.status, tc.err)
				}
			})
		}
		t.Run("single use", func(t *testing.T) {
			c := code(t)
			// client_secret_post works as well as client_secret_basic.
			f := form(c)
			f.Set("client_id", "rp")
			f.Set("client_secret", "s")
			if status, m := exchange(t, f, "", ""); status != 200 || m["id_token"] == nil {
				t.Fatalf("first exchange: %d %v", status, m)
			}
			if status, m := exchange(t, form(c), "rp", "s"); status != 400 || m["error"] != "invalid_grant" {
				t.Fatalf("second exchange: %d %v", status, m)
			}
		})
	})
}

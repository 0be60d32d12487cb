package oauthserver

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/testutil"
)

const testChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

func validQuery() url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {CLIClientID}, "redirect_uri": {"http://127.0.0.1:4242/callback"},
		"code_challenge": {testChallenge}, "code_challenge_method": {"S256"}, "state": {"xyz"}, "scope": {"openid openid email"}}
}

func TestParseAuthorizeRequest(t *testing.T) {
	req, err := ParseAuthorizeRequest(validQuery())
	if err != nil {
		t.Fatal(err)
	}
	want := AuthorizeRequest{ClientID: CLIClientID, RedirectURI: "http://127.0.0.1:4242/callback", State: "xyz", CodeChallenge: testChallenge, Scope: "openid email"}
	if req != want {
		t.Fatalf("got %+v, want %+v", req, want)
	}
	for _, tc := range []struct {
		name     string
		mutate   func(url.Values)
		redirect bool
		code     string
	}{
		{"unknown client", func(v url.Values) { v.Set("client_id", "x") }, false, "invalid_client"},
		{"two clients", func(v url.Values) { v.Add("client_id", CLIClientID) }, false, "invalid_request"},
		{"remote redirect", func(v url.Values) { v.Set("redirect_uri", "http://example.com:80/") }, false, "invalid_request"},
		{"mapped v4", func(v url.Values) { v.Set("redirect_uri", "http://[::ffff:127.0.0.1]:80/") }, false, "invalid_request"},
		{"port 0", func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:0/") }, false, "invalid_request"},
		{"port too big", func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:65536/") }, false, "invalid_request"},
		{"fragment", func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:1/#x") }, false, "invalid_request"},
		{"control char", func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:1/\n") }, false, "invalid_request"},
		{"no state", func(v url.Values) { v.Del("state") }, true, "invalid_request"},
		{"state with newline", func(v url.Values) { v.Set("state", "a\nb") }, true, "invalid_request"},
		{"long state", func(v url.Values) { v.Set("state", strings.Repeat("s", 513)) }, true, "invalid_request"},
		{"short challenge", func(v url.Values) { v.Set("code_challenge", "abc") }, true, "invalid_request"},
		{"plain", func(v url.Values) { v.Set("code_challenge_method", "plain") }, true, "invalid_request"},
		{"implicit", func(v url.Values) { v.Set("response_type", "token") }, true, "unsupported_response_type"},
		{"scope", func(v url.Values) { v.Set("scope", "openid profile") }, true, "invalid_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := validQuery()
			tc.mutate(v)
			_, err := ParseAuthorizeRequest(v)
			var ae *AuthorizeError
			if !errors.As(err, &ae) || ae.Redirect != tc.redirect || ae.Code != tc.code {
				t.Fatalf("err = %#v, want redirect=%v %s", err, tc.redirect, tc.code)
			}
		})
	}
	for _, ok := range []string{"http://localhost:1/", "http://[::1]:8080/cb", "http://127.0.0.1:65535", "http://127.0.0.1:5/a/b"} {
		t.Run(ok, func(t *testing.T) {
			if err := ValidateRedirectURI(ok); err != nil {
				t.Errorf("%s refused: %v", ok, err)
			}
		})
	}
}

func TestUserCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := NewUserCode()
		if err != nil {
			t.Fatal(err)
		}
		n, ok := NormalizeUserCode(c)
		if !ok || len(c) != 9 || c[4] != '-' || formatUserCode(n) != c {
			t.Fatalf("user code %q -> %q %v", c, n, ok)
		}
		seen[c] = true
	}
	if len(seen) < 195 {
		t.Fatalf("only %d distinct codes of 200", len(seen))
	}
	for in, want := range map[string]string{"wdjb-mjht": "WDJBMJHT", "WDJB MJHT": "WDJBMJHT", "wdjbmjht": "WDJBMJHT"} {
		t.Run(in, func(t *testing.T) {
			if got, ok := NormalizeUserCode(in); !ok || got != want {
				t.Errorf("%q -> %q %v", in, got, ok)
			}
		})
	}
	for _, bad := range []string{"", "WDJB-MJH", "WDJB-MJHTX", "AEIO-UAEI", "WDJB-MJH1", "ẀDJB-MJHT", strings.Repeat("B", 17)} {
		t.Run("bad "+testutil.CaseName(bad), func(t *testing.T) {
			if _, ok := NormalizeUserCode(bad); ok {
				t.Errorf("%q accepted", bad)
			}
		})
	}
}

// FuzzParseAuthorizeRequest: no input panics; an accepted request has a
// loopback redirect URI, a valid state and an S256 challenge, and a refusal
// that goes to the redirect URI only does so for a valid one.
func FuzzParseAuthorizeRequest(f *testing.F) {
	f.Add(validQuery().Encode())
	f.Add("client_id=hks-cli&redirect_uri=http%3A%2F%2Flocalhost%3A1%2F&state=a")
	f.Add("client_id=hks-cli&redirect_uri=http://127.0.0.1:80@evil/&state=a&response_type=code")
	f.Add("redirect_uri=javascript:alert(1)")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req, err := ParseAuthorizeRequest(q)
		var ae *AuthorizeError
		if err != nil && !errors.As(err, &ae) {
			t.Fatalf("error of another type: %v", err)
		}
		if err == nil || ae.Redirect {
			if verr := ValidateRedirectURI(req.RedirectURI); verr != nil {
				t.Fatalf("redirect_uri %q used but invalid: %v", req.RedirectURI, verr)
			}
			u, perr := url.Parse(req.RedirectURI)
			if perr != nil || u.Scheme != "http" || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1") {
				t.Fatalf("redirect_uri %q is not loopback", req.RedirectURI)
			}
		}
		if err == nil {
			if req.ClientID != CLIClientID || req.State == "" || !s256Challenge.MatchString(req.CodeChallenge) || !printableASCII(req.State) {
				t.Fatalf("accepted %+v", req)
			}
		}
	})
}

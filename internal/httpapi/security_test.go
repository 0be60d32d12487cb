package httpapi

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/testutil"
)

func TestSecurityHeadersCSP(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		tls  bool
		csp  string
		hsts bool
		ext  bool   // the external URL is https (TLS ends at a proxy)
		host string // the request's Host, when not example.com
	}{
		{"json", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, "{}")
		}, false, APIContentSecurityPolicy, false, false, ""},
		{"html page", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(200)
			_, _ = io.WriteString(w, "<p>hi</p>")
		}, true, PageContentSecurityPolicy, true, false, ""},
		{"sniffed html gets the page policy", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "<html><script>x</script></html>")
		}, false, PageContentSecurityPolicy, false, false, ""},
		{"handler's own policy kept", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Security-Policy", "default-src 'self'")
			w.WriteHeader(204)
		}, false, "default-src 'self'", false, false, ""},
		{"no body", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }, false, APIContentSecurityPolicy, false, false, ""},
		// A 304 updates the stored answer's headers: the API policy on the
		// revalidation of a page (http.ServeContent drops Content-Type on
		// a 304) would block the page's own scripts and styles.
		{"304 revalidating a page keeps the stored policy", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			r.Header.Set("If-Modified-Since", time.Unix(1e9, 0).UTC().Format(http.TimeFormat))
			http.ServeContent(w, r, "index.html", time.Unix(1e9, 0), strings.NewReader("<p>hi</p>"))
		}, false, "", false, false, ""},
		{"https external URL, plain HTTP behind a proxy", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }, false, APIContentSecurityPolicy, true, true, ""},
		{"https external URL and TLS", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }, true, APIContentSecurityPolicy, true, true, ""},
		{"TLS to localhost: no HSTS (it would pin every port of localhost)", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }, true, APIContentSecurityPolicy, false, false, "localhost:41943"},
		{"TLS to a name under localhost", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }, true, APIContentSecurityPolicy, false, true, "hks.localhost"},
		{"TLS to 127.0.0.1 (browsers ignore HSTS for addresses)", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }, true, APIContentSecurityPolicy, true, false, "127.0.0.1:8443"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.host != "" {
				r.Host = tc.host
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			w := httptest.NewRecorder()
			SecurityHeaders(SecurityConfig{ExternalHTTPS: tc.ext})(tc.h).ServeHTTP(w, r)
			if got := w.Header().Get("Content-Security-Policy"); got != tc.csp {
				t.Fatalf("CSP %q, want %q", got, tc.csp)
			}
			if (w.Header().Get("Strict-Transport-Security") != "") != tc.hsts {
				t.Fatalf("HSTS %q with TLS %v", w.Header().Get("Strict-Transport-Security"), tc.tls)
			}
			for _, k := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy"} {
				if w.Header().Get(k) == "" {
					t.Fatalf("%s missing", k)
				}
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	cfg := CSRFConfig{SessionCookies: []string{"acc", "ref"}, Cookie: "csrf", Header: "X-CSRF-Token", TrustedOrigins: []string{"https://app.example.com"}}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	h := CSRF(cfg)(ok)
	for _, tc := range []struct {
		name    string
		method  string
		cookies map[string]string
		header  map[string]string
		status  int
		detail  string
		form    string
	}{
		{"form post with matching field", "POST", map[string]string{"acc": "t", "csrf": "a"}, nil, 200, "", "email=x&csrf_token=a"},
		{"form post with wrong field", "POST", map[string]string{"acc": "t", "csrf": "a"}, nil, 403, "does not match", "csrf_token=b"},
		{"form post without field", "POST", map[string]string{"acc": "t", "csrf": "a"}, nil, 403, "header is missing", "email=x"},
		{"GET with cookie", "GET", map[string]string{"acc": "t"}, nil, 200, "", ""},
		{"POST without cookies", "POST", nil, nil, 200, "", ""},
		{"POST bearer with cookies", "POST", map[string]string{"acc": "t"}, map[string]string{"Authorization": "Bearer x"}, 200, "", ""},
		{"POST cookie, no token", "POST", map[string]string{"acc": "t", "csrf": "a"}, nil, 403, "X-CSRF-Token header is missing", ""},
		{"DELETE cookie, no csrf cookie", "DELETE", map[string]string{"acc": "t"}, map[string]string{"X-CSRF-Token": "a"}, 403, "csrf cookie is missing", ""},
		{"PATCH mismatch", "PATCH", map[string]string{"acc": "t", "csrf": "a"}, map[string]string{"X-CSRF-Token": "b"}, 403, "does not match", ""},
		{"PUT refresh cookie only, mismatch", "PUT", map[string]string{"ref": "t", "csrf": "a"}, map[string]string{"X-CSRF-Token": "ab"}, 403, "does not match", ""},
		{"POST match", "POST", map[string]string{"ref": "t", "csrf": "a"}, map[string]string{"X-CSRF-Token": "a"}, 200, "", ""},
		// A sibling subdomain can plant the csrf cookie and echo it: the
		// browser's Sec-Fetch-Site gives it away.
		{"POST match, same-site (sibling subdomain)", "POST", map[string]string{"acc": "t", "csrf": "a"},
			map[string]string{"X-CSRF-Token": "a", "Sec-Fetch-Site": "same-site"}, 403, "Sec-Fetch-Site", ""},
		{"form post match, cross-site", "POST", map[string]string{"acc": "t", "csrf": "a"},
			map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "Sec-Fetch-Site", "csrf_token=a"},
		{"DELETE match, empty Sec-Fetch-Site", "DELETE", map[string]string{"acc": "t", "csrf": "a"},
			map[string]string{"X-CSRF-Token": "a", "Sec-Fetch-Site": ""}, 403, "Sec-Fetch-Site", ""},
		{"POST match, same-origin", "POST", map[string]string{"acc": "t", "csrf": "a"},
			map[string]string{"X-CSRF-Token": "a", "Sec-Fetch-Site": "same-origin"}, 200, "", ""},
		{"form post match, user-typed (none)", "POST", map[string]string{"acc": "t", "csrf": "a"},
			map[string]string{"Sec-Fetch-Site": "none"}, 200, "", "csrf_token=a"},
		{"same-origin does not replace the token", "POST", map[string]string{"acc": "t", "csrf": "a"},
			map[string]string{"Sec-Fetch-Site": "same-origin"}, 403, "header is missing", ""},
		{"bearer request, cross-site", "POST", map[string]string{"acc": "t"},
			map[string]string{"Authorization": "Bearer x", "Sec-Fetch-Site": "cross-site"}, 200, "", ""},
		{"cross-site without cookies", "POST", nil, map[string]string{"Sec-Fetch-Site": "cross-site"}, 200, "", ""},
		// A CORS allowed origin may call with the cookies (and the token).
		{"trusted origin, same-site", "POST", map[string]string{"acc": "t", "csrf": "a"},
			map[string]string{"X-CSRF-Token": "a", "Sec-Fetch-Site": "same-site", "Origin": "https://app.example.com"}, 200, "", ""},
		{"trusted origin still needs the token", "POST", map[string]string{"acc": "t", "csrf": "a"},
			map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://app.example.com"}, 403, "header is missing", ""},
		{"untrusted origin, same-site", "POST", map[string]string{"acc": "t", "csrf": "a"},
			map[string]string{"X-CSRF-Token": "a", "Sec-Fetch-Site": "same-site", "Origin": "https://evil.example.com"}, 403, "Sec-Fetch-Site", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.form != "" {
				body = strings.NewReader(tc.form)
			}
			r := httptest.NewRequest(tc.method, "/x", body)
			if tc.form != "" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			for k, v := range tc.cookies {
				r.AddCookie(&http.Cookie{Name: k, Value: v})
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.detail != "" && (!strings.Contains(w.Body.String(), tc.detail) || !strings.Contains(w.Body.String(), ProblemTypeBase+"csrf")) {
				t.Fatalf("body %s, want csrf problem naming %q", w.Body, tc.detail)
			}
		})
	}
}

func TestCORSNoWildcard(t *testing.T) {
	h := CORS(CORSConfig{AllowedOrigins: []string{"https://a.example"}})(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	for origin, want := range map[string]string{"https://a.example": "https://a.example", "https://b.example": "", "*": ""} {
		t.Run(origin, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Origin", origin)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != want || got == "*" {
				t.Errorf("origin %q: Allow-Origin %q, want %q", origin, got, want)
			}
		})
	}
}

func TestTooManyRequests(t *testing.T) {
	for d, want := range map[float64]string{0: "1", 0.2: "1", 1: "1", 1.01: "2", 59.5: "60"} {
		t.Run(fmt.Sprintf("%vs", d), func(t *testing.T) {
			e := TooManyRequests(secondsDur(d), "x")
			if e.Status != 429 || e.Header.Get("Retry-After") != want {
				t.Errorf("%vs: %d Retry-After %q, want %q", d, e.Status, e.Header.Get("Retry-After"), want)
			}
		})
	}
}

func secondsDur(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func TestIsHTTPSURL(t *testing.T) {
	for u, want := range map[string]bool{"https://hks.example.com": true, "HTTPS://hks.example.com:8443": true,
		"http://hks.example.com": false, "": false, "https": false, "httpsx://a": false} {
		t.Run(testutil.CaseName(u), func(t *testing.T) {
			if got := IsHTTPSURL(u); got != want {
				t.Errorf("IsHTTPSURL(%q) = %v", u, got)
			}
		})
	}
}

package httpapi

import (
	"crypto/subtle"
	"math"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Browser protections, installed as Outer middleware by the server:
// SecurityHeaders on every answer, CORS for configured origins only, and
// CSRF double-submit checks on requests that ride on session cookies.

// Content-Security-Policy values. The API answers JSON and never needs to
// load anything; HTML pages (sign-in, device verification) may load their
// own scripts, styles and images only.
const (
	APIContentSecurityPolicy  = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
	PageContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	// HSTSValue is sent on answers served over TLS: one year.
	HSTSValue = "max-age=31536000"
)

// SecurityConfig configures SecurityHeaders.
type SecurityConfig struct {
	// ExternalHTTPS says clients reach the server at an https URL (see
	// IsHTTPSURL): TLS may end at a proxy in front of it, so answers
	// carry HSTS even to requests that arrive here over plain HTTP.
	ExternalHTTPS bool
}

// IsHTTPSURL reports whether u is an https URL (the scheme compared
// case-insensitively). It is the one rule for "this deployment is served
// over https": HSTS, and the Secure flag of cookies.
func IsHTTPSURL(u string) bool {
	scheme, _, ok := strings.Cut(u, "://")
	return ok && strings.EqualFold(scheme, "https")
}

// SecureRequest reports whether answers to r are seen over https: the
// request came over TLS, or the deployment's external URL is https.
func SecureRequest(r *http.Request, externalHTTPS bool) bool {
	return externalHTTPS || r.TLS != nil
}

// SecurityHeaders adds the security headers to every answer:
// Content-Security-Policy (the page policy for text/html answers that set
// none themselves, else the API policy), X-Content-Type-Options,
// X-Frame-Options, Referrer-Policy, Cross-Origin-Opener-Policy and
// Cross-Origin-Resource-Policy, and Strict-Transport-Security when the
// request came over TLS or cfg.ExternalHTTPS (TLS ended at a proxy).
func SecurityHeaders(cfg SecurityConfig) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Cross-Origin-Resource-Policy", "same-site")
			if SecureRequest(r, cfg.ExternalHTTPS) && !localhostName(r.Host) {
				h.Set("Strict-Transport-Security", HSTSValue)
			}
			next.ServeHTTP(&cspWriter{ResponseWriter: w}, r)
		})
	}
}

// localhostName: host (with or without a port) is localhost or a name
// under it. HSTS is not sent there: it would pin every port of localhost
// to https in the browser (the workspace issuer endpoint and gateway
// listen on loopback with TLS, while `make run` serves
// http://localhost:8080).
func localhostName(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// cspWriter sets the Content-Security-Policy just before the header is
// written, when the content type is known (not on a 304: see WriteHeader).
type cspWriter struct {
	http.ResponseWriter
	done bool
}

func (w *cspWriter) setCSP() {
	if w.done {
		return
	}
	w.done = true
	h := w.Header()
	if h.Get("Content-Security-Policy") != "" {
		return
	}
	if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		h.Set("Content-Security-Policy", PageContentSecurityPolicy)
		return
	}
	h.Set("Content-Security-Policy", APIContentSecurityPolicy)
}

func (w *cspWriter) WriteHeader(code int) {
	if code == http.StatusNotModified {
		// A 304 updates the headers of the answer the client stored, and
		// has no body to judge by (http.ServeContent drops its
		// Content-Type): a policy here would replace the stored one, the
		// API's would blank a revalidated page. Send none: the stored
		// answer keeps the policy it came with.
		w.done = true
	}
	w.setCSP()
	w.ResponseWriter.WriteHeader(code)
}

func (w *cspWriter) Write(b []byte) (int, error) {
	if !w.done {
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", http.DetectContentType(b))
		}
		w.setCSP()
	}
	return w.ResponseWriter.Write(b)
}

func (w *cspWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *cspWriter) Flush() {
	w.setCSP()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// CORSConfig configures CORS.
type CORSConfig struct {
	// AllowedOrigins are the exact origins ("https://app.example.com")
	// browsers may call the API from, with credentials. No wildcard.
	AllowedOrigins []string
	// AllowedHeaders are the request headers a preflight may ask for
	// (Authorization, Content-Type, X-Request-Id and the CSRF header by
	// default).
	AllowedHeaders []string
}

// corsMethods are the methods a preflight may ask for.
const corsMethods = "GET, POST, PUT, PATCH, DELETE"

var corsMethodOK = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// CORS answers cross-origin requests from the configured origins only.
// An allowed origin gets Access-Control-Allow-Origin (its own value, never
// "*") and Allow-Credentials; others get no CORS headers, so browsers keep
// the answer from them. Preflights (OPTIONS with
// Access-Control-Request-Method) are answered here: 204 for an allowed
// origin asking for an allowed method, 403 otherwise.
func CORS(cfg CORSConfig) func(http.Handler) http.Handler {
	allowed := make(map[string]bool, len(cfg.AllowedOrigins))
	for _, o := range cfg.AllowedOrigins {
		allowed[o] = true
	}
	hdrs := cfg.AllowedHeaders
	if len(hdrs) == 0 {
		hdrs = []string{"Authorization", "Content-Type", "X-Request-Id", "X-CSRF-Token"}
	}
	allowHeaders := strings.Join(hdrs, ", ")
	headerOK := map[string]bool{}
	for _, h := range hdrs {
		headerOK[strings.ToLower(h)] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
			if origin == "" {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Add("Vary", "Origin")
			ok := allowed[origin]
			if preflight {
				w.Header().Add("Vary", "Access-Control-Request-Method")
				w.Header().Add("Vary", "Access-Control-Request-Headers")
				if !ok {
					WriteError(w, r, Forbidden("origin "+strconv.Quote(truncateString(origin, 200))+" is not allowed to call this API"))
					return
				}
				m := r.Header.Get("Access-Control-Request-Method")
				if !corsMethodOK[m] {
					WriteError(w, r, Forbidden("method "+strconv.Quote(truncateString(m, 20))+" is not allowed"))
					return
				}
				for _, h := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
					if h = strings.TrimSpace(h); h != "" && !headerOK[strings.ToLower(h)] {
						WriteError(w, r, Forbidden("header "+strconv.Quote(truncateString(h, 60))+" is not allowed"))
						return
					}
				}
				h := w.Header()
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Credentials", "true")
				h.Set("Access-Control-Allow-Methods", corsMethods)
				h.Set("Access-Control-Allow-Headers", allowHeaders)
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			if ok {
				h := w.Header()
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Credentials", "true")
				h.Set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id, Location, ETag")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// CSRFConfig names the cookies and header of the double-submit check.
type CSRFConfig struct {
	// SessionCookies are the cookies that carry credentials (access and
	// refresh token). A state-changing request that carries one of them
	// and no Authorization header must pass the check.
	SessionCookies []string
	// Cookie holds the CSRF token; Header must echo it.
	Cookie string
	Header string
	// TrustedOrigins are the origins (the CORS allowed origins) whose
	// cross-origin requests may ride on the session cookies: a request
	// whose Sec-Fetch-Site is not same-origin passes that check only if
	// its Origin header is one of them.
	TrustedOrigins []string
}

// CSRF enforces the double-submit token on state-changing requests (POST,
// PUT, PATCH, DELETE) that ride on session cookies: the Header must equal
// the Cookie (compared in constant time). Requests with an Authorization
// header are exempt: a browser never adds one by itself, and cookie
// authentication is only used without one. The double-submit token alone
// does not prove the request came from this site (a sibling subdomain can
// plant the cookie), so a request whose Sec-Fetch-Site header is present
// and is neither same-origin nor none (typed by the user) is refused too,
// unless its Origin is one of the TrustedOrigins; requests without the
// header (non-browser clients, old browsers) rely on the token. Refusals are 403 problems of type "csrf" that say what is
// missing or mismatched.
func CSRF(cfg CSRFConfig) func(http.Handler) http.Handler {
	trusted := make(map[string]bool, len(cfg.TrustedOrigins))
	for _, o := range cfg.TrustedOrigins {
		trusted[o] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !stateChanging(r.Method) || r.Header.Get("Authorization") != "" || !hasAnyCookie(r, cfg.SessionCookies) {
				next.ServeHTTP(w, r)
				return
			}
			if err := checkCSRF(w, r, cfg, trusted); err != nil {
				WriteError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// CSRFFormField carries the double-submit token in HTML form posts, which
// cannot set headers.
const CSRFFormField = "csrf_token"

// checkFetchSite refuses a browser's request that another site (or
// another origin of this one) sent, by its Sec-Fetch-Site header, unless
// its Origin is trusted. what says which requests must be same-origin.
func checkFetchSite(r *http.Request, trusted map[string]bool, what string) *Error {
	if sfs, ok := r.Header["Sec-Fetch-Site"]; ok {
		v := ""
		if len(sfs) == 1 {
			v = strings.ToLower(strings.TrimSpace(sfs[0]))
		}
		if v != "same-origin" && v != "none" && !trusted[r.Header.Get("Origin")] {
			return csrfError("the Sec-Fetch-Site header is " + strconv.Quote(truncateString(strings.Join(sfs, ", "), 40)) +
				": " + what + " must come from this site (same-origin)")
		}
	}
	return nil
}

// CheckBrowserSignIn guards a sign-in that starts a cookie session
// against login CSRF (a page of another origin signing the browser into
// the attacker's account): the request must be JSON (which a page of
// another origin cannot send without a CORS preflight) and, by its
// Sec-Fetch-Site header, not sent by another origin.
func CheckBrowserSignIn(r *http.Request) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return &Error{Status: http.StatusUnsupportedMediaType, Type: "unsupported-media-type", Title: "Unsupported media type",
			Detail: "a sign-in that starts a cookie session must be sent as Content-Type: application/json"}
	}
	if e := checkFetchSite(r, nil, "sign-ins that start a cookie session"); e != nil {
		return e
	}
	return nil
}

func checkCSRF(w http.ResponseWriter, r *http.Request, cfg CSRFConfig, trusted map[string]bool) *Error {
	if e := checkFetchSite(r, trusted, "requests authenticated by cookie"); e != nil {
		return e
	}
	c, err := r.Cookie(cfg.Cookie)
	if err != nil || c.Value == "" {
		return csrfError("the " + cfg.Cookie + " cookie is missing: requests authenticated by cookie need the CSRF token")
	}
	h := r.Header.Get(cfg.Header)
	if h == "" && isForm(r) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		if err := r.ParseForm(); err == nil {
			h = r.PostForm.Get(CSRFFormField)
		}
	}
	if h == "" {
		return csrfError("the " + cfg.Header + " header is missing: echo the " + cfg.Cookie + " cookie in it")
	}
	if subtle.ConstantTimeCompare([]byte(h), []byte(c.Value)) != 1 {
		return csrfError("the " + cfg.Header + " header does not match the " + cfg.Cookie + " cookie")
	}
	return nil
}

func isForm(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded"
}

func csrfError(detail string) *Error {
	return &Error{Status: http.StatusForbidden, Type: "csrf", Title: "CSRF check failed", Detail: detail}
}

func stateChanging(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

func hasAnyCookie(r *http.Request, names []string) bool {
	for _, n := range names {
		if c, err := r.Cookie(n); err == nil && c.Value != "" {
			return true
		}
	}
	return false
}

// TooManyRequests is a 429 problem with Retry-After in whole seconds
// (at least 1).
func TooManyRequests(retryAfter time.Duration, detail string) *Error {
	return &Error{Status: http.StatusTooManyRequests, Type: "rate-limited", Title: "Too many requests", Detail: detail,
		Header: http.Header{"Retry-After": {strconv.Itoa(RetryAfterSeconds(retryAfter))}}}
}

// RetryAfterSeconds rounds d up to whole seconds, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// User is who the authorization endpoint signs in.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
}

// Misbehaviour makes the provider break the protocol in one way.
type Misbehaviour struct {
	WrongAudience bool // aud is another client
	Expired       bool // exp (and iat) in the past
	OtherKey      bool // signed by a key the JWKS does not publish
	WrongNonce    bool // nonce is not the one the client sent
	WrongIssuer   bool // iss is another issuer
	NoIDToken     bool // the token answer lacks id_token
	Deny          bool // the user refuses: error=access_denied
}

// Client is a registered relying party.
type Client struct {
	ID, Secret   string
	RedirectURIs []string
}

// Provider is a running OIDC provider.
type Provider struct {
	srv      *httptest.Server
	key      *rsa.PrivateKey
	otherKey *rsa.PrivateKey
	kid      string

	mu        sync.Mutex
	clients   map[string]Client
	user      User
	bad       Misbehaviour
	codes     map[string]*grant
	authorize []url.Values // every authorization request, in order
	tokenReqs int
	tokenErrs []string // error_description of every refused token request
}

type grant struct {
	client, redirectURI, challenge, nonce string
	user                                  User
	expires                               time.Time
	used                                  bool
}

var (
	testKeyOnce sync.Once
	testKeys    [2]*rsa.PrivateKey
)

// keys are generated once per test binary: RSA generation is slow.
func keys() [2]*rsa.PrivateKey {
	testKeyOnce.Do(func() {
		for i := range testKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			testKeys[i] = k
		}
	})
	return testKeys
}

// Start runs a provider on 127.0.0.1 until t ends.
func Start(t testing.TB) *Provider {
	t.Helper()
	ks := keys()
	p := &Provider{key: ks[0], otherKey: ks[1], kid: "oidctest-1", clients: map[string]Client{}, codes: map[string]*grant{},
		user: User{Subject: "user-1", Email: "user@example.com", EmailVerified: true}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorizeHandler)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewUnstartedServer(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.srv.Listener = ln
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

// Issuer is the provider's issuer URL.
func (p *Provider) Issuer() string { return p.srv.URL }

// AddClient registers a relying party.
func (p *Provider) AddClient(c Client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clients[c.ID] = c
}

// SetUser sets who signs in at the authorization endpoint next.
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = u
}

// Misbehave sets how the provider breaks the protocol (the zero value:
// not at all).
func (p *Provider) Misbehave(m Misbehaviour) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bad = m
}

// TokenErrors returns the error_description of every token request the
// provider refused, in order.
func (p *Provider) TokenErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.tokenErrs)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	iss := p.Issuer()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/authorize",
		"token_endpoint":                        iss + "/token",
		"jwks_uri":                              iss + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code"},
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	pub := p.key.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": p.kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// RFC 7636 §4.1: 43 to 128 unreserved characters.
var verifierRE = regexp.MustCompile(`^[A-Za-z0-9\-._~]{43,128}$`)

func (p *Provider) authorizeHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.authorize = append(p.authorize, q)
	c, ok := p.clients[q.Get("client_id")]
	redirect := q.Get("redirect_uri")
	if !ok || !slices.Contains(c.RedirectURIs, redirect) {
		// Never redirect to an unregistered URI (RFC 6749 §4.1.2.1).
		http.Error(w, "unknown client or unregistered redirect_uri", http.StatusBadRequest)
		return
	}
	back := func(v url.Values) {
		if s := q.Get("state"); s != "" {
			v.Set("state", s)
		}
		sep := "?"
		if strings.Contains(redirect, "?") {
			sep = "&"
		}
		http.Redirect(w, r, redirect+sep+v.Encode(), http.StatusFound)
	}
	fail := func(code, desc string) { back(url.Values{"error": {code}, "error_description": {desc}}) }
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "only code is supported")
		return
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		fail("invalid_scope", "openid is required")
		return
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "PKCE with S256 is required")
		return
	case p.bad.Deny:
		fail("access_denied", "the user refused")
		return
	}
	code := randomString()
	p.codes[code] = &grant{client: c.ID, redirectURI: redirect, challenge: q.Get("code_challenge"), nonce: q.Get("nonce"),
		user: p.user, expires: time.Now().Add(time.Minute)}
	back(url.Values{"code": {code}})
}

func (p *Provider) tokenError(w http.ResponseWriter, status int, code, desc string) {
	p.tokenErrs = append(p.tokenErrs, desc)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="oidctest"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := r.ParseForm(); err != nil {
		p.tokenError(w, http.StatusBadRequest, "invalid_request", "malformed form")
		return
	}
	p.tokenReqs++
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c, ok := p.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		p.tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		p.tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code")
		return
	}
	g, ok := p.codes[r.PostForm.Get("code")]
	switch {
	case !ok:
		p.tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown code")
		return
	case g.used:
		p.tokenError(w, http.StatusBadRequest, "invalid_grant", "the code was used already")
		return
	case time.Now().After(g.expires):
		p.tokenError(w, http.StatusBadRequest, "invalid_grant", "the code expired")
		return
	case g.client != c.ID:
		p.tokenError(w, http.StatusBadRequest, "invalid_grant", "the code was issued to another client")
		return
	case r.PostForm.Get("redirect_uri") != g.redirectURI:
		p.tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
		return
	}
	g.used = true // single use, even when the verifier is wrong
	v := r.PostForm.Get("code_verifier")
	sum := sha256.Sum256([]byte(v))
	if !verifierRE.MatchString(v) || subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(g.challenge)) != 1 {
		p.tokenError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		return
	}
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": p.Issuer(), "sub": g.user.Subject, "aud": c.ID,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "auth_time": now.Unix(),
		"nonce": g.nonce, "email": g.user.Email, "email_verified": g.user.EmailVerified,
	}
	if p.bad.WrongAudience {
		claims["aud"] = "another-client"
	}
	if p.bad.Expired {
		claims["iat"], claims["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	}
	if p.bad.WrongNonce {
		claims["nonce"] = "not-the-nonce"
	}
	if p.bad.WrongIssuer {
		claims["iss"] = "https://impostor.example"
	}
	key := p.key
	if p.bad.OtherKey {
		key = p.otherKey
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = p.kid
	idToken, err := tok.SignedString(key)
	if err != nil {
		p.tokenError(w, http.StatusInternalServerError, "server_error", "signing failed")
		return
	}
	answer := map[string]any{"access_token": randomString(), "token_type": "Bearer", "expires_in": 600, "id_token": idToken}
	if p.bad.NoIDToken {
		delete(answer, "id_token")
	}
	writeJSON(w, http.StatusOK, answer)
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

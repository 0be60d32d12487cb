package federation_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// githubDouble is a TEST DOUBLE of GitHub (github.com cannot run here). It
// implements the shapes of GitHub's OAuth app endpoints and REST API that
// hks uses, as GitHub documents them:
//
//	GET  /login/oauth/authorize     redirects to redirect_uri with code and state
//	POST /login/oauth/access_token  client_id/client_secret in the form; JSON when
//	                                asked; errors as 200 {"error": …} like GitHub
//	GET  /api/user                  {"id", "login", …} for a Bearer token
//	GET  /api/user/emails           [{"email", "primary", "verified"}]
//
// Codes are single use; a code_challenge (S256) given at authorization must
// be matched by code_verifier.
type githubDouble struct {
	srv          *httptest.Server
	clientID     string
	clientSecret string

	mu     sync.Mutex
	id     int64
	login  string
	emails []ghEmail
	codes  map[string]*ghGrant
	tokens map[string]bool
}

type ghEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

type ghGrant struct {
	redirect, challenge string
	used                bool
}

func startGitHubDouble(t *testing.T, clientID, clientSecret string) *githubDouble {
	t.Helper()
	g := &githubDouble{clientID: clientID, clientSecret: clientSecret, id: 583231, login: "octocat",
		emails: []ghEmail{{Email: "octo@users.noreply.example", Verified: true}, {Email: "octocat@example.com", Primary: true, Verified: true}},
		codes:  map[string]*ghGrant{}, tokens: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", g.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", g.accessToken)
	mux.HandleFunc("GET /api/user", g.user)
	mux.HandleFunc("GET /api/user/emails", g.userEmails)
	g.srv = httptest.NewUnstartedServer(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.srv.Listener = ln
	g.srv.Start()
	t.Cleanup(g.srv.Close)
	return g
}

func (g *githubDouble) setEmails(e ...ghEmail) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.emails = e
}

func (g *githubDouble) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != g.clientID || q.Get("redirect_uri") == "" {
		http.Error(w, "unknown client", http.StatusNotFound)
		return
	}
	if q.Get("code_challenge") != "" && q.Get("code_challenge_method") != "S256" {
		http.Error(w, "unsupported code_challenge_method", http.StatusBadRequest)
		return
	}
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	code := base64.RawURLEncoding.EncodeToString(b)
	g.mu.Lock()
	g.codes[code] = &ghGrant{redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge")}
	g.mu.Unlock()
	http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
}

func (g *githubDouble) accessToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	answer := func(v map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v) // GitHub answers errors with 200
	}
	f := r.PostForm
	if f.Get("client_id") != g.clientID || f.Get("client_secret") != g.clientSecret {
		answer(map[string]any{"error": "incorrect_client_credentials", "error_description": "The client_id and/or client_secret passed are incorrect."})
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	gr, ok := g.codes[f.Get("code")]
	if !ok || gr.used || (f.Get("redirect_uri") != "" && f.Get("redirect_uri") != gr.redirect) {
		answer(map[string]any{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})
		return
	}
	gr.used = true
	if gr.challenge != "" {
		sum := sha256.Sum256([]byte(f.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != gr.challenge {
			answer(map[string]any{"error": "bad_verification_code", "error_description": "The code_verifier does not match."})
			return
		}
	}
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	tok := "gho_" + base64.RawURLEncoding.EncodeToString(b)
	g.tokens[tok] = true
	answer(map[string]any{"access_token": tok, "token_type": "bearer", "scope": "read:user,user:email"})
}

func (g *githubDouble) authed(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	g.mu.Lock()
	defer g.mu.Unlock()
	if !ok || !g.tokens[tok] {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Bad credentials"}`))
		return false
	}
	return true
}

func (g *githubDouble) user(w http.ResponseWriter, r *http.Request) {
	g.answer(w, r, func() any { return map[string]any{"id": g.id, "login": g.login, "email": nil, "type": "User"} })
}

func (g *githubDouble) userEmails(w http.ResponseWriter, r *http.Request) {
	g.answer(w, r, func() any { return g.emails })
}

// answer writes what body gives (read under the lock) as JSON to a caller
// with a valid token.
func (g *githubDouble) answer(w http.ResponseWriter, r *http.Request, body func() any) {
	if !g.authed(w, r) {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body())
}

package federation_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/federation"
	"github.com/hexabase/hexabase-ai/internal/federation/oidctest"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/seal"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
)

// platform is the federation routes served over real HTTP on 127.0.0.1 with
// a real SQLite store and identity service, next to a real OIDC provider
// (oidctest) and the GitHub test double. Providers:
//
//	corp     OIDC, linkByVerifiedEmail off
//	trusted  OIDC (same provider, another client), linkByVerifiedEmail on
//	github   the GitHub test double
//	down     an OIDC provider that does not answer
type platform struct {
	t      *testing.T
	url    string
	st     *sqlstore.Store
	id     *identity.Service
	op     *oidctest.Provider
	gh     *githubDouble
	offset atomic.Int64
}

func (p *platform) now() time.Time { return time.Now().Add(time.Duration(p.offset.Load())) }

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func startPlatform(t *testing.T) *platform {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &platform{t: t, url: "http://" + ln.Addr().String()}
	p.op = oidctest.Start(t)
	for _, c := range []string{"corp", "trusted"} {
		p.op.AddClient(oidctest.Client{ID: "hks-" + c, Secret: "secret-" + c, RedirectURIs: []string{p.url + "/auth/callback/" + c}})
	}
	p.gh = startGitHubDouble(t, "gh-client", "gh-secret")
	cfg := config.Default()
	cfg.Providers = []config.Provider{
		{ID: "corp", Name: "Corp SSO", Issuer: p.op.Issuer(), ClientID: "hks-corp", ClientSecret: "secret-corp"},
		{ID: "trusted", Issuer: p.op.Issuer(), ClientID: "hks-trusted", ClientSecret: "secret-trusted", LinkByVerifiedEmail: true},
		{Type: "github", ClientID: "gh-client", ClientSecret: "gh-secret", GitHubURL: p.gh.srv.URL, GitHubAPIURL: p.gh.srv.URL + "/api"},
		{ID: "down", Issuer: "http://127.0.0.1:1", ClientID: "x", ClientSecret: "y"}, // nothing listens there
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := testLogger(t)
	p.st, err = sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "hks.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.st.Close() })
	key := make([]byte, seal.KeySize)
	_, _ = rand.Read(key)
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	p.id, err = identity.New(identity.Config{Store: p.st, Sealer: sealer, Logger: log, Now: p.now, Issuer: p.url, Audience: "hks",
		Argon2: identity.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.id.EnsureSigningKey(t.Context()); err != nil {
		t.Fatal(err)
	}
	fed, err := federation.New(federation.Config{Store: p.st, Identity: p.id, Sealer: p.id.StateSealer(), Logger: log, Now: p.now,
		BaseURL: p.url, Providers: cfg.Providers, Audit: storeAuditor{p.st}})
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Config{Logger: log, Registry: prometheus.NewRegistry(), Auth: p.id})
	if err != nil {
		t.Fatal(err)
	}
	api.Mount(fed.Routes()...)
	srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return p
}

// storeAuditor writes audit records to the real store.
type storeAuditor struct{ st store.AuditStore }

func (a storeAuditor) Append(ctx context.Context, rec store.AuditRecord) error {
	return a.st.AppendAudit(ctx, rec)
}

// audit returns the records of action, newest first.
func (p *platform) audit(action string) []store.AuditRecord {
	p.t.Helper()
	recs, _, err := p.st.ListAudit(context.Background(), store.AuditFilter{Action: action}, store.Page{Limit: store.MaxLimit})
	if err != nil {
		p.t.Fatal(err)
	}
	return recs
}

func (p *platform) users() int {
	p.t.Helper()
	n, err := p.st.CountUsers(context.Background())
	if err != nil {
		p.t.Fatal(err)
	}
	return n
}

// browser is an HTTP client with a cookie jar that follows redirects one
// step at a time, so tests can look at each.
type browser struct {
	t      *testing.T
	c      *http.Client
	accept string
}

func (p *platform) browser(t *testing.T, wantJSON bool) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, c: &http.Client{Jar: jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if wantJSON {
		b.accept = "application/json"
	}
	return b
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) location(t *testing.T) string {
	t.Helper()
	l := r.header.Get("Location")
	if r.status < 300 || r.status > 399 || l == "" {
		t.Fatalf("want a redirect, got %d: %s", r.status, r.body)
	}
	return l
}

func (r response) problem(t *testing.T) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("status %d with content type %q, want problem+json: %s", r.status, ct, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// cookie returns the Set-Cookie named name.
func (r response) cookie(name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	if b.accept != "" {
		req.Header.Set("Accept", b.accept)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func (b *browser) get(u string) response {
	b.t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// start begins a sign-in at provider and follows the redirects through the
// provider, stopping before the platform's callback, whose URL it returns.
func (b *browser) start(p *platform, provider, returnTo string) string {
	b.t.Helper()
	u := p.url + "/auth/login/" + provider
	if returnTo != "" {
		u += "?return_to=" + url.QueryEscape(returnTo)
	}
	r := b.get(u)
	if r.status != http.StatusFound {
		b.t.Fatalf("login: %d %s", r.status, r.body)
	}
	at := b.get(r.location(b.t))
	cb := at.location(b.t)
	if !strings.HasPrefix(cb, p.url+"/auth/callback/"+provider+"?") {
		b.t.Fatalf("the provider redirected to %s", cb)
	}
	return cb
}

// stateCookie returns the sign-in state cookie the jar holds for the
// callback path.
func (b *browser) stateCookie(p *platform, provider string) *http.Cookie {
	u, _ := url.Parse(p.url + "/auth/callback/" + provider)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == federation.StateCookie {
			return c
		}
	}
	return nil
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	MFARequired  bool   `json:"mfa_required"`
	MFAToken     string `json:"mfa_token"`
}

func (r response) tokens(t *testing.T) tokens {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("callback: %d %s", r.status, r.body)
	}
	var tp tokens
	if err := json.Unmarshal(r.body, &tp); err != nil {
		t.Fatal(err)
	}
	return tp
}

// signIn runs a whole sign-in answered as JSON and returns the tokens.
func (p *platform) signIn(t *testing.T, provider string) tokens {
	t.Helper()
	b := p.browser(t, true)
	return b.get(b.start(p, provider, "")).tokens(t)
}

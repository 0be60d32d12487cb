package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// testServer is a whole platform on a loopback port with a clock the test
// can move.
type testServer struct {
	*Server
	t      *testing.T
	offset atomic.Int64 // added to time.Now
	client *http.Client
}

func (ts *testServer) now() time.Time { return time.Now().Add(time.Duration(ts.offset.Load())) }

func startServer(t *testing.T, databaseURL string) *testServer {
	t.Helper()
	return startServerWith(t, func(c *config.Config) { c.DatabaseURL = databaseURL })
}

// startServerWith starts a platform on a loopback port with the default
// configuration edited by edit first; the client trusts its CA when it
// serves TLS with a self-made one.
func startServerWith(t *testing.T, edit func(*config.Config)) *testServer {
	t.Helper()
	return startServerOpts(t, edit, nil)
}

// startServerOpts is startServerWith with the Options edited by opts too
// (its test-only fields).
func startServerOpts(t *testing.T, edit func(*config.Config), opts func(*Options)) *testServer {
	t.Helper()
	ts := &testServer{t: t, client: &http.Client{Timeout: 30 * time.Second}}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.TelemetryListen = "127.0.0.1:0"
	// Workspaces stay records unless a test runs control planes (the
	// cluster tests live in internal/controlplane and test/e2e).
	cfg.ControlPlaneProvider = "none"
	// The functions engine's directory: reachable by the sandbox's user
	// (not under the test's private temp dir), removed after the server.
	fnDir, err := os.MkdirTemp("", "hks-fn-engine-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(fnDir) })
	if err := os.Chmod(fnDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.Functions.Dir = fnDir
	edit(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logw io.Writer = io.Discard
	if testing.Verbose() {
		logw = &bytes.Buffer{}
	}
	o := Options{Config: cfg, Stdout: io.Discard, Stderr: logw,
		Logger: slog.New(slog.NewTextHandler(logw, nil)), Now: ts.now,
		argon2: identity.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}
	if opts != nil {
		opts(&o)
	}
	s, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = s
	if s.tls != nil && s.tls.CAPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(s.tls.CAPEM)
		ts.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("server did not stop")
		}
	})
	return ts
}

// user creates a user and signs in, returning the user and an access token.
func (ts *testServer) user(email string) (store.User, string) {
	ts.t.Helper()
	ctx := context.Background()
	u, err := ts.identity.CreateUser(ctx, email, "password-"+email, false)
	if err != nil {
		ts.t.Fatal(err)
	}
	tp, err := ts.identity.Login(ctx, email, "password-"+email, identity.ClientMeta{IP: "127.0.0.1"})
	if err != nil {
		ts.t.Fatal(err)
	}
	return u, tp.AccessToken
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, a.body)
	}
}

// decode checks that the answer has the status want and decodes it into v.
func (a answer) decode(t *testing.T, want int, v any) {
	t.Helper()
	if a.status != want {
		t.Fatalf("status %d, want %d: %s", a.status, want, a.body)
	}
	a.json(t, v)
}

// id is the id of the object the answer holds (what a create answers),
// which must have the status want.
func (a answer) id(t *testing.T, want int) string {
	t.Helper()
	var v struct{ ID string }
	a.decode(t, want, &v)
	return v.ID
}

// problem decodes a problem+json answer.
func (a answer) problem(t *testing.T) map[string]any {
	t.Helper()
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("status %d with content type %q, want problem+json: %s", a.status, ct, a.body)
	}
	var p map[string]any
	a.json(t, &p)
	return p
}

// do calls the server. body may be a string (sent as is) or a value (JSON).
func (ts *testServer) do(method, path, token string, body any) answer {
	ts.t.Helper()
	return ts.doWith(method, path, token, body, nil)
}

// doWith is do with more request headers.
func (ts *testServer) doWith(method, path, token string, body any, header http.Header) answer {
	ts.t.Helper()
	resp := ts.send(context.Background(), method, path, token, body, header)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// send sends a request and returns the response, whose body the caller
// closes.
func (ts *testServer) send(ctx context.Context, method, path, token string, body any, header http.Header) *http.Response {
	ts.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, ts.URL()+path, r)
	if err != nil {
		ts.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	return resp
}

// metrics scrapes the telemetry listener's /metrics.
func (ts *testServer) metrics() answer {
	ts.t.Helper()
	if ts.TelemetryURL() == "" {
		ts.t.Fatal("telemetry is off")
	}
	req, err := http.NewRequest(http.MethodGet, ts.TelemetryURL()+"/metrics", nil)
	if err != nil {
		ts.t.Fatal(err)
	}
	status, header, b := testutil.Do(ts.t, ts.client, req)
	return answer{status: status, header: header, body: b}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// people creates and signs in the cast of the authorization tests.
func (ts *testServer) people() (people, map[string]string) {
	ts.t.Helper()
	var p people
	tok := map[string]string{}
	for _, c := range []struct {
		name string
		u    *store.User
	}{{"owner", &p.owner}, {"admin", &p.admin}, {"member", &p.member}, {"viewer", &p.viewer}, {"outsider", &p.outsider}, {"extra", &p.extra}} {
		*c.u, tok[c.name] = ts.user(c.name + "@example.com")
	}
	return p, tok
}

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// tokensDouble (a test double of the issuer) accepts "tok-<workspace>" as
// a workspace token for that workspace and nothing else.
type tokensDouble struct{}

func (tokensDouble) VerifyWorkspaceToken(_ context.Context, tok string) (issuer.WorkspaceClaims, error) {
	if len(tok) > 4 && tok[:4] == "tok-" {
		return issuer.WorkspaceClaims{RegisteredClaims: jwt.RegisteredClaims{Subject: "u1", Audience: jwt.ClaimStrings{tok[4:]}}, Email: "dev@example.com"}, nil
	}
	return issuer.WorkspaceClaims{}, identity.ErrInvalidToken
}

type workspacesDouble map[string]store.Workspace

func (w workspacesDouble) GetWorkspace(_ context.Context, id string) (store.Workspace, error) {
	if ws, ok := w[id]; ok {
		return ws, nil
	}
	return store.Workspace{}, store.ErrNotFound
}

type noUpstream struct{}

func (noUpstream) Endpoint(context.Context, string) (string, []byte, error) {
	return "", nil, errors.New("no upstream in this test")
}

// wakerDouble records what the gateway asked of the waker.
type wakerDouble struct {
	mu     sync.Mutex
	begun  []string
	woken  []Caller
	answer error
}

func (w *wakerDouble) Begin(id string) func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.begun = append(w.begun, id)
	return func() {}
}

func (w *wakerDouble) EnsureAwake(_ context.Context, id string, c Caller) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.woken = append(w.woken, c)
	return w.answer
}

func newTestGateway(t *testing.T, wk Waker) http.Handler {
	t.Helper()
	g, err := New(Config{Verifier: tokensDouble{}, Workspaces: workspacesDouble{"ws1": {ID: "ws1", Status: store.WorkspaceSleeping}, "ws2": {ID: "ws2", Status: store.WorkspaceRunning}},
		Upstreams: noUpstream{}, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, Waker: wk})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestRefusedRequestsWakeNothing: no token, a bad token, another
// workspace's token and an unknown workspace are answered before the
// waker is asked anything; an accepted token asks it once, naming the
// token's user.
func TestRefusedRequestsWakeNothing(t *testing.T) {
	wk := &wakerDouble{}
	g := newTestGateway(t, wk)
	for _, tc := range []struct {
		name, path, tok string
		want            int
	}{
		{"no token", "/k8s/ws1/api", "", 401},
		{"bad token", "/k8s/ws1/api", "forged", 401},
		{"another workspace's token", "/k8s/ws1/api", "tok-ws2", 401},
		{"unknown workspace", "/k8s/nope/api", "tok-nope", 404},
		{"no workspace id", "/k8s/", "tok-ws1", 404},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		if tc.tok != "" {
			req.Header.Set("Authorization", "Bearer "+tc.tok)
		}
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		if rec.Code != tc.want || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s, want %d problem+json", tc.name, rec.Code, rec.Body, tc.want)
		}
	}
	if len(wk.begun)+len(wk.woken) != 0 {
		t.Fatalf("refused requests reached the waker: begun %v, woken %v", wk.begun, wk.woken)
	}
	req := httptest.NewRequest("GET", "/k8s/ws1/api", nil)
	req.Header.Set("Authorization", "Bearer tok-ws1")
	g.ServeHTTP(httptest.NewRecorder(), req)
	if len(wk.woken) != 1 || wk.woken[0].Email != "dev@example.com" || wk.woken[0].UserID != "u1" || len(wk.begun) != 1 || wk.begun[0] != "ws1" {
		t.Fatalf("an accepted request: begun %v, woken %+v", wk.begun, wk.woken)
	}
}

// TestWakeFailureIsAProblem: a wake that does not finish in time is the
// waker's 503 with Retry-After, passed on as problem+json; an internal
// failure is a 500 that does not leak its text.
func TestWakeFailureIsAProblem(t *testing.T) {
	wk := &wakerDouble{answer: &httpapi.Error{Status: 503, Type: "workspace-waking", Title: "Service unavailable",
		Detail: "the workspace is waking up and was not ready within 60 s; retry in a moment", Header: http.Header{"Retry-After": {"5"}}}}
	g := newTestGateway(t, wk)
	req := httptest.NewRequest("GET", "/k8s/ws1/api", nil)
	req.Header.Set("Authorization", "Bearer tok-ws1")
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	var p struct{ Detail string }
	_ = json.Unmarshal(rec.Body.Bytes(), &p)
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "5" || p.Detail == "" {
		t.Fatalf("wake timeout: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	wk.answer = errors.New("database is on fire at /var/lib/hks")
	rec = httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	if rec.Code != 500 || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Detail != "the request could not be completed" {
		t.Fatalf("internal failure: %d %s", rec.Code, rec.Body)
	}
}
